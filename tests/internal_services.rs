//! Internal services (the mechanism JetStream's API rides on): an internal subscription
//! receives client publishes, and a server-originated publish reaches client subscribers.

mod common;

use std::time::Duration;

use common::{client, start_default};
use futures::StreamExt;
use natrium::server::router::Message;

#[tokio::test]
async fn internal_service_answers_requests() {
    let srv = start_default().await;
    let shared = srv.shared.clone();
    let account = shared.accounts.global().clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let svc = shared.internal_client(&account, tx);
    shared
        .subscribe_internal(&svc, "svc.upper", None, "1")
        .unwrap();
    let responder = shared.clone();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let body = m.payload.to_ascii_uppercase();
            if let Some(reply) = &m.reply {
                responder.publish(
                    &responder.accounts.global().clone(),
                    &Message {
                        subject: reply.as_bytes(),
                        reply: None,
                        headers: None,
                        payload: &body,
                    },
                );
            }
        }
    });
    let c = client(&srv).await;
    let resp = c.request("svc.upper", "hello".into()).await.unwrap();
    assert_eq!(&resp.payload[..], b"HELLO");
    // Server-originated publishes reach ordinary subscribers too.
    let mut sub = c.subscribe("events.>").await.unwrap();
    // A round trip on the same connection: the server has processed the SUB after it.
    c.request("svc.upper", "barrier".into()).await.unwrap();
    assert!(shared.publish(
        &account,
        &Message {
            subject: b"events.a",
            reply: None,
            headers: Some(b"NATS/1.0\r\nK: v\r\n\r\n"),
            payload: b"x"
        }
    ));
    let m = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.headers.unwrap().get("K").unwrap().as_str(), "v");
    assert!(!shared.publish(
        &account,
        &Message {
            subject: b"nobody",
            reply: None,
            headers: None,
            payload: b""
        }
    ));
}

#[tokio::test]
async fn full_internal_queue_refuses_requests_with_the_busy_reply() {
    let srv = start_default().await;
    let shared = srv.shared.clone();
    let account = shared.accounts.global().clone();
    // A service that never reads, with room for one message.
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let svc = shared.internal_client(&account, tx);
    svc.busy_reply
        .set(bytes::Bytes::from_static(b"busy"))
        .unwrap();
    shared
        .subscribe_internal(&svc, "svc.slow", None, "1")
        .unwrap();
    let c = client(&srv).await;
    // The first request fills the queue and gets no answer.
    let first = c
        .send_request(
            "svc.slow",
            async_nats::Request::new().timeout(Some(Duration::from_millis(300))),
        )
        .await;
    assert!(first.is_err(), "first request is queued, unanswered");
    // The next is refused with the busy body instead of being dropped silently.
    let second = c.request("svc.slow", "x".into()).await.unwrap();
    assert_eq!(&second.payload[..], b"busy");
    assert!(
        shared
            .stats
            .internal_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}
