//! `/raftz`: every Raft group on this node (term, leader, log, applied, per-peer
//! match and lag); `/replicaz?acc=&stream=`: this node's copy of one stream, message
//! by message (sequence, subject, checksum), so replicas can be compared.

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::{bad_request, json_response, now, Params, Shared};

pub(super) async fn raftz(State(s): Shared) -> Response {
    let Some(js) = s.jetstream.get() else {
        return json_response(&json!({ "server_id": s.id, "now": now(), "groups": [] }));
    };
    let groups: Vec<Value> = js
        .raft
        .statuses()
        .into_iter()
        .map(|g| {
            let mut v = json!(g);
            v["leader_name"] = json!(g.leader.map(|l| js.name_of(l)));
            v
        })
        .collect();
    json_response(&json!({
        "server_id": s.id,
        "server_name": s.name,
        "now": now(),
        "raft_id": js.raft.id.to_string(),
        "groups": groups,
    }))
}

pub(super) async fn replicaz(State(s): Shared, Query(q): Params) -> Response {
    let Some(js) = s.jetstream.get() else {
        return bad_request("JetStream is not enabled".into());
    };
    let (Some(acc), Some(name)) = (
        q.get("acc").cloned().or_else(|| Some("$G".into())),
        q.get("stream"),
    ) else {
        return bad_request("stream= is required".into());
    };
    let Some(account) = s.accounts.get(&acc) else {
        return bad_request(format!("unknown account {acc}"));
    };
    let Some(st) = js.stream(account, name) else {
        return json_response(&json!({ "stream": name, "present": false }));
    };
    let core = st.core.lock();
    let mut msgs = Vec::new();
    let res = core.store.for_each(&mut |seq, m| {
        let rec = crate::jetstream::file_store::encode_record(m);
        msgs.push(json!([seq, m.subject, crate::store::crc32(&rec)]));
    });
    if let Err(e) = res {
        return bad_request(e.to_string());
    }
    json_response(&json!({
        "stream": name,
        "present": true,
        "leader": st.is_leader(),
        "first_seq": core.state.first_seq,
        "last_seq": core.state.last_seq,
        "messages": msgs,
    }))
}
