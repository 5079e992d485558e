//! Three natrium processes on loopback form a cluster from a chain of seed routes
//! (n2 → n1, n3 → n2) and behave like one server to clients on any node.

mod cluster;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cluster::{make_node, next, nothing_more, NodeSpec, Nodes, ROUTE_PASS, ROUTE_USER};
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mesh_from_chain_and_cross_node_pub_sub() {
    let nodes = Nodes::chain();
    nodes.wait_mesh(&[0, 1, 2]).await;

    // /routez and /varz report the routes; /healthz stays ok.
    for n in &nodes.nodes {
        let r = n.get("/routez").await.expect("routez");
        assert_eq!(r["num_routes"], 2, "{r}");
        for route in r["routes"].as_array().expect("routes") {
            for key in [
                "rid",
                "remote_id",
                "remote_name",
                "did_solicit",
                "is_configured",
                "ip",
                "port",
                "start",
                "last_activity",
                "rtt",
                "uptime",
                "idle",
                "pending_size",
                "in_msgs",
                "out_msgs",
                "in_bytes",
                "out_bytes",
                "subscriptions",
            ] {
                assert!(route.get(key).is_some(), "routez lacks {key}: {route}");
            }
        }
        let v = n.get("/varz").await.expect("varz");
        assert_eq!(v["routes"], 2);
        assert_eq!(v["cluster"]["name"], "test");
        assert_eq!(v["cluster"]["cluster_port"], n.route_port);
        assert_eq!(
            v["connect_urls"].as_array().map(|a| a.len()),
            Some(3),
            "{v}"
        );
        let h = n.get("/healthz").await.expect("healthz");
        assert_eq!(h["status"], "ok");
    }

    let c1 = nodes.client(0).await;
    let c2 = nodes.client(1).await;
    let c3 = nodes.client(2).await;

    // INFO carries connect_urls: this node's own URL first, then the peers'.
    let info = c1.server_info();
    assert_eq!(info.connect_urls.len(), 3, "{:?}", info.connect_urls);
    assert_eq!(
        info.connect_urls[0],
        format!("127.0.0.1:{}", nodes[0].client_port)
    );

    // Plain subject and wildcards across nodes, headers intact.
    let mut lit = c3.subscribe("orders.new").await.unwrap();
    let mut star = c2.subscribe("orders.*").await.unwrap();
    let mut gt = c3.subscribe("orders.>").await.unwrap();
    c3.flush().await.unwrap();
    c2.flush().await.unwrap();
    nodes[0].wait_interest("orders.new", None, 1).await;
    nodes[0].wait_interest("orders.*", None, 1).await;
    nodes[0].wait_interest("orders.>", None, 1).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Trace", "abc");
    c1.publish_with_headers("orders.new", headers, Bytes::from_static(b"one"))
        .await
        .unwrap();
    c1.publish("orders.eu.paid", Bytes::from_static(b"two"))
        .await
        .unwrap();
    c1.flush().await.unwrap();
    let m = next(&mut lit).await;
    assert_eq!(m.payload, Bytes::from_static(b"one"));
    assert_eq!(
        m.headers
            .as_ref()
            .and_then(|h| h.get("X-Trace"))
            .map(|v| v.as_str()),
        Some("abc")
    );
    assert_eq!(next(&mut star).await.payload, Bytes::from_static(b"one"));
    assert_eq!(next(&mut gt).await.payload, Bytes::from_static(b"one"));
    assert_eq!(next(&mut gt).await.payload, Bytes::from_static(b"two"));
    // Exactly once each: n3 has two matching subscriptions but one route frame.
    nothing_more(&mut lit).await;
    nothing_more(&mut star).await;
    nothing_more(&mut gt).await;

    // Fan-out to subscribers on every node, publisher on the middle one.
    let mut subs = Vec::new();
    for c in [&c1, &c2, &c3] {
        subs.push(c.subscribe("fan.>").await.unwrap());
        c.flush().await.unwrap();
    }
    nodes[1].wait_interest("fan.>", None, 2).await;
    for i in 0..20 {
        c2.publish(format!("fan.{i}"), Bytes::from(format!("{i}")))
            .await
            .unwrap();
    }
    c2.flush().await.unwrap();
    for s in &mut subs {
        for i in 0..20 {
            let m = next(s).await;
            assert_eq!(m.payload, Bytes::from(format!("{i}")), "in order, once");
        }
        nothing_more(s).await;
    }

    // Unsubscribing removes the interest on the peers.
    drop(lit);
    drop(gt);
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes[0].routes_with_interest("orders.new", None).await > 0 {
        assert!(Instant::now() < deadline, "interest not withdrawn");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Route counters moved.
    let r = nodes[0].get("/routez").await.expect("routez");
    let out: u64 = r["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["out_msgs"].as_u64().unwrap_or(0))
        .sum();
    assert!(out >= 2, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_groups_exactly_once_cluster_wide_preferring_local() {
    let nodes = Nodes::chain();
    nodes.wait_mesh(&[0, 1, 2]).await;
    let c1 = nodes.client(0).await;
    let c2 = nodes.client(1).await;
    let c3 = nodes.client(2).await;

    // Members on n2 (two) and n3 (one); none on n1. A plain subscriber on n2 too.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Bytes)>(10_000);
    let members = [("n2a", &c2), ("n2b", &c2), ("n3", &c3)];
    for (name, c) in members {
        let mut s = c.queue_subscribe("work", "workers".into()).await.unwrap();
        c.flush().await.unwrap();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(m) = s.next().await {
                let _ = tx.send((name.to_string(), m.payload)).await;
            }
        });
    }
    let mut plain = c2.subscribe("work").await.unwrap();
    c2.flush().await.unwrap();
    nodes[0].wait_interest("work", Some("workers"), 2).await;
    nodes[0].wait_interest("work", None, 1).await;
    nodes[2].wait_interest("work", Some("workers"), 1).await;

    // From n1 (no local member): each message to exactly one member somewhere.
    const N: usize = 200;
    for i in 0..N {
        c1.publish("work", Bytes::from(format!("a{i}")))
            .await
            .unwrap();
    }
    c1.flush().await.unwrap();
    let mut per_member: HashMap<String, usize> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..N {
        let (who, p) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("queue delivery within 10s")
            .expect("channel open");
        assert!(seen.insert(p.clone()), "duplicate delivery of {p:?}");
        *per_member.entry(who).or_default() += 1;
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "more than one delivery per message"
    );
    let on_n2 =
        per_member.get("n2a").copied().unwrap_or(0) + per_member.get("n2b").copied().unwrap_or(0);
    let on_n3 = per_member.get("n3").copied().unwrap_or(0);
    assert_eq!(on_n2 + on_n3, N);
    assert!(
        on_n2 > 0 && on_n3 > 0,
        "both nodes' members used: {per_member:?}"
    );
    for i in 0..N {
        assert_eq!(next(&mut plain).await.payload, Bytes::from(format!("a{i}")));
    }

    // From n3, which has a local member: it gets every message.
    for i in 0..50 {
        c3.publish("work", Bytes::from(format!("b{i}")))
            .await
            .unwrap();
    }
    c3.flush().await.unwrap();
    for _ in 0..50 {
        let (who, _) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("delivery")
            .expect("open");
        assert_eq!(who, "n3", "the local member is preferred");
    }
    assert!(tokio::time::timeout(Duration::from_millis(300), rx.recv())
        .await
        .is_err());
    for i in 0..50 {
        assert_eq!(next(&mut plain).await.payload, Bytes::from(format!("b{i}")));
    }
    nothing_more(&mut plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_and_no_responders_across_nodes() {
    let nodes = Nodes::chain();
    nodes.wait_mesh(&[0, 1, 2]).await;
    let c1 = nodes.client(0).await;
    let c2 = nodes.client(1).await;
    let c3 = nodes.client(2).await;

    let mut svc = c2.subscribe("svc.echo").await.unwrap();
    c2.flush().await.unwrap();
    let responder = c2.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            if let Some(r) = m.reply {
                let _ = responder.publish(r, m.payload).await;
            }
        }
    });
    nodes[0].wait_interest("svc.echo", None, 1).await;
    nodes[2].wait_interest("svc.echo", None, 1).await;
    for (i, c) in [&c1, &c3].into_iter().enumerate() {
        for j in 0..10 {
            let body = Bytes::from(format!("req-{i}-{j}"));
            let resp =
                tokio::time::timeout(Duration::from_secs(10), c.request("svc.echo", body.clone()))
                    .await
                    .expect("reply within 10s")
                    .expect("request succeeds");
            assert_eq!(resp.payload, body);
        }
    }

    // Nobody anywhere: no-responders, promptly.
    let err = tokio::time::timeout(Duration::from_secs(5), c1.request("svc.none", Bytes::new()))
        .await
        .expect("answer within 5s")
        .expect_err("no responders");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_node_restarts_and_routes_heal() {
    let mut nodes = Nodes::chain();
    nodes.wait_mesh(&[0, 1, 2]).await;
    let c3 = nodes.client(2).await;
    let mut on3 = c3.subscribe("heal.>").await.unwrap();
    c3.flush().await.unwrap();

    // Kill the middle of the chain: n1 and n3 stay connected to each other.
    nodes[1].kill();
    nodes.wait_mesh(&[0, 2]).await;
    let c1 = nodes.client(0).await;
    nodes[0].wait_interest("heal.>", None, 1).await;
    c1.publish("heal.a", Bytes::from_static(b"while n2 down"))
        .await
        .unwrap();
    c1.flush().await.unwrap();
    assert_eq!(
        next(&mut on3).await.payload,
        Bytes::from_static(b"while n2 down")
    );

    // Restart it on the same ports: the mesh heals and interest is restored both ways.
    nodes[1].start();
    nodes.wait_mesh(&[0, 1, 2]).await;
    nodes[1].wait_interest("heal.>", None, 1).await;
    let c2 = nodes.client(1).await;
    let mut on2 = c2.subscribe("heal.b").await.unwrap();
    c2.flush().await.unwrap();
    nodes[0].wait_interest("heal.b", None, 1).await;
    c2.publish("heal.x", Bytes::from_static(b"from n2"))
        .await
        .unwrap();
    c1.publish("heal.b", Bytes::from_static(b"to n2"))
        .await
        .unwrap();
    c2.flush().await.unwrap();
    c1.flush().await.unwrap();
    // Two publishers on two nodes: no order between them.
    let mut got = vec![next(&mut on3).await.payload, next(&mut on3).await.payload];
    got.sort();
    assert_eq!(
        got,
        vec![Bytes::from_static(b"from n2"), Bytes::from_static(b"to n2")]
    );
    assert_eq!(next(&mut on2).await.payload, Bytes::from_static(b"to n2"));
    nothing_more(&mut on3).await;

    // Kill the first seed (no configured routes of its own) and bring it back.
    nodes[0].kill();
    nodes.wait_mesh(&[1, 2]).await;
    nodes[0].start();
    nodes.wait_mesh(&[0, 1, 2]).await;
    nodes[0].wait_interest("heal.>", None, 1).await;
    let c1 = nodes.client(0).await;
    c1.publish("heal.back", Bytes::from_static(b"n1 back"))
        .await
        .unwrap();
    c1.flush().await.unwrap();
    assert_eq!(next(&mut on3).await.payload, Bytes::from_static(b"n1 back"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_fails_over_through_connect_urls() {
    let mut nodes = Nodes::chain();
    nodes.wait_mesh(&[0, 1, 2]).await;

    // Only n3's URL is given; the others come from INFO connect_urls.
    let (events_tx, mut events) = tokio::sync::mpsc::channel(64);
    let fo = async_nats::ConnectOptions::new()
        .event_callback(move |e| {
            let tx = events_tx.clone();
            async move {
                let _ = tx.send(e.to_string()).await;
            }
        })
        .connect(nodes[2].url())
        .await
        .unwrap();
    assert_eq!(fo.server_info().connect_urls.len(), 3);
    let mut sub = fo.subscribe("failover.>").await.unwrap();
    fo.flush().await.unwrap();
    let c1 = nodes.client(0).await;
    nodes[0].wait_interest("failover.>", None, 1).await;
    c1.publish("failover.before", Bytes::from_static(b"1"))
        .await
        .unwrap();
    c1.flush().await.unwrap();
    assert_eq!(next(&mut sub).await.subject.as_str(), "failover.before");

    nodes[2].kill();
    // The client reconnects to n1 or n2 and re-subscribes there.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = tokio::time::timeout(Duration::from_millis(500), events.recv()).await;
        if let Ok(Some(e)) = got {
            if e.contains("connected") && !e.contains("disconnected") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "client did not reconnect");
    }
    // Keep publishing until the re-subscription has propagated.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c1.publish("failover.after", Bytes::from_static(b"2"))
            .await
            .unwrap();
        c1.flush().await.unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            assert_eq!(m.subject.as_str(), "failover.after");
            break;
        }
        assert!(Instant::now() < deadline, "no message after failover");
    }
    // And it can publish through its new node to a subscriber on n1.
    let mut on1 = c1.subscribe("failover.back").await.unwrap();
    c1.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        fo.publish("failover.back", Bytes::from_static(b"3"))
            .await
            .unwrap();
        fo.flush().await.unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), on1.next()).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "failed-over client cannot publish"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_route_credentials_and_cluster_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut good = make_node(
        dir.path(),
        &NodeSpec {
            name: "good",
            cluster_name: "test",
            routes: vec![],
            route_auth: Some((ROUTE_USER, ROUTE_PASS)),
        },
        None,
    );
    let mut bad_pass = make_node(
        dir.path(),
        &NodeSpec {
            name: "badpass",
            cluster_name: "test",
            routes: vec![good.route_url(ROUTE_USER, "wrong")],
            route_auth: Some((ROUTE_USER, ROUTE_PASS)),
        },
        None,
    );
    let mut bad_name = make_node(
        dir.path(),
        &NodeSpec {
            name: "badname",
            cluster_name: "other",
            routes: vec![good.route_url(ROUTE_USER, ROUTE_PASS)],
            route_auth: Some((ROUTE_USER, ROUTE_PASS)),
        },
        None,
    );
    good.start();
    bad_pass.start();
    bad_name.start();
    let nodes = Nodes {
        nodes: vec![good, bad_pass, bad_name],
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let g = nodes[0].log_text();
        let p = nodes[1].log_text();
        let n = nodes[2].log_text();
        let done = g.contains("Authorization Violation")
            && g.contains("does not match")
            && g.contains("route refused by peer")
            && p.contains("route refused by peer")
            && n.contains("does not match");
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "refusals not logged:\n--good--\n{g}\n--badpass--\n{p}\n--badname--\n{n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for n in &nodes.nodes {
        assert_eq!(n.num_routes().await, Some(0), "{} has no routes", n.name);
    }
}

/// Reads INFO lines from a raw protocol-1 client until one satisfies `ok`.
async fn wait_info(
    rd: &mut tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    what: &str,
    ok: impl Fn(&[String]) -> bool,
) {
    use tokio::io::AsyncBufReadExt;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut line = String::new();
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, rd.read_line(&mut line))
            .await
            .unwrap_or_else(|_| panic!("no INFO with {what} in time"))
            .expect("read");
        assert!(n > 0, "connection closed");
        if let Some(json) = line.strip_prefix("INFO ") {
            let v: serde_json::Value = serde_json::from_str(json.trim()).expect("INFO json");
            let urls: Vec<String> = v["connect_urls"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if ok(&urls) {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_clients_get_async_info_as_nodes_come_and_go() {
    use tokio::io::AsyncWriteExt;
    let mut nodes = cluster::Nodes::chain_stopped();
    nodes[0].start();
    // A protocol-1 client on n1 while n1 is alone.
    let stream = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::net::TcpStream::connect(("127.0.0.1", nodes[0].client_port)).await {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "n1 does not start: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    let (rd, mut wr) = stream.into_split();
    let mut rd = tokio::io::BufReader::new(rd);
    wr.write_all(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await
        .unwrap();
    wait_info(&mut rd, "no connect_urls", |u| u.is_empty()).await;

    nodes[1].start();
    nodes[2].start();
    nodes.wait_mesh(&[0, 1, 2]).await;
    let want: Vec<String> = nodes
        .nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.client_port))
        .collect();
    wait_info(&mut rd, "three connect_urls", |u| {
        u.len() == 3 && u[0] == want[0] && want.iter().all(|w| u.contains(w))
    })
    .await;

    nodes[2].kill();
    wait_info(&mut rd, "n3 gone from connect_urls", |u| {
        u.len() == 2 && !u.contains(&want[2])
    })
    .await;
}
