//! The shared half of a client connection: what other tasks (routers delivering to
//! it, monitoring reading it) may touch. The connection task owns the rest.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::auth::responses::ReplyTracker;

use super::account::Account;
use super::outbound::Outbound;
use super::stats::Counters;
use super::subscription::Subscription;

/// What is on the other end of a [`ClientHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A client connection speaking the NATS protocol.
    Client,
    /// A service inside the server (JetStream API, system requests): messages go to a
    /// bounded channel instead of a socket.
    Internal,
    /// A route to another cluster node: its subscriptions stand for the peer's interest
    /// (`sid` = account name) and deliveries are forwarded as route frames.
    Route,
}

/// A message delivered to an internal subscription: an owned copy, since it outlives
/// the publisher's read buffer.
#[derive(Debug, Clone)]
pub struct InternalMsg {
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// The subscription's sid, so one service can tell its subscriptions apart.
    pub sid: Bytes,
}

/// Where an internal client's messages go. Bounded: a full channel drops the message
/// (core NATS is at-most-once) and counts it.
pub type InternalSink = tokio::sync::mpsc::Sender<InternalMsg>;

/// A reply an internal service computed inline (see [`InlineHandler`]).
pub struct InlineReply {
    pub headers: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

/// Lets an internal service answer a request synchronously, in the publisher's
/// delivery, instead of through its queue: called with the subscription's sid and the
/// message (which has a reply subject); `None` means "not here, queue it as usual".
/// The reply goes to the message's reply subject.
pub type InlineHandler =
    Box<dyn Fn(&[u8], &super::router::Message<'_>) -> Option<InlineReply> + Send + Sync>;

/// Which protocol a client connection speaks (`/connz` shows it as `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientType {
    #[default]
    Nats,
    WebSocket,
    Mqtt,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Nats => "nats",
            ClientType::WebSocket => "websocket",
            ClientType::Mqtt => "mqtt",
        }
    }
}

/// Identification and auth details, set at CONNECT.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
    pub rtt: Option<Duration>,
    /// The CONNECT `protocol` (1 = wants async INFO).
    pub protocol: i64,
    pub client_type: ClientType,
    /// The MQTT client identifier, for MQTT connections.
    pub mqtt_client: Option<String>,
}

/// Why a connection closed, as /connz reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    ServerShutdown,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    ProtocolViolation,
    AuthViolation,
    AuthTimeout,
    MaxPayload,
    MaxControlLine,
    MaxConnections,
    WriteError,
    ReadError,
    DuplicateRoute,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::AuthViolation => "Authentication Failure",
            CloseReason::AuthTimeout => "Authentication Timeout",
            CloseReason::MaxPayload => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLine => "Maximum Control Line Exceeded",
            CloseReason::MaxConnections => "Maximum Connections Exceeded",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::DuplicateRoute => "Duplicate Route",
        }
    }
}

/// State of one client shared across tasks.
pub struct ClientHandle {
    pub cid: u64,
    pub kind: ClientKind,
    /// Set for [`ClientKind::Internal`]: where deliveries go.
    pub internal: Option<InternalSink>,
    /// For internal services: the body sent to a message's reply subject when the
    /// service's queue is full (so a request is refused, not silently dropped).
    pub busy_reply: std::sync::OnceLock<Bytes>,
    /// For internal services: requests answered inline (see [`InlineHandler`]).
    pub inline: std::sync::OnceLock<InlineHandler>,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub started: Instant,
    pub out: Outbound,
    pub stats: Counters,
    pub meta: Mutex<ClientMeta>,
    pub account: Mutex<Arc<Account>>,
    /// sid → subscription.
    pub subs: Mutex<HashMap<Box<[u8]>, Arc<Subscription>>>,
    pub echo: AtomicBool,
    pub headers: AtomicBool,
    /// Set when the user has `allow_responses`: reply subjects of requests delivered
    /// to this client, which it may publish to (see `auth::responses`).
    pub replies: std::sync::OnceLock<ReplyTracker>,
    /// Milliseconds since `started` of the last op received.
    pub last_activity_ms: AtomicU64,
    pub close: CancellationToken,
    reason: Mutex<Option<CloseReason>>,
}

impl AsRef<Outbound> for Arc<ClientHandle> {
    fn as_ref(&self) -> &Outbound {
        &self.out
    }
}

impl ClientHandle {
    pub fn new(
        cid: u64,
        addr: SocketAddr,
        account: Arc<Account>,
        max_pending: usize,
        close: CancellationToken,
    ) -> Self {
        ClientHandle {
            cid,
            kind: ClientKind::Client,
            internal: None,
            busy_reply: std::sync::OnceLock::new(),
            inline: std::sync::OnceLock::new(),
            addr,
            start: SystemTime::now(),
            started: Instant::now(),
            out: Outbound::new(max_pending),
            stats: Counters::default(),
            meta: Mutex::new(ClientMeta::default()),
            account: Mutex::new(account),
            subs: Mutex::new(HashMap::new()),
            echo: AtomicBool::new(true),
            headers: AtomicBool::new(false),
            replies: std::sync::OnceLock::new(),
            last_activity_ms: AtomicU64::new(0),
            close,
            reason: Mutex::new(None),
        }
    }

    /// A handle for a service inside the server whose deliveries go to `sink`.
    pub fn new_internal(
        cid: u64,
        account: Arc<Account>,
        sink: InternalSink,
        close: CancellationToken,
    ) -> Self {
        let mut h = ClientHandle::new(
            cid,
            SocketAddr::from(([127, 0, 0, 1], 0)),
            account,
            0,
            close,
        );
        h.kind = ClientKind::Internal;
        h.internal = Some(sink);
        h.headers.store(true, Ordering::Relaxed);
        h
    }

    /// Starts closing the connection for `reason` (the first reason wins).
    pub fn close_with(&self, reason: CloseReason) {
        {
            let mut r = self.reason.lock();
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.close.cancel();
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        *self.reason.lock()
    }

    pub fn account(&self) -> Arc<Account> {
        self.account.lock().clone()
    }

    pub fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_activity_ms.store(ms, Ordering::Relaxed);
    }

    pub fn last_activity(&self) -> SystemTime {
        self.start + Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed))
    }
}

/// Starts the writer task that drains `handle`'s outbound queue into `w`, and closes
/// the connection with the matching reason when the writer stops.
pub fn spawn_writer<W>(
    handle: Arc<ClientHandle>,
    w: W,
    write_deadline: Duration,
) -> tokio::task::JoinHandle<()>
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use super::outbound::{run_writer, WriterEnd};
    use tracing::Instrument;
    tokio::spawn(
        async move {
            let reason = match run_writer(&handle.out, w, write_deadline).await {
                WriterEnd::Done => CloseReason::ClientClosed,
                WriterEnd::Io => CloseReason::WriteError,
                WriterEnd::WriteDeadline => CloseReason::SlowConsumerWriteDeadline,
            };
            handle.close_with(reason);
        }
        .in_current_span(),
    )
}
