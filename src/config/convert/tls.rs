//! `tls { ... }` blocks: certificate, key, CA, verification, timeout, handshake_first.
//!
//! Owns: conversion into [`TlsConfig`]. Every TLS option natrium does not implement
//! (cipher suites, curve preferences, pinned certificates, certificate stores, OCSP
//! peer checks, minimum versions, `insecure`) is refused: ignoring one would give a
//! weaker TLS than the operator asked for. Must not: read the files (the server loads
//! them at start and `natrium -t` checks them).

use std::path::PathBuf;

use super::{invalid, join, Conv, Result};
use crate::config::error::ConfigError;
use crate::config::model::TlsConfig;
use crate::config::value::{Value, ValueKind};

impl Conv {
    /// A `tls` block at `prefix` (`tls`, `cluster.tls`).
    pub(crate) fn tls(&mut self, prefix: &str, v: &Value) -> Result<TlsConfig> {
        let m = self.map(prefix, v)?;
        let mut t = TlsConfig::default();
        let mut cert = None;
        let mut key = None;
        for e in &m.entries {
            let k = e.key.to_ascii_lowercase();
            let name = join(prefix, &k);
            let val = &e.value;
            match k.as_str() {
                "cert_file" => cert = Some(PathBuf::from(self.string(&name, val)?)),
                "key_file" => key = Some(PathBuf::from(self.string(&name, val)?)),
                "ca_file" => t.ca_file = Some(PathBuf::from(self.string(&name, val)?)),
                "verify" => t.verify = self.bool(&name, val)?,
                "verify_and_map" => {
                    t.verify_and_map = self.bool(&name, val)?;
                    if t.verify_and_map {
                        return Err(self.refuse(prefix, e));
                    }
                }
                "timeout" => t.timeout = self.seconds(&name, val)?,
                "handshake_first" | "first" | "immediate" => {
                    t.handshake_first =
                        match &val.kind {
                            ValueKind::Bool(b) => *b,
                            ValueKind::String(s) if s.eq_ignore_ascii_case("true") => true,
                            ValueKind::String(s) if s.eq_ignore_ascii_case("false") => false,
                            _ => return Err(invalid(
                                &name,
                                val,
                                "true or false (the 'auto' fallback is not supported by natrium)",
                            )),
                        }
                }
                _ if e.used_as_variable => {}
                _ => return Err(self.refuse(prefix, e)),
            }
        }
        match (cert, key) {
            (Some(c), Some(k)) => {
                t.cert_file = c;
                t.key_file = k;
            }
            (None, _) => {
                return Err(ConfigError::invalid(
                    &v.pos,
                    format!("invalid {prefix}: missing 'cert_file'"),
                ))
            }
            (_, None) => {
                return Err(ConfigError::invalid(
                    &v.pos,
                    format!("invalid {prefix}: missing 'key_file'"),
                ))
            }
        }
        if t.verify && t.ca_file.is_none() {
            return Err(ConfigError::invalid(
                &v.pos,
                format!("invalid {prefix}: 'verify' needs a 'ca_file' (natrium does not use the system roots for client certificates)"),
            ));
        }
        Ok(t)
    }
}
