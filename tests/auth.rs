//! Authentication and accounts: user/password, token, users lists, bcrypt, account
//! isolation, Authorization Violation and the auth timeout.

mod common;

use std::time::Duration;

use common::{start_server, test_config, Raw};
use futures::StreamExt;
use natrium::config::{AccountConfig, Config, UserConfig};

fn user(name: &str, pass: &str) -> UserConfig {
    UserConfig {
        user: name.into(),
        nkey: None,
        password: Some(pass.into()),
        permissions: None,
    }
}

async fn connect_with(
    url: &str,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    opts.retry_on_initial_connect()
        .max_reconnects(0)
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
}

async fn connect_once(
    url: &str,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    opts.connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
}

/// The connection is refused with Authorization Violation, not any error (a crash, a
/// timeout or a reset would be errors too), and the server still serves afterwards.
async fn assert_refused(url: &str, opts: async_nats::ConnectOptions, what: &str) {
    match connect_once(url, opts).await {
        Ok(_) => panic!("{what}: the connection was accepted"),
        Err(err) => assert_eq!(
            err.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation,
            "{what}: {err}"
        ),
    }
    let port = url.rsplit(':').next().unwrap();
    let mut s = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("{what}: server gone after the refusal: {e}"));
    let mut buf = [0u8; 5];
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
        .await
        .expect("INFO within 10s")
        .expect("read INFO");
    assert_eq!(&buf, b"INFO ", "{what}: server still greets");
}

fn user_pass_config() -> Config {
    let mut cfg = test_config();
    cfg.authorization.user = Some("app".into());
    cfg.authorization.password = Some("s3cret".into());
    cfg
}

#[tokio::test]
async fn user_password() {
    let srv = start_server(user_pass_config()).await;
    let raw = Raw::connect(&srv).await;
    assert_eq!(raw.info["auth_required"], true);
    let ok = connect_once(
        &srv.client_url(),
        async_nats::ConnectOptions::with_user_and_password("app".into(), "s3cret".into()),
    )
    .await;
    assert!(ok.is_ok());
    let bad = connect_once(
        &srv.client_url(),
        async_nats::ConnectOptions::with_user_and_password("app".into(), "wrong".into()),
    )
    .await;
    let Err(err) = bad else {
        panic!("wrong password refused")
    };
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    assert_refused(
        &srv.client_url(),
        async_nats::ConnectOptions::new(),
        "no credentials",
    )
    .await;
    let _ = connect_with; // keep the helper for variants below
}

#[tokio::test]
async fn raw_authorization_violation_texts() {
    let srv = start_server(user_pass_config()).await;
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c
        .exchange(b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"no\"}\r\nPING\r\n")
        .await;
    assert_eq!(out, "-ERR 'Authorization Violation'\r\n");
    assert!(closed);
    // An op other than CONNECT first is refused too.
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c.exchange(b"PING\r\n").await;
    assert_eq!(out, "-ERR 'Authorization Violation'\r\n");
    assert!(closed);
    // Legacy account fields are refused.
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c
        .exchange(b"CONNECT {\"user\":\"app\",\"pass\":\"s3cret\",\"account\":\"x\"}\r\n")
        .await;
    assert_eq!(out, "-ERR 'Authorization Violation'\r\n");
    assert!(closed);
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c
        .exchange(b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"s3cret\"}\r\nPING\r\n")
        .await;
    assert_eq!(out, "PONG\r\n");
    assert!(!closed);
}

#[tokio::test]
async fn auth_timeout() {
    let mut cfg = user_pass_config();
    cfg.authorization.timeout = Duration::from_millis(200);
    let srv = start_server(cfg).await;
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c.read_for(Duration::from_secs(10)).await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-ERR 'Authentication Timeout'\r\n"
    );
    assert!(closed);
}

#[tokio::test]
async fn token() {
    let mut cfg = test_config();
    cfg.authorization.token = Some("t0ken".into());
    let srv = start_server(cfg).await;
    assert!(connect_once(
        &srv.client_url(),
        async_nats::ConnectOptions::with_token("t0ken".into())
    )
    .await
    .is_ok());
    assert_refused(
        &srv.client_url(),
        async_nats::ConnectOptions::with_token("nope".into()),
        "wrong token",
    )
    .await;
}

#[tokio::test]
async fn bcrypt_password_and_token() {
    let hash = bcrypt::hash("pw", 4).unwrap();
    let mut cfg = test_config();
    cfg.authorization.users = vec![user("alice", &hash), user("bob", "plain")];
    let srv = start_server(cfg).await;
    let url = srv.client_url();
    let ok = |u: &str, p: &str| {
        async_nats::ConnectOptions::with_user_and_password(u.to_string(), p.to_string())
    };
    assert!(connect_once(&url, ok("alice", "pw")).await.is_ok());
    assert_refused(
        &url,
        ok("alice", &hash),
        "the hash itself is not the password",
    )
    .await;
    assert!(connect_once(&url, ok("bob", "plain")).await.is_ok());
    assert_refused(&url, ok("carol", "plain"), "unknown user").await;

    let mut cfg = test_config();
    cfg.authorization.token = Some(bcrypt::hash("tk", 4).unwrap());
    let srv = start_server(cfg).await;
    assert!(connect_once(
        &srv.client_url(),
        async_nats::ConnectOptions::with_token("tk".into())
    )
    .await
    .is_ok());
}

fn accounts_config() -> Config {
    let mut cfg = test_config();
    cfg.accounts = vec![
        AccountConfig {
            name: "A".into(),
            users: vec![user("a1", "p"), user("a2", "p")],
            jetstream: None,
        },
        AccountConfig {
            name: "B".into(),
            users: vec![user("b1", "p")],
            jetstream: None,
        },
        AccountConfig {
            name: "$SYS".into(),
            users: vec![user("sys", "p")],
            jetstream: None,
        },
    ];
    cfg
}

#[tokio::test]
async fn accounts_are_isolated() {
    let srv = start_server(accounts_config()).await;
    let url = srv.client_url();
    let login = |u: &str| async_nats::ConnectOptions::with_user_and_password(u.into(), "p".into());
    let a1 = connect_once(&url, login("a1")).await.unwrap();
    let a2 = connect_once(&url, login("a2")).await.unwrap();
    let b1 = connect_once(&url, login("b1")).await.unwrap();
    let mut sub_a2 = a2.subscribe("shared.subject").await.unwrap();
    let mut sub_b1 = b1.subscribe("shared.subject").await.unwrap();
    common::barrier(&a2).await;
    common::barrier(&b1).await;
    a1.publish("shared.subject", "for A".into()).await.unwrap();
    a1.flush().await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(2), sub_a2.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"for A");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub_b1.next())
            .await
            .is_err(),
        "account B must not see account A's message"
    );
    // Request with no responder in B even though A has one.
    let _svc = a2.subscribe("svc").await.unwrap();
    common::barrier(&a2).await;
    let err = b1.request("svc", "x".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    let v = common::http_json(&srv, "/connz?acc=B").await;
    assert_eq!(v["num_connections"], 1);
    assert_eq!(v["connections"][0]["account"], "B");
    assert_eq!(v["connections"][0]["authorized_user"], "b1");
    let acc = common::http_json(&srv, "/accountz").await;
    let names: Vec<_> = acc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"A".to_string())
            && names.contains(&"B".to_string())
            && names.contains(&"$SYS".to_string())
    );
}

#[tokio::test]
async fn permissions_enforced() {
    use natrium::config::{Permissions, SubjectPermission};
    let mut cfg = test_config();
    let mut u = user("limited", "p");
    u.permissions = Some(Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["allowed.>".into()],
            deny: vec!["allowed.secret".into()],
        }),
        subscribe: Some(SubjectPermission {
            allow: vec!["in.*".into()],
            deny: vec![],
        }),
        allow_responses: None,
    });
    cfg.authorization.users = vec![u];
    let srv = start_server(cfg).await;
    let mut c = Raw::connect(&srv).await;
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"limited\",\"pass\":\"p\"}\r\n")
        .await;
    let (out, closed) = c
        .exchange(b"PUB allowed.x 0\r\n\r\nPUB allowed.secret 0\r\n\r\nPUB other 0\r\n\r\nSUB in.a 1\r\nSUB out 2\r\nSUB in.a q 3\r\nSUB in.> 4\r\nPING\r\n")
        .await;
    assert_eq!(
        out,
        "-ERR 'Permissions Violation for Publish to \"allowed.secret\"'\r\n\
         -ERR 'Permissions Violation for Publish to \"other\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"out\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"in.>\"'\r\n\
         PONG\r\n"
    );
    assert!(!closed);
}
