//! `allow_responses`: the reply subjects a client received in requests, which it may
//! then publish to `max` times within `expires` (nats-server's dynamic reply
//! permissions).
//!
//! Owns: the table of open reply subjects of one connection. The router records a
//! reply when it delivers a request; the connection consumes one use per publish.
//! Bounded: pruned of used-up and expired entries every [`PRUNE_EVERY`] records or
//! second, and never more than [`MAX_OPEN`] entries (further replies are not opened,
//! so the client cannot answer them: closed, not open, when full).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::ResponsePermission;

/// Records between prunes (nats-server's `replyPermLimit`).
pub const PRUNE_EVERY: usize = 4096;
/// Time between prunes (nats-server's `replyPruneTime`).
const PRUNE_INTERVAL: Duration = Duration::from_secs(1);
/// Most reply subjects open at once per connection.
pub const MAX_OPEN: usize = 65_536;

struct Open {
    at: Instant,
    used: i64,
}

struct State {
    max: i64,
    expires: Option<Duration>,
    open: HashMap<Box<[u8]>, Open>,
    since_prune: usize,
    last_prune: Instant,
}

/// The open reply subjects of one connection.
pub struct ReplyTracker {
    state: Mutex<State>,
}

impl ReplyTracker {
    pub fn new(rp: &ResponsePermission) -> Self {
        ReplyTracker {
            state: Mutex::new(State {
                max: rp.max,
                expires: rp.expires,
                open: HashMap::new(),
                since_prune: 0,
                last_prune: Instant::now(),
            }),
        }
    }

    /// Applies a (new) setting, e.g. after a second CONNECT.
    pub fn configure(&self, rp: &ResponsePermission) {
        let mut s = self.state.lock();
        s.max = rp.max;
        s.expires = rp.expires;
    }

    /// Opens `reply` (a request with this reply subject was delivered to the client).
    pub fn record(&self, reply: &[u8]) {
        let mut s = self.state.lock();
        s.since_prune += 1;
        if s.since_prune > PRUNE_EVERY || s.last_prune.elapsed() > PRUNE_INTERVAL {
            s.prune();
        }
        if s.open.len() >= MAX_OPEN && !s.open.contains_key(reply) {
            return;
        }
        s.open.insert(
            reply.into(),
            Open {
                at: Instant::now(),
                used: 0,
            },
        );
    }

    /// Uses one response on `subject`; false if it is not open (any more).
    pub fn use_reply(&self, subject: &[u8]) -> bool {
        let mut s = self.state.lock();
        let (max, expires) = (s.max, s.expires);
        let Some(o) = s.open.get_mut(subject) else {
            return false;
        };
        o.used += 1;
        let over = max > 0 && o.used > max;
        let expired = expires.is_some_and(|e| o.at.elapsed() > e);
        if over || expired {
            s.open.remove(subject);
            return false;
        }
        if max > 0 && o.used == max {
            s.open.remove(subject);
        }
        true
    }

    /// Open reply subjects (for tests and monitoring).
    pub fn len(&self) -> usize {
        self.state.lock().open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl State {
    fn prune(&mut self) {
        let (max, expires) = (self.max, self.expires);
        self.open.retain(|_, o| {
            let used_up = max > 0 && o.used >= max;
            let expired = expires.is_some_and(|e| o.at.elapsed() > e);
            !(used_up || expired)
        });
        self.since_prune = 0;
        self.last_prune = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_uses_then_closed() {
        let t = ReplyTracker::new(&ResponsePermission {
            max: 2,
            expires: None,
        });
        assert!(!t.use_reply(b"_INBOX.a"));
        t.record(b"_INBOX.a");
        assert!(t.use_reply(b"_INBOX.a"));
        assert!(t.use_reply(b"_INBOX.a"));
        assert!(!t.use_reply(b"_INBOX.a"));
        assert!(t.is_empty());
    }

    #[test]
    fn expiry_closes() {
        let t = ReplyTracker::new(&ResponsePermission {
            max: -1,
            expires: Some(Duration::from_millis(1)),
        });
        t.record(b"r");
        std::thread::sleep(Duration::from_millis(20));
        assert!(!t.use_reply(b"r"));
    }

    #[test]
    fn bounded() {
        let t = ReplyTracker::new(&ResponsePermission {
            max: -1,
            expires: None,
        });
        for i in 0..MAX_OPEN + 10 {
            t.record(format!("r.{i}").as_bytes());
        }
        assert_eq!(t.len(), MAX_OPEN);
        assert!(!t.use_reply(format!("r.{}", MAX_OPEN + 5).as_bytes()));
        assert!(t.use_reply(b"r.0"));
    }
}
