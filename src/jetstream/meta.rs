//! The meta group's state: which streams exist, their configuration and creation
//! time, and which nodes hold them (placement). Every JetStream node applies the same
//! meta log, so every node knows every stream; `reconcile` then starts or removes the
//! replicas this node is assigned.
//!
//! Persisted in the `meta` column family: `b"ma" [id u64]` → [`Assignment`] (JSON) and
//! `b"mr"` → Raft's applied position, in one write per applied batch. A stream's id is
//! the meta log index of its creation, so ids are never reused.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::raft::{Committed, Fsm, NodeId};
use crate::store::{Batch, Cf, Db};

use super::config::StreamConfig;
use super::errors::ApiError;
use super::proto;

/// One stream as the meta group knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: u64,
    pub account: String,
    pub config: StreamConfig,
    pub created: i64,
    /// Raft ids of the nodes holding a replica.
    pub peers: Vec<NodeId>,
    /// Where the stream's first leader sends the create response (memory only).
    #[serde(default, skip_serializing)]
    pub reply: Option<String>,
}

fn key(id: u64) -> Vec<u8> {
    let mut k = b"ma".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

const RAFT_KEY: &[u8] = b"mr";

/// What the meta group agreed on, on this node.
pub struct MetaState {
    db: Arc<Db>,
    streams: RwLock<BTreeMap<(String, String), Assignment>>,
    raft_meta: Mutex<Option<Vec<u8>>>,
    /// Wakes the reconcile task after every change.
    pub changed: tokio::sync::Notify,
}

/// What a meta command answers (JSON in the Raft reply).
#[derive(Debug, Serialize, Deserialize)]
pub struct MetaReply {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub existed: bool,
    #[serde(default)]
    pub error: Option<ApiError>,
}

impl MetaState {
    /// Loads what this node applied before.
    pub fn load(db: Arc<Db>) -> Result<Arc<MetaState>, crate::store::StoreError> {
        let mut streams = BTreeMap::new();
        db.scan(Cf::Meta, b"ma", b"mb", |_, v| {
            match serde_json::from_slice::<Assignment>(v) {
                Ok(a) => {
                    streams.insert((a.account.clone(), a.config.name.clone()), a);
                }
                Err(e) => tracing::error!(error = %e, "unreadable stream assignment skipped"),
            }
            true
        })?;
        let raft_meta = db.get(Cf::Meta, RAFT_KEY)?;
        Ok(Arc::new(MetaState {
            db,
            streams: RwLock::new(streams),
            raft_meta: Mutex::new(raft_meta),
            changed: tokio::sync::Notify::new(),
        }))
    }

    pub fn get(&self, account: &str, name: &str) -> Option<Assignment> {
        self.streams
            .read()
            .get(&(account.to_string(), name.to_string()))
            .cloned()
    }

    pub fn all(&self) -> Vec<Assignment> {
        self.streams.read().values().cloned().collect()
    }

    /// The account's streams, in name order.
    pub fn of_account(&self, account: &str) -> Vec<Assignment> {
        self.streams
            .read()
            .values()
            .filter(|a| a.account == account)
            .cloned()
            .collect()
    }

    fn check_overlap(
        map: &BTreeMap<(String, String), Assignment>,
        a: &Assignment,
    ) -> Result<(), ApiError> {
        for o in map.values() {
            if o.account != a.account || o.config.name == a.config.name {
                continue;
            }
            for x in &o.config.subjects {
                if a.config
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

    fn apply_one(
        map: &mut BTreeMap<(String, String), Assignment>,
        batch: &mut Batch,
        index: u64,
        data: &[u8],
    ) -> MetaReply {
        let err = |e: ApiError| MetaReply {
            id: 0,
            existed: false,
            error: Some(e),
        };
        let cmd = match proto::MetaCommand::decode(data) {
            Ok(c) => c,
            Err(e) => return err(ApiError::general(format!("undecodable meta entry: {e}"))),
        };
        let assign = |a: proto::StreamAssign| -> Result<Assignment, ApiError> {
            Ok(Assignment {
                id: index,
                account: a.account,
                config: serde_json::from_slice(&a.config).map_err(|e| {
                    ApiError::general(format!("bad stream config in meta entry: {e}"))
                })?,
                created: a.created,
                peers: a.peers,
                reply: Some(a.reply).filter(|r| !r.is_empty()),
            })
        };
        match cmd.cmd {
            Some(proto::meta_command::Cmd::Create(a)) => {
                let a = match assign(a) {
                    Ok(a) => a,
                    Err(e) => return err(e),
                };
                let k = (a.account.clone(), a.config.name.clone());
                if let Some(old) = map.get(&k) {
                    if old.config == a.config {
                        return MetaReply {
                            id: old.id,
                            existed: true,
                            error: None,
                        };
                    }
                    return err(ApiError::name_in_use());
                }
                if let Err(e) = Self::check_overlap(map, &a) {
                    return err(e);
                }
                batch.put(
                    Cf::Meta,
                    key(a.id),
                    serde_json::to_vec(&a).unwrap_or_default(),
                );
                let id = a.id;
                map.insert(k, a);
                MetaReply {
                    id,
                    existed: false,
                    error: None,
                }
            }
            Some(proto::meta_command::Cmd::Update(a)) => {
                let a = match assign(a) {
                    Ok(a) => a,
                    Err(e) => return err(e),
                };
                let k = (a.account.clone(), a.config.name.clone());
                if let Err(e) = Self::check_overlap(map, &a) {
                    return err(e);
                }
                let Some(old) = map.get_mut(&k) else {
                    return err(ApiError::stream_not_found());
                };
                old.config = a.config;
                batch.put(
                    Cf::Meta,
                    key(old.id),
                    serde_json::to_vec(&*old).unwrap_or_default(),
                );
                MetaReply {
                    id: old.id,
                    existed: true,
                    error: None,
                }
            }
            Some(proto::meta_command::Cmd::Delete(r)) => match map.remove(&(r.account, r.name)) {
                Some(old) => {
                    batch.delete(Cf::Meta, key(old.id));
                    MetaReply {
                        id: old.id,
                        existed: true,
                        error: None,
                    }
                }
                None => err(ApiError::stream_not_found()),
            },
            None => err(ApiError::general("empty meta entry".to_string())),
        }
    }
}

/// Encodes a create (or update) of `a`.
pub fn encode_assign(a: &Assignment, update: bool) -> Vec<u8> {
    let s = proto::StreamAssign {
        account: a.account.clone(),
        config: serde_json::to_vec(&a.config).unwrap_or_default().into(),
        created: a.created,
        peers: a.peers.clone(),
        reply: a.reply.clone().unwrap_or_default(),
    };
    let cmd = if update {
        proto::meta_command::Cmd::Update(s)
    } else {
        proto::meta_command::Cmd::Create(s)
    };
    proto::MetaCommand { cmd: Some(cmd) }.encode_to_vec()
}

pub fn encode_delete(account: &str, name: &str) -> Vec<u8> {
    proto::MetaCommand {
        cmd: Some(proto::meta_command::Cmd::Delete(proto::StreamRef {
            account: account.to_string(),
            name: name.to_string(),
        })),
    }
    .encode_to_vec()
}

/// The meta state as Raft's state machine.
pub struct MetaFsm(pub Arc<MetaState>);

impl Fsm for MetaFsm {
    fn apply(&self, cmds: &[Committed<'_>], raft_meta: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        let m = &self.0;
        let mut batch = Batch::default();
        let mut replies = Vec::with_capacity(cmds.len());
        {
            let mut map = m.streams.write();
            for c in cmds {
                let r = MetaState::apply_one(&mut map, &mut batch, c.index, c.data);
                replies.push(serde_json::to_vec(&r).unwrap_or_default());
            }
            batch.put(Cf::Meta, RAFT_KEY.to_vec(), raft_meta.to_vec());
            m.db.write(batch)
                .map_err(|e| format!("meta write failed: {e}"))?;
            *m.raft_meta.lock() = Some(raft_meta.to_vec());
        }
        if !cmds.is_empty() {
            m.changed.notify_one();
        }
        Ok(replies)
    }

    fn raft_meta(&self) -> Option<Vec<u8>> {
        self.0.raft_meta.lock().clone()
    }

    fn snapshot(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let map = self.0.streams.read();
        let all: Vec<&Assignment> = map.values().collect();
        let data = serde_json::to_vec(&json!(all)).map_err(|e| e.to_string())?;
        let raft = self.0.raft_meta.lock().clone().unwrap_or_default();
        Ok((data, raft))
    }

    fn install(&self, data: &[u8], raft_meta: &[u8]) -> Result<(), String> {
        let all: Vec<Assignment> = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let m = &self.0;
        let mut batch = Batch::default();
        batch.delete_range(Cf::Meta, b"ma".to_vec(), b"mb".to_vec());
        let mut map = BTreeMap::new();
        for a in all {
            batch.put(
                Cf::Meta,
                key(a.id),
                serde_json::to_vec(&a).unwrap_or_default(),
            );
            map.insert((a.account.clone(), a.config.name.clone()), a);
        }
        batch.put(Cf::Meta, RAFT_KEY.to_vec(), raft_meta.to_vec());
        let mut cur = m.streams.write();
        m.db.write(batch).map_err(|e| e.to_string())?;
        *cur = map;
        *m.raft_meta.lock() = Some(raft_meta.to_vec());
        drop(cur);
        m.changed.notify_one();
        Ok(())
    }
}
