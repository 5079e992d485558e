//! JetStream consumers through async-nats' jetstream API and raw `$JS.API` requests:
//! pull and push, every deliver and ack policy, redelivery (ack wait, backoff, nak
//! with delay, max_deliver with its advisory), term, in-progress, double acks,
//! workqueue and interest retention, filters, pull request limits and statuses,
//! queue push, ordered consumers, heartbeats and flow control, state after restart.

mod common;
mod js_common;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, pull, push, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, stream, AckKind};
use futures::StreamExt;
use js_common::{api, err_code, start_js};
use serde_json::json;

async fn setup(
    dir: &std::path::Path,
    cfg: stream::Config,
) -> (
    natrium::server::RunningServer,
    async_nats::Client,
    jetstream::Context,
    stream::Stream,
) {
    let srv = start_js(dir).await;
    let c = common::client(&srv).await;
    let js = jetstream::new(c.clone());
    let s = js.create_stream(cfg).await.expect("stream created");
    (srv, c, js, s)
}

fn stream_cfg(name: &str, subjects: &[&str]) -> stream::Config {
    stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn publish_n(js: &jetstream::Context, subject: &str, n: usize) {
    for i in 0..n {
        js.publish(subject.to_string(), format!("m{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// Fetches up to `n` messages (waiting at most `wait`).
async fn fetch(
    c: &consumer::Consumer<pull::Config>,
    n: usize,
    wait: Duration,
) -> Vec<jetstream::Message> {
    let mut batch = c
        .fetch()
        .max_messages(n)
        .expires(wait)
        .messages()
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        out.push(m.unwrap());
    }
    out
}

fn payloads(msgs: &[jetstream::Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

#[tokio::test]
async fn pull_consumer_explicit_ack_state() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("S", &["s.>"])).await;
    publish_n(&js, "s.a", 10).await;
    let mut con = s
        .create_consumer(pull::Config {
            durable_name: Some("d".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let info = con.info().await.unwrap().clone();
    assert_eq!(info.num_pending, 10);
    assert_eq!(info.config.max_ack_pending, 1000);
    assert_eq!(info.config.ack_wait, Duration::from_secs(30));
    let msgs = fetch(&con, 4, Duration::from_secs(2)).await;
    assert_eq!(payloads(&msgs), ["m0", "m1", "m2", "m3"]);
    let i = msgs[3].info().unwrap();
    assert_eq!(
        (
            i.stream_sequence,
            i.consumer_sequence,
            i.delivered,
            i.pending
        ),
        (4, 4, 1, 6)
    );
    assert_eq!(msgs[0].subject.as_str(), "s.a");
    msgs[0].ack().await.unwrap();
    msgs[2].double_ack().await.unwrap();
    common::barrier(&js_client(&js)).await;
    let info = con.info().await.unwrap().clone();
    assert_eq!(info.delivered.stream_sequence, 4);
    assert_eq!(info.delivered.consumer_sequence, 4);
    assert_eq!(info.ack_floor.stream_sequence, 1);
    assert_eq!(info.num_ack_pending, 2);
    assert_eq!(info.num_pending, 6);
    js_common::stop(srv).await;
}

fn js_client(js: &jetstream::Context) -> async_nats::Client {
    js.client()
}

#[tokio::test]
async fn deliver_policies() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("P", &["p.*"])).await;
    for (i, subj) in ["p.a", "p.b", "p.a", "p.c", "p.b"].iter().enumerate() {
        js.publish(subj.to_string(), format!("{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mid = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(20)).await;
    js.publish("p.d", "5".into()).await.unwrap().await.unwrap();
    let cases: Vec<(DeliverPolicy, Vec<&str>)> = vec![
        (DeliverPolicy::All, vec!["0", "1", "2", "3", "4", "5"]),
        (DeliverPolicy::Last, vec!["5"]),
        (DeliverPolicy::New, vec![]),
        (
            DeliverPolicy::ByStartSequence { start_sequence: 4 },
            vec!["3", "4", "5"],
        ),
        (DeliverPolicy::ByStartTime { start_time: mid }, vec!["5"]),
        (DeliverPolicy::LastPerSubject, vec!["2", "3", "4", "5"]),
    ];
    for (i, (policy, want)) in cases.into_iter().enumerate() {
        let con = s
            .create_consumer(pull::Config {
                durable_name: Some(format!("c{i}")),
                deliver_policy: policy,
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let got = fetch(&con, 10, Duration::from_millis(300)).await;
        assert_eq!(payloads(&got), want, "policy {policy:?}");
    }
    // Last with a filter picks the filter's last message.
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("lastb".into()),
            deliver_policy: DeliverPolicy::Last,
            filter_subject: "p.b".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        payloads(&fetch(&con, 10, Duration::from_millis(300)).await),
        ["4"]
    );
    js_common::stop(srv).await;
}

#[tokio::test]
async fn ack_all_and_ack_none() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("A", &["a"])).await;
    publish_n(&js, "a", 6).await;
    let mut all = s
        .create_consumer(pull::Config {
            durable_name: Some("all".into()),
            ack_policy: AckPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let msgs = fetch(&all, 6, Duration::from_secs(1)).await;
    assert_eq!(msgs.len(), 6);
    msgs[3].double_ack().await.unwrap();
    let info = all.info().await.unwrap().clone();
    assert_eq!(info.ack_floor.stream_sequence, 4);
    assert_eq!(info.num_ack_pending, 2);
    let mut none = s
        .create_consumer(pull::Config {
            durable_name: Some("none".into()),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fetch(&none, 6, Duration::from_secs(1)).await.len(), 6);
    let info = none.info().await.unwrap().clone();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.ack_floor.stream_sequence, 6);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn redelivery_after_ack_wait_and_max_deliver_advisory() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, js, s) = setup(dir.path(), stream_cfg("R", &["r"])).await;
    let mut adv = c
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.R.d")
        .await
        .unwrap();
    common::barrier(&c).await;
    publish_n(&js, "r", 1).await;
    let mut con = s
        .create_consumer(pull::Config {
            durable_name: Some("d".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_millis(300),
            max_deliver: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let start = Instant::now();
    let mut deliveries = Vec::new();
    while deliveries.len() < 3 && start.elapsed() < Duration::from_secs(30) {
        for m in fetch(&con, 1, Duration::from_millis(500)).await {
            deliveries.push((start.elapsed(), m.info().unwrap().delivered));
        }
    }
    let counts: Vec<i64> = deliveries.iter().map(|d| d.1).collect();
    assert_eq!(counts, [1, 2, 3]);
    // Each redelivery waited for the ack wait.
    assert!(
        deliveries[1].0 >= Duration::from_millis(280),
        "{deliveries:?}"
    );
    assert!(deliveries[2].0 - deliveries[1].0 >= Duration::from_millis(280));
    // No fourth delivery; the advisory says why.
    assert!(fetch(&con, 1, Duration::from_millis(700)).await.is_empty());
    let a = tokio::time::timeout(Duration::from_secs(2), adv.next())
        .await
        .expect("max deliveries advisory")
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&a.payload).unwrap();
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.max_deliver");
    assert_eq!(v["stream_seq"], 1);
    assert_eq!(v["deliveries"], 3);
    let info = con.info().await.unwrap().clone();
    assert_eq!(info.num_ack_pending, 0);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn backoff_nak_with_delay_term_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("B", &["b.*"])).await;
    publish_n(&js, "b.1", 1).await;
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("bo".into()),
            ack_policy: AckPolicy::Explicit,
            backoff: vec![Duration::from_millis(200), Duration::from_millis(800)],
            max_deliver: 5,
            filter_subject: "b.1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(fetch(&con, 1, Duration::from_secs(1)).await.len(), 1);
    let second = fetch(&con, 1, Duration::from_secs(2)).await;
    let t1 = t0.elapsed();
    assert_eq!(second.len(), 1);
    assert!(t1 >= Duration::from_millis(180), "first backoff {t1:?}");
    let third = fetch(&con, 1, Duration::from_secs(3)).await;
    let t2 = t0.elapsed();
    assert_eq!(third.len(), 1);
    assert!(
        t2 - t1 >= Duration::from_millis(700),
        "second backoff {:?}",
        t2 - t1
    );
    third[0].ack().await.unwrap();

    // Nak with a delay, term, and in-progress on a second consumer.
    publish_n(&js, "b.2", 2).await;
    let con2 = s
        .create_consumer(pull::Config {
            durable_name: Some("nk".into()),
            ack_policy: AckPolicy::Explicit,
            // Far beyond the nak delay: a redelivery within the 10 s fetch below is the
            // nak delay's doing, not the ack wait's.
            ack_wait: Duration::from_secs(30),
            filter_subject: "b.2".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let msgs = fetch(&con2, 2, Duration::from_secs(1)).await;
    assert_eq!(msgs.len(), 2);
    let t = Instant::now();
    msgs[0]
        .ack_with(AckKind::Nak(Some(Duration::from_millis(300))))
        .await
        .unwrap();
    msgs[1].ack_with(AckKind::Term).await.unwrap();
    let again = fetch(&con2, 1, Duration::from_secs(10)).await;
    assert_eq!(
        payloads(&again),
        ["m0"],
        "only the nak'd message comes back, after the nak delay (ack wait is 30 s)"
    );
    assert!(t.elapsed() >= Duration::from_millis(280));
    assert!(
        fetch(&con2, 1, Duration::from_millis(300)).await.is_empty(),
        "the terminated message stays gone"
    );
    again[0].ack().await.unwrap();

    // In progress pushes the deadline: no redelivery at the original ack wait. Ack
    // wait 4 s; +WPI at 2 s moves it to 6 s; nothing may arrive from 2 s to 5 s (the
    // original deadline plus a second), and the message comes back after that.
    publish_n(&js, "b.3", 1).await;
    let con3 = s
        .create_consumer(pull::Config {
            durable_name: Some("wp".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(4),
            filter_subject: "b.3".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = fetch(&con3, 1, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    first[0].ack_with(AckKind::Progress).await.unwrap();
    let none = fetch(&con3, 1, Duration::from_secs(3)).await;
    assert!(none.is_empty(), "redelivered despite +WPI");
    let back = fetch(&con3, 1, Duration::from_secs(10)).await;
    assert_eq!(back.len(), 1);
    assert!(
        t.elapsed() >= Duration::from_millis(5900),
        "{:?}",
        t.elapsed()
    );
    js_common::stop(srv).await;
}

#[tokio::test]
async fn workqueue_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = stream_cfg("WQ", &["wq.*"]);
    cfg.retention = stream::RetentionPolicy::WorkQueue;
    let (srv, c, js, mut s) = setup(dir.path(), cfg).await;
    publish_n(&js, "wq.a", 3).await;
    publish_n(&js, "wq.b", 2).await;
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("wa".into()),
            ack_policy: AckPolicy::Explicit,
            filter_subject: "wq.a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    for m in fetch(&con, 3, Duration::from_secs(1)).await {
        m.double_ack().await.unwrap();
    }
    assert_eq!(s.info().await.unwrap().state.messages, 2);
    // Overlapping and second unfiltered consumers are refused.
    let over = api(
        &c,
        "$JS.API.CONSUMER.CREATE.WQ.x",
        json!({"stream_name":"WQ","config":{"name":"x","ack_policy":"explicit","filter_subject":"wq.a"}}),
    )
    .await;
    assert_eq!(err_code(&over), 10100);
    let unfiltered = api(
        &c,
        "$JS.API.CONSUMER.CREATE.WQ.y",
        json!({"stream_name":"WQ","config":{"name":"y","ack_policy":"explicit"}}),
    )
    .await;
    assert_eq!(err_code(&unfiltered), 10099);
    let none = api(
        &c,
        "$JS.API.CONSUMER.CREATE.WQ.z",
        json!({"stream_name":"WQ","config":{"name":"z","ack_policy":"none","filter_subject":"wq.b"}}),
    )
    .await;
    assert_eq!(err_code(&none), 10084);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn interest_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = stream_cfg("IN", &["in.*"]);
    cfg.retention = stream::RetentionPolicy::Interest;
    let (srv, _c, js, mut s) = setup(dir.path(), cfg).await;
    // No consumer: nothing is kept.
    publish_n(&js, "in.x", 2).await;
    assert_eq!(s.info().await.unwrap().state.messages, 0);
    let mk = |name: &str, filter: &str| pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        filter_subject: filter.into(),
        ..Default::default()
    };
    let c1 = s.create_consumer(mk("c1", "")).await.unwrap();
    let c2 = s.create_consumer(mk("c2", "in.x")).await.unwrap();
    publish_n(&js, "in.x", 2).await;
    publish_n(&js, "in.y", 1).await;
    assert_eq!(s.info().await.unwrap().state.messages, 3);
    for m in fetch(&c1, 3, Duration::from_secs(1)).await {
        m.double_ack().await.unwrap();
    }
    // in.y only interested c1: gone; in.x still waits for c2.
    assert_eq!(s.info().await.unwrap().state.messages, 2);
    let m2 = fetch(&c2, 2, Duration::from_secs(1)).await;
    m2[0].double_ack().await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 1);
    // Deleting the consumer that still holds a message releases it.
    s.delete_consumer("c2").await.unwrap();
    assert_eq!(s.info().await.unwrap().state.messages, 0);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn filter_subjects_multiple() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, js, s) = setup(dir.path(), stream_cfg("F", &["f.>"])).await;
    for subj in ["f.a", "f.b", "f.c.1", "f.a", "f.c.2", "f.d"] {
        js.publish(subj, subj.into()).await.unwrap().await.unwrap();
    }
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("multi".into()),
            filter_subjects: vec!["f.a".into(), "f.c.*".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let got = fetch(&con, 10, Duration::from_millis(400)).await;
    assert_eq!(payloads(&got), ["f.a", "f.c.1", "f.a", "f.c.2"]);
    assert_eq!(got[1].info().unwrap().stream_sequence, 3);
    let bad = api(
        &c,
        "$JS.API.CONSUMER.CREATE.F.bad",
        json!({"stream_name":"F","config":{"name":"bad","filter_subjects":["f.a","f.*"]}}),
    )
    .await;
    assert_eq!(err_code(&bad), 10138);
    let bad = api(
        &c,
        "$JS.API.CONSUMER.CREATE.F.bad.f.a",
        json!({"stream_name":"F","config":{"name":"bad","filter_subject":"f.b"}}),
    )
    .await;
    assert_eq!(err_code(&bad), 10131);
    let notsub = api(
        &c,
        "$JS.API.CONSUMER.CREATE.F.ns",
        json!({"stream_name":"F","config":{"name":"ns","filter_subject":"g.x"}}),
    )
    .await;
    assert_eq!(err_code(&notsub), 10093);
    js_common::stop(srv).await;
}

/// Sends a raw pull request and collects what arrives on its inbox for `wait`.
async fn raw_pull(
    c: &async_nats::Client,
    consumer: &str,
    body: serde_json::Value,
    wait: Duration,
) -> Vec<async_nats::Message> {
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await.unwrap();
    common::barrier(c).await;
    c.publish_with_reply(
        format!("$JS.API.CONSUMER.MSG.NEXT.{consumer}"),
        inbox,
        serde_json::to_vec(&body).unwrap().into(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let end = tokio::time::Instant::now() + wait;
    while let Ok(Some(m)) = tokio::time::timeout_at(end, sub.next()).await {
        out.push(m);
    }
    out
}

fn status_of(m: &async_nats::Message) -> Option<(u16, String)> {
    m.status
        .map(|s| (s.as_u16(), m.description.clone().unwrap_or_default()))
}

#[tokio::test]
async fn pull_request_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, js, s) = setup(dir.path(), stream_cfg("Q", &["q"])).await;
    s.create_consumer(pull::Config {
        durable_name: Some("d".into()),
        ack_policy: AckPolicy::Explicit,
        max_batch: 5,
        max_waiting: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    // no_wait on an empty stream: 404.
    let r = raw_pull(
        &c,
        "Q.d",
        json!({"batch": 2, "no_wait": true}),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(r.len(), 1);
    assert_eq!(status_of(&r[0]).map(|s| s.0), Some(404));
    // expires with nothing: 408 after the expiry.
    let t = Instant::now();
    let r = raw_pull(
        &c,
        "Q.d",
        json!({"batch": 2, "expires": 300_000_000}),
        Duration::from_millis(700),
    )
    .await;
    assert_eq!(r.len(), 1);
    assert_eq!(status_of(&r[0]).map(|s| s.0), Some(408));
    assert!(t.elapsed() >= Duration::from_millis(300));
    // batch over max_batch: 409.
    let r = raw_pull(&c, "Q.d", json!({"batch": 6}), Duration::from_millis(300)).await;
    assert_eq!(
        status_of(&r[0]),
        Some((409, "Exceeded MaxRequestBatch of 5".into()))
    );
    // heartbeat too large for the expiry: 400.
    let r = raw_pull(
        &c,
        "Q.d",
        json!({"batch": 1, "expires": 1_000_000_000, "idle_heartbeat": 800_000_000}),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(status_of(&r[0]).map(|s| s.0), Some(400));
    // Data, then no_wait: the messages, then 408 to end the request.
    publish_n(&js, "q", 3).await;
    let r = raw_pull(
        &c,
        "Q.d",
        json!({"batch": 5, "no_wait": true}),
        Duration::from_millis(400),
    )
    .await;
    assert_eq!(r.len(), 4, "{r:?}");
    assert!(r[..3].iter().all(|m| m.status.is_none()));
    assert_eq!(status_of(&r[3]).map(|s| s.0), Some(408));
    // max_bytes smaller than the next message: 409 Message Size Exceeds MaxBytes.
    publish_n(&js, "q", 1).await;
    let r = raw_pull(
        &c,
        "Q.d",
        json!({"batch": 1, "max_bytes": 2, "expires": 500_000_000}),
        Duration::from_millis(400),
    )
    .await;
    assert_eq!(
        status_of(&r[0]),
        Some((409, "Message Size Exceeds MaxBytes".into()))
    );
    // Idle heartbeats while a request waits (on a consumer with nothing to deliver).
    s.create_consumer(pull::Config {
        durable_name: Some("idle".into()),
        deliver_policy: DeliverPolicy::New,
        ..Default::default()
    })
    .await
    .unwrap();
    let c2 = common::client(&srv).await;
    let r = raw_pull(
        &c2,
        "Q.idle",
        json!({"batch": 1, "expires": 2_000_000_000, "idle_heartbeat": 300_000_000}),
        Duration::from_millis(1000),
    )
    .await;
    let hbs = r
        .iter()
        .filter(|m| status_of(m).map(|s| s.0) == Some(100))
        .count();
    assert!(hbs >= 1, "heartbeats {r:?}");
    // max_waiting 1: a second waiting request is refused.
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(format!("{inbox}.>")).await.unwrap();
    common::barrier(&c).await;
    for i in 0..2 {
        c.publish_with_reply(
            "$JS.API.CONSUMER.MSG.NEXT.Q.d",
            format!("{inbox}.{i}"),
            serde_json::to_vec(&json!({"batch": 1, "expires": 2_000_000_000}))
                .unwrap()
                .into(),
        )
        .await
        .unwrap();
    }
    let m = tokio::time::timeout(Duration::from_secs(1), sub.next())
        .await
        .unwrap()
        .unwrap();
    // The first one gets the redelivery-free next message or waits; the second is refused.
    let refused = if m.status.is_some() {
        m
    } else {
        tokio::time::timeout(Duration::from_secs(1), sub.next())
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(refused.subject.as_str(), format!("{inbox}.1"));
    assert_eq!(
        status_of(&refused),
        Some((409, "Exceeded MaxWaiting".into()))
    );
    js_common::stop(srv).await;
}

#[tokio::test]
async fn push_consumer_with_queue_group_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, js, s) = setup(dir.path(), stream_cfg("PQ", &["pq"])).await;
    let mut a = c.queue_subscribe("deliver.pq", "grp".into()).await.unwrap();
    let mut b = c.queue_subscribe("deliver.pq", "grp".into()).await.unwrap();
    common::barrier(&c).await;
    s.create_consumer(push::Config {
        durable_name: Some("pd".into()),
        deliver_subject: "deliver.pq".into(),
        deliver_group: Some("grp".into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    })
    .await
    .unwrap();
    publish_n(&js, "pq", 40).await;
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 40 {
        let m = tokio::select! {
            m = a.next() => m,
            m = b.next() => m,
            _ = tokio::time::sleep_until(end) => panic!("only {} of 40 within 30s", seen.len()),
        }
        .expect("subscription open");
        assert_eq!(m.subject.as_str(), "pq");
        let reply = m.reply.clone().unwrap();
        assert!(reply.starts_with("$JS.ACK.PQ.pd."), "{reply}");
        seen.push(String::from_utf8_lossy(&m.payload).into_owned());
        c.publish(reply, "".into()).await.unwrap();
    }
    // Forty deliveries, each message once: no duplicate among them.
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 40, "duplicates among {seen:?}");
    // And nothing beyond them: the consumer delivered exactly 40 and all are acked.
    let mut cons: async_nats::jetstream::consumer::PushConsumer =
        s.get_consumer("pd").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info = cons.info().await.unwrap().clone();
        if info.num_ack_pending == 0 {
            assert_eq!(info.delivered.consumer_sequence, 40, "{info:?}");
            assert_eq!(info.ack_floor.consumer_sequence, 40, "{info:?}");
            assert_eq!(info.num_redelivered, 0, "{info:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "acks not applied: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for sub in [&mut a, &mut b] {
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            panic!("a 41st delivery: {m:?}");
        }
    }
    js_common::stop(srv).await;
}

#[tokio::test]
async fn push_heartbeats_and_flow_control() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, js, s) = setup(dir.path(), stream_cfg("HB", &["hb"])).await;
    let mut sub = c.subscribe("deliver.hb").await.unwrap();
    common::barrier(&c).await;
    s.create_consumer(push::Config {
        deliver_subject: "deliver.hb".into(),
        flow_control: true,
        idle_heartbeat: Duration::from_millis(200),
        ..Default::default()
    })
    .await
    .unwrap();
    // Idle: heartbeats with the last sequences.
    let m = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status_of(&m), Some((100, "Idle Heartbeat".into())));
    let h = m.headers.unwrap();
    assert_eq!(h.get("Nats-Last-Consumer").unwrap().as_str(), "0");
    // Enough data for a flow-control request; nothing more until it is answered.
    let big = vec![b'x'; 64 * 1024];
    for _ in 0..12 {
        js.publish("hb", big.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut got = 0;
    let mut fc = None;
    let end = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(m)) = tokio::time::timeout_at(end, sub.next()).await {
        if status_of(&m).map(|s| s.1) == Some("FlowControl Request".into()) {
            fc = m.reply.clone();
            break;
        }
        if m.status.is_none() {
            got += 1;
        }
    }
    let fc = fc.expect("flow control request");
    assert!(fc.starts_with("$JS.FC.HB."));
    assert!((1..12).contains(&got), "got {got}");
    // Without a reply the consumer stalls: at most one more window of data, then
    // only heartbeats that name the pending flow-control subject.
    let mut stalled_hb = false;
    let end = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(m)) = tokio::time::timeout_at(end, sub.next()).await {
        match status_of(&m) {
            None => got += 1,
            Some((100, d)) if d == "Idle Heartbeat" => {
                let h = m.headers.unwrap();
                if h.get("Nats-Consumer-Stalled")
                    .map(|v| v.as_str().to_string())
                    == Some(fc.to_string())
                {
                    stalled_hb = true;
                }
            }
            Some(_) => {}
        }
    }
    assert!(stalled_hb, "a stalled heartbeat");
    assert!(got < 12, "stalled after {got}");
    c.publish(fc, "".into()).await.unwrap();
    let end = tokio::time::Instant::now() + Duration::from_secs(3);
    while got < 12 {
        let Ok(Some(m)) = tokio::time::timeout_at(end, sub.next()).await else {
            break;
        };
        if m.status.is_none() {
            got += 1;
        } else if let Some(r) = m.reply.clone() {
            c.publish(r, "".into()).await.unwrap();
        }
    }
    assert_eq!(got, 12);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn ordered_consumers_push_and_pull() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("O", &["o.*"])).await;
    publish_n(&js, "o.a", 50).await;
    let push_ordered = s
        .create_consumer(push::OrderedConfig {
            deliver_subject: js.client().new_inbox(),
            filter_subject: "o.a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = push_ordered.messages().await.unwrap();
    for i in 0..50 {
        let m = tokio::time::timeout(Duration::from_secs(3), msgs.next())
            .await
            .expect("ordered push message")
            .unwrap()
            .unwrap();
        assert_eq!(m.payload.as_ref(), format!("m{i}").as_bytes());
    }
    let pull_ordered = s
        .create_consumer(pull::OrderedConfig {
            filter_subject: "o.a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = pull_ordered.messages().await.unwrap();
    for i in 0..50 {
        let m = tokio::time::timeout(Duration::from_secs(3), msgs.next())
            .await
            .expect("ordered pull message")
            .unwrap()
            .unwrap();
        assert_eq!(m.payload.as_ref(), format!("m{i}").as_bytes());
    }
    js_common::stop(srv).await;
}

#[tokio::test]
async fn consumer_api_errors_names_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, _js, s) = setup(dir.path(), stream_cfg("E", &["e"])).await;
    let r = api(&c, "$JS.API.CONSUMER.INFO.E.nope", json!(null)).await;
    assert_eq!(err_code(&r), 10014);
    assert_eq!(r["type"], "io.nats.jetstream.api.v1.consumer_info_response");
    let r = api(&c, "$JS.API.CONSUMER.INFO.NOSTREAM.x", json!(null)).await;
    assert_eq!(err_code(&r), 10059);
    let r = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.x",
        json!({"stream_name":"E"}),
    )
    .await;
    assert_eq!(err_code(&r), 10078);
    let r = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.x",
        json!({"stream_name":"E","config":{"durable_name":"y"}}),
    )
    .await;
    assert_eq!(err_code(&r), 10017);
    let r = api(
        &c,
        "$JS.API.CONSUMER.DURABLE.CREATE.E.x",
        json!({"stream_name":"E","config":{}}),
    )
    .await;
    assert_eq!(err_code(&r), 10018);
    let r = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.x",
        json!({"stream_name":"E","config":{"name":"x","deliver_subject":"e"}}),
    )
    .await;
    assert_eq!(err_code(&r), 10081);
    let r = api(&c, "$JS.API.CONSUMER.CREATE.E.x", json!({"stream_name":"E","config":{"name":"x","ack_policy":"explicit","backoff":[1000000000],"max_deliver":1}})).await;
    assert_eq!(err_code(&r), 10116);
    // Create, create again identical (same consumer), create with action=create and
    // a different config (10148), update of a missing consumer (10149).
    let ok = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.x",
        json!({"stream_name":"E","config":{"name":"x","durable_name":"x"}}),
    )
    .await;
    assert_eq!(ok["name"], "x", "{ok}");
    assert_eq!(
        ok["type"],
        "io.nats.jetstream.api.v1.consumer_create_response"
    );
    let again = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.x",
        json!({"stream_name":"E","config":{"name":"x","durable_name":"x"}}),
    )
    .await;
    assert_eq!(again["created"], ok["created"]);
    let r = api(&c, "$JS.API.CONSUMER.CREATE.E.x", json!({"stream_name":"E","action":"create","config":{"name":"x","durable_name":"x","description":"other"}})).await;
    assert_eq!(err_code(&r), 10148);
    let r = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.z",
        json!({"stream_name":"E","action":"update","config":{"name":"z"}}),
    )
    .await;
    assert_eq!(err_code(&r), 10149);
    let r = api(
        &c,
        "$JS.API.CONSUMER.CREATE.E.x",
        json!({"stream_name":"E","config":{"name":"x","durable_name":"x","ack_policy":"explicit"}}),
    )
    .await;
    assert_eq!(err_code(&r), 10012, "ack policy can not be updated: {r}");
    s.create_consumer(pull::Config {
        durable_name: Some("y".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let names = api(&c, "$JS.API.CONSUMER.NAMES.E", json!(null)).await;
    assert_eq!(names["consumers"], json!(["x", "y"]));
    assert_eq!(names["total"], 2);
    let list = api(&c, "$JS.API.CONSUMER.LIST.E", json!({"offset": 1})).await;
    assert_eq!(list["consumers"].as_array().unwrap().len(), 1);
    assert_eq!(list["consumers"][0]["name"], "y");
    let info = api(&c, "$JS.API.STREAM.INFO.E", json!(null)).await;
    assert_eq!(info["state"]["consumer_count"], 2);
    let j = common::http_json(&srv, "/jsz?consumers=1").await;
    assert_eq!(j["consumers"], 2);
    let detail = &j["account_details"][0]["stream_detail"][0]["consumer_detail"];
    assert_eq!(detail.as_array().map(Vec::len), Some(2), "{j}");
    assert_eq!(detail[0]["name"], "x");
    let del = api(&c, "$JS.API.CONSUMER.DELETE.E.x", json!(null)).await;
    assert_eq!(del["success"], true);
    let del = api(&c, "$JS.API.CONSUMER.DELETE.E.x", json!(null)).await;
    assert_eq!(err_code(&del), 10014);
    let acct = api(&c, "$JS.API.INFO", json!(null)).await;
    assert_eq!(acct["consumers"], 1);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn ephemeral_consumer_goes_away_after_inactivity() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, c, _js, s) = setup(dir.path(), stream_cfg("EP", &["ep"])).await;
    let con = s
        .create_consumer(pull::Config {
            inactive_threshold: Duration::from_millis(400),
            ..Default::default()
        })
        .await
        .unwrap();
    let name = con.cached_info().name.clone();
    let r = api(&c, &format!("$JS.API.CONSUMER.INFO.EP.{name}"), json!(null)).await;
    assert!(r.get("error").is_none());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = api(&c, &format!("$JS.API.CONSUMER.INFO.EP.{name}"), json!(null)).await;
    assert_eq!(err_code(&r), 10014);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn consumer_state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("RS", &["rs"])).await;
    publish_n(&js, "rs", 10).await;
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("keep".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let msgs = fetch(&con, 5, Duration::from_secs(1)).await;
    for m in &msgs[..3] {
        m.double_ack().await.unwrap();
    }
    js_common::stop(srv).await;

    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let js = jetstream::new(c);
    let s = js.get_stream("RS").await.unwrap();
    let mut con: consumer::Consumer<pull::Config> = s.get_consumer("keep").await.unwrap();
    let info = con.info().await.unwrap().clone();
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(info.delivered.stream_sequence, 5);
    assert_eq!(info.ack_floor.stream_sequence, 3);
    assert_eq!(info.num_ack_pending, 2);
    assert_eq!(info.num_pending, 5);
    // New messages continue after the delivered position.
    let next = fetch(&con, 5, Duration::from_secs(1)).await;
    assert_eq!(payloads(&next), ["m5", "m6", "m7", "m8", "m9"]);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn headers_only_and_replay_original() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("H", &["h"])).await;
    js.publish("h", "12345".into())
        .await
        .unwrap()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    js.publish("h", "6".into()).await.unwrap().await.unwrap();
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("ho".into()),
            headers_only: true,
            replay_policy: consumer::ReplayPolicy::Original,
            ..Default::default()
        })
        .await
        .unwrap();
    let t = Instant::now();
    let msgs = fetch(&con, 2, Duration::from_secs(2)).await;
    assert_eq!(msgs.len(), 2);
    assert!(msgs[0].payload.is_empty());
    let h = msgs[0].headers.clone().unwrap();
    assert_eq!(h.get("Nats-Msg-Size").unwrap().as_str(), "5");
    // The second message kept its original distance from the first.
    assert!(
        t.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t.elapsed()
    );
    js_common::stop(srv).await;
}

#[tokio::test]
async fn large_pull_batch_is_filled_past_one_delivery_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = stream_cfg("L", &["l"]);
    cfg.storage = stream::StorageType::Memory;
    let (srv, _c, js, s) = setup(dir.path(), cfg).await;
    // Acks awaited in windows: the client limits how many may be outstanding.
    for chunk in 0..60 {
        let mut acks = Vec::new();
        for i in chunk * 100..(chunk + 1) * 100 {
            acks.push(js.publish("l", format!("{i}").into()).await.unwrap());
        }
        for a in acks {
            a.await.unwrap();
        }
    }
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("big".into()),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let got = fetch(&con, 6000, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 6000);
    assert_eq!(got[5999].payload.as_ref(), b"5999");
    js_common::stop(srv).await;
}

/// A consumer reads upcoming messages ahead in one scan; a message deleted or purged
/// after that read must not be delivered, and the rest must still arrive in order.
#[tokio::test]
async fn messages_removed_after_read_ahead_are_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, _c, js, s) = setup(dir.path(), stream_cfg("RA", &["ra.>"])).await;
    publish_n(&js, "ra.x", 20).await;
    let con = s
        .create_consumer(pull::Config {
            durable_name: Some("ra".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // The first fetch makes the consumer read ahead past what it delivers.
    let first = fetch(&con, 2, Duration::from_secs(2)).await;
    assert_eq!(payloads(&first), ["m0", "m1"]);
    // Then interior deletes (seq 4 = "m3", seq 10 = "m9") and a purge below seq 8.
    assert!(s.delete_message(4).await.unwrap());
    assert!(s.delete_message(10).await.unwrap());
    let r = s.purge().sequence(8).await.unwrap();
    assert_eq!(r.purged, 6, "seqs 1, 2, 3, 5, 6, 7");
    let rest = fetch(&con, 20, Duration::from_secs(1)).await;
    let want: Vec<String> = (7..20)
        .filter(|i| *i != 9)
        .map(|i| format!("m{i}"))
        .collect();
    assert_eq!(payloads(&rest), want);
    let info = con.clone().info().await.unwrap().clone();
    assert_eq!(info.num_pending, 0);
    js_common::stop(srv).await;
}
