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
//! Invariants:
//! * `map.len() <= capacity`; when full, an arbitrary quarter of the
//!   entries is evicted before inserting.
//! * A lookup clones an `Arc` and never allocates.
//! * `capacity == 0` means disabled: nothing is ever stored.

use std::collections::HashMap;
use std::sync::Arc;

use super::result::MatchResult;
use crate::subject;

pub(crate) struct MatchCache<T> {
    map: HashMap<Box<str>, Arc<MatchResult<T>>>,
    capacity: usize,
}

impl<T> MatchCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: HashMap::new(),
            capacity,
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
