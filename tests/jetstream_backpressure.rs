//! A stream whose inbound queue is full answers each further publish at once with an
//! error PubAck (never drops it silently), and everything acknowledged is stored.
//! The queue is made tiny with the `NATRIUM_STREAM_INBOUND_CAPACITY` test knob so a
//! plain burst fills it.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn connect_retry(port: u16) -> async_nats::Client {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(c) = async_nats::connect(format!("nats://127.0.0.1:{port}")).await {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "natrium did not come up on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_inbound_queue_answers_with_an_error_puback() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _srv = Proc(
        Command::new(env!("CARGO_BIN_EXE_natrium"))
            .env("NATRIUM_STREAM_INBOUND_CAPACITY", "2")
            .args(["-js", "-sd"])
            .arg(dir.path())
            .args(["-p", &port.to_string(), "-a", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn natrium"),
    );
    let c = connect_retry(port).await;
    let js = async_nats::jetstream::new(c.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "BP".into(),
        subjects: vec!["bp".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut acks = c.subscribe("acks.>").await.unwrap();
    c.flush().await.unwrap();
    const N: usize = 3000;
    for i in 0..N {
        c.publish_with_reply("bp", format!("acks.{i}"), "x".into())
            .await
            .unwrap();
    }
    c.flush().await.unwrap();
    let mut ok_seqs = BTreeSet::new();
    let mut busy = 0usize;
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < N {
        let m = tokio::time::timeout_at(deadline, acks.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {N} publishes answered", seen.len()))
            .expect("subscription open");
        assert!(
            seen.insert(m.subject.to_string()),
            "two answers for {}",
            m.subject
        );
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        if let Some(e) = v.get("error") {
            assert_eq!(e["code"], 503, "{v}");
            assert!(
                e["description"]
                    .as_str()
                    .unwrap_or("")
                    .contains("queue is full"),
                "{v}"
            );
            busy += 1;
        } else {
            assert_eq!(v["stream"], "BP", "{v}");
            assert!(ok_seqs.insert(v["seq"].as_u64().unwrap()), "seq twice: {v}");
        }
    }
    assert!(busy > 0, "the burst never filled a queue of 2");
    assert!(!ok_seqs.is_empty(), "nothing was stored");
    // Every acknowledged publish is stored, with sequences 1..=n and nothing else.
    let expected: BTreeSet<u64> = (1..=ok_seqs.len() as u64).collect();
    assert_eq!(ok_seqs, expected);
    let info = js
        .get_stream("BP")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.state.messages, ok_seqs.len() as u64);
}
