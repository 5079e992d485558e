//! How soon a consumer delivers what it can: a new push, ordered or pull consumer over
//! messages already in the stream, a message published to a running consumer, an ack
//! that frees `max_ack_pending`, and the client operations built on new ordered
//! consumers (KV watch, keys and history; object get and list), through async-nats
//! against a real natrium.
//!
//! Also the wake paths that replaced polling, functionally: a push subscriber that
//! comes back gets what was published while it was away, `push_bound` follows the
//! subscriber, and a push consumer without a subscriber still goes away after its
//! `inactive_threshold` (and not before).
//!
//! Each measured test repeats its operation [`ROUNDS`] times, asserts that every round
//! delivers, and prints the median, the maximum and the total (`--nocapture` shows
//! them; a consumer that waited for a 50 ms poll instead of being woken shows ~50 ms
//! medians there). Timing is reported, never asserted: speed is the benchmarks' job.

mod common;
mod js_common;
#[allow(unused_imports)] // run_python is for the nats.py tests
mod kv_common;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, push, AckPolicy};
use async_nats::jetstream::{self, kv, object_store, stream};
use futures::StreamExt;
use js_common::api;
use kv_common::{within5, Target};
use serde_json::json;
use tokio::io::AsyncReadExt;

/// Repetitions of each measured operation.
const ROUNDS: usize = 20;

/// Prints the figures of one measurement (every round delivered, or it would have
/// failed before); `Err` only when no round was measured.
fn report(what: &str, mut samples: Vec<Duration>) -> Result<(), String> {
    if samples.is_empty() {
        return Err(format!("{what}: nothing measured"));
    }
    samples.sort();
    let total: Duration = samples.iter().sum();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "latency {what}: median {:.2} ms, max {:.2} ms, total of {} {:.1} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len(),
        ms(total)
    );
    Ok(())
}

/// Fails with every measurement that could not be taken.
fn check(results: &[Result<(), String>]) {
    let over: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(over.is_empty(), "{over:#?}");
}

/// A stream `name` on `name.>` with `n` messages.
async fn stream_with(js: &jetstream::Context, name: &str, n: usize) -> stream::Stream {
    let s = js
        .create_stream(stream::Config {
            name: name.to_string(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        })
        .await
        .expect("stream created");
    for i in 0..n {
        js.publish(format!("{name}.m"), format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    s
}

#[tokio::test]
async fn a_new_ordered_consumer_delivers_at_once() {
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    let s = stream_with(&js, "LORD", 10).await;
    let (mut after_create, mut whole) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        let consumer = s
            .create_consumer(push::OrderedConfig {
                deliver_subject: c.new_inbox(),
                ..Default::default()
            })
            .await
            .expect("ordered consumer");
        let t1 = Instant::now();
        // async-nats subscribes to the deliver subject only now, after the create.
        let mut msgs = consumer.messages().await.unwrap();
        let m = within5(msgs.next()).await.unwrap().unwrap();
        assert_eq!(&m.payload[..], b"m0");
        after_create.push(t1.elapsed());
        whole.push(t0.elapsed());
    }
    check(&[
        report("ordered consumer, create to first message", whole),
        report("ordered consumer, subscribe to first message", after_create),
    ]);
}

#[tokio::test]
async fn a_push_consumer_with_its_subscriber_ready_delivers_at_once() {
    // nats.go's order: subscribe to the deliver subject, then create the consumer.
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    stream_with(&js, "LPUSH", 10).await;
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let inbox = c.new_inbox();
        let mut sub = c.subscribe(inbox.clone()).await.unwrap();
        c.flush().await.unwrap();
        let t0 = Instant::now();
        let r = api(
            &c,
            "$JS.API.CONSUMER.CREATE.LPUSH",
            json!({"stream_name": "LPUSH", "config": {
                "deliver_subject": inbox, "ack_policy": "none", "flow_control": true,
                "idle_heartbeat": 5_000_000_000u64, "mem_storage": true,
                "inactive_threshold": 5_000_000_000u64}}),
        )
        .await;
        assert!(r.get("error").is_none(), "{r}");
        let m = within5(sub.next()).await.unwrap();
        assert_eq!(&m.payload[..], b"m0");
        samples.push(t0.elapsed());
    }
    check(&[report(
        "push consumer (subscribed first), create to first message",
        samples,
    )]);
}

#[tokio::test]
async fn a_new_pull_consumer_delivers_at_once() {
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    let s = stream_with(&js, "LPULL", 10).await;
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        let consumer = s
            .create_consumer(pull::Config::default())
            .await
            .expect("pull consumer");
        let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
        let m = within5(batch.next()).await.unwrap().unwrap();
        assert_eq!(&m.payload[..], b"m0");
        samples.push(t0.elapsed());
    }
    check(&[report("pull consumer, create to first message", samples)]);
}

#[tokio::test]
async fn a_running_consumer_gets_each_new_message_at_once() {
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    let s = stream_with(&js, "LNEW", 0).await;
    let consumer = s
        .create_consumer(push::OrderedConfig {
            deliver_subject: c.new_inbox(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    let mut samples = Vec::new();
    for i in 0..ROUNDS {
        let t0 = Instant::now();
        let ack = js.publish("LNEW.m", format!("n{i}").into()).await.unwrap();
        let m = within5(msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.payload, format!("n{i}"));
        samples.push(t0.elapsed());
        ack.await.unwrap();
    }
    check(&[report("running consumer, publish to delivery", samples)]);
}

#[tokio::test]
async fn an_ack_that_frees_max_ack_pending_releases_the_next_message_at_once() {
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    let s = stream_with(&js, "LMAP", ROUNDS + 1).await;
    let consumer = s
        .create_consumer(push::Config {
            durable_name: Some("one_at_a_time".into()),
            deliver_subject: c.new_inbox(),
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    let mut m = within5(msgs.next()).await.unwrap().unwrap();
    let mut samples = Vec::new();
    for i in 1..=ROUNDS {
        let t0 = Instant::now();
        m.ack().await.unwrap();
        m = within5(msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.payload, format!("m{i}"));
        samples.push(t0.elapsed());
    }
    check(&[report("max_ack_pending 1, ack to next message", samples)]);
}

#[tokio::test]
async fn kv_watch_keys_and_history_start_at_once() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: "LKV".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    for k in ["a", "b", "c"] {
        kv.put(k, "v1".into()).await.unwrap();
        kv.put(k, "v2".into()).await.unwrap();
    }
    let (mut watch, mut keys, mut history) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        let mut w = kv.watch_with_history(">").await.unwrap();
        let e = within5(w.next()).await.unwrap().unwrap();
        assert_eq!(&e.value[..], b"v2");
        watch.push(t0.elapsed());

        let t0 = Instant::now();
        let mut ks = kv.keys().await.unwrap();
        within5(ks.next()).await.unwrap().unwrap();
        keys.push(t0.elapsed());

        let t0 = Instant::now();
        let mut h = kv.history("b").await.unwrap();
        let e = within5(h.next()).await.unwrap().unwrap();
        assert_eq!(&e.value[..], b"v1");
        history.push(t0.elapsed());
    }
    check(&[
        report("kv watch_with_history, to first entry", watch),
        report("kv keys, to first key", keys),
        report("kv history, to first entry", history),
    ]);
}

#[tokio::test]
async fn object_get_and_list_start_at_once() {
    let t = Target::start().await;
    let js = t.js().await;
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: "LOBJ".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    bucket.put("o", &mut &b"object body"[..]).await.unwrap();
    let (mut get, mut list) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        let mut o = within5(bucket.get("o")).await.unwrap();
        let mut body = Vec::new();
        within5(o.read_to_end(&mut body)).await.unwrap();
        assert_eq!(body, b"object body");
        get.push(t0.elapsed());

        let t0 = Instant::now();
        let mut l = bucket.list().await.unwrap();
        let info = within5(l.next()).await.unwrap().unwrap();
        assert_eq!(info.name, "o");
        list.push(t0.elapsed());
    }
    check(&[
        report("object get, whole object", get),
        report("object list, to first entry", list),
    ]);
}

/// Creates a push consumer on `stream` delivering to `inbox`; returns its name.
async fn create_push(c: &async_nats::Client, stream: &str, config: serde_json::Value) -> String {
    let r = api(
        c,
        &format!("$JS.API.CONSUMER.CREATE.{stream}"),
        json!({"stream_name": stream, "config": config}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    r["name"].as_str().expect("consumer name").to_string()
}

#[tokio::test]
async fn a_push_subscriber_that_comes_back_gets_what_was_published_meanwhile() {
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    stream_with(&js, "LBACK", 1).await;
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await.unwrap();
    c.flush().await.unwrap();
    let name = create_push(
        &c,
        "LBACK",
        json!({"durable_name": "back", "deliver_subject": inbox, "ack_policy": "none"}),
    )
    .await;
    let subject = format!("$JS.API.CONSUMER.INFO.LBACK.{name}");
    assert_eq!(&within5(sub.next()).await.unwrap().payload[..], b"m0");
    assert_eq!(
        api(&c, &subject, json!(null)).await["push_bound"],
        json!(true)
    );

    sub.unsubscribe().await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(
        api(&c, &subject, json!(null)).await["push_bound"],
        json!(false)
    );
    // Published while nobody listens: the consumer finds no subscriber and waits.
    js.publish("LBACK.m", "away".into())
        .await
        .unwrap()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Nothing else happens in the stream: only the new subscription can wake it.
    let mut sub = c.subscribe(inbox.clone()).await.unwrap();
    let m = within5(sub.next())
        .await
        .expect("delivered once subscribed");
    assert_eq!(&m.payload[..], b"away");
    assert_eq!(
        api(&c, &subject, json!(null)).await["push_bound"],
        json!(true)
    );
}

#[tokio::test]
async fn a_push_consumer_without_subscriber_goes_away_after_its_inactive_threshold() {
    let t = Target::start().await;
    let c = t.client().await;
    let js = jetstream::new(c.clone());
    stream_with(&js, "LGONE", 1).await;
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await.unwrap();
    c.flush().await.unwrap();
    let name = create_push(
        &c,
        "LGONE",
        json!({"deliver_subject": inbox, "ack_policy": "none",
               "inactive_threshold": 1_000_000_000u64}),
    )
    .await;
    assert_eq!(&within5(sub.next()).await.unwrap().payload[..], b"m0");
    // Bound for longer than the threshold: it stays.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let subject = format!("$JS.API.CONSUMER.INFO.LGONE.{name}");
    let r = api(&c, &subject, json!(null)).await;
    assert!(r.get("error").is_none(), "bound consumer deleted: {r}");

    sub.unsubscribe().await.unwrap();
    c.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = api(&c, &subject, json!(null)).await;
    assert!(
        r.get("error").is_none(),
        "deleted before its threshold: {r}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = api(&c, &subject, json!(null)).await;
    assert_eq!(js_common::err_code(&r), 10014, "{r}");
}
