//! A histogram kept as plain numbers inside a store's series (whose lock guards it),
//! written as the `prometheus` crate's text encoder writes one: cumulative buckets, `+Inf`,
//! `_sum` and `_count`.

use std::fmt::Write as _;

/// Observations counted into fixed upper bounds.
#[derive(Debug, Clone)]
pub(super) struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; an observation above every bound is in none.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub(super) fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub(super) fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| v <= *bound) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// Writes the histogram's lines; `labels` are the series' labels, written and escaped
    /// (`key="value",…`).
    pub(super) fn write(&self, out: &mut String, name: &str, labels: &str) {
        let cumulative = self.counts.iter().scan(0, |total, n| {
            *total += n;
            Some(*total)
        });
        let buckets = self.bounds.iter().zip(cumulative);
        write_lines(out, name, labels, buckets, self.sum, self.count);
    }
}

/// Writes a histogram's lines from its cumulative `buckets` (bound, count): a bound
/// prints as Rust prints a number, `900` not `900.0`, as the Go client writes it.
pub(super) fn write_lines(
    out: &mut String,
    name: &str,
    labels: &str,
    buckets: impl IntoIterator<Item = (impl std::fmt::Display, u64)>,
    sum: f64,
    count: u64,
) {
    for (bound, cumulative) in buckets {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_cumulative_buckets_like_the_prometheus_encoder() {
        let mut h = Histogram::new(&[0.5, 1.0]);
        for v in [0.25, 0.75, 0.75, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.write(&mut out, "x", "store=\"a\"");
        assert_eq!(
            out,
            "x_bucket{store=\"a\",le=\"0.5\"} 1\nx_bucket{store=\"a\",le=\"1\"} 3\n\
             x_bucket{store=\"a\",le=\"+Inf\"} 4\nx_sum{store=\"a\"} 4.75\nx_count{store=\"a\"} 4\n"
        );
    }
}
