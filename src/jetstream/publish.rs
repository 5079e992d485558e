//! The leader's publish path: messages from the stream's subscriptions become one
//! proposal per batch (`Op::Store`s with the leader's timestamps); their PubAcks leave
//! only once the batch is committed (fsynced on a quorum) and applied here. One
//! batch is in flight at a time while publishes trickle in (what arrives meanwhile
//! becomes the next, larger batch); under a deep queue up to [`MAX_IN_FLIGHT`]
//! overlap. Answers leave in the order the batches were taken. Also
//! answers queued direct gets and proposes `max_age` expiry.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::server::client::InternalMsg;
use crate::server::router::Message;
use crate::server::ServerShared;

use super::cmd::Decided;
use super::errors::ApiError;
use super::info;
use super::ops::{Op, OpResult};
use super::republish::Republish;
use super::stream::{check_limits, direct_answer, now_ns, Stream, DIRECT_SID};

/// How many queued publishes one proposal may carry.
const MAX_BATCH: usize = 1024;
/// Proposals in flight at once, at most.
const MAX_IN_FLIGHT: usize = 4;
/// A further proposal joins one in flight only when this many publishes wait;
/// otherwise they wait for the one in flight and go as one larger batch (fewer
/// entries, RPCs and fsyncs per message, which is what bounds throughput when the
/// CPU, not the disk, is the limit).
const PIPELINE_AT: usize = 256;

fn may_propose(in_flight: &VecDeque<InFlight>, rx: &mpsc::Receiver<InternalMsg>) -> bool {
    in_flight.is_empty() || (in_flight.len() < MAX_IN_FLIGHT && rx.len() >= PIPELINE_AT)
}

/// One message to answer (and maybe republish) once its batch is decided.
struct Pending {
    reply: Option<String>,
    /// Index of its op in the batch (`None`: refused before proposing).
    op: Option<usize>,
    refused: Option<ApiError>,
    /// subject, headers, payload, for republish.
    copy: Option<(String, Option<bytes::Bytes>, bytes::Bytes)>,
}

struct InFlight {
    decided: BoxFuture<'static, Result<Vec<Decided>, ApiError>>,
    pending: Vec<Pending>,
    /// Direct gets that arrived behind a publish still being decided: answered once
    /// it is applied, so a get never overtakes an earlier publish.
    gets: Vec<InternalMsg>,
    /// Queued messages this entry accounts for (see `Stream::processed`).
    taken: u64,
}

/// Direct-get answers computed at once but sent in order with the PubAcks.
struct Ready {
    subject: String,
    headers: Option<Vec<u8>>,
    body: Vec<u8>,
}

pub async fn run(
    server: Arc<ServerShared>,
    stream: Arc<Stream>,
    mut rx: mpsc::Receiver<InternalMsg>,
) {
    let domain = server
        .config
        .jetstream
        .as_ref()
        .and_then(|j| j.domain.clone());
    let mut batch: Vec<InternalMsg> = Vec::with_capacity(MAX_BATCH);
    let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(MAX_IN_FLIGHT);
    // Timestamps the leader proposes never go backwards, even after a failover to a
    // node whose clock is behind.
    let mut last_ts = stream.core.lock().state.last_ts;
    loop {
        let expiry = stream.next_expiry();
        let sleep = tokio::time::sleep(expiry.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            biased;
            _ = stream.stop.cancelled() => break,
            r = front_decided(&mut in_flight), if !in_flight.is_empty() => {
                if let Some(done) = in_flight.pop_front() {
                    finish(&server, &stream, done, r, domain.as_deref());
                }
            }
            n = rx.recv_many(&mut batch, MAX_BATCH), if may_propose(&in_flight, &rx) => {
                if n == 0 {
                    break;
                }
                last_ts = last_ts.max(stream.core.lock().state.last_ts);
                let busy = !in_flight.is_empty();
                if let Some(f) = propose_batch(&server, &stream, &mut batch, domain.as_deref(), &mut last_ts, busy) {
                    in_flight.push_back(f);
                }
            }
            _ = stream.rearm.notified() => continue,
            _ = sleep, if expiry.is_some() => {
                last_ts = last_ts.max(now_ns());
                match stream.propose_one(Op::Expire { now: last_ts }).await {
                    Ok(OpResult::Expired { removed }) if removed > 0 => debug!(removed, "expired messages"),
                    Ok(_) => {}
                    Err(e) => {
                        warn!(error = %e, "expiry not proposed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    }
    while let Some(mut done) = in_flight.pop_front() {
        let r = (&mut done.decided).await;
        finish(&server, &stream, done, r, domain.as_deref());
    }
}

async fn front_decided(in_flight: &mut VecDeque<InFlight>) -> Result<Vec<Decided>, ApiError> {
    match in_flight.front_mut() {
        Some(f) => (&mut f.decided).await,
        None => std::future::pending().await,
    }
}

/// Turns the batch into one proposal. Direct gets are answered right away when no
/// earlier publish is still being decided (`busy`: earlier proposals in flight);
/// otherwise after it.
fn propose_batch(
    server: &ServerShared,
    stream: &Arc<Stream>,
    batch: &mut Vec<InternalMsg>,
    domain: Option<&str>,
    last_ts: &mut i64,
    busy: bool,
) -> Option<InFlight> {
    let mut answered_now = 0u64;
    let mut ops = Vec::with_capacity(batch.len());
    let mut pending = Vec::with_capacity(batch.len());
    let mut gets = Vec::new();
    let mut ready = Vec::new();
    {
        let core = stream.core.lock();
        let no_ack = core.state.config.no_ack;
        let republish = core.state.config.republish.is_some();
        for m in batch.drain(..) {
            if m.sid.starts_with(DIRECT_SID) {
                if busy || !pending.is_empty() {
                    gets.push(m);
                    continue;
                }
                answered_now += 1;
                if let Some(reply) = m.reply {
                    let a = direct_answer(stream, &core, &m.subject, &m.payload, domain);
                    ready.push(Ready {
                        subject: reply,
                        headers: a.headers,
                        body: a.body,
                    });
                }
                continue;
            }
            *last_ts = (*last_ts).max(now_ns());
            let copy = republish.then(|| (m.subject.clone(), m.headers.clone(), m.payload.clone()));
            let op = Op::Store {
                subject: m.subject,
                headers: m.headers,
                payload: m.payload,
                ts: *last_ts,
            };
            let reply = m.reply.filter(|_| !no_ack);
            match check_limits(&stream.account, &core.state, &op) {
                Ok(()) => {
                    pending.push(Pending {
                        reply,
                        op: Some(ops.len()),
                        refused: None,
                        copy,
                    });
                    ops.push(op);
                }
                Err(e) => pending.push(Pending {
                    reply,
                    op: None,
                    refused: Some(e),
                    copy: None,
                }),
            }
        }
        stream.processed.fetch_add(answered_now, Ordering::AcqRel);
    }
    for r in ready {
        server.publish(
            &stream.account,
            &Message {
                subject: r.subject.as_bytes(),
                reply: None,
                headers: r.headers.as_deref(),
                payload: &r.body,
            },
        );
    }
    if pending.is_empty() && gets.is_empty() {
        return None;
    }
    let decided: BoxFuture<'static, _> = if ops.is_empty() {
        Box::pin(async { Ok(Vec::new()) })
    } else {
        let s = stream.clone();
        Box::pin(async move { s.propose_decided(ops).await })
    };
    let taken = (pending.len() + gets.len()) as u64;
    Some(InFlight {
        decided,
        pending,
        gets,
        taken,
    })
}

/// Sends a decided batch's answers: republished copies first, so a client that saw
/// its ack finds the copy already sent; a failed proposal answers every publish of
/// the batch with the error (a retry with the same Nats-Msg-Id is safe).
fn finish(
    server: &ServerShared,
    stream: &Stream,
    done: InFlight,
    decided: Result<Vec<Decided>, ApiError>,
    domain: Option<&str>,
) {
    let InFlight {
        pending,
        gets,
        taken,
        ..
    } = done;
    let republish = Republish::of(&stream.config());
    let mut acks = Vec::with_capacity(pending.len());
    for p in pending {
        let (res, prev): Decided = match (&p.refused, p.op, &decided) {
            (Some(e), _, _) => (Err(e.clone()), 0),
            (None, Some(i), Ok(outcomes)) => outcomes
                .get(i)
                .cloned()
                .unwrap_or_else(|| (Err(ApiError::general("missing outcome".to_string())), 0)),
            (None, _, Err(e)) => (Err(e.clone()), 0),
            (None, None, Ok(_)) => continue,
        };
        if let (Ok(OpResult::Stored { seq }), Some(r), Some((subject, headers, payload))) =
            (&res, republish.as_ref(), &p.copy)
        {
            if let Some(dest) = r.destination(subject) {
                let h = r.headers(
                    headers.as_deref(),
                    &stream.name,
                    subject,
                    *seq,
                    prev,
                    payload.len(),
                );
                let body: &[u8] = if r.headers_only { b"" } else { payload };
                server.publish(
                    &stream.account,
                    &Message {
                        subject: dest.as_bytes(),
                        reply: None,
                        headers: Some(&h),
                        payload: body,
                    },
                );
            }
        }
        let Some(reply) = p.reply else { continue };
        let body = match res {
            Ok(OpResult::Stored { seq }) => info::pub_ack_bytes(&stream.name, seq, false, domain),
            Ok(OpResult::Duplicate { seq }) => info::pub_ack_bytes(&stream.name, seq, true, domain),
            Ok(_) => continue,
            Err(e) => {
                serde_json::to_vec(&info::pub_ack_error(&stream.name, &e)).unwrap_or_default()
            }
        };
        acks.push((reply, body));
    }
    for (reply, body) in acks {
        server.publish(
            &stream.account,
            &Message {
                subject: reply.as_bytes(),
                reply: None,
                headers: None,
                payload: &body,
            },
        );
    }
    for m in gets {
        let Some(reply) = m.reply else { continue };
        let a = {
            let core = stream.core.lock();
            direct_answer(stream, &core, &m.subject, &m.payload, domain)
        };
        server.publish(
            &stream.account,
            &Message {
                subject: reply.as_bytes(),
                reply: None,
                headers: a.headers.as_deref(),
                payload: &a.body,
            },
        );
    }
    // Only now may a direct get be answered inline again (nothing queued is undecided).
    stream.processed.fetch_add(taken, Ordering::AcqRel);
}
