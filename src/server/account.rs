//! Accounts: isolated subject spaces, each with its own sublist.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;
use crate::sublist::Sublist;

use super::stats::Counters;
use super::subscription::SubRef;

/// The global account used when no accounts are configured.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The default system account.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// One account: a name and the subscriptions made in it.
pub struct Account {
    pub name: String,
    pub sublist: Sublist<SubRef>,
    pub stats: Counters,
    /// Whether JetStream is enabled for this account (used by the JetStream issue).
    pub jetstream: bool,
    /// Local subscriptions counted for the cluster's routes.
    pub interest: crate::cluster::LocalInterest,
    /// JetStream limits and storage usage.
    pub js: crate::jetstream::limits::AccountJs,
}

impl Account {
    pub fn new(name: &str, jetstream: bool) -> Self {
        Account {
            name: name.to_string(),
            sublist: Sublist::new(),
            stats: Counters::default(),
            jetstream,
            interest: Default::default(),
            js: Default::default(),
        }
    }
}

/// Every account, fixed at startup from the configuration.
pub struct Accounts {
    by_name: HashMap<String, Arc<Account>>,
    system: String,
}

impl Accounts {
    pub fn from_config(cfg: &Config) -> Self {
        let js_on = cfg.jetstream.as_ref().is_some_and(|j| j.enabled);
        let mut by_name = HashMap::new();
        // With no accounts configured, the global account gets JetStream.
        let global_js = js_on && cfg.accounts.is_empty();
        let total = Arc::new(crate::jetstream::limits::Usage::default());
        let make = |name: &str, js: bool| {
            let mut a = Account::new(name, js);
            a.js = crate::jetstream::limits::AccountJs::from_config(cfg, name, total.clone());
            Arc::new(a)
        };
        by_name.insert(GLOBAL_ACCOUNT.to_string(), make(GLOBAL_ACCOUNT, global_js));
        for a in &cfg.accounts {
            let js = js_on && a.jetstream.as_ref().is_some_and(|j| j.enabled);
            by_name.insert(a.name.clone(), make(&a.name, js));
        }
        let system = cfg
            .system_account
            .clone()
            .unwrap_or_else(|| SYSTEM_ACCOUNT.to_string());
        by_name
            .entry(system.clone())
            .or_insert_with(|| Arc::new(Account::new(&system, false)));
        Accounts { by_name, system }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }

    pub fn global(&self) -> &Arc<Account> {
        // Inserted in from_config and never removed.
        &self.by_name[GLOBAL_ACCOUNT]
    }

    pub fn system_name(&self) -> &str {
        &self.system
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.by_name.values()
    }
}
