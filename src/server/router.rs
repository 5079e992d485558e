//! Fan-out of one published message to the subscriptions that matched it.
//!
//! PERF-CRITICAL: runs for every published message. No allocation here: the match
//! result comes from a cache, payloads are copied straight into each subscriber's
//! outbound buffer, and writers are woken once per read batch through a [`FlushSet`].
//! No info-level logging per message.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::protocol::encode;
use crate::sublist::MatchResult;

use crate::cluster::{forward, Forwards};

use super::client::{ClientHandle, ClientKind, CloseReason};
use super::outbound::{FlushSet, PushError};
use super::stats::ServerStats;
use super::subscription::SubRef;

/// A message on its way to subscribers. All parts borrow from the publisher's input.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The NATS/1.0 header block, if the message has one.
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

impl Message<'_> {
    /// Size counted in statistics: headers plus payload.
    pub fn size(&self) -> usize {
        self.headers.map_or(0, |h| h.len()) + self.payload.len()
    }
}

/// Where deliveries are counted and writers remembered for waking.
pub struct DeliveryCtx<'a> {
    pub stats: &'a ServerStats,
    pub flush: &'a mut FlushSet<Arc<ClientHandle>>,
    /// The publishing connection's id and whether it wants its own messages back.
    pub publisher: Option<(u64, bool)>,
    pub out_msgs: u64,
    pub out_bytes: u64,
    /// When set, the subject the message was routed by (a JetStream delivery shows
    /// the stored message's subject but goes to a deliver subject or pull inbox).
    pub deliver: Option<&'a [u8]>,
}

/// Delivers `msg` to every plain subscription and one member of each queue group.
/// Routes with matching interest get one frame each (see `cluster::forward`); a queue
/// group goes to a route only when it has no local member that takes the message.
pub fn deliver(result: &MatchResult<SubRef>, msg: &Message<'_>, ctx: &mut DeliveryCtx<'_>) {
    let mut routes = Forwards::default();
    for sub in &result.plain {
        if sub.client.kind == ClientKind::Route {
            routes.plain(sub);
            continue;
        }
        if echo_suppressed(sub, ctx) {
            continue;
        }
        deliver_to(sub, msg, ctx);
    }
    for group in &result.queues {
        let n = group.members.len();
        if n == 0 {
            continue;
        }
        let start = fastrand::usize(..n);
        let mut delivered = false;
        for i in 0..n {
            let sub = &group.members[(start + i) % n];
            if sub.client.kind == ClientKind::Route
                || sub.is_removed()
                || sub.client.close.is_cancelled()
                || echo_suppressed(sub, ctx)
            {
                continue;
            }
            if deliver_to(sub, msg, ctx) {
                delivered = true;
                break;
            }
        }
        if !delivered {
            if let Some(sub) = forward::pick_route(&group.members) {
                routes.queue(sub, &group.name);
            }
        }
    }
    if !routes.is_empty() {
        routes.send(msg, ctx);
    }
}

#[inline]
fn echo_suppressed(sub: &SubRef, ctx: &DeliveryCtx<'_>) -> bool {
    matches!(ctx.publisher, Some((cid, false)) if cid == sub.client.cid)
}

/// Delivers to one subscription; false if it could not take the message.
pub fn deliver_to(sub: &SubRef, msg: &Message<'_>, ctx: &mut DeliveryCtx<'_>) -> bool {
    if sub.is_removed() {
        return false;
    }
    let max = sub.max.load(Ordering::Relaxed);
    let n = sub.delivered.fetch_add(1, Ordering::AcqRel) + 1;
    if max > 0 && n > max {
        return false;
    }
    let client = &sub.client;
    if let Some(sink) = &client.internal {
        return deliver_internal(sub, sink, msg, ctx, max, n);
    }
    let with_headers = client.headers.load(Ordering::Relaxed);
    let res = client.out.push(|out| match msg.headers {
        Some(h) if with_headers => {
            encode::hmsg(out, msg.subject, &sub.sid, msg.reply, h, msg.payload)
        }
        _ => encode::msg(out, msg.subject, &sub.sid, msg.reply, msg.payload),
    });
    match res {
        Ok(()) => {
            if let (Some(reply), Some(t)) = (msg.reply, client.replies.get()) {
                t.record(reply);
            }
            let size = if with_headers {
                msg.size()
            } else {
                msg.payload.len()
            } as u64;
            client.stats.add_out(1, size);
            ctx.out_msgs += 1;
            ctx.out_bytes += size;
            ctx.flush.add(client);
        }
        Err(PushError::Closed) => return false,
        Err(PushError::SlowConsumer) => {
            ctx.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
            ctx.stats
                .slow_consumers_clients
                .fetch_add(1, Ordering::Relaxed);
            let name = client.meta.lock().name.clone();
            tracing::warn!(cid = client.cid, name = %name, "Slow Consumer Detected: pending bytes over max_pending");
            client.close_with(CloseReason::SlowConsumerPendingBytes);
            return false;
        }
    }
    if max > 0 && n >= max {
        remove_subscription(sub);
    }
    true
}

/// Hands an owned copy of `msg` to an internal service's channel.
fn deliver_internal(
    sub: &SubRef,
    sink: &super::client::InternalSink,
    msg: &Message<'_>,
    ctx: &mut DeliveryCtx<'_>,
    max: u64,
    n: u64,
) -> bool {
    if let (Some(handler), Some(reply)) = (sub.client.inline.get(), msg.reply) {
        if let Some(r) = handler(&sub.sid, msg) {
            let size = msg.size() as u64;
            sub.client.stats.add_out(1, size);
            ctx.out_msgs += 1;
            ctx.out_bytes += size;
            if let Ok(to) = std::str::from_utf8(reply) {
                let result = sub.client.account().sublist.matches(to);
                let answer = Message {
                    subject: reply,
                    reply: None,
                    headers: r.headers.as_deref(),
                    payload: &r.body,
                };
                let saved = ctx.deliver.take();
                deliver(&result, &answer, ctx);
                ctx.deliver = saved;
            }
            if max > 0 && n >= max {
                remove_subscription(sub);
            }
            return true;
        }
    }
    let owned = super::client::InternalMsg {
        subject: String::from_utf8_lossy(msg.subject).into_owned(),
        reply: msg.reply.map(|r| String::from_utf8_lossy(r).into_owned()),
        headers: msg.headers.map(bytes::Bytes::copy_from_slice),
        payload: bytes::Bytes::copy_from_slice(msg.payload),
        sid: bytes::Bytes::copy_from_slice(&sub.sid),
    };
    if sink.try_send(owned).is_err() {
        ctx.stats.internal_dropped.fetch_add(1, Ordering::Relaxed);
        // A service that declared a busy reply refuses the request instead of
        // dropping it silently (e.g. a JetStream publish gets an error PubAck).
        if let (Some(reply), Some(body)) = (msg.reply, sub.client.busy_reply.get()) {
            if let Ok(r) = std::str::from_utf8(reply) {
                let result = sub.client.account().sublist.matches(r);
                let refusal = Message {
                    subject: reply,
                    reply: None,
                    headers: None,
                    payload: body,
                };
                let saved = ctx.deliver.take();
                deliver(&result, &refusal, ctx);
                ctx.deliver = saved;
            }
        }
        tracing::debug!(subject = %String::from_utf8_lossy(msg.subject), "internal queue full, message dropped");
        return false;
    }
    let size = msg.size() as u64;
    sub.client.stats.add_out(1, size);
    ctx.out_msgs += 1;
    ctx.out_bytes += size;
    if max > 0 && n >= max {
        remove_subscription(sub);
    }
    true
}

/// Removes a subscription from its account's sublist and its client's sid table.
pub fn remove_subscription(sub: &SubRef) {
    if sub.removed.swap(true, Ordering::AcqRel) {
        return;
    }
    let account = sub.client.account();
    account
        .sublist
        .remove(&sub.subject, sub.queue.as_deref(), sub);
    if sub.client.kind != ClientKind::Route {
        account
            .interest
            .remove(&account.name, &sub.subject, sub.queue.as_deref());
    }
    let mut subs = sub.client.subs.lock();
    if let Some(cur) = subs.get(&sub.sid) {
        if Arc::ptr_eq(cur, &sub.0) {
            subs.remove(&sub.sid);
        }
    }
}
