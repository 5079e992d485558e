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
