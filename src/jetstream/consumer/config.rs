//! `ConsumerConfig`: the JSON nats-server accepts and echoes for consumers, its
//! server-side defaults and its validation against the stream (error codes as
//! nats-server gives them). Knows nothing of delivery or state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jetstream::config::{Retention, StreamConfig};
use crate::jetstream::errors::ApiError;

/// Default ack wait: 30 s.
pub const DEFAULT_ACK_WAIT: i64 = 30_000_000_000;
/// Default max ack pending when acks are required.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Default max waiting pull requests.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// Ephemeral consumers go away this long after they lose interest (5 s).
pub const DEFAULT_INACTIVE_THRESHOLD: i64 = 5_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    #[default]
    All,
    Last,
    New,
    #[serde(rename = "by_start_sequence")]
    ByStartSequence,
    #[serde(rename = "by_start_time")]
    ByStartTime,
    #[serde(rename = "last_per_subject")]
    LastPerSubject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AckPolicy {
    #[default]
    None,
    All,
    Explicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReplayPolicy {
    #[default]
    Instant,
    Original,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// A consumer's configuration, field for field as nats-server's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConsumerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default)]
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ack_wait: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_deliver: i64,
    /// Nanoseconds per redelivery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate_limit_bps: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_freq: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_waiting: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub flow_control: bool,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub idle_heartbeat: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_batch: i64,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_expires: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_bytes: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_group: Option<String>,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    #[serde(default)]
    pub num_replicas: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub direct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A CONSUMER.CREATE request body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateRequest {
    #[serde(default)]
    pub stream_name: String,
    #[serde(default)]
    pub config: Option<ConsumerConfig>,
    #[serde(default)]
    pub action: String,
}

/// Whether a consumer/durable name is acceptable.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
}

impl ConsumerConfig {
    /// The consumer's name: `name`, else `durable_name`.
    pub fn consumer_name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(self.durable_name.as_deref().filter(|n| !n.is_empty()))
    }

    pub fn is_durable(&self) -> bool {
        self.durable_name.as_deref().is_some_and(|d| !d.is_empty())
    }

    pub fn is_push(&self) -> bool {
        self.deliver_subject
            .as_deref()
            .is_some_and(|d| !d.is_empty())
    }

    /// The filter subjects (empty = every subject of the stream).
    pub fn filters(&self) -> Vec<String> {
        match self.filter_subject.as_deref().filter(|f| !f.is_empty()) {
            Some(f) => vec![f.to_string()],
            None => self.filter_subjects.clone(),
        }
    }

    /// Whether a message on `subject` passes the filters.
    pub fn matches(&self, subject: &str) -> bool {
        match self.filter_subject.as_deref().filter(|f| !f.is_empty()) {
            Some(f) => crate::subject::matches(f, subject),
            None => {
                self.filter_subjects.is_empty()
                    || self
                        .filter_subjects
                        .iter()
                        .any(|f| crate::subject::matches(f, subject))
            }
        }
    }

    /// Start time of `by_start_time`, in unix nanoseconds.
    pub fn start_time_ns(&self) -> Option<i64> {
        self.opt_start_time
            .as_deref()
            .and_then(crate::util::time::parse_rfc3339)
    }

    /// Validates against the stream and fills the server-side defaults, as nats-server
    /// does on create.
    pub fn normalize(mut self, stream: &StreamConfig) -> Result<ConsumerConfig, ApiError> {
        if let (Some(n), Some(d)) = (
            self.name.as_deref().filter(|n| !n.is_empty()),
            self.durable_name.as_deref().filter(|d| !d.is_empty()),
        ) {
            if n != d {
                return Err(ApiError::consumer_durable_name_mismatch());
            }
        }
        for n in [&self.name, &self.durable_name].into_iter().flatten() {
            if n.is_empty() {
                continue;
            }
            if n.contains('/') || n.contains('\\') {
                return Err(ApiError::consumer_name_path_separators());
            }
            if !valid_name(n) {
                return Err(ApiError::consumer_bad_durable_name());
            }
            if n.len() > 255 {
                return Err(ApiError::consumer_name_too_long());
            }
        }
        if self.description.as_ref().is_some_and(|d| d.len() > 4096) {
            return Err(ApiError::consumer_create(
                "consumer description is too long, maximum allowed is 4096",
            ));
        }
        if self
            .filter_subject
            .as_deref()
            .is_some_and(|f| !f.is_empty())
            && !self.filter_subjects.is_empty()
        {
            return Err(ApiError::consumer_duplicate_filters());
        }
        if self.filter_subject.as_deref() == Some("") {
            self.filter_subject = None;
        }
        for (i, f) in self.filter_subjects.iter().enumerate() {
            if f.is_empty() {
                return Err(ApiError::consumer_empty_filter());
            }
            if self.filter_subjects[..i]
                .iter()
                .any(|g| crate::subject::subjects_overlap(f, g))
            {
                return Err(ApiError::consumer_overlapping_filters());
            }
        }
        for f in self.filters() {
            if !crate::subject::is_valid_subject(&f) {
                return Err(ApiError::consumer_filter_not_subset());
            }
            if !stream
                .subjects
                .iter()
                .any(|s| crate::subject::subjects_overlap(&f, s))
            {
                return Err(ApiError::consumer_filter_not_subset());
            }
        }
        let push = self.is_push();
        if let Some(d) = self.deliver_subject.as_deref().filter(|d| !d.is_empty()) {
            if !crate::subject::is_valid_subject(d) {
                return Err(ApiError::consumer_invalid_deliver_subject());
            }
            if !crate::subject::is_literal(d) {
                return Err(ApiError::consumer_deliver_to_wildcards());
            }
            if stream
                .subjects
                .iter()
                .any(|s| crate::subject::matches(s, d))
            {
                return Err(ApiError::consumer_deliver_cycle());
            }
        } else {
            self.deliver_subject = None;
        }
        if push {
            if self.max_waiting != 0 {
                return Err(ApiError::consumer_push_max_waiting());
            }
            if self.max_batch != 0 || self.max_expires != 0 || self.max_bytes != 0 {
                return Err(ApiError::consumer_create(
                    "consumer in push mode can not set max batch, max expires or max bytes",
                ));
            }
        } else {
            if self.idle_heartbeat != 0 {
                return Err(ApiError::consumer_hb_requires_push());
            }
            if self.flow_control {
                return Err(ApiError::consumer_fc_requires_push());
            }
            if self.rate_limit_bps != 0 {
                return Err(ApiError::consumer_pull_with_rate_limit());
            }
            if self.max_waiting < 0 {
                return Err(ApiError::consumer_max_waiting_negative());
            }
            if self.max_waiting == 0 {
                self.max_waiting = DEFAULT_MAX_WAITING;
            }
            if self.max_batch < 0 {
                return Err(ApiError::consumer_max_batch_negative());
            }
            if self.max_expires != 0 && self.max_expires < 1_000_000 {
                return Err(ApiError::consumer_max_expires_too_small());
            }
        }
        if self.idle_heartbeat != 0 && self.idle_heartbeat < 100_000_000 {
            return Err(ApiError::consumer_small_heartbeat());
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(ApiError::consumer_fc_needs_heartbeats());
        }
        if self.deliver_group.as_deref() == Some("") {
            self.deliver_group = None;
        }
        match self.deliver_policy {
            DeliverPolicy::ByStartSequence => {
                if self.opt_start_seq.unwrap_or(0) == 0 {
                    return Err(ApiError::consumer_invalid_policy(
                        "consumer delivery policy is deliver by start sequence, but optional start sequence is not set",
                    ));
                }
                if self.opt_start_time.is_some() {
                    return Err(ApiError::consumer_invalid_policy(
                        "consumer delivery policy is deliver by start sequence, but optional start time is also set",
                    ));
                }
            }
            DeliverPolicy::ByStartTime => {
                if self.opt_start_time.is_none() {
                    return Err(ApiError::consumer_invalid_policy(
                        "consumer delivery policy is deliver by start time, but optional start time is not set",
                    ));
                }
                if self.start_time_ns().is_none() {
                    return Err(ApiError::invalid_json("bad opt_start_time"));
                }
                if self.opt_start_seq.is_some() {
                    return Err(ApiError::consumer_invalid_policy(
                        "consumer delivery policy is deliver by start time, but optional start sequence is also set",
                    ));
                }
            }
            _ => {
                if self.opt_start_seq.is_some() {
                    return Err(ApiError::consumer_invalid_policy(
                        "consumer delivery policy is not by start sequence, but optional start sequence is set",
                    ));
                }
                if self.opt_start_time.is_some() {
                    return Err(ApiError::consumer_invalid_policy(
                        "consumer delivery policy is not by start time, but optional start time is set",
                    ));
                }
            }
        }
        if self.ack_wait < 0 {
            return Err(ApiError::consumer_create(
                "consumer ack wait needs to be positive",
            ));
        }
        if self.backoff.iter().any(|b| *b <= 0) {
            return Err(ApiError::consumer_create(
                "consumer backoff needs to be positive",
            ));
        }
        if self.max_deliver == 0 {
            self.max_deliver = -1;
        }
        if !self.backoff.is_empty() {
            if self.ack_policy == AckPolicy::None {
                return Err(ApiError::consumer_create(
                    "backoff requires an ack policy of all or explicit",
                ));
            }
            if self.max_deliver != -1 && self.max_deliver <= self.backoff.len() as i64 {
                return Err(ApiError::consumer_max_deliver_backoff());
            }
        }
        if self.ack_policy == AckPolicy::None {
            if self.max_ack_pending > 0 {
                // nats-server silently clears it for ack none.
                self.max_ack_pending = 0;
            }
        } else {
            if self.ack_wait == 0 {
                self.ack_wait = self.backoff.first().copied().unwrap_or(DEFAULT_ACK_WAIT);
            }
            if self.max_ack_pending == 0 {
                self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
            }
        }
        if self.inactive_threshold < 0 {
            return Err(ApiError::consumer_create(
                "consumer inactive threshold can not be negative",
            ));
        }
        if !self.is_durable() && self.inactive_threshold == 0 {
            self.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
        }
        if self.num_replicas < 0 {
            return Err(ApiError::replicas_negative());
        }
        if self.num_replicas > stream.num_replicas.max(1) {
            return Err(ApiError::consumer_replicas_exceed_stream());
        }
        if let Some(m) = &self.metadata {
            let size: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > 128 * 1024 {
                return Err(ApiError::consumer_create(
                    "consumer metadata exceeds maximum size of 128 KiB",
                ));
            }
        }
        if stream.retention == Retention::Workqueue {
            if self.ack_policy != AckPolicy::Explicit {
                if !push {
                    return Err(ApiError::consumer_pull_requires_ack());
                }
                return Err(ApiError::consumer_wq_requires_explicit_ack());
            }
            if self.deliver_policy != DeliverPolicy::All {
                return Err(ApiError::consumer_wq_not_deliver_all());
            }
        }
        Ok(self)
    }

    /// Checks what an update may change, given the current config (both normalized).
    pub fn check_update(&self, old: &ConsumerConfig) -> Result<(), ApiError> {
        let fail = |what: &str| {
            Err(ApiError::consumer_create(format!(
                "{what} can not be updated"
            )))
        };
        if self.deliver_policy != old.deliver_policy {
            return fail("deliver policy");
        }
        if self.opt_start_seq != old.opt_start_seq {
            return fail("start sequence");
        }
        if self.opt_start_time != old.opt_start_time {
            return fail("start time");
        }
        if self.ack_policy != old.ack_policy {
            return fail("ack policy");
        }
        if self.replay_policy != old.replay_policy {
            return fail("replay policy");
        }
        if self.idle_heartbeat != old.idle_heartbeat {
            return fail("idle heartbeat");
        }
        if self.flow_control != old.flow_control {
            return fail("flow control");
        }
        if self.max_waiting != old.max_waiting {
            return fail("max waiting");
        }
        if self.is_push() != old.is_push() {
            return Err(ApiError::consumer_create(
                "can not update push consumer to pull based",
            ));
        }
        if self.mem_storage != old.mem_storage {
            return fail("mem storage");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(retention: Retention) -> StreamConfig {
        serde_json::from_value::<StreamConfig>(serde_json::json!({
            "name": "S", "subjects": ["s.>"], "retention": retention
        }))
        .unwrap()
        .normalize()
        .unwrap()
    }

    fn cfg(v: serde_json::Value) -> Result<ConsumerConfig, ApiError> {
        serde_json::from_value::<ConsumerConfig>(v)
            .unwrap()
            .normalize(&stream(Retention::Limits))
    }

    #[test]
    fn defaults_follow_the_ack_policy() {
        let c = cfg(serde_json::json!({"durable_name": "d", "ack_policy": "explicit"})).unwrap();
        assert_eq!(c.ack_wait, DEFAULT_ACK_WAIT);
        assert_eq!(c.max_ack_pending, 1000);
        assert_eq!(c.max_deliver, -1);
        assert_eq!(c.max_waiting, 512);
        assert_eq!(c.inactive_threshold, 0);
        let e = cfg(serde_json::json!({})).unwrap();
        assert_eq!(e.inactive_threshold, DEFAULT_INACTIVE_THRESHOLD);
        // Ack none (the default policy): no ack_wait, as nats-server answers.
        assert_eq!(e.ack_wait, 0);
        let b = cfg(serde_json::json!({"ack_policy": "explicit", "backoff": [1_000_000_000, 2_000_000_000], "max_deliver": 3})).unwrap();
        assert_eq!(b.ack_wait, 1_000_000_000);
    }

    #[test]
    fn rejects_with_nats_server_codes() {
        let code = |v| cfg(v).unwrap_err().err_code;
        assert_eq!(code(serde_json::json!({"durable_name": "a.b"})), 10103);
        assert_eq!(
            code(serde_json::json!({"name": "a", "durable_name": "b"})),
            10132
        );
        assert_eq!(code(serde_json::json!({"filter_subject": "x.y"})), 10093);
        assert_eq!(code(serde_json::json!({"deliver_subject": "s.x"})), 10081);
        assert_eq!(code(serde_json::json!({"deliver_subject": "d.*"})), 10079);
        assert_eq!(
            code(serde_json::json!({"idle_heartbeat": 1_000_000_000})),
            10088
        );
        assert_eq!(
            code(serde_json::json!({"deliver_subject": "d", "flow_control": true})),
            10108
        );
        assert_eq!(
            code(serde_json::json!({"deliver_subject": "d", "idle_heartbeat": 1})),
            10083
        );
        assert_eq!(
            code(serde_json::json!({"deliver_policy": "by_start_sequence"})),
            10094
        );
        assert_eq!(
            code(serde_json::json!({"filter_subjects": ["s.a", "s.>"]})),
            10138
        );
        assert_eq!(
            code(serde_json::json!({"filter_subject": "s.a", "filter_subjects": ["s.b"]})),
            10136
        );
        assert_eq!(
            code(
                serde_json::json!({"ack_policy": "explicit", "backoff": [1, 2], "max_deliver": 2})
            ),
            10116
        );
        let wq = stream(Retention::Workqueue);
        let e = serde_json::from_value::<ConsumerConfig>(serde_json::json!({"durable_name": "w"}))
            .unwrap()
            .normalize(&wq)
            .unwrap_err();
        assert_eq!(e.err_code, 10084);
    }
}
