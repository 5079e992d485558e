//! `allow_responses` as nats-server 2.15.1 applies it: alone it limits publishing to
//! the reply subjects of requests the user received, `max` times each, for `expires`;
//! with an allow list it adds those replies to it. Checked with raw sockets (exact
//! `-ERR` texts, synchronised by PING/PONG) and with async-nats request/reply.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{start_server, Raw};
use futures::StreamExt;
use natrium::config::Config;

fn config(auth: &str) -> Config {
    let text = format!("host: 127.0.0.1\nport: -1\n{auth}");
    let mut cfg = natrium::config::load_str(&text, "test.conf", Path::new("/tmp"))
        .expect("config loads")
        .config;
    cfg.http_port = None;
    cfg
}

const USERS: &str = r#"authorization { users: [
  { user: svc, password: s, permissions: { subscribe: "svc.>", allow_responses: true } }
  { user: svc2, password: s, permissions: { subscribe: "svc.>", allow_responses: { max: 2 } } }
  { user: svcx, password: s, permissions: { subscribe: "svc.>", allow_responses: { expires: "300ms" } } }
  { user: mixed, password: s, permissions: { publish: "pub.>", subscribe: "svc.>", allow_responses: true } }
  { user: req, password: r }
] }"#;

/// Sends `ops` then PING, and returns everything received before the PONG.
async fn ops(c: &mut Raw, ops: &str) -> String {
    c.send(format!("{ops}PING\r\n").as_bytes()).await;
    let mut out = String::new();
    loop {
        let line = c.read_line().await;
        if line == "PONG" {
            return out;
        }
        out.push_str(&line);
        out.push_str("\r\n");
    }
}

async fn login(srv: &natrium::server::RunningServer, user: &str, pass: &str) -> Raw {
    let mut c = Raw::connect(srv).await;
    let connect =
        format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n");
    assert_eq!(ops(&mut c, &connect).await, "");
    c
}

fn violation(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Publish to \"{subject}\"'\r\n")
}

#[tokio::test]
async fn allow_responses_alone_restricts_publish_to_received_replies() {
    let srv = start_server(config(USERS)).await;
    let mut svc = login(&srv, "svc", "s").await;
    let mut req = login(&srv, "req", "r").await;
    let mut spy = login(&srv, "req", "r").await;
    assert_eq!(ops(&mut svc, "SUB svc.echo 1\r\n").await, "");
    assert_eq!(ops(&mut spy, "SUB > 9\r\n").await, "");

    // Nothing received yet: every publish is refused, an empty allow list is not allow-all.
    assert_eq!(
        ops(
            &mut svc,
            "PUB secret.x 2\r\nhi\r\nPUB _INBOX.r1 2\r\nhi\r\n"
        )
        .await,
        format!("{}{}", violation("secret.x"), violation("_INBOX.r1"))
    );

    assert_eq!(
        ops(&mut req, "PUB svc.echo _INBOX.r1 4\r\nping\r\n").await,
        ""
    );
    assert_eq!(svc.read_line().await, "MSG svc.echo 1 _INBOX.r1 4");
    assert_eq!(svc.read_line().await, "ping");
    // One response (max 1 by default), then the reply subject is closed again.
    assert_eq!(
        ops(
            &mut svc,
            "PUB _INBOX.r1 4\r\npong\r\nPUB _INBOX.r1 5\r\nagain\r\nPUB _INBOX.r2 1\r\nx\r\nPUB secret.x 1\r\nx\r\n"
        )
        .await,
        format!(
            "{}{}{}",
            violation("_INBOX.r1"),
            violation("_INBOX.r2"),
            violation("secret.x")
        )
    );
    // The spy saw the request and exactly one response, nothing else from svc.
    let seen = ops(&mut spy, "").await;
    assert_eq!(
        seen,
        "MSG svc.echo 9 _INBOX.r1 4\r\nping\r\nMSG _INBOX.r1 9 4\r\npong\r\n"
    );
}

#[tokio::test]
async fn allow_responses_max_and_expires() {
    let srv = start_server(config(USERS)).await;
    let mut svc2 = login(&srv, "svc2", "s").await;
    let mut svcx = login(&srv, "svcx", "s").await;
    let mut req = login(&srv, "req", "r").await;
    assert_eq!(ops(&mut svc2, "SUB svc.a 1\r\n").await, "");
    assert_eq!(ops(&mut svcx, "SUB svc.b 1\r\n").await, "");
    assert_eq!(
        ops(
            &mut req,
            "PUB svc.a rep.a 0\r\n\r\nPUB svc.b rep.b 0\r\n\r\n"
        )
        .await,
        ""
    );
    assert_eq!(svc2.read_line().await, "MSG svc.a 1 rep.a 0");
    assert_eq!(svc2.read_line().await, "");
    assert_eq!(svcx.read_line().await, "MSG svc.b 1 rep.b 0");
    assert_eq!(svcx.read_line().await, "");
    // max: 2 → two responses, the third is refused.
    assert_eq!(
        ops(
            &mut svc2,
            "PUB rep.a 0\r\n\r\nPUB rep.a 0\r\n\r\nPUB rep.a 0\r\n\r\n"
        )
        .await,
        violation("rep.a")
    );
    // expires: 300ms → well after it, the reply subject is closed.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        ops(&mut svcx, "PUB rep.b 0\r\n\r\n").await,
        violation("rep.b")
    );
}

#[tokio::test]
async fn allow_responses_adds_to_an_allow_list() {
    let srv = start_server(config(USERS)).await;
    let mut m = login(&srv, "mixed", "s").await;
    let mut req = login(&srv, "req", "r").await;
    assert_eq!(ops(&mut m, "SUB svc.m 1\r\n").await, "");
    assert_eq!(ops(&mut req, "PUB svc.m rep.m 0\r\n\r\n").await, "");
    assert_eq!(m.read_line().await, "MSG svc.m 1 rep.m 0");
    assert_eq!(m.read_line().await, "");
    assert_eq!(
        ops(
            &mut m,
            "PUB pub.ok 0\r\n\r\nPUB rep.m 0\r\n\r\nPUB other 0\r\n\r\n"
        )
        .await,
        violation("other")
    );
}

#[tokio::test]
async fn allow_responses_with_async_nats_request_reply() {
    let srv = start_server(config(USERS)).await;
    let url = srv.client_url();
    let svc = async_nats::ConnectOptions::with_user_and_password("svc".into(), "s".into())
        .connect(&url)
        .await
        .expect("svc connects");
    let req = async_nats::ConnectOptions::with_user_and_password("req".into(), "r".into())
        .connect(&url)
        .await
        .expect("req connects");
    let mut secret = req.subscribe("secret.>").await.expect("sub");
    let mut sub = svc.subscribe("svc.echo").await.expect("sub");
    svc.flush().await.expect("flush");
    let responder = tokio::spawn({
        let svc = svc.clone();
        async move {
            for _ in 0..3 {
                let m = sub.next().await.expect("request");
                let reply = m.reply.expect("reply subject");
                svc.publish(reply, m.payload).await.expect("publish");
                // Not allowed: must not reach the subscriber on secret.>.
                svc.publish("secret.leak", "x".into())
                    .await
                    .expect("queued");
                svc.flush().await.expect("flush");
            }
        }
    });
    for i in 0..3 {
        let body = format!("hello {i}");
        let r = req
            .request("svc.echo", body.clone().into())
            .await
            .expect("reply arrives");
        assert_eq!(r.payload, body.as_bytes());
    }
    responder.await.expect("responder");
    // A marker published after the leaks arrives; nothing else came on secret.>.
    req.publish("secret.marker", "m".into()).await.expect("pub");
    req.flush().await.expect("flush");
    let first = tokio::time::timeout(Duration::from_secs(5), secret.next())
        .await
        .expect("marker within 5s")
        .expect("message");
    assert_eq!(first.subject.as_str(), "secret.marker");
}
