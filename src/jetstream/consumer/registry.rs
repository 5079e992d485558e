//! A stream's consumers: creating (with the create/update rules and the workqueue
//! restrictions), deleting, loading them at startup, and what the stream does when
//! a consumer acknowledges (interest and workqueue retention).
//!
//! Lock order: the registry lock, then a consumer's lock, then the stream's lock;
//! never a consumer's lock while holding the stream's.

use std::collections::VecDeque;
use std::sync::Arc;

use tracing::{error, info, warn};

use crate::jetstream::config::Retention;
use crate::jetstream::errors::ApiError;
use crate::jetstream::ops::Op;
use crate::jetstream::stream::{now_ns, Stream};
use crate::server::ServerShared;
use crate::store::Cf;

use super::config::ConsumerConfig;
use super::state::ConsumerState;
use super::{advisory, record_range, start_position, Consumer, ConsumerRecord};

/// What CONSUMER.CREATE asked for in its `action` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateOrUpdate,
    Create,
    Update,
}

impl Action {
    pub fn parse(s: &str) -> Result<Action, ApiError> {
        match s {
            "" => Ok(Action::CreateOrUpdate),
            "create" => Ok(Action::Create),
            "update" => Ok(Action::Update),
            _ => Err(ApiError::bad_request()),
        }
    }
}

impl Stream {
    /// The consumer called `name`, if any.
    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.lock().get(name).cloned()
    }

    /// Every consumer, by name.
    pub fn consumer_list(&self) -> Vec<Arc<Consumer>> {
        self.consumers.lock().values().cloned().collect()
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.lock().len()
    }

    /// Creates or updates a consumer (config already normalized against the stream).
    /// `account_room`: whether the account may have one more consumer.
    pub async fn create_consumer(
        self: &Arc<Self>,
        server: &Arc<ServerShared>,
        name: String,
        cfg: ConsumerConfig,
        action: Action,
        account_room: bool,
    ) -> Result<(Arc<Consumer>, bool), ApiError> {
        let existing = self.consumer(&name);
        if let Some(c) = existing {
            let old = c.config();
            if old == cfg {
                return Ok((c, false));
            }
            if action == Action::Create {
                return Err(ApiError::consumer_already_exists());
            }
            cfg.check_update(&old)?;
            {
                let mut core = c.core.lock();
                core.config = cfg.clone();
                // What was read ahead was filtered with the old config.
                core.ahead = super::read_ahead::ReadAhead::default();
            }
            self.propose_one(Op::ConsumerSet {
                name: name.clone(),
                filters: cfg.filters(),
            })
            .await?;
            c.persist()?;
            if !c.is_memory() {
                self.sync().await?;
            }
            c.wake.notify_one();
            return Ok((c, false));
        }
        if action == Action::Update {
            return Err(ApiError::consumer_does_not_exist());
        }
        let stream_cfg = self.config();
        if (stream_cfg.max_consumers > 0
            && self.consumer_count() as i64 >= stream_cfg.max_consumers)
            || !account_room
        {
            return Err(ApiError::max_consumers());
        }
        if stream_cfg.retention == Retention::Workqueue {
            let mine = cfg.filters();
            for other in self.consumer_list() {
                let theirs = other.config().filters();
                if mine.is_empty() {
                    return Err(ApiError::consumer_wq_multiple_unfiltered());
                }
                if theirs.is_empty()
                    || mine.iter().any(|a| {
                        theirs
                            .iter()
                            .any(|b| crate::subject::subjects_overlap(a, b))
                    })
                {
                    return Err(ApiError::consumer_wq_not_unique());
                }
            }
        }
        let (start, lps) = start_position(self, &cfg)?;
        let c = Consumer::start(
            server,
            self.clone(),
            name.clone(),
            now_ns(),
            cfg.clone(),
            ConsumerState::starting_at(start),
            lps,
        )?;
        {
            let mut map = self.consumers.lock();
            if map.contains_key(&name) {
                // Lost a race with an identical request.
                c.stop(server);
                return Err(ApiError::consumer_name_exists());
            }
            map.insert(name.clone(), c.clone());
        }
        // Messages that became durable before it was in the map did not wake it.
        c.wake.notify_one();
        if let Err(e) = self
            .propose_one(Op::ConsumerSet {
                name: name.clone(),
                filters: cfg.filters(),
            })
            .await
        {
            self.consumers.lock().remove(&name);
            c.stop(server);
            return Err(e);
        }
        if let Err(e) = c.persist() {
            self.delete_consumer(server, &name);
            return Err(e);
        }
        if !c.is_memory() {
            self.sync().await?;
        }
        info!(stream = %self.name, consumer = %name, "consumer created");
        advisory::action(server, self, &name, true);
        Ok((c, true))
    }

    /// Deletes a consumer; false if there is none by that name. The removal (and,
    /// for interest streams, the release of what only it held) is replicated in the
    /// background; [`Stream::delete_consumer_committed`] waits for it.
    pub fn delete_consumer(self: &Arc<Self>, server: &ServerShared, name: &str) -> bool {
        if !self.delete_consumer_here(server, name) {
            return false;
        }
        let s = self.clone();
        let n = name.to_string();
        self.tasks()
            .spawn(async move { s.replicate_consumer_removal(n).await });
        true
    }

    /// [`Stream::delete_consumer`] that returns once the removal is committed.
    pub async fn delete_consumer_committed(
        self: &Arc<Self>,
        server: &ServerShared,
        name: &str,
    ) -> bool {
        if !self.delete_consumer_here(server, name) {
            return false;
        }
        self.replicate_consumer_removal(name.to_string()).await;
        true
    }

    fn delete_consumer_here(self: &Arc<Self>, server: &ServerShared, name: &str) -> bool {
        let Some(c) = self.consumers.lock().remove(name) else {
            return false;
        };
        c.stop(server);
        if let Err(e) = c.erase() {
            warn!(consumer = %name, error = %e, "consumer record not removed");
        }
        info!(stream = %self.name, consumer = %name, "consumer deleted");
        advisory::action(server, self, name, false);
        true
    }

    async fn replicate_consumer_removal(self: &Arc<Self>, name: String) {
        if let Err(e) = self.propose_one(Op::ConsumerRemove { name }).await {
            warn!(error = %e, "consumer removal not replicated");
            return;
        }
        if self.core.lock().state.config.retention == Retention::Interest {
            let ops = self.interest_sweep();
            if let Err(e) = self.propose_removals(ops).await {
                warn!(error = %e, "interest release not replicated");
            }
        }
    }

    /// Proposes removals (nothing to do for none).
    pub async fn propose_removals(&self, ops: Vec<Op>) -> Result<(), ApiError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.propose_ops(ops).await.map(|_| ())
    }

    /// Stops every consumer here and keeps their records (leadership moved away).
    pub fn stop_consumers(&self, server: &ServerShared) {
        let all: Vec<Arc<Consumer>> = std::mem::take(&mut *self.consumers.lock())
            .into_values()
            .collect();
        for c in all {
            c.stop(server);
        }
    }

    /// Stops every consumer and removes their records (the stream is being deleted).
    pub fn drop_consumers(&self, server: &ServerShared) {
        let all: Vec<Arc<Consumer>> = std::mem::take(&mut *self.consumers.lock())
            .into_values()
            .collect();
        for c in all {
            c.stop(server);
        }
        let (from, to) = record_range(self.id);
        let mut b = crate::store::Batch::default();
        b.delete_range(Cf::Meta, from, to);
        if let Err(e) = self.db.write(b) {
            warn!(error = %e, "consumer records not removed");
        }
    }

    /// Starts the consumers persisted for this stream (at server start).
    pub fn load_consumers(self: &Arc<Self>, server: &Arc<ServerShared>) {
        let (from, to) = record_range(self.id);
        let mut records = Vec::new();
        let res = self.db.scan(Cf::Meta, &from, &to, |_, v| {
            match serde_json::from_slice::<ConsumerRecord>(v) {
                Ok(r) => records.push(r),
                Err(e) => {
                    error!(stream = %self.name, error = %e, "unreadable consumer record skipped")
                }
            }
            true
        });
        if let Err(e) = res {
            error!(stream = %self.name, error = %e, "consumer records not loaded");
            return;
        }
        for r in records {
            let filters = r.config.filters();
            match Consumer::start(
                server,
                self.clone(),
                r.name.clone(),
                r.created,
                r.config,
                r.state,
                None::<VecDeque<u64>>,
            ) {
                Ok(c) => {
                    self.consumers.lock().insert(r.name.clone(), c.clone());
                    // Messages that became durable before it was in the map.
                    c.wake.notify_one();
                    let known = self.core.lock().state.consumers.contains_key(&r.name);
                    if !known {
                        // A consumer from before its filters were replicated.
                        self.propose_background(vec![Op::ConsumerSet {
                            name: r.name,
                            filters,
                        }]);
                    }
                }
                Err(e) => error!(consumer = %r.name, error = %e, "consumer not started"),
            }
        }
    }

    /// Retention after consumer `by` acknowledged `seqs`: a workqueue stream removes
    /// them; an interest stream removes those every interested consumer is done with.
    /// The removals go through the log, so every replica removes the same messages;
    /// the consumers are pruned once they are applied.
    pub fn retention_removals(&self, by: &str, seqs: &[u64]) -> Vec<Op> {
        let retention = self.core.lock().state.config.retention;
        let others: Vec<Arc<Consumer>> = match retention {
            Retention::Limits => return Vec::new(),
            Retention::Workqueue => Vec::new(),
            Retention::Interest => self
                .consumer_list()
                .into_iter()
                .filter(|c| c.name != by)
                .collect(),
        };
        let mut removals = Vec::new();
        for &seq in seqs {
            if retention == Retention::Interest {
                let subject = match self.core.lock().store.get(seq) {
                    Ok(Some(m)) => m.subject,
                    _ => continue,
                };
                if !others.iter().all(|c| c.done_with(seq, &subject)) {
                    continue;
                }
            }
            removals.push(Op::Remove { seq });
        }
        removals
    }

    /// Interest streams: the removals of messages no remaining consumer still needs.
    fn interest_sweep(&self) -> Vec<Op> {
        let consumers = self.consumer_list();
        let mut victims = Vec::new();
        {
            let core = self.core.lock();
            let st = &core.state;
            let mut from = st.first_seq;
            while let Ok(chunk) = core.store.scan_from(from, 1024) {
                let Some((last, _)) = chunk.last() else { break };
                from = last + 1;
                for (seq, subject) in chunk {
                    victims.push((seq, subject));
                }
            }
        }
        victims.retain(|(seq, subject)| consumers.iter().all(|c| c.done_with(*seq, subject)));
        victims
            .into_iter()
            .map(|(seq, _)| Op::Remove { seq })
            .collect()
    }

    /// After messages left the stream: consumers drop what they no longer can deliver.
    pub fn prune_consumers_except(&self, skip: &str) {
        for c in self.consumer_list() {
            if c.name != skip {
                c.prune();
            }
        }
    }

    /// Wakes every consumer (new durable messages).
    pub fn wake_consumers(&self) {
        for c in self.consumers.lock().values() {
            c.wake.notify_one();
        }
    }
}
