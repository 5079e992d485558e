//! Compiled publish/subscribe permissions of a user, as nats-server applies them.
//!
//! Publish: no `publish` block allows everything; an allow list allows only its
//! subjects; a deny list removes subjects. With `allow_responses` and no allow list,
//! nothing is allowed but replies to requests the user received (an empty allow list
//! with responses is "nothing", never "everything"). Subscribe: an empty allow list
//! allows everything; deny entries may name a queue group (`"subject queue"`).

use crate::config;
use crate::subject;

use super::responses::ReplyTracker;

/// Allow/deny lists for publish and subscribe.
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    /// `None`: every subject is allowed (before the deny list).
    pub_allow: Option<Vec<String>>,
    pub_deny: Vec<String>,
    sub_allow: Vec<String>,
    sub_deny: Vec<String>,
    has_sub: bool,
    /// `allow_responses`.
    responses: Option<config::ResponsePermission>,
}

impl Permissions {
    pub fn compile(p: &config::Permissions) -> Self {
        let (pub_allow, pub_deny) = match &p.publish {
            Some(sp) if sp.allow.is_empty() && p.allow_responses.is_none() => {
                (None, sp.deny.clone())
            }
            Some(sp) => (Some(sp.allow.clone()), sp.deny.clone()),
            None if p.allow_responses.is_some() => (Some(Vec::new()), Vec::new()),
            None => (None, Vec::new()),
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
            has_sub,
            responses: p.allow_responses.clone(),
        }
    }

    /// The `allow_responses` setting, if any.
    pub fn responses(&self) -> Option<&config::ResponsePermission> {
        self.responses.as_ref()
    }

    /// May this user publish to the literal `subj` by its allow/deny lists alone
    /// (replies to received requests not counted)?
    pub fn can_publish(&self, subj: &str) -> bool {
        let allowed = match &self.pub_allow {
            None => true,
            Some(list) => list.iter().any(|p| subject::matches(p, subj)),
        };
        allowed && !self.pub_deny.iter().any(|p| subject::matches(p, subj))
    }

    /// May this user publish to `subj`, counting the reply subjects `replies` holds
    /// (each use counts against `allow_responses.max`)?
    pub fn can_publish_with(&self, subj: &str, replies: Option<&ReplyTracker>) -> bool {
        if self.can_publish(subj) {
            return true;
        }
        match (&self.responses, replies) {
            (Some(_), Some(t)) => t.use_reply(subj.as_bytes()),
            _ => false,
        }
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
