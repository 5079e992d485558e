//! `websocket { ... }` and `mqtt { ... }`.
//!
//! Owns: conversion into [`WebSocketConfig`] and [`MqttConfig`]. Settings that
//! change who may connect or how (TLS, per-listener authorization, cookies,
//! `no_auth_user`) are errors, not warnings, while natrium does not implement them:
//! a server that ignored them would accept clients its operator meant to refuse.

use super::{invalid, join, Conv, PortRules, Result};
use crate::config::error::ConfigError;
use crate::config::model::{MqttConfig, WebSocketConfig};
use crate::config::value::Value;

/// Security settings natrium refuses to ignore.
const FAIL_CLOSED: &[&str] = &[
    "tls",
    "authorization",
    "authentication",
    "no_auth_user",
    "jwt_cookie",
    "user_cookie",
    "pass_cookie",
    "token_cookie",
    "username",
    "password",
    "token",
];

/// Accepted and ignored with a warning.
const UNSUPPORTED_WS: &[&str] = &["advertise", "headers", "token_cookie_name"];
const UNSUPPORTED_MQTT: &[&str] = &[
    "js_domain",
    "consumer_memory_storage",
    "consumer_inactive_threshold",
    "js_api_timeout",
    "max_payload",
];

impl Conv {
    /// A front end's port: 0 disables it, -1 picks a random port.
    fn frontend_port(&self, key: &str, v: &Value) -> Result<Option<u16>> {
        match self.int(key, v)? {
            0 => Ok(None),
            -1 => Ok(Some(0)),
            p @ 1..=65535 => Ok(Some(p as u16)),
            _ => Err(invalid(
                key,
                v,
                "a port between 0 and 65535 (or -1 for a random port)",
            )),
        }
    }

    pub(crate) fn websocket(&mut self, prefix: &str, v: &Value) -> Result<WebSocketConfig> {
        let m = self.map(prefix, v)?;
        let mut w = WebSocketConfig::default();
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "host" | "net" => w.host = self.string(&name, val)?,
                "port" => w.port = self.frontend_port(&name, val)?,
                "listen" => {
                    let (h, p) = self.listen(&name, val, PortRules { zero: 0 })?;
                    if let Some(h) = h {
                        w.host = h;
                    }
                    w.port = Some(p);
                }
                "no_tls" => w.no_tls = self.bool(&name, val)?,
                "compression" => w.compression = self.bool(&name, val)?,
                "same_origin" => w.same_origin = self.bool(&name, val)?,
                "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin"
                | "origins" | "origin" => {
                    w.allowed_origins = self.string_list(&name, val)?;
                    for o in &w.allowed_origins {
                        if !o.contains("://") {
                            return Err(invalid(
                                &name,
                                val,
                                "origins such as \"http://host:port\"",
                            ));
                        }
                    }
                }
                "handshake_timeout" => w.handshake_timeout = self.duration(&name, val)?,
                k if FAIL_CLOSED.contains(&k) => return Err(self.refuse(prefix, e)),
                k if UNSUPPORTED_WS.contains(&k) => self.unsupported(prefix, e),
                _ => self.unknown(prefix, e),
            }
        }
        if w.port.is_some() && !w.no_tls {
            return Err(ConfigError::invalid(
                &v.pos,
                "websocket requires TLS configuration: natrium has no TLS, set no_tls: true",
            ));
        }
        Ok(w)
    }

    pub(crate) fn mqtt(&mut self, prefix: &str, v: &Value) -> Result<MqttConfig> {
        let m = self.map(prefix, v)?;
        let mut c = MqttConfig::default();
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "host" | "net" => c.host = self.string(&name, val)?,
                "port" => c.port = self.frontend_port(&name, val)?,
                "listen" => {
                    let (h, p) = self.listen(&name, val, PortRules { zero: 0 })?;
                    if let Some(h) = h {
                        c.host = h;
                    }
                    c.port = Some(p);
                }
                "ack_wait" | "ackwait" => c.ack_wait = self.duration(&name, val)?,
                "max_ack_pending" | "max_pending" | "max_inflight" => {
                    let n = self.int(&name, val)?;
                    c.max_ack_pending = u16::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid(&name, val, "an integer between 1 and 65535"))?;
                }
                "stream_replicas" | "consumer_replicas" => {
                    let n = self.int(&name, val)?;
                    if !(0..=1).contains(&n) {
                        return Err(invalid(
                            &name,
                            val,
                            "1 (natrium's MQTT streams are not replicated yet)",
                        ));
                    }
                }
                "reject_qos2_publish" => c.reject_qos2_publish = self.bool(&name, val)?,
                "downgrade_qos2_subscribe" | "downgrade_qos2_sub" => {
                    c.downgrade_qos2_subscribe = self.bool(&name, val)?
                }
                k if FAIL_CLOSED.contains(&k) => return Err(self.refuse(prefix, e)),
                k if UNSUPPORTED_MQTT.contains(&k) => self.unsupported(prefix, e),
                _ => self.unknown(prefix, e),
            }
        }
        Ok(c)
    }
}
