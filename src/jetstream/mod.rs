//! JetStream: streams replicated by Raft (one openraft group per stream, a meta group
//! for which streams exist and where), the `$JS.API` surface, publish
//! acknowledgements and limits. A node without routes runs the same code with groups
//! of one.
//!
//! Owns: the registry of this node's stream replicas, the API services (one internal
//! subscription on `$JS.API.>` per account, answered by the meta leader or the stream
//! leader only), the meta state, and the shutdown order (stop streams, stop Raft,
//! close the database).
//! Must not: import `rocksdb` (storage goes through `crate::store`) or `openraft`
//! (consensus goes through `crate::raft::Group`), read the clock inside `apply`, or
//! block the runtime on disk while holding a stream lock longer than one small write.
//!
//! Start here: `publish.rs` (the publish path), `replica.rs` (applying committed
//! entries), `meta.rs` (stream placement), `reconcile.rs` (starting/removing
//! replicas), `apply.rs` (every state change), `api.rs` (requests).

pub mod api;
pub mod apply;
pub mod bootstrap;
pub mod cmd;
pub mod config;
pub mod consumer;
pub mod errors;
pub mod file_store;
pub mod info;
pub mod limits;
pub mod meta;
pub mod msgstore;
pub mod ops;
pub mod proto;
pub mod publish;
pub mod reconcile;
pub mod replica;
pub mod republish;
pub mod stream;
pub mod streams_api;
pub mod transport;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::cluster::Cluster;
use crate::config::{JetStreamConfig, SyncInterval};
use crate::raft::{Group, Initialize, RaftNode, RaftSettings};
use crate::server::account::Account;
use crate::server::ServerShared;
use crate::store::{Db, StoreError};

use self::config::{Storage, StreamConfig};
use self::errors::ApiError;
use self::meta::MetaState;
use self::stream::Stream;

/// Capacity of an account's API request queue.
const API_QUEUE: usize = 4096;

/// The JetStream subsystem of one server.
pub struct JetStream {
    pub db: Arc<Db>,
    pub config: JetStreamConfig,
    pub store_dir: PathBuf,
    /// This node's stream replicas.
    streams: RwLock<BTreeMap<(String, String), Arc<Stream>>>,
    api_total: AtomicU64,
    api_errors: AtomicU64,
    /// Stream tasks and API services; waited for before Raft stops.
    pub tasks: TaskTracker,
    pub raft: Arc<RaftNode>,
    pub meta: Arc<MetaState>,
    meta_group: OnceLock<Arc<dyn Group>>,
    pub cluster: Option<Arc<Cluster>>,
    /// This server's name (stream info, /jsz).
    pub server_name: String,
}

/// Why JetStream could not start.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    #[error("jetstream: cannot open store in {dir}: {source}")]
    Open { dir: String, source: StoreError },
    #[error("jetstream: {0}")]
    Load(StoreError),
    #[error("jetstream: {0}")]
    Identity(String),
    #[error("jetstream: {0}")]
    Raft(String),
}

/// Totals for /jsz and /varz.
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    pub memory: u64,
    pub storage: u64,
    pub streams: u64,
    pub messages: u64,
    pub bytes: u64,
    pub accounts: u64,
    pub consumers: u64,
}

impl JetStream {
    /// Opens the store, starts Raft (the meta group and this node's stream replicas)
    /// and the API services. `None` when JetStream is not enabled.
    pub async fn start(
        server: &Arc<ServerShared>,
    ) -> Result<Option<Arc<JetStream>>, JetStreamError> {
        let Some(cfg) = server.config.jetstream.clone().filter(|j| j.enabled) else {
            return Ok(None);
        };
        let store_dir = cfg
            .store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nats").join("jetstream"));
        let db_dir = store_dir.join("natrium.rocksdb");
        let db_existed = db_dir.join("CURRENT").exists();
        let interval = match cfg.sync_interval {
            SyncInterval::Always => None,
            SyncInterval::Every(d) => Some(d),
        };
        let raft_id = crate::raft::identity::load_or_create(&store_dir, db_existed)
            .map_err(JetStreamError::Identity)?;
        let db = Db::open(&db_dir, interval).map_err(|source| JetStreamError::Open {
            dir: db_dir.display().to_string(),
            source,
        })?;
        let cluster = server.cluster.clone();
        let transport: Arc<dyn crate::raft::Transport> = match &cluster {
            Some(c) => {
                c.set_raft_id(raft_id);
                Arc::new(transport::RouteTransport(c.clone()))
            }
            None => Arc::new(transport::NoPeers),
        };
        let raft = RaftNode::new(raft_id, db.clone(), transport);
        if let Some(c) = &cluster {
            c.set_raft(Arc::new(transport::FramesToRaft(raft.clone())));
        }
        let meta = MetaState::load(db.clone()).map_err(JetStreamError::Load)?;
        let js = Arc::new(JetStream {
            db,
            config: cfg,
            store_dir,
            streams: RwLock::new(BTreeMap::new()),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            tasks: TaskTracker::new(),
            raft: raft.clone(),
            meta: meta.clone(),
            meta_group: OnceLock::new(),
            cluster: cluster.clone(),
            server_name: server.name.clone(),
        });
        // A node without routes is a cluster of one: its meta group is initialized
        // here; clustered nodes agree on who initializes it (bootstrap.rs).
        let standalone = cluster.is_none();
        let members = std::iter::once(raft_id).collect();
        let meta_group = raft
            .start_group(
                0,
                "meta".into(),
                &members,
                if standalone {
                    Initialize::Now
                } else {
                    Initialize::Never
                },
                Arc::new(meta::MetaFsm(meta.clone())),
                RaftSettings::from_env(RaftSettings::DEFAULT),
            )
            .await
            .map_err(|e| JetStreamError::Raft(e.to_string()))?;
        let _ = js.meta_group.set(meta_group.clone());
        if let Some(c) = &cluster {
            if meta_group.is_initialized() {
                c.set_meta_initialized();
            }
            js.tasks.spawn(bootstrap::run(server.clone(), js.clone()));
        }
        js.start_api(server);
        js.tasks.spawn(reconcile::run(server.clone(), js.clone()));
        if standalone {
            // Serve only once this node leads its groups (immediately, in practice).
            js.wait_ready(std::time::Duration::from_secs(10)).await;
        }
        // Shutdown order: streams and API stop with the server's token; then Raft;
        // then the database gets its last fsync and closes.
        let closer = js.clone();
        let token = server.shutdown.clone();
        server.tasks.spawn(async move {
            token.cancelled().await;
            closer.tasks.close();
            closer.tasks.wait().await;
            closer.raft.shutdown().await;
            closer.db.close();
            info!("JetStream store closed");
        });
        info!(dir = %js.store_dir.display(), raft_id, "JetStream started");
        Ok(Some(js))
    }

    fn start_api(self: &Arc<Self>, server: &Arc<ServerShared>) {
        for account in server.accounts.iter() {
            if account.name == server.accounts.system_name() {
                continue;
            }
            let (tx, rx) = tokio::sync::mpsc::channel(API_QUEUE);
            let client = server.internal_client(account, tx);
            if let Err(e) = server.subscribe_internal(&client, "$JS.API.>", None, "api") {
                error!(account = %account.name, error = %e, "cannot subscribe the JetStream API");
                continue;
            }
            // With a domain, `$JS.<domain>.API.>` is the same API (nats-server maps it).
            if let Some(d) = &self.config.domain {
                let subject = format!("$JS.{d}.API.>");
                if let Err(e) = server.subscribe_internal(&client, &subject, None, "api-domain") {
                    error!(account = %account.name, error = %e, "cannot subscribe the JetStream domain API");
                }
            }
            if account.jetstream {
                self.tasks.spawn(api::serve(
                    server.clone(),
                    self.clone(),
                    account.clone(),
                    rx,
                ));
            } else {
                self.tasks
                    .spawn(api::serve_disabled(server.clone(), account.clone(), rx));
            }
        }
    }

    /// Waits (up to `limit`) until the meta group and every local stream have a leader
    /// and every assigned replica runs here.
    pub async fn wait_ready(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            let meta_ok = self.meta_group().is_some_and(|g| g.leader().is_some());
            let assigned = self
                .meta
                .all()
                .iter()
                .filter(|a| a.peers.contains(&self.raft.id))
                .count();
            let streams = self.all_streams();
            let streams_ok = streams.len() == assigned
                && streams.iter().all(|s| {
                    s.group().is_some_and(|g| g.leader().is_some())
                        && (s.is_leader()
                            || s.group().is_some_and(|g| g.leader() != Some(g.node())))
                });
            if meta_ok && streams_ok {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The meta group.
    pub fn meta_group(&self) -> Option<&Arc<dyn Group>> {
        self.meta_group.get()
    }

    /// Whether this node is the meta leader (it answers the account-wide requests).
    pub fn is_meta_leader(&self) -> bool {
        self.meta_group().is_some_and(|g| g.is_leader())
    }

    /// The server name of a Raft node (this one or a connected peer).
    pub fn name_of(&self, id: crate::raft::NodeId) -> String {
        if id == self.raft.id {
            return self.server_name.clone();
        }
        self.cluster
            .as_ref()
            .and_then(|c| c.peer_name_of(id))
            .unwrap_or_else(|| format!("node-{id}"))
    }

    /// Raft ids of the JetStream nodes that can take a replica now: this node and the
    /// connected peers that are meta members.
    pub fn placement_candidates(&self) -> Vec<crate::raft::NodeId> {
        let mut v = vec![self.raft.id];
        if let Some(c) = &self.cluster {
            let voters = self.meta_group().map(|g| g.voters()).unwrap_or_default();
            for p in c.jetstream_peers() {
                if voters.contains(&p.raft_id) {
                    v.push(p.raft_id);
                }
            }
        }
        v
    }

    /// `/jsz`'s `meta_cluster`.
    pub fn meta_cluster_json(&self) -> Value {
        let Some(g) = self.meta_group() else {
            return Value::Null;
        };
        let st = g.status();
        let replicas: Vec<Value> = st
            .voters
            .iter()
            .filter(|v| **v != self.raft.id)
            .map(|v| {
                let online = self
                    .cluster
                    .as_ref()
                    .is_some_and(|c| c.peer_name_of(*v).is_some());
                json!({ "name": self.name_of(*v), "current": online, "offline": !online, "peer": v.to_string() })
            })
            .collect();
        json!({
            "name": self.cluster.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            "leader": st.leader.map(|l| self.name_of(l)),
            "peer": self.raft.id.to_string(),
            "replicas": replicas,
            "cluster_size": st.voters.len(),
        })
    }

    pub(crate) fn count_api(&self, error: bool) {
        self.api_total.fetch_add(1, Ordering::Relaxed);
        if error {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (total, errors) API requests.
    pub fn api_stats(&self) -> (u64, u64) {
        (
            self.api_total.load(Ordering::Relaxed),
            self.api_errors.load(Ordering::Relaxed),
        )
    }

    pub fn stream(&self, account: &Account, name: &str) -> Option<Arc<Stream>> {
        self.streams
            .read()
            .get(&(account.name.clone(), name.to_string()))
            .cloned()
    }

    /// The local replica with stream id `id`.
    pub fn stream_by_id(&self, id: u64) -> Option<Arc<Stream>> {
        self.streams.read().values().find(|s| s.id == id).cloned()
    }

    pub(crate) fn insert_stream(&self, s: Arc<Stream>) {
        self.streams
            .write()
            .insert((s.account.name.clone(), s.name.clone()), s);
    }

    pub(crate) fn remove_stream(&self, s: &Stream) {
        let mut map = self.streams.write();
        let k = (s.account.name.clone(), s.name.clone());
        if map.get(&k).is_some_and(|x| x.id == s.id) {
            map.remove(&k);
        }
    }

    /// Every stream, in (account, name) order.
    pub fn all_streams(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    /// Names of the account's streams (cluster-wide), optionally only those whose
    /// subjects overlap `subject`.
    pub fn stream_names(&self, account: &Account, subject: Option<&str>) -> Vec<String> {
        self.meta
            .of_account(&account.name)
            .into_iter()
            .filter(|a| match subject.filter(|f| !f.is_empty()) {
                None => true,
                Some(f) => a
                    .config
                    .subjects
                    .iter()
                    .any(|x| crate::subject::subjects_overlap(f, x)),
            })
            .map(|a| a.config.name)
            .collect()
    }

    /// Usage of one account (or all when `None`).
    pub fn usage(&self, account: Option<&str>) -> Usage {
        let mut u = Usage::default();
        let mut accounts = std::collections::BTreeSet::new();
        for ((a, _), s) in self.streams.read().iter() {
            if account.is_some_and(|x| x != a.as_str()) {
                continue;
            }
            accounts.insert(a.clone());
            u.consumers += s.consumer_count() as u64;
            let core = s.core.lock();
            u.streams += 1;
            u.messages += core.state.msgs;
            u.bytes += core.state.bytes;
            match core.state.config.storage {
                Storage::File => u.storage += core.state.bytes,
                Storage::Memory => u.memory += core.state.bytes,
            }
        }
        u.accounts = accounts.len() as u64;
        u
    }

    /// The `$JS.API.INFO` body.
    pub fn account_info(&self, server: &ServerShared, account: &Account) -> Value {
        let u = self.usage(Some(&account.name));
        let (total, errors) = self.api_stats();
        let lim = Self::limits(server, account);
        let mut v = json!({
            "memory": u.memory,
            "storage": u.storage,
            "reserved_memory": self.reserved(Some(&account.name), Storage::Memory, ("", "")),
            "reserved_storage": self.reserved(Some(&account.name), Storage::File, ("", "")),
            "streams": u.streams,
            "consumers": self.consumer_total(account),
            "limits": {
                "max_memory": lim.0,
                "max_storage": lim.1,
                "max_streams": lim.2,
                "max_consumers": lim.3,
                "max_ack_pending": -1,
                "memory_max_stream_bytes": -1,
                "storage_max_stream_bytes": -1,
                "max_bytes_required": false,
            },
            "api": { "total": total, "errors": errors },
        });
        if let (Some(d), Value::Object(o)) = (&self.config.domain, &mut v) {
            o.insert("domain".into(), json!(d));
        }
        v
    }

    /// Consumers of all the account's streams.
    pub fn consumer_total(&self, account: &Account) -> usize {
        self.streams
            .read()
            .iter()
            .filter(|((a, _), _)| *a == account.name)
            .map(|(_, s)| s.consumer_count())
            .sum()
    }

    /// The account's consumer limit (-1 = none).
    pub fn account_max_consumers(&self, server: &ServerShared, account: &Account) -> i64 {
        Self::limits(server, account).3
    }

    /// (max_memory, max_storage, max_streams, max_consumers) for an account; -1 = none.
    pub(crate) fn limits(_server: &ServerShared, account: &Account) -> (i64, i64, i64, i64) {
        let j = &account.js;
        let lim = |v: Option<i64>| v.unwrap_or(-1);
        (
            lim(j.max_memory),
            lim(j.max_file),
            lim(j.max_streams),
            lim(j.max_consumers),
        )
    }

    /// Bytes reserved (`max_bytes` > 0) by streams of `storage`, of one account or of
    /// all, leaving out the stream `except` (account, name).
    fn reserved(&self, account: Option<&str>, storage: Storage, except: (&str, &str)) -> i64 {
        self.meta
            .all()
            .iter()
            .filter(|a| (a.account.as_str(), a.config.name.as_str()) != except)
            .filter(|a| account.map_or(true, |x| x == a.account))
            .map(|a| &a.config)
            .filter(|c| c.storage == storage && c.max_bytes > 0)
            .map(|c| c.max_bytes)
            .sum()
    }

    /// Refuses a stream whose `max_bytes` the account or server cannot reserve.
    pub(crate) fn check_reserve(
        &self,
        account: &Account,
        cfg: &StreamConfig,
    ) -> Result<(), ApiError> {
        let except = (account.name.as_str(), cfg.name.as_str());
        account.js.check_reserve(
            cfg.storage,
            cfg.max_bytes,
            self.reserved(Some(&account.name), cfg.storage, except),
            self.reserved(None, cfg.storage, except),
        )
    }
}
