//! JetStream persistence: streams, messages, sequences and limits survive an in-process
//! restart on the same store directory, and after `kill -9` of the natrium binary in
//! the middle of a publish burst no acknowledged message is missing.

mod common;
mod js_common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use js_common::{api, create, publish, start_js, stop};
use serde_json::json;

#[tokio::test]
async fn restart_keeps_streams_messages_and_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(
        &c,
        json!({"name":"P","subjects":["p.*"],"max_msgs_per_subject":3}),
    )
    .await;
    create(
        &c,
        json!({"name":"MEM","subjects":["mem"],"storage":"memory"}),
    )
    .await;
    for i in 0..10 {
        publish(
            &c,
            &format!("p.{}", i % 2),
            &[("Nats-Msg-Id", &format!("id{i}"))],
            &format!("m{i}"),
        )
        .await;
    }
    publish(&c, "mem", &[], "x").await;
    // Delete the last message: the last sequence must survive anyway.
    let v = api(&c, "$JS.API.STREAM.MSG.DELETE.P", json!({"seq":10})).await;
    assert_eq!(v["success"], true);
    let before = api(&c, "$JS.API.STREAM.INFO.P", json!(null)).await;
    drop(c);
    stop(srv).await;

    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let after = api(&c, "$JS.API.STREAM.INFO.P", json!(null)).await;
    assert_eq!(after["state"]["messages"], before["state"]["messages"]);
    assert_eq!(after["state"]["first_seq"], before["state"]["first_seq"]);
    assert_eq!(after["state"]["last_seq"], 10);
    assert_eq!(after["state"]["bytes"], before["state"]["bytes"]);
    assert_eq!(after["config"], before["config"]);
    assert_eq!(after["created"], before["created"]);
    // Dedup window survives.
    let d = publish(&c, "p.0", &[("Nats-Msg-Id", "id8")], "again").await;
    assert_eq!(d["duplicate"], true, "{d} after={after}");
    // Sequences continue; per-subject limit still enforced.
    let a = publish(&c, "p.0", &[], "next").await;
    assert_eq!(a["seq"], 11);
    let v = api(
        &c,
        "$JS.API.STREAM.INFO.P",
        json!({"subjects_filter":"p.0"}),
    )
    .await;
    assert_eq!(v["state"]["subjects"]["p.0"], 3);
    let js = jetstream::new(c.clone());
    let m = js
        .get_stream("P")
        .await
        .unwrap()
        .get_raw_message(9)
        .await
        .unwrap();
    assert_eq!(&m.payload[..], b"m8");
    // A memory stream's definition is a meta entry and its messages are in its Raft
    // log, so it comes back with them (as clustered nats-server keeps the stream;
    // standalone nats-server forgets it: a deliberate difference, see README).
    let v = api(&c, "$JS.API.STREAM.INFO.MEM", json!(null)).await;
    assert_eq!(v["config"]["storage"], "memory", "{v}");
    assert_eq!(v["state"]["messages"], 1, "{v}");
    // A purged stream keeps its sequence across a restart.
    api(&c, "$JS.API.STREAM.PURGE.P", json!(null)).await;
    drop(c);
    stop(srv).await;
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let v = api(&c, "$JS.API.STREAM.INFO.P", json!(null)).await;
    assert_eq!(v["state"]["messages"], 0);
    assert_eq!(v["state"]["first_seq"], 12);
    assert_eq!(publish(&c, "p.0", &[], "x").await["seq"], 12);
    // Deleting removes it for good.
    api(&c, "$JS.API.STREAM.DELETE.P", json!(null)).await;
    drop(c);
    stop(srv).await;
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let v = api(&c, "$JS.API.STREAM.NAMES", json!(null)).await;
    assert_eq!(v["streams"], json!(["MEM"]), "{v}");
    stop(srv).await;
}

fn spawn_natrium(dir: &std::path::Path, port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_natrium"))
        .args(["-js", "-sd"])
        .arg(dir)
        .args(["-p", &port.to_string(), "-a", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn natrium")
}

async fn connect_retry(port: u16) -> async_nats::Client {
    for _ in 0..100 {
        if let Ok(c) = async_nats::connect(format!("nats://127.0.0.1:{port}")).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("natrium did not come up on {port}");
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = spawn_natrium(dir.path(), port);
    let c = connect_retry(port).await;
    create(&c, json!({"name":"K","subjects":["k.>"]})).await;
    let js = jetstream::new(c.clone());
    let acked = std::sync::Arc::new(parking_lot::Mutex::new(BTreeMap::<u64, String>::new()));
    let publisher = {
        let js = js.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            let mut pending = futures::stream::FuturesUnordered::new();
            for i in 0..200_000u64 {
                let payload = format!("msg-{i}");
                let Ok(fut) = js
                    .publish(format!("k.{}", i % 7), payload.clone().into())
                    .await
                else {
                    break;
                };
                let acked = acked.clone();
                pending.push(async move {
                    if let Ok(ack) = fut.await {
                        acked.lock().insert(ack.sequence, payload);
                    }
                });
                if pending.len() >= 256 {
                    use futures::StreamExt;
                    pending.next().await;
                }
            }
            use futures::StreamExt;
            while pending.next().await.is_some() {}
        })
    };
    // Let the burst run, then kill -9 in the middle of it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().len() >= 2_000 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} acknowledged publishes in 120s",
            acked.lock().len()
        );
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    // Stop publishing before the restart (the client would reconnect and go on).
    publisher.abort();
    let _ = publisher.await;
    drop(js);
    drop(c);
    let acked = acked.lock().clone();
    assert!(acked.len() >= 2_000);

    let mut child = spawn_natrium(dir.path(), port);
    let c = connect_retry(port).await;
    let js = jetstream::new(c.clone());
    let stream = js.get_stream("K").await.unwrap();
    let v = api(&c, "$JS.API.STREAM.INFO.K", json!(null)).await;
    let last = v["state"]["last_seq"].as_u64().unwrap();
    let max_acked = *acked.keys().last().unwrap();
    assert!(
        last >= max_acked,
        "last_seq {last} < acknowledged {max_acked}"
    );
    for (seq, payload) in &acked {
        let m = stream
            .get_raw_message(*seq)
            .await
            .unwrap_or_else(|e| panic!("acknowledged seq {seq} missing: {e}"));
        assert_eq!(
            std::str::from_utf8(&m.payload).unwrap(),
            payload,
            "seq {seq}"
        );
    }
    // The stream keeps going after the crash.
    let ack = js
        .publish("k.x", "after".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, last + 1);
    child.kill().ok();
    child.wait().ok();
}

/// A double ack is confirmed only once it is durable: after `kill -9`, every confirmed
/// ack is still acknowledged, and a durable consumer resumes where it was.
#[tokio::test]
async fn kill_9_keeps_confirmed_consumer_acks() {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = spawn_natrium(dir.path(), port);
    let c = connect_retry(port).await;
    create(&c, json!({"name":"KC","subjects":["kc"]})).await;
    let js = jetstream::new(c.clone());
    for i in 0..50 {
        js.publish("kc", format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let stream = js.get_stream("KC").await.unwrap();
    let con = stream
        .create_consumer(pull::Config {
            durable_name: Some("d".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = con
        .fetch()
        .max_messages(30)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    let mut confirmed = 0;
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        if confirmed < 20 {
            m.double_ack().await.unwrap();
            confirmed += 1;
        }
    }
    assert_eq!(confirmed, 20);
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    drop(c);

    let mut child = spawn_natrium(dir.path(), port);
    let c = connect_retry(port).await;
    let v = api(&c, "$JS.API.CONSUMER.INFO.KC.d", json!(null)).await;
    assert_eq!(v["ack_floor"]["stream_seq"], 20, "{v}");
    assert_eq!(v["delivered"]["stream_seq"], 30, "{v}");
    assert_eq!(v["num_ack_pending"], 10, "{v}");
    assert_eq!(v["num_pending"], 20, "{v}");
    child.kill().ok();
    child.wait().ok();
}
