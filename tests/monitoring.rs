//! The monitoring endpoint: /varz, /connz, /subsz, /routez, /accountz, /healthz, /jsz,
//! /metrics, with the field names nats-server uses; and slow-consumer accounting.

mod common;

use std::time::Duration;

use common::{client, http_get, http_json, start_default, start_server, test_config, Raw};

#[tokio::test]
async fn varz_fields() {
    let srv = start_default().await;
    let c = client(&srv).await;
    c.publish("x", "hello".into()).await.unwrap();
    // The barrier itself is one more (empty) message in and out.
    common::barrier(&c).await;
    let v = http_json(&srv, "/varz").await;
    for key in [
        "server_id",
        "server_name",
        "version",
        "proto",
        "host",
        "port",
        "max_connections",
        "ping_interval",
        "ping_max",
        "http_port",
        "auth_timeout",
        "max_control_line",
        "max_payload",
        "max_pending",
        "write_deadline",
        "start",
        "now",
        "uptime",
        "mem",
        "cores",
        "cpu",
        "connections",
        "total_connections",
        "routes",
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "slow_consumers",
        "subscriptions",
        "config_load_time",
        "system_account",
        "cluster",
        "jetstream",
    ] {
        assert!(v.get(key).is_some(), "/varz has {key}");
    }
    assert_eq!(v["port"], srv.client_addr.port());
    assert_eq!(v["max_payload"], 1048576);
    assert_eq!(v["max_pending"], 67108864);
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["connections"], 1);
    assert_eq!(v["in_msgs"], 2);
    assert_eq!(v["in_bytes"], 5);
    assert_eq!(v["system_account"], "$SYS");
    assert!(v["mem"].as_u64().unwrap() > 0);
    assert!(v["start"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn connz_with_subs_limit_offset_and_closed() {
    let srv = start_default().await;
    let mut raws = Vec::new();
    for i in 0..3 {
        let mut r = Raw::connect(&srv).await;
        r.send(format!("CONNECT {{\"verbose\":false,\"name\":\"c{i}\",\"lang\":\"raw\",\"version\":\"1.0\"}}\r\nSUB foo.{i} 1\r\nSUB bar q 2\r\nPING\r\n").as_bytes()).await;
        assert_eq!(r.read_line().await, "PONG");
        raws.push(r);
    }
    let v = http_json(&srv, "/connz").await;
    assert_eq!(v["num_connections"], 3);
    assert_eq!(v["total"], 3);
    assert_eq!(v["limit"], 1024);
    let c0 = &v["connections"][0];
    for key in [
        "cid",
        "kind",
        "type",
        "ip",
        "port",
        "start",
        "last_activity",
        "rtt",
        "uptime",
        "idle",
        "pending_bytes",
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "subscriptions",
        "name",
        "lang",
        "version",
    ] {
        assert!(c0.get(key).is_some(), "/connz connection has {key}: {c0}");
    }
    assert_eq!(c0["name"], "c0");
    assert_eq!(c0["subscriptions"], 2);
    assert!(c0.get("subscriptions_list").is_none());

    let v = http_json(&srv, "/connz?subs=1&limit=1&offset=1").await;
    assert_eq!(v["num_connections"], 1);
    assert_eq!(v["total"], 3);
    assert_eq!(v["offset"], 1);
    let c = &v["connections"][0];
    assert_eq!(c["name"], "c1");
    let mut list: Vec<_> = c["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    list.sort();
    assert_eq!(list, ["bar", "foo.1"]);

    let v = http_json(&srv, "/connz?subs=detail").await;
    let d = &v["connections"][0]["subscriptions_list_detail"];
    assert!(d
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["qgroup"] == "q" && s["sid"] == "2"));

    drop(raws.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let v = http_json(&srv, "/connz?state=closed").await;
    assert_eq!(v["connections"][0]["name"], "c2");
    assert_eq!(v["connections"][0]["reason"], "Client Closed");
    assert!(v["connections"][0].get("stop").is_some());

    let (status, body) = http_get(&srv, "/connz?limit=abc").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = http_get(&srv, "/connz?subs=maybe").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn subsz_and_test_subject() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let _a = c.subscribe("orders.*").await.unwrap();
    let _b = c.subscribe("orders.new").await.unwrap();
    let _q = c.queue_subscribe("jobs", "w".into()).await.unwrap();
    common::barrier(&c).await;
    let v = http_json(&srv, "/subsz").await;
    for key in [
        "num_subscriptions",
        "num_cache",
        "num_inserts",
        "num_removes",
        "num_matches",
        "cache_hit_rate",
        "max_fanout",
        "avg_fanout",
    ] {
        assert!(v.get(key).is_some(), "/subsz has {key}");
    }
    // async-nats also holds its own inbox subscription.
    assert!(v["num_subscriptions"].as_u64().unwrap() >= 3);
    let v = http_json(&srv, "/subsz?subs=1&test=orders.new").await;
    let subjects: Vec<_> = v["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.contains(&"orders.*".to_string()));
    let v = http_json(&srv, "/subsz?subs=1").await;
    assert!(v["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["qgroup"] == "w"));
    let (status, _) = http_get(&srv, "/subsz?test=orders.*").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn routez_accountz_healthz_jsz() {
    let srv = start_default().await;
    let v = http_json(&srv, "/routez").await;
    assert_eq!(v["num_routes"], 0);
    assert_eq!(v["routes"].as_array().unwrap().len(), 0);
    let v = http_json(&srv, "/accountz").await;
    assert_eq!(v["system_account"], "$SYS");
    let v = http_json(&srv, "/accountz?acc=$G").await;
    assert_eq!(v["account_detail"]["account_name"], "$G");
    let (status, body) = http_get(&srv, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let v = http_json(&srv, "/jsz").await;
    assert_eq!(v["disabled"], true);
    let (status, body) = http_get(&srv, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("varz"));
}

#[tokio::test]
async fn prometheus_metrics() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let _s = c.subscribe("m").await.unwrap();
    c.publish("m", "x".into()).await.unwrap();
    common::barrier(&c).await;
    let (status, body) = http_get(&srv, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "natrium_connections 1",
        "natrium_in_msgs_total 2",
        "natrium_out_msgs_total 2",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "metrics has {line:?}:\n{body}"
        );
    }
    assert!(body.contains("# TYPE natrium_slow_consumers_total counter"));
    assert!(body.contains("natrium_subscriptions "));
}

#[tokio::test]
async fn slow_consumer_is_closed_and_counted() {
    let mut cfg = test_config();
    cfg.max_pending = 64 * 1024;
    let srv = start_server(cfg).await;
    // A subscriber that never reads.
    let mut slow = Raw::connect(&srv).await;
    slow.send(b"CONNECT {\"verbose\":false,\"name\":\"sleepy\"}\r\nSUB flood 1\r\nPING\r\n")
        .await;
    assert_eq!(slow.read_line().await, "PONG");
    let c = client(&srv).await;
    let payload = bytes::Bytes::from(vec![b'x'; 32 * 1024]);
    for _ in 0..2000 {
        c.publish("flood", payload.clone()).await.unwrap();
    }
    c.flush().await.unwrap();
    // Polled under a deadline: counted, then listed as closed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = http_json(&srv, "/varz").await;
        let c = http_json(&srv, "/connz?state=closed").await;
        if v["slow_consumers"].as_u64().unwrap() >= 1 && c["connections"][0].is_object() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slow consumer not detected and closed within 30s: {v} {c}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = http_json(&srv, "/connz?state=closed").await;
    let reason = v["connections"][0]["reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("Slow Consumer"), "{reason}");
    assert_eq!(v["connections"][0]["name"], "sleepy");
    // The publisher is unaffected.
    let v = http_json(&srv, "/connz").await;
    assert_eq!(v["num_connections"], 1);
}
