//! Core NATS through the official async-nats client: pub/sub, wildcards, queue groups,
//! request/reply, no-responders, headers, auto-unsubscribe, payload limits, ordering.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use common::{client, start_default};
use futures::StreamExt;

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5s")
        .expect("subscription open")
}

async fn wait_no_subscriptions(srv: &natrium::server::RunningServer) {
    for _ in 0..100 {
        if srv.shared.num_subscriptions() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("subscriptions left: {}", srv.shared.num_subscriptions());
}

async fn nothing_more(sub: &mut async_nats::Subscriber) {
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sub.next())
            .await
            .is_err(),
        "no further message expected"
    );
}

#[tokio::test]
async fn publish_subscribe() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut sub = c.subscribe("greet.joe").await.unwrap();
    c.flush().await.unwrap();
    c.publish("greet.joe", "hello".into()).await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), "greet.joe");
    assert_eq!(&m.payload[..], b"hello");
    assert_eq!(srv.shared.config.max_payload, 1024 * 1024);
}

#[tokio::test]
async fn wildcards() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut star = c.subscribe("a.*.c").await.unwrap();
    let mut gt = c.subscribe("a.>").await.unwrap();
    c.flush().await.unwrap();
    for s in ["a.b.c", "a.x.c", "a.b", "a.b.c.d", "b.b.c"] {
        c.publish(s, s.into()).await.unwrap();
    }
    c.flush().await.unwrap();
    assert_eq!(next(&mut star).await.subject.as_str(), "a.b.c");
    assert_eq!(next(&mut star).await.subject.as_str(), "a.x.c");
    nothing_more(&mut star).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next(&mut gt).await.subject.to_string());
    }
    assert_eq!(got, ["a.b.c", "a.x.c", "a.b", "a.b.c.d"]);
    nothing_more(&mut gt).await;
}

#[tokio::test]
async fn queue_groups_deliver_once_per_group() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(c.queue_subscribe("work", "workers".into()).await.unwrap());
    }
    let mut other = c.queue_subscribe("work", "auditors".into()).await.unwrap();
    let mut plain = c.subscribe("work").await.unwrap();
    c.flush().await.unwrap();
    let n = 300;
    for i in 0..n {
        c.publish("work", format!("{i}").into()).await.unwrap();
    }
    c.flush().await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_member = Vec::new();
    for m in members.iter_mut() {
        let mut count = 0;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), m.next()).await {
            *seen
                .entry(String::from_utf8_lossy(&msg.payload).into_owned())
                .or_default() += 1;
            count += 1;
        }
        per_member.push(count);
    }
    assert_eq!(seen.len(), n, "every message reached the group");
    assert!(seen.values().all(|&c| c == 1), "exactly once per group");
    assert!(
        per_member.iter().all(|&c| c > 30),
        "spread across members: {per_member:?}"
    );
    for _ in 0..n {
        next(&mut other).await;
        next(&mut plain).await;
    }
    nothing_more(&mut other).await;
}

#[tokio::test]
async fn request_reply() {
    let srv = start_default().await;
    let responder = client(&srv).await;
    let mut svc = responder.subscribe("svc.echo").await.unwrap();
    common::barrier(&responder).await;
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            if let Some(r) = m.reply {
                let mut body = b"echo:".to_vec();
                body.extend_from_slice(&m.payload);
                responder.publish(r, body.into()).await.unwrap();
            }
        }
    });
    let c = client(&srv).await;
    for i in 0..20 {
        let resp = c.request("svc.echo", format!("{i}").into()).await.unwrap();
        assert_eq!(resp.payload, Bytes::from(format!("echo:{i}")));
    }
}

#[tokio::test]
async fn no_responders() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let err = c.request("nobody.home", "x".into()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
}

#[tokio::test]
async fn headers_round_trip() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut sub = c.subscribe("h").await.unwrap();
    c.flush().await.unwrap();
    let mut h = HeaderMap::new();
    h.insert("X-Trace", "abc");
    h.append("X-Multi", "1");
    h.append("X-Multi", "2");
    c.publish_with_headers("h", h, "body".into()).await.unwrap();
    let m = next(&mut sub).await;
    let got = m.headers.expect("headers");
    assert_eq!(got.get("X-Trace").map(|v| v.as_str()), Some("abc"));
    let multi: Vec<_> = got
        .get_all("X-Multi")
        .map(|v| v.as_str().to_string())
        .collect();
    assert_eq!(multi, ["1", "2"]);
    assert_eq!(&m.payload[..], b"body");
}

#[tokio::test]
async fn auto_unsubscribe() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut sub = c.subscribe("au").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    c.flush().await.unwrap();
    for i in 0..10 {
        c.publish("au", format!("{i}").into()).await.unwrap();
    }
    c.flush().await.unwrap();
    let mut got = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        got.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    assert_eq!(got, ["0", "1", "2"]);
    // The server removed it: no subscriptions remain.
    wait_no_subscriptions(&srv).await;
}

#[tokio::test]
async fn one_megabyte_payload_accepted_larger_refused() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut sub = c.subscribe("big").await.unwrap();
    c.flush().await.unwrap();
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    c.publish("big", payload.clone().into()).await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.payload.len(), payload.len());
    assert_eq!(&m.payload[..], &payload[..]);
    let too_big = vec![0u8; 1024 * 1024 + 1];
    let err = c.publish("big", too_big.into()).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("payload"), "{err}");
}

#[tokio::test]
async fn hundred_thousand_messages_in_order() {
    let srv = start_default().await;
    let sub_client = async_nats::ConnectOptions::new()
        .subscription_capacity(200_000)
        .connect(srv.client_url())
        .await
        .unwrap();
    let mut sub = sub_client.subscribe("seq").await.unwrap();
    common::barrier(&sub_client).await;
    let pub_client = client(&srv).await;
    let n: u32 = 100_000;
    let publisher = tokio::spawn(async move {
        for i in 0..n {
            pub_client
                .publish("seq", i.to_be_bytes().to_vec().into())
                .await
                .unwrap();
        }
        pub_client.flush().await.unwrap();
    });
    for i in 0..n {
        let m = next(&mut sub).await;
        assert_eq!(&m.payload[..], &i.to_be_bytes(), "message {i} in order");
    }
    publisher.await.unwrap();
    nothing_more(&mut sub).await;
    let v = common::http_json(&srv, "/varz").await;
    assert!(v["in_msgs"].as_u64().unwrap() >= n as u64);
    assert!(v["out_msgs"].as_u64().unwrap() >= n as u64);
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut sub = c.subscribe("u").await.unwrap();
    c.flush().await.unwrap();
    c.publish("u", "1".into()).await.unwrap();
    next(&mut sub).await;
    sub.unsubscribe().await.unwrap();
    c.flush().await.unwrap();
    wait_no_subscriptions(&srv).await;
}

#[tokio::test]
async fn graceful_shutdown_flushes_and_closes() {
    let srv = start_default().await;
    let c = client(&srv).await;
    let mut sub = c.subscribe("s").await.unwrap();
    c.flush().await.unwrap();
    c.publish("s", "last".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], b"last");
    srv.shutdown();
    tokio::time::timeout(Duration::from_secs(5), srv.wait())
        .await
        .expect("shutdown completes");
    assert!(tokio::net::TcpStream::connect(srv.client_addr)
        .await
        .is_err());
}
