//! JetStream streams through the official async-nats jetstream API and raw `$JS.API`
//! requests: create/info/update/delete, names/list, publish acks, dedup, expected-*
//! headers, limits, purge, message get/delete, direct get, error codes, /jsz.

mod common;
mod js_common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures::TryStreamExt;
use js_common::{api, create, err_code, publish, start_js};
use serde_json::json;

#[tokio::test]
async fn create_info_update_delete_with_async_nats() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    assert!(c.server_info().jetstream);
    let js = jetstream::new(c.clone());
    let mut s = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            description: Some("orders".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let info = s.info().await.unwrap();
    assert_eq!(info.config.name, "ORDERS");
    assert_eq!(info.config.max_messages, -1);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    assert_eq!(info.state.messages, 0);
    for i in 0..5 {
        let ack = js
            .publish(format!("orders.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.stream, "ORDERS");
        assert_eq!(ack.sequence, i + 1);
        assert!(!ack.duplicate);
    }
    let info = js
        .get_stream("ORDERS")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.state.messages, 5);
    assert_eq!(info.state.first_sequence, 1);
    assert_eq!(info.state.last_sequence, 5);
    // Creating the same config again is idempotent; a different one is refused.
    js.create_stream(stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        description: Some("orders".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.ORDERS",
        json!({"name":"ORDERS","subjects":["other"]}),
    )
    .await;
    assert_eq!(err_code(&v), 10058);
    // Update.
    let updated = js
        .update_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into(), "more".into()],
            max_messages: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.config.max_messages, 3);
    assert_eq!(updated.state.messages, 3, "the new limit applies at once");
    js.publish("more", "y".into()).await.unwrap().await.unwrap();
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, vec!["ORDERS".to_string()]);
    assert!(js.delete_stream("ORDERS").await.unwrap().success);
    let v = api(&c, "$JS.API.STREAM.INFO.ORDERS", json!(null)).await;
    assert_eq!(err_code(&v), 10059);
    assert_eq!(
        v["type"], "io.nats.jetstream.api.v1.stream_info_response",
        "{v}"
    );
    drop(s.info().await);
}

#[tokio::test]
async fn api_error_codes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"A","subjects":["a.>"]})).await;
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.B",
        json!({"name":"B","subjects":["a.b"]}),
    )
    .await;
    assert_eq!(err_code(&v), 10065, "{v}");
    assert_eq!(v["error"]["code"], 400);
    let v = api(&c, "$JS.API.STREAM.CREATE.C", json!({"name":"D"})).await;
    assert_eq!(err_code(&v), 10056);
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.R",
        json!({"name":"R","num_replicas":3}),
    )
    .await;
    assert_eq!(err_code(&v), 10074);
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.M",
        json!({"name":"M","mirror":{"name":"A"}}),
    )
    .await;
    assert_eq!(err_code(&v), 10052);
    let v = api(&c, "$JS.API.STREAM.CREATE.X", json!("garbage")).await;
    assert_eq!(err_code(&v), 10025);
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.X",
        json!({"name":"X","max_age":5}),
    )
    .await;
    assert_eq!(err_code(&v), 10052);
    let v = api(&c, "$JS.API.STREAM.MSG.GET.A", json!({"seq":1})).await;
    assert_eq!(err_code(&v), 10037);
    let v = api(&c, "$JS.API.STREAM.PURGE.NOPE", json!(null)).await;
    assert_eq!(err_code(&v), 10059);
    let v = api(&c, "$JS.API.INFO", json!(null)).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");
    assert_eq!(v["streams"], 1);
    assert_eq!(v["limits"]["max_streams"], -1);
    let acc = jetstream::new(c.clone()).query_account().await.unwrap();
    assert_eq!(acc.streams, 1);
}

#[tokio::test]
async fn publish_dedup_and_expected_headers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"S","subjects":["s.*"]})).await;
    let a = publish(&c, "s.a", &[("Nats-Msg-Id", "m1")], "1").await;
    assert_eq!(a, json!({"stream":"S","seq":1}));
    let d = publish(&c, "s.a", &[("Nats-Msg-Id", "m1")], "1").await;
    assert_eq!(d, json!({"stream":"S","seq":1,"duplicate":true}));
    let e = publish(&c, "s.a", &[("Nats-Expected-Stream", "T")], "x").await;
    assert_eq!(err_code(&e), 10060);
    assert_eq!(e["stream"], "S");
    assert_eq!(e["seq"], 0);
    let e = publish(&c, "s.a", &[("Nats-Expected-Last-Sequence", "7")], "x").await;
    assert_eq!(err_code(&e), 10071);
    assert_eq!(e["error"]["description"], "wrong last sequence: 1");
    let ok = publish(&c, "s.a", &[("Nats-Expected-Last-Sequence", "1")], "x").await;
    assert_eq!(ok["seq"], 2);
    let e = publish(&c, "s.a", &[("Nats-Expected-Last-Msg-Id", "zz")], "x").await;
    assert_eq!(err_code(&e), 10070);
    let ok = publish(&c, "s.b", &[("Nats-Expected-Last-Msg-Id", "m1")], "x").await;
    assert_eq!(ok["seq"], 3);
    // Per subject: s.b's last is 3, s.c has none (0).
    let e = publish(
        &c,
        "s.b",
        &[("Nats-Expected-Last-Subject-Sequence", "2")],
        "x",
    )
    .await;
    assert_eq!(err_code(&e), 10071);
    let ok = publish(
        &c,
        "s.b",
        &[("Nats-Expected-Last-Subject-Sequence", "3")],
        "x",
    )
    .await;
    assert_eq!(ok["seq"], 4);
    let ok = publish(
        &c,
        "s.c",
        &[("Nats-Expected-Last-Subject-Sequence", "0")],
        "x",
    )
    .await;
    assert_eq!(ok["seq"], 5);
    let e = publish(
        &c,
        "s.c",
        &[("Nats-Expected-Last-Subject-Sequence", "0")],
        "x",
    )
    .await;
    assert_eq!(err_code(&e), 10071);
    // Rollup needs allow_rollup_hdrs.
    let e = publish(&c, "s.c", &[("Nats-Rollup", "sub")], "x").await;
    assert!(e.get("error").is_some(), "{e}");
    // The official client sees the same.
    let js = jetstream::new(c.clone());
    let ack = js
        .send_publish(
            "s.d",
            jetstream::message::PublishMessage::build()
                .message_id("m9")
                .payload("p".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 6);
    let ack = js
        .send_publish(
            "s.d",
            jetstream::message::PublishMessage::build()
                .message_id("m9")
                .payload("p".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate);
    assert_eq!(ack.sequence, 6);
}

#[tokio::test]
async fn limits_discard_old_and_new() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"OLD","subjects":["old.>"],"max_msgs":3})).await;
    for i in 0..5 {
        publish(&c, &format!("old.{i}"), &[], "x").await;
    }
    let v = api(&c, "$JS.API.STREAM.INFO.OLD", json!(null)).await;
    assert_eq!(v["state"]["messages"], 3);
    assert_eq!(v["state"]["first_seq"], 3);
    assert_eq!(v["state"]["last_seq"], 5);

    create(
        &c,
        json!({"name":"NEW","subjects":["new.>"],"max_msgs":2,"discard":"new"}),
    )
    .await;
    publish(&c, "new.a", &[], "x").await;
    publish(&c, "new.a", &[], "x").await;
    let e = publish(&c, "new.a", &[], "x").await;
    assert_eq!(err_code(&e), 10077);
    assert_eq!(e["error"]["description"], "maximum messages exceeded");

    create(
        &c,
        json!({"name":"BYTES","subjects":["bytes"],"max_bytes":100,"discard":"new"}),
    )
    .await;
    publish(&c, "bytes", &[], &"x".repeat(50)).await;
    let e = publish(&c, "bytes", &[], &"x".repeat(50)).await;
    assert_eq!(err_code(&e), 10077);
    assert_eq!(e["error"]["description"], "maximum bytes exceeded");

    create(
        &c,
        json!({"name":"SIZE","subjects":["size"],"max_msg_size":10}),
    )
    .await;
    let e = publish(&c, "size", &[], &"x".repeat(11)).await;
    assert_eq!(err_code(&e), 10054);
    assert_eq!(publish(&c, "size", &[], "0123456789").await["seq"], 1);

    create(
        &c,
        json!({"name":"PER","subjects":["per.*"],"max_msgs_per_subject":2}),
    )
    .await;
    for _ in 0..4 {
        publish(&c, "per.a", &[], "x").await;
    }
    publish(&c, "per.b", &[], "x").await;
    let v = api(
        &c,
        "$JS.API.STREAM.INFO.PER",
        json!({"subjects_filter":">"}),
    )
    .await;
    assert_eq!(v["state"]["messages"], 3);
    assert_eq!(v["state"]["subjects"], json!({"per.a":2,"per.b":1}));
    // Paging fields as nats-server 2.9.10 gives them: the number of matching
    // subjects, the page start and its size (100,000); zeros without a filter or
    // when nothing matches.
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(2), &json!(0), &json!(100_000))
    );
    assert_eq!(v["state"]["num_subjects"], 2);
    let v = api(
        &c,
        "$JS.API.STREAM.INFO.PER",
        json!({"subjects_filter":">","offset":1}),
    )
    .await;
    assert_eq!(v["state"]["subjects"], json!({"per.b":1}));
    assert_eq!((&v["total"], &v["offset"]), (&json!(2), &json!(1)));
    for req in [json!(null), json!({"subjects_filter":"none"})] {
        let v = api(&c, "$JS.API.STREAM.INFO.PER", req).await;
        assert_eq!(
            (&v["total"], &v["offset"], &v["limit"]),
            (&json!(0), &json!(0), &json!(0))
        );
        assert!(v["state"].get("subjects").is_none());
    }

    create(
        &c,
        json!({"name":"PERNEW","subjects":["pn.*"],"max_msgs_per_subject":1,"discard":"new","discard_new_per_subject":true}),
    )
    .await;
    publish(&c, "pn.a", &[], "x").await;
    let e = publish(&c, "pn.a", &[], "x").await;
    assert_eq!(
        e["error"]["description"],
        "maximum messages per subject exceeded"
    );
    assert_eq!(publish(&c, "pn.b", &[], "x").await["seq"], 2);
}

#[tokio::test]
async fn max_age_expires_on_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(
        &c,
        json!({"name":"AGE","subjects":["age"],"max_age":2_000_000_000u64}),
    )
    .await;
    let v = api(&c, "$JS.API.STREAM.INFO.AGE", json!(null)).await;
    assert_eq!(
        v["config"]["duplicate_window"], 2_000_000_000u64,
        "dup window capped by max_age"
    );
    // Messages 1 and 2, then 3 a second later: there is a second in which only 3 is
    // left. Polled, no time window: each state must be reached within its deadline.
    publish(&c, "age", &[], "x").await;
    publish(&c, "age", &[], "x").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    publish(&c, "age", &[], "x").await;
    let state = |v: &serde_json::Value| {
        (
            v["state"]["messages"].as_u64().unwrap(),
            v["state"]["first_seq"].as_u64().unwrap(),
            v["state"]["last_seq"].as_u64().unwrap(),
        )
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = api(&c, "$JS.API.STREAM.INFO.AGE", json!(null)).await;
        match state(&v) {
            (1, 3, 3) => break,
            (3, 1, 3) | (2, 2, 3) => {}
            other => panic!("messages 1 and 2 expire before 3: {other:?} {v}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "1 and 2 never expired: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let v = api(&c, "$JS.API.STREAM.INFO.AGE", json!(null)).await;
        match state(&v) {
            (0, 4, 3) => break,
            (1, 3, 3) => {}
            other => panic!("then message 3 expires: {other:?} {v}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "3 never expired: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn purge_variants() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"P","subjects":["p.*"]})).await;
    for i in 0..10 {
        publish(&c, if i % 2 == 0 { "p.even" } else { "p.odd" }, &[], "x").await;
    }
    let v = api(
        &c,
        "$JS.API.STREAM.PURGE.P",
        json!({"filter":"p.even","keep":2}),
    )
    .await;
    assert_eq!(
        v,
        json!({"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":3})
    );
    let v = api(&c, "$JS.API.STREAM.PURGE.P", json!({"seq":4})).await;
    assert_eq!(v["purged"], 1, "only seq 2 (odd) is left below 4: {v}");
    let v = api(&c, "$JS.API.STREAM.INFO.P", json!({"deleted_details":true})).await;
    assert_eq!(v["state"]["messages"], 6);
    assert_eq!(v["state"]["first_seq"], 4);
    assert_eq!(v["state"]["num_deleted"], 1);
    assert_eq!(v["state"]["deleted"], json!([5]));
    let js = jetstream::new(c.clone());
    let s = js.get_stream("P").await.unwrap();
    let r = s.purge().await.unwrap();
    assert_eq!(r.purged, 6);
    let v = api(&c, "$JS.API.STREAM.INFO.P", json!(null)).await;
    assert_eq!(v["state"]["first_seq"], 11);
    assert_eq!(v["state"]["last_seq"], 10);
    assert_eq!(publish(&c, "p.x", &[], "x").await["seq"], 11);
    create(&c, json!({"name":"NP","subjects":["np"],"deny_purge":true})).await;
    let v = api(&c, "$JS.API.STREAM.PURGE.NP", json!(null)).await;
    assert!(v.get("error").is_some());
}

#[tokio::test]
async fn get_delete_and_direct_get() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(
        &c,
        json!({"name":"G","subjects":["g.>"],"allow_direct":true}),
    )
    .await;
    publish(&c, "g.a", &[("X-Key", "v1")], "one").await;
    publish(&c, "g.b", &[], "two").await;
    publish(&c, "g.a", &[], "three").await;
    let js = jetstream::new(c.clone());
    let s = js.get_stream("G").await.unwrap();
    let m = s.get_raw_message(1).await.unwrap();
    assert_eq!(&m.payload[..], b"one");
    assert_eq!(m.subject.as_str(), "g.a");
    assert_eq!(m.headers.get("X-Key").unwrap().as_str(), "v1");
    let m = s.get_last_raw_message_by_subject("g.a").await.unwrap();
    assert_eq!(m.sequence, 3);
    let m = s.get_next_raw_message_by_subject("g.b").await.unwrap();
    assert_eq!(m.sequence, 2);
    let v = api(
        &c,
        "$JS.API.STREAM.MSG.GET.G",
        json!({"next_by_subj":"g.*","seq":2}),
    )
    .await;
    assert_eq!(v["message"]["seq"], 2);
    assert_eq!(
        v["type"],
        "io.nats.jetstream.api.v1.stream_msg_get_response"
    );
    // Direct get.
    let m = s.direct_get(2).await.unwrap();
    assert_eq!(&m.payload[..], b"two");
    let m = s.direct_get_last_for_subject("g.a").await.unwrap();
    assert_eq!(m.sequence, 3);
    assert_eq!(&m.payload[..], b"three");
    assert!(s.direct_get(99).await.is_err());
    // Delete (erase and no_erase).
    assert!(s.delete_message(2).await.unwrap());
    let v = api(
        &c,
        "$JS.API.STREAM.MSG.DELETE.G",
        json!({"seq":1,"no_erase":true}),
    )
    .await;
    assert_eq!(v["success"], true);
    let v = api(&c, "$JS.API.STREAM.MSG.GET.G", json!({"seq":2})).await;
    assert_eq!(err_code(&v), 10037);
    let v = api(&c, "$JS.API.STREAM.INFO.G", json!(null)).await;
    assert_eq!(v["state"]["messages"], 1);
    assert_eq!(v["state"]["first_seq"], 3);
    create(
        &c,
        json!({"name":"DD","subjects":["dd"],"deny_delete":true}),
    )
    .await;
    publish(&c, "dd", &[], "x").await;
    let v = api(&c, "$JS.API.STREAM.MSG.DELETE.DD", json!({"seq":1})).await;
    assert!(v.get("error").is_some());
}

#[tokio::test]
async fn rollup_sealed_and_memory_storage() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(
        &c,
        json!({"name":"RU","subjects":["ru.*"],"allow_rollup_hdrs":true,"storage":"memory"}),
    )
    .await;
    for _ in 0..3 {
        publish(&c, "ru.a", &[], "x").await;
    }
    publish(&c, "ru.b", &[], "x").await;
    publish(&c, "ru.a", &[("Nats-Rollup", "sub")], "x").await;
    let v = api(&c, "$JS.API.STREAM.INFO.RU", json!(null)).await;
    assert_eq!(v["state"]["messages"], 2);
    assert_eq!(v["config"]["storage"], "memory");
    publish(&c, "ru.c", &[("Nats-Rollup", "all")], "x").await;
    let v = api(&c, "$JS.API.STREAM.INFO.RU", json!(null)).await;
    assert_eq!(v["state"]["messages"], 1);
    assert_eq!(v["state"]["first_seq"], 6);
    // Seal it: publishes are refused.
    let mut cfg = v["config"].clone();
    cfg["sealed"] = json!(true);
    let v = api(&c, "$JS.API.STREAM.UPDATE.RU", cfg).await;
    assert!(v.get("error").is_none(), "{v}");
    let e = publish(&c, "ru.a", &[], "x").await;
    assert_eq!(err_code(&e), 10109);
}

#[tokio::test]
async fn names_list_and_jsz() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"KV_b","subjects":["$KV.b.>"]})).await;
    create(&c, json!({"name":"OTHER","subjects":["o"]})).await;
    publish(&c, "$KV.b.k", &[], "v").await;
    let v = api(&c, "$JS.API.STREAM.NAMES", json!({"subject":"$KV.*.>"})).await;
    assert_eq!(v["streams"], json!(["KV_b"]));
    assert_eq!(v["total"], 1);
    let v = api(&c, "$JS.API.STREAM.LIST", json!(null)).await;
    assert_eq!(v["total"], 2);
    assert_eq!(v["streams"].as_array().unwrap().len(), 2);
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_list_response");
    let j = common::http_json(&srv, "/jsz").await;
    // `disabled` only appears when true (nats-server 2.15.1 omits it otherwise).
    assert!(j.get("disabled").is_none(), "{j}");
    assert_eq!(j["streams"], 2);
    assert_eq!(j["messages"], 1);
    assert!(j.get("account_details").is_none());
    let j = common::http_json(&srv, "/jsz?streams=1&config=1&consumers=1").await;
    let details = j["account_details"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    let streams = details[0]["stream_detail"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["name"], "KV_b");
    assert_eq!(streams[0]["config"]["subjects"], json!(["$KV.b.>"]));
    assert_eq!(streams[0]["state"]["messages"], 1);
    let varz = common::http_json(&srv, "/varz").await;
    assert_eq!(varz["jetstream"]["stats"]["api"]["errors"], 0);
    assert!(varz["jetstream"]["stats"]["api"]["total"].as_u64().unwrap() >= 4);
}

#[tokio::test]
async fn kv_bucket_works_on_streams() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let js = jetstream::new(c.clone());
    let kv = js
        .create_key_value(jetstream::kv::Config {
            bucket: "cfg".into(),
            history: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let r1 = kv.put("a", "1".into()).await.unwrap();
    let r2 = kv.put("a", "2".into()).await.unwrap();
    assert_eq!(r2, r1 + 1);
    assert_eq!(&kv.get("a").await.unwrap().unwrap()[..], b"2");
    assert!(kv.create("a", "x".into()).await.is_err());
    kv.update("a", "3".into(), r2).await.unwrap();
    assert!(kv.update("a", "4".into(), r2).await.is_err());
    kv.create("b", "new".into()).await.unwrap();
    kv.delete("b").await.unwrap();
    assert!(kv.get("b").await.unwrap().is_none());
    // Opening the existing bucket again round-trips its config.
    js.create_key_value(jetstream::kv::Config {
        bucket: "cfg".into(),
        history: 2,
        ..Default::default()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn disabled_account_gets_10039() {
    use natrium::config::{AccountConfig, AccountJetStream, UserConfig};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = js_common::js_config(dir.path());
    let user = |u: &str| UserConfig {
        user: u.into(),
        nkey: None,
        password: Some("pw".into()),
        permissions: None,
    };
    cfg.accounts = vec![
        AccountConfig {
            name: "JS".into(),
            users: vec![user("jsuser")],
            jetstream: Some(AccountJetStream {
                enabled: true,
                max_streams: Some(1),
                ..Default::default()
            }),
        },
        AccountConfig {
            name: "NOJS".into(),
            users: vec![user("plain")],
            jetstream: None,
        },
    ];
    let srv = common::start_server(cfg).await;
    let login = |u: &str| async_nats::ConnectOptions::with_user_and_password(u.into(), "pw".into());
    let nojs = login("plain").connect(srv.client_url()).await.unwrap();
    let v = api(&nojs, "$JS.API.INFO", json!(null)).await;
    assert_eq!(err_code(&v), 10039);
    assert_eq!(
        v["error"]["description"],
        "JetStream not enabled for account"
    );
    let v = api(&nojs, "$JS.API.STREAM.CREATE.Z", json!({"name":"Z"})).await;
    assert_eq!(err_code(&v), 10039);
    let yes = login("jsuser").connect(srv.client_url()).await.unwrap();
    create(&yes, json!({"name":"Z"})).await;
    let v = api(&yes, "$JS.API.INFO", json!(null)).await;
    assert_eq!(v["limits"]["max_streams"], 1);
    let v = api(&yes, "$JS.API.STREAM.CREATE.Y", json!({"name":"Y"})).await;
    assert_eq!(err_code(&v), 10027);
}

/// A direct get never overtakes a publish sent before it on the same connection, even
/// though direct gets may be answered without going through the stream's queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_get_sees_earlier_publishes_from_the_same_connection() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(
        &c,
        json!({"name":"ORD","subjects":["ord.>"],"allow_direct":true,"max_msgs_per_subject":1}),
    )
    .await;
    for i in 0..300u32 {
        // Core publish, no PubAck awaited: the get right after it must still see it.
        c.publish("ord.k", i.to_string().into()).await.unwrap();
        let m = c
            .request("$JS.API.DIRECT.GET.ORD.ord.k", "".into())
            .await
            .unwrap();
        assert_eq!(&m.payload[..], i.to_string().as_bytes(), "round {i}");
        let by_seq = c
            .request(
                "$JS.API.DIRECT.GET.ORD",
                format!("{{\"seq\":{}}}", i + 1).into(),
            )
            .await
            .unwrap();
        assert_eq!(&by_seq.payload[..], i.to_string().as_bytes(), "round {i}");
    }
    srv.shutdown();
}
