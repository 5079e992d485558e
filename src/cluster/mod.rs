//! The cluster: route connections on port 6222 between natrium nodes.
//!
//! Owns: the route listener and dialers ([`route`]), the inter-node frame format
//! ([`frame`], prost types from `proto/cluster.proto` in [`proto`]), the peer table with
//! duplicate-route resolution and membership gossip (this file), interest propagation
//! ([`interest`]) and forwarding of messages across routes ([`forward`]), and the
//! `connect_urls` clients learn. Must not: persist anything or decide consensus — it
//! moves interest, messages and (later) Raft RPC frames only.
//!
//! Invariants:
//! - A message crosses each route at most once: the router collects every matching
//!   route subscription into one frame per route.
//! - A message that arrived from a route is delivered to local subscribers only and is
//!   never forwarded to another route (the mesh is full, so one hop reaches everyone).
//! - Between two nodes at most one route stays registered: when two connect to each
//!   other at once, both keep the connection dialled by the node with the lower id.

pub mod forward;
pub mod frame;
pub mod interest;
pub mod proto;
pub mod route;
pub mod url;

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tracing::{debug, warn};

use crate::config::{ClusterConfig, Config};
use crate::protocol::encode;
use crate::server::client::ClientKind;
use crate::server::ServerShared;

pub use forward::Forwards;
pub use interest::LocalInterest;
pub use route::Route;
use url::RouteUrl;

use proto::{frame::Kind, Gossip, Hello};

/// Bound on one route frame beyond `max_payload` (subject, reply, headers, framing).
const FRAME_OVERHEAD: usize = 256 * 1024;
/// Smallest frame bound, so Raft RPCs fit however small `max_payload` is.
const MIN_MAX_FRAME: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Peers {
    /// Registered routes by peer node id.
    routes: BTreeMap<String, Arc<Route>>,
    /// Peers this node is handshaking with as the dialer.
    dialing: HashSet<String>,
    /// Peers a gossip-started dial task is working on.
    implicit: HashSet<String>,
}

/// This node's cluster state.
pub struct Cluster {
    /// Cluster name (empty: accept any).
    pub name: String,
    /// This node's id (the server id).
    pub node_id: String,
    pub server_name: String,
    /// The bound route listener address.
    pub listen: SocketAddr,
    cfg: ClusterConfig,
    client_port: u16,
    client_host: Option<String>,
    client_advertise: Option<String>,
    pub(crate) max_frame: usize,
    peers: Mutex<Peers>,
    last_urls: Mutex<Vec<String>>,
    /// This node's Raft id (0 until JetStream sets it; 0 = no JetStream here).
    raft_id: AtomicU64,
    meta_initialized: AtomicBool,
    /// Where Raft frames from peers go (set by JetStream).
    raft: OnceLock<Arc<dyn RaftFrames>>,
}

/// The receiver of Raft frames arriving on routes (JetStream's Raft node). The
/// cluster only moves the frames; it does not know what they mean.
pub trait RaftFrames: Send + Sync + 'static {
    fn on_request(&self, from: u64, group: u64, request_id: u64, payload: bytes::Bytes);
    fn on_response(&self, request_id: u64, payload: &[u8]);
    /// The route to the node with this Raft id closed.
    fn on_peer_down(&self, raft_id: u64);
}

/// A connected peer that runs JetStream.
#[derive(Debug, Clone)]
pub struct JsPeer {
    pub raft_id: u64,
    pub server_name: String,
    pub meta_initialized: bool,
}

impl Cluster {
    /// Cluster state for a server whose route listener is bound at `listen`.
    pub fn new(
        config: &Config,
        cfg: &ClusterConfig,
        node_id: &str,
        server_name: &str,
        listen: SocketAddr,
        client_addr: SocketAddr,
    ) -> Cluster {
        let specific = |h: &str| !(h.is_empty() || h == "0.0.0.0" || h == "::" || h == "[::]");
        Cluster {
            name: cfg.name.clone().unwrap_or_default(),
            node_id: node_id.to_string(),
            server_name: server_name.to_string(),
            listen,
            cfg: cfg.clone(),
            client_port: client_addr.port(),
            client_host: specific(&config.host).then(|| config.host.clone()),
            client_advertise: config.client_advertise.clone(),
            max_frame: config
                .max_payload
                .saturating_add(FRAME_OVERHEAD)
                .max(MIN_MAX_FRAME),
            peers: Mutex::new(Peers::default()),
            last_urls: Mutex::new(Vec::new()),
            raft_id: AtomicU64::new(0),
            meta_initialized: AtomicBool::new(false),
            raft: OnceLock::new(),
        }
    }

    /// Announces this node's Raft id in handshakes (before routes are dialled).
    pub fn set_raft_id(&self, id: u64) {
        self.raft_id.store(id, Ordering::Relaxed);
    }

    pub fn set_meta_initialized(&self) {
        self.meta_initialized.store(true, Ordering::Relaxed);
    }

    /// Where Raft frames go from now on.
    pub fn set_raft(&self, frames: Arc<dyn RaftFrames>) {
        let _ = self.raft.set(frames);
    }

    pub(crate) fn raft_frames(&self) -> Option<&Arc<dyn RaftFrames>> {
        self.raft.get()
    }

    /// Connected peers that run JetStream.
    pub fn jetstream_peers(&self) -> Vec<JsPeer> {
        self.peers
            .lock()
            .routes
            .values()
            .filter(|r| r.peer_raft_id != 0)
            .map(|r| JsPeer {
                raft_id: r.peer_raft_id,
                server_name: r.peer_name.clone(),
                meta_initialized: r.peer_meta_initialized,
            })
            .collect()
    }

    /// The route to the node with Raft id `raft_id`, if connected.
    fn route_to_raft(&self, raft_id: u64) -> Option<Arc<Route>> {
        self.peers
            .lock()
            .routes
            .values()
            .find(|r| r.peer_raft_id == raft_id)
            .cloned()
    }

    /// Sends a Raft request frame; false without a route to that node.
    pub fn send_raft_request(
        &self,
        to: u64,
        group: u64,
        request_id: u64,
        payload: Vec<u8>,
    ) -> bool {
        match self.route_to_raft(to) {
            Some(r) => {
                r.send_raft(Kind::RaftRpc(proto::RaftRpc {
                    group,
                    request_id,
                    payload: payload.into(),
                }));
                true
            }
            None => false,
        }
    }

    /// Sends the answer to a Raft request.
    pub fn send_raft_response(
        &self,
        to: u64,
        group: u64,
        request_id: u64,
        payload: Vec<u8>,
    ) -> bool {
        match self.route_to_raft(to) {
            Some(r) => {
                r.send_raft(Kind::RaftRpcResponse(proto::RaftRpcResponse {
                    group,
                    request_id,
                    payload: payload.into(),
                }));
                true
            }
            None => false,
        }
    }

    /// A peer's server name by Raft id (for stream info and /raftz).
    pub fn peer_name_of(&self, raft_id: u64) -> Option<String> {
        self.route_to_raft(raft_id).map(|r| r.peer_name.clone())
    }

    /// Configured route URLs without credentials (for /varz).
    pub fn configured_urls(&self) -> Vec<String> {
        self.cfg
            .routes
            .iter()
            .filter_map(|r| RouteUrl::parse(r))
            .map(|u| u.addr)
            .collect()
    }

    /// The cluster block as configured.
    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// Every registered route, ordered by peer id.
    pub fn routes(&self) -> Vec<Arc<Route>> {
        self.peers.lock().routes.values().cloned().collect()
    }

    pub fn is_connected(&self, node_id: &str) -> bool {
        self.peers.lock().routes.contains_key(node_id)
    }

    pub(crate) fn auth_user(&self) -> Option<String> {
        self.cfg.authorization.as_ref().map(|a| a.user.clone())
    }

    pub(crate) fn auth_password(&self) -> Option<String> {
        self.cfg.authorization.as_ref().map(|a| a.password.clone())
    }

    pub(crate) fn handshake_timeout(&self) -> Duration {
        match &self.cfg.authorization {
            Some(a) if !a.timeout.is_zero() => a.timeout.max(Duration::from_secs(1)),
            _ => Duration::from_secs(5),
        }
    }

    /// Our handshake frame; `user`/`password` only when dialling.
    pub(crate) fn hello(&self, user: Option<String>, password: Option<String>) -> Hello {
        let (route_host, route_port) = match self.cfg.advertise.as_deref() {
            Some(a) => match a.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().unwrap_or(self.listen.port() as u32),
                ),
                None => (a.to_string(), self.listen.port() as u32),
            },
            None => (String::new(), self.listen.port() as u32),
        };
        let connect_urls = if self.cfg.no_advertise {
            Vec::new()
        } else {
            vec![self.own_url(None)]
        };
        Hello {
            node_id: self.node_id.clone(),
            server_name: self.server_name.clone(),
            cluster_name: self.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            user: user.unwrap_or_default(),
            password: password.unwrap_or_default(),
            route_host,
            route_port,
            connect_urls,
            raft_id: self.raft_id.load(Ordering::Relaxed),
            meta_initialized: self.meta_initialized.load(Ordering::Relaxed),
        }
    }

    /// This node's client URL; with an unspecified listen host, `ip` as seen on a route
    /// (or `:port`, which the peer completes with our address as it sees it).
    fn own_url(&self, ip: Option<IpAddr>) -> String {
        if let Some(a) = &self.client_advertise {
            return if a.contains(':') {
                a.clone()
            } else {
                format!("{a}:{}", self.client_port)
            };
        }
        match (&self.client_host, ip) {
            (Some(h), _) => format!("{h}:{}", self.client_port),
            (None, Some(ip)) => SocketAddr::new(ip, self.client_port).to_string(),
            (None, None) => format!(":{}", self.client_port),
        }
    }

    /// Why a peer's cluster name is refused, if it is.
    pub(crate) fn check_name(&self, hello: &Hello) -> Option<String> {
        if self.name.is_empty() || hello.cluster_name.is_empty() || self.name == hello.cluster_name
        {
            return None;
        }
        Some(format!(
            "Rejecting connection, cluster name \"{}\" of {} does not match \"{}\"",
            hello.cluster_name, hello.server_name, self.name
        ))
    }

    pub(crate) fn check_credentials(&self, hello: &Hello) -> bool {
        match &self.cfg.authorization {
            Some(a) => hello.user == a.user && hello.password == a.password,
            None => true,
        }
    }

    /// Reserves `id` for a handshake we dial; false if a route exists or is being made.
    pub(crate) fn reserve(&self, id: &str) -> bool {
        let mut p = self.peers.lock();
        if p.routes.contains_key(id) || p.dialing.contains(id) {
            return false;
        }
        p.dialing.insert(id.to_string());
        true
    }

    pub(crate) fn release(&self, id: &str) {
        self.peers.lock().dialing.remove(id);
    }

    pub(crate) fn implicit_done(&self, id: &str) {
        self.peers.lock().implicit.remove(id);
    }

    /// Registers a route after its handshake. With a route to the same peer already
    /// registered, the one dialled by the node with the lower id is kept (both ends
    /// decide alike); `Err` means the new one lost, `Ok(Some(old))` that `old` must
    /// close.
    pub(crate) fn register(&self, route: &Arc<Route>) -> Result<Option<Arc<Route>>, ()> {
        let mut p = self.peers.lock();
        if let Some(e) = p.routes.get(&route.peer_id) {
            let dialer = |r: &Route| {
                if r.did_solicit {
                    self.node_id.clone()
                } else {
                    r.peer_id.clone()
                }
            };
            let (old_dialer, new_dialer) = (dialer(e), dialer(route));
            // The same dialer twice means the old connection is stale.
            let keep_new = old_dialer == new_dialer || new_dialer < old_dialer;
            if !keep_new {
                return Err(());
            }
        }
        Ok(p.routes.insert(route.peer_id.clone(), route.clone()))
    }

    /// After registration: gossip both ways, send our interest, update clients.
    pub(crate) fn after_register(&self, server: &Arc<ServerShared>, route: &Arc<Route>) {
        let others: Vec<Arc<Route>> = self
            .routes()
            .into_iter()
            .filter(|r| r.rid != route.rid)
            .collect();
        if !others.is_empty() {
            route.send(route::gossip_of(others.iter()));
        }
        let about_new = route::gossip_of(std::iter::once(route));
        for r in &others {
            r.send(about_new.clone());
        }
        for account in server.accounts.iter() {
            account.interest.dump_to(&account.name, route);
        }
        self.notify_clients(server);
    }

    /// Removes a closed route and the interest it carried.
    pub(crate) fn unregister(&self, server: &Arc<ServerShared>, route: &Arc<Route>) {
        let gone = {
            let mut p = self.peers.lock();
            if p.routes
                .get(&route.peer_id)
                .is_some_and(|r| r.rid == route.rid)
            {
                p.routes.remove(&route.peer_id);
            }
            !p.routes.contains_key(&route.peer_id)
        };
        if gone && route.peer_raft_id != 0 {
            if let Some(raft) = self.raft.get() {
                raft.on_peer_down(route.peer_raft_id);
            }
        }
        route.remote_interest.clear(&server.accounts);
        self.notify_clients(server);
    }

    /// Dials peers we learn about and are not connected to.
    pub(crate) fn on_gossip(self: &Arc<Self>, server: &Arc<ServerShared>, g: Gossip) {
        for peer in g.peers {
            if peer.node_id == self.node_id || peer.route_url.is_empty() {
                continue;
            }
            {
                let mut p = self.peers.lock();
                if p.routes.contains_key(&peer.node_id)
                    || p.dialing.contains(&peer.node_id)
                    || !p.implicit.insert(peer.node_id.clone())
                {
                    continue;
                }
            }
            debug!(peer = %peer.server_name, url = %peer.route_url, "learned peer through gossip, dialling it");
            server.tasks.spawn(route::dial_implicit(
                server.clone(),
                self.clone(),
                peer.route_url,
                peer.node_id,
            ));
        }
    }

    /// The `connect_urls` for clients: ours first, then every peer's. Empty without
    /// routes or with `no_advertise`.
    pub fn connect_urls(&self) -> Vec<String> {
        if self.cfg.no_advertise {
            return Vec::new();
        }
        let p = self.peers.lock();
        let Some(first) = p.routes.values().next() else {
            return Vec::new();
        };
        let mut urls = vec![self.own_url(Some(first.local.ip()))];
        let mut routes: Vec<&Arc<Route>> = p.routes.values().collect();
        routes.sort_by(|a, b| a.peer_name.cmp(&b.peer_name));
        for r in routes {
            for u in &r.connect_urls {
                if !urls.contains(u) {
                    urls.push(u.clone());
                }
            }
        }
        urls
    }

    /// Sends an async INFO with the new `connect_urls` to protocol-1 clients when the
    /// set changed.
    fn notify_clients(&self, server: &ServerShared) {
        let urls = self.connect_urls();
        {
            let mut last = self.last_urls.lock();
            if *last == urls {
                return;
            }
            *last = urls;
        }
        let clients: Vec<_> = server.clients.read().values().cloned().collect();
        for c in clients {
            if c.kind != ClientKind::Client || c.meta.lock().protocol < 1 {
                continue;
            }
            let json = server.client_info_json(c.cid, c.addr);
            if c.out.push(|b| encode::info(b, &json)).is_ok() {
                c.out.wake();
            }
        }
    }
}

/// Makes every account count its local subscriptions for the routes. Called before
/// anything subscribes (JetStream's API services, front ends), so no interest is
/// missing from what new routes are sent.
pub fn attach_accounts(server: &ServerShared, cluster: &Arc<Cluster>) {
    for account in server.accounts.iter() {
        account.interest.attach(cluster.clone());
    }
}

/// Starts the route listener and the dialers of the configured routes.
pub fn start(server: &Arc<ServerShared>, cluster: Arc<Cluster>, listener: tokio::net::TcpListener) {
    attach_accounts(server, &cluster);
    server.tasks.spawn(route::accept_loop(
        server.clone(),
        cluster.clone(),
        listener,
    ));
    for r in &cluster.cfg.routes {
        match RouteUrl::parse(r) {
            Some(mut u) => {
                if u.user.is_none() {
                    u.user = cluster.auth_user();
                    u.password = cluster.auth_password();
                }
                server
                    .tasks
                    .spawn(route::dial_explicit(server.clone(), cluster.clone(), u));
            }
            None => warn!(url = %r, "ignoring invalid route URL"),
        }
    }
}

/// Sends a frame reserved for Raft to one peer; false if no route to it exists.
/// (Used by the Raft issue.)
pub fn send_raft(cluster: &Cluster, node_id: &str, rpc: proto::RaftRpc) -> bool {
    match cluster.peers.lock().routes.get(node_id) {
        Some(r) => {
            r.send(Kind::RaftRpc(rpc));
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::account::Account;
    use crate::server::client::ClientHandle;
    use tokio_util::sync::CancellationToken;

    fn cluster(id: &str) -> Cluster {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        Cluster::new(&Config::default(), &ClusterConfig::default(), id, id, a, a)
    }

    fn route(rid: u64, peer: &str, did_solicit: bool) -> Arc<Route> {
        let a: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let acc = Arc::new(Account::new("$G", false));
        let h = ClientHandle::new(rid, a, acc, 1024, CancellationToken::new());
        Arc::new(Route {
            rid,
            handle: Arc::new(h),
            peer_id: peer.into(),
            peer_name: peer.into(),
            route_url: String::new(),
            connect_urls: vec![],
            did_solicit,
            is_configured: false,
            remote: a,
            local: a,
            rtt: Mutex::new(None),
            remote_interest: Default::default(),
            peer_raft_id: 0,
            peer_meta_initialized: false,
        })
    }

    /// A and B dial each other at once; whichever order each sees the two connections
    /// in, both keep the one dialled by A (the lower id).
    #[test]
    fn crossed_dials_keep_the_lower_ids_connection_on_both_ends() {
        for order in [false, true] {
            let a = cluster("A");
            let b = cluster("B");
            // On A: a1 = A dialled B, a2 = B dialled A. On B: the same two, mirrored.
            let (a1, a2) = (route(1, "B", true), route(2, "B", false));
            let (b1, b2) = (route(1, "A", false), route(2, "A", true));
            let (first_a, second_a) = if order { (&a1, &a2) } else { (&a2, &a1) };
            let (first_b, second_b) = if order { (&b2, &b1) } else { (&b1, &b2) };
            assert!(a.register(first_a).is_ok());
            let _ = a.register(second_a);
            assert!(b.register(first_b).is_ok());
            let _ = b.register(second_b);
            assert_eq!(a.routes()[0].rid, 1, "A keeps its own dial");
            assert_eq!(b.routes()[0].rid, 1, "B keeps A's dial");
            assert_eq!(a.routes().len(), 1);
        }
    }

    #[test]
    fn a_second_connection_from_the_same_dialer_replaces_a_stale_one() {
        let b = cluster("B");
        assert!(b.register(&route(1, "A", false)).is_ok());
        let old = b.register(&route(2, "A", false)).unwrap();
        assert_eq!(old.map(|r| r.rid), Some(1));
        assert_eq!(b.routes()[0].rid, 2);
    }

    #[test]
    fn reservations_stop_a_second_dial() {
        let a = cluster("A");
        assert!(a.reserve("B"));
        assert!(!a.reserve("B"));
        a.release("B");
        assert!(a.register(&route(1, "B", true)).is_ok());
        assert!(!a.reserve("B"), "connected peers are not dialled again");
    }

    #[test]
    fn cluster_names_and_credentials_are_checked() {
        let mut cfg = ClusterConfig {
            name: Some("prod".into()),
            ..Default::default()
        };
        cfg.authorization = Some(crate::config::RouteAuth {
            user: "r".into(),
            password: "p".into(),
            timeout: Duration::from_secs(2),
        });
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let c = Cluster::new(&Config::default(), &cfg, "A", "a", a, a);
        let mut h = c.hello(Some("r".into()), Some("p".into()));
        assert!(c.check_credentials(&h));
        assert_eq!(c.check_name(&h), None);
        h.password = "x".into();
        assert!(!c.check_credentials(&h));
        h.cluster_name = "dev".into();
        let why = c.check_name(&h).unwrap();
        assert!(why.contains("does not match"), "{why}");
    }
}
