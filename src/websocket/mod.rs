//! The WebSocket front end: NATS clients (browsers, nats.py with `ws://`) over
//! RFC 6455 frames.
//!
//! Owns: the WebSocket listener, the HTTP upgrade (`handshake`), framing
//! (`frame`) and the bridge between the frames on the socket and the plain byte
//! stream the ordinary client connection code (`server::connection::serve_io`)
//! reads and writes. Must not: interpret the NATS protocol — a WebSocket client is
//! a normal client with the same accounts, permissions and limits.
//!
//! A connection is three tasks: the NATS connection itself, reading and writing one
//! end of an in-memory pipe; an inbound task decoding frames from the socket into
//! the pipe; and an outbound task framing what the connection writes (plus pongs
//! and the close frame) onto the socket.

pub mod frame;
pub mod handshake;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, error, info};

use crate::config::WebSocketConfig;
use crate::server::client::{ClientType, CloseReason};
use crate::server::connection;
use crate::server::ServerShared;

use frame::{Control, FrameDecoder, FrameEncoder};
use handshake::{Handshake, OriginPolicy};

/// Capacity of the in-memory pipe between the bridge and the connection.
const PIPE: usize = 256 * 1024;
/// Largest compressed WebSocket message accepted (and its inflated size), beyond
/// `max_payload`: room for the control line and several messages in one frame.
const MESSAGE_SLACK: usize = 8 * 1024 * 1024;

/// Binds the WebSocket listener and starts accepting.
pub async fn start(
    server: &Arc<ServerShared>,
    cfg: &WebSocketConfig,
) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind((cfg.host.as_str(), cfg.port.unwrap_or(0))).await?;
    let addr = l.local_addr()?;
    info!(addr = %addr, "Listening for websocket clients");
    let origins = Arc::new(OriginPolicy::new(cfg.same_origin, &cfg.allowed_origins));
    server
        .tasks
        .spawn(accept_loop(server.clone(), l, cfg.clone(), origins));
    Ok(addr)
}

async fn accept_loop(
    server: Arc<ServerShared>,
    listener: TcpListener,
    cfg: WebSocketConfig,
    origins: Arc<OriginPolicy>,
) {
    loop {
        let accepted = tokio::select! {
            _ = server.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "error accepting websocket connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let s = server.clone();
        let o = origins.clone();
        let c = cfg.clone();
        server.tasks.spawn(async move {
            serve(s, stream, addr, c, o).await;
        });
    }
}

/// Reads the upgrade request; returns the accepted upgrade and any frame bytes that
/// followed it, or `None` after refusing.
async fn upgrade(
    stream: &mut TcpStream,
    cfg: &WebSocketConfig,
    origins: &OriginPolicy,
    addr: SocketAddr,
) -> Option<(handshake::Upgrade, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + cfg.handshake_timeout;
    loop {
        let mut chunk = [0u8; 2048];
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => n,
            Err(_) => {
                debug!(%addr, "websocket handshake timed out");
                return None;
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        match handshake::process(&buf, cfg.compression, origins) {
            Handshake::Incomplete => continue,
            Handshake::Refuse(r) => {
                info!(%addr, reason = %r.reason, "websocket handshake error");
                let _ = stream.write_all(&r.response).await;
                let _ = stream.shutdown().await;
                return None;
            }
            Handshake::Accept(u) => {
                if stream.write_all(&u.response).await.is_err() {
                    return None;
                }
                let rest = buf[u.consumed..].to_vec();
                return Some((u, rest));
            }
        }
    }
}

/// What the inbound task asks the outbound task to send.
enum Out {
    Pong(Vec<u8>),
    Close(u16, String),
}

async fn serve(
    server: Arc<ServerShared>,
    mut stream: TcpStream,
    addr: SocketAddr,
    cfg: WebSocketConfig,
    origins: Arc<OriginPolicy>,
) {
    let Some((up, early)) = upgrade(&mut stream, &cfg, &origins, addr).await else {
        return;
    };
    let cid = server.next_cid.fetch_add(1, Ordering::Relaxed);
    if server.clients.read().len() >= server.config.max_connections {
        let mut b = Vec::new();
        frame::close(
            &mut b,
            frame::status::POLICY_VIOLATION,
            "maximum connections exceeded",
        );
        let _ = stream.write_all(&b).await;
        return;
    }
    let (conn_side, bridge_side) = tokio::io::duplex(PIPE);
    let (tcp_rd, tcp_wr) = stream.into_split();
    let (bridge_rd, bridge_wr) = tokio::io::split(bridge_side);
    let (ctl_tx, ctl_rx) = mpsc::channel::<Out>(16);
    let max_message = server.config.max_payload + MESSAGE_SLACK;
    let inbound = tokio::spawn(inbound(
        tcp_rd,
        bridge_wr,
        ctl_tx.clone(),
        FrameDecoder::new(up.compress, max_message),
        early,
    ));
    let outbound = tokio::spawn(outbound(
        bridge_rd,
        tcp_wr,
        ctl_rx,
        FrameEncoder::new(up.compress),
    ));
    let (conn_rd, conn_wr) = tokio::io::split(conn_side);
    let reason = if up.mqtt {
        crate::mqtt::serve_io(
            server.clone(),
            conn_rd,
            conn_wr,
            addr,
            cid,
            ClientType::WebSocket,
        )
        .await
    } else {
        connection::serve_io(
            server.clone(),
            conn_rd,
            conn_wr,
            addr,
            cid,
            ClientType::WebSocket,
        )
        .await
    };
    let _ = ctl_tx
        .send(Out::Close(
            close_status(reason),
            reason.as_str().to_string(),
        ))
        .await;
    drop(ctl_tx);
    if tokio::time::timeout(Duration::from_secs(2), outbound)
        .await
        .is_err()
    {
        debug!("websocket writer did not finish in time");
    }
    inbound.abort();
}

/// The close status nats-server sends for each close reason.
fn close_status(r: CloseReason) -> u16 {
    use frame::status::*;
    match r {
        CloseReason::ClientClosed => NORMAL,
        CloseReason::ServerShutdown => GOING_AWAY,
        CloseReason::AuthTimeout
        | CloseReason::AuthViolation
        | CloseReason::SlowConsumerPendingBytes
        | CloseReason::SlowConsumerWriteDeadline
        | CloseReason::MaxConnections
        | CloseReason::MaxControlLine => POLICY_VIOLATION,
        CloseReason::ProtocolViolation => PROTOCOL_ERROR,
        CloseReason::MaxPayload => MESSAGE_TOO_BIG,
        CloseReason::WriteError | CloseReason::ReadError | CloseReason::StaleConnection => ABNORMAL,
        CloseReason::DuplicateRoute => INTERNAL_ERROR,
    }
}

/// Socket → frames → pipe. Ends on EOF, a close frame or a framing error (after
/// asking the outbound task to send the matching close frame).
async fn inbound<W: tokio::io::AsyncWrite + Unpin>(
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut pipe: W,
    ctl: mpsc::Sender<Out>,
    mut dec: FrameDecoder,
    early: Vec<u8>,
) {
    let mut raw = BytesMut::with_capacity(64 * 1024);
    raw.extend_from_slice(&early);
    let mut data = BytesMut::with_capacity(64 * 1024);
    let mut controls = Vec::new();
    loop {
        if !raw.is_empty() {
            if let Err(e) = dec.decode(&raw, &mut data, &mut controls) {
                debug!(error = %e, "websocket framing error");
                if !data.is_empty() {
                    let _ = pipe.write_all(&data).await;
                }
                let _ = ctl.send(Out::Close(e.status(), e.to_string())).await;
                break;
            }
            raw.clear();
            if !data.is_empty() {
                if pipe.write_all(&data).await.is_err() {
                    break;
                }
                data.clear();
            }
            let mut closing = false;
            for c in controls.drain(..) {
                match c {
                    Control::Ping(p) => {
                        let _ = ctl.send(Out::Pong(p)).await;
                    }
                    Control::Pong => {}
                    Control::Close(code, text) => {
                        let code = if code == frame::status::NO_STATUS {
                            frame::status::NORMAL
                        } else {
                            code
                        };
                        let _ = ctl.send(Out::Close(code, text)).await;
                        closing = true;
                    }
                }
            }
            if closing {
                break;
            }
        }
        if raw.capacity() < 16 * 1024 {
            raw.reserve(64 * 1024);
        }
        match rd.read_buf(&mut raw).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = pipe.shutdown().await;
}

/// Pipe → frames → socket, plus pongs; the first close frame is the last frame.
async fn outbound<R: tokio::io::AsyncRead + Unpin>(
    mut pipe: R,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut ctl: mpsc::Receiver<Out>,
    mut enc: FrameEncoder,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    let mut pipe_open = true;
    loop {
        out.clear();
        tokio::select! {
            biased;
            m = ctl.recv() => match m {
                Some(Out::Pong(p)) => frame::pong(&mut out, &p),
                Some(Out::Close(code, text)) => {
                    // Send what the connection already wrote, then the close frame.
                    while pipe_open {
                        match tokio::time::timeout(Duration::from_millis(200), pipe.read(&mut buf)).await {
                            Ok(Ok(n)) if n > 0 => enc.binary(&buf[..n], &mut out),
                            _ => pipe_open = false,
                        }
                    }
                    frame::close(&mut out, code, &text);
                    let _ = wr.write_all(&out).await;
                    break;
                }
                None => break,
            },
            r = pipe.read(&mut buf), if pipe_open => match r {
                Ok(0) | Err(_) => {
                    pipe_open = false;
                    continue;
                }
                Ok(n) => enc.binary(&buf[..n], &mut out),
            },
        }
        if !out.is_empty() && wr.write_all(&out).await.is_err() {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), wr.shutdown()).await;
}
