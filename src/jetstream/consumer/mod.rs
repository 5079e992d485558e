//! JetStream consumers: one [`Consumer`] per (stream, name), each with its own task
//! that delivers the stream's messages (push to a deliver subject, or pull to the
//! inboxes of waiting requests), tracks acknowledgements and redelivers.
//!
//! Owns: consumer configuration and state, the `$JS.ACK.<stream>.<consumer>.>`,
//! `$JS.FC.<stream>.<consumer>.>` and `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`
//! subscriptions, consumer records in the `meta` column family (`c` + stream id +
//! name), and consumer advisories.
//! Must not: change a stream's messages except through `Stream::apply_op` (retention
//! removals), or hold its own lock while locking another consumer.
//!
//! Start here: `runner.rs` (the task: inbound acks and pull requests, timers,
//! delivery), `wake.rs` (what wakes the task), `state.rs` (the deterministic state),
//! `api.rs` (CONSUMER.* requests).

pub mod advisory;
pub mod api;
pub mod config;
pub mod pull;
pub mod read_ahead;
pub mod registry;
pub mod runner;
pub mod state;
pub mod wake;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::server::client::{ClientHandle, InternalMsg};
use crate::server::subscription::Subscription;
use crate::server::ServerShared;
use crate::store::{Batch, Cf};

use super::errors::ApiError;
use super::info::ts_string;
use super::stream::Stream;

use self::config::{AckPolicy, ConsumerConfig, DeliverPolicy};
use self::pull::PullRequest;
use self::state::{ConsumerOp, ConsumerOpResult, ConsumerState};

/// Capacity of a consumer's inbound queue (acks, pull requests, flow control).
pub const INBOUND_CAPACITY: usize = 64 * 1024;

/// A consumer record as persisted in the `meta` column family.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsumerRecord {
    pub name: String,
    pub created: i64,
    pub config: ConsumerConfig,
    pub state: ConsumerState,
}

/// The `meta` key of a consumer of stream `stream_id`.
pub fn record_key(stream_id: u64, name: &str) -> Vec<u8> {
    let mut k = b"c".to_vec();
    k.extend_from_slice(&stream_id.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// The key range holding every consumer of stream `stream_id`.
pub fn record_range(stream_id: u64) -> (Vec<u8>, Vec<u8>) {
    let mut from = b"c".to_vec();
    from.extend_from_slice(&stream_id.to_be_bytes());
    let mut to = b"c".to_vec();
    to.extend_from_slice(&(stream_id + 1).to_be_bytes());
    (from, to)
}

/// Everything about a consumer that changes, behind one lock.
pub struct ConsumerCore {
    pub config: ConsumerConfig,
    pub state: ConsumerState,
    /// The next stream sequence to look at for a first delivery.
    pub(crate) next_seq: u64,
    /// Sequences to deliver first (deliver policy last_per_subject).
    pub(crate) lps: VecDeque<u64>,
    /// Upcoming messages read in one scan (unfiltered consumers).
    pub(crate) ahead: read_ahead::ReadAhead,
    /// Waiting pull requests, oldest first.
    pub(crate) waiting: VecDeque<PullRequest>,
    /// Pending messages due for redelivery, by stream sequence.
    pub(crate) rdq: BTreeSet<u64>,
    /// Redelivery deadlines of pending messages.
    pub(crate) deadlines: BTreeSet<(Instant, u64)>,
    pub(crate) deadline_of: HashMap<u64, Instant>,
    /// Outstanding flow-control reply subject (push with flow_control).
    pub(crate) fc_pending: Option<String>,
    pub(crate) fc_bytes: u64,
    /// Last time anything went to the deliver subject (push heartbeats).
    pub(crate) last_send: Instant,
    /// Last sign of a client (interest, pull request, ack): for inactive_threshold.
    pub(crate) last_activity: Instant,
    /// Push: whether the deliver subject had interest at the last delivery pass.
    pub(crate) bound: bool,
    /// State changed since it was last persisted.
    pub(crate) dirty: bool,
    pub(crate) last_persist: Instant,
    /// replay_policy original: when the last message went and its stored time.
    pub(crate) replay_last: Option<(Instant, i64)>,
    /// replay_policy original: the next message may not go before this.
    pub(crate) replay_wait: Option<Instant>,
    /// Max deliveries advisories already sent (by stream sequence).
    pub(crate) exceeded: BTreeSet<u64>,
}

impl ConsumerCore {
    fn new(config: ConsumerConfig, state: ConsumerState, now: Instant) -> Self {
        let next_seq = state.delivered.stream_seq + 1;
        ConsumerCore {
            config,
            state,
            next_seq,
            lps: VecDeque::new(),
            ahead: read_ahead::ReadAhead::default(),
            waiting: VecDeque::new(),
            rdq: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            deadline_of: HashMap::new(),
            fc_pending: None,
            fc_bytes: 0,
            last_send: now,
            last_activity: now,
            bound: false,
            dirty: false,
            last_persist: now,
            replay_last: None,
            replay_wait: None,
            exceeded: BTreeSet::new(),
        }
    }

    /// Applies one state operation and marks the state for persisting.
    pub(crate) fn apply(&mut self, op: ConsumerOp) -> ConsumerOpResult {
        self.dirty = true;
        state::apply(&mut self.state, self.config.ack_policy, op)
    }

    /// Sets (or replaces) the redelivery deadline of `sseq`.
    pub(crate) fn set_deadline(&mut self, sseq: u64, at: Instant) {
        if let Some(old) = self.deadline_of.insert(sseq, at) {
            self.deadlines.remove(&(old, sseq));
        }
        self.deadlines.insert((at, sseq));
    }

    pub(crate) fn clear_deadline(&mut self, sseq: u64) {
        if let Some(old) = self.deadline_of.remove(&sseq) {
            self.deadlines.remove(&(old, sseq));
        }
        self.rdq.remove(&sseq);
    }

    /// How long to wait before the `count`-th delivery of a message is due again.
    pub(crate) fn ack_wait_for(&self, count: u64) -> Duration {
        let b = &self.config.backoff;
        let ns = if b.is_empty() {
            self.config.ack_wait
        } else {
            let i = (count.saturating_sub(1) as usize).min(b.len() - 1);
            b[i]
        };
        // An ack-none consumer has no ack_wait (as in nats-server); it never waits.
        let ns = if ns <= 0 {
            config::DEFAULT_ACK_WAIT
        } else {
            ns
        };
        Duration::from_nanos(ns as u64)
    }
}

/// One consumer and what keeps it running.
pub struct Consumer {
    pub name: String,
    pub stream: Arc<Stream>,
    /// Unix nanoseconds.
    pub created: i64,
    pub core: Mutex<ConsumerCore>,
    /// Its own inbound queue, for requests that arrive through the API service (e.g.
    /// pull requests on a domain-prefixed subject).
    pub tx: mpsc::Sender<InternalMsg>,
    client: Arc<ClientHandle>,
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// Wakes the task: new durable messages in the stream, a new or changed consumer,
    /// pruning. (A permit is kept when the task is busy, so no wake is lost.)
    pub wake: Notify,
    stop: CancellationToken,
}

impl Consumer {
    /// Creates the consumer object, subscribes its subjects and starts its task.
    pub fn start(
        server: &Arc<ServerShared>,
        stream: Arc<Stream>,
        name: String,
        created: i64,
        config: ConsumerConfig,
        state: ConsumerState,
        initial: Option<VecDeque<u64>>,
    ) -> Result<Arc<Consumer>, ApiError> {
        let (tx, rx) = mpsc::channel(INBOUND_CAPACITY);
        let client = server.internal_client(&stream.account, tx.clone());
        let now = Instant::now();
        let mut core = ConsumerCore::new(config, state, now);
        if let Some(lps) = initial {
            core.lps = lps;
        }
        // Pending messages from before a restart are due after their ack wait.
        let now_ns = super::stream::now_ns();
        let pending: Vec<(u64, i64)> = core.state.pending.iter().map(|(s, p)| (*s, p.ts)).collect();
        for (sseq, ts) in pending {
            let wait = core.ack_wait_for(core.state.deliveries(sseq)).as_nanos() as i64;
            let left = (ts + wait - now_ns).max(0) as u64;
            core.set_deadline(sseq, now + Duration::from_nanos(left));
        }
        let consumer = Arc::new(Consumer {
            name: name.clone(),
            stream: stream.clone(),
            created,
            core: Mutex::new(core),
            tx,
            client,
            subs: Mutex::new(Vec::new()),
            wake: Notify::new(),
            stop: stream.stop_token().child_token(),
        });
        consumer.subscribe(server)?;
        // The first pass goes at once: a new consumer may have messages to deliver.
        consumer.wake.notify_one();
        let span = tracing::info_span!("consumer", stream = %stream.name, name = %name);
        stream
            .tasks()
            .spawn(runner::run(server.clone(), consumer.clone(), rx).instrument(span));
        Ok(consumer)
    }

    fn subscribe(&self, server: &ServerShared) -> Result<(), ApiError> {
        let s = &self.stream.name;
        let c = &self.name;
        let mut subs = self.subs.lock();
        for (subject, sid) in [
            (format!("$JS.ACK.{s}.{c}.>"), runner::SID_ACK),
            (format!("$JS.FC.{s}.{c}.>"), runner::SID_FC),
            (
                format!("$JS.API.CONSUMER.MSG.NEXT.{s}.{c}"),
                runner::SID_NEXT,
            ),
        ] {
            let sub = server
                .subscribe_internal(&self.client, &subject, None, sid)
                .map_err(|e| ApiError::consumer_create(format!("subscribe {subject}: {e}")))?;
            subs.push(sub);
        }
        Ok(())
    }

    /// Stops the task and drops the subscriptions (the record stays).
    pub fn stop(&self, server: &ServerShared) {
        for s in self.subs.lock().drain(..) {
            server.unsubscribe_internal(&s);
        }
        self.stop.cancel();
    }

    pub fn config(&self) -> ConsumerConfig {
        self.core.lock().config.clone()
    }

    /// Whether this consumer is done with stream sequence `sseq` on `subject` (true
    /// when its filter does not cover the subject).
    pub fn done_with(&self, sseq: u64, subject: &str) -> bool {
        let core = self.core.lock();
        !core.config.matches(subject) || core.state.has_acked(sseq, core.config.ack_policy)
    }

    /// Whether the consumer's state lives only in memory.
    pub fn is_memory(&self) -> bool {
        self.core.lock().config.mem_storage
            || self.stream.storage() == super::config::Storage::Memory
    }

    /// Writes the consumer's record (config and state) to the store.
    pub fn persist(&self) -> Result<(), ApiError> {
        if self.is_memory() {
            self.core.lock().dirty = false;
            return Ok(());
        }
        let rec = {
            let mut core = self.core.lock();
            core.dirty = false;
            core.last_persist = Instant::now();
            ConsumerRecord {
                name: self.name.clone(),
                created: self.created,
                config: core.config.clone(),
                state: core.state.clone(),
            }
        };
        let mut b = Batch::default();
        b.put(
            Cf::Meta,
            record_key(self.stream.id, &self.name),
            serde_json::to_vec(&rec).unwrap_or_default(),
        );
        self.stream
            .db
            .write(b)
            .map_err(ApiError::consumer_store_failed)
    }

    /// Removes the consumer's record.
    pub fn erase(&self) -> Result<(), ApiError> {
        let mut b = Batch::default();
        b.delete(Cf::Meta, record_key(self.stream.id, &self.name));
        self.stream
            .db
            .write(b)
            .map_err(ApiError::consumer_store_failed)
    }

    /// The ConsumerInfo body (without `type`).
    pub fn info(&self, server_name: &str) -> Value {
        let (mut v, push) = {
            let core = self.core.lock();
            let st = &core.state;
            let pair = |p: &state::SeqPair, ts: i64| {
                let mut o = json!({ "consumer_seq": p.consumer_seq, "stream_seq": p.stream_seq });
                if ts > 0 {
                    o["last_active"] = json!(ts_string(ts));
                }
                o
            };
            let num_pending = runner::num_pending(&self.stream, &core);
            (
                json!({
                    "stream_name": self.stream.name,
                    "name": self.name,
                    "created": ts_string(self.created),
                    "config": core.config,
                    "delivered": pair(&st.delivered, st.last_delivered_ts),
                    "ack_floor": pair(&st.ack_floor, st.last_ack_ts),
                    "num_ack_pending": st.pending.len(),
                    "num_redelivered": st.redelivered.len(),
                    "num_waiting": core.waiting.len(),
                    "num_pending": num_pending,
                    "cluster": { "leader": server_name },
                    "ts": crate::util::time::rfc3339(std::time::SystemTime::now()),
                }),
                // Looked up now: nothing reports a subscriber leaving to the task.
                core.config
                    .deliver_subject
                    .as_deref()
                    .map(|d| self.stream.account.sublist.has_interest(d)),
            )
        };
        if let Some(bound) = push {
            v["push_bound"] = json!(bound);
        }
        v
    }

    /// Drops pending entries whose messages the stream no longer has (after a purge
    /// or a limit removed them) and moves past the stream's first sequence.
    pub fn prune(&self) {
        let mut core = self.core.lock();
        let (first, gone) = {
            let sc = self.stream.core.lock();
            let st = &sc.state;
            let gone: Vec<u64> = core
                .state
                .pending
                .keys()
                .copied()
                .filter(|s| *s < st.first_seq || st.deleted.contains(s) || *s > st.last_seq)
                .collect();
            (st.first_seq, gone)
        };
        core.apply(ConsumerOp::StreamFirst { first });
        for s in gone {
            core.apply(ConsumerOp::Drop { sseq: s });
            core.clear_deadline(s);
        }
        core.next_seq = core.next_seq.max(first);
        core.lps.retain(|s| *s >= first);
        drop(core);
        self.wake.notify_one();
    }
}

/// Where a new consumer starts, from its deliver policy and the stream's state:
/// (first stream sequence to consider, last-per-subject sequences to deliver first).
pub fn start_position(
    stream: &Stream,
    cfg: &ConsumerConfig,
) -> Result<(u64, Option<VecDeque<u64>>), ApiError> {
    let core = stream.core.lock();
    let st = &core.state;
    let store = core.store.as_ref();
    let first = st.first_seq.max(1);
    let err = |e: crate::store::StoreError| ApiError::consumer_store_failed(e);
    Ok(match cfg.deliver_policy {
        DeliverPolicy::All => (first, None),
        DeliverPolicy::New => (st.last_seq + 1, None),
        DeliverPolicy::ByStartSequence => (cfg.opt_start_seq.unwrap_or(1).max(1), None),
        DeliverPolicy::Last => {
            let filters = cfg.filters();
            let last = if filters.is_empty() {
                st.last_seq
            } else {
                st.subjects
                    .iter()
                    .filter(|(s, _)| cfg.matches(s))
                    .map(|(_, ss)| ss.last)
                    .max()
                    .unwrap_or(st.last_seq + 1)
            };
            (last.max(1), None)
        }
        DeliverPolicy::LastPerSubject => {
            let mut seqs: Vec<u64> = st
                .subjects
                .iter()
                .filter(|(s, _)| cfg.matches(s))
                .map(|(_, ss)| ss.last)
                .collect();
            seqs.sort_unstable();
            (st.last_seq + 1, Some(seqs.into_iter().collect()))
        }
        DeliverPolicy::ByStartTime => {
            let t = cfg.start_time_ns().unwrap_or(0);
            // Binary search over sequences: timestamps grow with sequence numbers.
            let (mut lo, mut hi) = (first, st.last_seq + 1);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let probe = store.scan_from(mid, 1).map_err(err)?;
                let Some((seq, _)) = probe.first().map(|(s, n)| (*s, n.clone())) else {
                    hi = mid;
                    continue;
                };
                let ts = store.get(seq).map_err(err)?.map_or(i64::MAX, |m| m.ts);
                if ts >= t {
                    hi = mid;
                } else {
                    lo = seq + 1;
                }
            }
            (lo, None)
        }
    })
}

/// Whether `policy` requires acknowledgements.
pub fn acks_required(policy: AckPolicy) -> bool {
    policy != AckPolicy::None
}
