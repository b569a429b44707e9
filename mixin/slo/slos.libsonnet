// The two service level objectives of checkout (docs/runbook.md#service-level-objectives):
//
//   payment-success   of the intents that reached an outcome other than `canceled`, the
//                     share that confirmed in full (not failed, rejected, underpaid, timed
//                     out, nor confirmed short of the asked amount);
//   time-to-confirm   of the confirmed intents, the share confirmed within
//                     `_config.timeToConfirmSeconds` of the intent's creation (the time in
//                     its id), read from allscale_checkout_intent_time_to_outcome_seconds.
//
// One definition here feeds the recording rules (rules/), the burn-rate alerts (alerts/),
// the error-budget row of the checkout dashboard, the sloth spec and the pyrra objects
// (`slothSpec`, `pyrraObjects`: deploy/slo/, written by mixin/generate.py), so the five
// cannot disagree. Every SLI is
// per store: a merchant's stores are separate checkouts.
local terminal = 'allscale_checkout_intent_terminal_total';
local toOutcome = 'allscale_checkout_intent_time_to_outcome_seconds';

// `{a,b}`: the non-empty matchers joined (nothing without any).
local selector(matchers) =
  local set = std.filter(function(m) m != '', matchers);
  if set == [] then '' else '{%s}' % std.join(',', set);

// Every line of `text` two spaces in.
local indent(text) = std.join('\n', ['  ' + l for l in std.split(text, '\n')]);

// `sum by (store) (rate(metric{matchers}[window]))`.
local rateOf(metric, matchers, window) =
  'sum by (store) (rate(%s%s[%s]))' % [metric, selector(matchers), window];

{
  _slos:: {
    local c = $._config,

    // The multi-window, multi-burn-rate alerts of the Google SRE workbook (chapter
    // "Alerting on SLOs"): each row pages or tickets when both windows burn the error
    // budget `factor` times faster than the objective allows (2 %, 5 %, 10 % and 10 % of
    // a 30-day budget spent).
    burnRates:: [
      { long: '1h', short: '5m', factor: 14.4, severity: 'critical' },
      { long: '6h', short: '30m', factor: 6, severity: 'critical' },
      { long: '1d', short: '2h', factor: 3, severity: 'warning' },
      { long: '3d', short: '6h', factor: 1, severity: 'warning' },
    ],
    // Every window a burn rate reads, shortest first: one recording rule each.
    windows:: ['5m', '30m', '1h', '2h', '6h', '1d', '3d'],

    // What counts as an event, per objective: `errors(w, m)` and `total(w, m)` are rates
    // per store over window `w`, `m` extra matchers (the dashboard's variables).
    objectives:: [
      {
        name: 'payment-success',
        title: 'Payment success',
        alert: 'AllScaleCheckoutPaymentSuccessBudgetBurn',
        record: 'store:allscale_checkout_payment_errors:ratio_rate',
        objective: c.paymentSuccessObjective,
        description: 'Of the checkout intents that reached an outcome other than canceled, the share that confirmed in full.',
        bad: 'failed, were rejected, underpaid, timed out or were confirmed short',
        good: 'confirm in full',
        subject: 'checkout intents that ended other than canceled',
        // A short confirmation is also counted `confirmed`. A side with no series for a
        // store (the exporter starts every counter at 0, but a store may be new to
        // Prometheus, or older data lack confirmed_short_total) counts none instead of
        // taking the store out of the ratio.
        errors(w, m)::
          local none = '%s * 0' % self.total(w, m);
          '(\n  (%s or %s)\n  +\n  (%s or %s)\n)' % [
            rateOf(terminal, ['outcome=~"failed|rejected|underpaid|timeout"', m], w), none,
            rateOf('allscale_checkout_confirmed_short_total', [m], w), none,
          ],
        total(w, m):: rateOf(terminal, ['outcome!="canceled"', m], w),
        pyrra:: { ratio: {
          errors: { metric: terminal + '{outcome=~"failed|rejected|underpaid|timeout"}' },
          total: { metric: terminal + '{outcome!="canceled"}' },
          grouping: ['store'],
        } },
      },
      {
        name: 'time-to-confirm',
        title: 'Time to confirm',
        alert: 'AllScaleCheckoutTimeToConfirmBudgetBurn',
        record: 'store:allscale_checkout_slow_confirmations:ratio_rate',
        objective: c.timeToConfirmObjective,
        description: 'Of the confirmed checkout intents, the share confirmed within %s of their creation.' % c.timeToConfirmAge,
        bad: 'took longer than %s from creation to confirmation' % c.timeToConfirmAge,
        good: 'confirmed within %s' % c.timeToConfirmAge,
        subject: 'confirmed checkout intents',
        // Prometheus 3 stores `le` as a float ("900.0"), Prometheus 2 as scraped ("900").
        local le = 'le=~"%d(\\\\.0)?"' % c.timeToConfirmSeconds,
        errors(w, m)::
          '(\n  %s\n  -\n  %s\n)' % [
            rateOf(toOutcome + '_count', ['outcome="confirmed"', m], w),
            rateOf(toOutcome + '_bucket', ['outcome="confirmed"', le, m], w),
          ],
        total(w, m):: rateOf(toOutcome + '_count', ['outcome="confirmed"', m], w),
        pyrra:: { latency: {
          success: { metric: toOutcome + '_bucket{outcome="confirmed",le="%d"}' % c.timeToConfirmSeconds },
          total: { metric: toOutcome + '_count{outcome="confirmed"}' },
          grouping: ['store'],
        } },
      },
    ],

    // The error ratio of objective `o` over window `w` (NaN, hence no sample, without
    // events).
    ratio(o, w, m=''):: '%s\n/\n%s' % [o.errors(w, m), o.total(w, m)],

    // A threshold as PromQL prints it (no float noise).
    number(x):: std.format('%g', x),

    local seconds = { '1h': 3600, '6h': 21600, '1d': 86400, '3d': 259200 },
    local slos = self,

    // One burn-rate row: both windows over `factor` times the budget, and enough events
    // in the long window that a ratio means something (`_config.sloMinEvents`).
    local burning(o, r) =
      local limit = slos.number(r.factor * (1 - o.objective));
      '(\n%s\n) > %s\nand\n(\n%s\n) > %s\nand on (store)\n%s * %d >= %d' % [
        indent(slos.ratio(o, r.long)), limit, indent(slos.ratio(o, r.short)), limit,
        o.total(r.long, ''), seconds[r.long], c.sloMinEvents,
      ],

    // The page (severity critical) or ticket (warning) alert of objective `o`: the rows of
    // that severity, joined with `or`. The value is the long window's error ratio.
    alert(o, severity)::
      local rows = std.filter(function(r) r.severity == severity, slos.burnRates);
      local windows = std.join(' or ', ['%s/%s at %gx' % [r.long, r.short, r.factor] for r in rows]);
      {
        alert: o.alert + (if severity == 'critical' then 'Fast' else 'Slow'),
        expr: std.join('\nor\n', ['(\n%s\n)' % indent(burning(o, r)) for r in rows]) + '\n',
        labels: { severity: severity, slo: o.name },
        annotations: {
          summary: '%s is burning its error budget %s.' % [o.title, if severity == 'critical' then 'fast' else 'steadily'],
          description: '{{ $value | humanizePercentage }} of the %s of store {{ $labels.store }} %s over the long window (burn rates %s; the objective: %s %s). At this rate the %s error budget is spent in %s.' % [
            o.subject, o.bad, windows, std.format('%g%%', o.objective * 100), o.good,
            c.sloPeriod, if severity == 'critical' then 'two days or less' else 'less than the period',
          ],
          runbook_url: c.runbookUrlBase + std.asciiLower(o.alert + (if severity == 'critical' then 'Fast' else 'Slow')),
        },
      },
  },

  // The burn-rate alerts, scoped by `_config.storeSelector` like the other per-store
  // alerts (alerts/alerts.libsonnet adds this group to its own).
  _sloAlerts:: {
    name: 'allscale-checkout-slos',
    rules: [$._slos.alert(o, s) for o in $._slos.objectives for s in ['critical', 'warning']],
  },

  // The same objectives for sloth (https://sloth.dev, spec `prometheus/v1`): sloth writes
  // its own recording rules and alerts from it. deploy/slo/sloth.yml.
  slothSpec:: {
    local c = $._config,
    version: 'prometheus/v1',
    service: 'allscale-checkout',
    slos: [
      {
        name: o.name,
        objective: o.objective * 100,
        description: o.description,
        sli: { events: { error_query: o.errors('{{.window}}', ''), total_query: o.total('{{.window}}', '') } },
        alerting: {
          name: o.alert,
          labels: { slo: o.name },
          annotations: { runbook_url: c.runbookUrlBase + 'service-level-objectives' },
          page_alert: { labels: { severity: 'critical' } },
          ticket_alert: { labels: { severity: 'warning' } },
        },
      }
      for o in $._slos.objectives
    ],
  },

  // The same objectives as pyrra ServiceLevelObjective objects (https://pyrra.dev).
  // Pyrra takes one selector per side, so its payment-success errors leave out
  // confirmations short of the asked amount (AllScaleCheckoutConfirmedShort pages on
  // each), and its latency bucket is `le` as Prometheus 2 stores it ("900"; Prometheus 3:
  // "900.0"). deploy/slo/pyrra.yaml.
  pyrraObjects:: [
    local c = $._config;
    {
      apiVersion: 'pyrra.dev/v1alpha1',
      kind: 'ServiceLevelObjective',
      metadata: {
        name: 'allscale-checkout-' + o.name,
        namespace: c.sloNamespace,
        labels: { 'pyrra.dev/service': 'allscale-checkout' },
      },
      spec: {
        target: std.format('%g', o.objective * 100),
        window: c.sloPeriod,
        description: o.description,
        indicator: o.pyrra,
        alerting: { name: o.alert },
      },
    }
    for o in $._slos.objectives
  ],

  prometheusRules+:: {
    groups+: [
      // The error ratio over the whole SLO period, for the dashboard's SLI and budget
      // panels: a month of a few series per store (the outcome counters), read at every
      // evaluation like the other rules.
      {
        name: 'allscale-checkout-slos-period',
        rules: [
          { record: o.record + $._config.sloPeriod, expr: $._slos.ratio(o, $._config.sloPeriod) + '\n' }
          for o in $._slos.objectives
        ],
      },
    ] + [{
      name: 'allscale-checkout-slos-recording',
      // One error ratio per objective and window: the dashboard's burn-rate panel reads
      // them; the alerts compute their own, so they need no recording rule.
      rules: [
        { record: o.record + w, expr: $._slos.ratio(o, w) + '\n' }
        for o in $._slos.objectives
        for w in $._slos.windows
      ],
    }],
  },
}
