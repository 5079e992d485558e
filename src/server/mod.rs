//! The client-facing server: accept loop, connections, accounts, routing of messages.
//!
//! Owns: listening on the client port, every client connection and its subscriptions,
//! the accounts' sublists, server statistics and the list of recently closed
//! connections. Must not: parse bytes itself (that is `protocol`), open RocksDB or call
//! openraft. `start` starts JetStream (`crate::jetstream`) when it is enabled.
//!
//! Shutdown is one tree: [`ServerShared::shutdown`] is the root token; every connection
//! holds a child token, so cancelling the root stops accepting and closes each client
//! after flushing what was queued for it.

pub mod account;
pub mod client;
pub mod connection;
pub mod internal;
pub mod outbound;
pub mod router;
pub mod stats;
pub mod subscription;
pub mod tls_conn;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::auth::Authenticator;
use crate::config::Config;
use crate::protocol::{encode, ServerInfo};

use account::Accounts;
use client::{ClientHandle, CloseReason};
use stats::{CounterSnapshot, ServerStats};

/// The version natrium advertises. Clients gate features on it, so it follows the
/// nats-server release whose behaviour natrium implements.
pub const ADVERTISED_VERSION: &str = "2.10.22";
/// How many closed connections /connz?state=closed remembers.
const CLOSED_CONNS_KEPT: usize = 10_000;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen for clients on {addr}: {source}")]
    ClientListen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    JetStream(#[from] crate::jetstream::JetStreamError),
    #[error("cannot listen for monitoring on {addr}: {source}")]
    MonitorListen {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot listen for {what} clients on {addr}: {source}")]
    FrontendListen {
        what: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Mqtt(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen for routes on {addr}: {source}")]
    RouteListen {
        addr: String,
        source: std::io::Error,
    },
}

/// A closed connection as /connz reports it.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    pub cid: u64,
    pub addr: SocketAddr,
    pub start: SystemTime,
    pub stop: SystemTime,
    pub last_activity: SystemTime,
    pub reason: &'static str,
    pub counters: CounterSnapshot,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub user: Option<String>,
    pub account: String,
    pub rtt: Option<std::time::Duration>,
    pub client_type: client::ClientType,
    pub mqtt_client: Option<String>,
}

/// State shared by every task of one server.
pub struct ServerShared {
    pub config: Config,
    pub id: String,
    pub name: String,
    pub accounts: Accounts,
    pub auth: Arc<Authenticator>,
    /// TLS for client connections (`tls { ... }`), when configured.
    pub tls: Option<Arc<crate::tls::ServerTls>>,
    pub stats: ServerStats,
    pub clients: RwLock<BTreeMap<u64, Arc<ClientHandle>>>,
    pub closed: Mutex<VecDeque<ClosedConn>>,
    pub next_cid: AtomicU64,
    pub start: SystemTime,
    pub started: Instant,
    pub client_addr: SocketAddr,
    pub http_addr: Mutex<Option<SocketAddr>>,
    /// Where the WebSocket and MQTT front ends listen, once bound.
    pub websocket_addr: Mutex<Option<SocketAddr>>,
    pub mqtt_addr: Mutex<Option<SocketAddr>>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub config_load_time: SystemTime,
    /// Routes to other nodes, when a `cluster` block (or `--cluster`) is configured.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The JetStream subsystem, set at start when enabled.
    pub jetstream: std::sync::OnceLock<Arc<crate::jetstream::JetStream>>,
    /// The MQTT front end's state, set at start when an `mqtt` block listens.
    pub mqtt: std::sync::OnceLock<Arc<crate::mqtt::Mqtt>>,
}

impl ServerShared {
    /// The INFO JSON for a NATS protocol client on the client port.
    pub fn client_info_json(&self, cid: u64, addr: SocketAddr) -> Vec<u8> {
        self.client_info_json_for(cid, addr, client::ClientType::Nats, None)
    }

    /// The INFO JSON sent to a new client (TLS fields only for NATS clients: the
    /// WebSocket and MQTT listeners have their own transport).
    pub fn client_info_json_for(
        &self,
        cid: u64,
        addr: SocketAddr,
        client_type: client::ClientType,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        let tls = self
            .tls
            .as_ref()
            .filter(|_| client_type == client::ClientType::Nats);
        let info = ServerInfo {
            tls_required: tls.is_some(),
            tls_verify: tls.is_some_and(|t| t.settings.verify),
            nonce: nonce.map(str::to_string),
            server_id: self.id.clone(),
            server_name: self.name.clone(),
            version: ADVERTISED_VERSION.to_string(),
            proto: 1,
            go: format!("natrium {}", env!("CARGO_PKG_VERSION")),
            host: self.config.host.clone(),
            port: self.client_addr.port(),
            headers: !self.config.no_header_support,
            max_payload: self.config.max_payload,
            auth_required: self.auth.required(),
            jetstream: self.config.jetstream.as_ref().is_some_and(|j| j.enabled),
            client_id: Some(cid),
            client_ip: Some(addr.ip().to_string()),
            cluster: self
                .cluster
                .as_ref()
                .map(|c| c.name.clone())
                .filter(|n| !n.is_empty()),
            connect_urls: self
                .cluster
                .as_ref()
                .map(|c| c.connect_urls())
                .unwrap_or_default(),
            ..Default::default()
        };
        serde_json::to_vec(&info).unwrap_or_default()
    }

    pub fn register_client(&self, c: &Arc<ClientHandle>) {
        self.clients.write().insert(c.cid, c.clone());
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn unregister_client(&self, c: &Arc<ClientHandle>, reason: CloseReason) {
        self.clients.write().remove(&c.cid);
        let meta = c.meta.lock().clone();
        let closed = ClosedConn {
            cid: c.cid,
            addr: c.addr,
            start: c.start,
            stop: SystemTime::now(),
            last_activity: c.last_activity(),
            reason: reason.as_str(),
            counters: c.stats.snapshot(),
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            user: meta.user,
            account: c.account().name.clone(),
            rtt: meta.rtt,
            client_type: meta.client_type,
            mqtt_client: meta.mqtt_client,
        };
        let mut q = self.closed.lock();
        if q.len() >= CLOSED_CONNS_KEPT {
            q.pop_front();
        }
        q.push_back(closed);
    }

    /// Total subscriptions across accounts.
    pub fn num_subscriptions(&self) -> usize {
        self.accounts.iter().map(|a| a.sublist.count()).sum()
    }
}

/// A started server: its addresses and the handle to stop it.
pub struct RunningServer {
    pub shared: Arc<ServerShared>,
    pub client_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
}

impl RunningServer {
    /// Starts closing: stop accepting, flush and close clients.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// Waits until every task of the server has finished (after [`Self::shutdown`]).
    pub async fn wait(&self) {
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }

    /// A `nats://` URL for clients on loopback.
    pub fn client_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_addr.port())
    }
}

/// Binds the listeners and starts serving. Returns once the ports are bound.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let tls = match &config.tls {
        Some(t) => Some(Arc::new(crate::tls::ServerTls::new(t)?)),
        None => None,
    };
    let addr = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::ClientListen {
            addr: addr.clone(),
            source,
        })?;
    let client_addr = listener
        .local_addr()
        .map_err(|source| StartError::ClientListen { addr, source })?;
    let id = crate::util::ids::server_id();
    let name = config.server_name.clone().unwrap_or_else(|| id.clone());
    let (cluster, route_listener) = match &config.cluster {
        Some(cl) => {
            let addr = format!("{}:{}", cl.host, cl.port);
            let l = TcpListener::bind(&addr)
                .await
                .map_err(|source| StartError::RouteListen {
                    addr: addr.clone(),
                    source,
                })?;
            let bound = l
                .local_addr()
                .map_err(|source| StartError::RouteListen { addr, source })?;
            let c = crate::cluster::Cluster::new(&config, cl, &id, &name, bound, client_addr);
            (Some(Arc::new(c)), Some(l))
        }
        None => (None, None),
    };
    let shared = Arc::new(ServerShared {
        accounts: Accounts::from_config(&config),
        auth: Arc::new(Authenticator::from_config(&config)),
        tls,
        config,
        id,
        name,
        stats: ServerStats::default(),
        clients: RwLock::new(BTreeMap::new()),
        closed: Mutex::new(VecDeque::new()),
        next_cid: AtomicU64::new(1),
        start: SystemTime::now(),
        started: Instant::now(),
        client_addr,
        http_addr: Mutex::new(None),
        websocket_addr: Mutex::new(None),
        mqtt_addr: Mutex::new(None),
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
        config_load_time: SystemTime::now(),
        cluster,
        jetstream: std::sync::OnceLock::new(),
        mqtt: std::sync::OnceLock::new(),
    });
    if let Some(c) = &shared.cluster {
        crate::cluster::attach_accounts(&shared, c);
    }
    if let Some(js) = crate::jetstream::JetStream::start(&shared).await? {
        let _ = shared.jetstream.set(js);
    }
    start_frontends(&shared).await?;

    let http_addr = match shared.config.http_port {
        Some(port) => {
            let addr = format!("{}:{}", shared.config.http_host, port);
            let l = TcpListener::bind(&addr)
                .await
                .map_err(|source| StartError::MonitorListen {
                    addr: addr.clone(),
                    source,
                })?;
            let a = l
                .local_addr()
                .map_err(|source| StartError::MonitorListen { addr, source })?;
            *shared.http_addr.lock() = Some(a);
            shared.tasks.spawn(crate::monitor::serve(shared.clone(), l));
            info!(addr = %a, "Starting http monitor");
            Some(a)
        }
        None => None,
    };

    if let (Some(c), Some(l)) = (shared.cluster.clone(), route_listener) {
        info!(addr = %c.listen, cluster = %c.name, "Listening for route connections");
        crate::cluster::start(&shared, c, l);
    }
    info!(addr = %client_addr, "Listening for client connections");
    info!(server_id = %shared.id, name = %shared.name, "Server is ready");
    shared.tasks.spawn(accept_loop(shared.clone(), listener));
    Ok(RunningServer {
        shared,
        client_addr,
        http_addr,
    })
}

/// Starts the WebSocket and MQTT listeners that the configuration enables.
async fn start_frontends(shared: &Arc<ServerShared>) -> Result<(), StartError> {
    if let Some(ws) = shared.config.websocket.clone() {
        if let Some(port) = ws.port {
            let a = crate::websocket::start(shared, &ws)
                .await
                .map_err(|source| StartError::FrontendListen {
                    what: "websocket",
                    addr: format!("{}:{port}", ws.host),
                    source,
                })?;
            *shared.websocket_addr.lock() = Some(a);
        }
    }
    if let Some(m) = shared.config.mqtt.clone() {
        if let Some(port) = m.port {
            if shared.config.server_name.is_none() {
                return Err(StartError::Mqtt(
                    "mqtt requires server name to be explicitly set".into(),
                ));
            }
            if shared.jetstream.get().is_none() {
                return Err(StartError::Mqtt(
                    "mqtt requires JetStream to be enabled if running in standalone mode".into(),
                ));
            }
            let a = crate::mqtt::start(shared, &m).await.map_err(|source| {
                StartError::FrontendListen {
                    what: "mqtt",
                    addr: format!("{}:{port}", m.host),
                    source,
                }
            })?;
            *shared.mqtt_addr.lock() = Some(a);
        }
    }
    Ok(())
}

async fn accept_loop(server: Arc<ServerShared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = server.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                error!(error = %e, "error accepting client connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if server.clients.read().len() >= server.config.max_connections {
            warn!("maximum connections exceeded, refusing a client");
            let mut b = bytes::BytesMut::new();
            encode::err(&mut b, "maximum connections exceeded");
            server.tasks.spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut s = stream;
                let _ = s.write_all(&b).await;
                let _ = s.shutdown().await;
            });
            continue;
        }
        let cid = server.next_cid.fetch_add(1, Ordering::Relaxed);
        server
            .tasks
            .spawn(tls_conn::serve(server.clone(), stream, cid));
    }
    info!("client listener closed");
}
