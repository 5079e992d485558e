//! Retained messages: the last retained PUBLISH per topic, per account.
//!
//! Owns: the table and its lookup by filter. Must not: deliver (the connection
//! does). Kept in memory: retained messages do not survive a restart yet.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use parking_lot::Mutex;

/// One retained message.
#[derive(Debug, Clone)]
pub struct RetainedMsg {
    pub subject: String,
    pub topic: String,
    pub qos: u8,
    pub payload: Bytes,
}

/// account → subject → message.
#[derive(Default)]
pub struct Retained {
    table: Mutex<HashMap<String, BTreeMap<String, RetainedMsg>>>,
}

/// Most retained messages kept per account (oldest topics are not evicted: new
/// ones are refused past this).
const MAX_PER_ACCOUNT: usize = 100_000;

impl Retained {
    /// Stores `msg`, or clears the topic when the payload is empty.
    pub fn set(&self, account: &str, msg: RetainedMsg) {
        let mut t = self.table.lock();
        let a = t.entry(account.to_string()).or_default();
        if msg.payload.is_empty() {
            a.remove(&msg.subject);
        } else if a.len() < MAX_PER_ACCOUNT || a.contains_key(&msg.subject) {
            a.insert(msg.subject.clone(), msg);
        }
    }

    /// Retained messages whose subject matches the NATS `pattern`.
    pub fn matching(&self, account: &str, pattern: &str) -> Vec<RetainedMsg> {
        let t = self.table.lock();
        let Some(a) = t.get(account) else {
            return Vec::new();
        };
        a.values()
            .filter(|m| crate::subject::matches(pattern, &m.subject))
            .cloned()
            .collect()
    }
}
