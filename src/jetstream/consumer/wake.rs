//! What wakes a consumer's task, besides its inbound queue and [`Consumer::wake`]:
//! the earliest timer due ([`next_due`]) and, while a push consumer's deliver subject
//! has no subscriber, the account's new subscriptions ([`watch_interest`]).
//!
//! Owns nothing: it reads the consumer's core, and the subscription watch lives in the
//! task. Must not deliver, ack or change the consumer's state; its timers are only for
//! what is time-based (no polling for work).

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::runner::PERSIST_EVERY;
use super::Consumer;

/// A bound push consumer with an inactive_threshold checks that its subscriber is
/// still there this many times per threshold (so it goes at most an eighth late).
const INACTIVE_CHECKS: u32 = 8;
/// Shortest interval between those checks.
const INACTIVE_CHECK_MIN: Duration = Duration::from_millis(10);

/// Sleeps until `t`, or forever without one.
pub(super) async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Resolves when a subscription was added to the account since the watch began (or
/// its last change was seen); never without a watch.
pub(super) async fn subscription_added(watch: &mut Option<watch::Receiver<u64>>) {
    match watch {
        Some(rx) => {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Keeps a watch on the account's new subscriptions while a push consumer's deliver
/// subject has no subscriber (async-nats subscribes only after creating the consumer),
/// and drops it once bound.
pub(super) fn watch_interest(c: &Consumer, watch: &mut Option<watch::Receiver<u64>>) {
    let unbound = {
        let core = c.core.lock();
        core.config.is_push() && !core.bound
    };
    if !unbound {
        *watch = None;
        return;
    }
    if watch.is_some() {
        return;
    }
    let sublist = &c.stream.account.sublist;
    *watch = Some(sublist.watch_inserts());
    // A subscriber that came after the delivery pass looked, but before the watch.
    let deliver = c.core.lock().config.deliver_subject.clone();
    if deliver.is_some_and(|d| sublist.has_interest(&d)) {
        c.wake.notify_one();
    }
}

/// The earliest moment something is due: a redelivery, a pull request's expiry or
/// heartbeat, a push heartbeat, a deferred persist, a replay pause, an inactivity
/// check. (Redeliveries already due wait for a target: a pull request or a
/// subscriber, which wake the task.)
pub(super) fn next_due(c: &Consumer, now: Instant) -> Option<Instant> {
    let core = c.core.lock();
    let mut due: Option<Instant> = None;
    let mut at = |t: Instant| due = Some(due.map_or(t, |d: Instant| d.min(t)));
    if let Some((t, _)) = core.deadlines.first() {
        at(*t);
    }
    for w in &core.waiting {
        at(w.expires);
        if let Some(h) = w.next_heartbeat {
            at(h);
        }
    }
    let threshold = Duration::from_nanos(core.config.inactive_threshold.max(0) as u64);
    if core.config.is_push() {
        if core.config.idle_heartbeat > 0 {
            at(core.last_send + Duration::from_nanos(core.config.idle_heartbeat as u64));
        }
        if core.bound && !threshold.is_zero() {
            // Nothing reports a subscriber leaving: look now and then, so that the
            // threshold counts from about when it left.
            at(now + (threshold / INACTIVE_CHECKS).max(INACTIVE_CHECK_MIN));
        }
    }
    if core.dirty {
        at(core.last_persist + PERSIST_EVERY);
    }
    if let Some(t) = core.replay_wait {
        at(t);
    }
    if !threshold.is_zero() {
        at(core.last_activity + threshold);
    }
    due
}
