//! `accounts { NAME { users: [...], jetstream: ... } }` (or `accounts: [A, B]`).
//!
//! Owns: account entries, their users (via `auth`) and per-account JetStream
//! limits. Must not: decide the system account (top level) or create implicit
//! accounts such as `$G` / `$SYS`.

use std::collections::HashSet;

use super::auth::apply_default_permissions;
use super::{invalid, join, Conv, Result};
use crate::config::error::ConfigError;
use crate::config::model::{AccountConfig, AccountJetStream, Permissions};
use crate::config::value::{Entry, Value, ValueKind};

/// The global account's reserved name.
const GLOBAL_ACCOUNT: &str = "$G";

/// Account security settings natrium does not implement: refused (fail closed).
const REFUSED_ACCOUNT: &[&str] = &["nkey", "imports", "exports", "limits"];

/// Account keys that natrium does not implement and that are harmless to ignore.
const UNSUPPORTED_ACCOUNT: &[&str] = &[
    "mappings",
    "maps",
    "msg_trace",
    "trace_dest",
    "trace_dest_sampling",
];

/// Per-account JetStream keys that natrium does not implement.
const UNSUPPORTED_ACCOUNT_JS: &[&str] = &[
    "max_bytes_required",
    "max_stream_bytes",
    "max_bytes",
    "mem_max_stream_bytes",
    "memory_max_stream_bytes",
    "disk_max_stream_bytes",
    "store_max_stream_bytes",
    "max_ack_pending",
    "cluster_traffic",
];

impl Conv {
    pub(crate) fn accounts(&mut self, prefix: &str, v: &Value) -> Result<Vec<AccountConfig>> {
        let mut out: Vec<AccountConfig> = Vec::new();
        let mut names: HashSet<String> = HashSet::new();
        match &v.kind {
            ValueKind::Array(items) => {
                for item in items {
                    let name = self.string(prefix, item)?;
                    check_account_name(&name, item, &mut names)?;
                    out.push(AccountConfig {
                        name,
                        ..AccountConfig::default()
                    });
                }
            }
            ValueKind::Map(m) => {
                for e in &m.entries {
                    // Keys referenced as variables are definitions, not accounts.
                    if e.used_as_variable {
                        continue;
                    }
                    let acc = self.account(prefix, e)?;
                    check_account_name(&acc.name, &e.value, &mut names)?;
                    out.push(acc);
                }
            }
            _ => {
                return Err(invalid(
                    prefix,
                    v,
                    "a map of accounts { NAME { users: [...] } } or an array of names",
                ))
            }
        }
        Ok(out)
    }

    fn account(&mut self, prefix: &str, e: &Entry) -> Result<AccountConfig> {
        let path = join(prefix, &e.key);
        let m = e.value.as_map().ok_or_else(|| {
            invalid(
                &format!("account '{}'", e.key),
                &e.value,
                "a map { users: [...] }",
            )
        })?;
        let mut acc = AccountConfig {
            name: e.key.clone(),
            ..AccountConfig::default()
        };
        let mut defaults: Option<Permissions> = None;
        for ae in &m.entries {
            let key = ae.key.to_ascii_lowercase();
            let name = join(&path, &key);
            match key.as_str() {
                "users" => acc.users = self.users(&name, &ae.value)?,
                "jetstream" => acc.jetstream = Some(self.account_jetstream(&name, &ae.value)?),
                "default_permissions" | "default_permission" | "permissions" => {
                    defaults = Some(self.permissions(&name, &ae.value)?)
                }
                k if REFUSED_ACCOUNT.contains(&k) => return Err(self.refuse(&path, ae)),
                k if UNSUPPORTED_ACCOUNT.contains(&k) => self.unsupported(&path, ae),
                _ => self.unknown(&path, ae),
            }
        }
        if let Some(d) = &defaults {
            apply_default_permissions(&mut acc.users, d);
        }
        Ok(acc)
    }

    /// `jetstream: enabled | disabled | true | false | { max_mem, max_file, ... }`.
    fn account_jetstream(&mut self, key: &str, v: &Value) -> Result<AccountJetStream> {
        let expected = "enabled, disabled, true, false or a map of limits";
        match &v.kind {
            ValueKind::Bool(b) => Ok(AccountJetStream {
                enabled: *b,
                ..AccountJetStream::default()
            }),
            ValueKind::String(s) => match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" | "true" => Ok(AccountJetStream {
                    enabled: true,
                    ..AccountJetStream::default()
                }),
                "disabled" | "disable" | "false" => Ok(AccountJetStream::default()),
                _ => Err(invalid(key, v, expected)),
            },
            ValueKind::Map(m) => {
                let mut js = AccountJetStream {
                    enabled: true,
                    ..AccountJetStream::default()
                };
                for e in &m.entries {
                    let k = e.key.to_ascii_lowercase();
                    let name = join(key, &k);
                    let val = &e.value;
                    match k.as_str() {
                        "max_memory" | "max_mem" | "mem" | "memory" => {
                            js.max_memory = self.limit(&name, val, true)?
                        }
                        "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                            js.max_file = self.limit(&name, val, true)?
                        }
                        "max_streams" | "streams" => {
                            js.max_streams = self.limit(&name, val, false)?
                        }
                        "max_consumers" | "consumers" => {
                            js.max_consumers = self.limit(&name, val, false)?
                        }
                        "enabled" | "enable" => js.enabled = self.bool(&name, val)?,
                        k if UNSUPPORTED_ACCOUNT_JS.contains(&k) => self.unsupported(key, e),
                        _ => self.unknown(key, e),
                    }
                }
                Ok(js)
            }
            _ => Err(invalid(key, v, expected)),
        }
    }
}

/// Rejects reserved, empty and repeated account names; records `name` in `seen`.
fn check_account_name(name: &str, v: &Value, seen: &mut HashSet<String>) -> Result<()> {
    if name == GLOBAL_ACCOUNT {
        return Err(ConfigError::invalid(
            &v.pos,
            format!("invalid account name '{name}': it is reserved for the global account"),
        ));
    }
    if name.is_empty() {
        return Err(ConfigError::invalid(
            &v.pos,
            "invalid account name: it is empty",
        ));
    }
    if !seen.insert(name.to_string()) {
        return Err(ConfigError::invalid(
            &v.pos,
            format!("duplicate account '{name}'"),
        ));
    }
    Ok(())
}
