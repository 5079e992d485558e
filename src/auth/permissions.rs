//! Compiled publish/subscribe permissions of a user.

use crate::config;
use crate::subject;

/// Allow/deny lists for publish and subscribe. An empty allow list allows everything.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    pub_allow: Vec<String>,
    pub_deny: Vec<String>,
    sub_allow: Vec<String>,
    sub_deny: Vec<String>,
    has_pub: bool,
    has_sub: bool,
}

impl Permissions {
    pub fn compile(p: &config::Permissions) -> Self {
        let (pub_allow, pub_deny, has_pub) = match &p.publish {
            Some(sp) => (sp.allow.clone(), sp.deny.clone(), true),
            None => (Vec::new(), Vec::new(), false),
        };
        let (sub_allow, sub_deny, has_sub) = match &p.subscribe {
            Some(sp) => (sp.allow.clone(), sp.deny.clone(), true),
            None => (Vec::new(), Vec::new(), false),
        };
        Permissions {
            pub_allow,
            pub_deny,
            sub_allow,
            sub_deny,
            has_pub,
            has_sub,
        }
    }

    /// May this user publish to the literal `subj`?
    pub fn can_publish(&self, subj: &str) -> bool {
        if !self.has_pub {
            return true;
        }
        let allowed =
            self.pub_allow.is_empty() || self.pub_allow.iter().any(|p| subject::matches(p, subj));
        allowed && !self.pub_deny.iter().any(|p| subject::matches(p, subj))
    }

    /// May this user subscribe to `subj` (which may contain wildcards) with `queue`?
    /// Entries may be `"subject queue"` to restrict queue groups.
    pub fn can_subscribe(&self, subj: &str, queue: Option<&str>) -> bool {
        if !self.has_sub {
            return true;
        }
        let fits = |entry: &String| {
            let mut parts = entry.split_whitespace();
            let pat = parts.next().unwrap_or("");
            let q = parts.next();
            let subj_ok = subject::is_subset(subj, pat);
            match (q, queue) {
                (None, _) => subj_ok,
                (Some(eq), Some(given)) => subj_ok && subject::matches(eq, given),
                (Some(_), None) => false,
            }
        };
        let allowed = self.sub_allow.is_empty() || self.sub_allow.iter().any(fits);
        allowed && !self.sub_deny.iter().any(fits)
    }
}
