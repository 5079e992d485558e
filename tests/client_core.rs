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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
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
    let mut per_member = vec![0usize; members.len()];
    // Poll every member until all n arrived (30 s deadline), then a last short drain
    // that would only find duplicates.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut total = 0;
    for last_round in [false, true] {
        while total < n || last_round {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {total} of {n} within 30s"
            );
            for (i, m) in members.iter_mut().enumerate() {
                let quiet = Duration::from_millis(if last_round { 200 } else { 10 });
                while let Ok(Some(msg)) = tokio::time::timeout(quiet, m.next()).await {
                    *seen
                        .entry(String::from_utf8_lossy(&msg.payload).into_owned())
                        .or_default() += 1;
                    per_member[i] += 1;
                    total += 1;
                }
            }
            if last_round {
                break;
            }
        }
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
    for _ in 0..3 {
        got.push(String::from_utf8_lossy(&next(&mut sub).await.payload).into_owned());
    }
    assert_eq!(got, ["0", "1", "2"]);
    // The subscription ends after the third: the stream closes, nothing else arrives.
    let end = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("subscription ends within 10s");
    assert!(end.is_none(), "a fourth message: {end:?}");
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
    // async-nats refuses a larger payload itself (max_payload from INFO) ...
    let too_big = vec![0u8; 1024 * 1024 + 1];
    let err = c.publish("big", too_big.into()).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("payload"), "{err}");
    // ... so the server's own limit is checked on the wire, at the default 1 MiB.
    let mut raw = common::Raw::connect(&srv).await;
    assert_eq!(raw.info["max_payload"], 1024 * 1024);
    let mut input = b"CONNECT {\"verbose\":false}\r\nPUB big 1048577\r\n".to_vec();
    input.extend_from_slice(&vec![b'x'; 1024 * 1024 + 1]);
    input.extend_from_slice(b"\r\n");
    let (out, closed) = raw.exchange(&input).await;
    assert_eq!(out, "-ERR 'Maximum Payload Violation'\r\n");
    assert!(closed);
    // The refusal did not deliver anything: the subscriber gets the next message.
    c.publish("big", "after".into()).await.unwrap();
    assert_eq!(&next(&mut sub).await.payload[..], b"after");
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
    // async-nats also drops messages for a closed subscription on its side, so the
    // server's part is checked on the wire: after UNSUB 1 a publish reaches sid 2 only,
    // and PONG (answered after the PUB was routed) proves nothing else was sent.
    let mut raw = common::Raw::connect(&srv).await;
    let (out, _) = raw
        .exchange(b"CONNECT {\"verbose\":false}\r\nSUB u 1\r\nSUB u 2\r\nPUB u 1\r\na\r\nPING\r\n")
        .await;
    assert_eq!(out, "MSG u 1 1\r\na\r\nMSG u 2 1\r\na\r\nPONG\r\n");
    let (out, closed) = raw.exchange(b"UNSUB 1\r\nPUB u 1\r\nb\r\nPING\r\n").await;
    assert_eq!(
        out, "MSG u 2 1\r\nb\r\nPONG\r\n",
        "no MSG for sid 1 after UNSUB"
    );
    assert!(!closed);
}

/// Shutdown flushes what is queued for a client before closing it: a subscriber with
/// a small receive buffer that does not read holds megabytes in the server's outbound
/// queue when shutdown starts, and still receives every message, then EOF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_flushes_and_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const N: usize = 8000;
    let srv = start_default().await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut sub = sock.connect(srv.client_addr).await.unwrap();
    sub.write_all(b"CONNECT {\"verbose\":false}\r\nSUB s 1\r\nPING\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut tmp = vec![0u8; 1 << 16];
    while !got.ends_with(b"PONG\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), sub.read(&mut tmp))
            .await
            .expect("PONG within 10s")
            .unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&tmp[..n]);
    }
    // The publisher's PONG comes after the server routed all N messages.
    let mut p = common::Raw::connect(&srv).await;
    let payload = vec![b'x'; 1024];
    let mut batch = Vec::new();
    batch.extend_from_slice(b"CONNECT {\"verbose\":false}\r\n");
    for _ in 0..N {
        batch.extend_from_slice(b"PUB s 1024\r\n");
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
    }
    batch.extend_from_slice(b"PING\r\n");
    p.send(&batch).await;
    assert_eq!(p.read_line().await, "PONG");
    // Positive control: the flush below has work to do.
    let queued: usize = srv
        .shared
        .clients
        .read()
        .values()
        .map(|c| c.out.pending())
        .sum();
    assert!(
        queued > 1024 * 1024,
        "only {queued} bytes queued at shutdown"
    );
    srv.shutdown();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), sub.read_to_end(&mut rest))
        .await
        .expect("subscriber sees EOF within 30s")
        .expect("clean close, not a reset");
    let needle = b"MSG s 1 1024\r\n";
    let msgs = rest.windows(needle.len()).filter(|w| w == needle).count();
    assert_eq!(msgs, N, "every queued message flushed before the close");
    tokio::time::timeout(Duration::from_secs(10), srv.wait())
        .await
        .expect("shutdown completes");
    assert!(tokio::net::TcpStream::connect(srv.client_addr)
        .await
        .is_err());
}
