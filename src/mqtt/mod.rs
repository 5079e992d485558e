//! The MQTT 3.1.1 front end: IoT clients publish and subscribe to the same subjects
//! as NATS clients.
//!
//! Owns: the MQTT listener, the server-wide MQTT state ([`Mqtt`]: sessions kept for
//! `clean_session = false` clients and retained messages, per account), and the
//! per-connection protocol (`conn`). Packets are decoded by `packet`; topics map to
//! subjects by `topic`. Must not: touch the NATS wire protocol — an MQTT client
//! publishes through [`ServerShared::publish`] and receives through an internal
//! subscription sink, so routing, accounts and permissions are the server's.
//!
//! Messages that MQTT clients publish carry the header `Nmqtt-Pub: <qos>` (as
//! nats-server 2.15.1 adds it, QoS 0 included), so an MQTT subscriber gets the QoS
//! the publisher used (capped by its subscription's QoS).

mod conn;
pub mod packet;
pub mod retained;
pub mod session;
pub mod topic;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tracing::{error, info};

use crate::config::MqttConfig;
use crate::server::client::{ClientType, CloseReason};
use crate::server::ServerShared;

/// The NATS header carrying the QoS of a message an MQTT client published.
pub const QOS_HEADER: &str = "Nmqtt-Pub";

/// Server-wide MQTT state.
pub struct Mqtt {
    pub config: MqttConfig,
    pub sessions: session::Sessions,
    pub retained: retained::Retained,
}

/// Binds the MQTT listener and starts accepting.
pub async fn start(server: &Arc<ServerShared>, cfg: &MqttConfig) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind((cfg.host.as_str(), cfg.port.unwrap_or(0))).await?;
    let addr = l.local_addr()?;
    let _ = server.mqtt.set(Arc::new(Mqtt {
        config: cfg.clone(),
        sessions: session::Sessions::default(),
        retained: retained::Retained::default(),
    }));
    info!(addr = %addr, "Listening for MQTT clients");
    server.tasks.spawn(accept_loop(server.clone(), l));
    Ok(addr)
}

async fn accept_loop(server: Arc<ServerShared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = server.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "error accepting MQTT connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if server.clients.read().len() >= server.config.max_connections {
            continue;
        }
        let _ = stream.set_nodelay(true);
        let cid = server.next_cid.fetch_add(1, Ordering::Relaxed);
        let (rd, wr) = stream.into_split();
        let s = server.clone();
        server.tasks.spawn(async move {
            serve_io(s, rd, wr, addr, cid, ClientType::Mqtt).await;
        });
    }
}

/// Serves one MQTT connection over any byte stream (TCP or WebSocket `/mqtt`).
pub async fn serve_io<R, W>(
    server: Arc<ServerShared>,
    rd: R,
    wr: W,
    addr: SocketAddr,
    cid: u64,
    _via: ClientType,
) -> CloseReason
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(mqtt) = server.mqtt.get().cloned() else {
        // MQTT over WebSocket without an mqtt block: nothing to serve.
        return CloseReason::ProtocolViolation;
    };
    conn::run(server, mqtt, rd, wr, addr, cid).await
}
