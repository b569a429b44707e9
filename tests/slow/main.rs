//! The slow integration tests, a second test binary beside `tests/it/` (the fast ones):
//! what needs outside programs or runs for minutes. `cargo test` runs both;
//! `cargo test --workspace --lib --test it` only the fast part, `cargo test --test slow` only this.
//!
//! | module | what it drives |
//! |---|---|
//! | `e2e` | the operator package: real Prometheus and Alertmanager with the shipped rules, the mixin through jsonnet, deploy files |
//! | `landing_page` | the landing page laid out by headless Chromium |
//! | `soak`, `crash_soak` | 50 and 30 SIGKILLs at random moments: every outcome counted once, no counter backwards |

// The fixtures the fast binary shares; this binary uses a part of them.
#[allow(dead_code)]
#[path = "../it/common/mod.rs"]
mod common;

mod crash_soak;
mod e2e;
mod landing_page;
mod soak;
