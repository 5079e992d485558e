//! `StreamConfig`: the JSON nats-server accepts and echoes, its server-side defaults
//! and its validation rules (name, subjects, limits, what an update may change).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;

/// Default duplicate window: two minutes, in nanoseconds.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

fn minus_one() -> i64 {
    -1
}
fn minus_one_i32() -> i32 {
    -1
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// A stream's configuration, field for field as nats-server's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default = "minus_one")]
    pub max_consumers: i64,
    #[serde(default = "minus_one")]
    pub max_msgs: i64,
    #[serde(default = "minus_one")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 = forever.
    #[serde(default)]
    pub max_age: i64,
    #[serde(default = "minus_one")]
    pub max_msgs_per_subject: i64,
    #[serde(default = "minus_one_i32")]
    pub max_msg_size: i32,
    #[serde(default)]
    pub discard: Discard,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub num_replicas: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Nanoseconds.
    #[serde(default)]
    pub duplicate_window: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<serde_json::Value>,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
    #[serde(default)]
    pub allow_rollup_hdrs: bool,
    #[serde(default)]
    pub allow_direct: bool,
    #[serde(default)]
    pub mirror_direct: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_limits: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Whether a stream name is acceptable: non-empty, ≤255, no whitespace, `.`, `*`, `>`,
/// path separators.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
}

impl StreamConfig {
    /// Validates and fills the server-side defaults, as nats-server does on create.
    pub fn normalize(mut self) -> Result<StreamConfig, ApiError> {
        if !valid_name(&self.name) {
            return Err(ApiError::invalid_stream_name());
        }
        if self.mirror.is_some() || self.sources.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(ApiError::mirrors_unsupported());
        }
        if self.sources.as_ref().is_some_and(|s| s.is_empty()) {
            self.sources = None;
        }
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        if self.num_replicas > 5 || self.num_replicas < 0 {
            return Err(ApiError::stream_config("replicas > 5 not supported"));
        }
        // More replicas than JetStream nodes is refused where the nodes are known
        // (JetStream::create_stream).
        if self.description.as_ref().is_some_and(|d| d.len() > 4096) {
            return Err(ApiError::stream_config(
                "stream description is too long, maximum allowed is 4096",
            ));
        }
        if self.max_msgs == 0 {
            self.max_msgs = -1;
        }
        if self.max_bytes == 0 {
            self.max_bytes = -1;
        }
        if self.max_msgs_per_subject == 0 {
            self.max_msgs_per_subject = -1;
        }
        if self.max_msg_size == 0 {
            self.max_msg_size = -1;
        }
        if self.max_consumers == 0 {
            self.max_consumers = -1;
        }
        if self.max_age < 0 {
            return Err(ApiError::stream_config("max age needs to be >= 100ms"));
        }
        if self.max_age != 0 && self.max_age < 100_000_000 {
            return Err(ApiError::stream_config("max age needs to be >= 100ms"));
        }
        if self.duplicate_window < 0 {
            return Err(ApiError::stream_config(
                "duplicates window can not be negative",
            ));
        }
        if self.duplicate_window == 0 {
            self.duplicate_window = if self.max_age != 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW
            {
                self.max_age
            } else {
                DEFAULT_DUPLICATE_WINDOW
            };
        } else if self.max_age != 0 && self.duplicate_window > self.max_age {
            return Err(ApiError::stream_config(
                "duplicates window can not be larger then max age",
            ));
        }
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(ApiError::stream_config(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(ApiError::stream_config(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if self.allow_rollup_hdrs && self.deny_purge {
            return Err(ApiError::stream_config(
                "roll-ups require the purge permission",
            ));
        }
        if self.subjects.is_empty() {
            self.subjects = vec![self.name.clone()];
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if !crate::subject::is_valid_subject(s) {
                return Err(ApiError::stream_config(format!("invalid subject: {s:?}")));
            }
            if !self.no_ack && (s == ">" || s.starts_with("$JS.API")) {
                return Err(ApiError::stream_config(
                    "subjects that overlap with jetstream api require no-ack to be true",
                ));
            }
            for other in &self.subjects[..i] {
                if crate::subject::subjects_overlap(s, other) {
                    return Err(ApiError::stream_config(format!(
                        "duplicate subjects detected: {s:?} overlaps with {other:?}"
                    )));
                }
            }
        }
        super::republish::Republish::normalize(&mut self)?;
        if let Some(m) = &self.metadata {
            let size: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > 128 * 1024 {
                return Err(ApiError::stream_config(
                    "stream metadata exceeds maximum size of 128 KiB",
                ));
            }
        }
        Ok(self)
    }

    /// Checks what an update may change, given the current config (both normalized).
    pub fn check_update(&self, old: &StreamConfig) -> Result<(), ApiError> {
        let fail = |m: &str| Err(ApiError::stream_update(m.to_string()));
        if self.storage != old.storage {
            return fail("stream configuration update can not change storage type");
        }
        if (self.retention == Retention::Workqueue) != (old.retention == Retention::Workqueue)
            && self.retention != old.retention
        {
            return fail(
                "stream configuration update can not change retention policy to/from workqueue",
            );
        }
        if self.max_consumers != old.max_consumers {
            return fail("stream configuration update can not change max consumers");
        }
        if old.sealed && !self.sealed {
            return fail("stream configuration update can not unseal a sealed stream");
        }
        if old.deny_delete && !self.deny_delete {
            return fail("stream configuration update can not cancel deny message deletes");
        }
        if old.deny_purge && !self.deny_purge {
            return fail("stream configuration update can not cancel deny purge");
        }
        Ok(())
    }
}
