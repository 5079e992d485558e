//! One running stream: its state and store behind a lock, its internal subscriptions,
//! and the task that turns publishes into `Op::Store`, makes them durable (group
//! commit through `Db::sync`) and only then sends the PubAcks. Also serves direct gets
//! and runs `max_age` expiry on a timer armed for the oldest message only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

use crate::raft::Group;
use crate::server::account::Account;
use crate::server::client::{ClientHandle, InlineReply};
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

/// Capacity of a stream's inbound queue (publishes and direct gets).
pub const INBOUND_CAPACITY: usize = 16 * 1024;

/// [`INBOUND_CAPACITY`], or `NATRIUM_STREAM_INBOUND_CAPACITY` when set (a test knob:
/// a tiny queue lets a test see the busy PubAck a full queue answers with).
fn inbound_capacity() -> usize {
    std::env::var("NATRIUM_STREAM_INBOUND_CAPACITY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(INBOUND_CAPACITY)
}
/// The sid prefix of direct-get subscriptions.
pub(crate) const DIRECT_SID: &[u8] = b"direct";

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
    pub(crate) stop: CancellationToken,
    /// Wakes the task to re-arm the expiry timer (config change, purge).
    pub(crate) rearm: Notify,
    /// Consumers by name (see `consumer::registry`).
    pub(crate) consumers: Mutex<BTreeMap<String, Arc<super::consumer::Consumer>>>,
    /// The last sequence known durable: consumers deliver nothing beyond it.
    durable: AtomicU64,
    /// Messages the stream task has taken from its queue and applied (or served), plus
    /// direct gets answered inline. Equal to the stream client's delivered count when
    /// nothing is queued: only then may a direct get skip the queue (see
    /// `Stream::serve_direct_inline`).
    pub(crate) processed: AtomicU64,
    tasks: tokio_util::task::TaskTracker,
    /// The stream's Raft group (set once the replica is attached).
    group: std::sync::OnceLock<Arc<dyn Group>>,
    /// Whether this replica leads (holds the subscriptions and runs the consumers).
    leading: std::sync::atomic::AtomicBool,
    /// Where the first leader sends the STREAM.CREATE response.
    create_reply: Mutex<Option<String>>,
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
        let (tx, rx) = mpsc::channel(inbound_capacity());
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
            group: std::sync::OnceLock::new(),
            leading: std::sync::atomic::AtomicBool::new(false),
            create_reply: Mutex::new(None),
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
        let span = tracing::info_span!("stream", account = %stream.account.name, name = %name);
        tasks.spawn(super::publish::run(server.clone(), stream.clone(), rx).instrument(span));
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

    /// Called after committed entries were applied here (up to `last_seq`, durable
    /// on a quorum); `removed`: messages left the stream.
    pub(crate) fn applied(&self, last_seq: u64, removed: bool) {
        if removed {
            self.durable.store(last_seq, Ordering::Release);
            self.prune_consumers_except("");
        }
        self.mark_durable(last_seq);
        self.rearm.notify_one();
    }

    /// The stream's Raft group.
    pub fn group(&self) -> Option<&Arc<dyn Group>> {
        self.group.get()
    }

    /// Whether this replica is the stream's leader.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// Attaches the replica to its Raft group and follows its leadership: the leader
    /// subscribes the stream's subjects and runs the consumers; followers only apply.
    pub fn attach(self: &Arc<Self>, server: &Arc<ServerShared>, group: Arc<dyn Group>) {
        let mut watch = group.leader_watch();
        let _ = self.group.set(group.clone());
        let stream = self.clone();
        let server = server.clone();
        let span =
            tracing::info_span!("stream-role", account = %self.account.name, name = %self.name);
        self.tasks.spawn(
            async move {
                loop {
                    let leader = *watch.borrow_and_update();
                    let leads = leader == Some(group.node());
                    if leader.is_some() && !leads {
                        // Another replica leads: it answers the create.
                        stream.create_reply.lock().take();
                    }
                    if leads != stream.is_leader() {
                        if leads {
                            stream.become_leader(&server);
                        } else {
                            stream.become_follower(&server);
                        }
                    }
                    tokio::select! {
                        _ = stream.stop.cancelled() => break,
                        r = watch.changed() => if r.is_err() { break },
                    }
                }
                stream.become_follower(&server);
            }
            .instrument(span),
        );
    }

    fn become_leader(self: &Arc<Self>, server: &Arc<ServerShared>) {
        tracing::info!("stream leader here");
        self.leading.store(true, Ordering::Release);
        if let Err(e) = self.subscribe(server) {
            warn!(error = %e, "stream leader cannot subscribe");
        }
        if self.consumer_count() == 0 {
            self.load_consumers(server);
        }
        self.rearm.notify_one();
        let reply = self.create_reply.lock().take();
        if let (Some(reply), Some(js)) = (reply, server.jetstream.get()) {
            let mut v = js.stream_info(self, &super::info::InfoOpts::default());
            if let serde_json::Value::Object(o) = &mut v {
                o.insert("did_create".into(), serde_json::json!(true));
            }
            let body = serde_json::to_vec(&super::info::typed("stream_create_response", v))
                .unwrap_or_default();
            js.count_api(false);
            server.publish(
                &self.account,
                &Message {
                    subject: reply.as_bytes(),
                    reply: None,
                    headers: None,
                    payload: &body,
                },
            );
        }
    }

    /// Makes the first leader answer the STREAM.CREATE request at `reply`.
    pub fn set_create_reply(&self, reply: String) {
        *self.create_reply.lock() = Some(reply);
    }

    fn become_follower(&self, server: &ServerShared) {
        if !self.leading.swap(false, Ordering::AcqRel) {
            return;
        }
        tracing::info!("stream leader no longer here");
        self.unsubscribe(server);
        self.stop_consumers(server);
    }

    /// Proposes operations through the stream's group; their results once committed
    /// on a quorum and applied here.
    pub async fn propose_ops(
        &self,
        ops: Vec<Op>,
    ) -> Result<Vec<Result<OpResult, ApiError>>, ApiError> {
        Ok(self
            .propose_decided(ops)
            .await?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    /// [`Stream::propose_ops`] with each stored message's previous sequence on its
    /// subject.
    pub async fn propose_decided(
        &self,
        ops: Vec<Op>,
    ) -> Result<Vec<super::cmd::Decided>, ApiError> {
        let Some(g) = self.group.get() else {
            return Err(ApiError::stream_unavailable(&self.name, "replica starting"));
        };
        match g.propose(super::cmd::encode_ops(ops)).await {
            Ok(r) => super::cmd::decode_outcomes(&r).map_err(ApiError::general),
            Err(crate::raft::ProposeError::Stopped(why)) => Err(ApiError::stream_unavailable(
                &self.name,
                &format!("replica stopped: {why}"),
            )),
            Err(_) => Err(ApiError::stream_unavailable(&self.name, &g.unavailable())),
        }
    }

    /// [`Stream::propose_ops`] for one operation.
    pub async fn propose_one(&self, op: Op) -> Result<OpResult, ApiError> {
        self.propose_ops(vec![op])
            .await?
            .pop()
            .unwrap_or_else(|| Err(ApiError::general("no outcome".to_string())))
    }

    /// Proposes without waiting (retention removals triggered by acks).
    pub fn propose_background(self: &Arc<Self>, ops: Vec<Op>) {
        if ops.is_empty() {
            return;
        }
        let s = self.clone();
        self.tasks.spawn(async move {
            if let Err(e) = s.propose_ops(ops).await {
                debug!(error = %e, "background proposal failed");
            }
        });
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

    /// When the oldest message expires, if the stream has a max age (the leader
    /// proposes expiry; followers apply it).
    pub(crate) fn next_expiry(&self) -> Option<Duration> {
        if !self.is_leader() {
            return None;
        }
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

/// The answer to a direct get on `subject` (`$JS.API.DIRECT.GET.<stream>` with a JSON
/// request, or `...<stream>.<subject>` for the last message on that subject).
pub(crate) fn direct_answer(
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
pub(crate) fn apply_counted(
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
pub(crate) fn check_limits(
    account: &Account,
    state: &StreamState,
    op: &Op,
) -> Result<(), ApiError> {
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
