// The mixin's Grafana dashboards (grafanaDashboards), by file name: dashboards/*.json are
// generated from these by mixin/generate.py. They select by the Grafana variables
// `datasource`, `job`, `instance` and `store`, so they need no `_config`.
{
  grafanaDashboards+:: {
    'allscale-checkout.json': import 'allscale-checkout.libsonnet',
    'allscale-exporter-health.json': import 'allscale-exporter-health.libsonnet',
  },
}
