//! `/metrics`: the same counters as /varz in Prometheus text format, plus (with
//! JetStream) the Raft groups and store fsyncs (see `raft_metrics.rs`).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::varz::{cpu_seconds, rss_bytes};
use super::Shared;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

pub async fn metrics(State(s): Shared) -> Response {
    let m = s.stats.msgs.snapshot();
    let mut out = String::with_capacity(2048);
    metric(
        &mut out,
        "natrium_connections",
        "gauge",
        "Open client connections.",
        s.clients.read().len(),
    );
    metric(
        &mut out,
        "natrium_total_connections",
        "counter",
        "Client connections accepted since start.",
        s.stats.total_connections.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "natrium_subscriptions",
        "gauge",
        "Subscriptions across all accounts.",
        s.num_subscriptions(),
    );
    metric(
        &mut out,
        "natrium_in_msgs_total",
        "counter",
        "Messages received from clients.",
        m.in_msgs,
    );
    metric(
        &mut out,
        "natrium_out_msgs_total",
        "counter",
        "Messages delivered to clients.",
        m.out_msgs,
    );
    metric(
        &mut out,
        "natrium_in_bytes_total",
        "counter",
        "Payload bytes received from clients.",
        m.in_bytes,
    );
    metric(
        &mut out,
        "natrium_out_bytes_total",
        "counter",
        "Payload bytes delivered to clients.",
        m.out_bytes,
    );
    metric(
        &mut out,
        "natrium_slow_consumers_total",
        "counter",
        "Connections closed as slow consumers.",
        s.stats.slow_consumers.load(Ordering::Relaxed),
    );
    metric(
        &mut out,
        "natrium_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        s.started.elapsed().as_secs(),
    );
    metric(
        &mut out,
        "natrium_resident_memory_bytes",
        "gauge",
        "Resident memory of the server process.",
        rss_bytes(),
    );
    metric(
        &mut out,
        "natrium_cpu_seconds_total",
        "counter",
        "CPU seconds used by the server process.",
        cpu_seconds(),
    );
    let _ = writeln!(
        out,
        "# HELP natrium_account_subscriptions Subscriptions per account."
    );
    let _ = writeln!(out, "# TYPE natrium_account_subscriptions gauge");
    for a in s.accounts.iter() {
        let _ = writeln!(
            out,
            "natrium_account_subscriptions{{account=\"{}\"}} {}",
            a.name.replace('"', "\\\""),
            a.sublist.count()
        );
    }
    if let Some(js) = s.jetstream.get() {
        super::raft_metrics::write_groups(&mut out, &js.raft.statuses());
        super::raft_metrics::write_fsync(&mut out, &js.db.fsync_histogram().snapshot());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
