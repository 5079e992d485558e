//! `cluster { name, listen, routes, authorization, ... }`.
//!
//! Owns: conversion of the cluster block into [`ClusterConfig`], including the
//! route authorization (single user only, no tokens). Must not: resolve or
//! contact routes; route URLs are kept as written after a shape check.

use super::{invalid, join, Conv, PortRules, Result};
use crate::config::error::ConfigError;
use crate::config::model::{ClusterConfig, RouteAuth};
use crate::config::value::Value;

/// Cluster keys that natrium does not implement.
const UNSUPPORTED_CLUSTER: &[&str] = &[
    "connect_backoff",
    "accounts",
    "compression",
    "ping_interval",
    "ping_max",
    "write_deadline",
    "write_timeout",
    "pinned_accounts",
];

/// Default route port.
const DEFAULT_CLUSTER_PORT: u16 = 6222;

impl Conv {
    pub(crate) fn cluster(&mut self, prefix: &str, v: &Value) -> Result<ClusterConfig> {
        let m = self.map(prefix, v)?;
        let mut c = ClusterConfig::default();
        let rules = PortRules {
            zero: DEFAULT_CLUSTER_PORT,
        };
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "name" => c.name = Some(self.name_without_spaces(&name, val)?),
                "listen" => {
                    let (host, port) = self.listen(&name, val, rules)?;
                    if let Some(h) = host {
                        c.host = h;
                    }
                    c.port = port;
                }
                "host" | "net" => c.host = self.string(&name, val)?,
                "port" => c.port = self.port(&name, val, rules)?,
                "routes" => c.routes = self.routes(&name, val)?,
                "authorization" => c.authorization = Some(self.route_auth(&name, val)?),
                "advertise" | "cluster_advertise" => c.advertise = Some(self.string(&name, val)?),
                "no_advertise" => c.no_advertise = self.bool(&name, val)?,
                "connect_retries" => c.connect_retries = self.count_u32(&name, val)?,
                "pool_size" => c.pool_size = self.int(&name, val)?,
                "tls" | "permissions" => return Err(self.refuse(prefix, e)),
                k if UNSUPPORTED_CLUSTER.contains(&k) => self.unsupported(prefix, e),
                _ => self.unknown(prefix, e),
            }
        }
        Ok(c)
    }

    /// Route URLs: an array (or a single string) of `scheme://[user:pass@]host:port`.
    fn routes(&self, key: &str, v: &Value) -> Result<Vec<String>> {
        let routes = self.string_list(key, v)?;
        let items: Vec<&Value> = match v.as_array() {
            Some(a) => a.iter().collect(),
            None => vec![v],
        };
        for (r, item) in routes.iter().zip(items) {
            let ok = r
                .split_once("://")
                .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty());
            if !ok {
                return Err(invalid(
                    key,
                    item,
                    "a route URL such as nats://host:6222 or nats-route://user:pass@host:6222",
                ));
            }
        }
        Ok(routes)
    }

    /// `cluster.authorization { user, password, timeout }`.
    fn route_auth(&mut self, prefix: &str, v: &Value) -> Result<RouteAuth> {
        let m = self.map(prefix, v)?;
        let mut user = None;
        let mut password = None;
        let mut auth = RouteAuth {
            user: String::new(),
            password: String::new(),
            timeout: std::time::Duration::from_secs(2),
        };
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "user" | "username" => user = Some(self.text(&name, val)?),
                "pass" | "password" => password = Some(self.text(&name, val)?),
                "timeout" => auth.timeout = self.seconds(&name, val)?,
                "users" => {
                    return Err(ConfigError::invalid(
                        &e.key_pos,
                        format!(
                            "invalid {name}: cluster authorization does not allow multiple users"
                        ),
                    ))
                }
                "token" => {
                    return Err(ConfigError::invalid(
                        &e.key_pos,
                        format!("invalid {name}: cluster authorization does not support tokens"),
                    ))
                }
                "permissions" | "default_permissions" | "default_permission" => {
                    return Err(self.refuse(prefix, e))
                }
                _ => self.unknown(prefix, e),
            }
        }
        match (user, password) {
            (Some(u), Some(p)) if !u.is_empty() => {
                auth.user = u;
                auth.password = p;
                Ok(auth)
            }
            _ => Err(ConfigError::invalid(
                &v.pos,
                format!("invalid {prefix}: both 'user' and 'password' are required"),
            )),
        }
    }
}
