//! The fast integration tests, one module per concern, built as one test binary: ~30
//! binaries that each link the whole exporter took ten times the disk and link time of
//! one (a CI run ran out of disk). Run one concern with `cargo test --test it money::`.
//! The slow ones (real Prometheus and Alertmanager, Chromium, the soaks) are the second
//! binary, `tests/slow/`: `cargo test --test slow`.
//!
//! | module | what it drives |
//! |---|---|
//! | `common` | shared fixtures: scrape and parse `/metrics`, processes, the simulator, files |
//! | `cli`, `config`, `properties` | the binary's commands; config schema and validation; property tests |
//! | `exporter`, `golden`, `cardinality` | the exporter against the simulator; `/metrics` byte for byte; `per_intent_metrics` |
//! | `strict_mock`, `strict_mock_selftest`, `hostile_mock`, `api_tls`, `goaway` | the API client against the independent strict mock, hostile answers, TLS, HTTP/2 GOAWAY |
//! | `reload`, `restart` | hot reload; restart safety of the counters |
//! | `state_access` | the state database locked, used by a second exporter, read-only, corrupt |
//! | `state_pg` | the PostgreSQL state database (a throwaway server, `common::postgres`): conformance, restarts, durability |
//! | `expiry`, `poll_budget`, `registration`, `sources` | intents that never finish; the budget; the registration API; pull sources |
//! | `webhooks`, `webhook_relay` | the webhook receiver and relay |
//! | `money` | amounts, shortfalls and fees from the intent detail |
//! | `time_to_outcome` | the time from an intent's creation (its id) to its outcome, across a restart |
//! | `secrets`, `server_limits`, `web_config` | secrets kept out of every output; the HTTP server under hostile clients; TLS and auth |
//! | `kubernetes`, `monitoring_lint`, `slo`, `docs` | the rendered Kubernetes trees; lint rules of the alerts and dashboards; the sloth and pyrra files; docs consistency |

mod api_tls;
mod cardinality;
mod cli;
mod common;
mod config;
mod docs;
mod expiry;
mod exporter;
mod goaway;
mod golden;
mod hostile_mock;
mod kubernetes;
mod money;
mod monitoring_lint;
mod poll_budget;
mod properties;
mod registration;
mod reload;
mod replica_lease;
mod replica_work;
mod restart;
mod secrets;
mod server_limits;
mod slo;
mod sources;
mod state_access;
mod state_pg;
mod strict_mock;
mod strict_mock_selftest;
mod time_to_outcome;
mod web_config;
mod webhook_relay;
mod webhooks;
