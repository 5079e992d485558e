//! The MQTT 3.1.1 front end: paho-mqtt clients (QoS 0/1/2, wildcards, retained,
//! will, takeover, persistent sessions) with nats.py on the NATS side, and raw
//! packets for what a client library never sends (bad protocol level, packets
//! before CONNECT, malformed lengths), plus MQTT over WebSocket.

mod common;
mod frontends_common;

use std::time::Duration;

use frontends_common as fc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn paho_mqtt_with_nats_clients() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start_server(fc::mqtt_config(dir.path())).await;
    let mqtt = fc::mqtt_addr(&srv).to_string();
    fc::run_python(
        "mqtt_client.py",
        &[mqtt.clone(), srv.client_url(), "main".into()],
        &[
            "qos0 pubsub",
            "qos1 pubsub and a/# matches a",
            "qos2 exactly once",
            "nats interop both ways",
            "retained set replace clear",
            "will on abnormal close only",
            "client id takeover",
        ],
    )
    .await;
    fc::run_python(
        "mqtt_client.py",
        &[mqtt, srv.client_url(), "persist".into()],
        &["persistent session across reconnect"],
    )
    .await;
    // /connz shows MQTT connections with their client ID while they are open, and
    // keeps them in the closed list.
    let connz = common::http_json(&srv, "/connz?state=closed").await;
    let ids: Vec<_> = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "mqtt")
        .filter_map(|c| c["mqtt_client"].as_str().map(str::to_string))
        .collect();
    assert!(ids.contains(&"paho-a".to_string()), "{connz}");
    let varz = common::http_json(&srv, "/varz").await;
    assert_eq!(varz["mqtt"]["port"], fc::mqtt_addr(&srv).port(), "{varz}");
    assert_eq!(
        varz["websocket"]["port"],
        fc::ws_addr(&srv).port(),
        "{varz}"
    );
}

fn connect_packet(level: u8, client_id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0, 4]);
    body.extend_from_slice(b"MQTT");
    body.push(level);
    body.push(0x02); // clean session
    body.extend_from_slice(&30u16.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut p = vec![0x10, body.len() as u8];
    p.extend(body);
    p
}

async fn read_some(s: &mut TcpStream) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    match tokio::time::timeout(Duration::from_secs(3), s.read(&mut b)).await {
        Ok(Ok(n)) => b[..n].to_vec(),
        Ok(Err(_)) => Vec::new(),
        Err(_) => panic!("no answer and no close within 3s"),
    }
}

#[tokio::test]
async fn raw_packets_bad_input_closes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start_server(fc::mqtt_config(dir.path())).await;
    let addr = fc::mqtt_addr(&srv);

    // Accepted CONNECT, PINGREQ → PINGRESP, SUBSCRIBE → SUBACK.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&connect_packet(4, "raw")).await.unwrap();
    assert_eq!(read_some(&mut s).await, vec![0x20, 2, 0, 0]);
    s.write_all(&[0xc0, 0]).await.unwrap();
    assert_eq!(read_some(&mut s).await, vec![0xd0, 0]);
    s.write_all(&[0x82, 8, 0, 7, 0, 3, b'a', b'/', b'+', 1])
        .await
        .unwrap();
    assert_eq!(read_some(&mut s).await, vec![0x90, 3, 0, 7, 1]);
    // A second CONNECT is a protocol violation.
    s.write_all(&connect_packet(4, "raw")).await.unwrap();
    assert!(read_some(&mut s).await.is_empty(), "closed");

    // Protocol level 3: CONNACK 1 (unacceptable protocol version), then close.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&connect_packet(3, "old")).await.unwrap();
    assert_eq!(read_some(&mut s).await, vec![0x20, 2, 0, 1]);
    assert!(read_some(&mut s).await.is_empty(), "closed");

    // A packet before CONNECT; a reserved packet type; a 5-byte length.
    for bad in [
        vec![0xc0u8, 0],
        vec![0xf0, 0],
        vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&bad).await.unwrap();
        assert!(read_some(&mut s).await.is_empty(), "closed after {bad:?}");
    }
    // The server still serves.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&connect_packet(4, "after")).await.unwrap();
    assert_eq!(read_some(&mut s).await, vec![0x20, 2, 0, 0]);
}

#[tokio::test]
async fn mqtt_over_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start_server(fc::mqtt_config(dir.path())).await;
    let addr = fc::ws_addr(&srv);
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
    )
    .await
    .unwrap();
    let mut resp = Vec::new();
    while !resp.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        resp.push(b[0]);
    }
    let resp = String::from_utf8_lossy(&resp);
    assert!(
        resp.contains("101") && resp.contains("Sec-Websocket-Protocol: mqtt"),
        "{resp}"
    );
    let f =
        natrium::websocket::frame::client_frame(0x82, &connect_packet(4, "over-ws"), [1, 2, 3, 4]);
    s.write_all(&f).await.unwrap();
    let got = read_some(&mut s).await;
    assert_eq!(
        got,
        vec![0x82, 4, 0x20, 2, 0, 0],
        "CONNACK in a binary frame"
    );
}

#[tokio::test]
async fn config_errors_fail_closed() {
    let load_str = |t: &str| natrium::config::load_str(t, "t.conf", std::path::Path::new("/tmp"));
    let e = load_str("websocket { port: 8080 }")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no_tls"), "{e}");
    let e = load_str("websocket {\n  port: 8080\n  no_tls: true\n  authorization { token: x }\n}")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":4:") && e.contains("websocket.authorization"),
        "{e}"
    );
    let e = load_str("mqtt {\n port: 1883\n tls { cert_file: x }\n}")
        .unwrap_err()
        .to_string();
    assert!(e.contains(":3:") && e.contains("mqtt.tls"), "{e}");
    let ok = load_str("websocket { port: -1, no_tls: true, compression: true }").unwrap();
    assert_eq!(ok.config.websocket.unwrap().port, Some(0));
    // MQTT without server_name or JetStream does not start, as in nats-server.
    let mut c = common::test_config();
    c.mqtt = Some(natrium::config::MqttConfig {
        port: Some(0),
        ..Default::default()
    });
    let err = natrium::server::start(c)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("server name"), "{err}");
}
