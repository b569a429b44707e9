// The "Service level objectives" row of the checkout dashboard: for each objective of
// mixin/slo/ its SLI over the SLO period and the error budget left, and the burn rate of
// every objective over the last hour. dashboards.libsonnet puts it under the overview.
local datasource = { type: 'prometheus', uid: '${datasource}' };

local target(expr, legend, instant) = {
  datasource: datasource,
  editorMode: 'code',
  expr: expr,
  instant: instant,
  legendFormat: legend,
  range: !instant,
};

local stat(title, description, expr, steps, x, y) = {
  type: 'stat',
  title: title,
  description: description,
  datasource: datasource,
  gridPos: { x: x, y: y, w: 4, h: 8 },
  targets: [target(expr, '{{store}}', true) { refId: 'A' }],
  fieldConfig: {
    defaults: {
      unit: 'percentunit',
      decimals: 2,
      mappings: [],
      color: { mode: 'thresholds' },
      thresholds: { mode: 'absolute', steps: steps },
    },
    overrides: [],
  },
  options: {
    colorMode: 'value',
    graphMode: 'none',
    justifyMode: 'auto',
    orientation: 'auto',
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    showPercentChange: false,
    textMode: 'auto',
    wideLayout: true,
  },
};

// The panels of the row, its header at `y`; `id` numbers them from `firstId`.
function(c, slos, y, firstId)
  local period(o) = '%s%s{store=~"$store"}' % [o.record, c.sloPeriod];
  local sli(o) = '1 - %s' % period(o);
  local budget(o) = '1 - %s / %s' % [period(o), slos.number(1 - o.objective)];
  local percent(o) = std.format('%g%%', o.objective * 100);
  local perObjective = std.flattenArrays([
    [
      stat(
        '%s over %s' % [o.title, c.sloPeriod],
        '%s Per store, over the last %s (the SLO period, from the recording rules of deploy/prometheus/rules.yml); the objective is %s. Empty without events.' % [o.description, c.sloPeriod, percent(o)],
        sli(o),
        [{ color: 'red', value: null }, { color: 'green', value: o.objective }],
        8 * i, y + 1,
      ),
      stat(
        '%s error budget left' % o.title,
        'Per store: the share of the %s error budget (%s of events may be bad over %s) not yet spent. Below 0: the objective is missed for this period. See docs/runbook.md#service-level-objectives.' % [o.title, std.format('%g%%', (1 - o.objective) * 100), c.sloPeriod],
        budget(o),
        [{ color: 'red', value: null }, { color: 'orange', value: 0 }, { color: 'green', value: 0.25 }],
        8 * i + 4, y + 1,
      ),
    ]
    for i in std.range(0, std.length(slos.objectives) - 1)
    for o in [slos.objectives[i]]
  ]);
  local burn = {
    type: 'timeseries',
    title: 'Error budget burn rate (1h)',
    description: 'Per store and objective, how many times faster than the objective allows the error budget burned over the last hour, from the recording rules of deploy/prometheus/rules.yml. 1: spent exactly over the period; the fast-burn page needs 14.4 over 1h (and over 5m). Gaps: no events.',
    datasource: datasource,
    gridPos: { x: 16, y: y + 1, w: 8, h: 8 },
    targets: [
      target('%s1h{store=~"$store"} / %s' % [o.record, slos.number(1 - o.objective)], '%s {{store}}' % o.name, false) {
        refId: std.char(65 + i),
      }
      for i in std.range(0, std.length(slos.objectives) - 1)
      for o in [slos.objectives[i]]
    ],
    fieldConfig: {
      defaults: {
        unit: 'short',
        min: 0,
        mappings: [],
        color: { mode: 'palette-classic' },
        custom: {
          drawStyle: 'line',
          fillOpacity: 0,
          lineWidth: 1,
          showPoints: 'never',
          spanNulls: false,
          thresholdsStyle: { mode: 'line' },
        },
        thresholds: {
          mode: 'absolute',
          steps: [{ color: 'green', value: null }, { color: 'orange', value: 6 }, { color: 'red', value: 14.4 }],
        },
      },
      overrides: [],
    },
    options: {
      legend: { calcs: ['lastNotNull', 'max'], displayMode: 'table', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
  local header = {
    type: 'row',
    title: 'Service level objectives',
    collapsed: false,
    panels: [],
    gridPos: { h: 1, w: 24, x: 0, y: y },
  };
  [
    p { id: firstId + i }
    for i in std.range(0, 2 + 2 * std.length(slos.objectives) - 1)
    for p in [([header] + perObjective + [burn])[i]]
  ]
