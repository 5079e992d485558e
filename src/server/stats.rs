//! Message and byte counters, server-wide and per connection.
//!
//! Counters are relaxed atomics: readers (monitoring) see a recent value, never a torn
//! one. Hot paths add per read batch, not per message, where they can.

use std::sync::atomic::{AtomicU64, Ordering};

/// In/out message and byte counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    pub out_msgs: AtomicU64,
    pub out_bytes: AtomicU64,
}

impl Counters {
    #[inline]
    pub fn add_in(&self, msgs: u64, bytes: u64) {
        if msgs > 0 {
            self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
            self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    #[inline]
    pub fn add_out(&self, msgs: u64, bytes: u64) {
        if msgs > 0 {
            self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
            self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs: self.out_msgs.load(Ordering::Relaxed),
            out_bytes: self.out_bytes.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of [`Counters`].
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct CounterSnapshot {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

/// Server-wide statistics.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub msgs: Counters,
    pub total_connections: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub slow_consumers_clients: AtomicU64,
    /// Messages for internal services dropped because their queue was full.
    pub internal_dropped: AtomicU64,
}
