//! Raft and store metrics on /metrics, scraped over HTTP from real servers: per group
//! term, leadership, last log and applied index, commit lag, leader changes, per-peer
//! lag on a leader of an R3 stream; the store's fsync latency histogram.

mod cluster;
mod common;
mod js_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use cluster::Nodes;
use js_common::{create, publish, start_js};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Prometheus text as `series -> value` (series: name with its `{labels}`).
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("line {l:?}"));
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("value of line {l:?}"));
            (series.to_string(), v)
        })
        .collect()
}

/// GET /metrics on a monitoring port, as text.
async fn scrape(port: u16) -> Option<BTreeMap<String, f64>> {
    let fut = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.ok()?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"));
        Some(parse(body))
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

/// The value of `name` for the group whose name label is `group_name`.
fn group_value(m: &BTreeMap<String, f64>, name: &str, group_name: &str) -> Option<f64> {
    let needle = format!(",name=\"{group_name}\"}}");
    m.iter()
        .find(|(k, _)| k.starts_with(&format!("{name}{{group=\"")) && k.ends_with(&needle))
        .map(|(_, v)| *v)
}

fn fsync_count(m: &BTreeMap<String, f64>) -> f64 {
    m.get("natrium_store_fsync_seconds_count")
        .copied()
        .expect("fsync histogram count present")
}

/// The histogram is well formed: buckets never decrease, `+Inf` equals `_count`.
fn check_histogram(m: &BTreeMap<String, f64>) {
    let buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let le = k
                .strip_prefix("natrium_store_fsync_seconds_bucket{le=\"")?
                .strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            Some((le, *v))
        })
        .collect();
    assert!(buckets.len() >= 2, "histogram buckets: {buckets:?}");
    let mut sorted = buckets.clone();
    sorted.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert!(
        sorted.windows(2).all(|w| w[0].1 <= w[1].1),
        "buckets are cumulative: {sorted:?}"
    );
    let inf = sorted.last().unwrap();
    assert!(inf.0.is_infinite());
    assert_eq!(inf.1, fsync_count(m), "+Inf bucket equals _count");
    let sum = m["natrium_store_fsync_seconds_sum"];
    assert!(sum > 0.0 && sum < 60.0 * inf.1, "fsync sum {sum}");
}

#[tokio::test]
async fn single_node_raft_lines_and_fsync_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let port = srv.http_addr.expect("monitoring").port();
    let c = common::client(&srv).await;
    create(&c, json!({"name": "ORDERS", "subjects": ["orders.>"]})).await;
    for i in 0..20 {
        let ack = publish(&c, "orders.new", &[], &format!("m{i}")).await;
        assert_eq!(ack["seq"], i + 1, "{ack}");
    }
    let m = scrape(port).await.expect("/metrics answers");
    let g = "$G > ORDERS";
    assert_eq!(group_value(&m, "natrium_raft_is_leader", g), Some(1.0));
    assert_eq!(group_value(&m, "natrium_raft_is_leader", "meta"), Some(1.0));
    assert!(group_value(&m, "natrium_raft_term", g).unwrap() >= 1.0);
    let last = group_value(&m, "natrium_raft_last_log_index", g).unwrap();
    let applied = group_value(&m, "natrium_raft_applied_index", g).unwrap();
    assert!(applied >= 20.0, "20 publishes applied: {applied}");
    assert!(last >= applied, "last {last} applied {applied}");
    assert_eq!(
        group_value(&m, "natrium_raft_commit_lag_entries", g),
        Some(last - applied)
    );
    assert_eq!(
        group_value(&m, "natrium_raft_leader_changes_total", g),
        Some(1.0),
        "one election for a one-node group"
    );
    // No peers, so no per-peer lag line for a one-node group.
    assert!(!m
        .keys()
        .any(|k| k.starts_with("natrium_raft_peer_lag_entries")));
    check_histogram(&m);
    let fsyncs = fsync_count(&m);
    assert!(fsyncs > 0.0, "publishes were fsynced");

    // More publishes move the stream's log and the fsync count.
    for i in 20..30 {
        let ack = publish(&c, "orders.new", &[], &format!("m{i}")).await;
        assert_eq!(ack["seq"], i + 1, "{ack}");
    }
    let m2 = scrape(port).await.expect("/metrics answers");
    let applied2 = group_value(&m2, "natrium_raft_applied_index", g).unwrap();
    assert!(applied2 >= applied + 10.0, "{applied} -> {applied2}");
    assert!(
        fsync_count(&m2) > fsyncs,
        "each acked publish waits for an fsync"
    );
    check_histogram(&m2);
    js_common::stop(srv).await;
}

/// Waits until one running node reports itself leader of the stream's group, and
/// returns its index and its metrics.
async fn stream_leader(nodes: &Nodes, g: &str) -> (usize, BTreeMap<String, f64>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (i, n) in nodes.nodes.iter().enumerate() {
            if !n.is_running() {
                continue;
            }
            if let Some(m) = scrape(n.http_port).await {
                if group_value(&m, "natrium_raft_is_leader", g) == Some(1.0) {
                    return (i, m);
                }
            }
        }
        assert!(Instant::now() < deadline, "no node leads {g}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn r3_leader_reports_peer_lag_and_survivors_count_a_new_leader() {
    let mut nodes = Nodes::jetstream();
    nodes.wait_mesh(&[0, 1, 2]).await;
    let js = jetstream::new(nodes.client(0).await);
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let r = js
            .create_stream(stream::Config {
                name: "LAG".into(),
                subjects: vec!["lag.>".into()],
                num_replicas: 3,
                ..Default::default()
            })
            .await;
        match r {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("create R3 stream: {e}"),
        }
    }
    for i in 0..50 {
        js.publish("lag.x", format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let g = "$G > LAG";
    let (leader, _) = stream_leader(&nodes, g).await;

    // Per-peer lag: the leader has one line per other voter, and it drains to 0
    // once the followers have everything (heartbeats carry the commit).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = scrape(nodes[leader].http_port)
            .await
            .expect("leader answers");
        let lags: Vec<f64> = m
            .iter()
            .filter(|(k, _)| {
                k.starts_with("natrium_raft_peer_lag_entries{")
                    && k.contains(&format!("name=\"{g}\""))
            })
            .map(|(_, v)| *v)
            .collect();
        if lags.len() == 2 && lags.iter().all(|l| *l == 0.0) {
            assert!(group_value(&m, "natrium_raft_last_log_index", g).unwrap() >= 50.0);
            check_histogram(&m);
            assert!(fsync_count(&m) > 0.0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leader's peer lag lines for {g}: {lags:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Followers: not leader, no peer lag lines of their own for the group.
    let survivors: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let mut before = Vec::new();
    for &i in &survivors {
        let m = scrape(nodes[i].http_port).await.expect("follower answers");
        assert_eq!(group_value(&m, "natrium_raft_is_leader", g), Some(0.0));
        assert!(!m
            .keys()
            .any(|k| k.starts_with("natrium_raft_peer_lag_entries{") && k.contains(g)));
        before.push(
            group_value(&m, "natrium_raft_leader_changes_total", g).expect("counter present"),
        );
        assert!(before.last().unwrap() >= &1.0, "saw the first leader");
    }

    // kill -9 the leader: a survivor takes over, and both survivors count the change.
    nodes.nodes[leader].kill();
    let (new_leader, _) = stream_leader(&nodes, g).await;
    assert_ne!(new_leader, leader);
    let deadline = Instant::now() + Duration::from_secs(15);
    for (k, &i) in survivors.iter().enumerate() {
        loop {
            let m = scrape(nodes[i].http_port).await.expect("survivor answers");
            let now = group_value(&m, "natrium_raft_leader_changes_total", g).unwrap();
            if now > before[k] {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {i} still counts {now} leader changes after the leader died"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
