// The recording rules of the mixin (prometheusRules): deploy/prometheus/rules.yml is
// generated from this by mixin/generate.py. The dashboards' heavier queries, precomputed;
// names follow the Prometheus convention level:metric:operations. The alerts do not
// depend on them, but the "Conversion and abandonment (1h rolling)" panel of the checkout
// dashboard uses them.
{
  prometheusRules+:: {
    local c = $._config,
    groups+: [
      {
        name: "allscale-checkout-recording",
        rules: [
          // Terminal outcomes per store and outcome over the last hour.
          {
            record: "store_outcome:allscale_checkout_intent_terminal:increase1h",
            expr: "sum by (store, outcome) (increase(allscale_checkout_intent_terminal_total[1h]))",
          },
          // Everything that finished per store over the last hour.
          {
            record: "store:allscale_checkout_intent_terminal:increase1h",
            expr: "sum by (store) (increase(allscale_checkout_intent_terminal_total[1h]))",
          },
          // Conversion: confirmed / all terminal outcomes over the last hour (NaN when
          // nothing finished, so the dashboard shows a gap rather than a misleading 0).
          {
            record: "store:allscale_checkout_conversion:ratio1h",
            expr: |||
              sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome="confirmed"}[1h]))
              /
              sum by (store) (increase(allscale_checkout_intent_terminal_total[1h]))
            |||,
          },
          // Abandonment: (canceled + timeout) / all terminal outcomes over the last hour.
          {
            record: "store:allscale_checkout_abandonment:ratio1h",
            expr: |||
              sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome=~"canceled|timeout"}[1h]))
              /
              sum by (store) (increase(allscale_checkout_intent_terminal_total[1h]))
            |||,
          },
          // Loss: (failed + rejected + underpaid) / all terminal outcomes over the last hour.
          {
            record: "store:allscale_checkout_loss:ratio1h",
            expr: |||
              sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome=~"failed|rejected|underpaid"}[1h]))
              /
              sum by (store) (increase(allscale_checkout_intent_terminal_total[1h]))
            |||,
          },
        ],
      },
      {
        name: "allscale-rates-recording",
        rules: [
          // Outcome rates per store and outcome (per second) over 5 minutes.
          {
            record: "store_outcome:allscale_checkout_intent_terminal:rate5m",
            expr: "sum by (store, outcome) (rate(allscale_checkout_intent_terminal_total[5m]))",
          },
          // Request rates per store and result (per second) over 5 minutes.
          {
            record: "store_result:allscale_api_requests:rate5m",
            expr: "sum by (store, result) (rate(allscale_api_requests_total[5m]))",
          },
          // Share of requests answered `ok` per store over 5 minutes.
          {
            record: "store:allscale_api_requests_ok:ratio_rate5m",
            expr: |||
              sum by (store) (rate(allscale_api_requests_total{result="ok"}[5m]))
              /
              sum by (store) (rate(allscale_api_requests_total[5m]))
            |||,
          },
        ],
      },
    ],
  },
}
