//! A subscription: what a SUB created, and the handle the sublist stores.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::client::ClientHandle;

/// One client subscription.
pub struct Subscription {
    pub client: Arc<ClientHandle>,
    pub subject: Box<str>,
    pub queue: Option<Box<str>>,
    pub sid: Box<[u8]>,
    /// Auto-unsubscribe after this many deliveries (0 = never).
    pub max: AtomicU64,
    pub delivered: AtomicU64,
    pub removed: AtomicBool,
    /// For a route's queue subscription: the peer's member count (queue weight).
    pub weight: AtomicU32,
}

impl Subscription {
    pub fn new(client: Arc<ClientHandle>, subject: &str, queue: Option<&str>, sid: &[u8]) -> Self {
        Subscription {
            client,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: sid.into(),
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            removed: AtomicBool::new(false),
            weight: AtomicU32::new(1),
        }
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }
}

/// The sublist's handle for a subscription: compared and hashed by identity.
#[derive(Clone)]
pub struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SubRef {}

impl Hash for SubRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

impl std::ops::Deref for SubRef {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.0
    }
}
