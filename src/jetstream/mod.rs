//! JetStream on a single node (R1): streams stored in the node's RocksDB (file storage)
//! or in memory, the `$JS.API` stream surface, publish acknowledgements and limits.
//!
//! Owns: the registry of streams per account, the API services (one internal
//! subscription on `$JS.API.>` per account), stream definitions in the `meta` column
//! family, and the shutdown order (stop streams, then close the database).
//! Must not: import `rocksdb` (storage goes through `crate::store`), read the clock
//! inside `apply`, or block the runtime on disk while holding a stream lock longer
//! than one small write.
//!
//! Start here: `stream.rs` (the publish path), `apply.rs` (every state change),
//! `api.rs` (requests), `msgstore.rs`/`file_store.rs` (storage).

pub mod api;
pub mod apply;
pub mod config;
pub mod consumer;
pub mod errors;
pub mod file_store;
pub mod info;
pub mod limits;
pub mod msgstore;
pub mod ops;
pub mod republish;
pub mod stream;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{JetStreamConfig, SyncInterval};
use crate::server::account::Account;
use crate::server::ServerShared;
use crate::store::{Batch, Cf, Db, StoreError};

use self::apply::StreamState;
use self::config::{Storage, StreamConfig};
use self::errors::ApiError;
use self::info::InfoOpts;
use self::stream::Stream;

/// Capacity of an account's API request queue.
const API_QUEUE: usize = 4096;

/// A stream definition as persisted in the `meta` column family.
#[derive(Debug, Serialize, Deserialize)]
struct StreamMeta {
    id: u64,
    account: String,
    created: i64,
    config: StreamConfig,
}

fn meta_key(id: u64) -> Vec<u8> {
    let mut k = b"s".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The JetStream subsystem of one server.
pub struct JetStream {
    pub db: Arc<Db>,
    pub config: JetStreamConfig,
    pub store_dir: PathBuf,
    streams: RwLock<BTreeMap<(String, String), Arc<Stream>>>,
    next_id: AtomicU64,
    api_total: AtomicU64,
    api_errors: AtomicU64,
    /// Stream tasks and API services; waited for before the database closes.
    pub tasks: TaskTracker,
}

/// Why JetStream could not start.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    #[error("jetstream: cannot open store in {dir}: {source}")]
    Open { dir: String, source: StoreError },
    #[error("jetstream: {0}")]
    Load(StoreError),
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
    /// Opens the store, loads the streams and starts the API services. `None` when
    /// JetStream is not enabled.
    pub fn start(server: &Arc<ServerShared>) -> Result<Option<Arc<JetStream>>, JetStreamError> {
        let Some(cfg) = server.config.jetstream.clone().filter(|j| j.enabled) else {
            return Ok(None);
        };
        let store_dir = cfg
            .store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nats").join("jetstream"));
        let db_dir = store_dir.join("natrium.rocksdb");
        let interval = match cfg.sync_interval {
            SyncInterval::Always => None,
            SyncInterval::Every(d) => Some(d),
        };
        let db = Db::open(&db_dir, interval).map_err(|source| JetStreamError::Open {
            dir: db_dir.display().to_string(),
            source,
        })?;
        let js = Arc::new(JetStream {
            db,
            config: cfg,
            store_dir,
            streams: RwLock::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            tasks: TaskTracker::new(),
        });
        js.load_streams(server).map_err(JetStreamError::Load)?;
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
            if let Some(d) = &js.config.domain {
                let subject = format!("$JS.{d}.API.>");
                if let Err(e) = server.subscribe_internal(&client, &subject, None, "api-domain") {
                    error!(account = %account.name, error = %e, "cannot subscribe the JetStream domain API");
                }
            }
            if account.jetstream {
                js.tasks
                    .spawn(api::serve(server.clone(), js.clone(), account.clone(), rx));
            } else {
                js.tasks
                    .spawn(api::serve_disabled(server.clone(), account.clone(), rx));
            }
        }
        // Shutdown order: the streams and API stop with the server's token; then the
        // database gets its last fsync and closes.
        let closer = js.clone();
        let token = server.shutdown.clone();
        server.tasks.spawn(async move {
            token.cancelled().await;
            closer.tasks.close();
            closer.tasks.wait().await;
            closer.db.close();
            info!("JetStream store closed");
        });
        info!(dir = %js.store_dir.display(), streams = js.streams.read().len(), "JetStream started");
        Ok(Some(js))
    }

    fn load_streams(&self, server: &Arc<ServerShared>) -> Result<(), StoreError> {
        let mut metas = Vec::new();
        self.db.scan(Cf::Meta, b"s", b"t", |_, v| {
            match serde_json::from_slice::<StreamMeta>(v) {
                Ok(m) => metas.push(m),
                Err(e) => error!(error = %e, "unreadable stream definition skipped"),
            }
            true
        })?;
        for m in metas {
            self.next_id.fetch_max(m.id + 1, Ordering::Relaxed);
            let Some(account) = server.accounts.get(&m.account).filter(|a| a.jetstream) else {
                warn!(account = %m.account, stream = %m.config.name, "stream's account has no JetStream; not loaded");
                continue;
            };
            let store = stream::make_store(&self.db, m.id, m.config.storage);
            let state = StreamState::load(m.config.clone(), store.as_ref())?;
            match Stream::start(
                server,
                &self.tasks,
                self.db.clone(),
                account.clone(),
                m.id,
                m.created,
                state,
                store,
            ) {
                Ok(s) => {
                    s.load_consumers(server);
                    self.streams
                        .write()
                        .insert((m.account.clone(), m.config.name.clone()), s);
                }
                Err(e) => error!(stream = %m.config.name, error = %e, "stream not started"),
            }
        }
        Ok(())
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

    /// Every stream, in (account, name) order.
    pub fn all_streams(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    /// Names of the account's streams, optionally only those whose subjects overlap
    /// `subject`.
    pub fn stream_names(&self, account: &Account, subject: Option<&str>) -> Vec<String> {
        self.streams
            .read()
            .iter()
            .filter(|((a, _), _)| *a == account.name)
            .filter(|(_, s)| match subject.filter(|f| !f.is_empty()) {
                None => true,
                Some(f) => s
                    .config()
                    .subjects
                    .iter()
                    .any(|x| crate::subject::subjects_overlap(f, x)),
            })
            .map(|((_, n), _)| n.clone())
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
    fn limits(_server: &ServerShared, account: &Account) -> (i64, i64, i64, i64) {
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
        self.streams
            .read()
            .iter()
            .filter(|((a, n), _)| (a.as_str(), n.as_str()) != except)
            .filter(|((a, _), _)| account.map_or(true, |x| x == a))
            .map(|(_, s)| s.config())
            .filter(|c| c.storage == storage && c.max_bytes > 0)
            .map(|c| c.max_bytes)
            .sum()
    }

    /// Refuses a stream whose `max_bytes` the account or server cannot reserve.
    fn check_reserve(&self, account: &Account, cfg: &StreamConfig) -> Result<(), ApiError> {
        let except = (account.name.as_str(), cfg.name.as_str());
        account.js.check_reserve(
            cfg.storage,
            cfg.max_bytes,
            self.reserved(Some(&account.name), cfg.storage, except),
            self.reserved(None, cfg.storage, except),
        )
    }

    fn persist_meta(&self, s: &Stream, cfg: &StreamConfig) -> Result<(), ApiError> {
        if cfg.storage == Storage::Memory {
            return Ok(());
        }
        let meta = StreamMeta {
            id: s.id,
            account: s.account.name.clone(),
            created: s.created,
            config: cfg.clone(),
        };
        let mut b = Batch::default();
        b.put(
            Cf::Meta,
            meta_key(s.id),
            serde_json::to_vec(&meta).unwrap_or_default(),
        );
        self.db
            .write(b)
            .map_err(|e| ApiError::store_failed(e.to_string()))
    }

    fn check_overlap(&self, account: &Account, cfg: &StreamConfig) -> Result<(), ApiError> {
        for ((a, n), s) in self.streams.read().iter() {
            if *a != account.name || *n == cfg.name {
                continue;
            }
            let other = s.config();
            for x in &other.subjects {
                if cfg
                    .subjects
                    .iter()
                    .any(|y| crate::subject::subjects_overlap(x, y))
                {
                    return Err(ApiError::subjects_overlap());
                }
            }
        }
        Ok(())
    }

    /// STREAM.CREATE.
    pub async fn create_stream(
        &self,
        server: &Arc<ServerShared>,
        account: &Arc<Account>,
        cfg: StreamConfig,
    ) -> Result<Value, ApiError> {
        let cfg = cfg.normalize()?;
        if let Some(existing) = self.stream(account, &cfg.name) {
            if existing.config() == cfg {
                let core = existing.core.lock();
                return Ok(info::stream_info(
                    &core.state,
                    existing.created,
                    &server.name,
                    &InfoOpts::default(),
                ));
            }
            return Err(ApiError::name_in_use());
        }
        self.check_overlap(account, &cfg)?;
        let max_streams = Self::limits(server, account).2;
        if max_streams >= 0 && self.stream_names(account, None).len() as i64 >= max_streams {
            return Err(ApiError::max_streams());
        }
        self.check_reserve(account, &cfg)?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let created = stream::now_ns();
        let store = stream::make_store(&self.db, id, cfg.storage);
        let state = StreamState::new(cfg.clone());
        let s = Stream::start(
            server,
            &self.tasks,
            self.db.clone(),
            account.clone(),
            id,
            created,
            state,
            store,
        )?;
        if let Err(e) = self.persist_meta(&s, &cfg) {
            s.stop(server);
            return Err(e);
        }
        if cfg.storage == Storage::File {
            if let Err(e) = self.db.sync().await {
                s.stop(server);
                return Err(ApiError::store_failed(e.to_string()));
            }
        }
        self.streams
            .write()
            .insert((account.name.clone(), cfg.name.clone()), s.clone());
        info!(account = %account.name, stream = %cfg.name, "stream created");
        let core = s.core.lock();
        let mut v = info::stream_info(&core.state, created, &server.name, &InfoOpts::default());
        if let Value::Object(o) = &mut v {
            o.insert("did_create".into(), json!(true));
        }
        Ok(v)
    }

    /// STREAM.UPDATE.
    pub async fn update_stream(
        &self,
        server: &Arc<ServerShared>,
        account: &Arc<Account>,
        cfg: StreamConfig,
    ) -> Result<Value, ApiError> {
        let s = self
            .stream(account, &cfg.name)
            .ok_or_else(ApiError::stream_not_found)?;
        let cfg = cfg.normalize()?;
        let old = s.config();
        cfg.check_update(&old)?;
        self.check_overlap(account, &cfg)?;
        self.check_reserve(account, &cfg)?;
        s.apply_op(ops::Op::Update {
            config: Box::new(cfg.clone()),
        })?;
        self.persist_meta(&s, &cfg)?;
        s.sync().await?;
        if old.subjects != cfg.subjects || old.allow_direct != cfg.allow_direct {
            s.subscribe(server)?;
        }
        let core = s.core.lock();
        Ok(info::stream_info(
            &core.state,
            s.created,
            &server.name,
            &InfoOpts::default(),
        ))
    }

    /// STREAM.DELETE.
    pub async fn delete_stream(
        &self,
        server: &Arc<ServerShared>,
        account: &Arc<Account>,
        name: &str,
    ) -> Result<(), ApiError> {
        let s = self
            .streams
            .write()
            .remove(&(account.name.clone(), name.to_string()))
            .ok_or_else(ApiError::stream_not_found)?;
        s.drop_consumers(server);
        s.stop(server);
        {
            let core = s.core.lock();
            account
                .js
                .add(core.state.config.storage, -(core.state.bytes as i64));
        }
        let err = |e: StoreError| ApiError::store_failed(e.to_string());
        let mut b = Batch::default();
        b.delete(Cf::Meta, meta_key(s.id));
        self.db.write(b).map_err(err)?;
        file_store::FileStore::destroy(&self.db, s.id).map_err(err)?;
        self.db.sync().await.map_err(err)?;
        info!(account = %account.name, stream = %name, "stream deleted");
        Ok(())
    }
}
