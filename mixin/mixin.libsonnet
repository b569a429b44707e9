// The allscale-exporter monitoring mixin: alerts, recording rules and dashboards for
// AllScale Checkout, with their settings in `_config` (config.libsonnet).
//
//   prometheusAlerts     the alerting rules (a rule file: {groups: [...]})
//   prometheusRules      the recording rules
//   grafanaDashboards    the dashboards, by file name
//
// Vendor it with jsonnet-bundler (`jb install github.com/allscale/allscale-exporter/mixin`)
// or copy this directory; see mixin/README.md.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
