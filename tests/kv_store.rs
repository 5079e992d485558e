//! Key-value buckets through async-nats' `jetstream::kv` API, unchanged, against a real
//! natrium: bucket config and status, put/get, create/update with expected revisions,
//! delete and purge markers, per-key history limit, TTL, bucket deletion, name
//! validation, and everything again after a restart (file storage).
//!
//! Watch, keys and history go through the client's ordered push consumers.
//!
//! Set `NATRIUM_COMPARE_URL=nats://host:port` to run the tests that do not restart the
//! server against another server (e.g. nats-server 2.9 with `-js`).

mod common;
mod js_common;
mod kv_common;

use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, PutErrorKind, UpdateErrorKind};
use async_nats::jetstream::stream::{DiscardPolicy, Republish};
use futures::{StreamExt, TryStreamExt};
use js_common::{api, err_code, publish};
use kv_common::{eventually, unique, within5, Target};
use serde_json::json;

fn bucket_config(bucket: &str) -> kv::Config {
    kv::Config {
        bucket: bucket.to_string(),
        description: "test bucket".into(),
        history: 5,
        max_age: Duration::from_secs(3600),
        max_value_size: 1024,
        ..Default::default()
    }
}

#[tokio::test]
async fn create_bucket_maps_to_the_stream_kv_clients_expect() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("CFG");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    assert_eq!(kv.name, b);
    assert_eq!(kv.stream_name, format!("KV_{b}"));

    // The stream as the server reports it.
    let v = api(&c, &format!("$JS.API.STREAM.INFO.KV_{b}"), json!(null)).await;
    assert!(v.get("error").is_none(), "{v}");
    let cfg = &v["config"];
    assert_eq!(cfg["subjects"], json!([format!("$KV.{b}.>")]), "{cfg}");
    assert_eq!(cfg["max_msgs_per_subject"], 5);
    assert_eq!(cfg["max_msg_size"], 1024);
    assert_eq!(cfg["max_age"], 3_600_000_000_000u64);
    assert_eq!(cfg["duplicate_window"], 120_000_000_000u64);
    assert_eq!(cfg["discard"], "new");
    assert_eq!(cfg["allow_rollup_hdrs"], true);
    assert_eq!(cfg["deny_delete"], true);
    assert_eq!(cfg["deny_purge"], false);
    assert_eq!(cfg["allow_direct"], true);
    assert_eq!(cfg["max_msgs"], -1);
    assert_eq!(cfg["max_bytes"], -1);
    assert_eq!(cfg["num_replicas"], 1);
    assert_eq!(cfg["description"], "test bucket");

    // The status the client reads.
    let st = kv.status().await.unwrap();
    assert_eq!(st.bucket(), b);
    assert_eq!(st.history(), 5);
    assert_eq!(st.max_age(), Duration::from_secs(3600));
    assert_eq!(st.values(), 0);
    assert_eq!(st.info.config.max_message_size, 1024);
    assert_eq!(st.info.config.discard, DiscardPolicy::New);

    // Creating the same bucket again is fine; a different history is refused; the
    // bucket is found by name.
    js.create_key_value(bucket_config(&b)).await.unwrap();
    let mut other = bucket_config(&b);
    other.history = 2;
    assert!(js.create_key_value(other).await.is_err());
    let again = js.get_key_value(&b).await.unwrap();
    assert_eq!(again.status().await.unwrap().history(), 5);

    // The status counts values (history included) once re-read.
    kv.put("a", "1".into()).await.unwrap();
    kv.put("a", "2".into()).await.unwrap();
    kv.put("b", "3".into()).await.unwrap();
    let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
    assert_eq!(st.values(), 3);
    assert_eq!(st.info.state.last_sequence, 3);
}

#[tokio::test]
async fn put_get_entry_and_revisions() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("PG")))
        .await
        .unwrap();
    assert_eq!(kv.get("missing").await.unwrap(), None);
    assert!(kv.entry("missing").await.unwrap().is_none());

    let r1 = kv.put("color", "red".into()).await.unwrap();
    let r2 = kv.put("size", "xl".into()).await.unwrap();
    let r3 = kv.put("color", "blue".into()).await.unwrap();
    assert_eq!((r1, r2, r3), (1, 2, 3));
    assert_eq!(
        kv.get("color").await.unwrap().as_deref(),
        Some(&b"blue"[..])
    );
    assert_eq!(kv.get("size").await.unwrap().as_deref(), Some(&b"xl"[..]));

    let e = kv.entry("color").await.unwrap().unwrap();
    assert_eq!(e.key, "color");
    assert_eq!(e.revision, 3);
    assert_eq!(e.operation, Operation::Put);
    assert_eq!(&e.value[..], b"blue");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - e.created.unix_timestamp()).abs() < 60,
        "entry time is now: {:?}",
        e.created
    );

    // Older revisions by number; a revision of another key is not this key's.
    let old = kv.entry_for_revision("color", 1).await.unwrap().unwrap();
    assert_eq!(&old.value[..], b"red");
    assert_eq!(old.revision, 1);
    assert!(kv.entry_for_revision("color", 2).await.unwrap().is_none());

    // Keys with dots, dashes, slashes, equals; binary and empty values.
    kv.put("a.b-c/d=e_f", vec![0u8, 255, 10, 13].into())
        .await
        .unwrap();
    assert_eq!(
        kv.get("a.b-c/d=e_f").await.unwrap().as_deref(),
        Some(&[0u8, 255, 10, 13][..])
    );
}

#[tokio::test]
async fn create_on_an_existing_key_fails() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("CR");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    let r = kv.create("k", "one".into()).await.unwrap();
    assert_eq!(r, 1);
    let err = kv.create("k", "two".into()).await.unwrap_err();
    assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"one"[..]));

    // On the wire: the expected-last-subject-sequence check and its error.
    let ack = publish(
        &c,
        &format!("$KV.{b}.k"),
        &[("Nats-Expected-Last-Subject-Sequence", "0")],
        "x",
    )
    .await;
    assert_eq!(err_code(&ack), 10071, "{ack}");
    assert_eq!(ack["error"]["code"], 400);
    assert_eq!(ack["error"]["description"], "wrong last sequence: 1");
    // Another key is still free.
    assert_eq!(kv.create("k2", "v".into()).await.unwrap(), 2);
}

#[tokio::test]
async fn update_with_a_wrong_revision_fails() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("UP")))
        .await
        .unwrap();
    let r1 = kv.put("k", "1".into()).await.unwrap();
    kv.put("other", "x".into()).await.unwrap();
    let r3 = kv.update("k", "2".into(), r1).await.unwrap();
    assert_eq!(r3, 3);
    // r1 is no longer the latest revision of k.
    let err = kv.update("k", "3".into(), r1).await.unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    // The stream's last sequence is not the key's revision.
    let err = kv.update("k", "3".into(), 2).await.unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    // Updating a key that does not exist expects revision 0.
    let err = kv.update("nokey", "3".into(), 1).await.unwrap_err();
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    assert_eq!(kv.update("nokey", "3".into(), 0).await.unwrap(), 4);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(kv.update("k", "4".into(), r3).await.unwrap(), 5);
}

#[tokio::test]
async fn delete_then_create_succeeds() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("DEL")))
        .await
        .unwrap();
    kv.put("k", "v1".into()).await.unwrap();
    kv.delete("k").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap(), None);
    let e = kv.entry("k").await.unwrap().expect("the delete marker");
    assert_eq!(e.operation, Operation::Delete);
    assert_eq!(e.revision, 2);
    assert!(e.value.is_empty());
    // The marker is stored with the KV-Operation header.
    let m = kv.stream.direct_get(2).await.unwrap();
    assert_eq!(
        m.headers.get("KV-Operation").map(|v| v.as_str()),
        Some("DEL")
    );

    // Create works again on a deleted key (the client retries as an update).
    let r = kv.create("k", "v2".into()).await.unwrap();
    assert_eq!(r, 3);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    // Deleting twice and deleting a missing key are both fine.
    kv.delete("k").await.unwrap();
    kv.delete("k").await.unwrap();
    kv.delete("never").await.unwrap();
    assert_eq!(kv.get("never").await.unwrap(), None);
    // Messages may not be deleted from a KV stream by sequence (deny_delete).
    let err = kv.stream.delete_message(1).await.unwrap_err();
    assert!(err.to_string().contains("delete"), "{err}");
}

#[tokio::test]
async fn purge_keeps_only_the_marker() {
    let t = Target::start().await;
    let js = t.js().await;
    let b = unique("PUR");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    for i in 0..3 {
        kv.put("k", format!("v{i}").into()).await.unwrap();
    }
    kv.put("keep", "x".into()).await.unwrap();
    kv.purge("k").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap(), None);
    let e = kv.entry("k").await.unwrap().expect("purge marker");
    assert_eq!(e.operation, Operation::Purge);
    assert_eq!(e.revision, 5);
    let m = kv.stream.direct_get(5).await.unwrap();
    assert_eq!(
        m.headers.get("KV-Operation").map(|v| v.as_str()),
        Some("PURGE")
    );
    assert_eq!(
        m.headers.get("Nats-Rollup").map(|v| v.as_str()),
        Some("sub")
    );
    // The rollup removed the earlier values of k; "keep" is untouched.
    let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
    assert_eq!(st.values(), 2, "marker + keep");
    for rev in 1..=3 {
        assert!(kv.entry_for_revision("k", rev).await.unwrap().is_none());
    }
    assert_eq!(kv.get("keep").await.unwrap().as_deref(), Some(&b"x"[..]));
    // A purged key can be created again.
    assert_eq!(kv.create("k", "new".into()).await.unwrap(), 6);
}

#[tokio::test]
async fn history_is_limited_to_five_per_key() {
    let t = Target::start().await;
    let js = t.js().await;
    let b = unique("HIS");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    for i in 1..=8 {
        kv.put("h", format!("v{i}").into()).await.unwrap();
    }
    kv.put("other", "o".into()).await.unwrap();
    let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
    assert_eq!(st.values(), 6, "5 revisions of h + other");
    for rev in 1..=3 {
        assert!(
            kv.entry_for_revision("h", rev).await.unwrap().is_none(),
            "revision {rev} was dropped"
        );
    }
    for rev in 4..=8 {
        let e = kv.entry_for_revision("h", rev).await.unwrap().unwrap();
        assert_eq!(e.value, format!("v{rev}").as_bytes());
    }
}

#[tokio::test]
async fn max_value_size_is_enforced() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("MVS");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    kv.put("k", vec![b'a'; 1000].into()).await.unwrap();
    let err = kv.put("k", vec![b'a'; 1025].into()).await.unwrap_err();
    assert_eq!(err.kind(), PutErrorKind::Ack, "{err}");
    assert!(err.to_string().contains("size"), "{err}");
    let ack = publish(&c, &format!("$KV.{b}.k"), &[], &"a".repeat(1025)).await;
    assert_eq!(err_code(&ack), 10054, "{ack}");
    assert_eq!(kv.get("k").await.unwrap().map(|v| v.len()), Some(1000));
}

#[tokio::test]
async fn values_expire_after_the_ttl() {
    let t = Target::start().await;
    let js = t.js().await;
    let b = unique("TTL");
    let kv = js
        .create_key_value(kv::Config {
            bucket: b.clone(),
            history: 5,
            max_age: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(kv.status().await.unwrap().max_age(), Duration::from_secs(1));
    assert_eq!(
        kv.status().await.unwrap().info.config.duplicate_window,
        Duration::from_secs(1),
        "the duplicate window follows a TTL below two minutes"
    );
    kv.put("k", "v".into()).await.unwrap();
    kv.put("k", "w".into()).await.unwrap();
    let put_at = std::time::Instant::now();
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"w"[..]));
    assert!(
        eventually(Duration::from_secs(5), || async {
            kv.get("k").await.unwrap().is_none()
        })
        .await,
        "the value expired"
    );
    assert!(
        put_at.elapsed() >= Duration::from_millis(800),
        "not before the TTL: {:?}",
        put_at.elapsed()
    );
    let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
    assert_eq!(st.values(), 0);
    assert_eq!(st.info.state.last_sequence, 2);
    // The bucket keeps working and revisions keep counting.
    assert_eq!(kv.create("k", "again".into()).await.unwrap(), 3);
}

#[tokio::test]
async fn deleting_a_bucket() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("GONE");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    kv.put("k", "v".into()).await.unwrap();
    assert!(js.delete_key_value(&b).await.unwrap().success);
    assert!(js.get_key_value(&b).await.is_err());
    let v = api(&c, &format!("$JS.API.STREAM.INFO.KV_{b}"), json!(null)).await;
    assert_eq!(err_code(&v), 10059);
    // A stale handle finds nothing to store into or read from.
    // (The put gets no responders at once; the direct get times out, as with
    // nats-server, whose API subscription also covers the stream's direct get.)
    assert!(within5(kv.put("k", "v".into())).await.is_err());
    assert!(tokio::time::timeout(Duration::from_secs(15), kv.get("k"))
        .await
        .expect("get answers or times out")
        .is_err());
    // Deleting again reports the missing bucket.
    assert!(js.delete_key_value(&b).await.is_err());
    // The name can be reused, starting from revision 1.
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    assert_eq!(kv.put("k", "v".into()).await.unwrap(), 1);
}

#[tokio::test]
async fn bad_bucket_and_key_names_are_refused() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    for bad in ["bad.name", "bad name", "", "a*", "a>", "ä"] {
        let err = js
            .create_key_value(kv::Config {
                bucket: bad.into(),
                ..Default::default()
            })
            .await
            .err()
            .unwrap_or_else(|| panic!("bucket {bad:?} accepted"));
        assert!(err.to_string().contains("invalid"), "bucket {bad:?}: {err}");
        assert!(js.get_key_value(bad).await.is_err());
    }
    let kv = js
        .create_key_value(bucket_config(&unique("KEYS")))
        .await
        .unwrap();
    for bad in ["", ".a", "a.", "a b", "a*", "a>", "ä", "a\tb"] {
        let err = kv.put(bad, "v".into()).await.unwrap_err();
        assert_eq!(err.kind(), PutErrorKind::InvalidKey, "key {bad:?}: {err}");
        assert!(kv.get(bad).await.is_err(), "get {bad:?}");
        assert!(kv.create(bad, "v".into()).await.is_err(), "create {bad:?}");
    }
    // The server refuses a stream name a bucket name can not produce.
    let v = api(
        &c,
        "$JS.API.STREAM.CREATE.KV_a*",
        json!({"name":"KV_a*","subjects":["$KV.a.>"]}),
    )
    .await;
    assert!(
        v["error"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("name")),
        "{v}"
    );
}

/// Bucket listing as nats.go does it: stream names/list filtered on `$KV.*.>` (or
/// `$O.*.C.>` for object stores), with the `KV_`/`OBJ_` prefix stripped.
#[tokio::test]
async fn buckets_are_listed_by_subject_filter() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let (k1, k2, o1) = (unique("L1"), unique("L2"), unique("LO"));
    js.create_key_value(bucket_config(&k1)).await.unwrap();
    js.create_key_value(bucket_config(&k2)).await.unwrap();
    js.create_object_store(async_nats::jetstream::object_store::Config {
        bucket: o1.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(async_nats::jetstream::stream::Config {
        name: unique("PLAIN"),
        subjects: vec![format!("{}.>", unique("plain"))],
        ..Default::default()
    })
    .await
    .unwrap();
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v["streams"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        n.sort();
        n
    };
    let v = api(&c, "$JS.API.STREAM.NAMES", json!({"subject": "$KV.*.>"})).await;
    let kv_names = names(&v);
    assert!(kv_names.contains(&format!("KV_{k1}")), "{v}");
    assert!(kv_names.contains(&format!("KV_{k2}")), "{v}");
    assert!(kv_names.iter().all(|n| n.starts_with("KV_")), "{v}");
    let v = api(&c, "$JS.API.STREAM.LIST", json!({"subject": "$O.*.C.>"})).await;
    let infos = v["streams"].as_array().expect("stream infos");
    assert!(
        infos
            .iter()
            .any(|i| i["config"]["name"] == format!("OBJ_{o1}")),
        "{v}"
    );
    assert!(
        infos
            .iter()
            .all(|i| i["config"]["name"].as_str().unwrap().starts_with("OBJ_")),
        "{v}"
    );
}

/// The raw direct get a KV client does, and the statuses of requests that choose no
/// message or are not requests (as nats-server 2.9/2.10 answer them).
#[tokio::test]
async fn direct_get_headers_and_statuses() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("DG");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    kv.put("k", "v1".into()).await.unwrap();
    kv.put("k", "v2".into()).await.unwrap();
    let direct = format!("$JS.API.DIRECT.GET.KV_{b}");
    let get = |subject: String, body: &'static str| {
        let c = c.clone();
        async move {
            within5(c.request(subject, body.into()))
                .await
                .expect("direct get answered")
        }
    };
    // Last message for the key's subject, with an empty body.
    let m = get(format!("{direct}.$KV.{b}.k"), "").await;
    assert_eq!(&m.payload[..], b"v2");
    let h = m.headers.expect("headers");
    assert_eq!(
        h.get("Nats-Stream").map(|v| v.as_str()),
        Some(format!("KV_{b}").as_str())
    );
    assert_eq!(
        h.get("Nats-Subject").map(|v| v.as_str()),
        Some(format!("$KV.{b}.k").as_str())
    );
    assert_eq!(h.get("Nats-Sequence").map(|v| v.as_str()), Some("2"));
    assert!(h.get("Nats-Time-Stamp").is_some());
    // Statuses: 404 for a miss, 408 with nats-server's descriptions otherwise.
    for (subject, body, code, description) in [
        (
            format!("{direct}.$KV.{b}.none"),
            "",
            404,
            "Message Not Found",
        ),
        (direct.clone(), r#"{"seq":99}"#, 404, "Message Not Found"),
        (direct.clone(), "", 408, "Empty Request"),
        (direct.clone(), r#"{"seq":0}"#, 408, "Empty Request"),
        (direct.clone(), "{not json", 408, "Malformed Request"),
        (
            direct.clone(),
            r#"{"seq":1,"last_by_subj":"x"}"#,
            408,
            "Bad Request",
        ),
    ] {
        let m = get(subject, body).await;
        assert!(m.payload.is_empty());
        assert_eq!(
            m.status.map(|s| s.as_u16()),
            Some(code),
            "{body}: {:?}",
            m.description
        );
        assert_eq!(m.description.as_deref(), Some(description), "{body}");
    }
}

/// The bytes a bucket reports (and its `max_bytes` counts) are nats-server's message
/// sizes: file storage 30 bytes over subject + value (+4 with headers), memory 16.
#[tokio::test]
async fn bucket_bytes_are_counted_as_nats_server_does() {
    let t = Target::start().await;
    let js = t.js().await;
    for (storage, overhead, hdr_extra) in [
        (
            async_nats::jetstream::stream::StorageType::File,
            30u64,
            4u64,
        ),
        (async_nats::jetstream::stream::StorageType::Memory, 16, 0),
    ] {
        let b = unique("SZ");
        let kv = js
            .create_key_value(kv::Config {
                bucket: b.clone(),
                history: 5,
                storage,
                ..Default::default()
            })
            .await
            .unwrap();
        let subject = format!("$KV.{b}.key").len() as u64;
        kv.put("key", "value".into()).await.unwrap();
        let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
        assert_eq!(st.info.state.bytes, subject + 5 + overhead, "{storage:?}");
        // A delete marker: no value, the "KV-Operation: DEL" header block.
        kv.delete("key").await.unwrap();
        let marker = kv.stream.direct_get(2).await.unwrap();
        assert_eq!(marker.subject.as_str(), format!("$KV.{b}.key"));
        let hdr = "NATS/1.0\r\nKV-Operation: DEL\r\n\r\n".len() as u64;
        let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
        assert_eq!(
            st.info.state.bytes,
            (subject + 5 + overhead) + (subject + hdr + overhead + hdr_extra),
            "{storage:?}"
        );
    }
}

#[tokio::test]
async fn update_bucket_config_and_byte_limit() {
    let t = Target::start().await;
    let js = t.js().await;
    let b = unique("UPD");
    let kv = js.create_key_value(bucket_config(&b)).await.unwrap();
    kv.put("k", "v".into()).await.unwrap();
    let mut cfg = bucket_config(&b);
    cfg.history = 10;
    cfg.max_value_size = 2048;
    cfg.max_bytes = 4096;
    let kv = js.update_key_value(cfg).await.unwrap();
    let st = js.get_key_value(&b).await.unwrap().status().await.unwrap();
    assert_eq!(st.history(), 10);
    assert_eq!(st.info.config.max_message_size, 2048);
    assert_eq!(st.info.config.max_bytes, 4096);
    assert_eq!(st.values(), 1, "values survive the update");
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    // The byte limit with discard new: a value that does not fit is refused.
    kv.put("a", vec![b'a'; 2000].into()).await.unwrap();
    let err = kv.put("b", vec![b'b'; 2048].into()).await.unwrap_err();
    assert_eq!(err.kind(), PutErrorKind::Ack, "{err}");
    assert!(err.to_string().contains("maximum bytes"), "{err}");
    assert_eq!(kv.get("b").await.unwrap(), None);
    // A missing bucket can not be updated; create-or-update creates it.
    let missing = unique("MISSING");
    assert!(js.update_key_value(bucket_config(&missing)).await.is_err());
    let created = js
        .create_or_update_key_value(bucket_config(&missing))
        .await
        .unwrap();
    assert_eq!(created.put("x", "y".into()).await.unwrap(), 1);
}

/// A bucket with `republish`: every change is published again on the destination,
/// with the stream, subject, revision and the key's previous revision in headers.
#[tokio::test]
async fn republish_sends_every_change_with_its_revision() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("RP");
    let mut sub = c.subscribe(format!("rp.{b}.>")).await.unwrap();
    let mut heads = c.subscribe(format!("rph.{b}.>")).await.unwrap();
    common::barrier(&c).await;
    let kv = js
        .create_key_value(kv::Config {
            bucket: b.clone(),
            history: 5,
            republish: Some(Republish {
                source: format!("$KV.{b}.>"),
                destination: format!("rp.{b}.>"),
                headers_only: false,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let st = kv.status().await.unwrap();
    assert_eq!(
        st.info
            .config
            .republish
            .as_ref()
            .map(|r| r.destination.as_str()),
        Some(format!("rp.{b}.>").as_str())
    );
    kv.put("a.b", "one".into()).await.unwrap();
    kv.put("c", "two".into()).await.unwrap();
    kv.put("a.b", "three".into()).await.unwrap();
    kv.delete("c").await.unwrap();
    let want = [
        ("a.b", "one", 1, 0, None),
        ("c", "two", 2, 0, None),
        ("a.b", "three", 3, 1, None),
        ("c", "", 4, 2, Some("DEL")),
    ];
    for (key, value, seq, last, op) in want {
        let m = within5(sub.next()).await.unwrap();
        assert_eq!(m.subject.as_str(), format!("rp.{b}.{key}"));
        assert_eq!(&m.payload[..], value.as_bytes());
        assert!(m.reply.is_none());
        let h = m.headers.expect("headers");
        let get = |k: &str| h.get(k).map(|v| v.as_str().to_string());
        assert_eq!(get("Nats-Stream"), Some(format!("KV_{b}")));
        assert_eq!(get("Nats-Subject"), Some(format!("$KV.{b}.{key}")));
        assert_eq!(get("Nats-Sequence"), Some(seq.to_string()));
        assert_eq!(get("Nats-Last-Sequence"), Some(last.to_string()));
        assert_eq!(get("KV-Operation").as_deref(), op);
        assert_eq!(get("Nats-Msg-Size"), None);
    }

    // Headers only, with a wildcard mapping: the payload size instead of the payload.
    let b2 = unique("RPH");
    let kv2 = js
        .create_key_value(kv::Config {
            bucket: b2.clone(),
            republish: Some(Republish {
                source: format!("$KV.{b2}.*"),
                destination: format!("rph.{b}.{{{{wildcard(1)}}}}"),
                headers_only: true,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    kv2.put("k", "12345".into()).await.unwrap();
    kv2.put("not.matched", "x".into()).await.unwrap();
    kv2.put("k2", "1".into()).await.unwrap();
    let m = within5(heads.next()).await.unwrap();
    assert_eq!(m.subject.as_str(), format!("rph.{b}.k"));
    assert!(m.payload.is_empty());
    let h = m.headers.unwrap();
    assert_eq!(h.get("Nats-Msg-Size").map(|v| v.as_str()), Some("5"));
    assert_eq!(h.get("Nats-Sequence").map(|v| v.as_str()), Some("1"));
    let m = within5(heads.next()).await.unwrap();
    assert_eq!(
        m.subject.as_str(),
        format!("rph.{b}.k2"),
        "two-token key skipped"
    );

    // A destination inside the bucket's own subjects would loop: refused.
    let Err(err) = js
        .create_key_value(kv::Config {
            bucket: unique("RPC"),
            republish: Some(Republish {
                source: ">".into(),
                destination: "$KV.>".into(),
                headers_only: false,
            }),
            ..Default::default()
        })
        .await
    else {
        panic!("a republish cycle was accepted");
    };
    assert!(
        err.to_string().contains("cycle") || format!("{err:?}").contains("cycle"),
        "{err:?}"
    );
}

// ---- consumers -------------------------------------------------------------------

#[tokio::test]
async fn keys_lists_live_keys() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("KS")))
        .await
        .unwrap();
    let none: Vec<String> = within5(kv.keys().await.unwrap().try_collect())
        .await
        .unwrap();
    assert!(none.is_empty());
    for k in ["a", "b.c", "d", "a"] {
        kv.put(k, "v".into()).await.unwrap();
    }
    kv.delete("d").await.unwrap();
    kv.put("e", "v".into()).await.unwrap();
    kv.purge("e").await.unwrap();
    let mut keys: Vec<String> = within5(kv.keys().await.unwrap().try_collect())
        .await
        .unwrap();
    keys.sort();
    assert_eq!(keys, vec!["a".to_string(), "b.c".to_string()]);
}

#[tokio::test]
async fn history_returns_the_last_five_revisions() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("HST")))
        .await
        .unwrap();
    for i in 1..=7 {
        kv.put("h", format!("v{i}").into()).await.unwrap();
        kv.put("noise", "n".into()).await.unwrap();
    }
    kv.delete("h").await.unwrap();
    let h: Vec<kv::Entry> = within5(kv.history("h").await.unwrap().try_collect())
        .await
        .unwrap();
    let got: Vec<(String, Operation)> = h
        .iter()
        .map(|e| (String::from_utf8_lossy(&e.value).into_owned(), e.operation))
        .collect();
    let want: Vec<(String, Operation)> = vec![
        ("v4".into(), Operation::Put),
        ("v5".into(), Operation::Put),
        ("v6".into(), Operation::Put),
        ("v7".into(), Operation::Put),
        ("".into(), Operation::Delete),
    ];
    assert_eq!(got, want);
    assert!(h.windows(2).all(|w| w[0].revision < w[1].revision));
    assert!(h.iter().all(|e| e.key == "h"));
}

async fn next_entry(w: &mut kv::Watch) -> kv::Entry {
    within5(w.next())
        .await
        .expect("watch ended")
        .expect("watch entry")
}

#[tokio::test]
async fn watch_receives_live_updates_in_order() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("W")))
        .await
        .unwrap();
    kv.put("k.a", "old".into()).await.unwrap();
    kv.put("k.a", "initial".into()).await.unwrap();
    kv.put("x", "not watched".into()).await.unwrap();
    // `watch` sends updates only; `watch_with_history` the current values first.
    let mut w = kv.watch("k.*").await.unwrap();
    let mut wh = kv.watch_with_history("k.*").await.unwrap();
    let e = next_entry(&mut wh).await;
    assert_eq!((e.key.as_str(), &e.value[..]), ("k.a", &b"initial"[..]));
    assert_eq!(e.revision, 2);
    assert!(e.seen_current, "the only initial value is the current one");
    // Then live changes, in order, only for matching keys.
    kv.put("x", "still not watched".into()).await.unwrap();
    kv.put("k.b", "1".into()).await.unwrap();
    kv.put("k.a", "2".into()).await.unwrap();
    kv.delete("k.b").await.unwrap();
    kv.purge("k.a").await.unwrap();
    kv.put("k.b.deeper", "not matched by k.*".into())
        .await
        .unwrap();
    let want = vec![
        ("k.b".to_string(), "1".to_string(), Operation::Put, 5),
        ("k.a".to_string(), "2".to_string(), Operation::Put, 6),
        ("k.b".to_string(), "".to_string(), Operation::Delete, 7),
        ("k.a".to_string(), "".to_string(), Operation::Purge, 8),
    ];
    for w in [&mut w, &mut wh] {
        let mut got = Vec::new();
        for _ in 0..4 {
            let e = next_entry(w).await;
            got.push((
                e.key,
                String::from_utf8_lossy(&e.value).into_owned(),
                e.operation,
                e.revision,
            ));
        }
        assert_eq!(got, want);
    }
    // Nothing else arrives.
    kv.put("y", "v".into()).await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), w.next())
        .await
        .is_err());
}

#[tokio::test]
async fn watch_all_receives_every_key_in_revision_order() {
    let t = Target::start().await;
    let js = t.js().await;
    let kv = js
        .create_key_value(bucket_config(&unique("WA")))
        .await
        .unwrap();
    kv.put("a", "1".into()).await.unwrap();
    kv.put("b", "2".into()).await.unwrap();
    kv.put("a", "3".into()).await.unwrap();
    let mut w = kv.watch_all().await.unwrap();
    // With history: the last value per key, in revision order.
    let mut wh = kv.watch_with_history(">").await.unwrap();
    let e1 = next_entry(&mut wh).await;
    let e2 = next_entry(&mut wh).await;
    assert_eq!((e1.key.as_str(), e1.revision), ("b", 2));
    assert_eq!((e2.key.as_str(), e2.revision), ("a", 3));
    assert!(e2.seen_current);
    let writer = kv.clone();
    let pub_task = tokio::spawn(async move {
        for i in 0..50u32 {
            writer
                .put(format!("k{}", i % 7), i.to_string().into())
                .await
                .unwrap();
        }
    });
    for w in [&mut w, &mut wh] {
        let mut last = 3;
        for i in 0..50u32 {
            let e = next_entry(w).await;
            assert_eq!(e.key, format!("k{}", i % 7));
            assert_eq!(&e.value[..], i.to_string().as_bytes());
            assert_eq!(e.revision, last + 1);
            last = e.revision;
        }
    }
    pub_task.await.unwrap();
    // From a revision: that change and what follows.
    let mut w2 = kv.watch_all_from_revision(52).await.unwrap();
    kv.put("late", "x".into()).await.unwrap();
    let e = next_entry(&mut w2).await;
    assert_eq!((e.key.as_str(), e.revision), ("k6", 52));
    let e = next_entry(&mut w2).await;
    assert_eq!((e.key.as_str(), e.revision), ("k0", 53));
    let e = next_entry(&mut w2).await;
    assert_eq!((e.key.as_str(), e.revision), ("late", 54));
}

// ---- restart -------------------------------------------------------------------------

/// Puts, deletes and purges, restarts natrium on the same store, and checks what the
/// clients see: the bucket, values, markers, revisions and the expected-revision rules.
#[tokio::test]
async fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let kv = js.create_key_value(bucket_config("RS")).await.unwrap();
    for i in 1..=7 {
        kv.put("h", format!("v{i}").into()).await.unwrap(); // revisions 1..=7
    }
    kv.put("gone", "x".into()).await.unwrap(); // 8
    kv.delete("gone").await.unwrap(); // 9
    kv.put("p", "x".into()).await.unwrap(); // 10
    kv.purge("p").await.unwrap(); // 11
    kv.create("c", "created".into()).await.unwrap(); // 12
    drop(js);
    js_common::stop(srv).await;

    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let kv = js.get_key_value("RS").await.unwrap();
    let st = kv.status().await.unwrap();
    assert_eq!(st.history(), 5);
    assert_eq!(
        st.values(),
        5 + 2 + 1 + 1,
        "h×5, gone + its marker, p's marker, c"
    );
    assert_eq!(st.info.state.last_sequence, 12);
    assert_eq!(st.info.config.max_message_size, 1024);
    assert!(st.info.config.allow_direct);
    assert_eq!(kv.get("h").await.unwrap().as_deref(), Some(&b"v7"[..]));
    assert!(kv.entry_for_revision("h", 2).await.unwrap().is_none());
    assert_eq!(
        kv.entry_for_revision("h", 3).await.unwrap().unwrap().value,
        "v3".as_bytes()
    );
    assert_eq!(kv.get("gone").await.unwrap(), None);
    assert_eq!(
        kv.entry("gone").await.unwrap().unwrap().operation,
        Operation::Delete
    );
    assert_eq!(
        kv.entry("p").await.unwrap().unwrap().operation,
        Operation::Purge
    );
    // Expected-revision rules work on the reloaded subject index.
    assert_eq!(
        kv.create("c", "again".into()).await.unwrap_err().kind(),
        CreateErrorKind::AlreadyExists
    );
    assert_eq!(
        kv.update("h", "v8".into(), 6).await.unwrap_err().kind(),
        UpdateErrorKind::WrongLastRevision
    );
    assert_eq!(kv.update("h", "v8".into(), 7).await.unwrap(), 13);
    assert_eq!(kv.create("gone", "back".into()).await.unwrap(), 14);
    assert_eq!(kv.create("p", "back".into()).await.unwrap(), 15);
    // The history limit still applies: revision 3 is now dropped.
    assert!(kv.entry_for_revision("h", 3).await.unwrap().is_none());
    let st = js
        .get_key_value("RS")
        .await
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(st.values(), 5 + 3 + 2 + 1, "h×5, gone×3, p×2, c");
    js_common::stop(srv).await;
}

#[tokio::test]
async fn keys_history_and_watch_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let kv = js.create_key_value(bucket_config("RSW")).await.unwrap();
    for i in 1..=6 {
        kv.put("h", format!("v{i}").into()).await.unwrap();
    }
    kv.put("d", "x".into()).await.unwrap();
    kv.delete("d").await.unwrap();
    drop(js);
    js_common::stop(srv).await;

    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let kv = js.get_key_value("RSW").await.unwrap();
    let keys: Vec<String> = within5(kv.keys().await.unwrap().try_collect())
        .await
        .unwrap();
    assert_eq!(keys, vec!["h".to_string()]);
    let h: Vec<kv::Entry> = within5(kv.history("h").await.unwrap().try_collect())
        .await
        .unwrap();
    let values: Vec<String> = h
        .iter()
        .map(|e| String::from_utf8_lossy(&e.value).into_owned())
        .collect();
    assert_eq!(values, vec!["v2", "v3", "v4", "v5", "v6"]);
    let mut w = kv.watch_with_history(">").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_str(), e.revision), ("h", 6));
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_str(), e.operation), ("d", Operation::Delete));
    kv.put("new", "n".into()).await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_str(), e.revision), ("new", 9));
    js_common::stop(srv).await;
}

// ---- nats.py -------------------------------------------------------------------------

/// nats.py's KeyValue API (tests/py/kv_client.py) against natrium.
#[tokio::test]
async fn nats_py_key_value() {
    let t = Target::start().await;
    kv_common::run_python(
        "kv_client.py",
        &t.url,
        &[
            "bucket create and status",
            "put/get",
            "create existing fails",
            "update wrong revision fails",
            "delete then create",
            "purge",
            "history limit",
            "max value size",
            "bad names",
            "ttl",
            "delete bucket",
        ],
    )
    .await;
}
