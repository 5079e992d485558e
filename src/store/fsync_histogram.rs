//! [`FsyncHistogram`]: how long the sync thread's WAL fsyncs take, in fixed buckets
//! (atomics only, so the sync thread never waits on a reader).
//!
//! Owns only the counts; the sync loop in `mod.rs` records, /metrics reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (Prometheus `le`); a last `+Inf` bucket
/// is implied. From 100 µs (page cache, no real flush) to 1 s (a stalled disk).
pub const FSYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Counts of fsync durations per bucket (not cumulative), their sum and number.
#[derive(Default)]
pub struct FsyncHistogram {
    /// One per bound in [`FSYNC_BUCKETS`], then one for `+Inf`.
    buckets: [AtomicU64; FSYNC_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// A consistent-enough copy for one scrape: `cumulative[i]` counts fsyncs that took
/// at most `FSYNC_BUCKETS[i]` (the last one, `+Inf`, equals `count`).
#[derive(Debug, Clone, PartialEq)]
pub struct FsyncSnapshot {
    pub cumulative: Vec<u64>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl FsyncHistogram {
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = FSYNC_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(FSYNC_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Bucket counts made cumulative; `count` is the sum of the buckets read, so the
    /// `+Inf` bucket and `_count` always agree even while fsyncs are being recorded.
    pub fn snapshot(&self) -> FsyncSnapshot {
        let mut run = 0u64;
        let cumulative: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| {
                run += b.load(Ordering::Relaxed);
                run
            })
            .collect();
        FsyncSnapshot {
            count: run,
            cumulative,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let h = FsyncHistogram::default();
        h.record(Duration::from_micros(100)); // exactly the first bound
        h.record(Duration::from_millis(3)); // 0.005 bucket
        h.record(Duration::from_secs(2)); // +Inf only
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[4], 1, "3 ms is above 2.5 ms");
        assert_eq!(s.cumulative[5], 2);
        assert_eq!(s.cumulative[FSYNC_BUCKETS.len() - 1], 2);
        assert_eq!(s.cumulative[FSYNC_BUCKETS.len()], 3);
        assert!((s.sum_seconds - 2.0031).abs() < 1e-9);
    }
}
