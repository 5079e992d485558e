//! JetStream storage limits of accounts and of the server, and the usage counters they
//! are checked against.
//!
//! Owns: [`AccountJs`] (one per account: its configured limits, its memory/file usage
//! and a handle on the server-wide usage), the publish-time checks (account limit →
//! 10002, server limit → 10023) and the stream create/update reservation check
//! (`max_bytes` that cannot be reserved → 10047 for file, 10028 for memory), with
//! nats-server 2.9's codes and texts.
//!
//! Usage is kept in atomics that the stream code adjusts by the change in a stream's
//! `bytes` after every `apply`, so a publish never locks another stream to check.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::config::Config;

use super::config::Storage;
use super::errors::ApiError;

/// Bytes in use, per storage type.
#[derive(Debug, Default)]
pub struct Usage {
    memory: AtomicI64,
    file: AtomicI64,
}

impl Usage {
    fn cell(&self, storage: Storage) -> &AtomicI64 {
        match storage {
            Storage::Memory => &self.memory,
            Storage::File => &self.file,
        }
    }

    pub fn get(&self, storage: Storage) -> i64 {
        self.cell(storage).load(Ordering::Relaxed)
    }
}

/// A limit in bytes or a count; `None` is unlimited.
fn limit(v: Option<i64>) -> Option<i64> {
    v.filter(|x| *x >= 0)
}

/// The JetStream limits and usage of one account.
#[derive(Debug, Default)]
pub struct AccountJs {
    pub max_memory: Option<i64>,
    pub max_file: Option<i64>,
    pub max_streams: Option<i64>,
    pub max_consumers: Option<i64>,
    /// Server-wide `max_memory_store` / `max_file_store`.
    pub server_max_memory: Option<i64>,
    pub server_max_file: Option<i64>,
    /// This account's usage.
    pub usage: Usage,
    /// Every account's usage together (shared by the accounts of one server).
    pub total: Arc<Usage>,
}

impl AccountJs {
    /// Limits of account `name` from the configuration, sharing `total`.
    pub fn from_config(cfg: &Config, name: &str, total: Arc<Usage>) -> AccountJs {
        let acc = cfg
            .accounts
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.jetstream.as_ref());
        let server = cfg.jetstream.as_ref();
        AccountJs {
            max_memory: limit(acc.and_then(|a| a.max_memory)),
            max_file: limit(acc.and_then(|a| a.max_file)),
            max_streams: limit(acc.and_then(|a| a.max_streams)),
            max_consumers: limit(acc.and_then(|a| a.max_consumers)),
            server_max_memory: limit(server.and_then(|j| j.max_memory_store)),
            server_max_file: limit(server.and_then(|j| j.max_file_store)),
            usage: Usage::default(),
            total,
        }
    }

    fn account_max(&self, storage: Storage) -> Option<i64> {
        match storage {
            Storage::Memory => self.max_memory,
            Storage::File => self.max_file,
        }
    }

    fn server_max(&self, storage: Storage) -> Option<i64> {
        match storage {
            Storage::Memory => self.server_max_memory,
            Storage::File => self.server_max_file,
        }
    }

    /// Records a change of `delta` bytes stored by one of the account's streams.
    pub fn add(&self, storage: Storage, delta: i64) {
        if delta != 0 {
            self.usage.cell(storage).fetch_add(delta, Ordering::Relaxed);
            self.total.cell(storage).fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Whether a message of `size` bytes may be stored: the account's usage plus the
    /// message must fit its limit (else 10002); the server must not already be over
    /// its limit (else 10023), as nats-server 2.9 checks.
    pub fn check_store(&self, storage: Storage, size: u64) -> Result<(), ApiError> {
        if let Some(max) = self.account_max(storage) {
            if self.usage.get(storage).saturating_add(size as i64) > max {
                return Err(ApiError::account_resources_exceeded());
            }
        }
        if let Some(max) = self.server_max(storage) {
            if self.total.get(storage) > max {
                return Err(ApiError::insufficient_resources());
            }
        }
        Ok(())
    }

    /// Whether a stream may reserve `max_bytes` of `storage`, given what the account's
    /// other streams reserve (`account_reserved`) and what every stream of the server
    /// reserves (`server_reserved`), both without the stream being created or updated.
    pub fn check_reserve(
        &self,
        storage: Storage,
        max_bytes: i64,
        account_reserved: i64,
        server_reserved: i64,
    ) -> Result<(), ApiError> {
        if max_bytes <= 0 {
            return Ok(());
        }
        let err = || match storage {
            Storage::Memory => ApiError::insufficient_memory_resources(),
            Storage::File => ApiError::insufficient_storage_resources(),
        };
        if let Some(max) = self.account_max(storage) {
            if account_reserved.saturating_add(max_bytes) > max {
                return Err(err());
            }
        }
        if let Some(max) = self.server_max(storage) {
            if server_reserved.saturating_add(max_bytes) > max {
                return Err(err());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(max_file: Option<i64>, server_file: Option<i64>) -> AccountJs {
        AccountJs {
            max_file,
            server_max_file: server_file,
            ..AccountJs::default()
        }
    }

    #[test]
    fn store_check_counts_the_new_message_against_the_account() {
        let a = acc(Some(1000), None);
        a.add(Storage::File, 900);
        assert!(a.check_store(Storage::File, 100).is_ok());
        let e = a.check_store(Storage::File, 101).unwrap_err();
        assert_eq!((e.code, e.err_code), (400, 10002));
        // Memory is limited separately (and unlimited here).
        assert!(a.check_store(Storage::Memory, 10_000).is_ok());
        a.add(Storage::File, -900);
        assert!(a.check_store(Storage::File, 1000).is_ok());
    }

    #[test]
    fn server_check_uses_every_accounts_usage() {
        let total = Arc::new(Usage::default());
        let a = AccountJs {
            server_max_file: Some(1000),
            total: total.clone(),
            ..AccountJs::default()
        };
        let b = AccountJs {
            server_max_file: Some(1000),
            total,
            ..AccountJs::default()
        };
        b.add(Storage::File, 1000);
        assert!(a.check_store(Storage::File, 50).is_ok());
        b.add(Storage::File, 1);
        let e = a.check_store(Storage::File, 50).unwrap_err();
        assert_eq!((e.code, e.err_code), (503, 10023));
    }

    #[test]
    fn reservations() {
        let a = acc(Some(1000), Some(5000));
        assert!(a.check_reserve(Storage::File, -1, 10_000, 10_000).is_ok());
        assert!(a.check_reserve(Storage::File, 600, 400, 0).is_ok());
        let e = a.check_reserve(Storage::File, 601, 400, 0).unwrap_err();
        assert_eq!((e.code, e.err_code), (500, 10047));
        let e = a.check_reserve(Storage::File, 600, 0, 4401).unwrap_err();
        assert_eq!(e.err_code, 10047);
        let m = AccountJs {
            max_memory: Some(10),
            ..AccountJs::default()
        };
        let e = m.check_reserve(Storage::Memory, 11, 0, 0).unwrap_err();
        assert_eq!((e.code, e.err_code), (500, 10028));
        assert_eq!(e.description, "insufficient memory resources available");
    }
}
