//! Helpers for the WebSocket and MQTT tests: servers with the front ends on
//! ephemeral loopback ports; the Python client runner (paho-mqtt, nats.py with
//! aiohttp) is `common::run_python_args`, which fails when a package is missing.

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

pub use crate::common::run_python_args as run_python;
