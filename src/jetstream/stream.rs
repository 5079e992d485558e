//! One running stream: its state and store behind a lock, its internal subscriptions,
//! and the task that turns publishes into `Op::Store`, makes them durable (group
//! commit through `Db::sync`) and only then sends the PubAcks. Also serves direct gets
//! and runs `max_age` expiry on a timer armed for the oldest message only.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

use crate::server::account::Account;
use crate::server::client::{ClientHandle, InlineReply, InternalMsg};
use crate::server::router::Message;
use crate::server::subscription::Subscription;
use crate::server::ServerShared;
use crate::store::{Db, SyncTicket};

use super::apply::{apply, StreamState};
use super::config::{Storage, StreamConfig};
use super::errors::ApiError;
use super::info;
use super::msgstore::{MsgStore, StoredMsg};
use super::ops::{Op, OpResult};
use super::republish::Republish;

/// Capacity of a stream's inbound queue (publishes and direct gets).
pub const INBOUND_CAPACITY: usize = 16 * 1024;
/// How many queued publishes one durable write may cover.
const MAX_BATCH: usize = 1024;
/// The sid prefix of direct-get subscriptions.
const DIRECT_SID: &[u8] = b"direct";

/// State and store, changed only under this lock and only by `apply`.
pub struct StreamCore {
    pub state: StreamState,
    pub store: Box<dyn MsgStore>,
}

/// A stream and what keeps it running.
pub struct Stream {
    pub id: u64,
    pub name: String,
    pub account: Arc<Account>,
    /// Unix nanoseconds.
    pub created: i64,
    pub core: Mutex<StreamCore>,
    pub db: Arc<Db>,
    client: Arc<ClientHandle>,
    subs: Mutex<Vec<Arc<Subscription>>>,
    stop: CancellationToken,
    /// Wakes the task to re-arm the expiry timer (config change, purge).
    rearm: Notify,
    /// Consumers by name (see `consumer::registry`).
    pub(crate) consumers: Mutex<BTreeMap<String, Arc<super::consumer::Consumer>>>,
    /// The last sequence known durable: consumers deliver nothing beyond it.
    durable: AtomicU64,
    /// Messages the stream task has taken from its queue and applied (or served), plus
    /// direct gets answered inline. Equal to the stream client's delivered count when
    /// nothing is queued: only then may a direct get skip the queue (see
    /// `Stream::serve_direct_inline`).
    processed: AtomicU64,
    tasks: tokio_util::task::TaskTracker,
}

/// Wall-clock unix nanoseconds (read outside `apply`, carried in the op).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Stream {
    /// Creates the stream object, subscribes its subjects and starts its task.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        server: &Arc<ServerShared>,
        tasks: &tokio_util::task::TaskTracker,
        db: Arc<Db>,
        account: Arc<Account>,
        id: u64,
        created: i64,
        state: StreamState,
        store: Box<dyn MsgStore>,
    ) -> Result<Arc<Stream>, ApiError> {
        let (tx, rx) = mpsc::channel(INBOUND_CAPACITY);
        let client = server.internal_client(&account, tx);
        let name = state.config.name.clone();
        let busy = crate::jetstream::info::pub_ack_error(
            &name,
            &ApiError::store_failed("stream ingest queue is full, retry later"),
        );
        let _ = client.busy_reply.set(bytes::Bytes::from(
            serde_json::to_vec(&busy).unwrap_or_default(),
        ));
        let durable = AtomicU64::new(state.last_seq);
        account.js.add(state.config.storage, state.bytes as i64);
        let stream = Arc::new(Stream {
            id,
            name: name.clone(),
            account,
            created,
            durable,
            processed: AtomicU64::new(0),
            consumers: Mutex::new(BTreeMap::new()),
            tasks: tasks.clone(),
            core: Mutex::new(StreamCore { state, store }),
            db,
            client,
            subs: Mutex::new(Vec::new()),
            stop: server.shutdown.child_token(),
            rearm: Notify::new(),
        });
        let domain = server
            .config
            .jetstream
            .as_ref()
            .and_then(|j| j.domain.clone());
        let weak = Arc::downgrade(&stream);
        let _ = stream.client.inline.set(Box::new(move |sid, m| {
            if !sid.starts_with(DIRECT_SID) {
                return None;
            }
            weak.upgrade()?.serve_direct_inline(m, domain.as_deref())
        }));
        stream.subscribe(server)?;
        let span = tracing::info_span!("stream", account = %stream.account.name, name = %name);
        tasks.spawn(run(server.clone(), stream.clone(), rx).instrument(span));
        Ok(stream)
    }

    /// (Re)subscribes the stream's subjects and, with `allow_direct`, direct gets.
    pub fn subscribe(&self, server: &ServerShared) -> Result<(), ApiError> {
        self.unsubscribe(server);
        let cfg = self.core.lock().state.config.clone();
        let mut subs = self.subs.lock();
        let mut add = |subject: &str, sid: String| -> Result<(), ApiError> {
            let s = server
                .subscribe_internal(&self.client, subject, None, &sid)
                .map_err(|e| ApiError::stream_config(format!("subscribe {subject}: {e}")))?;
            subs.push(s);
            Ok(())
        };
        for (i, s) in cfg.subjects.iter().enumerate() {
            add(s, format!("s{i}"))?;
        }
        if cfg.allow_direct {
            let d = String::from_utf8_lossy(DIRECT_SID);
            let domain = server
                .config
                .jetstream
                .as_ref()
                .and_then(|j| j.domain.clone());
            let prefixes = std::iter::once("$JS.API".to_string())
                .chain(domain.map(|dom| format!("$JS.{dom}.API")));
            for (i, p) in prefixes.enumerate() {
                add(&format!("{p}.DIRECT.GET.{}", self.name), format!("{d}{i}0"))?;
                add(
                    &format!("{p}.DIRECT.GET.{}.>", self.name),
                    format!("{d}{i}1"),
                )?;
            }
        }
        Ok(())
    }

    pub fn unsubscribe(&self, server: &ServerShared) {
        for s in self.subs.lock().drain(..) {
            server.unsubscribe_internal(&s);
        }
    }

    /// The last sequence that is durable (delivered to consumers).
    pub fn durable_seq(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// Marks everything up to `seq` as durable and wakes the consumers.
    fn mark_durable(&self, seq: u64) {
        self.durable.fetch_max(seq, Ordering::AcqRel);
        self.wake_consumers();
    }

    /// The token that stops this stream (consumers hang their own below it).
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// Where the stream's and its consumers' tasks are tracked.
    pub fn tasks(&self) -> &tokio_util::task::TaskTracker {
        &self.tasks
    }

    /// Stops the task and drops the subscriptions.
    pub fn stop(&self, server: &ServerShared) {
        self.unsubscribe(server);
        self.stop.cancel();
    }

    /// Applies an op under the lock (API-driven changes); durable after `db.sync`.
    pub fn apply_op(&self, op: Op) -> Result<OpResult, ApiError> {
        let mut core = self.core.lock();
        let StreamCore { state, store } = &mut *core;
        let mut r = apply_counted(&self.account, state, store.as_mut(), op);
        if let Err(e) = store.flush() {
            r = Err(ApiError::store_failed(e.to_string()));
        }
        drop(core);
        self.rearm.notify_one();
        r
    }

    /// Waits until what was applied is durable (no-op for memory storage).
    pub async fn sync(&self) -> Result<(), ApiError> {
        self.request_sync()
            .await
            .map_err(|e| ApiError::store_failed(e.to_string()))
    }

    /// Queues a sync of what was applied so far (see [`Db::request_sync`]).
    fn request_sync(&self) -> SyncTicket {
        if self.storage() == Storage::Memory {
            return SyncTicket::done(Ok(()));
        }
        self.db.request_sync()
    }

    pub fn storage(&self) -> Storage {
        self.core.lock().state.config.storage
    }

    pub fn config(&self) -> StreamConfig {
        self.core.lock().state.config.clone()
    }

    /// When the oldest message expires, if the stream has a max age.
    fn next_expiry(&self) -> Option<Duration> {
        let core = self.core.lock();
        let st = &core.state;
        if st.config.max_age <= 0 || st.msgs == 0 {
            return None;
        }
        let due = st.first_ts.saturating_add(st.config.max_age);
        Some(Duration::from_nanos(
            due.saturating_sub(now_ns()).max(0) as u64
        ))
    }

    /// Answers a direct get in the requester's delivery, without the hop through the
    /// stream task, when that cannot reorder it: nothing delivered to the stream is
    /// still waiting in its queue (so a get never overtakes an earlier publish from
    /// the same connection) and the store is not locked right now. `None`: queue it.
    fn serve_direct_inline(&self, m: &Message<'_>, domain: Option<&str>) -> Option<InlineReply> {
        let delivered = self.client.stats.out_msgs.load(Ordering::Acquire);
        if delivered != self.processed.load(Ordering::Acquire) {
            return None;
        }
        let subject = std::str::from_utf8(m.subject).ok()?;
        let core = self.core.try_lock()?;
        let r = direct_answer(self, &core, subject, m.payload, domain);
        drop(core);
        // The router counts this delivery once the answer is sent.
        self.processed.fetch_add(1, Ordering::AcqRel);
        Some(r)
    }

    /// Looks a message up for MSG.GET / direct get.
    pub fn get_msg(&self, req: &GetRequest) -> Result<(u64, StoredMsg), ApiError> {
        get_msg_in(&self.core.lock(), req)
    }
}

/// [`Stream::get_msg`] with the core already locked.
fn get_msg_in(core: &StreamCore, req: &GetRequest) -> Result<(u64, StoredMsg), ApiError> {
    {
        let st = &core.state;
        let store = core.store.as_ref();
        let err = |e: crate::store::StoreError| ApiError::general(e.to_string());
        let seq = if let Some(subj) = req.last_by_subj.as_deref() {
            if crate::subject::is_literal(subj) {
                st.subjects.get(subj).map(|s| s.last)
            } else {
                st.subjects
                    .iter()
                    .filter(|(s, _)| crate::subject::matches(subj, s))
                    .map(|(_, s)| s.last)
                    .max()
            }
        } else if let Some(subj) = req.next_by_subj.as_deref() {
            let from = req.seq.unwrap_or(0).max(st.first_seq);
            if crate::subject::is_literal(subj) {
                store.next_for_subject(subj, from).map_err(err)?
            } else {
                let mut found = None;
                let mut from = from;
                'outer: loop {
                    let chunk = store.scan_from(from, 1024).map_err(err)?;
                    let Some((l, _)) = chunk.last() else { break };
                    from = l + 1;
                    for (s, sub) in &chunk {
                        if crate::subject::matches(subj, sub) {
                            found = Some(*s);
                            break 'outer;
                        }
                    }
                }
                found
            }
        } else {
            req.seq
        };
        let Some(seq) = seq else {
            return Err(ApiError::no_message_found());
        };
        if st.deleted.contains(&seq) || seq < st.first_seq || seq > st.last_seq {
            return Err(ApiError::no_message_found());
        }
        match store.get(seq) {
            Ok(Some(m)) => Ok((seq, m)),
            Ok(None) => Err(ApiError::no_message_found()),
            Err(e) => {
                warn!(seq, error = %e, "stored message failed its check");
                Err(ApiError::general(e.to_string()))
            }
        }
    }
}

/// A MSG.GET / direct get request body.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct GetRequest {
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub last_by_subj: Option<String>,
    #[serde(default)]
    pub next_by_subj: Option<String>,
}

impl GetRequest {
    /// Nothing chosen (no sequence, no subject).
    pub fn is_empty(&self) -> bool {
        self.seq.unwrap_or(0) == 0 && self.last_by_subj.is_none() && self.next_by_subj.is_none()
    }

    /// Exactly one way of choosing the message.
    pub fn valid(&self) -> bool {
        match (&self.last_by_subj, &self.next_by_subj) {
            (Some(_), Some(_)) => false,
            (Some(_), None) => self.seq.is_none(),
            (None, Some(_)) => true,
            (None, None) => self.seq.is_some_and(|s| s > 0),
        }
    }
}

/// One reply to send after the batch is durable.
struct Reply {
    subject: String,
    headers: Option<Vec<u8>>,
    body: Vec<u8>,
}

/// How many applied batches may wait for their fsync at once; while one waits the
/// task applies the next, so the disk and the CPU work side by side.
const MAX_IN_FLIGHT: usize = 4;

/// A batch that is applied and whose replies wait for its sync. Replies leave in the
/// order the batches were taken, so nothing (not even a duplicate's PubAck) overtakes
/// an earlier publish that is not durable yet.
struct InFlight {
    synced: SyncTicket,
    /// The stream's last sequence once the batch was applied: durable with `synced`.
    last_seq: u64,
    /// Whether the batch changed the store (and so `synced` is a real sync).
    stored: bool,
    /// The batch could not be written: its PubAcks become this error.
    write_failed: Option<ApiError>,
    /// Republished copies, then the replies.
    replies: Vec<Reply>,
    /// Where the replies that are PubAcks start (republished copies come first).
    acks_from: usize,
}

async fn run(server: Arc<ServerShared>, stream: Arc<Stream>, mut rx: mpsc::Receiver<InternalMsg>) {
    let domain = server
        .config
        .jetstream
        .as_ref()
        .and_then(|j| j.domain.clone());
    let mut batch: Vec<InternalMsg> = Vec::with_capacity(MAX_BATCH);
    let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(MAX_IN_FLIGHT);
    loop {
        let expiry = stream.next_expiry();
        let sleep = tokio::time::sleep(expiry.unwrap_or(Duration::from_secs(3600)));
        tokio::select! {
            biased;
            _ = stream.stop.cancelled() => break,
            r = front_synced(&mut in_flight), if !in_flight.is_empty() => {
                if let Some(done) = in_flight.pop_front() {
                    finish(&server, &stream, done, r);
                }
            }
            n = rx.recv_many(&mut batch, MAX_BATCH), if in_flight.len() < MAX_IN_FLIGHT => {
                if n == 0 {
                    break;
                }
                in_flight.push_back(apply_batch(&stream, &mut batch, domain.as_deref()));
            }
            _ = stream.rearm.notified() => continue,
            _ = sleep, if expiry.is_some() => {
                match stream.apply_op(Op::Expire { now: now_ns() }) {
                    Ok(OpResult::Expired { removed }) if removed > 0 => {
                        debug!(removed, "expired messages");
                        let _ = stream.sync().await;
                        stream.prune_consumers_except("");
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "expiry failed"),
                }
            }
        }
    }
    // What was applied before the stop still gets its answer once durable.
    while let Some(mut done) = in_flight.pop_front() {
        let r = (&mut done.synced).await;
        finish(&server, &stream, done, r);
    }
}

/// Waits for the oldest in-flight batch's sync.
async fn front_synced(in_flight: &mut VecDeque<InFlight>) -> Result<(), crate::store::StoreError> {
    match in_flight.front_mut() {
        Some(f) => (&mut f.synced).await,
        None => std::future::pending().await,
    }
}

/// Sends a synced batch's replies: republished copies first, so a client that saw
/// its ack finds the copy already sent; on a failed sync, errors instead of acks.
fn finish(
    server: &ServerShared,
    stream: &Stream,
    mut done: InFlight,
    synced: Result<(), crate::store::StoreError>,
) {
    let failed = match (done.write_failed.take(), synced) {
        (Some(e), _) => Some(e),
        (None, Err(e)) => Some(ApiError::store_failed(e.to_string())),
        (None, Ok(())) => None,
    };
    match failed {
        None => {
            if done.stored {
                stream.mark_durable(done.last_seq);
            }
        }
        Some(e) => {
            // Nothing is acknowledged that is not durable, nor republished.
            let err =
                serde_json::to_vec(&info::pub_ack_error(&stream.name, &e)).unwrap_or_default();
            let mut acks = done.replies.split_off(done.acks_from);
            for r in acks.iter_mut() {
                if r.headers.is_none() {
                    r.body = err.clone();
                }
            }
            done.replies = acks;
        }
    }
    for r in done.replies {
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
}

/// Applies a batch taken from the queue, writes it as one database write and queues
/// its sync; the replies wait in the returned [`InFlight`].
fn apply_batch(stream: &Stream, batch: &mut Vec<InternalMsg>, domain: Option<&str>) -> InFlight {
    let taken = batch.len() as u64;
    let mut replies = Vec::with_capacity(batch.len());
    let mut republished = Vec::new();
    let mut stored_any = false;
    let flushed: Result<(), ApiError>;
    let last_seq;
    {
        let mut core = stream.core.lock();
        let no_ack = core.state.config.no_ack;
        let republish = Republish::of(&core.state.config);
        for m in batch.drain(..) {
            if m.sid.starts_with(DIRECT_SID) {
                if let Some(reply) = m.reply {
                    let a = direct_answer(stream, &core, &m.subject, &m.payload, domain);
                    replies.push(Reply {
                        subject: reply,
                        headers: a.headers,
                        body: a.body,
                    });
                }
                continue;
            }
            // What a republish needs, taken before the op consumes the message.
            let rp = republish.as_ref().and_then(|r| {
                let dest = r.destination(&m.subject)?;
                let last = core.state.subjects.get(&m.subject).map_or(0, |s| s.last);
                Some((
                    r,
                    dest,
                    m.subject.clone(),
                    m.headers.clone(),
                    m.payload.clone(),
                    last,
                ))
            });
            let op = Op::Store {
                subject: m.subject,
                headers: m.headers,
                payload: m.payload,
                ts: now_ns(),
            };
            let StreamCore { state, store } = &mut *core;
            let res = match check_limits(&stream.account, state, &op) {
                Ok(()) => apply_counted(&stream.account, state, store.as_mut(), op),
                Err(e) => Err(e),
            };
            if let Ok(OpResult::Stored { seq }) = res {
                stored_any = true;
                if let Some((r, dest, subject, headers, payload, last)) = rp {
                    let h = r.headers(
                        headers.as_deref(),
                        &stream.name,
                        &subject,
                        seq,
                        last,
                        payload.len(),
                    );
                    republished.push(Reply {
                        subject: dest,
                        headers: Some(h),
                        body: if r.headers_only {
                            Vec::new()
                        } else {
                            payload.to_vec()
                        },
                    });
                }
            }
            let (Some(reply), false) = (m.reply, no_ack) else {
                continue;
            };
            let body = match res {
                Ok(OpResult::Stored { seq }) => {
                    info::pub_ack_bytes(&stream.name, seq, false, domain)
                }
                Ok(OpResult::Duplicate { seq }) => {
                    info::pub_ack_bytes(&stream.name, seq, true, domain)
                }
                Ok(_) => continue,
                Err(e) => {
                    serde_json::to_vec(&info::pub_ack_error(&stream.name, &e)).unwrap_or_default()
                }
            };
            replies.push(Reply {
                subject: reply,
                headers: None,
                body,
            });
        }
        // The whole batch goes to the database as one write.
        flushed = core
            .store
            .flush()
            .map_err(|e| ApiError::store_failed(e.to_string()));
        last_seq = core.state.last_seq;
        // Everything taken is applied (and visible to readers) once the lock drops.
        stream.processed.fetch_add(taken, Ordering::AcqRel);
    }
    let acks_from = republished.len();
    republished.append(&mut replies);
    let (synced, write_failed) = match flushed {
        Ok(()) if !stored_any => (SyncTicket::done(Ok(())), None),
        Ok(()) => {
            stream.rearm.notify_one();
            (stream.request_sync(), None)
        }
        Err(e) => {
            stream.rearm.notify_one();
            (SyncTicket::done(Ok(())), Some(e))
        }
    };
    InFlight {
        synced,
        last_seq,
        stored: stored_any,
        write_failed,
        replies: republished,
        acks_from,
    }
}

/// The answer to a direct get on `subject` (`$JS.API.DIRECT.GET.<stream>` with a JSON
/// request, or `...<stream>.<subject>` for the last message on that subject).
fn direct_answer(
    stream: &Stream,
    core: &StreamCore,
    subject: &str,
    payload: &[u8],
    domain: Option<&str>,
) -> InlineReply {
    let rest = super::api::api_rest(subject, domain).unwrap_or("");
    let by_subject = rest
        .strip_prefix("DIRECT.GET.")
        .and_then(|r| r.strip_prefix(stream.name.as_str()))
        .and_then(|r| r.strip_prefix('.'));
    let req = if let Some(subj) = by_subject {
        GetRequest {
            last_by_subj: Some(subj.to_string()),
            ..GetRequest::default()
        }
    } else {
        // nats-server's statuses: no body or nothing chosen → Empty Request, not JSON →
        // Malformed Request, conflicting choices → Bad Request.
        let status = match serde_json::from_slice::<GetRequest>(payload) {
            _ if payload.trim_ascii().is_empty() => Err(info::DIRECT_EMPTY_REQUEST),
            Err(_) => Err(info::DIRECT_MALFORMED_REQUEST),
            Ok(r) if r.valid() => Ok(r),
            Ok(r) if r.is_empty() => Err(info::DIRECT_EMPTY_REQUEST),
            Ok(_) => Err(info::DIRECT_BAD_REQUEST),
        };
        match status {
            Ok(r) => r,
            Err(h) => {
                return InlineReply {
                    headers: Some(h.to_vec()),
                    body: Vec::new(),
                }
            }
        }
    };
    match get_msg_in(core, &req) {
        Ok((seq, msg)) => InlineReply {
            headers: Some(info::direct_headers(&stream.name, seq, &msg)),
            body: msg.payload.to_vec(),
        },
        Err(_) => InlineReply {
            headers: Some(info::DIRECT_NOT_FOUND.to_vec()),
            body: Vec::new(),
        },
    }
}

/// `apply`, keeping the account's storage usage in step with the stream's bytes.
fn apply_counted(
    account: &Account,
    state: &mut StreamState,
    store: &mut dyn MsgStore,
    op: Op,
) -> Result<OpResult, ApiError> {
    let before = state.bytes as i64;
    let storage = state.config.storage;
    let r = apply(state, store, op);
    account.js.add(storage, state.bytes as i64 - before);
    r
}

/// The account and server storage limits a publish must fit.
fn check_limits(account: &Account, state: &StreamState, op: &Op) -> Result<(), ApiError> {
    let Op::Store {
        subject,
        headers,
        payload,
        ..
    } = op
    else {
        return Ok(());
    };
    let size = super::msgstore::msg_size(
        state.config.storage,
        subject,
        headers.as_ref().map_or(0, |h| h.len()),
        payload.len(),
    );
    account.js.check_store(state.config.storage, size)
}

/// Builds the store for a stream.
pub fn make_store(db: &Arc<Db>, id: u64, storage: Storage) -> Box<dyn MsgStore> {
    match storage {
        Storage::File => Box::new(super::file_store::FileStore::new(db.clone(), id)),
        Storage::Memory => Box::new(super::msgstore::MemStore::default()),
    }
}
