// The allscale-exporter monitoring mixin: alerts, recording rules and dashboards for
// AllScale Checkout, with their settings in `_config` (config.libsonnet).
//
//   prometheusAlerts     the alerting rules (a rule file: {groups: [...]})
//   prometheusRules      the recording rules
//   grafanaDashboards    the dashboards, by file name
//   slothSpec            the SLOs as a sloth spec (prometheus/v1)
//   pyrraObjects         the SLOs as pyrra ServiceLevelObjective objects
//
// Vendor it with jsonnet-bundler (`jb install github.com/allscale/allscale-exporter/mixin`)
// or copy this directory; see mixin/README.md.
(import 'config.libsonnet') +
(import 'slo/slos.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
