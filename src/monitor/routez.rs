//! /routez: the routes to other cluster nodes, with nats-server's field names.

use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::{json_response, now, Params, Shared};
use crate::util::time::{go_duration, rfc3339};

pub(crate) async fn routez(State(s): Shared, Query(q): Params) -> Response {
    let subs = q
        .get("subs")
        .map(|v| {
            matches!(
                v.as_str(),
                "1" | "t" | "T" | "true" | "TRUE" | "True" | "detail"
            )
        })
        .unwrap_or(false);
    let routes = s.cluster.as_ref().map(|c| c.routes()).unwrap_or_default();
    let now_t = SystemTime::now();
    let list: Vec<Value> = routes
        .iter()
        .map(|r| {
            let h = &r.handle;
            let st = h.stats.snapshot();
            let last = h.last_activity();
            let since = |t: SystemTime| {
                Duration::from_secs(now_t.duration_since(t).unwrap_or_default().as_secs())
            };
            let mut v = json!({
                "rid": r.rid,
                "remote_id": r.peer_id,
                "remote_name": r.peer_name,
                "did_solicit": r.did_solicit,
                "is_configured": r.is_configured,
                "ip": r.remote.ip().to_string(),
                "port": r.remote.port(),
                "start": rfc3339(h.start),
                "last_activity": rfc3339(last),
                "rtt": go_duration(r.rtt.lock().unwrap_or_default()),
                "uptime": go_duration(since(h.start)),
                "idle": go_duration(since(last)),
                "pending_size": h.out.pending(),
                "in_msgs": st.in_msgs,
                "out_msgs": st.out_msgs,
                "in_bytes": st.in_bytes,
                "out_bytes": st.out_bytes,
                "subscriptions": r.subscriptions(),
            });
            if subs {
                v["subscriptions_list"] = json!(r
                    .subscriptions_list()
                    .into_iter()
                    .map(|(acc, subj, q)| if q.is_empty() {
                        format!("{acc} {subj}")
                    } else {
                        format!("{acc} {subj} {q}")
                    })
                    .collect::<Vec<_>>());
            }
            v
        })
        .collect();
    json_response(&json!({
        "server_id": s.id,
        "server_name": s.name,
        "now": now(),
        "num_routes": list.len(),
        "routes": list,
    }))
}
