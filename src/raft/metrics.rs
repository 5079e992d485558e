//! [`LeaderChanges`]: how many times a group's leader changed, as this node saw it.
//!
//! One small task per group follows openraft's *server* metrics (vote, state, leader,
//! membership: they change on elections, not on every append or apply), so it wakes
//! only when one of those changes. It ends when the group's Raft shuts down (the
//! sender goes away). Owns only the counter; reads nothing else of the group.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::types::{NodeId, Raft};

/// Leader changes observed for one group (cheap to clone).
#[derive(Clone, Default)]
pub struct LeaderChanges(Arc<AtomicU64>);

impl LeaderChanges {
    /// Starts counting for `raft` (call once per group, inside the runtime).
    /// A change is the known leader becoming `Some(x)` with `x` different from the
    /// last leader this node knew (so the first election counts, and losing the
    /// leader for a moment and finding the same one again does not).
    pub fn watch(raft: &Raft) -> LeaderChanges {
        let counter = LeaderChanges::default();
        let mut rx = raft.server_metrics();
        let mut last: Option<NodeId> = rx.borrow().current_leader;
        if last.is_some() {
            counter.0.fetch_add(1, Ordering::Relaxed);
        }
        let c = counter.0.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let now = rx.borrow_and_update().current_leader;
                if now.is_some() && now != last {
                    c.fetch_add(1, Ordering::Relaxed);
                    last = now;
                }
            }
        });
        counter
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
