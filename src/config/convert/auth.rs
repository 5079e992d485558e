//! `authorization { ... }`, user entries and `permissions` blocks.
//!
//! Owns: conversion of the top-level authorization block, of `users: [...]`
//! lists (shared with `accounts`) and of permissions (publish / subscribe /
//! allow_responses). Must not: check passwords or hash anything (bcrypt hashes
//! are kept as written), nor look at other top-level keys.

use std::time::Duration;

use super::{invalid, join, Conv, Result};
use crate::config::error::ConfigError;
use crate::config::model::{
    Authorization, Permissions, ResponsePermission, SubjectPermission, UserConfig,
};
use crate::config::value::{Pos, Value, ValueKind};

/// Keys of a user entry that natrium does not implement: refused (fail closed).
const REFUSED_USER: &[&str] = &[
    "allowed_connection_types",
    "connection_types",
    "clients",
    "proxy_required",
    "account",
];

/// Keys of the authorization block that natrium does not implement: refused.
const REFUSED_AUTH: &[&str] = &["auth_callout", "auth_hook", "proxy_required", "nkeys"];

impl Conv {
    /// The top-level `authorization` block.
    pub(crate) fn authorization(&mut self, prefix: &str, v: &Value) -> Result<Authorization> {
        let m = self.map(prefix, v)?;
        let mut auth = Authorization::default();
        let mut users_given = false;
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "user" | "username" => auth.user = Some(self.text(&name, val)?),
                "pass" | "password" => auth.password = Some(self.text(&name, val)?),
                "token" => auth.token = Some(self.text(&name, val)?),
                "timeout" => auth.timeout = self.seconds(&name, val)?,
                "users" => {
                    auth.users = self.users(&name, val)?;
                    users_given = true;
                }
                "permissions" | "default_permissions" | "default_permission" => {
                    auth.default_permissions = Some(self.permissions(&name, val)?)
                }
                k if REFUSED_AUTH.contains(&k) => return Err(self.refuse(prefix, e)),
                _ => self.unknown(prefix, e),
            }
        }
        if (auth.user.is_some() || auth.password.is_some()) && auth.token.is_some() {
            return Err(ConfigError::invalid(
                &v.pos,
                "invalid authorization: cannot have both user/password and a token",
            ));
        }
        if users_given && auth.user.is_some() {
            return Err(ConfigError::invalid(
                &v.pos,
                "invalid authorization: cannot have both a single user/password and a users array",
            ));
        }
        if users_given && auth.token.is_some() {
            return Err(ConfigError::invalid(
                &v.pos,
                "invalid authorization: cannot have both a token and a users array",
            ));
        }
        if let Some(p) = &auth.default_permissions {
            apply_default_permissions(&mut auth.users, p);
        }
        Ok(auth)
    }

    /// A `users: [ {user, password, permissions}, ... ]` list.
    pub(crate) fn users(&mut self, key: &str, v: &Value) -> Result<Vec<UserConfig>> {
        let items = v
            .as_array()
            .ok_or_else(|| invalid(key, v, "an array of users [ { user: ..., password: ... } ]"))?;
        let mut out = Vec::new();
        for item in items {
            if let Some(u) = self.user(key, item)? {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// One user entry; `None` for entries natrium skips (nkey users).
    fn user(&mut self, prefix: &str, v: &Value) -> Result<Option<UserConfig>> {
        let m = v.as_map().ok_or_else(|| {
            invalid(
                prefix,
                v,
                "each user to be a map like { user: name, password: secret }",
            )
        })?;
        let mut user: Option<(String, Pos)> = None;
        let mut password = None;
        let mut permissions = None;
        let mut nkey: Option<(String, Pos)> = None;
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "user" | "username" => user = Some((self.text(&name, val)?, val.pos.clone())),
                "pass" | "password" => password = Some(self.text(&name, val)?),
                "permissions" | "permission" | "authorization" => {
                    permissions = Some(self.permissions(&name, val)?)
                }
                "nkey" => {
                    let k = self.string(&name, val)?;
                    if !k.starts_with('U') || nkeys::KeyPair::from_public_key(&k).is_err() {
                        return Err(invalid(&name, val, "a public user nkey (U...)"));
                    }
                    nkey = Some((k, val.pos.clone()));
                }
                k if REFUSED_USER.contains(&k) => return Err(self.refuse(prefix, e)),
                _ => self.unknown(prefix, e),
            }
        }
        let (user, user_pos) = match (user, nkey.clone()) {
            (Some(_), Some((_, pos))) => {
                return Err(ConfigError::invalid(
                    &pos,
                    "invalid user entry: nkey users do not take a user name or password",
                ))
            }
            (None, Some((k, pos))) => {
                if password.is_some() {
                    return Err(ConfigError::invalid(
                        &pos,
                        "invalid user entry: nkey users do not take a user name or password",
                    ));
                }
                (k, pos)
            }
            (None, None) => {
                return Err(ConfigError::invalid(
                    &v.pos,
                    format!("invalid user entry in {prefix}: a 'user' is required"),
                ))
            }
            (Some(u), None) => u,
        };
        if user.is_empty() {
            return Err(ConfigError::invalid(
                &user_pos,
                format!("invalid user entry in {prefix}: the user name is empty"),
            ));
        }
        self.register_user(&user, &user_pos)?;
        Ok(Some(UserConfig {
            user,
            nkey: nkey.map(|(k, _)| k),
            password,
            permissions,
        }))
    }

    /// A `permissions { publish, subscribe, allow_responses }` block. Unknown keys are
    /// errors here (as in nats-server): a typo must not silently grant access.
    pub(crate) fn permissions(&mut self, prefix: &str, v: &Value) -> Result<Permissions> {
        let m = self.map(prefix, v)?;
        let mut p = Permissions::default();
        for e in &m.entries {
            let key = e.key.to_ascii_lowercase();
            let name = join(prefix, &key);
            let val = &e.value;
            match key.as_str() {
                "publish" | "pub" | "import" => p.publish = self.subject_permission(&name, val, false)?,
                "subscribe" | "sub" | "export" => {
                    p.subscribe = self.subject_permission(&name, val, true)?
                }
                "allow_responses" | "publish_allow_responses" => {
                    p.allow_responses = self.allow_responses(&name, val)?
                }
                _ if e.used_as_variable => {}
                _ => {
                    return Err(ConfigError::invalid(
                        &e.key_pos,
                        format!(
                            "unknown key '{}' in {prefix}: expected publish, subscribe or allow_responses",
                            e.key
                        ),
                    ))
                }
            }
        }
        if p.allow_responses.is_some() && p.publish.is_none() {
            // As nats-server: allowing responses turns off the blanket publish allow
            // (`auth::Permissions` reads an empty allow list with responses as
            // "nothing but replies").
            p.publish = Some(SubjectPermission::default());
        }
        Ok(p)
    }

    /// A subject list, or `{ allow: ..., deny: ... }`; `None` for an empty map.
    fn subject_permission(
        &mut self,
        key: &str,
        v: &Value,
        queue_ok: bool,
    ) -> Result<Option<SubjectPermission>> {
        let mut sp = SubjectPermission::default();
        match &v.kind {
            ValueKind::Map(m) => {
                if m.is_empty() {
                    return Ok(None);
                }
                for e in &m.entries {
                    let k = e.key.to_ascii_lowercase();
                    let name = join(key, &k);
                    match k.as_str() {
                        "allow" => sp.allow = self.subjects(&name, &e.value, queue_ok)?,
                        "deny" => sp.deny = self.subjects(&name, &e.value, queue_ok)?,
                        _ if e.used_as_variable => {}
                        _ => {
                            return Err(ConfigError::invalid(
                                &e.key_pos,
                                format!(
                                "unknown key '{}' in {key}: only 'allow' and 'deny' are permitted",
                                e.key
                            ),
                            ))
                        }
                    }
                }
            }
            _ => sp.allow = self.subjects(key, v, queue_ok)?,
        }
        Ok(Some(sp))
    }

    /// A subject or list of subjects, each validated.
    fn subjects(&self, key: &str, v: &Value, queue_ok: bool) -> Result<Vec<String>> {
        let list = self.string_list(key, v)?;
        let items: Vec<&Value> = match v.as_array() {
            Some(a) => a.iter().collect(),
            None => vec![v],
        };
        for (s, item) in list.iter().zip(items) {
            if !valid_permission_subject(s, queue_ok) {
                let expected = if queue_ok {
                    "a valid subject (optionally followed by a queue name)"
                } else {
                    "a valid subject"
                };
                return Err(invalid(key, item, expected));
            }
        }
        Ok(list)
    }

    /// `allow_responses: true | false | { max, expires }`.
    fn allow_responses(&mut self, key: &str, v: &Value) -> Result<Option<ResponsePermission>> {
        let mut rp = ResponsePermission::default();
        match &v.kind {
            ValueKind::Bool(true) => Ok(Some(rp)),
            ValueKind::Bool(false) => Ok(None),
            ValueKind::Map(m) => {
                for e in &m.entries {
                    let k = e.key.to_ascii_lowercase();
                    let name = join(key, &k);
                    match k.as_str() {
                        "max" | "max_msgs" | "max_messages" | "max_responses" => {
                            // As nats-server: 0 keeps the default, negative is unlimited.
                            let n = self.int(&name, &e.value)?;
                            if n != 0 {
                                rp.max = n;
                            }
                        }
                        "expires" | "expiration" | "ttl" => {
                            // 0 keeps the default (as nats-server).
                            let d = self.duration(&name, &e.value)?;
                            if d != Duration::ZERO {
                                rp.expires = Some(d);
                            }
                        }
                        _ if e.used_as_variable => {}
                        _ => {
                            return Err(ConfigError::invalid(
                                &e.key_pos,
                                format!(
                                    "unknown key '{}' in {key}: expected max or expires",
                                    e.key
                                ),
                            ))
                        }
                    }
                }
                Ok(Some(rp))
            }
            _ => Err(invalid(key, v, "true, false or a map { max, expires }")),
        }
    }
}

/// Gives `defaults` to every user without permissions of its own.
pub(crate) fn apply_default_permissions(users: &mut [UserConfig], defaults: &Permissions) {
    for u in users.iter_mut().filter(|u| u.permissions.is_none()) {
        u.permissions = Some(defaults.clone());
    }
}

/// A subject as nats-server accepts in permissions: non-empty tokens separated by
/// `.`, no whitespace, `>` only as the last token. With `queue_ok`, a second word
/// (the queue group) may follow after one space.
pub(crate) fn valid_permission_subject(s: &str, queue_ok: bool) -> bool {
    let valid_subject = |subj: &str| {
        if subj.is_empty() || subj.chars().any(char::is_whitespace) {
            return false;
        }
        let tokens: Vec<&str> = subj.split('.').collect();
        let last = tokens.len().saturating_sub(1);
        tokens
            .iter()
            .enumerate()
            .all(|(i, t)| !t.is_empty() && (*t != ">" || i == last))
    };
    if valid_subject(s) {
        return true;
    }
    if !queue_ok {
        return false;
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    words.len() == 2 && words.iter().all(|w| valid_subject(w))
}
