//! The one way a family reaches the page: a [`Collector`], in the spirit of
//! node_exporter's. At each scrape every collector writes its families (HELP and TYPE
//! once, then the samples) from where it keeps them; the page is the collectors in
//! order. Process-level series stay in a `prometheus` registry, read through one adapter
//! ([`Registered`]).

use prometheus::{Encoder, Registry, TextEncoder};

use crate::replica::owned::Owned;
use crate::state::State;

/// What a scrape gives every collector.
pub struct Scrape<'a> {
    pub state: &'a State,
    /// Unix seconds, the moment the page is rendered at.
    pub now: f64,
    /// In a group sharing a state database: the partitions this replica holds, whose
    /// intents it exports (each replica its own part; they add up by store).
    pub claims: Option<Owned>,
}

/// A source of metric families for `/metrics`.
pub trait Collector: Send + Sync {
    /// Writes this collector's families in the text format (0.0.4): for each family its
    /// `# HELP` and `# TYPE` lines once (see [`super::header`]), then its samples.
    fn collect(&self, scrape: &Scrape<'_>, out: &mut String);
}

/// A `prometheus` registry as a collector: its families sorted by name, as the
/// registry's own text encoder writes them.
pub struct Registered(pub Registry);

impl Collector for Registered {
    fn collect(&self, _: &Scrape<'_>, out: &mut String) {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.0.gather(), &mut buf)
            .expect("text encoding cannot fail");
        out.push_str(&String::from_utf8_lossy(&buf));
    }
}
