//! Stream create, update and delete as cluster operations: create and delete are meta
//! entries proposed by the meta leader (placement chosen there); update is a stream
//! entry proposed by the stream leader, then recorded in the meta state. Also the
//! `cluster` object of stream info.

use std::sync::Arc;

use serde_json::{json, Value};
use tracing::info;

use crate::raft::ProposeError;
use crate::server::account::Account;
use crate::server::ServerShared;

use super::apply::StreamState;
use super::config::StreamConfig;
use super::errors::ApiError;
use super::info::{self, InfoOpts};
use super::meta::{encode_assign, encode_delete, Assignment, MetaReply};
use super::ops::Op;
use super::stream::{now_ns, Stream};
use super::JetStream;

/// What the API handler does after a create.
pub enum Created {
    /// Answer now with this body.
    Now(Value),
    /// The stream's first leader answers the request.
    ByLeader,
}

fn meta_err(e: ProposeError, js: &JetStream) -> ApiError {
    match e {
        ProposeError::Stopped(why) => ApiError::cluster_unavailable(&format!("stopped: {why}")),
        _ => ApiError::cluster_unavailable(
            &js.meta_group()
                .map(|g| g.unavailable())
                .unwrap_or_else(|| "not started".into()),
        ),
    }
}

impl JetStream {
    /// STREAM.CREATE, on the meta leader. `reply`: where the stream leader answers.
    pub async fn create_stream(
        &self,
        server: &Arc<ServerShared>,
        account: &Arc<Account>,
        cfg: StreamConfig,
        reply: Option<String>,
    ) -> Result<Created, ApiError> {
        let cfg = cfg.normalize()?;
        if let Some(existing) = self.meta.get(&account.name, &cfg.name) {
            if existing.config == cfg {
                return Ok(Created::Now(self.info_of(
                    server,
                    &existing,
                    &InfoOpts::default(),
                )));
            }
            return Err(ApiError::name_in_use());
        }
        let max_streams = Self::limits(server, account).2;
        if max_streams >= 0 && self.meta.of_account(&account.name).len() as i64 >= max_streams {
            return Err(ApiError::max_streams());
        }
        self.check_reserve(account, &cfg)?;
        let replicas = cfg.num_replicas.max(1) as usize;
        let mut candidates = self.placement_candidates();
        if replicas > candidates.len() {
            return Err(ApiError::replicas_exceed_cluster(
                replicas,
                candidates.len(),
            ));
        }
        fastrand::shuffle(&mut candidates);
        candidates.truncate(replicas);
        candidates.sort_unstable();
        let a = Assignment {
            id: 0,
            account: account.name.clone(),
            config: cfg.clone(),
            created: now_ns(),
            peers: candidates,
            reply: reply.clone(),
        };
        let g = self
            .meta_group()
            .ok_or_else(|| ApiError::cluster_unavailable("not started"))?;
        let r = g
            .propose(encode_assign(&a, false))
            .await
            .map_err(|e| meta_err(e, self))?;
        let r: MetaReply =
            serde_json::from_slice(&r).map_err(|e| ApiError::general(e.to_string()))?;
        if let Some(e) = r.error {
            return Err(e);
        }
        if r.existed {
            let a = self
                .meta
                .get(&account.name, &cfg.name)
                .ok_or_else(ApiError::stream_not_found)?;
            return Ok(Created::Now(self.info_of(server, &a, &InfoOpts::default())));
        }
        info!(account = %account.name, stream = %cfg.name, id = r.id, peers = ?a.peers, "stream created");
        Ok(if reply.is_some() {
            Created::ByLeader
        } else {
            let a = self
                .meta
                .get(&account.name, &cfg.name)
                .ok_or_else(ApiError::stream_not_found)?;
            Created::Now(self.info_of(server, &a, &InfoOpts::default()))
        })
    }

    /// STREAM.UPDATE, on the stream leader.
    pub async fn update_stream(
        &self,
        server: &Arc<ServerShared>,
        account: &Arc<Account>,
        cfg: StreamConfig,
    ) -> Result<Value, ApiError> {
        let s = self
            .stream(account, &cfg.name)
            .ok_or_else(ApiError::stream_not_found)?;
        let a = self
            .meta
            .get(&account.name, &cfg.name)
            .ok_or_else(ApiError::stream_not_found)?;
        let cfg = cfg.normalize()?;
        let old = s.config();
        cfg.check_update(&old)?;
        if cfg.num_replicas != old.num_replicas {
            return Err(ApiError::stream_config(
                "changing the number of replicas is not supported yet",
            ));
        }
        self.check_reserve(account, &cfg)?;
        s.propose_one(Op::Update {
            config: Box::new(cfg.clone()),
        })
        .await?;
        let mut na = a.clone();
        na.config = cfg.clone();
        na.reply = None;
        if let Some(g) = self.meta_group() {
            match g.propose_anywhere(encode_assign(&na, true)).await {
                Ok(r) => {
                    if let Ok(MetaReply { error: Some(e), .. }) = serde_json::from_slice(&r) {
                        return Err(e);
                    }
                }
                Err(e) => return Err(meta_err(e, self)),
            }
        }
        if s.is_leader() && (old.subjects != cfg.subjects || old.allow_direct != cfg.allow_direct) {
            s.subscribe(server)?;
        }
        Ok(self.stream_info(s.as_ref(), &InfoOpts::default()))
    }

    /// STREAM.DELETE, on the meta leader.
    pub async fn delete_stream(
        &self,
        _server: &Arc<ServerShared>,
        account: &Arc<Account>,
        name: &str,
    ) -> Result<(), ApiError> {
        if self.meta.get(&account.name, name).is_none() {
            return Err(ApiError::stream_not_found());
        }
        let g = self
            .meta_group()
            .ok_or_else(|| ApiError::cluster_unavailable("not started"))?;
        let r = g
            .propose(encode_delete(&account.name, name))
            .await
            .map_err(|e| meta_err(e, self))?;
        let r: MetaReply =
            serde_json::from_slice(&r).map_err(|e| ApiError::general(e.to_string()))?;
        if let Some(e) = r.error {
            return Err(e);
        }
        info!(account = %account.name, stream = %name, "stream deleted");
        Ok(())
    }

    /// Info of a stream from its local replica, or (no replica here) from its
    /// definition with an empty state.
    pub fn info_of(&self, _server: &ServerShared, a: &Assignment, opts: &InfoOpts) -> Value {
        if let Some(s) = self.stream_by_id(a.id) {
            return self.stream_info(&s, opts);
        }
        let st = StreamState::new(a.config.clone());
        let mut v = info::stream_info(&st, a.created, "", opts);
        if let Value::Object(o) = &mut v {
            o.insert("cluster".into(), self.cluster_json_of(a, None));
        }
        v
    }

    /// Stream info from the local replica, with its `cluster` object.
    pub fn stream_info(&self, s: &Stream, opts: &InfoOpts) -> Value {
        let mut v = {
            let core = s.core.lock();
            info::stream_info(&core.state, s.created, &self.server_name, opts)
        };
        if let (Value::Object(o), Some(a)) = (&mut v, self.meta.get(&s.account.name, &s.name)) {
            o.insert("cluster".into(), self.cluster_json_of(&a, Some(s)));
        }
        v
    }

    /// `cluster { name leader replicas [ { name current active lag offline } ] }`.
    fn cluster_json_of(&self, a: &Assignment, s: Option<&Stream>) -> Value {
        let name = self
            .cluster
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let status = s.and_then(|s| s.group()).map(|g| g.status());
        let leader = status.as_ref().and_then(|st| st.leader);
        let mut o = serde_json::Map::new();
        if !name.is_empty() {
            o.insert("name".into(), json!(name));
        }
        if let Some(l) = leader {
            o.insert("leader".into(), json!(self.name_of(l)));
        }
        let replicas: Vec<Value> = a
            .peers
            .iter()
            .filter(|p| Some(**p) != leader)
            .map(|p| {
                let online = *p == self.raft.id
                    || self
                        .cluster
                        .as_ref()
                        .is_some_and(|c| c.peer_name_of(*p).is_some());
                let peer = status
                    .as_ref()
                    .and_then(|st| st.peers.iter().find(|x| x.id == *p).cloned());
                let lag = peer.as_ref().and_then(|x| x.lag).unwrap_or(0);
                let mut r = json!({
                    "name": self.name_of(*p),
                    "current": online && lag == 0,
                    "active": 0,
                    "lag": lag,
                    "peer": p.to_string(),
                });
                if !online {
                    r["offline"] = json!(true);
                }
                r
            })
            .collect();
        if !replicas.is_empty() {
            o.insert("replicas".into(), json!(replicas));
        }
        Value::Object(o)
    }
}
