//! Latency statistics for request/reply runs: every round-trip time is kept
//! (as nanoseconds in a `Vec<u64>`), sorted once at the end, and read with
//! the nearest-rank percentile definition.

use serde::Serialize;

/// Summary of a set of round-trip times, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Number of samples.
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// Nearest-rank percentile of an ascending slice: the smallest sample such
/// that at least `p` percent of the samples are less than or equal to it.
/// `None` for an empty slice or a `p` outside `0..=100`.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let n = sorted.len();
    // The small epsilon keeps float noise (0.999 * 1000 = 999.000...1) from
    // pushing an exact rank up by one.
    let rank = ((p / 100.0) * n as f64 - 1e-9).ceil() as usize;
    let index = rank.clamp(1, n) - 1;
    sorted.get(index).copied()
}

impl LatencyStats {
    /// Sorts `samples` (nanoseconds) in place and summarises them.
    /// `None` when there are no samples.
    pub fn from_nanos(samples: &mut [u64]) -> Option<LatencyStats> {
        samples.sort_unstable();
        let first = *samples.first()?;
        let last = *samples.last()?;
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        let n = samples.len();
        let us = |ns: u64| ns as f64 / 1_000.0;
        let pct = |p: f64| percentile(samples, p).map(us).unwrap_or(0.0);
        Some(LatencyStats {
            count: n as u64,
            min_us: us(first),
            mean_us: sum as f64 / n as f64 / 1_000.0,
            p50_us: pct(50.0),
            p90_us: pct(90.0),
            p99_us: pct(99.0),
            p999_us: pct(99.9),
            max_us: us(last),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_small_sets() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50.0), Some(5));
        assert_eq!(percentile(&v, 90.0), Some(9));
        assert_eq!(percentile(&v, 99.0), Some(10));
        assert_eq!(percentile(&v, 100.0), Some(10));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.9), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 101.0), None);
        assert_eq!(percentile(&v, f64::NAN), None);
    }

    #[test]
    fn nearest_rank_on_thousand() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), Some(500));
        assert_eq!(percentile(&v, 99.0), Some(990));
        assert_eq!(percentile(&v, 99.9), Some(999));
    }

    #[test]
    fn stats_sort_and_convert_units() {
        let mut v = vec![4_000, 1_000, 3_000, 2_000];
        let s = LatencyStats::from_nanos(&mut v).expect("non-empty");
        assert_eq!(v, vec![1_000, 2_000, 3_000, 4_000]);
        assert_eq!(s.count, 4);
        assert_eq!(s.min_us, 1.0);
        assert_eq!(s.max_us, 4.0);
        assert_eq!(s.mean_us, 2.5);
        assert_eq!(s.p50_us, 2.0);
        assert_eq!(s.p99_us, 4.0);
        assert!(LatencyStats::from_nanos(&mut []).is_none());
    }
}
