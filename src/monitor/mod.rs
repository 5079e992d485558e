//! The monitoring HTTP endpoint (default port 8222): /varz, /connz, /subsz, /routez,
//! /accountz, /healthz, /jsz and /metrics, with nats-server's field names.
//!
//! Owns: the HTTP listener and the JSON/Prometheus renderings. Must not: mutate server
//! state or hold hot-path locks while serializing (it copies what it needs first).

mod connz;
mod metrics;
mod query;
mod raft_metrics;
mod raftz;
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
        .route("/raftz", get(raftz::raftz))
        .route("/replicaz", get(raftz::replicaz))
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

/// Go's `strconv.ParseBool` truth values.
fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key)
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

async fn jsz(State(s): Shared, Query(q): Params) -> Response {
    let cfg = s.config.jetstream.as_ref().filter(|j| j.enabled);
    let js = s.jetstream.get();
    let usage = js.map(|j| j.usage(None)).unwrap_or_default();
    let (total, errors) = js.map(|j| j.api_stats()).unwrap_or((0, 0));
    let mut v = json!({
        "server_id": s.id,
        "now": now(),
        "config": {
            "max_memory": cfg.and_then(|j| j.max_memory_store).unwrap_or(0),
            "max_storage": cfg.and_then(|j| j.max_file_store).unwrap_or(0),
            "store_dir": js.map(|j| j.store_dir.display().to_string()).unwrap_or_default(),
            "sync_interval": cfg.map_or(0, |j| match j.sync_interval {
                crate::config::SyncInterval::Always => 0,
                crate::config::SyncInterval::Every(d) => d.as_nanos() as u64,
            }),
        },
        "memory": usage.memory,
        "storage": usage.storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": usage.accounts,
        "ha_assets": 0,
        "api": { "total": total, "errors": errors },
        "streams": usage.streams,
        "consumers": usage.consumers,
        "messages": usage.messages,
        "bytes": usage.bytes,
    });
    // `disabled` only when true, as nats-server (`omitempty`).
    if let (None, Value::Object(o)) = (js, &mut v) {
        o.insert("disabled".into(), json!(true));
    }
    if let (Some(js), Value::Object(o)) = (js, &mut v) {
        o.insert("meta_cluster".into(), js.meta_cluster_json());
        o.insert("raft_id".into(), json!(js.raft.id.to_string()));
    }
    let want_streams = flag(&q, "streams") || flag(&q, "consumers");
    if let (Some(js), true) = (js, flag(&q, "accounts") || want_streams) {
        let with_config = flag(&q, "config");
        let with_consumers = flag(&q, "consumers");
        let mut by_account: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
        for st in js.all_streams() {
            let entry = by_account.entry(st.account.name.clone()).or_default();
            if !want_streams {
                continue;
            }
            // Consumer info takes the stream's lock itself: render it first.
            let consumers: Vec<Value> = if with_consumers {
                st.consumer_list().iter().map(|c| c.info(&s.name)).collect()
            } else {
                Vec::new()
            };
            let core = st.core.lock();
            let mut d = json!({
                "name": st.name,
                "created": crate::jetstream::info::ts_string(st.created),
                "cluster": { "leader": s.name },
                "state": crate::jetstream::info::state_json(&core.state, &Default::default()),
            });
            if let Value::Object(o) = &mut d {
                if with_config {
                    o.insert("config".into(), json!(core.state.config));
                }
                if with_consumers {
                    o.insert("consumer_detail".into(), json!(consumers));
                }
            }
            entry.push(d);
        }
        let filter = q.get("acc");
        let details: Vec<Value> = by_account
            .into_iter()
            .filter(|(a, _)| filter.map_or(true, |f| f == a))
            .map(|(a, streams)| {
                let u = js.usage(Some(&a));
                let mut d = json!({
                    "name": a,
                    "id": a,
                    "memory": u.memory,
                    "storage": u.storage,
                    "reserved_memory": 0,
                    "reserved_storage": 0,
                    "accounts": 1,
                    "ha_assets": 0,
                    "api": { "total": 0, "errors": 0 },
                });
                if let (Value::Object(o), true) = (&mut d, want_streams) {
                    o.insert("stream_detail".into(), json!(streams));
                }
                d
            })
            .collect();
        if let Value::Object(o) = &mut v {
            o.insert("total".into(), json!(details.len()));
            o.insert("account_details".into(), json!(details));
        }
    }
    json_response(&v)
}
