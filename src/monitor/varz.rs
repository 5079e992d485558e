//! `/varz`: server identity, configuration and totals.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::{json_response, now, Shared};
use crate::server::ADVERTISED_VERSION;
use crate::util::time::{go_duration, rfc3339};

/// Resident memory of this process in bytes (from /proc), 0 when unknown.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// CPU seconds (user + system) used by this process.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields after ')' start at field 3 (state); utime is field 14, stime 15.
    let total = ticks(11) + ticks(12);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    total as f64 / if hz > 0 { hz as f64 } else { 100.0 }
}

pub async fn varz(State(s): Shared) -> Response {
    let c = &s.config;
    let m = s.stats.msgs.snapshot();
    let uptime = s.started.elapsed();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = if uptime.as_secs_f64() > 0.0 {
        (cpu_seconds() / uptime.as_secs_f64() * 100.0 * 100.0).round() / 100.0
    } else {
        0.0
    };
    let http = *s.http_addr.lock();
    let cluster = match (&c.cluster, &s.cluster) {
        (Some(cl), Some(run)) => json!({
            "name": cl.name,
            "addr": cl.host,
            "cluster_port": run.listen.port(),
            "urls": run.configured_urls(),
            "auth_timeout": go_seconds(cl.authorization.as_ref().map_or(0.0, |a| a.timeout.as_secs_f64())),
            "pool_size": cl.pool_size,
        }),
        _ => json!({}),
    };
    let (routes, connect_urls) = match &s.cluster {
        Some(run) => (run.routes().len(), run.connect_urls()),
        None => (0, Vec::new()),
    };
    let jetstream = match c.jetstream.as_ref().filter(|j| j.enabled) {
        Some(j) => json!({
            "config": {
                "max_memory": j.max_memory_store.unwrap_or(0),
                "max_storage": j.max_file_store.unwrap_or(0),
                "store_dir": j.store_dir.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                "sync_interval": match j.sync_interval {
                    crate::config::SyncInterval::Always => 0,
                    crate::config::SyncInterval::Every(d) => d.as_nanos() as u64,
                },
                "sync_always": matches!(j.sync_interval, crate::config::SyncInterval::Always),
            },
            "stats": js_stats(&s),
        }),
        None => json!({}),
    };
    let mut v = json!({
        "server_id": s.id,
        "server_name": s.name,
        "version": ADVERTISED_VERSION,
        "natrium_version": env!("CARGO_PKG_VERSION"),
        "proto": 1,
        "go": format!("natrium {}", env!("CARGO_PKG_VERSION")),
        "host": c.host,
        "port": s.client_addr.port(),
        "max_connections": c.max_connections,
        "ping_interval": c.ping_interval.as_nanos() as u64,
        "ping_max": c.ping_max,
        "http_host": c.http_host,
        "http_port": http.map_or(0, |a| a.port()),
        "http_base_path": "",
        "https_port": 0,
        "auth_timeout": go_seconds(s.auth.timeout.as_secs_f64()),
        "max_control_line": c.max_control_line,
        "max_payload": c.max_payload,
        "max_pending": c.max_pending,
        "cluster": cluster,
        "gateway": {},
        "leaf": {},
        "mqtt": mqtt_block(&s),
        "websocket": websocket_block(&s),
        "jetstream": jetstream,
        "tls_timeout": 2,
        "write_deadline": c.write_deadline.as_nanos() as u64,
        "start": rfc3339(s.start),
        "now": now(),
        "uptime": go_duration(std::time::Duration::from_secs(uptime.as_secs())),
        "mem": rss_bytes(),
        "cores": cores,
        "gomaxprocs": cores,
        "cpu": cpu,
        "connections": s.clients.read().len(),
        "total_connections": s.stats.total_connections.load(Ordering::Relaxed),
        "routes": routes,
        "remotes": 0,
        "leafnodes": 0,
        "in_msgs": m.in_msgs,
        "out_msgs": m.out_msgs,
        "in_bytes": m.in_bytes,
        "out_bytes": m.out_bytes,
        "slow_consumers": s.stats.slow_consumers.load(Ordering::Relaxed),
        "slow_consumer_stats": {
            "clients": s.stats.slow_consumers_clients.load(Ordering::Relaxed),
            "routes": 0,
            "gateways": 0,
            "leafs": 0,
        },
        "subscriptions": s.num_subscriptions(),
        "config_load_time": rfc3339(s.config_load_time),
        "system_account": s.accounts.system_name(),
    });
    // Fields nats-server omits when false or empty (`omitempty`).
    if let Some(o) = v.as_object_mut() {
        if s.auth.required() {
            o.insert("auth_required".into(), json!(true));
        }
        if !connect_urls.is_empty() {
            o.insert("connect_urls".into(), json!(connect_urls));
        }
    }
    json_response(&v)
}

/// Seconds as Go's encoding/json writes a float64: `2`, not `2.0`, when whole.
fn go_seconds(secs: f64) -> serde_json::Value {
    if secs.fract() == 0.0 && secs.abs() < 1e15 {
        json!(secs as i64)
    } else {
        json!(secs)
    }
}

/// The `websocket` block of /varz (empty when not listening), as nats-server.
fn websocket_block(s: &crate::server::ServerShared) -> serde_json::Value {
    match (&s.config.websocket, *s.websocket_addr.lock()) {
        (Some(w), Some(a)) => json!({
            "host": w.host,
            "port": a.port(),
            "no_tls": w.no_tls,
            "compression": w.compression,
            "same_origin": w.same_origin,
            "allowed_origins": w.allowed_origins,
            "handshake_timeout": w.handshake_timeout.as_nanos() as u64,
        }),
        _ => json!({}),
    }
}

/// The `mqtt` block of /varz (empty when not listening), as nats-server.
fn mqtt_block(s: &crate::server::ServerShared) -> serde_json::Value {
    match (&s.config.mqtt, *s.mqtt_addr.lock()) {
        (Some(m), Some(a)) => json!({
            "host": m.host,
            "port": a.port(),
            "ack_wait": m.ack_wait.as_nanos() as u64,
            "max_ack_pending": m.max_ack_pending,
        }),
        _ => json!({}),
    }
}

/// The `jetstream.stats` block of /varz.
fn js_stats(s: &crate::server::ServerShared) -> serde_json::Value {
    let Some(js) = s.jetstream.get() else {
        return json!({});
    };
    let u = js.usage(None);
    let (total, errors) = js.api_stats();
    json!({
        "memory": u.memory,
        "storage": u.storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": u.accounts,
        "ha_assets": 0,
        "api": { "total": total, "errors": errors },
        "streams": u.streams,
        "consumers": u.consumers,
    })
}
