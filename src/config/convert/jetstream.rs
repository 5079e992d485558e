//! `jetstream { ... }` (or `jetstream: enabled | disabled | true | false`).
//!
//! Owns: conversion into [`JetStreamConfig`] (store dir, memory/file limits,
//! sync interval, domain). Must not: create directories or probe memory; the
//! top-level `store_dir` key is merged by the top-level converter.

use super::{invalid, join, Conv, Result};
use crate::config::model::{JetStreamConfig, SyncInterval};
use crate::config::value::{Value, ValueKind};
use std::path::PathBuf;

/// Encryption at rest: natrium does not implement it, so these are refused.
const REFUSED_JETSTREAM: &[&str] = &[
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "tpm",
];

/// JetStream keys that natrium does not implement.
const UNSUPPORTED_JETSTREAM: &[&str] = &[
    "strict",
    "extension_hint",
    "limits",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
    "max_ack_pending",
];

impl Conv {
    pub(crate) fn jetstream(&mut self, prefix: &str, v: &Value) -> Result<JetStreamConfig> {
        let expected = "enabled, disabled, true, false or a map { store_dir, ... }";
        let mut js = JetStreamConfig::default();
        match &v.kind {
            ValueKind::Bool(b) => js.enabled = *b,
            ValueKind::String(s) => match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" | "true" => js.enabled = true,
                "disabled" | "disable" | "false" => js.enabled = false,
                _ => return Err(invalid(prefix, v, expected)),
            },
            ValueKind::Map(m) => {
                for e in &m.entries {
                    let key = e.key.to_ascii_lowercase();
                    let name = join(prefix, &key);
                    let val = &e.value;
                    match key.as_str() {
                        "store_dir" | "store" | "storedir" => {
                            js.store_dir = Some(PathBuf::from(self.string(&name, val)?))
                        }
                        "max_memory_store" | "max_mem_store" | "max_mem" => {
                            js.max_memory_store = self.limit(&name, val, true)?
                        }
                        "max_file_store" | "max_file" => {
                            js.max_file_store = self.limit(&name, val, true)?
                        }
                        "enabled" | "enable" => js.enabled = self.bool(&name, val)?,
                        "sync_interval" | "sync" => {
                            js.sync_interval = self.sync_interval(&name, val)?
                        }
                        "domain" => js.domain = Some(self.string(&name, val)?),
                        k if REFUSED_JETSTREAM.contains(&k) => return Err(self.refuse(prefix, e)),
                        k if UNSUPPORTED_JETSTREAM.contains(&k) => self.unsupported(prefix, e),
                        _ => self.unknown(prefix, e),
                    }
                }
            }
            _ => return Err(invalid(prefix, v, expected)),
        }
        Ok(js)
    }

    /// `"always"` or a duration.
    fn sync_interval(&mut self, key: &str, v: &Value) -> Result<SyncInterval> {
        if let Some(s) = v.as_str() {
            if s.eq_ignore_ascii_case("always") {
                return Ok(SyncInterval::Always);
            }
        }
        let d = self.duration(key, v)?;
        if d.is_zero() {
            return Err(invalid(
                key,
                v,
                "\"always\" or a duration greater than zero",
            ));
        }
        Ok(SyncInterval::Every(d))
    }
}
