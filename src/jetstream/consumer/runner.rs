//! The task of one consumer: takes acks, pull requests and flow-control replies from
//! its inbound queue, fires redelivery, heartbeat and expiry timers, delivers
//! messages (push or pull), hands acknowledged sequences to the stream for retention
//! and persists the state (at most every [`PERSIST_EVERY`], at once when a client
//! waits for an ack to be confirmed).
//!
//! The task sleeps until something can be delivered or something is due; it never
//! polls for work. It is woken by its inbound queue (acks, which may free
//! max_ack_pending, pull requests, flow-control replies), by [`Consumer::wake`] (the
//! stream's newly durable messages, a new or changed consumer, pruning) and, while a
//! push consumer's deliver subject has no subscriber, by new subscriptions in the
//! account. Timers are only for what is time-based: redelivery after ack_wait or a
//! delayed nak, pull request expiry and heartbeats, push idle heartbeats, replay
//! pacing, deferred persisting and inactive_threshold (see `wake.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::jetstream::msgstore::{MsgStore, StoredMsg};
use crate::jetstream::stream::{now_ns, Stream};
use crate::server::client::InternalMsg;
use crate::server::router::Message;
use crate::server::ServerShared;

use super::advisory;
use super::config::{AckPolicy, ReplayPolicy};
use super::pull::{self, PullRequest};
use super::state::{ConsumerOp, ConsumerOpResult};
use super::wake::{next_due, sleep_until, subscription_added, watch_interest};
use super::{Consumer, ConsumerCore};

pub const SID_ACK: &str = "ack";
pub const SID_FC: &str = "fc";
pub const SID_NEXT: &str = "next";

/// How often a changed state is written when nobody waits for it.
pub(super) const PERSIST_EVERY: Duration = Duration::from_millis(100);
/// Bytes a push consumer with flow control sends before asking for a reply.
const FC_WINDOW: u64 = 256 * 1024;
/// Messages delivered per pass before other work gets a turn.
const DELIVER_BATCH: usize = 256;
/// Inbound messages taken per pass.
const INBOUND_BATCH: usize = 256;

/// Runs until the consumer is stopped or deleted.
pub async fn run(server: Arc<ServerShared>, c: Arc<Consumer>, mut rx: mpsc::Receiver<InternalMsg>) {
    let mut inbound: Vec<InternalMsg> = Vec::with_capacity(INBOUND_BATCH);
    let mut confirm: Vec<String> = Vec::new();
    let mut acked: Vec<u64> = Vec::new();
    let mut interest: Option<watch::Receiver<u64>> = None;
    loop {
        let due = next_due(&c, Instant::now());
        tokio::select! {
            _ = c.stop.cancelled() => break,
            n = rx.recv_many(&mut inbound, INBOUND_BATCH) => {
                if n == 0 {
                    break;
                }
                for m in inbound.drain(..) {
                    on_inbound(&server, &c, m, &mut confirm, &mut acked);
                }
            }
            _ = c.wake.notified() => {}
            _ = subscription_added(&mut interest) => {}
            _ = sleep_until(due) => {}
        }
        let now = Instant::now();
        on_timers(&server, &c, now);
        deliver(&server, &c, now, &mut acked);
        watch_interest(&c, &mut interest);
        if !acked.is_empty() {
            let removals = c.stream.retention_removals(&c.name, &acked);
            acked.clear();
            if confirm.is_empty() {
                c.stream.propose_background(removals);
            } else if let Err(e) = c.stream.propose_removals(removals).await {
                // A double ack waits for the removals it caused to be committed.
                debug!(error = %e, "retention removals not committed");
            }
        }
        let (dirty, since) = {
            let core = c.core.lock();
            (core.dirty, now.duration_since(core.last_persist))
        };
        if dirty && (!confirm.is_empty() || since >= PERSIST_EVERY) {
            if let Err(e) = c.persist() {
                warn!(error = %e, "consumer state not persisted");
            }
        }
        if !confirm.is_empty() {
            // A double ack is confirmed only once the ack is durable.
            if !c.is_memory() {
                let _ = c.stream.sync().await;
            }
            for r in confirm.drain(..) {
                server.publish(
                    &c.stream.account,
                    &Message {
                        subject: r.as_bytes(),
                        reply: None,
                        headers: None,
                        payload: b"",
                    },
                );
            }
        }
        if inactive_for_too_long(&server, &c, now) {
            debug!("consumer inactive past its threshold; deleting");
            c.stream.delete_consumer(&server, &c.name);
            return;
        }
    }
    if c.core.lock().dirty {
        let _ = c.persist();
    }
}

fn on_inbound(
    server: &ServerShared,
    c: &Consumer,
    m: InternalMsg,
    confirm: &mut Vec<String>,
    acked: &mut Vec<u64>,
) {
    let now = Instant::now();
    if m.sid.as_ref() == SID_NEXT.as_bytes()
        || m.subject.starts_with("$JS.API.")
        || m.subject.contains(".API.CONSUMER.MSG.NEXT.")
    {
        if let Some(reply) = m.reply.as_deref() {
            on_pull_request(server, c, reply, &m.payload, now);
        }
        return;
    }
    if m.sid.as_ref() == SID_FC.as_bytes() {
        let mut core = c.core.lock();
        if core.fc_pending.as_deref() == Some(m.subject.as_str()) {
            core.fc_pending = None;
        }
        core.last_activity = now;
        drop(core);
        c.wake.notify_one();
        return;
    }
    on_ack(server, c, &m, now, confirm, acked);
}

fn on_pull_request(server: &ServerShared, c: &Consumer, reply: &str, body: &[u8], now: Instant) {
    let mut core = c.core.lock();
    core.last_activity = now;
    let refuse = |line: &str| {
        server.publish(
            &c.stream.account,
            &Message {
                subject: reply.as_bytes(),
                reply: None,
                headers: Some(&pull::status(line, &[])),
                payload: b"",
            },
        );
    };
    if core.config.is_push() {
        drop(core);
        refuse("409 Consumer is push based");
        return;
    }
    let req = match PullRequest::parse(reply, body, &core.config, now) {
        Ok(r) => r,
        Err(pull::Refusal(line)) => {
            drop(core);
            refuse(&line);
            return;
        }
    };
    let max_waiting = core.config.max_waiting.max(1) as usize;
    if core.waiting.len() >= max_waiting {
        // The oldest request makes room only if it already expired.
        core.waiting.retain(|w| w.expires > now);
        if core.waiting.len() >= max_waiting {
            drop(core);
            refuse("409 Exceeded MaxWaiting");
            return;
        }
    }
    core.waiting.push_back(req);
    drop(core);
    c.wake.notify_one();
}

/// The ack kinds a client may publish to a `$JS.ACK` subject.
enum AckKind {
    Ack,
    Nak(Option<Duration>),
    Progress,
    Next,
    Term,
}

fn parse_ack(body: &[u8]) -> AckKind {
    let b = body.trim_ascii();
    if b.is_empty() || b == b"+ACK" || b == b"+OK" {
        return AckKind::Ack;
    }
    if b.starts_with(b"-NAK") {
        let rest = b[4..].trim_ascii();
        let delay = if rest.is_empty() {
            None
        } else if let Ok(v) = serde_json::from_slice::<serde_json::Value>(rest) {
            v.get("delay")
                .and_then(|d| d.as_i64())
                .filter(|d| *d > 0)
                .map(|d| Duration::from_nanos(d as u64))
        } else {
            std::str::from_utf8(rest)
                .ok()
                .and_then(crate::config::parse_go_duration)
        };
        return AckKind::Nak(delay);
    }
    if b.starts_with(b"+WPI") {
        return AckKind::Progress;
    }
    if b.starts_with(b"+NXT") {
        return AckKind::Next;
    }
    if b.starts_with(b"+TERM") {
        return AckKind::Term;
    }
    AckKind::Ack
}

fn on_ack(
    server: &ServerShared,
    c: &Consumer,
    m: &InternalMsg,
    now: Instant,
    confirm: &mut Vec<String>,
    acked: &mut Vec<u64>,
) {
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
    let mut tokens = m.subject.split('.');
    let Some(sseq) = tokens.nth(5).and_then(|t| t.parse::<u64>().ok()) else {
        return;
    };
    if tokens.count() < 3 {
        return;
    }
    let kind = parse_ack(&m.payload);
    let mut core = c.core.lock();
    core.last_activity = now;
    let ts = now_ns();
    let ack = |core: &mut ConsumerCore, acked: &mut Vec<u64>| {
        if let ConsumerOpResult::Acked(seqs) = core.apply(ConsumerOp::Ack { sseq, ts }) {
            for s in &seqs {
                core.clear_deadline(*s);
            }
            acked.extend(seqs);
        }
    };
    let mut next_request = false;
    match kind {
        AckKind::Ack | AckKind::Term => ack(&mut core, acked),
        AckKind::Next => {
            ack(&mut core, acked);
            next_request = true;
        }
        AckKind::Progress => {
            if core.state.pending.contains_key(&sseq) {
                let wait = core.ack_wait_for(core.state.deliveries(sseq));
                core.set_deadline(sseq, now + wait);
            }
        }
        AckKind::Nak(delay) => {
            if core.state.pending.contains_key(&sseq) {
                let delay = delay.or_else(|| {
                    (!core.config.backoff.is_empty())
                        .then(|| core.ack_wait_for(core.state.deliveries(sseq)))
                });
                match delay {
                    Some(d) => core.set_deadline(sseq, now + d),
                    None => {
                        core.clear_deadline(sseq);
                        core.rdq.insert(sseq);
                    }
                }
            }
        }
    }
    if let AckKind::Term = kind {
        advisory::terminated(server, &c.stream, &c.name, sseq);
    }
    drop(core);
    if next_request {
        if let Some(reply) = m.reply.as_deref() {
            let body = m.payload.trim_ascii();
            let rest = body.get(4..).unwrap_or_default();
            on_pull_request(server, c, reply, rest, now);
        }
    } else if let Some(r) = &m.reply {
        confirm.push(r.clone());
    }
    c.wake.notify_one();
}

/// Moves due redeliveries to the redelivery queue, expires pull requests and sends
/// heartbeats.
fn on_timers(server: &ServerShared, c: &Consumer, now: Instant) {
    let mut statuses: Vec<(String, Vec<u8>)> = Vec::new();
    let mut push_hb: Option<(String, Vec<u8>)> = None;
    {
        let mut core = c.core.lock();
        while let Some((t, sseq)) = core.deadlines.first().copied() {
            if t > now {
                break;
            }
            core.deadlines.pop_first();
            core.deadline_of.remove(&sseq);
            if core.state.pending.contains_key(&sseq) {
                core.rdq.insert(sseq);
            }
        }
        // Pull requests: expiry (408) and heartbeats.
        let mut keep = std::collections::VecDeque::with_capacity(core.waiting.len());
        while let Some(mut w) = core.waiting.pop_front() {
            if w.expires <= now {
                statuses.push((w.reply.clone(), pull::timeout(&w)));
                continue;
            }
            if let Some(h) = w.next_heartbeat.filter(|h| *h <= now) {
                statuses.push((w.reply.clone(), pull::status("100 Idle Heartbeat", &[])));
                w.next_heartbeat = w.heartbeat.map(|d| now.max(h) + d);
            }
            keep.push_back(w);
        }
        core.waiting = keep;
        if core.config.is_push() && core.config.idle_heartbeat > 0 {
            let hb = Duration::from_nanos(core.config.idle_heartbeat as u64);
            if now.duration_since(core.last_send) >= hb {
                if let Some(to) = core.config.deliver_subject.clone() {
                    let mut extra = vec![
                        (
                            "Nats-Last-Consumer",
                            core.state.delivered.consumer_seq.to_string(),
                        ),
                        (
                            "Nats-Last-Stream",
                            core.state.delivered.stream_seq.to_string(),
                        ),
                    ];
                    if let Some(fc) = &core.fc_pending {
                        extra.push(("Nats-Consumer-Stalled", fc.clone()));
                    }
                    push_hb = Some((to, pull::status("100 Idle Heartbeat", &extra)));
                    core.last_send = now;
                }
            }
        }
    }
    for (to, h) in statuses {
        send_status(server, c, &to, &h);
    }
    if let Some((to, h)) = push_hb {
        send_status(server, c, &to, &h);
    }
}

fn send_status(server: &ServerShared, c: &Consumer, to: &str, headers: &[u8]) {
    server.publish(
        &c.stream.account,
        &Message {
            subject: to.as_bytes(),
            reply: None,
            headers: Some(headers),
            payload: b"",
        },
    );
}

/// Messages in the stream after the consumer's position that pass its filter, plus
/// those queued for last-per-subject.
pub fn num_pending(stream: &Stream, core: &ConsumerCore) -> u64 {
    let sc = stream.core.lock();
    let st = &sc.state;
    let extra = core.lps.len() as u64;
    let from = core.next_seq.max(st.first_seq);
    if st.msgs == 0 || from > st.last_seq {
        return extra;
    }
    if core.config.filters().is_empty() {
        let span = st.last_seq - from + 1;
        let deleted = st.deleted.range(from..=st.last_seq).count() as u64;
        return extra + span.saturating_sub(deleted);
    }
    let mut n = 0;
    for (subject, ss) in &st.subjects {
        if !core.config.matches(subject) || ss.last < from {
            continue;
        }
        if ss.first >= from {
            n += ss.msgs;
        } else {
            n += sc.store.count_subject_from(subject, from).unwrap_or(0);
        }
    }
    n + extra
}

/// The next message for a first delivery, at or after the consumer's position and
/// not beyond what is durable. Advances the position past what it skipped.
fn next_new(stream: &Stream, core: &mut ConsumerCore) -> Option<(u64, StoredMsg)> {
    let durable = stream.durable_seq();
    let sc = stream.core.lock();
    let st = &sc.state;
    let store = sc.store.as_ref();
    while let Some(seq) = core.lps.front().copied() {
        core.lps.pop_front();
        if let Ok(Some(m)) = store.get(seq) {
            return Some((seq, m));
        }
    }
    let limit = st.last_seq.min(durable);
    let from = core.next_seq.max(st.first_seq).max(1);
    if st.msgs == 0 || from > limit {
        return None;
    }
    let filters = core.config.filters();
    let scanned = match filters.as_slice() {
        [] => core.ahead.next(st, store, from, limit, &|_| true),
        [f] if crate::subject::is_literal(f) => {
            return next_on_subject(store, core, f, from, limit);
        }
        _ => {
            let ConsumerCore { ahead, config, .. } = &mut *core;
            ahead.next(st, store, from, limit, &|s| config.matches(s))
        }
    };
    if scanned.is_none() {
        // Everything read so far was looked at: later scans start past it.
        let seen = core.ahead.read_to().min(limit + 1);
        core.next_seq = core.next_seq.max(seen);
    }
    scanned
}

/// The next message on the literal `subject` at or after `from`, by the subject index.
fn next_on_subject(
    store: &dyn MsgStore,
    core: &mut ConsumerCore,
    subject: &str,
    from: u64,
    limit: u64,
) -> Option<(u64, StoredMsg)> {
    match store.next_for_subject(subject, from) {
        Ok(Some(seq)) if seq <= limit => match store.get(seq) {
            Ok(Some(m)) => Some((seq, m)),
            _ => {
                core.next_seq = seq + 1;
                None
            }
        },
        Ok(Some(_)) => None,
        Ok(None) => {
            core.next_seq = limit + 1;
            None
        }
        Err(e) => {
            warn!(error = %e, "subject index unreadable");
            None
        }
    }
}

/// A pending message due again, if any: checks max_deliver (advisory, then stop
/// tracking) and that the stream still has it.
fn next_redelivery(
    server: &ServerShared,
    c: &Consumer,
    core: &mut ConsumerCore,
) -> Option<(u64, StoredMsg)> {
    while let Some(sseq) = core.rdq.pop_first() {
        if !core.state.pending.contains_key(&sseq) {
            continue;
        }
        let count = core.state.deliveries(sseq);
        if core.config.max_deliver > 0 && count as i64 >= core.config.max_deliver {
            core.apply(ConsumerOp::Drop { sseq });
            core.clear_deadline(sseq);
            if core.exceeded.insert(sseq) {
                advisory::max_deliveries(server, &c.stream, &c.name, sseq, count);
            }
            continue;
        }
        let msg = c.stream.core.lock().store.get(sseq).ok().flatten();
        match msg {
            Some(m) => return Some((sseq, m)),
            None => {
                core.apply(ConsumerOp::Drop { sseq });
                core.clear_deadline(sseq);
            }
        }
    }
    None
}

/// Where the next delivery goes: the deliver subject (push) or the oldest live pull
/// request's inbox. `None` when nothing can be delivered now.
fn target(
    server: &ServerShared,
    c: &Consumer,
    core: &mut ConsumerCore,
    now: Instant,
) -> Option<String> {
    if let Some(d) = core.config.deliver_subject.clone() {
        let bound = c.stream.account.sublist.has_interest(&d);
        core.bound = bound;
        if !bound {
            return None;
        }
        core.last_activity = now;
        if core.fc_pending.is_some() && core.fc_bytes >= FC_WINDOW {
            return None;
        }
        return Some(d);
    }
    while let Some(w) = core.waiting.front() {
        if w.expires <= now || !c.stream.account.sublist.has_interest(&w.reply) {
            // Expired requests get their 408 from the timer; a request whose client is
            // gone is dropped silently.
            if w.expires > now {
                core.waiting.pop_front();
                continue;
            }
            return None;
        }
        let _ = server;
        return Some(w.reply.clone());
    }
    None
}

/// Delivers as much as the consumer may now: redeliveries first, then new messages,
/// within max_ack_pending, pull batches and byte limits, flow control and replay pace.
fn deliver(server: &ServerShared, c: &Consumer, now: Instant, acked: &mut Vec<u64>) {
    let mut pending_left: Option<u64> = None;
    let cap = DELIVER_BATCH * 16;
    let mut passes = 0;
    while passes < cap {
        passes += 1;
        let mut core = c.core.lock();
        if core.replay_wait.is_some_and(|t| t > now) {
            return;
        }
        core.replay_wait = None;
        let Some(to) = target(server, c, &mut core, now) else {
            break;
        };
        let lps_before = core.lps.len();
        let (sseq, msg, redelivery) = match next_redelivery(server, c, &mut core) {
            Some((s, m)) => (s, m, true),
            None => {
                let acks = core.config.ack_policy != AckPolicy::None;
                if acks
                    && core.config.max_ack_pending > 0
                    && core.state.pending.len() as i64 >= core.config.max_ack_pending
                {
                    break;
                }
                match next_new(&c.stream, &mut core) {
                    Some((s, m)) => (s, m, false),
                    None => break,
                }
            }
        };
        let from_lps = core.lps.len() < lps_before;
        // Undoes taking the message: it goes out on a later pass.
        let put_back = |core: &mut ConsumerCore, msg: &StoredMsg| {
            if redelivery {
                core.rdq.insert(sseq);
            } else if from_lps {
                core.lps.push_front(sseq);
            } else {
                core.ahead.unread(sseq, msg.clone());
            }
        };
        let size = (msg.subject.len()
            + msg.headers.as_ref().map_or(0, |h| h.len())
            + msg.payload.len()) as u64;
        // Pull byte limit: a message that does not fit ends the request.
        if !core.config.is_push()
            && core
                .waiting
                .front()
                .is_some_and(|w| w.max_bytes.is_some_and(|b| size > b))
        {
            put_back(&mut core, &msg);
            let w = core.waiting.pop_front();
            drop(core);
            if let Some(w) = w {
                let line = "409 Message Size Exceeds MaxBytes";
                send_status(server, c, &w.reply, &pull::status(line, &[]));
            }
            continue;
        }
        if core.config.replay_policy == ReplayPolicy::Original && !redelivery {
            if let Some((sent, last_ts)) = core.replay_last {
                let due = sent + Duration::from_nanos((msg.ts - last_ts).max(0) as u64);
                if due > now {
                    put_back(&mut core, &msg);
                    core.replay_wait = Some(due);
                    return;
                }
            }
            core.replay_last = Some((now, msg.ts));
        }
        let ts = now_ns();
        let op = if redelivery {
            ConsumerOp::Redeliver { sseq, ts }
        } else {
            ConsumerOp::Deliver { sseq, ts }
        };
        let ConsumerOpResult::Delivered { cseq, count } = core.apply(op) else {
            break;
        };
        if !redelivery {
            core.next_seq = core.next_seq.max(sseq + 1);
        }
        if core.config.ack_policy != AckPolicy::None {
            let wait = core.ack_wait_for(count);
            core.set_deadline(sseq, now + wait);
        } else {
            // Ack none: delivered is done, as far as retention is concerned.
            acked.push(sseq);
        }
        let pending = match pending_left {
            Some(p) => {
                let p = if redelivery { p } else { p.saturating_sub(1) };
                pending_left = Some(p);
                p
            }
            None => {
                let p = num_pending(&c.stream, &core);
                pending_left = Some(p);
                p
            }
        };
        let reply = format!(
            "$JS.ACK.{}.{}.{}.{}.{}.{}.{}",
            c.stream.name, c.name, count, sseq, cseq, msg.ts, pending
        );
        let mut fc_request: Option<String> = None;
        if core.config.is_push() {
            core.last_send = now;
            core.fc_bytes += size;
            if core.config.flow_control && core.fc_bytes >= FC_WINDOW && core.fc_pending.is_none() {
                let subject = format!(
                    "$JS.FC.{}.{}.{}",
                    c.stream.name,
                    c.name,
                    crate::util::ids::token(4)
                );
                core.fc_pending = Some(subject.clone());
                core.fc_bytes = 0;
                fc_request = Some(subject);
            } else if !core.config.flow_control {
                core.fc_bytes = 0;
            }
        } else if let Some(w) = core.waiting.front_mut() {
            w.batch = w.batch.saturating_sub(1);
            w.delivered += 1;
            if let Some(b) = w.max_bytes.as_mut() {
                *b = b.saturating_sub(size);
            }
            w.next_heartbeat = w.heartbeat.map(|h| now + h);
            if w.batch == 0 || w.max_bytes == Some(0) {
                core.waiting.pop_front();
            }
        }
        let headers_only = core.config.headers_only;
        drop(core);
        send_msg(server, c, &to, &reply, &msg, headers_only);
        if let Some(fc) = fc_request {
            server.publish_to(
                &c.stream.account,
                &to,
                &Message {
                    subject: to.as_bytes(),
                    reply: Some(fc.as_bytes()),
                    headers: Some(b"NATS/1.0 100 FlowControl Request\r\n\r\n"),
                    payload: b"",
                },
            );
        }
    }
    if passes >= cap {
        // More may be waiting: take another turn after the inbound queue had one.
        c.wake.notify_one();
        return;
    }
    end_dry_requests(server, c);
}

/// No-wait pull requests that can get nothing more end with 404 or 408.
fn end_dry_requests(server: &ServerShared, c: &Consumer) {
    let mut ended = Vec::new();
    {
        let mut core = c.core.lock();
        if core.waiting.is_empty() || !core.rdq.is_empty() {
            return;
        }
        let blocked = core.config.ack_policy != AckPolicy::None
            && core.config.max_ack_pending > 0
            && core.state.pending.len() as i64 >= core.config.max_ack_pending;
        if !blocked && num_pending(&c.stream, &core) > 0 {
            return;
        }
        core.waiting.retain(|w| match w.end_when_dry() {
            Some(line) => {
                ended.push((w.reply.clone(), line));
                false
            }
            None => true,
        });
    }
    for (to, line) in ended {
        send_status(server, c, &to, &pull::status(line, &[]));
    }
}

fn send_msg(
    server: &ServerShared,
    c: &Consumer,
    to: &str,
    reply: &str,
    msg: &StoredMsg,
    headers_only: bool,
) {
    let size_hdr;
    let headers: Option<&[u8]> = if headers_only {
        let mut h: Vec<u8> = match &msg.headers {
            Some(b) if b.len() >= 4 => {
                let mut v = b.to_vec();
                while v.ends_with(b"\r\n") {
                    v.truncate(v.len() - 2);
                }
                v.extend_from_slice(b"\r\n");
                v
            }
            _ => b"NATS/1.0\r\n".to_vec(),
        };
        h.extend_from_slice(format!("Nats-Msg-Size: {}\r\n\r\n", msg.payload.len()).as_bytes());
        size_hdr = h;
        Some(&size_hdr)
    } else {
        msg.headers.as_deref()
    };
    let payload: &[u8] = if headers_only { b"" } else { &msg.payload };
    server.publish_to(
        &c.stream.account,
        to,
        &Message {
            subject: msg.subject.as_bytes(),
            reply: Some(reply.as_bytes()),
            headers,
            payload,
        },
    );
}

/// Whether the consumer has been without a client for longer than its
/// inactive_threshold (ephemerals default to 5 s; durables only when set).
fn inactive_for_too_long(server: &ServerShared, c: &Consumer, now: Instant) -> bool {
    let mut core = c.core.lock();
    let threshold = core.config.inactive_threshold;
    if threshold <= 0 {
        return false;
    }
    let active = match core.config.deliver_subject.clone() {
        Some(d) => c.stream.account.sublist.has_interest(&d),
        None => !core.waiting.is_empty(),
    };
    let _ = server;
    if active {
        core.last_activity = now;
        return false;
    }
    now.duration_since(core.last_activity) >= Duration::from_nanos(threshold as u64)
}
