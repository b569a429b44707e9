// The mixin's settings: override any of them when you vendor it, e.g.
//   (import 'allscale-exporter-mixin/mixin.libsonnet') + { _config+:: { stuckOnChainSeconds: 3600 } }
local age(seconds) =
  if seconds % 3600 == 0 then '%dh' % (seconds / 3600)
  else if seconds % 60 == 0 then '%dm' % (seconds / 60)
  else '%ds' % seconds;

{
  _config+:: {
    // Selects the exporter's scrape targets in `up` (AllScaleExporterDown, ...Absent) and
    // the jobs the dashboards' `job` variable offers.
    jobSelector: 'job="allscale-exporter"',
    // Limits the per-store alerts, and the stores the dashboards' `store` variable offers,
    // to the stores it matches, e.g. 'store=~"eu-.*"' (empty: every store).
    storeSelector: '',
    // Where each alert's runbook section lives; the alert name, lower-cased, is appended.
    runbookUrlBase: 'https://github.com/allscale/allscale-exporter/blob/main/docs/runbook.md#',
    // Time in a status after which an intent counts as stuck. An exporter store with
    // `per_intent_metrics: attention` exports an intent's series from its
    // `attention_after` (less 5 minutes), whose defaults are these: keep the two equal.
    stuckOnChainSeconds: 1800,
    stuckManualReviewSeconds: 3600,
    stuckBeforePaymentSeconds: 7200,
    // Share of canceled and timed-out checkouts in an hour that is a spike, and the
    // volume below which no ratio is trusted.
    abandonmentRatio: 0.5,
    abandonmentMinFinished: 10,
    // Coins per hour lost to short payments (per store and coin) that warn: a placeholder
    // sized for stablecoins (see docs/runbook.md#allscalecheckoutshortfall).
    shortfallCoinsPerHour: 100,
    // The service level objectives (mixin/slo/, docs/runbook.md#service-level-objectives):
    // the share of payments that confirm in full, and the share of confirmations within
    // `timeToConfirmSeconds` of the intent's creation, over a rolling `sloPeriod`. Set
    // them from your own history (the dashboard's error-budget row shows the SLIs); a
    // burn-rate alert needs `sloMinEvents` outcomes in its long window, so a store with a
    // handful of payments an hour does not page on one (the per-payment alerts still do).
    paymentSuccessObjective: 0.95,
    timeToConfirmObjective: 0.95,
    // One of the bucket bounds of allscale_checkout_intent_time_to_outcome_seconds:
    // 300, 600, 900, 1800, 3600 (docs/metrics.md).
    timeToConfirmSeconds: 900,
    sloPeriod: '30d',
    sloMinEvents: 10,
    // The namespace of the pyrra objects (deploy/slo/pyrra.yaml).
    sloNamespace: 'monitoring',

    // Derived, for the alert descriptions.
    stuckOnChainAge:: age(self.stuckOnChainSeconds),
    stuckManualReviewAge:: age(self.stuckManualReviewSeconds),
    stuckBeforePaymentAge:: age(self.stuckBeforePaymentSeconds),
    abandonmentPercent:: self.abandonmentRatio * 100,
    timeToConfirmAge:: age(self.timeToConfirmSeconds),
  },
}
