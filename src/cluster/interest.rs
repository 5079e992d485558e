//! Interest: what this node's subscribers want (sent to peers) and what peers'
//! subscribers want (kept in the account sublists as route subscriptions).
//!
//! Local side: each account counts its local subscriptions per (subject, queue) and
//! tells every route the new absolute count when it changes — one frame per distinct
//! (subject, queue), not one per subscriber. Counts are absolute, so a full dump to a
//! new route and a concurrent change never disagree.
//!
//! Remote side: one [`Subscription`] per (route, account, subject, queue), owned by the
//! route's [`ClientHandle`] (kind `Route`), whose `sid` holds the account name. The
//! router sees it in a match result like any subscriber and forwards at most once per
//! route.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::server::account::Account;
use crate::server::client::ClientHandle;
use crate::server::subscription::{SubRef, Subscription};

use super::proto::{frame::Kind, Interest};
use super::Cluster;

type Key = (Box<str>, Option<Box<str>>);

/// Distinct (account, subject, queue) interests one route may carry; more are ignored
/// with a warning, so a peer cannot grow this node's memory without bound.
const MAX_REMOTE_INTEREST: usize = 1_000_000;

/// Local subscriptions of one account, counted for the routes.
#[derive(Default)]
pub struct LocalInterest {
    counts: Mutex<HashMap<Key, u32>>,
    cluster: OnceLock<Arc<Cluster>>,
}

impl LocalInterest {
    /// Connects this account to the cluster; before that, counting is skipped.
    pub(crate) fn attach(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// A local subscription was added.
    pub fn add(&self, account: &str, subject: &str, queue: Option<&str>) {
        self.change(account, subject, queue, true);
    }

    /// A local subscription was removed.
    pub fn remove(&self, account: &str, subject: &str, queue: Option<&str>) {
        self.change(account, subject, queue, false);
    }

    fn change(&self, account: &str, subject: &str, queue: Option<&str>, add: bool) {
        let Some(cluster) = self.cluster.get() else {
            return;
        };
        let mut counts = self.counts.lock();
        let key: Key = (subject.into(), queue.map(Into::into));
        let n = {
            let c = counts.entry(key).or_insert(0);
            *c = if add {
                c.saturating_add(1)
            } else {
                c.saturating_sub(1)
            };
            *c
        };
        if n == 0 {
            counts.remove(&(subject.into(), queue.map(Into::into)));
        }
        // Plain interest only changes on the first add and the last remove; queue
        // weights are re-sent on every change.
        if queue.is_none() && !(n == 0 || (add && n == 1)) {
            return;
        }
        let frame = Interest {
            account: account.to_string(),
            subject: subject.to_string(),
            queue: queue.unwrap_or_default().to_string(),
            count: n,
        };
        // Sent under the counts lock, so peers see changes in order.
        for route in cluster.routes() {
            route.send(Kind::Interest(frame.clone()));
        }
    }

    /// Sends every local interest of this account to one new route.
    pub(crate) fn dump_to(&self, account: &str, route: &super::route::Route) {
        let counts = self.counts.lock();
        for ((subject, queue), n) in counts.iter() {
            route.send(Kind::Interest(Interest {
                account: account.to_string(),
                subject: subject.to_string(),
                queue: queue.as_deref().unwrap_or_default().to_string(),
                count: *n,
            }));
        }
    }
}

/// (account, subject, queue or empty).
type RemoteKey = (String, String, String);

/// A route's view of its peer's interest: the subscriptions it inserted, with the
/// peer's member count (queue weight).
#[derive(Default)]
pub(crate) struct RemoteInterest {
    subs: Mutex<HashMap<RemoteKey, (Arc<Subscription>, u32)>>,
}

impl RemoteInterest {
    /// Applies one interest frame from the peer. Unknown accounts are ignored.
    pub(crate) fn apply(&self, handle: &Arc<ClientHandle>, account: &Arc<Account>, i: Interest) {
        let queue = (!i.queue.is_empty()).then_some(i.queue.as_str());
        let key = (i.account.clone(), i.subject.clone(), i.queue.clone());
        let mut subs = self.subs.lock();
        if i.count == 0 {
            if let Some((sub, _)) = subs.remove(&key) {
                remove(account, &sub);
            }
            return;
        }
        if let Some(e) = subs.get_mut(&key) {
            e.1 = i.count;
            e.0.weight.store(i.count, Ordering::Relaxed);
            return;
        }
        if subs.len() >= MAX_REMOTE_INTEREST {
            tracing::warn!(
                limit = MAX_REMOTE_INTEREST,
                subject = %i.subject,
                "peer interest over the limit, ignoring it"
            );
            return;
        }
        let sub = Arc::new(Subscription::new(
            handle.clone(),
            &i.subject,
            queue,
            i.account.as_bytes(),
        ));
        sub.weight.store(i.count, Ordering::Relaxed);
        if account
            .sublist
            .insert(&i.subject, queue, SubRef(sub.clone()))
            .is_err()
        {
            tracing::debug!(subject = %i.subject, "ignoring invalid remote interest");
            return;
        }
        subs.insert(key, (sub, i.count));
    }

    /// Removes every subscription this route inserted (the route closed).
    pub(crate) fn clear(&self, accounts: &crate::server::account::Accounts) {
        let all: Vec<_> = self.subs.lock().drain().collect();
        for ((acc, _, _), (sub, _)) in all {
            if let Some(a) = accounts.get(&acc) {
                remove(a, &sub);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.subs.lock().len()
    }

    /// (account, subject, queue) of every remote subscription, for /routez?subs=1.
    pub(crate) fn list(&self) -> Vec<(String, String, String)> {
        let mut v: Vec<_> = self.subs.lock().keys().cloned().collect();
        v.sort();
        v
    }
}

fn remove(account: &Account, sub: &Arc<Subscription>) {
    sub.removed
        .store(true, std::sync::atomic::Ordering::Release);
    account
        .sublist
        .remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
}
