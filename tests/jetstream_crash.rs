//! `kill -9` of the natrium binary at awkward moments, then a restart on the same
//! store: during a purge, a secure erase, a stream update and a consumer create the
//! store comes back in the state before or after the operation (after, whenever the
//! reply was received), never in between and never unreadable; unacknowledged
//! messages are redelivered after a restart; and a non-default `sync_interval` keeps
//! every acknowledged message across `kill -9` (the page cache survives a process
//! kill; power loss is the chaos suite's).

mod common;
mod js_common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use futures::StreamExt;
use js_common::{api, create, publish};
use serde_json::{json, Value};

/// natrium with JetStream in `dir`, from a config file (`extra` goes into the
/// jetstream block).
fn spawn(dir: &Path, port: u16, extra: &str) -> Child {
    let conf = dir.join("natrium.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: \"{}\"\n{extra}\n}}\n",
            dir.join("js").display()
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_natrium"))
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn natrium")
}

async fn connect_retry(port: u16) -> async_nats::Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(c) = async_nats::connect(format!("nats://127.0.0.1:{port}")).await {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "natrium did not come up on {port} within 30s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kill9(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

/// Stream info, retried until JetStream answers after a restart (30 s).
async fn stream_info(c: &async_nats::Client, name: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            c.request(format!("$JS.API.STREAM.INFO.{name}"), "".into()),
        )
        .await;
        if let Ok(Ok(m)) = r {
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            if v.get("error").is_none() {
                return v;
            }
            assert!(
                v["error"]["err_code"] != 10059,
                "stream {name} lost after kill -9: {v}"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no stream info for {name} within 30s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Purge,
    Erase,
    Update,
    ConsumerCreate,
}

/// One round: stream S with 50 messages, `op` sent, `kill -9` after `delay`, restart,
/// check the state is the one before or after `op` (after if the reply came).
async fn crash_during(op: Op, delay: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = spawn(dir.path(), port, "");
    let c = connect_retry(port).await;
    create(&c, json!({"name":"S","subjects":["s.>"]})).await;
    for i in 0..50 {
        publish(&c, &format!("s.{}", i % 5), &[], &format!("m{i}")).await;
    }
    let (subject, body) = match op {
        Op::Purge => ("$JS.API.STREAM.PURGE.S".to_string(), json!(null)),
        Op::Erase => ("$JS.API.STREAM.MSG.DELETE.S".to_string(), json!({"seq":10})),
        Op::Update => (
            "$JS.API.STREAM.UPDATE.S".to_string(),
            json!({"name":"S","subjects":["s.>"],"max_msgs":20}),
        ),
        Op::ConsumerCreate => (
            "$JS.API.CONSUMER.CREATE.S.C".to_string(),
            json!({"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}),
        ),
    };
    let payload = if body.is_null() {
        bytes::Bytes::new()
    } else {
        serde_json::to_vec(&body).unwrap().into()
    };
    let req = {
        let c = c.clone();
        tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(5), c.request(subject, payload)).await
        })
    };
    tokio::time::sleep(delay).await;
    kill9(&mut child);
    let reply: Option<Value> = match req.await.unwrap() {
        Ok(Ok(m)) => serde_json::from_slice(&m.payload).ok(),
        _ => None,
    };
    let succeeded = reply
        .as_ref()
        .is_some_and(|v| v.get("error").is_none() && v["success"] != false);
    drop(c);

    let mut child = spawn(dir.path(), port, "");
    let c = connect_retry(port).await;
    let v = stream_info(&c, "S").await;
    let (msgs, first, last) = (
        v["state"]["messages"].as_u64().unwrap(),
        v["state"]["first_seq"].as_u64().unwrap(),
        v["state"]["last_seq"].as_u64().unwrap(),
    );
    let ctx = format!("{op:?} after {delay:?}, reply {reply:?}: {v}");
    assert_eq!(last, 50, "{ctx}");
    match op {
        Op::Purge => {
            assert!(
                (msgs, first) == (50, 1) || (msgs, first) == (0, 51),
                "half a purge: {ctx}"
            );
            if succeeded {
                assert_eq!(msgs, 0, "acknowledged purge lost: {ctx}");
            }
        }
        Op::Erase => {
            let g = api(&c, "$JS.API.STREAM.MSG.GET.S", json!({"seq":10})).await;
            let present = g.get("error").is_none();
            if present {
                assert_eq!(msgs, 50, "{ctx}");
                let data = g["message"]["data"].as_str().unwrap();
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap();
                assert_eq!(bytes, b"m9", "message 10 damaged: {ctx}");
            } else {
                assert_eq!(g["error"]["err_code"], 10037, "{g} {ctx}");
                assert_eq!(msgs, 49, "{ctx}");
            }
            if succeeded {
                assert!(!present, "acknowledged erase lost: {ctx}");
            }
        }
        Op::Update => {
            let max = v["config"]["max_msgs"].as_i64().unwrap();
            assert!(max == -1 || max == 20, "{ctx}");
            if max == 20 {
                assert!(msgs <= 20, "limit kept but not applied: {ctx}");
            } else {
                assert_eq!(msgs, 50, "{ctx}");
            }
            if succeeded {
                assert_eq!(max, 20, "acknowledged update lost: {ctx}");
            }
        }
        Op::ConsumerCreate => {
            let ci = api(&c, "$JS.API.CONSUMER.INFO.S.C", json!(null)).await;
            let exists = ci.get("error").is_none();
            if exists {
                assert_eq!(ci["config"]["ack_policy"], "explicit", "{ci} {ctx}");
                assert_eq!(ci["num_pending"], 50, "{ci} {ctx}");
            } else {
                assert_eq!(ci["error"]["err_code"], 10014, "{ci} {ctx}");
            }
            if succeeded {
                assert!(exists, "acknowledged consumer lost: {ctx}");
            }
        }
    }
    // The store keeps working.
    let a = publish(&c, "s.x", &[], "after").await;
    assert_eq!(a["seq"], 51, "{a} {ctx}");
    kill9(&mut child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_purge_erase_update_and_consumer_create() {
    for op in [Op::Purge, Op::Erase, Op::Update, Op::ConsumerCreate] {
        // Before the request can be applied, somewhere during it, and after the reply.
        for ms in [0, 2, 200] {
            crash_during(op, Duration::from_millis(ms)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_redelivered_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = spawn(dir.path(), port, "");
    let c = connect_retry(port).await;
    create(&c, json!({"name":"R","subjects":["r"]})).await;
    for i in 0..5 {
        publish(&c, "r", &[], &format!("m{i}")).await;
    }
    let js = jetstream::new(c.clone());
    let stream = js.get_stream("R").await.unwrap();
    let con = stream
        .create_consumer(pull::Config {
            durable_name: Some("w".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got = con
        .fetch()
        .max_messages(5)
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .unwrap();
    let mut msgs = Vec::new();
    while let Some(m) = got.next().await {
        msgs.push(m.unwrap());
    }
    assert_eq!(msgs.len(), 5);
    // Two confirmed acks; three left pending.
    for m in &msgs[..2] {
        m.double_ack().await.unwrap();
    }
    drop(msgs);
    kill9(&mut child);
    drop(c);

    let mut child = spawn(dir.path(), port, "");
    let c = connect_retry(port).await;
    stream_info(&c, "R").await;
    let js = jetstream::new(c.clone());
    let con: async_nats::jetstream::consumer::PullConsumer = js
        .get_stream("R")
        .await
        .unwrap()
        .get_consumer("w")
        .await
        .unwrap();
    let mut seqs = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seqs.len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "redelivered only {seqs:?} within 30s"
        );
        let mut batch = con
            .fetch()
            .max_messages(3)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            let info = m.info().unwrap();
            assert!(info.delivered >= 2, "not marked as a redelivery: {info:?}");
            seqs.push(info.stream_sequence);
            m.ack().await.unwrap();
        }
    }
    seqs.sort();
    assert_eq!(
        seqs,
        [3, 4, 5],
        "exactly the unacknowledged messages come back"
    );
    kill9(&mut child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_default_sync_interval_keeps_acked_messages_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = spawn(dir.path(), port, "  sync_interval: \"2s\"");
    let c = connect_retry(port).await;
    create(&c, json!({"name":"Y","subjects":["y"]})).await;
    for i in 0..200 {
        let a = publish(&c, "y", &[], &format!("m{i}")).await;
        assert_eq!(a["seq"], i + 1);
    }
    kill9(&mut child);
    drop(c);
    let mut child = spawn(dir.path(), port, "  sync_interval: \"2s\"");
    let c = connect_retry(port).await;
    let v = stream_info(&c, "Y").await;
    assert_eq!(v["state"]["messages"], 200, "{v}");
    assert_eq!(v["state"]["last_seq"], 200, "{v}");
    let g = api(&c, "$JS.API.STREAM.MSG.GET.Y", json!({"seq":200})).await;
    assert!(g.get("error").is_none(), "{g}");
    kill9(&mut child);
}
