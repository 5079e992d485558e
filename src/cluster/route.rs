//! One route connection: handshake, reader, writer, keep-alive, clean-up; and the
//! tasks that dial configured (explicit) and gossiped (implicit) routes.
//!
//! The writer is the client connections' bounded [`Outbound`](crate::server::outbound)
//! queue and writer task, on a [`ClientHandle`] of kind `Route`, so the router pushes
//! forwarded messages to a route exactly as it pushes to a client. Nothing a peer sends
//! can panic: a malformed or oversized frame closes the route with a log line.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{debug, info, warn, Instrument};

use crate::server::client::{ClientHandle, ClientKind, CloseReason};
use crate::server::outbound::{FlushSet, PushError};
use crate::server::router::{DeliveryCtx, Message};
use crate::server::ServerShared;

use super::forward::deliver_local;
use super::frame::{self, FrameError};
use super::interest::RemoteInterest;
use super::proto::{frame::Kind, Gossip, Hello, PeerInfo, Ping, Pong, Reject, RoutedMsg, Welcome};
use super::url::RouteUrl;
use super::Cluster;

/// Bytes a route may have queued before it is closed as a slow consumer.
const ROUTE_MAX_PENDING: usize = 64 * 1024 * 1024;
/// How long a handshake may take when `cluster.authorization.timeout` is not set.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const PING_INTERVAL: Duration = Duration::from_secs(10);
const PINGS_MAX: u32 = 3;
/// Between JetStream nodes a silent peer is noticed within about two seconds (the
/// order of Raft's election timeout), so pending Raft calls to it fail fast and the
/// route is redialled: four unanswered pings 500 ms apart, sent on the urgent lane.
const JS_PING_INTERVAL: Duration = Duration::from_millis(500);
const JS_PINGS_MAX: u32 = 4;
const READ_CHUNK: usize = 64 * 1024;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Attempts for a gossiped route before giving up (the peer will be gossiped again).
const IMPLICIT_RETRIES: u32 = 3;

/// A registered route to one peer.
pub struct Route {
    pub rid: u64,
    pub handle: Arc<ClientHandle>,
    pub peer_id: String,
    pub peer_name: String,
    /// `host:port` where the peer accepts routes.
    pub route_url: String,
    /// The peer's client URLs (`host:port`).
    pub connect_urls: Vec<String>,
    pub did_solicit: bool,
    pub is_configured: bool,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub rtt: Mutex<Option<Duration>>,
    pub(crate) remote_interest: RemoteInterest,
    /// The peer's Raft id (0: it runs no JetStream).
    pub peer_raft_id: u64,
    pub peer_meta_initialized: bool,
}

impl Route {
    /// Queues one frame and wakes the writer. A full queue closes the route.
    pub fn send(&self, kind: Kind) {
        match self.handle.out.push(|b| frame::encode(b, kind)) {
            Ok(()) => self.handle.out.wake(),
            Err(PushError::Closed) => {}
            Err(PushError::SlowConsumer) => {
                warn!(peer = %self.peer_name, "route output queue full, closing route");
                self.handle
                    .close_with(CloseReason::SlowConsumerPendingBytes);
            }
        }
    }

    /// Queues a Raft frame on the route's urgent lane: it is written before any
    /// queued message traffic (see ARCHITECTURE.md, "Raft traffic").
    pub fn send_raft(&self, kind: Kind) {
        match self.handle.out.push_urgent(|b| frame::encode(b, kind)) {
            Ok(()) => self.handle.out.wake(),
            Err(PushError::Closed) => {}
            Err(PushError::SlowConsumer) => {
                warn!(peer = %self.peer_name, "route Raft queue full, closing route");
                self.handle
                    .close_with(CloseReason::SlowConsumerPendingBytes);
            }
        }
    }

    /// Number of peer subscriptions this route carries.
    pub fn subscriptions(&self) -> usize {
        self.remote_interest.len()
    }

    /// (account, subject, queue) of the peer's interest.
    pub fn subscriptions_list(&self) -> Vec<(String, String, String)> {
        self.remote_interest.list()
    }

    fn peer_info(&self) -> PeerInfo {
        PeerInfo {
            node_id: self.peer_id.clone(),
            server_name: self.peer_name.clone(),
            route_url: self.route_url.clone(),
        }
    }
}

/// How the dialing side of a connection ended.
#[derive(Debug)]
enum Outcome {
    /// The URL leads to this node.
    SelfRoute,
    /// A route to that peer exists (or is being made) already.
    AlreadyConnected(String),
    /// The peer refused us; the reason was logged.
    Rejected,
    /// TCP or handshake failure.
    Failed(String),
    /// The route was registered and served until it closed.
    Served(String),
}

/// The dialing side's details.
struct Solicit {
    url: RouteUrl,
    configured: bool,
}

/// Accepts route connections on the cluster port.
pub(crate) async fn accept_loop(
    server: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    listener: tokio::net::TcpListener,
) {
    loop {
        let accepted = tokio::select! {
            _ = server.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let (s, c) = (server.clone(), cluster.clone());
                server.tasks.spawn(async move {
                    let _ = connection(s, c, stream, None).await;
                });
            }
            Err(e) => {
                warn!(error = %e, "error accepting route connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    info!("route listener closed");
}

fn jittered(d: Duration) -> Duration {
    // ±20 %.
    let f = 0.8 + fastrand::f64() * 0.4;
    d.mul_f64(f)
}

/// Sleeps `d` unless the server shuts down first; false on shutdown.
async fn pause(server: &ServerShared, d: Duration) -> bool {
    tokio::select! {
        _ = server.shutdown.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// Dials a configured route forever, with backoff, while no route to that peer exists.
pub(crate) async fn dial_explicit(server: Arc<ServerShared>, cluster: Arc<Cluster>, url: RouteUrl) {
    let mut backoff = BACKOFF_MIN;
    let mut peer: Option<String> = None;
    let mut failures = 0u32;
    loop {
        if server.shutdown.is_cancelled() {
            return;
        }
        if peer.as_deref().is_some_and(|p| cluster.is_connected(p)) {
            if !pause(&server, Duration::from_millis(250)).await {
                return;
            }
            continue;
        }
        let solicit = Solicit {
            url: url.clone(),
            configured: true,
        };
        match dial(&server, &cluster, solicit).await {
            Outcome::SelfRoute => {
                info!(url = %url.redacted(), "route points to this server, not dialling it");
                return;
            }
            Outcome::AlreadyConnected(id) => {
                // Connected, or another dial to that peer is mid-handshake: look again
                // shortly instead of dialling in a loop.
                peer = Some(id);
                backoff = BACKOFF_MIN;
                if !pause(&server, Duration::from_millis(250)).await {
                    return;
                }
                continue;
            }
            Outcome::Served(id) => {
                peer = Some(id);
                backoff = BACKOFF_MIN;
                failures = 0;
            }
            Outcome::Rejected => {}
            Outcome::Failed(e) => {
                failures += 1;
                if failures == 1 {
                    info!(url = %url.redacted(), error = %e, "cannot connect route, will retry with backoff");
                } else {
                    debug!(url = %url.redacted(), error = %e, attempt = failures, "route connect failed");
                }
            }
        }
        if !pause(&server, jittered(backoff)).await {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Dials a gossiped peer a few times, stopping as soon as a route to it exists.
pub(crate) async fn dial_implicit(
    server: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    addr: String,
    mut peer_id: String,
) {
    let url = RouteUrl {
        addr,
        user: cluster.auth_user(),
        password: cluster.auth_password(),
    };
    let mut left = IMPLICIT_RETRIES;
    let mut backoff = BACKOFF_MIN;
    loop {
        if server.shutdown.is_cancelled() || cluster.is_connected(&peer_id) {
            break;
        }
        let solicit = Solicit {
            url: url.clone(),
            configured: false,
        };
        match dial(&server, &cluster, solicit).await {
            Outcome::SelfRoute | Outcome::AlreadyConnected(_) => break,
            Outcome::Served(id) => {
                peer_id = id;
                left = IMPLICIT_RETRIES;
                backoff = BACKOFF_MIN;
            }
            Outcome::Rejected | Outcome::Failed(_) => {
                if left == 0 {
                    debug!(url = %url.redacted(), "giving up on gossiped route");
                    break;
                }
                left -= 1;
            }
        }
        if !pause(&server, jittered(backoff)).await {
            break;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    cluster.implicit_done(&peer_id);
}

async fn dial(server: &Arc<ServerShared>, cluster: &Arc<Cluster>, s: Solicit) -> Outcome {
    let connect = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(&s.url.addr));
    let stream = match connect.await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) => return Outcome::Failed(e.to_string()),
        Err(_) => return Outcome::Failed("connect timed out".into()),
    };
    connection(server.clone(), cluster.clone(), stream, Some(s)).await
}

/// Reads one frame during the handshake.
async fn read_frame(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Kind, String> {
    loop {
        match frame::decode(buf, max) {
            Ok(Some((k, n))) => {
                buf.advance(n);
                return Ok(k);
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        buf.reserve(4096);
        match stream.read_buf(buf).await {
            Ok(0) => return Err("connection closed during handshake".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn write_frame(stream: &mut TcpStream, kind: Kind) -> Result<(), String> {
    let mut b = BytesMut::new();
    frame::encode(&mut b, kind);
    stream.write_all(&b).await.map_err(|e| e.to_string())
}

/// Refuses a peer: logs `reason` here and sends it to the peer, which logs it too.
async fn refuse(stream: &mut TcpStream, reason: String) {
    warn!(reason = %reason, "refusing route");
    let _ = write_frame(stream, Kind::Reject(Reject { reason })).await;
    let _ = stream.shutdown().await;
}

/// Releases a dial reservation when the handshake ends, however it ends.
struct Reservation<'a> {
    cluster: &'a Cluster,
    id: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.cluster.release(&self.id);
    }
}

/// Runs one route connection from TCP connect/accept to close.
async fn connection(
    server: Arc<ServerShared>,
    cluster: Arc<Cluster>,
    mut stream: TcpStream,
    solicit: Option<Solicit>,
) -> Outcome {
    let (remote, local) = match (stream.peer_addr(), stream.local_addr()) {
        (Ok(r), Ok(l)) => (r, l),
        _ => return Outcome::Failed("socket closed".into()),
    };
    let _ = stream.set_nodelay(true);
    let span = tracing::info_span!("route", peer = tracing::field::Empty, remote = %remote);
    async move {
        let timeout = cluster.handshake_timeout();
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let hs = tokio::time::timeout(
            timeout,
            handshake(&cluster, &mut stream, &mut buf, solicit.as_ref(), remote),
        )
        .await;
        let (hello, reservation) = match hs {
            Ok(Ok(HandshakeEnd::Ready(h, r))) => (*h, r),
            Ok(Ok(HandshakeEnd::Stop(o))) => return o,
            Ok(Err(e)) => {
                debug!(error = %e, "route handshake failed");
                return Outcome::Failed(e);
            }
            Err(_) => {
                warn!("route handshake timed out");
                return Outcome::Failed("handshake timed out".into());
            }
        };
        tracing::Span::current().record("peer", hello.server_name.as_str());
        let route = new_route(&server, &hello, solicit.as_ref(), remote, local);
        let registered = cluster.register(&route);
        drop(reservation);
        match registered {
            Err(()) => {
                debug!("duplicate route to this peer, closing the new connection");
                if solicit.is_none() {
                    let _ = write_frame(
                        &mut stream,
                        Kind::Reject(Reject {
                            reason: "duplicate route".into(),
                        }),
                    )
                    .await;
                }
                return Outcome::AlreadyConnected(hello.node_id);
            }
            Ok(old) => {
                if let Some(old) = old {
                    debug!(rid = old.rid, "replacing duplicate route");
                    old.handle.close_with(CloseReason::DuplicateRoute);
                }
            }
        }
        if solicit.is_none() {
            route.send(Kind::Welcome(Welcome {}));
        }
        info!(
            rid = route.rid,
            peer_id = %route.peer_id,
            solicited = route.did_solicit,
            "Route connection created"
        );
        let (mut rd, wr) = stream.into_split();
        let writer_handle = route.handle.clone();
        let write_deadline = server.config.write_deadline;
        let writer = crate::server::client::spawn_writer(writer_handle, wr, write_deadline);
        cluster.after_register(&server, &route);
        let reason = read_loop(&server, &cluster, &route, &mut rd, buf).await;
        route.handle.close_with(reason);
        route.handle.close.cancel();
        route.handle.out.close(false);
        cluster.unregister(&server, &route);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        let reason = route.handle.close_reason().unwrap_or(reason);
        info!(
            rid = route.rid,
            reason = reason.as_str(),
            "Route connection closed"
        );
        Outcome::Served(route.peer_id.clone())
    }
    .instrument(span)
    .await
}

enum HandshakeEnd<'a> {
    Ready(Box<Hello>, Option<Reservation<'a>>),
    Stop(Outcome),
}

async fn handshake<'a>(
    cluster: &'a Cluster,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    solicit: Option<&Solicit>,
    remote: SocketAddr,
) -> Result<HandshakeEnd<'a>, String> {
    let max = cluster.max_frame;
    match solicit {
        None => {
            // Accepting side: introduce ourselves, then check the dialer.
            write_frame(stream, Kind::Hello(cluster.hello(None, None))).await?;
            let hello = match read_frame(stream, buf, max).await? {
                Kind::Hello(h) => h,
                Kind::Reject(r) => {
                    warn!(reason = %r.reason, "route refused by peer");
                    return Ok(HandshakeEnd::Stop(Outcome::Rejected));
                }
                other => return Err(format!("expected Hello, got {}", kind_name(&other))),
            };
            if hello.node_id == cluster.node_id {
                let _ = stream.shutdown().await;
                return Ok(HandshakeEnd::Stop(Outcome::SelfRoute));
            }
            if let Some(reason) = cluster.check_name(&hello) {
                refuse(stream, reason).await;
                return Ok(HandshakeEnd::Stop(Outcome::Rejected));
            }
            if !cluster.check_credentials(&hello) {
                refuse(
                    stream,
                    format!(
                        "Authorization Violation: bad route credentials from {} ({remote}), user {:?}",
                        hello.server_name, hello.user
                    ),
                )
                .await;
                return Ok(HandshakeEnd::Stop(Outcome::Rejected));
            }
            Ok(HandshakeEnd::Ready(Box::new(hello), None))
        }
        Some(s) => {
            let hello = match read_frame(stream, buf, max).await? {
                Kind::Hello(h) => h,
                Kind::Reject(r) => {
                    warn!(url = %s.url.redacted(), reason = %r.reason, "route refused by peer");
                    return Ok(HandshakeEnd::Stop(Outcome::Rejected));
                }
                other => return Err(format!("expected Hello, got {}", kind_name(&other))),
            };
            if hello.node_id == cluster.node_id {
                let _ = stream.shutdown().await;
                return Ok(HandshakeEnd::Stop(Outcome::SelfRoute));
            }
            if let Some(reason) = cluster.check_name(&hello) {
                refuse(stream, reason).await;
                return Ok(HandshakeEnd::Stop(Outcome::Rejected));
            }
            if !cluster.reserve(&hello.node_id) {
                let _ = stream.shutdown().await;
                return Ok(HandshakeEnd::Stop(Outcome::AlreadyConnected(hello.node_id)));
            }
            let reservation = Reservation {
                cluster,
                id: hello.node_id.clone(),
            };
            let mine = cluster.hello(s.url.user.clone(), s.url.password.clone());
            write_frame(stream, Kind::Hello(mine)).await?;
            match read_frame(stream, buf, max).await? {
                Kind::Welcome(_) => Ok(HandshakeEnd::Ready(Box::new(hello), Some(reservation))),
                Kind::Reject(r) => {
                    if r.reason == "duplicate route" {
                        debug!("peer already has a route to us");
                        return Ok(HandshakeEnd::Stop(Outcome::AlreadyConnected(hello.node_id)));
                    }
                    warn!(url = %s.url.redacted(), peer = %hello.server_name, reason = %r.reason, "route refused by peer");
                    Ok(HandshakeEnd::Stop(Outcome::Rejected))
                }
                other => Err(format!("expected Welcome, got {}", kind_name(&other))),
            }
        }
    }
}

fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Hello(_) => "Hello",
        Kind::Welcome(_) => "Welcome",
        Kind::Reject(_) => "Reject",
        Kind::Gossip(_) => "Gossip",
        Kind::Interest(_) => "Interest",
        Kind::Msg(_) => "Msg",
        Kind::Ping(_) => "Ping",
        Kind::Pong(_) => "Pong",
        Kind::RaftRpc(_) => "RaftRpc",
        Kind::RaftRpcResponse(_) => "RaftRpcResponse",
    }
}

fn new_route(
    server: &ServerShared,
    hello: &Hello,
    solicit: Option<&Solicit>,
    remote: SocketAddr,
    local: SocketAddr,
) -> Arc<Route> {
    let rid = server.next_cid.fetch_add(1, Ordering::Relaxed);
    let mut handle = ClientHandle::new(
        rid,
        remote,
        server.accounts.global().clone(),
        ROUTE_MAX_PENDING,
        server.shutdown.child_token(),
    );
    handle.kind = ClientKind::Route;
    handle.headers.store(true, Ordering::Relaxed);
    handle.meta.lock().name = hello.server_name.clone();
    let ip = remote.ip().to_string();
    let route_url = if !hello.route_host.is_empty() {
        format!("{}:{}", hello.route_host, hello.route_port)
    } else if let Some(s) = solicit {
        // The address we dialled is known to work from here.
        s.url.addr.clone()
    } else {
        format!("{ip}:{}", hello.route_port)
    };
    let connect_urls = hello
        .connect_urls
        .iter()
        .map(|u| match u.strip_prefix(':') {
            Some(port) => format!("{ip}:{port}"),
            None => u.clone(),
        })
        .collect();
    Arc::new(Route {
        rid,
        handle: Arc::new(handle),
        peer_id: hello.node_id.clone(),
        peer_name: hello.server_name.clone(),
        route_url,
        connect_urls,
        did_solicit: solicit.is_some(),
        is_configured: solicit.is_some_and(|s| s.configured),
        remote,
        local,
        rtt: Mutex::new(None),
        remote_interest: RemoteInterest::default(),
        peer_raft_id: hello.raft_id,
        peer_meta_initialized: hello.meta_initialized,
    })
}

async fn read_loop(
    server: &Arc<ServerShared>,
    cluster: &Arc<Cluster>,
    route: &Arc<Route>,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
) -> CloseReason {
    let close = route.handle.close.clone();
    let (interval, pings_max) = if route.peer_raft_id != 0 && cluster.raft_frames().is_some() {
        (JS_PING_INTERVAL, JS_PINGS_MAX)
    } else {
        (PING_INTERVAL, PINGS_MAX)
    };
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pings_out = 0u32;
    let mut ping_sent: Option<Instant> = None;
    let mut flush: FlushSet<Arc<ClientHandle>> = FlushSet::new();
    loop {
        // Frames already buffered (e.g. right after the handshake) go first.
        match process(
            server,
            cluster,
            route,
            &mut buf,
            &mut flush,
            &mut pings_out,
            &mut ping_sent,
        ) {
            Ok(()) => {}
            Err(e) => {
                warn!(error = %e, "malformed input on route, closing it");
                return CloseReason::ProtocolViolation;
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            _ = close.cancelled() => {
                return route.handle.close_reason().unwrap_or(CloseReason::ServerShutdown);
            }
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => return CloseReason::ClientClosed,
                Ok(_) => {}
                Err(_) => return CloseReason::ReadError,
            },
            _ = ping.tick() => {
                if pings_out >= pings_max {
                    warn!("route stale: no pong, closing it");
                    return CloseReason::StaleConnection;
                }
                pings_out += 1;
                ping_sent = Some(Instant::now());
                route.send_raft(Kind::Ping(Ping { nonce: 0 }));
            }
        }
    }
}

fn process(
    server: &Arc<ServerShared>,
    cluster: &Arc<Cluster>,
    route: &Arc<Route>,
    buf: &mut BytesMut,
    flush: &mut FlushSet<Arc<ClientHandle>>,
    pings_out: &mut u32,
    ping_sent: &mut Option<Instant>,
) -> Result<(), FrameError> {
    let mut any = false;
    while let Some((kind, n)) = frame::decode(buf, cluster.max_frame)? {
        buf.advance(n);
        any = true;
        match kind {
            Kind::Msg(m) => on_msg(server, route, m, flush),
            Kind::Interest(i) => match server.accounts.get(&i.account) {
                Some(acc) => route.remote_interest.apply(&route.handle, acc, i),
                None => debug!(account = %i.account, "interest for unknown account ignored"),
            },
            Kind::Gossip(g) => cluster.on_gossip(server, g),
            Kind::Ping(p) => route.send_raft(Kind::Pong(Pong { nonce: p.nonce })),
            Kind::Pong(_) => {
                *pings_out = 0;
                if let Some(t) = ping_sent.take() {
                    *route.rtt.lock() = Some(t.elapsed());
                }
            }
            Kind::RaftRpc(r) => match cluster.raft_frames() {
                Some(raft) if route.peer_raft_id != 0 => {
                    raft.on_request(route.peer_raft_id, r.group, r.request_id, r.payload)
                }
                _ => debug!(
                    group = r.group,
                    "Raft RPC for a node without JetStream dropped"
                ),
            },
            Kind::RaftRpcResponse(r) => {
                if let Some(raft) = cluster.raft_frames() {
                    raft.on_response(r.request_id, &r.payload);
                }
            }
            Kind::Hello(_) | Kind::Welcome(_) | Kind::Reject(_) => {
                return Err(FrameError::Malformed(
                    "handshake frame after handshake".into(),
                ))
            }
        }
    }
    if any {
        route.handle.touch();
        *pings_out = 0;
        flush.flush();
    }
    Ok(())
}

fn on_msg(
    server: &Arc<ServerShared>,
    route: &Route,
    m: RoutedMsg,
    flush: &mut FlushSet<Arc<ClientHandle>>,
) {
    let size = (m.headers.as_ref().map_or(0, |h| h.len()) + m.payload.len()) as u64;
    route.handle.stats.add_in(1, size);
    server.stats.msgs.add_in(1, size);
    let Some(account) = server.accounts.get(&m.account) else {
        debug!(account = %m.account, "message for unknown account dropped");
        return;
    };
    account.stats.add_in(1, size);
    if m.subject.is_empty() {
        return;
    }
    let route_by = if m.deliver.is_empty() {
        &m.subject
    } else {
        &m.deliver
    };
    let result = account.sublist.matches(route_by);
    let msg = Message {
        subject: m.subject.as_bytes(),
        reply: (!m.reply.is_empty()).then_some(m.reply.as_bytes()),
        headers: m.headers.as_deref(),
        payload: &m.payload,
    };
    let mut ctx = DeliveryCtx {
        stats: &server.stats,
        flush,
        publisher: None,
        out_msgs: 0,
        out_bytes: 0,
        deliver: None,
    };
    deliver_local(&result, &msg, &m.queues, &mut ctx);
    let (om, ob) = (ctx.out_msgs, ctx.out_bytes);
    server.stats.msgs.add_out(om, ob);
    account.stats.add_out(om, ob);
}

/// Route start time for /routez.
pub fn started(route: &Route) -> SystemTime {
    route.handle.start
}

/// The gossip frame describing `routes` (used by [`Cluster`]).
pub(crate) fn gossip_of<'a>(routes: impl Iterator<Item = &'a Arc<Route>>) -> Kind {
    Kind::Gossip(Gossip {
        peers: routes.map(|r| r.peer_info()).collect(),
    })
}
