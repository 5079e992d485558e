//! `/connz` (open and closed connections) and `/subsz` (subscriptions).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::query::{bool_param, usize_param};
use super::{bad_request, json_response, now, Params, Shared};
use crate::server::client::ClientHandle;
use crate::server::ClosedConn;
use crate::sublist::SublistStats;
use crate::util::time::{go_duration, rfc3339};

fn secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

fn since(t: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

fn open_conn_json(c: &Arc<ClientHandle>, subs: u8, now_t: SystemTime) -> Value {
    let meta = c.meta.lock().clone();
    let st = c.stats.snapshot();
    let last = c.last_activity();
    let account = c.account().name.clone();
    let sub_list: Vec<_> = c.subs.lock().values().cloned().collect();
    let mut o = Map::new();
    o.insert("cid".into(), json!(c.cid));
    o.insert("kind".into(), json!("Client"));
    o.insert("type".into(), json!(meta.client_type.as_str()));
    if let Some(id) = &meta.mqtt_client {
        o.insert("mqtt_client".into(), json!(id));
    }
    o.insert("ip".into(), json!(c.addr.ip().to_string()));
    o.insert("port".into(), json!(c.addr.port()));
    o.insert("start".into(), json!(rfc3339(c.start)));
    o.insert("last_activity".into(), json!(rfc3339(last)));
    o.insert(
        "rtt".into(),
        json!(go_duration(meta.rtt.unwrap_or_default())),
    );
    o.insert(
        "uptime".into(),
        json!(go_duration(secs(since(c.start, now_t)))),
    );
    o.insert("idle".into(), json!(go_duration(secs(since(last, now_t)))));
    o.insert("pending_bytes".into(), json!(c.out.pending()));
    o.insert("in_msgs".into(), json!(st.in_msgs));
    o.insert("out_msgs".into(), json!(st.out_msgs));
    o.insert("in_bytes".into(), json!(st.in_bytes));
    o.insert("out_bytes".into(), json!(st.out_bytes));
    o.insert("subscriptions".into(), json!(sub_list.len()));
    if !meta.name.is_empty() {
        o.insert("name".into(), json!(meta.name));
    }
    if !meta.lang.is_empty() {
        o.insert("lang".into(), json!(meta.lang));
    }
    if !meta.version.is_empty() {
        o.insert("version".into(), json!(meta.version));
    }
    if let Some(u) = &meta.user {
        o.insert("authorized_user".into(), json!(u));
    }
    o.insert("account".into(), json!(account));
    if subs == 1 && !sub_list.is_empty() {
        let l: Vec<_> = sub_list.iter().map(|s| json!(&*s.subject)).collect();
        o.insert("subscriptions_list".into(), json!(l));
    } else if subs == 2 && !sub_list.is_empty() {
        let l: Vec<_> = sub_list
            .iter()
            .map(|s| {
                let mut d = Map::new();
                d.insert("account".into(), json!(account));
                d.insert("subject".into(), json!(&*s.subject));
                if let Some(q) = &s.queue {
                    d.insert("qgroup".into(), json!(&**q));
                }
                d.insert("sid".into(), json!(String::from_utf8_lossy(&s.sid)));
                d.insert("msgs".into(), json!(s.delivered.load(Ordering::Relaxed)));
                let max = s.max.load(Ordering::Relaxed);
                if max > 0 {
                    d.insert("max".into(), json!(max));
                }
                d.insert("cid".into(), json!(c.cid));
                Value::Object(d)
            })
            .collect();
        o.insert("subscriptions_list_detail".into(), json!(l));
    }
    Value::Object(o)
}

fn closed_conn_json(c: &ClosedConn, now_t: SystemTime) -> Value {
    let mut o = Map::new();
    o.insert("cid".into(), json!(c.cid));
    o.insert("kind".into(), json!("Client"));
    o.insert("type".into(), json!(c.client_type.as_str()));
    if let Some(id) = &c.mqtt_client {
        o.insert("mqtt_client".into(), json!(id));
    }
    o.insert("ip".into(), json!(c.addr.ip().to_string()));
    o.insert("port".into(), json!(c.addr.port()));
    o.insert("start".into(), json!(rfc3339(c.start)));
    o.insert("last_activity".into(), json!(rfc3339(c.last_activity)));
    o.insert("stop".into(), json!(rfc3339(c.stop)));
    o.insert("reason".into(), json!(c.reason));
    o.insert("rtt".into(), json!(go_duration(c.rtt.unwrap_or_default())));
    o.insert(
        "uptime".into(),
        json!(go_duration(secs(since(c.start, c.stop)))),
    );
    o.insert(
        "idle".into(),
        json!(go_duration(secs(since(c.last_activity, now_t)))),
    );
    o.insert("pending_bytes".into(), json!(0));
    o.insert("in_msgs".into(), json!(c.counters.in_msgs));
    o.insert("out_msgs".into(), json!(c.counters.out_msgs));
    o.insert("in_bytes".into(), json!(c.counters.in_bytes));
    o.insert("out_bytes".into(), json!(c.counters.out_bytes));
    o.insert("subscriptions".into(), json!(0));
    if !c.name.is_empty() {
        o.insert("name".into(), json!(c.name));
    }
    if !c.lang.is_empty() {
        o.insert("lang".into(), json!(c.lang));
    }
    if !c.version.is_empty() {
        o.insert("version".into(), json!(c.version));
    }
    if let Some(u) = &c.user {
        o.insert("authorized_user".into(), json!(u));
    }
    o.insert("account".into(), json!(c.account));
    Value::Object(o)
}

pub async fn connz(State(s): Shared, Query(q): Params) -> Response {
    let subs = match q.get("subs").map(String::as_str) {
        Some("detail") => 2,
        _ => match bool_param(&q, "subs") {
            Ok(true) => 1,
            Ok(false) => 0,
            Err(e) => return bad_request(e),
        },
    };
    let (offset, limit) = match (usize_param(&q, "offset", 0), usize_param(&q, "limit", 1024)) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let cid_filter = match q.get("cid").map(|v| v.parse::<u64>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => return bad_request(format!("invalid value for cid: {:?}", q["cid"])),
    };
    let state = q.get("state").map_or("open", String::as_str);
    let acc = q.get("acc").cloned();
    let user = q.get("user").cloned();
    let now_t = SystemTime::now();
    let mut rows: Vec<(u64, Value)> = Vec::new();
    let open_count = s.clients.read().len();
    if state == "open" || state == "all" || state == "any" {
        let clients: Vec<_> = s.clients.read().values().cloned().collect();
        for c in clients {
            if cid_filter.is_some_and(|id| id != c.cid) {
                continue;
            }
            if acc.as_ref().is_some_and(|a| *a != c.account().name) {
                continue;
            }
            if user.is_some() && c.meta.lock().user != user {
                continue;
            }
            rows.push((c.cid, open_conn_json(&c, subs, now_t)));
        }
    } else if state != "closed" {
        return bad_request(format!("invalid value for state: {state:?}"));
    }
    if state == "closed" || state == "all" || state == "any" {
        let closed: Vec<_> = s.closed.lock().iter().cloned().collect();
        for c in closed.iter().rev() {
            if cid_filter.is_some_and(|id| id != c.cid) {
                continue;
            }
            if acc.as_ref().is_some_and(|a| *a != c.account) {
                continue;
            }
            if user.is_some() && c.user != user {
                continue;
            }
            rows.push((c.cid, closed_conn_json(c, now_t)));
        }
    }
    if q.get("sort").map(String::as_str) != Some("closed") {
        rows.sort_by_key(|(cid, _)| *cid);
    }
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    json_response(&json!({
        "server_id": s.id,
        "now": now(),
        "num_connections": if state == "open" { page.len() } else { open_count.min(page.len()) },
        "total": total,
        "offset": offset,
        "limit": limit,
        "connections": page,
    }))
}

pub fn sublist_stats_json(st: &SublistStats) -> Value {
    json!({
        "num_subscriptions": st.num_subscriptions,
        "num_cache": st.num_cache,
        "num_inserts": st.num_inserts,
        "num_removes": st.num_removes,
        "num_matches": st.num_matches,
        "cache_hit_rate": st.cache_hit_rate,
        "max_fanout": st.max_fanout,
        "avg_fanout": st.avg_fanout,
    })
}

pub async fn subsz(State(s): Shared, Query(q): Params) -> Response {
    let detail = match bool_param(&q, "subs") {
        Ok(d) => d || q.get("subs").map(String::as_str) == Some("detail"),
        Err(_) if q.get("subs").map(String::as_str) == Some("detail") => true,
        Err(e) => return bad_request(e),
    };
    let (offset, limit) = match (usize_param(&q, "offset", 0), usize_param(&q, "limit", 1024)) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(e), _) | (_, Err(e)) => return bad_request(e),
    };
    let test = q.get("test").cloned();
    if let Some(t) = &test {
        if !crate::subject::is_valid_literal_subject(t) {
            return bad_request(format!(
                "invalid test subject, must be valid publish subject: {t}"
            ));
        }
    }
    let acc_filter = q.get("acc").cloned();
    // Aggregate stats over accounts.
    let mut agg = SublistStats::default();
    let mut fanout_sum = 0.0;
    let mut n_acc = 0usize;
    for a in s.accounts.iter() {
        if acc_filter.as_ref().is_some_and(|f| *f != a.name) {
            continue;
        }
        let st = a.sublist.stats();
        agg.num_subscriptions += st.num_subscriptions;
        agg.num_cache += st.num_cache;
        agg.num_inserts += st.num_inserts;
        agg.num_removes += st.num_removes;
        agg.num_matches += st.num_matches;
        agg.max_fanout = agg.max_fanout.max(st.max_fanout);
        fanout_sum += st.avg_fanout;
        agg.cache_hit_rate += st.cache_hit_rate * st.num_matches as f64;
        n_acc += 1;
    }
    if agg.num_matches > 0 {
        agg.cache_hit_rate /= agg.num_matches as f64;
    }
    if n_acc > 0 {
        agg.avg_fanout = fanout_sum / n_acc as f64;
    }
    let mut v = sublist_stats_json(&agg);
    v["server_id"] = json!(s.id);
    v["now"] = json!(now());
    if detail || test.is_some() {
        let mut list = Vec::new();
        for a in s.accounts.iter() {
            if acc_filter.as_ref().is_some_and(|f| *f != a.name) {
                continue;
            }
            for (subject, queue, sub) in a.sublist.all() {
                if let Some(t) = &test {
                    if !crate::subject::matches(&subject, t) {
                        continue;
                    }
                }
                let mut d = Map::new();
                d.insert("account".into(), json!(a.name));
                d.insert("subject".into(), json!(subject));
                if let Some(q) = queue {
                    d.insert("qgroup".into(), json!(q));
                }
                d.insert("sid".into(), json!(String::from_utf8_lossy(&sub.sid)));
                d.insert("msgs".into(), json!(sub.delivered.load(Ordering::Relaxed)));
                let max = sub.max.load(Ordering::Relaxed);
                if max > 0 {
                    d.insert("max".into(), json!(max));
                }
                d.insert("cid".into(), json!(sub.client.cid));
                list.push(Value::Object(d));
            }
        }
        let total = list.len();
        let page: Vec<Value> = list.into_iter().skip(offset).take(limit).collect();
        v["total"] = json!(total);
        v["offset"] = json!(offset);
        v["limit"] = json!(limit);
        v["subscriptions_list"] = json!(page);
    }
    json_response(&v)
}
