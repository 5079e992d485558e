//! Replicated JetStream on three natrium processes: streams created on one node,
//! published on another, read on the third, every replica compared message by
//! message; exactly one API reply; kill -9 of a stream leader during a publish burst
//! with Nats-Msg-Id retries; catch-up after restart; a minority refusing writes;
//! dedup surviving restarts.

mod cluster;

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use cluster::Nodes;
use futures::StreamExt;
use serde_json::{json, Value};

/// Waits until every running node agrees on a meta leader of a 3-node meta group.
async fn wait_meta(nodes: &Nodes) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let mut leaders = Vec::new();
        let mut ok = true;
        for n in nodes.nodes.iter().filter(|n| n.is_running()) {
            match n.get("/jsz").await {
                Some(j)
                    if j["meta_cluster"]["cluster_size"] == 3
                        && !j["meta_cluster"]["leader"].is_null() =>
                {
                    leaders.push(j["meta_cluster"]["leader"].clone())
                }
                _ => ok = false,
            }
        }
        if ok && leaders.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "meta group did not form: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A node's copy of a stream: (seq, subject, crc) per message.
async fn replica(nodes: &Nodes, i: usize, stream: &str) -> Option<Vec<Value>> {
    let v = nodes[i].get(&format!("/replicaz?stream={stream}")).await?;
    if v["present"] != true {
        return None;
    }
    v["messages"].as_array().cloned()
}

/// Waits until the running nodes in `which` hold identical copies of `n` messages.
async fn wait_replicas_equal(nodes: &Nodes, which: &[usize], stream: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut copies = Vec::new();
        for &i in which {
            copies.push(replica(nodes, i, stream).await);
        }
        if copies
            .iter()
            .all(|c| c.as_ref().is_some_and(|c| c.len() == n))
            && copies.windows(2).all(|w| w[0] == w[1])
        {
            return copies[0].clone().unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "replicas of {stream} differ: {:?}",
            copies
                .iter()
                .map(|c| c.as_ref().map(|v| v.len()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Which node leads `stream` (by /replicaz).
async fn leader_of(nodes: &Nodes, stream: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for i in 0..nodes.nodes.len() {
            if !nodes[i].is_running() {
                continue;
            }
            if let Some(v) = nodes[i].get(&format!("/replicaz?stream={stream}")).await {
                if v["leader"] == true {
                    return i;
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader for {stream}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends one API request and counts the replies that arrive within a second.
async fn replies_to(c: &async_nats::Client, subject: &str, body: Value) -> Vec<Value> {
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await.unwrap();
    c.flush().await.unwrap();
    c.publish_with_reply(subject.to_string(), inbox, Bytes::from(body.to_string()))
        .await
        .unwrap();
    c.flush().await.unwrap();
    let mut out = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(m)) = tokio::time::timeout_at(end, sub.next()).await {
        out.push(serde_json::from_slice(&m.payload).unwrap());
    }
    out
}

async fn publish_id(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    body: &str,
) -> Result<jetstream::publish::PublishAck, String> {
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", id);
    let ack = js
        .publish_with_headers(subject.to_string(), h, Bytes::from(body.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(6), ack)
        .await
        .map_err(|_| "ack timed out".to_string())?
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_and_r1_streams_work_from_any_node_and_replicas_match() {
    let nodes = Nodes::jetstream();
    nodes.wait_mesh(&[0, 1, 2]).await;
    wait_meta(&nodes).await;
    let (c1, c2, c3) = (
        nodes.client(0).await,
        nodes.client(1).await,
        nodes.client(2).await,
    );
    let (js1, js2, js3) = (
        jetstream::new(c1.clone()),
        jetstream::new(c2.clone()),
        jetstream::new(c3.clone()),
    );

    // Created through n1, published through n2, read through n3.
    let created = js1
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .expect("R3 create");
    assert_eq!(created.cached_info().config.num_replicas, 3);
    for i in 0..200u64 {
        let ack = js2
            .publish(format!("orders.{}", i % 7), Bytes::from(format!("m{i}")))
            .await
            .unwrap()
            .await
            .expect("ack");
        assert_eq!(ack.sequence, i + 1);
        assert_eq!(ack.stream, "ORDERS");
    }
    let mut s3 = js3
        .get_stream("ORDERS")
        .await
        .expect("stream visible on n3");
    let info = s3.info().await.unwrap();
    assert_eq!(info.state.messages, 200);
    let cl = info.cluster.as_ref().expect("cluster info");
    assert!(
        cl.leader.as_deref().is_some_and(|l| !l.is_empty()),
        "{cl:?}"
    );
    assert_eq!(cl.replicas.len(), 2, "{cl:?}");
    let consumer = s3
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("reader".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.fetch().max_messages(200).messages().await.unwrap();
    let mut n = 0u64;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(5), msgs.next())
        .await
        .expect("fetch stalled")
    {
        let m = m.unwrap();
        assert_eq!(m.payload, Bytes::from(format!("m{n}")));
        n += 1;
        m.ack().await.unwrap();
    }
    assert_eq!(n, 200);
    let copy = wait_replicas_equal(&nodes, &[0, 1, 2], "ORDERS", 200).await;
    assert_eq!(copy[0][0], 1);
    assert_eq!(copy[199][0], 200);

    // Exactly one reply per API request, whichever node the client is on.
    for c in [&c1, &c2, &c3] {
        let r = replies_to(c, "$JS.API.STREAM.INFO.ORDERS", json!({})).await;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["state"]["messages"], 200);
        let r = replies_to(c, "$JS.API.STREAM.NAMES", json!({})).await;
        assert_eq!(r.len(), 1, "{r:?}");
        let r = replies_to(c, "$JS.API.STREAM.INFO.NOPE", json!({})).await;
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["error"]["err_code"], 10059);
    }

    // More replicas than nodes: nats-server's 10074, saying why.
    let r = replies_to(
        &c2,
        "$JS.API.STREAM.CREATE.FIVE",
        json!({"name": "FIVE", "subjects": ["five"], "num_replicas": 5}),
    )
    .await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["error"]["err_code"], 10074, "{r:?}");
    assert!(r[0]["error"]["description"]
        .as_str()
        .unwrap()
        .contains("3 JetStream nodes"));

    // An R1 stream lives on one node and works from the other two.
    js3.create_stream(stream::Config {
        name: "ONE".into(),
        subjects: vec!["one.>".into()],
        ..Default::default()
    })
    .await
    .expect("R1 create");
    let home = leader_of(&nodes, "ONE").await;
    let others: Vec<usize> = (0..3).filter(|i| *i != home).collect();
    let jsp = jetstream::new(nodes.client(others[0]).await);
    for i in 0..50 {
        jsp.publish(format!("one.{i}"), Bytes::from_static(b"x"))
            .await
            .unwrap()
            .await
            .expect("R1 ack from another node");
    }
    let jsr = jetstream::new(nodes.client(others[1]).await);
    let mut one = jsr.get_stream("ONE").await.unwrap();
    assert_eq!(one.info().await.unwrap().state.messages, 50);
    let m = one.get_raw_message(50).await.unwrap();
    assert_eq!(m.subject.as_str(), "one.49");
    let copy = wait_replicas_equal(&nodes, &[home], "ONE", 50).await;
    assert_eq!(copy.len(), 50);
    for i in &others {
        assert!(
            replica(&nodes, *i, "ONE").await.is_none(),
            "R1 copy on node {i}"
        );
    }

    // Delete through any node removes every copy.
    js2.delete_stream("ORDERS").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for i in 0..3 {
        while replica(&nodes, i, "ORDERS").await.is_some() {
            assert!(Instant::now() < deadline, "ORDERS still on node {i}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill_during_burst_loses_no_acknowledged_message() {
    let mut nodes = Nodes::jetstream();
    nodes.wait_mesh(&[0, 1, 2]).await;
    wait_meta(&nodes).await;
    let js = jetstream::new(nodes.client(0).await);
    js.create_stream(stream::Config {
        name: "BURST".into(),
        subjects: vec!["burst.>".into()],
        num_replicas: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let leader = leader_of(&nodes, "BURST").await;
    let client_node = (leader + 1) % 3;
    let js = jetstream::new(nodes.client(client_node).await);
    const N: usize = 1500;
    let mut killed_at = None;
    let mut failover = None;
    for i in 0..N {
        if i == 400 {
            nodes[leader].kill();
            killed_at = Some(Instant::now());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match publish_id(&js, &format!("burst.{i}"), &format!("id-{i}"), "x").await {
                Ok(_) => {
                    if let (Some(t), None) = (killed_at, failover) {
                        failover = Some(t.elapsed());
                    }
                    break;
                }
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "publish {i} never acknowledged: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    println!(
        "publishes resumed {:?} after kill -9 of the stream leader",
        failover.unwrap()
    );
    let alive: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let copy = wait_replicas_equal(&nodes, &alive, "BURST", N).await;
    // Every acknowledged message exactly once, in order.
    for (i, m) in copy.iter().enumerate() {
        assert_eq!(m[1], format!("burst.{i}"), "at {i}: {m}");
    }
    // The killed node restarts and catches up on its own.
    nodes[leader].start();
    wait_replicas_equal(&nodes, &[0, 1, 2], "BURST", N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minority_refuses_writes_and_dedup_survives_restart() {
    let mut nodes = Nodes::jetstream();
    nodes.wait_mesh(&[0, 1, 2]).await;
    wait_meta(&nodes).await;
    let js = jetstream::new(nodes.client(0).await);
    for (name, replicas) in [("WQ3", 3), ("WQ1", 1)] {
        js.create_stream(stream::Config {
            name: name.into(),
            subjects: vec![format!("{}.>", name.to_lowercase())],
            num_replicas: replicas,
            retention: stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    // A work-queue message consumed and acked is gone, but its id is remembered.
    for name in ["WQ3", "WQ1"] {
        let subject = format!("{}.a", name.to_lowercase());
        let ack = publish_id(&js, &subject, "once", "1").await.unwrap();
        assert!(!ack.duplicate);
        let s = js.get_stream(name).await.unwrap();
        let c = s
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("w".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut msgs = c.fetch().max_messages(1).messages().await.unwrap();
        let m = msgs.next().await.unwrap().unwrap();
        m.double_ack().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while js
            .get_stream(name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages
            != 0
        {
            assert!(
                Instant::now() < deadline,
                "{name}: acked message not removed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Restart every node: the dedup window comes back from the store.
    for i in 0..3 {
        nodes[i].kill();
    }
    for i in 0..3 {
        nodes[i].start();
    }
    nodes.wait_mesh(&[0, 1, 2]).await;
    wait_meta(&nodes).await;
    let js = jetstream::new(nodes.client(1).await);
    for name in ["WQ3", "WQ1"] {
        let subject = format!("{}.a", name.to_lowercase());
        let deadline = Instant::now() + Duration::from_secs(30);
        let ack = loop {
            match publish_id(&js, &subject, "once", "1").await {
                Ok(a) => break a,
                Err(e) => {
                    assert!(Instant::now() < deadline, "{name}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        assert!(
            ack.duplicate,
            "{name}: duplicate stored again after restart"
        );
        assert_eq!(ack.sequence, 1);
    }

    // Two nodes paused: the third (a minority) must not acknowledge a write.
    let leader = leader_of(&nodes, "WQ3").await;
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    for &i in &others {
        nodes[i].pause(true);
    }
    let jsl = jetstream::new(nodes.client(leader).await);
    let r = publish_id(&jsl, "wq3.b", "minority", "x").await;
    assert!(r.is_err(), "a minority acknowledged a write: {r:?}");
    for &i in &others {
        nodes[i].pause(false);
    }
    // Healed: writes work again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match publish_id(&jsl, "wq3.b", "healed", "x").await {
            Ok(a) => {
                assert!(!a.duplicate);
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "writes did not resume: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A follower kept down while the leader purges its log behind a snapshot catches up
/// by installing the snapshot, then by entries, and ends with an identical copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_down_during_log_purge_catches_up_by_snapshot() {
    let mut nodes = Nodes::jetstream_with_env(&[
        ("NATRIUM_RAFT_SNAPSHOT_EVERY", "50"),
        ("NATRIUM_RAFT_KEEP_BEHIND_SNAPSHOT", "10"),
    ]);
    nodes.wait_mesh(&[0, 1, 2]).await;
    wait_meta(&nodes).await;
    let js = jetstream::new(nodes.client(0).await);
    js.create_stream(stream::Config {
        name: "SNAP".into(),
        subjects: vec!["snap.>".into()],
        num_replicas: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let leader = leader_of(&nodes, "SNAP").await;
    let down = (leader + 1) % 3;
    let client_node = 3 - leader - down;
    nodes[down].kill();
    let js = jetstream::new(nodes.client(client_node).await);
    // One PubAck awaited at a time: one log entry per message.
    const N: usize = 400;
    for i in 0..N {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match publish_id(
                &js,
                &format!("snap.{}", i % 5),
                &format!("id{i}"),
                &format!("m{i}"),
            )
            .await
            {
                Ok(_) => break,
                Err(e) => {
                    assert!(Instant::now() < deadline, "publish {i}: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    // The leader's log no longer holds what the stopped follower lacks (openraft purges
    // behind a snapshot in the background: poll).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ticked = 0usize;
    loop {
        let leader = leader_of(&nodes, "SNAP").await;
        let raftz = nodes[leader].get("/raftz").await.expect("raftz");
        let group = raftz["groups"]
            .as_array()
            .and_then(|g| {
                g.iter()
                    .find(|g| g["name"].as_str().is_some_and(|n| n.ends_with("SNAP")))
            })
            .cloned()
            .expect("SNAP group on its leader");
        if group["purged"].as_u64().unwrap_or(0) > 100 {
            break;
        }
        assert!(Instant::now() < deadline, "log not purged: {group}");
        // A further entry lets the leader re-evaluate what it may purge.
        // (One id: stored once, duplicates after that.)
        if publish_id(&js, "snap.tick", "tick", "t").await.is_ok() {
            ticked = 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nodes[down].start();
    let copy = wait_replicas_equal(&nodes, &[0, 1, 2], "SNAP", N + ticked).await;
    assert_eq!(copy[0][0], 1);
    assert_eq!(copy[N - 1][0], N as u64);
    assert!(
        nodes[down].log_text().contains("snapshot installed"),
        "the restarted follower did not install a snapshot"
    );
    // And it keeps up by entries afterwards.
    for i in N..N + 20 {
        publish_id(&js, "snap.x", &format!("id{i}"), "more")
            .await
            .unwrap();
    }
    wait_replicas_equal(&nodes, &[0, 1, 2], "SNAP", N + ticked + 20).await;
}

/// KV buckets and object stores are streams: with `replicas: 3` they work through the
/// official client from any node, and every node holds the same copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_and_object_store_with_three_replicas_work_from_any_node() {
    use async_nats::jetstream::{kv, object_store};
    use tokio::io::AsyncReadExt;

    let nodes = Nodes::jetstream();
    nodes.wait_mesh(&[0, 1, 2]).await;
    wait_meta(&nodes).await;
    let (c1, c2, c3) = (
        nodes.client(0).await,
        nodes.client(1).await,
        nodes.client(2).await,
    );
    let (js1, js2, js3) = (jetstream::new(c1), jetstream::new(c2), jetstream::new(c3));

    // KV: created through node1, written through node2, read and watched through node3.
    let created = js1
        .create_key_value(kv::Config {
            bucket: "CFG".into(),
            history: 5,
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.status().await.unwrap().info.config.num_replicas, 3);
    let kv2 = js2.get_key_value("CFG").await.unwrap();
    let kv3 = js3.get_key_value("CFG").await.unwrap();
    let mut watch = kv3.watch("color").await.unwrap();
    kv2.put("color", "red".into()).await.unwrap();
    let rev = kv2.put("color", "blue".into()).await.unwrap();
    assert_eq!(
        kv3.get("color").await.unwrap().as_deref(),
        Some(&b"blue"[..])
    );
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("watch delivers within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(&first.value[..], b"red");
    // Compare-and-set through another node sees the same revision.
    assert!(kv3.update("color", "green".into(), rev - 1).await.is_err());
    kv3.update("color", "green".into(), rev).await.unwrap();
    assert_eq!(
        kv2.get("color").await.unwrap().as_deref(),
        Some(&b"green"[..])
    );
    let copy = wait_replicas_equal(&nodes, &[0, 1, 2], "KV_CFG", 3).await;
    assert_eq!(copy.len(), 3);

    // Object store: a multi-chunk object put through node3, read through node1.
    js3.create_object_store(object_store::Config {
        bucket: "FILES".into(),
        num_replicas: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let os3 = js3.get_object_store("FILES").await.unwrap();
    os3.put("blob", &mut data.as_slice()).await.unwrap();
    let os1 = js1.get_object_store("FILES").await.unwrap();
    let mut obj = os1.get("blob").await.unwrap();
    let mut back = Vec::new();
    obj.read_to_end(&mut back).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "object read through node1 differs");
    let info = js2
        .get_stream("OBJ_FILES")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.num_replicas, 3);
    let n = info.state.messages as usize;
    assert!(n >= 3, "chunks and meta stored: {n}");
    wait_replicas_equal(&nodes, &[0, 1, 2], "OBJ_FILES", n).await;
}
