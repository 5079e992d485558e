//! Helpers for the WebSocket and MQTT tests: servers with the front ends on
//! ephemeral loopback ports, and the Python client runner (paho-mqtt, nats.py with
//! aiohttp), which fails rather than skips when the packages are missing
//! (tests/run.sh installs them).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use natrium::config::{Config, JetStreamConfig, MqttConfig, WebSocketConfig};
use natrium::server::RunningServer;

pub fn ws_config(compression: bool, allowed_origins: Vec<String>) -> Config {
    let mut c = crate::common::test_config();
    c.websocket = Some(WebSocketConfig {
        host: "127.0.0.1".into(),
        port: Some(0),
        no_tls: true,
        compression,
        allowed_origins,
        ..WebSocketConfig::default()
    });
    c
}

pub fn mqtt_config(store: &Path) -> Config {
    let mut c = crate::common::test_config();
    c.server_name = Some("mqtt-test".into());
    c.jetstream = Some(JetStreamConfig {
        enabled: true,
        store_dir: Some(store.to_path_buf()),
        ..JetStreamConfig::default()
    });
    c.mqtt = Some(MqttConfig {
        host: "127.0.0.1".into(),
        port: Some(0),
        ..MqttConfig::default()
    });
    c.websocket = Some(WebSocketConfig {
        host: "127.0.0.1".into(),
        port: Some(0),
        no_tls: true,
        ..WebSocketConfig::default()
    });
    c
}

pub fn ws_addr(srv: &RunningServer) -> SocketAddr {
    srv.shared
        .websocket_addr
        .lock()
        .expect("websocket listening")
}

pub fn mqtt_addr(srv: &RunningServer) -> SocketAddr {
    srv.shared.mqtt_addr.lock().expect("mqtt listening")
}

/// Runs `tests/py/<script>` with `args`; asserts success and an `OK <check>` line
/// for each check.
pub async fn run_python(script: &str, args: &[String], checks: &[&str]) {
    let have = std::process::Command::new("python3")
        .args(["-c", "import nats, aiohttp, paho.mqtt"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        have,
        "python3 with nats-py, aiohttp and paho-mqtt is required (tests/run.sh installs them)"
    );
    let path = format!("{}/tests/py/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(90),
        tokio::process::Command::new("python3")
            .arg(&path)
            .args(args)
            .output(),
    )
    .await
    .expect("python checks finish within 90s")
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    for check in checks {
        assert!(
            stdout.contains(&format!("OK {check}")),
            "{script}: missing {check}:\n{stdout}"
        );
    }
}
