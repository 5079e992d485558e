//! The monitoring HTTP endpoint (default port 8222): /varz, /connz, /subsz, /routez,
//! /accountz, /healthz, /jsz and /metrics, with nats-server's field names.
//!
//! Owns: the HTTP listener and the JSON/Prometheus renderings. Must not: mutate server
//! state or hold hot-path locks while serializing (it copies what it needs first).

mod connz;
mod metrics;
mod query;
mod routez;
mod varz;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::server::ServerShared;
use crate::util::time::rfc3339;

pub(crate) type Shared = State<Arc<ServerShared>>;
pub(crate) type Params = Query<HashMap<String, String>>;

/// Serves monitoring requests until the server shuts down.
pub async fn serve(server: Arc<ServerShared>, listener: TcpListener) {
    let shutdown = server.shutdown.clone();
    let app = Router::new()
        .route("/", get(index))
        .route("/varz", get(varz::varz))
        .route("/connz", get(connz::connz))
        .route("/subsz", get(connz::subsz))
        .route("/subscriptionsz", get(connz::subsz))
        .route("/routez", get(routez::routez))
        .route("/accountz", get(accountz))
        .route("/healthz", get(healthz))
        .route("/jsz", get(jsz))
        .route("/metrics", get(metrics::metrics))
        .with_state(server);
    let res = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = res {
        tracing::error!(error = %e, "monitoring server failed");
    }
}

/// A pretty-printed JSON response with nats-server's headers.
pub(crate) fn json_response(v: &Value) -> Response {
    let body = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".to_string());
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// A 400 with a plain-text reason, as nats-server answers bad query values.
pub(crate) fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

pub(crate) fn now() -> String {
    rfc3339(std::time::SystemTime::now())
}

async fn index() -> Response {
    let links = [
        "varz", "connz", "routez", "subsz", "accountz", "jsz", "healthz", "metrics",
    ];
    let mut html = String::from(
        "<html><head><title>natrium</title></head><body><h1>natrium monitoring</h1><ul>",
    );
    for l in links {
        html.push_str(&format!("<li><a href=\"/{l}\">{l}</a></li>"));
    }
    html.push_str("</ul></body></html>");
    ([(header::CONTENT_TYPE, "text/html")], html).into_response()
}

async fn accountz(State(s): Shared, Query(q): Params) -> Response {
    if let Some(acc) = q.get("acc") {
        let Some(a) = s.accounts.get(acc) else {
            return bad_request(format!("Account {acc} does not exist"));
        };
        let clients = s
            .clients
            .read()
            .values()
            .filter(|c| c.account().name == *acc)
            .count();
        return json_response(&json!({
            "server_id": s.id,
            "now": now(),
            "system_account": s.accounts.system_name(),
            "account_detail": {
                "account_name": a.name,
                "update_time": rfc3339(s.start),
                "is_system": a.name == s.accounts.system_name(),
                "expired": false,
                "complete": true,
                "jetstream_enabled": a.jetstream,
                "leafnode_connections": 0,
                "client_connections": clients,
                "subscriptions": a.sublist.count(),
                "sublist_stats": connz::sublist_stats_json(&a.sublist.stats()),
            }
        }));
    }
    let mut names: Vec<&str> = s.accounts.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    json_response(&json!({
        "server_id": s.id,
        "now": now(),
        "system_account": s.accounts.system_name(),
        "accounts": names,
    }))
}

async fn healthz(State(s): Shared) -> Response {
    if s.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"unavailable","error":"server is shutting down"}"#,
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

async fn jsz(State(s): Shared) -> Response {
    let js = s.config.jetstream.as_ref().filter(|j| j.enabled);
    json_response(&json!({
        "server_id": s.id,
        "now": now(),
        "disabled": js.is_none(),
        "config": {
            "max_memory": js.and_then(|j| j.max_memory_store).unwrap_or(0),
            "max_storage": js.and_then(|j| j.max_file_store).unwrap_or(0),
            "store_dir": js.and_then(|j| j.store_dir.as_ref()).map(|p| p.display().to_string()).unwrap_or_default(),
        },
        "memory": 0,
        "storage": 0,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 0,
        "ha_assets": 0,
        "api": { "total": 0, "errors": 0 },
        "streams": 0,
        "consumers": 0,
        "messages": 0,
        "bytes": 0,
    }))
}
