//! [`SublistStats`]: counters reported by monitoring (`/subsz`).

/// Snapshot of a [`Sublist`](super::Sublist)'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SublistStats {
    /// Current number of subscriptions.
    pub num_subscriptions: usize,
    /// Current number of cached match results.
    pub num_cache: usize,
    /// Subscriptions ever added (duplicates not counted).
    pub num_inserts: u64,
    /// Subscriptions ever removed.
    pub num_removes: u64,
    /// Calls to `matches`.
    pub num_matches: u64,
    /// Fraction of `matches` calls answered from the cache (0.0..=1.0).
    pub cache_hit_rate: f64,
    /// Largest fanout (subscribers) among cached results.
    pub max_fanout: usize,
    /// Average fanout among cached results.
    pub avg_fanout: f64,
}
