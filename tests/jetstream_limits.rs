//! JetStream storage limits and domains, with the codes and texts nats-server 2.9.10
//! gives: account limits (`accounts { A { jetstream { max_mem, max_file, max_streams,
//! max_consumers } } }`) and server limits (`jetstream { max_mem_store, max_file_store }`)
//! on stream create/update (reservations of `max_bytes`) and on publish, `$JS.API.INFO`
//! limits and usage, and `jetstream { domain }` (`$JS.<domain>.API.>`, PubAck `domain`).

mod common;
mod js_common;

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use js_common::{api, err_code, publish};
use natrium::config::Config;
use natrium::server::RunningServer;
use serde_json::{json, Value};

/// Loads a config text, storing in `dir`, on ephemeral loopback ports.
fn config(text: &str, dir: &Path) -> Config {
    let text = text.replace("STORE_DIR", &dir.display().to_string());
    let mut cfg = natrium::config::load_str(&text, "test.conf", dir)
        .unwrap_or_else(|e| panic!("config: {e}"))
        .config;
    cfg.host = "127.0.0.1".into();
    cfg.port = 0;
    cfg.http_host = "127.0.0.1".into();
    cfg.http_port = Some(0);
    cfg
}

async fn connect(srv: &RunningServer, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .connect(srv.client_url())
        .await
        .expect("connect")
}

fn error_of(v: &Value) -> (u64, u64, String) {
    (
        v["error"]["code"].as_u64().unwrap_or(0),
        err_code(v),
        v["error"]["description"].as_str().unwrap_or("").to_string(),
    )
}

fn insufficient_storage() -> (u64, u64, String) {
    (
        500,
        10047,
        "insufficient storage resources available".into(),
    )
}

fn insufficient_memory() -> (u64, u64, String) {
    (500, 10028, "insufficient memory resources available".into())
}

/// Publishes `size`-byte messages on `subject` until the first error; returns how many
/// were stored and the error PubAck.
async fn fill(c: &async_nats::Client, subject: &str, size: usize, max: usize) -> (usize, Value) {
    let body = "x".repeat(size);
    for i in 0..max {
        let v = publish(c, subject, &[], &body).await;
        if v.get("error").is_some() {
            return (i, v);
        }
    }
    panic!("{max} publishes on {subject} were all accepted");
}

const ACCOUNTS: &str = r#"
jetstream { store_dir: "STORE_DIR", max_mem_store: 1MB, max_file_store: 2MB }
accounts {
  A { users: [{user: a, password: a}], jetstream: { max_mem: 50KB, max_file: 100KB, max_streams: 3, max_consumers: 1 } }
  B { users: [{user: b, password: b}], jetstream: enabled }
}
"#;

#[tokio::test]
async fn account_limits_on_create_update_publish_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start_server(config(ACCOUNTS, dir.path())).await;
    let c = connect(&srv, "a").await;
    let js = jetstream::new(c.clone());

    let acct = js.query_account().await.unwrap();
    assert_eq!(acct.limits.max_memory, Some(51200));
    assert_eq!(acct.limits.max_storage, Some(102_400));
    assert_eq!(acct.limits.max_streams, Some(3));
    assert_eq!(acct.limits.max_consumers, Some(1));
    assert_eq!((acct.memory, acct.storage, acct.streams), (0, 0, 0));

    // max_bytes beyond what the account can reserve.
    let e = js
        .create_stream(stream::Config {
            name: "S1".into(),
            subjects: vec!["s1".into()],
            max_bytes: 200_000,
            ..Default::default()
        })
        .await
        .expect_err("200000 bytes cannot be reserved in 100KB");
    assert!(e.to_string().contains("10047"), "{e}");
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.S1",
        json!({"name":"S1","subjects":["s1"],"storage":"memory","max_bytes":60000}),
    )
    .await;
    assert_eq!(error_of(&v), insufficient_memory());
    // Reservations add up; an update is checked without its own old reservation.
    js.create_stream(stream::Config {
        name: "S2".into(),
        subjects: vec!["s2".into()],
        max_bytes: 60_000,
        ..Default::default()
    })
    .await
    .unwrap();
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.S3",
        json!({"name":"S3","subjects":["s3"],"max_bytes":60000}),
    )
    .await;
    assert_eq!(error_of(&v), insufficient_storage());
    let v = api(
        &c,
        "$JS.API.STREAM.UPDATE.S2",
        json!({"name":"S2","subjects":["s2"],"max_bytes":90000}),
    )
    .await;
    assert!(v.get("error").is_none(), "{v}");
    let v = api(
        &c,
        "$JS.API.STREAM.UPDATE.S2",
        json!({"name":"S2","subjects":["s2"],"max_bytes":200000}),
    )
    .await;
    assert_eq!(error_of(&v), insufficient_storage());

    // An unlimited stream fills up to the account's file limit: 400/10002.
    js.create_stream(stream::Config {
        name: "S4".into(),
        subjects: vec!["s4".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let (stored, v) = fill(&c, "s4", 1000, 200).await;
    assert_eq!(
        error_of(&v),
        (400, 10002, "resource limits exceeded for account".into())
    );
    assert_eq!(v["stream"], "S4");
    assert!((95..=100).contains(&stored), "{stored} stored");
    let e = js
        .publish("s4", "x".repeat(1000).into())
        .await
        .unwrap()
        .await
        .expect_err("over the account limit");
    assert!(e.to_string().contains("10002"), "{e}");
    let info = api(&c, "$JS.API.STREAM.INFO.S4", Value::Null).await;
    let s4_bytes = info["state"]["bytes"].as_u64().unwrap();
    assert_eq!(info["state"]["messages"].as_u64().unwrap(), stored as u64);
    assert!(
        s4_bytes <= 102_400 && s4_bytes > 102_400 - 1100,
        "{s4_bytes}"
    );

    // Memory is limited on its own.
    js.create_stream(stream::Config {
        name: "M1".into(),
        subjects: vec!["m1".into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let (stored_mem, v) = fill(&c, "m1", 1000, 200).await;
    assert_eq!(err_code(&v), 10002);
    assert!((45..=50).contains(&stored_mem), "{stored_mem} stored");
    let acct = js.query_account().await.unwrap();
    assert_eq!(acct.storage, s4_bytes);
    // What the streams' max_bytes reserve (S2: 90000; S4, M1: unlimited).
    assert_eq!((acct.reserved_storage, acct.reserved_memory), (90_000, 0));
    assert!(acct.memory > 51_200 - 1100 && acct.memory <= 51_200);
    assert_eq!(acct.streams, 3);

    // max_streams.
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.M2",
        json!({"name":"M2","subjects":["m2"],"storage":"memory"}),
    )
    .await;
    assert_eq!(
        error_of(&v),
        (400, 10027, "maximum number of streams reached".into())
    );

    // Deleting messages and streams gives the space back.
    let v = api(&c, "$JS.API.STREAM.PURGE.M1", Value::Null).await;
    assert_eq!(v["success"], true);
    assert!(js.delete_stream("S4").await.unwrap().success);
    let acct = js.query_account().await.unwrap();
    assert_eq!((acct.memory, acct.storage, acct.streams), (0, 0, 2));
    let v = publish(&c, "m1", &[], "fits again").await;
    assert!(v.get("error").is_none(), "{v}");

    // Another account is not limited by A's limits.
    let b = connect(&srv, "b").await;
    let v = api(&b, "$JS.API.INFO", Value::Null).await;
    assert_eq!(v["limits"]["max_storage"], -1);
    assert_eq!(v["limits"]["max_streams"], -1);
    assert_eq!(v["storage"], 0);
    srv.shutdown();
}

const SERVER: &str = r#"
jetstream { store_dir: "STORE_DIR", max_mem_store: 100KB, max_file_store: 200KB }
accounts {
  A { users: [{user: a, password: a}], jetstream: enabled }
  B { users: [{user: b, password: b}], jetstream: enabled }
}
"#;

#[tokio::test]
async fn server_limits_on_reservations_and_publish() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start_server(config(SERVER, dir.path())).await;
    let a = connect(&srv, "a").await;
    let b = connect(&srv, "b").await;
    let v = api(
        &a,
        "$JS.API.STREAM.CREATE.BIG",
        json!({"name":"BIG","subjects":["big"],"max_bytes":300000}),
    )
    .await;
    assert_eq!(error_of(&v), insufficient_storage());
    let v = api(
        &a,
        "$JS.API.STREAM.CREATE.BIGM",
        json!({"name":"BIGM","subjects":["bigm"],"storage":"memory","max_bytes":200000}),
    )
    .await;
    assert_eq!(error_of(&v), insufficient_memory());
    // Reservations of every account count against the server.
    js_common::create(
        &a,
        json!({"name":"R1","subjects":["r1"],"max_bytes":150000}),
    )
    .await;
    let v = api(
        &b,
        "$JS.API.STREAM.CREATE.R2",
        json!({"name":"R2","subjects":["r2"],"max_bytes":100000}),
    )
    .await;
    assert_eq!(error_of(&v), insufficient_storage());
    // Usage of every account counts too: A stores 100 KB, B fills the rest and gets
    // 503/10023 once the server is over its limit.
    js_common::create(&a, json!({"name":"UA","subjects":["ua"]})).await;
    for _ in 0..10 {
        let v = publish(&a, "ua", &[], &"a".repeat(10_000)).await;
        assert!(v.get("error").is_none(), "{v}");
    }
    js_common::create(&b, json!({"name":"UB","subjects":["ub"]})).await;
    let (stored, v) = fill(&b, "ub", 10_000, 100).await;
    assert_eq!(error_of(&v), (503, 10023, "insufficient resources".into()));
    assert!((9..=11).contains(&stored), "{stored} stored");
    let ia = api(&a, "$JS.API.INFO", Value::Null).await;
    let ib = api(&b, "$JS.API.INFO", Value::Null).await;
    let total = ia["storage"].as_u64().unwrap() + ib["storage"].as_u64().unwrap();
    assert!(total > 204_800 && total < 204_800 + 10_100, "{total}");
    assert_eq!(ib["limits"]["max_storage"], -1);
    srv.shutdown();
}

const DOMAIN: &str = r#"
jetstream { store_dir: "STORE_DIR", domain: hub }
accounts {
  A { users: [{user: a, password: a}], jetstream: enabled }
  C { users: [{user: c, password: c}] }
}
"#;

#[tokio::test]
async fn domain_prefix_is_the_same_api_and_pub_acks_carry_it() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start_server(config(DOMAIN, dir.path())).await;
    let c = connect(&srv, "a").await;
    let js = jetstream::with_domain(c.clone(), "hub");
    let acct = js.query_account().await.unwrap();
    assert_eq!(acct.domain.as_deref(), Some("hub"));
    let s = js
        .create_stream(stream::Config {
            name: "D".into(),
            subjects: vec!["d.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let ack = js
        .publish("d.1", "one".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("D", 1));
    assert_eq!(ack.domain, "hub");
    let raw = publish(&c, "d.2", &[], "two").await;
    assert_eq!(raw, json!({"stream":"D","domain":"hub","seq":2}));
    // Same streams through both prefixes.
    let v = api(&c, "$JS.hub.API.STREAM.NAMES", Value::Null).await;
    assert_eq!(v["streams"], json!(["D"]));
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_names_response");
    let v = api(&c, "$JS.API.STREAM.INFO.D", Value::Null).await;
    assert_eq!(v["state"]["messages"], 2);
    // Message get, direct get and delete through the domain.
    let m = s.direct_get(2).await.unwrap();
    assert_eq!(&m.payload[..], b"two");
    let m = s.get_raw_message(1).await.unwrap();
    assert_eq!(m.sequence, 1);
    assert!(s.delete_message(1).await.unwrap());
    let v = api(&c, "$JS.hub.API.STREAM.MSG.GET.D", json!({"seq":1})).await;
    assert_eq!(err_code(&v), 10037);
    // Another domain is nobody's.
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        c.request("$JS.other.API.INFO", "".into()),
    )
    .await
    .unwrap();
    assert!(
        matches!(&r, Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders),
        "{r:?}"
    );
    // An account without JetStream gets 10039 through the domain as well.
    let cc = connect(&srv, "c").await;
    let v = api(&cc, "$JS.hub.API.INFO", Value::Null).await;
    assert_eq!(err_code(&v), 10039);
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");
    srv.shutdown();
}
