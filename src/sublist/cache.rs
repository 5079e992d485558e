//! [`MatchCache`]: bounded map from a published subject to its shared
//! [`MatchResult`].
//!
//! Invalidation policy: when a subscription on pattern `P` is inserted or
//! removed, every cached subject matched by `P` is dropped (a literal `P`
//! is a single O(1) removal; a wildcard `P` scans at most `capacity`
//! entries). Entries are never updated in place, so a result handed out
//! earlier stays a consistent snapshot. The owner
//! ([`Sublist`](super::Sublist)) calls [`MatchCache::invalidate`] while
//! holding the trie write lock and [`MatchCache::insert`] while holding the
//! trie read lock, so no stale result can be cached.
//!
//! Admission: a subject is cached on its second miss, not its first.
//! Subjects that are published once (reply inboxes, `$JS.ACK` subjects: one
//! per message) would otherwise cost an insert and churn the cache out of the
//! results that do repeat. A small Bloom filter (two bits per subject in
//! [`SEEN_BITS`]) remembers first misses; it is cleared after
//! [`SEEN_RESET`] marks so it never saturates. It has no false negatives
//! between clears (a repeated subject is always admitted on its second miss)
//! and holds no results, so it cannot go stale.
//!
//! Invariants:
//! * `map.len() <= capacity`; when full, an arbitrary quarter of the
//!   entries is evicted before inserting.
//! * A lookup clones an `Arc` and never allocates.
//! * `capacity == 0` means disabled: nothing is ever stored.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::result::MatchResult;
use crate::subject;

/// Bits of the first-miss filter (a power of two, at most 2^32).
const SEEN_BITS: usize = 1 << 16;
/// First misses marked before the filter is cleared (keeps false positives near 5 %).
const SEEN_RESET: usize = SEEN_BITS / 8;

pub(crate) struct MatchCache<T> {
    map: HashMap<Box<str>, Arc<MatchResult<T>>>,
    capacity: usize,
    /// First-miss filter (see the module docs); empty when disabled.
    seen: Box<[u64]>,
    /// Subjects marked in `seen` since it was last cleared.
    seen_marks: usize,
}

impl<T> MatchCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: HashMap::new(),
            capacity,
            seen: if capacity == 0 {
                Box::default()
            } else {
                vec![0; SEEN_BITS / 64].into_boxed_slice()
            },
            seen_marks: 0,
        }
    }

    pub(crate) fn get(&self, subject: &str) -> Option<Arc<MatchResult<T>>> {
        self.map.get(subject).cloned()
    }

    pub(crate) fn insert(&mut self, subject: &str, result: Arc<MatchResult<T>>) {
        if self.capacity == 0 {
            return;
        }
        if let Some(slot) = self.map.get_mut(subject) {
            *slot = result;
            return;
        }
        if !self.seen_before(subject) {
            return;
        }
        if self.map.len() >= self.capacity {
            // Evict an arbitrary quarter (hash order is randomized per map).
            let evict = (self.capacity / 4).max(1);
            let mut seen = 0usize;
            self.map.retain(|_, _| {
                seen += 1;
                seen > evict
            });
        }
        self.map.insert(subject.into(), result);
    }

    /// Whether `subject` missed before (since the filter was last cleared); marks it
    /// otherwise.
    fn seen_before(&mut self, subject: &str) -> bool {
        let h = self.map.hasher().hash_one(subject);
        let bits = [
            h as usize & (SEEN_BITS - 1),
            (h >> 32) as usize & (SEEN_BITS - 1),
        ];
        let is_set =
            |seen: &[u64], b: usize| seen.get(b / 64).is_some_and(|w| w & (1 << (b % 64)) != 0);
        if bits.iter().all(|b| is_set(&self.seen, *b)) {
            return true;
        }
        if self.seen_marks >= SEEN_RESET {
            self.seen.fill(0);
            self.seen_marks = 0;
        }
        for b in bits {
            if let Some(w) = self.seen.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
        self.seen_marks += 1;
        false
    }

    /// Drops every cached subject matched by the pattern `changed`.
    pub(crate) fn invalidate(&mut self, changed: &str) {
        if self.map.is_empty() {
            return;
        }
        if subject::is_literal(changed) {
            self.map.remove(changed);
        } else {
            self.map
                .retain(|cached, _| !subject::matches(changed, cached));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Largest and total fanout over the cached results.
    pub(crate) fn fanout(&self) -> (usize, usize) {
        self.map.values().fold((0, 0), |(max, total), r| {
            let n = r.len();
            (max.max(n), total + n)
        })
    }
}
