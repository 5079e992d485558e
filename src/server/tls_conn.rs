//! Accepting a client on the client port when `tls { ... }` is configured: INFO in
//! plaintext (or nothing, with `handshake_first`), then the TLS handshake within
//! `tls.timeout`, then the ordinary connection code over the encrypted stream.
//!
//! A client that sends plaintext where the handshake belongs gets
//! `-ERR 'Secure Connection - TLS Required'` and is closed; a failed handshake
//! (wrong CA, expired or missing client certificate) closes the connection and is
//! logged. Must not: parse NATS ops (that is `connection`).

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::debug;

use crate::protocol::encode;

use super::client::ClientType;
use super::connection;
use super::ServerShared;

/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves one accepted client connection, with TLS when the server has it.
pub async fn serve(server: Arc<ServerShared>, stream: TcpStream, cid: u64) {
    let Some(tls) = server.tls.clone() else {
        return connection::serve(server, stream, cid).await;
    };
    let Ok(addr) = stream.peer_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut stream = stream;
    let first = tls.settings.handshake_first;
    let nonce = server.auth.needs_nonce().then(crate::auth::nkey::new_nonce);
    if !first {
        let info = server.client_info_json_for(cid, addr, ClientType::Nats, nonce.as_deref());
        let mut b = bytes::BytesMut::new();
        encode::info(&mut b, &info);
        if stream.write_all(&b).await.is_err() {
            return;
        }
    }
    let timeout = tls.settings.timeout;
    let mut peek = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut peek)).await {
        Ok(Ok(1)) if peek[0] == TLS_HANDSHAKE => {}
        Ok(Ok(1)) => {
            debug!(cid, remote = %addr, "plaintext on a TLS client port, closing");
            let mut b = bytes::BytesMut::new();
            encode::err(&mut b, "Secure Connection - TLS Required");
            let _ = stream.write_all(&b).await;
            let _ = stream.shutdown().await;
            return;
        }
        _ => {
            debug!(cid, remote = %addr, "no TLS handshake in time, closing");
            return;
        }
    }
    let tls_stream = match tokio::time::timeout(timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!(cid, remote = %addr, error = %e, "TLS handshake error");
            return;
        }
        Err(_) => {
            tracing::info!(cid, remote = %addr, "TLS handshake timeout");
            return;
        }
    };
    let (rd, wr) = tokio::io::split(tls_stream);
    connection::serve_stream(server, rd, wr, addr, cid, ClientType::Nats, first, nonce).await;
}
