//! [`MatchResult`]: the subscribers interested in one published subject.
//!
//! Invariants:
//! * `plain` and each group's `members` are multisets: an item subscribed
//!   under two different matching patterns (say `foo.*` and `foo.>`) appears
//!   twice, once per subscription. Deduplicating deliveries is the caller's
//!   business.
//! * `queues` holds at most one [`QueueGroup`] per name (members of the same
//!   group found at different trie nodes are merged) and never an empty
//!   group.
//! * Order inside `plain`, `queues` and `members` is unspecified.

use std::sync::Arc;

/// Subscribers of one queue group that match a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup<T> {
    /// Queue group name.
    pub name: Arc<str>,
    /// Matching members of the group (deliver to one of them).
    pub members: Vec<T>,
}

/// Result of [`Sublist::matches`](super::Sublist::matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult<T> {
    /// Plain (non-queue) subscribers: deliver to each.
    pub plain: Vec<T>,
    /// Queue groups with at least one matching member.
    pub queues: Vec<QueueGroup<T>>,
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> MatchResult<T> {
    /// No subscriber at all.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.iter().all(|g| g.members.is_empty())
    }

    /// Number of plain subscribers plus all queue members.
    pub fn len(&self) -> usize {
        self.plain.len() + self.queues.iter().map(|g| g.members.len()).sum::<usize>()
    }
}

impl<T: Clone> MatchResult<T> {
    /// Appends the plain subscribers of one trie node.
    pub(crate) fn add_plain(&mut self, items: &[T]) {
        self.plain.extend_from_slice(items);
    }

    /// Appends the members of queue group `name` found at one trie node,
    /// merging with an existing group of the same name.
    pub(crate) fn add_queue(&mut self, name: &Arc<str>, items: &[T]) {
        if items.is_empty() {
            return;
        }
        match self
            .queues
            .iter_mut()
            .find(|g| Arc::ptr_eq(&g.name, name) || g.name == *name)
        {
            Some(group) => group.members.extend_from_slice(items),
            None => self.queues.push(QueueGroup {
                name: Arc::clone(name),
                members: items.to_vec(),
            }),
        }
    }
}
