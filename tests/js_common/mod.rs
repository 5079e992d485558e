//! JetStream test helpers: a server with JetStream in a temporary store directory, and
//! raw `$JS.API` requests / publishes that return the server's JSON as it is.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use natrium::config::{Config, JetStreamConfig};
use natrium::server::RunningServer;
use serde_json::Value;

use crate::common;

/// A test config with JetStream storing in `dir`.
pub fn js_config(dir: &Path) -> Config {
    let mut cfg = common::test_config();
    cfg.jetstream = Some(JetStreamConfig {
        store_dir: Some(dir.to_path_buf()),
        ..JetStreamConfig::default()
    });
    cfg
}

pub async fn start_js(dir: &Path) -> RunningServer {
    common::start_server(js_config(dir)).await
}

/// Stops a server and waits for every task (the store is closed afterwards).
pub async fn stop(srv: RunningServer) {
    srv.shutdown();
    tokio::time::timeout(Duration::from_secs(10), srv.wait())
        .await
        .expect("server stops within 10s");
}

/// A request with a JSON body (or empty), answered with JSON.
pub async fn api(c: &async_nats::Client, subject: &str, body: Value) -> Value {
    let payload = if body.is_null() {
        bytes::Bytes::new()
    } else {
        bytes::Bytes::from(serde_json::to_vec(&body).unwrap())
    };
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        c.request(subject.to_string(), payload),
    )
    .await
    .expect("API answers within 5s")
    .expect("request");
    serde_json::from_slice(&resp.payload).expect("JSON response")
}

/// A publish with headers, returning the PubAck JSON.
pub async fn publish(
    c: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    payload: &str,
) -> Value {
    let mut h = async_nats::HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, *v);
    }
    let req = async_nats::Request::new()
        .headers(h)
        .payload(bytes::Bytes::from(payload.to_string()))
        .timeout(Some(Duration::from_secs(5)));
    let resp = c
        .send_request(subject.to_string(), req)
        .await
        .expect("publish answered");
    serde_json::from_slice(&resp.payload).expect("PubAck JSON")
}

/// The `err_code` of an error response (panics when there is no error).
pub fn err_code(v: &Value) -> u64 {
    v["error"]["err_code"]
        .as_u64()
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
}

/// Creates a stream through the raw API and checks it succeeded.
pub async fn create(c: &async_nats::Client, cfg: Value) -> Value {
    let name = cfg["name"].as_str().unwrap().to_string();
    let v = api(c, &format!("$JS.API.STREAM.CREATE.{name}"), cfg).await;
    assert!(v.get("error").is_none(), "create {name}: {v}");
    v
}
