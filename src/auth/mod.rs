//! Client authentication: users, passwords (plain or bcrypt), tokens, accounts.
//!
//! Owns: the table of credentials built from the configuration and the check of a
//! CONNECT's credentials against it. Must not: do network I/O or touch connections.
//! bcrypt checks are slow on purpose; callers run [`Authenticator::authenticate`] off
//! the async reactor (`spawn_blocking`).

pub mod nkey;
pub mod permissions;
pub mod responses;
pub mod secret;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, UserConfig};
use crate::protocol::ConnectInfo;
use crate::server::account::GLOBAL_ACCOUNT;

pub use permissions::Permissions;
use secret::Secret;

/// What a successful authentication binds the connection to.
#[derive(Debug, Clone)]
pub struct AuthOutcome {
    pub user: Option<String>,
    pub account: String,
    pub permissions: Option<Arc<Permissions>>,
}

struct UserEntry {
    password: Option<Secret>,
    account: String,
    permissions: Option<Arc<Permissions>>,
}

/// The credential table.
pub struct Authenticator {
    token: Option<Secret>,
    users: HashMap<String, UserEntry>,
    /// nkey users by public key.
    nkeys: HashMap<String, UserEntry>,
    no_auth_user: Option<String>,
    pub timeout: Duration,
}

impl Authenticator {
    pub fn from_config(cfg: &Config) -> Self {
        let a = &cfg.authorization;
        let default_perms = a
            .default_permissions
            .as_ref()
            .map(|p| Arc::new(Permissions::compile(p)));
        let mut users = HashMap::new();
        let mut nkeys = HashMap::new();
        let mut add = |u: &UserConfig, account: &str| {
            let permissions = u
                .permissions
                .as_ref()
                .map(|p| Arc::new(Permissions::compile(p)))
                .or_else(|| default_perms.clone());
            let entry = UserEntry {
                password: u.password.as_deref().map(Secret::new),
                account: account.to_string(),
                permissions,
            };
            match &u.nkey {
                Some(k) => {
                    nkeys.insert(k.clone(), entry);
                }
                None => {
                    users.insert(u.user.clone(), entry);
                }
            }
        };
        if let Some(user) = &a.user {
            add(
                &UserConfig {
                    user: user.clone(),
                    nkey: None,
                    password: a.password.clone(),
                    permissions: None,
                },
                GLOBAL_ACCOUNT,
            );
        }
        for u in &a.users {
            add(u, GLOBAL_ACCOUNT);
        }
        for acc in &cfg.accounts {
            for u in &acc.users {
                add(u, &acc.name);
            }
        }
        Authenticator {
            token: a.token.as_deref().map(Secret::new),
            users,
            nkeys,
            no_auth_user: cfg.no_auth_user.clone(),
            timeout: a.timeout,
        }
    }

    /// Whether clients must present credentials (INFO `auth_required`).
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || !self.nkeys.is_empty()
    }

    /// Whether INFO carries a nonce for clients to sign (nkey users exist).
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// Checks a CONNECT's credentials. `None` means Authorization Violation.
    pub fn authenticate(&self, ci: &ConnectInfo) -> Option<AuthOutcome> {
        self.authenticate_with_nonce(ci, None)
    }

    /// [`Self::authenticate`] for a connection that was sent `nonce` in INFO: an nkey
    /// in CONNECT must come with `sig`, the ed25519 signature of the nonce.
    pub fn authenticate_with_nonce(
        &self,
        ci: &ConnectInfo,
        nonce: Option<&str>,
    ) -> Option<AuthOutcome> {
        if let (Some(k), false) = (&ci.nkey, self.nkeys.is_empty()) {
            let entry = self.nkeys.get(k)?;
            let ok = nkey::verify(k, nonce?, ci.sig.as_deref()?);
            return ok.then(|| AuthOutcome {
                user: Some(k.clone()),
                account: entry.account.clone(),
                permissions: entry.permissions.clone(),
            });
        }
        if !self.required() {
            return Some(AuthOutcome {
                user: None,
                account: GLOBAL_ACCOUNT.to_string(),
                permissions: None,
            });
        }
        if let Some(token) = &self.token {
            let given = ci.auth_token.as_deref()?;
            return token.verify(given).then(|| AuthOutcome {
                user: None,
                account: GLOBAL_ACCOUNT.to_string(),
                permissions: None,
            });
        }
        let (name, pass) = match (&ci.user, &self.no_auth_user) {
            (Some(u), _) => (u.as_str(), ci.pass.as_deref().unwrap_or("")),
            (None, Some(nau)) if ci.auth_token.is_none() && ci.nkey.is_none() => {
                let e = self.users.get(nau).or_else(|| self.nkeys.get(nau))?;
                return Some(AuthOutcome {
                    user: Some(nau.clone()),
                    account: e.account.clone(),
                    permissions: e.permissions.clone(),
                });
            }
            _ => return None,
        };
        let entry = self.users.get(name)?;
        let ok = match &entry.password {
            Some(secret) => secret.verify(pass),
            None => true,
        };
        ok.then(|| AuthOutcome {
            user: Some(name.to_string()),
            account: entry.account.clone(),
            permissions: entry.permissions.clone(),
        })
    }

    /// Whether checking `ci` may run bcrypt (so it belongs on a blocking thread).
    pub fn is_slow(&self) -> bool {
        self.token.as_ref().is_some_and(Secret::is_bcrypt)
            || self
                .users
                .values()
                .any(|u| u.password.as_ref().is_some_and(Secret::is_bcrypt))
    }
}
