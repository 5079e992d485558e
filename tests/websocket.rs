//! The WebSocket front end: nats.py over ws:// with TCP clients on the same server,
//! and raw handshakes and frames for the byte-exact parts (HTTP errors, origin
//! checks, permessage-deflate, ping/pong, close codes, /connz).

mod common;
mod frontends_common;

use std::time::Duration;

use frontends_common as fc;
use natrium::websocket::frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

async fn raw_request(addr: std::net::SocketAddr, req: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut b))
            .await
            .expect("answer in time")
            .unwrap();
        if n == 0 {
            break;
        }
        buf.push(b[0]);
        if buf.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    (s, String::from_utf8_lossy(&buf).into_owned())
}

fn upgrade_req(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads one server frame: (first byte, payload).
async fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(3), s.read_exact(&mut h))
        .await
        .expect("frame in time")
        .unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).await.unwrap();
            u64::from_be_bytes(b) as usize
        }
        l => l as usize,
    };
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (h[0], p)
}

#[tokio::test]
async fn nats_py_over_websocket_with_tcp_clients() {
    let srv = common::start_server(fc::ws_config(false, vec![])).await;
    let ws = format!("ws://{}", fc::ws_addr(&srv));
    fc::run_python(
        "ws_client.py",
        &[ws, srv.client_url()],
        &[
            "tcp to ws",
            "ws to tcp",
            "request/reply",
            "ws to ws in order",
        ],
    )
    .await;
}

#[tokio::test]
async fn handshake_accept_key_and_http_errors() {
    let srv = common::start_server(fc::ws_config(false, vec!["http://good.example".into()])).await;
    let addr = fc::ws_addr(&srv);
    // RFC 6455's own example key and answer.
    let (_s, resp) = raw_request(addr, &upgrade_req("")).await;
    assert!(
        resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{resp}"
    );
    assert!(
        resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{resp}"
    );
    assert!(
        !resp.contains("permessage-deflate"),
        "compression is off: {resp}"
    );

    let (_s, resp) = raw_request(addr, &upgrade_req("").replacen("GET", "POST", 1)).await;
    assert!(
        resp.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{resp}"
    );
    let (_s, resp) = raw_request(
        addr,
        &upgrade_req("").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
    assert!(resp.contains("Sec-Websocket-Version: 13\r\n"), "{resp}");
    let (_s, resp) = raw_request(addr, &upgrade_req("").replace("Version: 13", "Version: 8")).await;
    assert!(resp.starts_with("HTTP/1.1 400 "), "{resp}");
    let (_s, resp) = raw_request(
        addr,
        &upgrade_req("").replace("Upgrade: websocket", "Upgrade: h2c"),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400 "), "{resp}");
    let (_s, resp) = raw_request(addr, &upgrade_req("Origin: http://evil.example\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{resp}");
    let (_s, resp) = raw_request(addr, &upgrade_req("Origin: http://good.example\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 101 "), "{resp}");
    let (_s, resp) = raw_request(addr, "GARBAGE\r\n\r\n").await;
    assert!(resp.starts_with("HTTP/1.1 400 "), "{resp}");
}

#[tokio::test]
async fn deflate_frames_fragments_ping_and_close() {
    let srv = common::start_server(fc::ws_config(true, vec![])).await;
    let addr = fc::ws_addr(&srv);
    let (mut s, resp) = raw_request(
        addr,
        &upgrade_req("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"),
    )
    .await;
    assert!(
        resp.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"),
        "{resp}"
    );
    let (op, info) = read_frame(&mut s).await;
    let info = if op & 0x40 != 0 { inflate(&info) } else { info };
    assert!(
        info.starts_with(b"INFO "),
        "{}",
        String::from_utf8_lossy(&info)
    );

    // CONNECT + SUB in one compressed message; a PUB split over a text frame and a
    // continuation frame; a PING control frame in between.
    let connect =
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\nSUB ws.t 1\r\n";
    let z = deflate(connect);
    s.write_all(&frame::client_frame(0x80 | 0x40 | 0x2, &z, MASK))
        .await
        .unwrap();
    let payload = "x".repeat(300);
    let pub_line = format!("PUB ws.t {}\r\n{payload}\r\nPING\r\n", payload.len());
    let (a, b) = pub_line.as_bytes().split_at(20);
    s.write_all(&frame::client_frame(0x01, a, MASK))
        .await
        .unwrap();
    s.write_all(&frame::client_frame(0x80 | 0x9, b"hb", MASK))
        .await
        .unwrap();
    s.write_all(&frame::client_frame(0x80, b, MASK))
        .await
        .unwrap();

    let mut got = Vec::new();
    let mut pong = false;
    while !(got.ends_with(b"PONG\r\n") && pong) {
        let (op, p) = read_frame(&mut s).await;
        match op & 0x0f {
            0xA => {
                assert_eq!(p, b"hb");
                pong = true;
            }
            0x2 => got.extend(if op & 0x40 != 0 { inflate(&p) } else { p }),
            o => panic!("unexpected opcode {o}"),
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        text.starts_with(&format!("MSG ws.t 1 300\r\n{payload}\r\n")),
        "{text}"
    );

    // /connz marks the connection.
    let connz = common::http_json(&srv, "/connz").await;
    let types: Vec<_> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].clone())
        .collect();
    assert!(types.contains(&serde_json::json!("websocket")), "{connz}");

    // Close: the server answers with a close frame carrying our status.
    s.write_all(&frame::client_frame(0x88, &1000u16.to_be_bytes(), MASK))
        .await
        .unwrap();
    let (op, p) = read_frame(&mut s).await;
    assert_eq!(op, 0x88);
    assert_eq!(&p[..2], &1000u16.to_be_bytes());
}

#[tokio::test]
async fn unmasked_and_bad_frames_close_with_protocol_error() {
    let srv = common::start_server(fc::ws_config(false, vec![])).await;
    let addr = fc::ws_addr(&srv);
    for bad in [
        vec![0x82u8, 0x03, b'a', b'b', b'c'],               // not masked
        frame::client_frame(0x83, b"x", MASK),              // unknown opcode
        frame::client_frame(0x80, b"x", MASK),              // continuation of nothing
        frame::client_frame(0x09, b"x", MASK),              // fragmented ping
        frame::client_frame(0x80 | 0x40 | 0x2, b"x", MASK), // deflate not negotiated
    ] {
        let (mut s, resp) = raw_request(addr, &upgrade_req("")).await;
        assert!(resp.starts_with("HTTP/1.1 101"), "{resp}");
        let _info = read_frame(&mut s).await;
        s.write_all(&bad).await.unwrap();
        let (op, p) = read_frame(&mut s).await;
        assert_eq!(op, 0x88, "close frame for {bad:?}");
        assert_eq!(
            u16::from_be_bytes([p[0], p[1]]),
            1002,
            "{:?}",
            String::from_utf8_lossy(&p)
        );
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut d = flate2::Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(data.len() * 8 + 1024);
    d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    out
}
