// The mixin's Grafana dashboards (grafanaDashboards), by file name: dashboards/*.json are
// generated from these by mixin/generate.py. Their panels select by the Grafana variables
// `datasource`, `job`, `instance` and `store`; `_config` scopes the variables' choices:
// `job` offers the jobs `jobSelector` matches, and `store` only the stores `storeSelector`
// matches (all of them when it is empty). With a store selector, "All" is the stores offered
// (Grafana's own regex of them) instead of `.*`, so it means the stores the alerts watch.
local scopedVariable(v, c) =
  local query(q) = v { definition: q, query+: { query: q } };
  if v.name == 'job' then
    query('label_values(allscale_exporter_build_info{%s}, job)' % c.jobSelector)
  else if v.name == 'store' then
    local selectors = ['job=~"$job"', 'instance=~"$instance"']
                      + (if c.storeSelector == '' then [] else [c.storeSelector]);
    local scopedStore = query('label_values(allscale_exporter_watched_intents{%s}, store)'
                              % std.join(',', selectors));
    if c.storeSelector == '' then scopedStore else scopedStore { allValue:: null }
  else v;

// The checkout dashboard with the SLO row (slo-row.libsonnet) under its overview: every
// panel from `y` down moves down by the row's height.
local withSloRow(dashboard, c, slos) =
  local y = 6;
  local height = 9;
  local ids = [p.id for p in dashboard.panels];
  local moved = [
    if p.gridPos.y >= y then p { gridPos+: { y: p.gridPos.y + height } } else p
    for p in dashboard.panels
  ];
  local row = (import 'slo-row.libsonnet')(c, slos, y, std.foldl(std.max, ids, 0) + 1);
  dashboard { panels: [p for p in moved if p.gridPos.y < y] + row + [p for p in moved if p.gridPos.y >= y] };

local scoped(dashboard, c) = dashboard {
  templating+: { list: std.map(function(v) scopedVariable(v, c), super.list) },
};

{
  grafanaDashboards+:: {
    local c = $._config,
    'allscale-checkout.json': scoped(withSloRow(import 'allscale-checkout.libsonnet', c, $._slos), c),
    'allscale-exporter-health.json': scoped(import 'allscale-exporter-health.libsonnet', c),
  },
}
