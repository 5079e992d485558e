//! The subscription index: which subscribers are interested in a subject.
//!
//! # What this module owns
//! [`Sublist`], a thread-safe trie of subscriptions keyed by subject token
//! (like nats-server's sublist), with a bounded cache of match results.
//! Subscribers are opaque values `T` (connection/subscription handles);
//! queue groups are tracked by name.
//!
//! # What it must not touch
//! No sockets or I/O, no auth or permissions, no JetStream or stream
//! knowledge, no delivery policy (picking a queue member, deduplicating,
//! routing). Subject syntax comes from `crate::subject` only.
//!
//! # Invariants
//! * A subscription is the triple `(subject, queue, item)`; inserting the
//!   same triple twice stores it once. The same item under two different
//!   subjects or queues is two subscriptions, and a match reports it once
//!   per matching subscription.
//! * Insert and remove cost O(tokens) plus O(1) amortized at the node, even
//!   with 100k subscribers on one subject. Removing prunes empty nodes.
//! * `matches` is always consistent with every `insert`/`remove` that has
//!   returned: mutations hold the trie write lock while they update the trie
//!   and invalidate the cache (policy in `cache.rs`), and a cache
//!   miss stores its result while still holding the trie read lock. Lock
//!   order is trie, then cache; a cache hit takes only the cache's read
//!   lock, clones an `Arc` and does not allocate.
//! * `genid` increases after every insert or remove that changed the set of
//!   subscriptions, once the change is visible to `matches`.
//! * A receiver from [`Sublist::watch_inserts`] sees a change after every insert
//!   that added a subscription, once the subscription is visible to `matches`
//!   (so a waiter that subscribed before checking `has_interest` misses none).
//!   Without receivers an insert pays one atomic load for this.
//! * No method panics on any input: bad subjects and queue names give
//!   `Err`, `false` or an empty result.

mod cache;
mod children;
mod error;
mod members;
mod node;
mod result;
mod stats;

#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::subject;
use cache::MatchCache;
use node::Node;

pub use error::SublistError;
pub use result::{MatchResult, QueueGroup};
pub use stats::SublistStats;

/// Default number of cached match results.
pub const DEFAULT_CACHE_SIZE: usize = 1024;

/// Thread-safe subscription trie with a match cache. See the module docs.
pub struct Sublist<T> {
    trie: RwLock<Node<T>>,
    cache: RwLock<MatchCache<T>>,
    empty: Arc<MatchResult<T>>,
    genid: AtomicU64,
    /// Bumped after inserts while someone watches (see [`Sublist::watch_inserts`]).
    inserted: watch::Sender<u64>,
    count: AtomicUsize,
    inserts: AtomicU64,
    removes: AtomicU64,
    matches: AtomicU64,
    cache_hits: AtomicU64,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sublist")
            .field("count", &self.count.load(Ordering::Relaxed))
            .field("genid", &self.genid.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Sublist<T> {
    /// An empty sublist with a match cache of [`DEFAULT_CACHE_SIZE`].
    pub fn new() -> Self {
        Self::with_cache_size(DEFAULT_CACHE_SIZE)
    }

    /// An empty sublist without a match cache.
    pub fn without_cache() -> Self {
        Self::with_cache_size(0)
    }

    /// An empty sublist caching up to `size` match results (0 disables).
    pub fn with_cache_size(size: usize) -> Self {
        Sublist {
            trie: RwLock::new(Node::default()),
            cache: RwLock::new(MatchCache::new(size)),
            empty: Arc::new(MatchResult::default()),
            genid: AtomicU64::new(0),
            inserted: watch::Sender::new(0),
            count: AtomicUsize::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            matches: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    /// Adds the subscription `(subject, queue, item)`. Wildcards are
    /// allowed in `subject`. Adding an existing subscription is a no-op.
    pub fn insert(&self, subject: &str, queue: Option<&str>, item: T) -> Result<(), SublistError> {
        if !subject::is_valid_subject(subject) {
            return Err(SublistError::InvalidSubject);
        }
        if queue.is_some_and(|q| !subject::is_valid_queue(q)) {
            return Err(SublistError::InvalidQueue);
        }
        let mut trie = self.trie.write();
        if !trie.insert(subject, queue, item) {
            return Ok(());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.cache.write().invalidate(subject);
        self.genid.fetch_add(1, Ordering::Release);
        drop(trie);
        if self.inserted.receiver_count() > 0 {
            self.inserted.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }

    /// A receiver that changes after every later insert that added a subscription
    /// (e.g. to wait for interest in a subject: take the receiver, check
    /// `has_interest`, then await `changed()`). Removals do not show.
    pub fn watch_inserts(&self) -> watch::Receiver<u64> {
        self.inserted.subscribe()
    }

    /// Removes the subscription `(subject, queue, item)`; `true` if it
    /// existed.
    pub fn remove(&self, subject: &str, queue: Option<&str>, item: &T) -> bool {
        if !subject::is_valid_subject(subject) {
            return false;
        }
        let mut trie = self.trie.write();
        if !trie.remove(subject, queue, item) {
            return false;
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.removes.fetch_add(1, Ordering::Relaxed);
        self.cache.write().invalidate(subject);
        self.genid.fetch_add(1, Ordering::Release);
        true
    }

    /// Every subscription matching the published subject `subject`.
    ///
    /// `subject` should be literal; wildcard characters in it are matched
    /// as ordinary tokens (as nats-server does). An invalid subject matches
    /// nothing.
    pub fn matches(&self, subject: &str) -> Arc<MatchResult<T>> {
        self.matches.fetch_add(1, Ordering::Relaxed);
        if let Some(hit) = self.cache.read().get(subject) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return hit;
        }
        if !subject::is_valid_subject(subject) {
            return Arc::clone(&self.empty);
        }
        let trie = self.trie.read();
        let mut result = MatchResult::default();
        trie.match_into(subject, &mut result);
        let result = if result.is_empty() {
            Arc::clone(&self.empty)
        } else {
            Arc::new(result)
        };
        // Still under the trie read lock: no mutation can slip in between
        // computing the result and caching it.
        self.cache.write().insert(subject, Arc::clone(&result));
        drop(trie);
        result
    }

    /// Whether any subscription matches `subject` (cheaper than `matches`
    /// on a cache miss: stops at the first subscriber, builds nothing).
    pub fn has_interest(&self, subject: &str) -> bool {
        if let Some(hit) = self.cache.read().get(subject) {
            return !hit.is_empty();
        }
        if !subject::is_valid_subject(subject) {
            return false;
        }
        self.trie.read().has_interest(subject)
    }

    /// Generation number, bumped by every insert/remove that changed the
    /// subscriptions. Lets callers validate their own caches of matches.
    pub fn genid(&self) -> u64 {
        self.genid.load(Ordering::Acquire)
    }

    /// Number of subscriptions.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Counters for monitoring.
    pub fn stats(&self) -> SublistStats {
        let (num_cache, (max_fanout, total_fanout)) = {
            let cache = self.cache.read();
            (cache.len(), cache.fanout())
        };
        let num_matches = self.matches.load(Ordering::Relaxed);
        let hits = self.cache_hits.load(Ordering::Relaxed);
        SublistStats {
            num_subscriptions: self.count(),
            num_cache,
            num_inserts: self.inserts.load(Ordering::Relaxed),
            num_removes: self.removes.load(Ordering::Relaxed),
            num_matches,
            cache_hit_rate: if num_matches == 0 {
                0.0
            } else {
                hits as f64 / num_matches as f64
            },
            max_fanout,
            avg_fanout: if num_cache == 0 {
                0.0
            } else {
                total_fanout as f64 / num_cache as f64
            },
        }
    }

    /// Every subscription as `(subject, queue, item)`, in no particular
    /// order (for monitoring).
    pub fn all(&self) -> Vec<(String, Option<String>, T)> {
        let mut out = Vec::with_capacity(self.count());
        self.trie.read().collect_all(&mut out);
        out
    }
}
