//! Connection setup for the bench: one [`Connector`] builds every
//! `async-nats` connection of a run with the same options (auth, URL order,
//! subscription capacity) and routes the client's connection events into a
//! shared [`EventCounters`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::{Client, ConnectOptions, Event, ServerAddr};
use serde::Serialize;

use super::error::BenchError;

/// Smallest per-subscription buffer given to a subscriber connection
/// (`async-nats`' own default is 65536 messages).
pub const MIN_SUBSCRIPTION_CAPACITY: usize = 1 << 16;

/// Per-subscription buffer for a subscriber that expects `expected`
/// messages. When the buffer inside `async-nats` is full the client drops
/// messages and reports a slow consumer; sized to the whole run it can
/// never overflow (like `nats bench`'s unlimited pending limits). The
/// channel allocates lazily, so only an actual backlog costs memory.
pub fn subscription_capacity(expected: u64) -> usize {
    let wanted = usize::try_from(expected)
        .unwrap_or(usize::MAX)
        .saturating_add(1024);
    // tokio's bounded channel accepts at most usize::MAX >> 3 permits.
    wanted.clamp(MIN_SUBSCRIPTION_CAPACITY, usize::MAX >> 3)
}

/// Most event descriptions kept for the report.
const MAX_NOTES: usize = 8;

/// Connection events seen during a run, summed over all connections.
#[derive(Debug, Default)]
pub struct EventCounters {
    slow_consumers: AtomicU64,
    disconnects: AtomicU64,
    server_errors: AtomicU64,
    client_errors: AtomicU64,
    notes: Mutex<Vec<String>>,
}

/// Snapshot of [`EventCounters`], as it appears in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// `Event::SlowConsumer`: the client dropped messages locally.
    pub slow_consumers: u64,
    /// `Event::Disconnected`: e.g. the server closed a slow consumer.
    pub disconnects: u64,
    /// `-ERR` lines from the server.
    pub server_errors: u64,
    /// Client-side errors reported by `async-nats`.
    pub client_errors: u64,
    /// The first few distinct event descriptions.
    pub notes: Vec<String>,
}

impl EventCounts {
    /// True when any event indicates lost or disturbed traffic.
    pub fn any(&self) -> bool {
        self.slow_consumers + self.disconnects + self.server_errors + self.client_errors > 0
    }
}

impl EventCounters {
    fn record(&self, role: &str, event: &Event) {
        let counter = match event {
            Event::SlowConsumer(_) => &self.slow_consumers,
            Event::Disconnected => &self.disconnects,
            Event::ServerError(_) => &self.server_errors,
            Event::ClientError(_) => &self.client_errors,
            Event::Connected | Event::LameDuckMode | Event::Draining | Event::Closed => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut notes) = self.notes.lock() {
            let note = format!("{role}: {event}");
            if notes.len() < MAX_NOTES && !notes.contains(&note) {
                notes.push(note);
            }
        }
    }

    /// Current totals.
    pub fn snapshot(&self) -> EventCounts {
        EventCounts {
            slow_consumers: self.slow_consumers.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            client_errors: self.client_errors.load(Ordering::Relaxed),
            notes: self.notes.lock().map(|n| n.clone()).unwrap_or_default(),
        }
    }
}

/// Credentials from the command line.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}

/// Builds the connections of one run.
#[derive(Debug, Clone)]
pub struct Connector {
    addrs: Vec<ServerAddr>,
    urls: Vec<String>,
    auth: Auth,
    events: Arc<EventCounters>,
}

impl Connector {
    /// Parses the URLs; fails on the first one that does not parse.
    pub fn new(urls: &[String], auth: Auth) -> Result<Connector, BenchError> {
        let addrs = urls
            .iter()
            .map(|u| {
                u.parse::<ServerAddr>().map_err(|source| BenchError::Url {
                    url: u.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Connector {
            addrs,
            urls: urls.to_vec(),
            auth,
            events: Arc::new(EventCounters::default()),
        })
    }

    /// The event totals of every connection made so far.
    pub fn events(&self) -> EventCounts {
        self.events.snapshot()
    }

    /// Connects connection number `index` (used to spread connections over
    /// the URL list) named `natrium-bench-<role>`, with a per-subscription
    /// buffer of `capacity` messages (see [`subscription_capacity`]) or the
    /// client's default.
    pub async fn connect(
        &self,
        role: &str,
        index: usize,
        capacity: Option<usize>,
    ) -> Result<Client, BenchError> {
        let n = self.addrs.len().max(1);
        let mut addrs = self.addrs.clone();
        addrs.rotate_left(index % n);
        let primary = self.urls.get(index % n).cloned().unwrap_or_default();

        let events = Arc::clone(&self.events);
        let event_role = role.to_string();
        let mut opts = ConnectOptions::new()
            .name(format!("natrium-bench-{role}"))
            .retain_servers_order()
            .event_callback(move |event| {
                let events = Arc::clone(&events);
                let role = event_role.clone();
                async move { events.record(&role, &event) }
            });
        if let Some(capacity) = capacity {
            opts = opts.subscription_capacity(capacity);
        }
        if let (Some(user), Some(pass)) = (&self.auth.user, &self.auth.password) {
            opts = opts.user_and_password(user.clone(), pass.clone());
        }
        if let Some(token) = &self.auth.token {
            opts = opts.token(token.clone());
        }
        opts.connect(addrs)
            .await
            .map_err(|source| BenchError::Connect {
                role: role.to_string(),
                url: primary,
                source,
            })
    }
}

/// Flushes `client` (a PING/PONG round trip), mapping the error.
pub async fn flush(client: &Client, role: &str) -> Result<(), BenchError> {
    client.flush().await.map_err(|source| BenchError::Flush {
        role: role.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_disturbing_events() {
        let c = EventCounters::default();
        c.record("sub-0", &Event::Connected);
        c.record("sub-0", &Event::SlowConsumer(1));
        c.record("sub-0", &Event::Disconnected);
        c.record("sub-0", &Event::Disconnected);
        let s = c.snapshot();
        assert_eq!((s.slow_consumers, s.disconnects), (1, 2));
        assert_eq!(s.notes.len(), 2);
        assert!(s.any());
        assert!(!EventCounts::default().any());
    }

    #[test]
    fn capacity_covers_the_run() {
        assert_eq!(subscription_capacity(0), MIN_SUBSCRIPTION_CAPACITY);
        assert_eq!(subscription_capacity(3_000_000), 3_001_024);
        assert_eq!(subscription_capacity(u64::MAX), usize::MAX >> 3);
    }

    #[test]
    fn rejects_bad_url() {
        let r = Connector::new(&["nats://[::1".to_string()], Auth::default());
        assert!(matches!(r, Err(BenchError::Url { .. })));
    }
}
