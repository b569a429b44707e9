// The alerts of the mixin (prometheusAlerts): deploy/prometheus/alerts.yml is generated
// from this by mixin/generate.py. Edit here, run the generator, and keep
// deploy/prometheus/alerts_test.yml (promtool unit tests, a firing and a quiet case per
// alert) passing.
//
// Conventions (enforced by tests/it/monitoring_lint.rs): every alert has a `severity` label,
// critical (page now), warning (look today) or info (worth knowing); a plain `summary`
// sentence; a templated `description`; and a `runbook_url` to the section of
// docs/runbook.md named after the alert (`_config.runbookUrlBase`). Payment alerts
// aggregate `by (store)` (or by store and intent), so a restarted or rescheduled exporter
// (a new `instance`) does not open a second alert. The alerts are self-contained: none
// depends on a recording rule. Thresholds and the exporter's job selector come from
// `_config` (mixin/config.libsonnet).
// With `_config.storeSelector` set (e.g. 'store=~"eu-.*"'), every alert that is per
// store fires only for the stores it selects: its expression is joined on `store` with the
// stores the exporter watches that match. The exporter's own alerts are not per store.
local scoped(rule, c) =
  if c.storeSelector == '' || std.length(std.findSubstr('by (store', rule.expr)) == 0 then rule
  else rule {
    expr: '(\n%s\n)\nand on (store)\ngroup by (store) (allscale_exporter_watched_intents{%s})\n'
          % [std.rstripChars(rule.expr, '\n'), c.storeSelector],
  };

{
  prometheusAlerts+:: {
    local c = $._config,
    groups+: std.map(function(g) g { rules: std.map(function(r) scoped(r, c), g.rules) }, [
      {
        name: "allscale-checkout-payments",
        rules: [
          // Two ways to see an outcome, one alert per store (both sides are `by (store)`, so
          // `or` keeps the left one where both match):
          //   1. an increase of the outcome counter in the last 5 minutes. The counters start
          //      at 0 for every store, so this sees the first failure when Prometheus scraped
          //      the 0 before it;
          //   2. an intent whose status is the outcome and was first seen by the exporter less
          //      than 5 minutes ago. This catches an outcome counted before Prometheus's first
          //      scrape of a fresh exporter or of a store added by reload: the counter's first
          //      sample is then already 1 and increase() never sees a rise. An old outcome
          //      (a restart with a state_file restores the counter and the timestamps) does
          //      not fire. This needs the terminal intent's per-intent series, which the
          //      exporter keeps for `terminal_retention` after the outcome (24h by default):
          //      below 5 minutes this path resolves early, and below the scrape interval it
          //      can miss the outcome. `group by (store, intent_id)` counts an intent once
          //      even while two exporter instances export it.
          // No `for:`: a lost payment pages now. The value is the number of intents; the alert
          // resolves 5 minutes after the last outcome.
          {
            alert: "AllScaleCheckoutPaymentFailed",
            expr: |||
              sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome="failed"}[5m])) > 0
              or
              count by (store) (
                group by (store, intent_id) (
                  allscale_checkout_intent_status == -1
                  and on (store, intent_id)
                  (time() - allscale_checkout_intent_status_change_timestamp_seconds) < 300
                )
              )
            |||,
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "A checkout payment failed.",
              description: "{{ printf \"%.0f\" $value }} checkout intent(s) of store {{ $labels.store }} ended FAILED (status -1, a processing error) in the last 5 minutes. Intent(s) that failed in the last 15 minutes: {{ with query (printf \"group by (intent_id) (allscale_checkout_intent_status{store=%q} == -1 and on (store, intent_id) (time() - allscale_checkout_intent_status_change_timestamp_seconds) < 900)\" $labels.store) }}{{ range $i, $s := . | sortByLabel \"intent_id\" }}{{ if $i }}, {{ end }}{{ $s.Labels.intent_id }}{{ end }}.{{ else }}see the dashboard (this store exports no per-intent timestamps: per_intent_metrics).{{ end }}",
              runbook_url: c.runbookUrlBase + "allscalecheckoutpaymentfailed",
            },
          },
          {
            alert: "AllScaleCheckoutPaymentUnderpaid",
            expr: |||
              sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome="underpaid"}[5m])) > 0
              or
              count by (store) (
                group by (store, intent_id) (
                  allscale_checkout_intent_status == -3
                  and on (store, intent_id)
                  (time() - allscale_checkout_intent_status_change_timestamp_seconds) < 300
                )
              )
            |||,
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "A checkout payment came in underpaid.",
              description: "{{ printf \"%.0f\" $value }} checkout intent(s) of store {{ $labels.store }} ended UNDERPAID (status -3, the customer paid less than required) in the last 5 minutes. Intent(s) underpaid in the last 15 minutes: {{ with query (printf \"group by (intent_id) (allscale_checkout_intent_status{store=%q} == -3 and on (store, intent_id) (time() - allscale_checkout_intent_status_change_timestamp_seconds) < 900)\" $labels.store) }}{{ range $i, $s := . | sortByLabel \"intent_id\" }}{{ if $i }}, {{ end }}{{ $s.Labels.intent_id }}{{ end }}.{{ else }}see the dashboard (this store exports no per-intent timestamps: per_intent_metrics).{{ end }}",
              runbook_url: c.runbookUrlBase + "allscalecheckoutpaymentunderpaid",
            },
          },
          {
            alert: "AllScaleCheckoutPaymentRejected",
            expr: |||
              sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome="rejected"}[5m])) > 0
              or
              count by (store) (
                group by (store, intent_id) (
                  allscale_checkout_intent_status == -2
                  and on (store, intent_id)
                  (time() - allscale_checkout_intent_status_change_timestamp_seconds) < 300
                )
              )
            |||,
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "A checkout payment was rejected by KYT.",
              description: "{{ printf \"%.0f\" $value }} checkout intent(s) of store {{ $labels.store }} ended REJECTED (status -2, failed the KYT compliance checks) in the last 5 minutes. Intent(s) rejected in the last 15 minutes: {{ with query (printf \"group by (intent_id) (allscale_checkout_intent_status{store=%q} == -2 and on (store, intent_id) (time() - allscale_checkout_intent_status_change_timestamp_seconds) < 900)\" $labels.store) }}{{ range $i, $s := . | sortByLabel \"intent_id\" }}{{ if $i }}, {{ end }}{{ $s.Labels.intent_id }}{{ end }}.{{ else }}see the dashboard (this store exports no per-intent timestamps: per_intent_metrics).{{ end }}",
              runbook_url: c.runbookUrlBase + "allscalecheckoutpaymentrejected",
            },
          },
          // Share of canceled + timed-out checkouts among everything that finished in the
          // last hour, with a volume guard so that 1 of 2 is not a spike. Tune the 0.5 and
          // the 10 to your store's normal abandonment rate and traffic.
          {
            alert: "AllScaleCheckoutAbandonmentSpike",
            expr: (|||
              (
                sum by (store) (increase(allscale_checkout_intent_terminal_total{outcome=~"canceled|timeout"}[1h]))
                /
                sum by (store) (increase(allscale_checkout_intent_terminal_total[1h]))
              ) > %(abandonmentRatio)s
              and on (store)
              sum by (store) (increase(allscale_checkout_intent_terminal_total[1h])) >= %(abandonmentMinFinished)s
            |||) % c,
            'for': "15m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "Many checkouts are canceled or time out.",
              description: "{{ $value | humanizePercentage }} of the checkouts of store {{ $labels.store }} that finished in the last hour were canceled or timed out (threshold %(abandonmentPercent)s%%, at least %(abandonmentMinFinished)s finished), for 15 minutes." % c,
              runbook_url: c.runbookUrlBase + "allscalecheckoutabandonmentspike",
            },
          },
          // Per intent, from the time the exporter first saw the current status. The value
          // is the time in status, in seconds. A store without per-intent timestamps for
          // the intents in the status (per_intent_metrics: status_only or none) alerts once
          // per store instead, from the oldest status change per status (no intent id: see
          // the dashboard); `unless` keeps the aggregate from doubling the per-intent alert.
          // It is per status for per_intent_metrics: attention, where a store has the
          // series of its failed intents but those of a waiting one only from its
          // `attention_after` (less 5 minutes, so they are scraped before the threshold
          // passes): with an `attention_after` longer than the threshold here, the store
          // still alerts, without the id, instead of staying silent until then.
          {
            alert: "AllScaleCheckoutIntentStuckOnChain",
            expr: (|||
              max by (store, intent_id) (
                (time() - allscale_checkout_intent_status_change_timestamp_seconds) > %(stuckOnChainSeconds)s
                and on (store, intent_id)
                allscale_checkout_intent_status == 10
              )
              or
              (
                max by (store) (time() - allscale_checkout_oldest_status_change_timestamp_seconds{status="on_chain"}) > %(stuckOnChainSeconds)s
                unless on (store)
                count by (store) (
                  allscale_checkout_intent_status_change_timestamp_seconds
                  and on (store, intent_id)
                  allscale_checkout_intent_status == 10
                )
              )
            |||) % c,
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "A checkout intent is stuck on chain.",
              description: "{{ with $labels.intent_id }}Checkout intent {{ . }}{{ with query (printf \"allscale_checkout_intent_info{store=%%q,intent_id=%%q}\" $labels.store .) }} (order {{ . | first | label \"order_id\" }}){{ end }}{{ else }}The longest-waiting checkout intent (which one: see the dashboard; this store exports no per-intent timestamps){{ end }} of store {{ $labels.store }} has been ON_CHAIN (status 10, transaction seen but not confirmed) for {{ $value | humanizeDuration }} (threshold %(stuckOnChainAge)s)." % c,
              runbook_url: c.runbookUrlBase + "allscalecheckoutintentstuckonchain",
            },
          },
          {
            alert: "AllScaleCheckoutIntentStuckPendingManualOperation",
            expr: (|||
              max by (store, intent_id) (
                (time() - allscale_checkout_intent_status_change_timestamp_seconds) > %(stuckManualReviewSeconds)s
                and on (store, intent_id)
                allscale_checkout_intent_status == 4
              )
              or
              (
                max by (store) (time() - allscale_checkout_oldest_status_change_timestamp_seconds{status="pending_manual_operation"}) > %(stuckManualReviewSeconds)s
                unless on (store)
                count by (store) (
                  allscale_checkout_intent_status_change_timestamp_seconds
                  and on (store, intent_id)
                  allscale_checkout_intent_status == 4
                )
              )
            |||) % c,
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "A checkout intent is waiting for manual review.",
              description: "{{ with $labels.intent_id }}Checkout intent {{ . }}{{ with query (printf \"allscale_checkout_intent_info{store=%%q,intent_id=%%q}\" $labels.store .) }} (order {{ . | first | label \"order_id\" }}){{ end }}{{ else }}The longest-waiting checkout intent (which one: see the dashboard; this store exports no per-intent timestamps){{ end }} of store {{ $labels.store }} has been PENDING_MANUAL_OPERATION (status 4) for {{ $value | humanizeDuration }} (threshold %(stuckManualReviewAge)s)." % c,
              runbook_url: c.runbookUrlBase + "allscalecheckoutintentstuckpendingmanualoperation",
            },
          },
          // Created (1), viewed/paying (2) or deposit wallet assigned (3) for a long time: the
          // customer has not paid yet. AllScale eventually times such intents out (-5); this
          // is for information (abandoned carts, a broken checkout page).
          {
            alert: "AllScaleCheckoutIntentStuckBeforePayment",
            expr: (|||
              max by (store, intent_id) (
                (time() - allscale_checkout_intent_status_change_timestamp_seconds) > %(stuckBeforePaymentSeconds)s
                and on (store, intent_id)
                (allscale_checkout_intent_status >= 1 <= 3)
              )
              or
              (
                max by (store) (time() - allscale_checkout_oldest_status_change_timestamp_seconds{status=~"created|viewed|temp_wallet_received"}) > %(stuckBeforePaymentSeconds)s
                unless on (store)
                count by (store) (
                  allscale_checkout_intent_status_change_timestamp_seconds
                  and on (store, intent_id)
                  (allscale_checkout_intent_status >= 1 <= 3)
                )
              )
            |||) % c,
            labels: {
              severity: "info",
            },
            annotations: {
              summary: "A checkout intent has not been paid for a long time.",
              description: "{{ with $labels.intent_id }}Checkout intent {{ . }}{{ with query (printf \"allscale_checkout_intent_info{store=%%q,intent_id=%%q}\" $labels.store .) }} (order {{ . | first | label \"order_id\" }}){{ end }}{{ else }}The longest-waiting checkout intent (which one: see the dashboard; this store exports no per-intent timestamps){{ end }} of store {{ $labels.store }} has been waiting for payment (created, viewed or deposit wallet assigned) for {{ $value | humanizeDuration }} (threshold %(stuckBeforePaymentAge)s)." % c,
              runbook_url: c.runbookUrlBase + "allscalecheckoutintentstuckbeforepayment",
            },
          },
        ],
      },
      {
        name: "allscale-api",
        rules: [
          // api_up is 0 while the latest request failed, so a single refused request that is
          // followed by a good one does not fire.
          {
            alert: "AllScaleApiAuthFailing",
            expr: |||
              sum by (store) (increase(allscale_api_errors_total{code=~"20001|20002"}[5m])) > 0
              and on (store)
              max by (store) (allscale_api_up) == 0
            |||,
            'for': "2m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "The AllScale API refuses the store's credentials.",
              description: "The AllScale API answered {{ printf \"%.0f\" $value }} request(s) of store {{ $labels.store }} with 20001 (missing headers or unknown API key) or 20002 (bad signature, clock skew or reused nonce) in the last 5 minutes, and the latest request still fails. Payment statuses of this store are not being updated.",
              runbook_url: c.runbookUrlBase + "allscaleapiauthfailing",
            },
          },
          {
            alert: "AllScaleApiRateLimited",
            expr: "sum by (store) (increase(allscale_api_errors_total{code=\"40001\"}[5m])) > 0",
            'for': "10m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The AllScale API rate-limits a store.",
              description: "The AllScale API answered 40001 (rate limit exceeded) to store {{ $labels.store }} {{ printf \"%.0f\" $value }} time(s) in the last 5 minutes, and has kept doing so for 10 minutes. The exporter pauses the store on every 40001, so statuses arrive late.",
              runbook_url: c.runbookUrlBase + "allscaleapiratelimited",
            },
          },
          {
            alert: "AllScaleApiServerErrors",
            expr: |||
              sum by (store) (rate(allscale_api_errors_total{code=~"90000|99999"}[5m]))
              /
              sum by (store) (rate(allscale_api_requests_total[5m]))
              > 0.05
            |||,
            'for': "10m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The AllScale API answers with server errors.",
              description: "{{ $value | humanizePercentage }} of the requests of store {{ $labels.store }} got 90000 (internal server error) or 99999 (unknown error) from the AllScale API over the last 5 minutes (threshold 5%), for 10 minutes.",
              runbook_url: c.runbookUrlBase + "allscaleapiservererrors",
            },
          },
          // Failures without a usable API answer: timeouts, connection errors, non-API HTTP
          // errors (a proxy's 502), undecodable answers, bad response signatures.
          {
            alert: "AllScaleApiRequestsFailing",
            expr: |||
              sum by (store) (rate(allscale_api_requests_total{result=~"http_error|timeout|connect_error|decode_error|bad_response_signature"}[5m]))
              /
              sum by (store) (rate(allscale_api_requests_total[5m]))
              > 0.1
            |||,
            'for': "10m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "Requests to the AllScale API fail.",
              description: "{{ $value | humanizePercentage }} of the requests of store {{ $labels.store }} got no usable answer over the last 5 minutes (timeout, connection error, HTTP error without an API envelope, undecodable answer or bad response signature; threshold 10%), for 10 minutes.",
              runbook_url: c.runbookUrlBase + "allscaleapirequestsfailing",
            },
          },
          {
            alert: "AllScaleApiDown",
            expr: "max by (store) (allscale_api_up) == 0",
            'for': "5m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "The AllScale API is unreachable or failing.",
              description: "Every request of store {{ $labels.store }} to the AllScale API has failed for 5 minutes (no answer, an auth failure or a server error). Payment statuses of this store are not being updated.",
              runbook_url: c.runbookUrlBase + "allscaleapidown",
            },
          },
          // Requests are signed with the exporter's clock and refused beyond +-300 s of the
          // API's: warn at 60 s (an NTP problem to fix today), page at 180 s (minutes before
          // every request of the store fails with 20002).
          {
            alert: "AllScaleApiClockSkew",
            expr: "max by (store) (abs(allscale_api_clock_skew_seconds)) > 60",
            'for': "10m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The exporter's clock is skewed against the AllScale API.",
              description: "The exporter's clock differs from the AllScale API's by {{ $value | humanizeDuration }} (store {{ $labels.store }}). Signed requests are refused beyond 5 minutes: fix time synchronisation (NTP) on the exporter's host.",
              runbook_url: c.runbookUrlBase + "allscaleapiclockskew",
            },
          },
          {
            alert: "AllScaleApiClockSkewCritical",
            expr: "max by (store) (abs(allscale_api_clock_skew_seconds)) > 180",
            'for': "2m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "The clock skew is near the AllScale API's 5-minute signing limit.",
              description: "The exporter's clock differs from the AllScale API's by {{ $value | humanizeDuration }} (store {{ $labels.store }}); at 5 minutes every request fails with 20002 and payment statuses stop updating. Fix time synchronisation (NTP) on the exporter's host now.",
              runbook_url: c.runbookUrlBase + "allscaleapiclockskewcritical",
            },
          },
          // 50001: the exporter keeps polling not_found intents (a brand-new intent may not be
          // visible yet), hence the 15 minutes.
          {
            alert: "AllScaleCheckoutIntentNotFound",
            expr: "max by (store) (allscale_checkout_intents{status=\"not_found\"}) > 0",
            'for': "15m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "Watched checkout intents are unknown to AllScale.",
              description: "{{ printf \"%.0f\" $value }} watched intent(s) of store {{ $labels.store }} have been answered 50001 (checkout intent not found) for 15 minutes: a wrong id in the exporter config, or an intent listed under the wrong store.",
              runbook_url: c.runbookUrlBase + "allscalecheckoutintentnotfound",
            },
          },
          {
            alert: "AllScaleCheckoutIntentForbidden",
            expr: "sum by (store) (increase(allscale_api_errors_total{code=\"30001\"}[15m])) > 0",
            'for': "5m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The AllScale API forbids a store's requests.",
              description: "The AllScale API answered 30001 (forbidden) to store {{ $labels.store }} {{ printf \"%.0f\" $value }} time(s) in the last 15 minutes: an intent that belongs to another store's API key, or the exporter's IP address is not on the key's allow-list.",
              runbook_url: c.runbookUrlBase + "allscalecheckoutintentforbidden",
            },
          },
        ],
      },
      {
        name: "allscale-exporter",
        rules: [
          {
            alert: "AllScaleExporterDown",
            expr: "up{%(jobSelector)s} == 0" % c,
            'for': "1m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "The allscale-exporter is down.",
              description: "Prometheus has failed to scrape allscale-exporter at {{ $labels.instance }} (job {{ $labels.job }}) for 1 minute. While it is down, failed, underpaid and stuck payments are not detected.",
              runbook_url: c.runbookUrlBase + "allscaleexporterdown",
            },
          },
          {
            alert: "AllScaleExporterAbsent",
            expr: "absent(up{%(jobSelector)s})" % c,
            'for': "5m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "The allscale-exporter is not being scraped.",
              description: "Prometheus has had no allscale-exporter target (job=\"{{ $labels.job }}\") for 5 minutes: the target vanished from service discovery, or the scrape configuration changed. Payments are not being watched.",
              runbook_url: c.runbookUrlBase + "allscaleexporterabsent",
            },
          },
          {
            alert: "AllScaleExporterConfigReloadFailed",
            expr: "allscale_exporter_config_last_reload_successful == 0",
            'for': "5m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The allscale-exporter failed to reload its config.",
              description: "The last config reload of allscale-exporter at {{ $labels.instance }} failed; it keeps running with the previous config, so the latest changes (new intents, stores, keys) are not applied.",
              runbook_url: c.runbookUrlBase + "allscaleexporterconfigreloadfailed",
            },
          },
          // No `ok` answer for 15 minutes in a store that still has intents to poll
          // (watched minus terminal minus not_found: intents without an answer yet count).
          // Catches a stalled poller and failures that keep allscale_api_up at 1.
          // Assumes poll_interval is well below 15 minutes.
          {
            alert: "AllScaleExporterStateFileNotSaved",
            expr: "allscale_exporter_state_file_last_save_successful == 0",
            'for': "2m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "The allscale-exporter cannot save its state file.",
              description: "allscale-exporter at {{ $labels.instance }} has failed to save its state file for 2 minutes. Outcome and transition counters are exported only once saved, so new outcomes are held back (the payment alerts still fire from the per-intent series), and a restart would lose what is not saved.",
              runbook_url: c.runbookUrlBase + "allscaleexporterstatefilenotsaved",
            },
          },
          // Replicas sharing a state_database (docs/replicas.md): one that cannot reach
          // the database stops polling when its leases run out; partitions nobody holds
          // are intents nobody polls.
          {
            alert: "AllScaleExporterStateDatabaseUnreachable",
            expr: "allscale_exporter_state_database_up == 0",
            'for': "1m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "An allscale-exporter replica cannot reach its state database.",
              description: "allscale-exporter at {{ $labels.instance }} has not reached its PostgreSQL state database for a minute. It stopped polling when its leases ran out, serves /metrics from memory, and answers registrations with 503; it resumes on its own once the database answers.",
              runbook_url: c.runbookUrlBase + "allscaleexporterstatedatabaseunreachable",
            },
          },
          {
            alert: "AllScaleExporterPartitionsUnheld",
            expr: "sum by (job) (allscale_exporter_replica_partitions_held) < 256",
            'for': "2m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "Part of the watched intents is polled by no allscale-exporter replica.",
              description: "The replicas of {{ $labels.job }} hold {{ $value }} of the 256 partitions for 2 minutes: the intents of the others are polled by nobody. A replica died and the others cannot take its leases, or they cannot reach the state database.",
              runbook_url: c.runbookUrlBase + "allscaleexporterpartitionsunheld",
            },
          },
          {
            alert: "AllScaleExporterTaskRestarted",
            expr: "increase(allscale_exporter_task_restarts_total[15m]) > 0",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The allscale-exporter restarted a task.",
              description: "A {{ $labels.task }} task of allscale-exporter at {{ $labels.instance }} panicked or ended unexpectedly {{ $value | humanize }} time(s) in the last 15 minutes and was restarted. It is a bug: the log line at error level says which task (and store) and why.",
              runbook_url: c.runbookUrlBase + "allscaleexportertaskrestarted",
            },
          },
          {
            alert: "AllScaleExporterNoSuccessfulPolls",
            expr: |||
              sum by (store) (increase(allscale_api_requests_total{result="ok"}[15m])) == 0
              and on (store)
              (
                max by (store) (allscale_exporter_watched_intents)
                - sum by (store) (allscale_checkout_intents{status=~"confirmed|failed|rejected|underpaid|canceled|timeout|not_found"})
              ) > 0
            |||,
            'for': "5m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "No status poll of a store has succeeded for 15 minutes.",
              description: "allscale-exporter has had no successful answer from the AllScale API for store {{ $labels.store }} in the last 15 minutes although the store has intents to watch. Payment statuses of this store are stale.",
              runbook_url: c.runbookUrlBase + "allscaleexporternosuccessfulpolls",
            },
          },
          {
            alert: "AllScaleExporterPollBudgetExceeded",
            expr: "allscale_exporter_poll_demand_requests_per_second > allscale_exporter_poll_budget_requests_per_second",
            'for': "15m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "A store needs more polls than its request budget allows.",
              description: "allscale-exporter at {{ $labels.instance }} needs {{ $value | humanize }} requests/s to poll every pollable intent of store {{ $labels.store }} once per poll_interval, more than its max_requests_per_second, for 15 minutes. Every intent is still polled, evenly, but less often: see allscale_exporter_effective_poll_interval_seconds. Status changes are seen later.",
              runbook_url: c.runbookUrlBase + "allscaleexporterpollbudgetexceeded",
            },
          },
          // A file or the HTTP list of intent_sources has not read cleanly for 10 minutes (or
          // has failed and never read cleanly): new intents it names are not watched; the
          // last good list stays. Registrations (api) and the config are covered elsewhere.
          {
            alert: "AllScaleExporterIntentSourceFailing",
            expr: |||
              (time() - allscale_exporter_source_last_success_timestamp_seconds{source=~"file|http"}) > 600
              or
              (
                allscale_exporter_source_errors_total{source=~"file|http"} > 0
                unless on (job, instance, store, source)
                allscale_exporter_source_last_success_timestamp_seconds
              )
            |||,
            'for': "5m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "An intent source is failing.",
              description: "allscale-exporter at {{ $labels.instance }} has not read the {{ $labels.source }} intent source of store {{ $labels.store }} cleanly for at least 15 minutes. Its last good list is still watched, but intents added to the source since are not: their payments are not watched. The warning in the exporter's log names the file or the HTTP error.",
              runbook_url: c.runbookUrlBase + "allscaleexporterintentsourcefailing",
            },
          },
        ],
      },
      // Webhooks: the receiver (`POST /webhooks/allscale`) and the relay that forwards each
      // verified webhook to the merchant's backend (`webhook.forward_url`) from a durable,
      // bounded queue. One alert per store (`by (store)`), like the payment and API alerts.
      // None fires for a store that simply received no webhooks: each needs a refusal, a
      // missing-webhook count, a failed forward or a queued event.
      {
        name: "allscale-webhooks",
        rules: [
          // Refused as bad_signature (the key matched a store, the signature does not verify
          // with its secret: a rotated API secret; polling fails with 20002 as well) or
          // unknown_key (the X-API-Key matches no store: counted under store="unknown"; a key
          // rotated in AllScale's dashboard but not in the config, or a store missing from it),
          // and no webhook of that store verified in the same 15 minutes.
          // Why this threshold: one refusal is enough when nothing verifies, because a
          // broken secret refuses *every* webhook and AllScale retries each one, so refusals
          // keep coming while paid orders are not shipped; "no `ok` in 15 minutes" keeps a
          // stray forged request on a store whose real webhooks verify from paging, and
          // `unless` (not `and ... == 0`) also works for store="unknown", which has no `ok`
          // series. Why `for: 5m`: AllScale redelivers refused webhooks, so waiting loses
          // nothing and lets a deliberate rotation (AllScale's dashboard and the config
          // changed minutes apart) finish without a page. Why critical: fulfilment of the
          // store stops, as with AllScaleApiAuthFailing. Resolves at the first verified
          // webhook, or 15 minutes after the last refusal.
          {
            alert: "AllScaleWebhookSignatureFailures",
            expr: |||
              sum by (store) (increase(allscale_webhook_requests_total{result=~"bad_signature|unknown_key"}[15m])) > 0
              unless on (store)
              sum by (store) (increase(allscale_webhook_requests_total{result="ok"}[15m])) > 0
            |||,
            'for': "5m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "AllScale webhooks are refused.",
              description: "No webhook for store {{ $labels.store }} has verified in the last 15 minutes, and {{ printf \"%.0f\" $value }} were refused: {{ if eq $labels.store \"unknown\" }}their X-API-Key matches no store in the config (unknown_key: a key rotated in AllScale's dashboard, or a store missing from the config){{ else }}their signature does not verify with the store's API secret (bad_signature: a rotated secret){{ end }}. Until this is fixed, paid orders get no webhook and the merchant's backend does not ship them.",
              runbook_url: c.runbookUrlBase + "allscalewebhooksignaturefailures",
            },
          },
          // Counted only for stores with `webhook.expected: true`: polling saw an intent
          // CONFIRMED and no webhook for it came within `webhook.grace` (10m by default). The
          // counter starts at 0 for those stores, so the first one is seen. No `for:` and
          // critical, like the payment alerts: the operator said fulfilment waits on the
          // webhook, so this is a paid order not shipped, and the grace already absorbed a
          // late delivery. The value is the number of intents; resolves 15 minutes after the
          // last one.
          {
            alert: "AllScaleWebhookMissing",
            expr: "sum by (store) (increase(allscale_checkout_intent_webhook_missing_total[15m])) > 0",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "Confirmed payments came without an AllScale webhook.",
              description: "{{ printf \"%.0f\" $value }} checkout intent(s) of store {{ $labels.store }} that polling saw CONFIRMED got no webhook within the store's webhook.grace (counted in the last 15 minutes). The merchant's fulfilment waits on that webhook: these orders are paid but may not be shipped.",
              runbook_url: c.runbookUrlBase + "allscalewebhookmissing",
            },
          },
          // The relay delivers nothing: no `ok` forward in 10 minutes while forwards fail
          // (http_error, connect_error, timeout) and events wait in the queue, for 5 minutes
          // more, so it fires about 15 minutes after the last successful forward (a backend
          // restart or deploy of a few minutes does not page). A store without forward_url, or
          // with an empty queue, never fires. Assumes the retry backoff is capped well below
          // 10 minutes (otherwise a failing store can show no error in the window): widen both
          // windows if it is not. Critical: the events are kept (durable queue) but the
          // backend sees no payment, and once the queue is full the receiver answers 503.
          {
            alert: "AllScaleWebhookForwardFailing",
            expr: |||
              (
                sum by (store) (increase(allscale_webhook_forward_total{result=~"http_error|connect_error|timeout"}[10m])) > 0
                unless on (store)
                sum by (store) (increase(allscale_webhook_forward_total{result="ok"}[10m])) > 0
              )
              and on (store)
              max by (store) (allscale_webhook_forward_queue) > 0
            |||,
            'for': "5m",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "Webhooks are not reaching the merchant's backend.",
              description: "No forward of store {{ $labels.store }} to its webhook.forward_url has succeeded for at least 15 minutes ({{ printf \"%.0f\" $value }} failed attempt(s) in the last 10 minutes){{ with query (printf \"max(allscale_webhook_forward_queue{store=%q})\" $labels.store) }}, with {{ . | first | value | printf \"%.0f\" }} event(s) waiting in the queue{{ end }}. The backend has not been told about these payments.",
              runbook_url: c.runbookUrlBase + "allscalewebhookforwardfailing",
            },
          },
          // Events waiting to be forwarded: above 100 for 15 minutes means the backend is
          // slower than the incoming webhooks, or forwards partly fail. 100 is a fixed
          // threshold, tunable here: set it to about half of the per-store queue bound
          // (documented with allscale_webhook_forward_queue) so that this warns well before
          // the receiver refuses webhooks as queue_full (503; AllScale retries later), and
          // change the test with it. `max by (store)`: the bound is per exporter instance.
          // Warning: the relay still delivers (a full stop is AllScaleWebhookForwardFailing).
          {
            alert: "AllScaleWebhookQueueBacklog",
            expr: "max by (store) (allscale_webhook_forward_queue) > 100",
            'for': "15m",
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "The webhook forward queue is backing up.",
              description: "{{ printf \"%.0f\" $value }} webhook event(s) of store {{ $labels.store }} have been waiting to be forwarded to the merchant's backend (threshold 100) for 15 minutes. Fulfilment lags behind payments; when the queue is full, new webhooks are answered 503 (queue_full) until AllScale retries.",
              runbook_url: c.runbookUrlBase + "allscalewebhookqueuebacklog",
            },
          },
        ],
      },
      // Money: the amounts of each intent, counted once in its life from the intent's detail,
      // fetched once the intent is terminal (allscale_checkout_*_coins_total). The coin and
      // chain labels are bounded (16 values per store, then `other`). One alert per store (and
      // coin), like the payment alerts. Both use increase() only: a counter first scraped at
      // a restored value (a restart with a state_file, a new Prometheus, a rescheduled pod
      // with a new `instance`) is not an increase and does not page again.
      {
        name: "allscale-money",
        rules: [
          // Coins requested but not received, per store and coin (all chains together), over
          // the last hour: underpaid intents and confirmed ones that came in short. Each
          // underpaid intent already pages (AllScaleCheckoutPaymentUnderpaid) and each short
          // confirmation too (AllScaleCheckoutConfirmedShort); this warns when the *sum* lost
          // in an hour matters. 100 (coins per hour) is a placeholder: it suits stablecoins
          // (USDT, USDC: about 100 USD), not BTC or ETH. To tune it per coin, give each coin
          // its own line and keep the default for the rest, e.g.
          //   sum by (store, coin) (increase(allscale_checkout_shortfall_coins_total{coin="BTC"}[1h])) > 0.002
          //   or
          //   sum by (store, coin) (increase(allscale_checkout_shortfall_coins_total{coin="ETH"}[1h])) > 0.05
          //   or
          //   sum by (store, coin) (increase(allscale_checkout_shortfall_coins_total{coin!~"BTC|ETH"}[1h])) > 100
          // (every coin with its own line is also in the last line's `!~`, so each coin has
          // exactly one threshold), and change the test with it. `coin="other"` sums the coins
          // beyond the label cap: give it a line of its own if they differ much in value.
          // A (store, coin, chain) series is created by the first intent counted in that coin
          // and chain (at 0 when it was paid in full), so only when that first intent falls
          // short is its amount not an increase and not counted here
          // (AllScaleCheckoutPaymentUnderpaid or AllScaleCheckoutConfirmedShort still pages).
          // No `for:`: the counter only moves when an intent ends, so the hourly sum is
          // already smooth; it resolves once the hour's sum is back under the
          // threshold.
          {
            alert: "AllScaleCheckoutShortfall",
            expr: "sum by (store, coin) (increase(allscale_checkout_shortfall_coins_total[1h])) > %(shortfallCoinsPerHour)s" % c,
            labels: {
              severity: "warning",
            },
            annotations: {
              summary: "Checkout payments came in short.",
              description: "Checkout intents of store {{ $labels.store }} received {{ $value | humanize }} {{ $labels.coin }} less than requested in the last hour (underpaid intents and confirmed ones that came in short; threshold %(shortfallCoinsPerHour)s {{ $labels.coin }} per hour)." % c,
              runbook_url: c.runbookUrlBase + "allscalecheckoutshortfall",
            },
          },
          // A CONFIRMED intent whose paid amount is below the requested amount. The counter
          // starts at 0 for every store, so the first one is seen. No `for:` and critical,
          // like the payment alerts: AllScale confirmed the payment, so fulfilment ships it
          // unless someone holds the order. The value is the number of intents; resolves
          // 15 minutes after the last one. One counted before Prometheus's first scrape of a
          // fresh exporter is not seen (there is no per-intent series to fall back on, unlike
          // the payment alerts).
          {
            alert: "AllScaleCheckoutConfirmedShort",
            expr: "sum by (store) (increase(allscale_checkout_confirmed_short_total[15m])) > 0",
            labels: {
              severity: "critical",
            },
            annotations: {
              summary: "A confirmed checkout payment came in short: hold the order.",
              description: "{{ printf \"%.0f\" $value }} checkout intent(s) of store {{ $labels.store }} ended CONFIRMED with less paid than requested (counted in the last 15 minutes). Hold the order(s) until the amount received is checked.",
              runbook_url: c.runbookUrlBase + "allscalecheckoutconfirmedshort",
            },
          },
        ],
      },
      $._sloAlerts,
    ]),
  },
}
