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
//! Admission: a subject is cached on its second miss within a short
//! window, not its first. Subjects that are published once (reply inboxes,
//! `$JS.ACK` subjects: one per message) would otherwise cost an insert and
//! churn the cache out of the results that do repeat. A direct-mapped table
//! of subject hashes ([`SEEN_SLOTS`]) remembers the first miss; it holds no
//! results, so it cannot go stale.
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

/// Slots of the first-miss table (a power of two).
const SEEN_SLOTS: usize = 4096;

pub(crate) struct MatchCache<T> {
    map: HashMap<Box<str>, Arc<MatchResult<T>>>,
    capacity: usize,
    /// Hashes of subjects that missed once (see the module docs); empty when disabled.
    seen: Box<[u64]>,
}

impl<T> MatchCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: HashMap::new(),
            capacity,
            seen: if capacity == 0 {
                Box::default()
            } else {
                vec![0; SEEN_SLOTS].into_boxed_slice()
            },
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
        // Admit on the second miss only.
        let h = self.map.hasher().hash_one(subject) | 1;
        let slot = (h as usize) & (SEEN_SLOTS - 1);
        if let Some(seen) = self.seen.get_mut(slot) {
            if *seen != h {
                *seen = h;
                return;
            }
            *seen = 0;
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
