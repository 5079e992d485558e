//! MQTT sessions: what a client ID keeps between connections.
//!
//! Owns: [`Session`] (subscriptions with their QoS, QoS 1/2 messages sent and not
//! yet acknowledged, QoS 2 packet ids received and not yet released, and the
//! internal subscriber that keeps receiving while a `clean_session = false` client
//! is away) and [`Sessions`], the table of client IDs with the connection that holds
//! each (for takeover). Sessions live in memory: they survive reconnects, not a
//! restart of the server.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::server::account::Account;
use crate::server::client::{ClientHandle, InternalMsg};
use crate::server::router;
use crate::server::subscription::SubRef;
use crate::server::ServerShared;

/// Messages a session's subscriber may hold before new ones are dropped.
pub const SINK_CAPACITY: usize = 16 * 1024;

/// A QoS 1/2 message sent to the client and not acknowledged yet.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub sent: Instant,
    /// QoS 2: PUBREC received and PUBREL sent; waiting for PUBCOMP.
    pub released: bool,
}

/// A message waiting to be sent (the in-flight window was full, or it was
/// received while the client was away).
#[derive(Debug, Clone)]
pub struct Queued {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

/// The state of one client ID.
pub struct Session {
    pub client_id: String,
    pub account: Arc<Account>,
    /// The internal client whose subscriptions deliver to `rx`.
    pub handle: Arc<ClientHandle>,
    pub rx: mpsc::Receiver<InternalMsg>,
    /// MQTT filter → granted QoS.
    pub filters: BTreeMap<String, u8>,
    pub inflight: BTreeMap<u16, Outgoing>,
    pub backlog: VecDeque<Queued>,
    pub incoming_qos2: HashSet<u16>,
    pub next_pid: u16,
}

impl Session {
    /// A new, empty session whose subscriber is a fresh internal client.
    pub fn new(
        server: &ServerShared,
        client_id: &str,
        account: Arc<Account>,
        addr: SocketAddr,
        cid: u64,
    ) -> Self {
        let (handle, rx) = new_handle(server, &account, addr, cid);
        Session {
            client_id: client_id.to_string(),
            account,
            handle,
            rx,
            filters: BTreeMap::new(),
            inflight: BTreeMap::new(),
            backlog: VecDeque::new(),
            incoming_qos2: HashSet::new(),
            next_pid: 1,
        }
    }

    /// Moves a stored session onto a new connection: a new subscriber (so /connz
    /// shows the new connection) with the same filters; what the old subscriber
    /// received while the client was away goes to the backlog.
    pub fn resume(mut self, server: &ServerShared, addr: SocketAddr, cid: u64) -> Self {
        let (handle, rx) = new_handle(server, &self.account, addr, cid);
        let old = std::mem::replace(&mut self.handle, handle);
        let mut old_rx = std::mem::replace(&mut self.rx, rx);
        for (filter, _) in self.filters.clone() {
            let _ = subscribe_filter(server, &self.handle, &filter);
        }
        remove_all(&old);
        while let Ok(m) = old_rx.try_recv() {
            let qos_sub = self.qos_for(&m.subject);
            self.backlog.push_back(queued_of(&m, qos_sub));
        }
        self
    }

    /// The highest granted QoS among this session's filters matching `subject`.
    pub fn qos_for(&self, subject: &str) -> u8 {
        self.filters
            .iter()
            .filter_map(|(f, q)| {
                let (s, extra) = super::topic::filter_to_subjects(f).ok()?;
                (crate::subject::matches(&s, subject)
                    || extra.is_some_and(|e| crate::subject::matches(&e, subject)))
                .then_some(*q)
            })
            .max()
            .unwrap_or(0)
    }

    /// The next free packet id.
    pub fn alloc_pid(&mut self) -> u16 {
        loop {
            let p = self.next_pid;
            self.next_pid = self.next_pid.wrapping_add(1).max(1);
            if !self.inflight.contains_key(&p) {
                return p;
            }
        }
    }

    /// Drops every subscription of this session.
    pub fn discard(&self) {
        remove_all(&self.handle);
    }
}

/// The message an MQTT subscriber gets for a NATS message: its QoS is the
/// publisher's (from the `Nmqtt-Pub` header, 0 for NATS publishers) capped by the
/// subscription's.
pub fn queued_of(m: &InternalMsg, sub_qos: u8) -> Queued {
    let pub_qos = m.headers.as_deref().and_then(header_qos).unwrap_or(0);
    Queued {
        topic: super::topic::subject_to_topic(&m.subject),
        payload: m.payload.clone(),
        qos: pub_qos.min(sub_qos),
        retain: false,
    }
}

fn header_qos(h: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(h).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(super::QOS_HEADER))
            .then(|| v.trim().parse::<u8>().ok())
            .flatten()
            .filter(|q| *q <= 2)
    })
}

fn new_handle(
    server: &ServerShared,
    account: &Arc<Account>,
    addr: SocketAddr,
    cid: u64,
) -> (Arc<ClientHandle>, mpsc::Receiver<InternalMsg>) {
    let (tx, rx) = mpsc::channel(SINK_CAPACITY);
    let mut h = ClientHandle::new(cid, addr, account.clone(), 0, server.shutdown.child_token());
    h.internal = Some(tx);
    h.headers.store(true, std::sync::atomic::Ordering::Relaxed);
    (Arc::new(h), rx)
}

/// Subscribes `handle` to the subjects of an MQTT filter (two for `a/#`). The
/// sids are the filter and the filter plus a space (never in a valid filter).
pub fn subscribe_filter(
    server: &ServerShared,
    handle: &Arc<ClientHandle>,
    filter: &str,
) -> Result<(), super::topic::TopicError> {
    let (s, extra) = super::topic::filter_to_subjects(filter)?;
    if !handle.subs.lock().contains_key(filter.as_bytes()) {
        let _ = server.subscribe_internal(handle, &s, None, filter);
    }
    if let Some(e) = extra {
        let sid = format!("{filter} ");
        if !handle.subs.lock().contains_key(sid.as_bytes()) {
            let _ = server.subscribe_internal(handle, &e, None, &sid);
        }
    }
    Ok(())
}

/// Removes the subscriptions of one filter.
pub fn unsubscribe_filter(handle: &Arc<ClientHandle>, filter: &str) {
    let sid2 = format!("{filter} ");
    let subs: Vec<_> = {
        let s = handle.subs.lock();
        [filter.as_bytes(), sid2.as_bytes()]
            .iter()
            .filter_map(|k| s.get(*k).cloned())
            .collect()
    };
    for s in subs {
        router::remove_subscription(&SubRef(s));
    }
}

fn remove_all(handle: &Arc<ClientHandle>) {
    let subs: Vec<_> = handle.subs.lock().values().cloned().collect();
    for s in subs {
        router::remove_subscription(&SubRef(s));
    }
}

struct Slot {
    /// The connection holding the client ID, to stop it on takeover.
    active: Option<(u64, CancellationToken)>,
    stored: Option<Session>,
}

/// Client IDs (per account) → their connection and stored session.
#[derive(Default)]
pub struct Sessions {
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl Sessions {
    /// Claims `client_id` for connection `cid`, stopping a connection that holds it
    /// and waiting (briefly) for it to hand its session back. Returns the stored
    /// session, if any.
    pub async fn claim(
        &self,
        account: &str,
        client_id: &str,
        cid: u64,
        token: CancellationToken,
    ) -> Option<Session> {
        let key = (account.to_string(), client_id.to_string());
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            {
                let mut t = self.slots.lock();
                let slot = t.entry(key.clone()).or_insert(Slot {
                    active: None,
                    stored: None,
                });
                match &slot.active {
                    Some((_, old)) if Instant::now() < deadline => old.cancel(),
                    _ => {
                        slot.active = Some((cid, token));
                        return slot.stored.take();
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Releases the client ID held by `cid`, storing `session` for the next
    /// connection (or dropping it for a clean session).
    pub fn release(&self, account: &str, client_id: &str, cid: u64, session: Option<Session>) {
        let key = (account.to_string(), client_id.to_string());
        let mut t = self.slots.lock();
        let Some(slot) = t.get_mut(&key) else {
            if let Some(s) = session {
                s.discard();
            }
            return;
        };
        if slot.active.as_ref().is_some_and(|(c, _)| *c == cid) {
            slot.active = None;
        }
        match session {
            Some(s) => {
                if let Some(old) = slot.stored.replace(s) {
                    old.discard();
                }
            }
            None => {
                if slot.active.is_none() {
                    if let Some(old) = slot.stored.take() {
                        old.discard();
                    }
                    t.remove(&key);
                }
            }
        }
    }

    /// Drops a stored session (a clean-session CONNECT).
    pub fn drop_stored(&self, session: Session) {
        session.discard();
    }
}
