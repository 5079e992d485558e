//! Gaps the rest of the suite left open, core NATS: `write_deadline` closing a client
//! whose socket does not drain, and `no_auth_user` (connections without credentials
//! become that user, with its account and permissions).

mod common;

use std::time::Duration;

use common::{start_server, test_config, Raw};
use natrium::config::{AccountConfig, Permissions, SubjectPermission, UserConfig};
use tokio::io::AsyncWriteExt;

/// Polls `/connz?state=closed` until a connection named `name` shows up (30 s).
async fn closed_conn(srv: &natrium::server::RunningServer, name: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = common::http_json(srv, "/connz?state=closed").await;
        if let Some(c) = v["connections"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == name))
        {
            return c.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} not closed within 30s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A subscriber with a 4 KiB receive buffer that never reads: the server's writes to
/// it block, and after `write_deadline` (300 ms here; max_pending is far above what is
/// sent) it is closed as a slow consumer while the publisher goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_deadline_closes_a_stuck_client() {
    let mut cfg = test_config();
    cfg.write_deadline = Duration::from_millis(300);
    cfg.max_pending = 512 * 1024 * 1024;
    let srv = start_server(cfg).await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut stuck = sock.connect(srv.client_addr).await.unwrap();
    stuck
        .write_all(b"CONNECT {\"verbose\":false,\"name\":\"stuck\"}\r\nSUB flood 1\r\n")
        .await
        .unwrap();
    let mut p = Raw::connect(&srv).await;
    let (out, _) = p
        .exchange(b"CONNECT {\"verbose\":false,\"name\":\"pub\"}\r\nPING\r\n")
        .await;
    assert_eq!(out, "PONG\r\n");
    // The subscription is in place once the stuck client's SUB was processed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while srv.shared.num_subscriptions() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "SUB not applied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // 32 MiB in 32 KiB messages, far beyond the socket buffers, far below max_pending.
    let mut batch = Vec::new();
    let payload = vec![b'x'; 32 * 1024];
    for _ in 0..64 {
        batch.extend_from_slice(b"PUB flood 32768\r\n");
        batch.extend_from_slice(&payload);
        batch.extend_from_slice(b"\r\n");
    }
    for _ in 0..16 {
        p.send(&batch).await;
    }
    let c = closed_conn(&srv, "stuck").await;
    assert_eq!(c["reason"], "Slow Consumer (Write Deadline)", "{c}");
    let v = common::http_json(&srv, "/varz").await;
    assert!(v["slow_consumers"].as_u64().unwrap() >= 1, "{v}");
    // The publisher was not affected.
    let (out, closed) = p.exchange(b"PING\r\n").await;
    assert_eq!(out, "PONG\r\n");
    assert!(!closed);
}

fn user(name: &str, pass: &str) -> UserConfig {
    UserConfig {
        user: name.into(),
        nkey: None,
        password: Some(pass.into()),
        permissions: None,
    }
}

/// `no_auth_user`: a CONNECT without credentials is that user (account B, its
/// permissions); wrong credentials are still refused; a named user is itself.
#[tokio::test]
async fn no_auth_user_gives_anonymous_clients_that_user() {
    let mut cfg = test_config();
    let mut guest = user("guest", "unused");
    guest.permissions = Some(Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["public.>".into()],
            deny: vec![],
        }),
        subscribe: None,
        allow_responses: None,
    });
    cfg.accounts = vec![
        AccountConfig {
            name: "A".into(),
            users: vec![user("alice", "pa")],
            jetstream: None,
        },
        AccountConfig {
            name: "B".into(),
            users: vec![guest],
            jetstream: None,
        },
    ];
    cfg.no_auth_user = Some("guest".into());
    let srv = start_server(cfg).await;

    let mut anon = Raw::connect(&srv).await;
    let (out, closed) = anon
        .exchange(
            b"CONNECT {\"verbose\":false,\"name\":\"anon\"}\r\nSUB public.x 1\r\nPUB public.x 2\r\nhi\r\nPUB private 1\r\na\r\nPING\r\n",
        )
        .await;
    assert_eq!(
        out,
        "MSG public.x 1 2\r\nhi\r\n-ERR 'Permissions Violation for Publish to \"private\"'\r\nPONG\r\n"
    );
    assert!(!closed);
    let v = common::http_json(&srv, "/connz?auth=1").await;
    let c = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "anon")
        .cloned()
        .expect("anon listed");
    assert_eq!(c["account"], "B", "{c}");
    assert_eq!(c["authorized_user"], "guest", "{c}");

    // Account isolation holds for the anonymous user: alice (A) does not see it.
    let mut alice = Raw::connect(&srv).await;
    let (out, _) = alice
        .exchange(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pa\"}\r\nSUB public.x 1\r\nPING\r\n")
        .await;
    assert_eq!(out, "PONG\r\n");
    let (out, _) = anon.exchange(b"PUB public.x 1\r\nb\r\nPING\r\n").await;
    assert_eq!(out, "MSG public.x 1 1\r\nb\r\nPONG\r\n");
    let (out, _) = alice.exchange(b"PING\r\n").await;
    assert_eq!(out, "PONG\r\n", "alice in account A got B's message");

    // Credentials that are present but wrong are refused, not mapped to guest.
    let mut bad = Raw::connect(&srv).await;
    let (out, closed) = bad
        .exchange(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"nope\"}\r\nPING\r\n")
        .await;
    assert_eq!(out, "-ERR 'Authorization Violation'\r\n");
    assert!(closed);
}
