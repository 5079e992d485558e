//! Messages across routes: the origin side ([`Forwards`], filled by the router) and the
//! receiving side ([`deliver_local`]).
//!
//! PERF-CRITICAL: [`Forwards`] runs inside `router::deliver` for every message that
//! matches remote interest. It allocates nothing unless a route matched, and writes one
//! frame per route however many of the peer's subscriptions matched.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::server::client::{ClientHandle, CloseReason};
use crate::server::outbound::PushError;
use crate::server::router::{self, DeliveryCtx, Message};
use crate::server::subscription::SubRef;
use crate::sublist::MatchResult;

use super::frame::{encode_msg, MsgParts};

/// The routes one message goes to, with the queue groups each must deliver to.
#[derive(Default)]
pub struct Forwards<'r> {
    entries: Vec<(&'r SubRef, Vec<&'r str>)>,
}

impl<'r> Forwards<'r> {
    fn entry(&mut self, sub: &'r SubRef) -> &mut Vec<&'r str> {
        let i = match self
            .entries
            .iter()
            .position(|(s, _)| Arc::ptr_eq(&s.client, &sub.client))
        {
            Some(i) => i,
            None => {
                self.entries.push((sub, Vec::new()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// A route subscription matched as a plain subscriber.
    pub fn plain(&mut self, sub: &'r SubRef) {
        self.entry(sub);
    }

    /// A route was chosen to deliver to queue group `name`.
    pub fn queue(&mut self, sub: &'r SubRef, name: &'r str) {
        let q = self.entry(sub);
        if !q.contains(&name) {
            q.push(name);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes one frame to each chosen route.
    pub fn send(self, msg: &Message<'_>, ctx: &mut DeliveryCtx<'_>) {
        for (sub, queues) in self.entries {
            let route = &sub.client;
            if route.close.is_cancelled() {
                continue;
            }
            let parts = MsgParts {
                account: &sub.sid,
                subject: msg.subject,
                reply: msg.reply,
                headers: msg.headers,
                payload: msg.payload,
                deliver: ctx.deliver,
            };
            match route.out.push(|b| encode_msg(b, &parts, &queues)) {
                Ok(()) => {
                    let size = msg.size() as u64;
                    route.stats.add_out(1, size);
                    ctx.out_msgs += 1;
                    ctx.out_bytes += size;
                    ctx.flush.add(route);
                }
                Err(PushError::Closed) => {}
                Err(PushError::SlowConsumer) => {
                    ctx.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        rid = route.cid,
                        "Slow Consumer Detected: route pending bytes over the limit, closing route"
                    );
                    route.close_with(CloseReason::SlowConsumerPendingBytes);
                }
            }
        }
    }
}

/// Picks one route member of a queue group, weighted by the number of members the
/// peer reported, if any route has one.
pub fn pick_route(members: &[SubRef]) -> Option<&SubRef> {
    let live =
        |s: &&SubRef| is_route(&s.client) && !s.is_removed() && !s.client.close.is_cancelled();
    let weight = |s: &SubRef| u64::from(s.weight.load(Ordering::Relaxed).max(1));
    let total: u64 = members.iter().filter(live).map(weight).sum();
    if total == 0 {
        return None;
    }
    let mut pick = fastrand::u64(..total);
    for s in members.iter().filter(live) {
        let w = weight(s);
        if pick < w {
            return Some(s);
        }
        pick -= w;
    }
    None
}

#[inline]
pub fn is_route(c: &ClientHandle) -> bool {
    c.kind == crate::server::client::ClientKind::Route
}

/// Delivers a message that arrived from a route to local subscribers only: every plain
/// local subscriber and one local member of each queue group in `queues`. Never
/// forwards to another route.
pub fn deliver_local(
    result: &MatchResult<SubRef>,
    msg: &Message<'_>,
    queues: &[String],
    ctx: &mut DeliveryCtx<'_>,
) {
    for sub in &result.plain {
        if !is_route(&sub.client) {
            router::deliver_to(sub, msg, ctx);
        }
    }
    if queues.is_empty() {
        return;
    }
    for group in &result.queues {
        if !queues.iter().any(|q| **q == *group.name) {
            continue;
        }
        let n = group.members.len();
        if n == 0 {
            continue;
        }
        let start = fastrand::usize(..n);
        for i in 0..n {
            let sub = &group.members[(start + i) % n];
            if is_route(&sub.client) || sub.is_removed() || sub.client.close.is_cancelled() {
                continue;
            }
            if router::deliver_to(sub, msg, ctx) {
                break;
            }
        }
    }
}
