//! Object store buckets through async-nats' `jetstream::object_store` API, unchanged,
//! against a real natrium: bucket config, put of a 20 MB object in 128 KiB chunks with
//! its SHA-256 digest, info, overwrite, delete, bucket deletion, names, and all of it
//! after a restart (file storage).
//!
//! Reading an object back, listing and watching use an ordered push consumer in the
//! client; the stored chunks are also read back with direct gets, which need none.

mod common;
mod js_common;
mod kv_common;

use std::time::Duration;

use async_nats::jetstream::object_store::{self, GetErrorKind, InfoErrorKind, ObjectMetadata};
use async_nats::jetstream::stream::DiscardPolicy;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use js_common::{api, err_code};
use kv_common::{unique, within5, Target};
use serde_json::json;
use sha2::Digest;
use tokio::io::AsyncReadExt;

const MB20: usize = 20 * 1024 * 1024;
const CHUNK: usize = 128 * 1024;

/// Deterministic, non-repeating-looking bytes (so a misplaced chunk changes the digest).
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn digest_of(bytes: &[u8]) -> String {
    let d = sha2::Sha256::digest(bytes);
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(d)
    )
}

/// Reads the chunks of `nuid` back in order with direct gets (no consumer).
async fn read_chunks(js: &async_nats::jetstream::Context, bucket: &str, nuid: &str) -> Vec<u8> {
    let stream = js.get_stream(format!("OBJ_{bucket}")).await.unwrap();
    let subject = format!("$O.{bucket}.C.{nuid}");
    let mut out = Vec::new();
    let mut next = 1;
    loop {
        match within5(stream.direct_get_next_for_subject(subject.as_str(), Some(next))).await {
            Ok(m) => {
                assert_eq!(m.subject.as_str(), subject);
                assert!(m.payload.len() <= CHUNK);
                out.extend_from_slice(&m.payload);
                next = m.sequence + 1;
            }
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    async_nats::jetstream::stream::DirectGetErrorKind::NotFound,
                    "{e}"
                );
                return out;
            }
        }
    }
}

async fn messages_in(c: &async_nats::Client, stream: &str) -> u64 {
    let v = api(c, &format!("$JS.API.STREAM.INFO.{stream}"), json!(null)).await;
    assert!(v.get("error").is_none(), "{v}");
    v["state"]["messages"].as_u64().unwrap()
}

#[tokio::test]
async fn create_bucket_maps_to_the_stream_clients_expect() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("OCFG");
    js.create_object_store(object_store::Config {
        bucket: b.clone(),
        description: Some("objects".into()),
        max_age: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .unwrap();
    let v = api(&c, &format!("$JS.API.STREAM.INFO.OBJ_{b}"), json!(null)).await;
    assert!(v.get("error").is_none(), "{v}");
    let cfg = &v["config"];
    assert_eq!(
        cfg["subjects"],
        json!([format!("$O.{b}.C.>"), format!("$O.{b}.M.>")])
    );
    assert_eq!(cfg["discard"], "new");
    assert_eq!(cfg["allow_rollup_hdrs"], true);
    assert_eq!(cfg["allow_direct"], true);
    assert_eq!(cfg["max_age"], 3_600_000_000_000u64);
    assert_eq!(cfg["description"], "objects");
    let stream = js.get_stream(format!("OBJ_{b}")).await.unwrap();
    assert_eq!(stream.cached_info().config.discard, DiscardPolicy::New);
    js.get_object_store(&b).await.unwrap();
}

#[tokio::test]
async fn put_20_mb_object_info_and_chunks() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("BIG");
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: b.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = data(MB20, 1);
    let info = tokio::time::timeout(
        Duration::from_secs(120),
        bucket.put(
            ObjectMetadata {
                name: "dir/big file.bin".into(),
                description: Some("twenty megabytes".into()),
                ..Default::default()
            },
            &mut body.as_slice(),
        ),
    )
    .await
    .expect("put within 120s")
    .unwrap();
    assert_eq!(info.size, MB20);
    assert_eq!(info.chunks, MB20 / CHUNK);
    assert_eq!(info.digest.as_deref(), Some(digest_of(&body).as_str()));
    assert!(!info.deleted);

    // The stored meta, as any client reads it back.
    let got = bucket.info("dir/big file.bin").await.unwrap();
    assert_eq!(got.name, "dir/big file.bin");
    assert_eq!(got.description.as_deref(), Some("twenty megabytes"));
    assert_eq!(got.size, MB20);
    assert_eq!(got.chunks, MB20 / CHUNK);
    assert_eq!(got.nuid, info.nuid);
    assert_eq!(got.digest, info.digest);
    assert_eq!(got.bucket, b);
    // The chunks are in the stream, in order, and make up the object exactly.
    assert_eq!(messages_in(&c, &format!("OBJ_{b}")).await, 160 + 1);
    let back = read_chunks(&js, &b, &info.nuid).await;
    assert_eq!(back.len(), MB20);
    assert!(back == body, "chunks reassemble to the object");
    assert_eq!(digest_of(&back), got.digest.unwrap());

    // A missing object.
    let err = bucket.info("nope").await.unwrap_err();
    assert_eq!(err.kind(), InfoErrorKind::NotFound, "{err}");
    assert!(bucket.get("nope").await.is_err());
    // An empty name is refused by the client.
    assert!(bucket.info("").await.is_err());
}

#[tokio::test]
async fn overwrite_replaces_chunks_and_delete_purges_them() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("OW");
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: b.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let stream = format!("OBJ_{b}");
    let first = data(300_000, 2); // 3 chunks
    let i1 = bucket.put("obj", &mut first.as_slice()).await.unwrap();
    assert_eq!(i1.chunks, 3);
    bucket.put("other", &mut &b"small"[..]).await.unwrap();
    assert_eq!(messages_in(&c, &stream).await, 3 + 1 + 1 + 1);

    // Overwrite: new chunks, the meta rolled up, the old chunks purged.
    let second = data(140_000, 3); // 2 chunks
    let i2 = bucket.put("obj", &mut second.as_slice()).await.unwrap();
    assert_ne!(i1.nuid, i2.nuid);
    assert_eq!(messages_in(&c, &stream).await, 2 + 1 + 1 + 1);
    assert!(read_chunks(&js, &b, &i1.nuid).await.is_empty());
    assert_eq!(read_chunks(&js, &b, &i2.nuid).await, second);
    let info = bucket.info("obj").await.unwrap();
    assert_eq!(info.size, 140_000);
    assert_eq!(info.digest.as_deref(), Some(digest_of(&second).as_str()));

    // Delete: the meta says deleted, the chunks are gone, get refuses it.
    bucket.delete("obj").await.unwrap();
    let info = bucket.info("obj").await.unwrap();
    assert!(info.deleted);
    assert_eq!((info.size, info.chunks), (0, 0));
    assert!(read_chunks(&js, &b, &i2.nuid).await.is_empty());
    let Err(err) = bucket.get("obj").await else {
        panic!("a deleted object was returned");
    };
    assert_eq!(err.kind(), GetErrorKind::NotFound, "{err}");
    assert_eq!(
        messages_in(&c, &stream).await,
        1 + 1 + 1,
        "2 metas + other's chunk"
    );
    // Deleting a missing object fails.
    assert!(bucket.delete("never").await.is_err());
    // The other object is untouched.
    assert_eq!(bucket.info("other").await.unwrap().size, 5);
    // An empty object has no chunks.
    let e = bucket.put("empty", &mut &b""[..]).await.unwrap();
    assert_eq!((e.size, e.chunks), (0, 0));
    assert_eq!(bucket.info("empty").await.unwrap().size, 0);
}

#[tokio::test]
async fn deleting_a_bucket_and_bad_names() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("ODEL");
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: b.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    bucket.put("x", &mut &b"abc"[..]).await.unwrap();
    js.delete_object_store(&b).await.unwrap();
    let v = api(&c, &format!("$JS.API.STREAM.INFO.OBJ_{b}"), json!(null)).await;
    assert_eq!(err_code(&v), 10059);
    assert!(js.get_object_store(&b).await.is_err());
    assert!(js.delete_object_store(&b).await.is_err());
    // A stale handle can not store.
    // (Its first step, reading the old meta by direct get, times out as with nats-server.)
    assert!(
        tokio::time::timeout(Duration::from_secs(15), bucket.put("y", &mut &b"abc"[..]))
            .await
            .expect("put fails within 15s")
            .is_err()
    );

    for bad in ["a.b", "a b", "", "a*", "a>"] {
        assert!(
            js.create_object_store(object_store::Config {
                bucket: bad.into(),
                ..Default::default()
            })
            .await
            .is_err(),
            "bucket {bad:?} accepted"
        );
        assert!(js.get_object_store(bad).await.is_err());
    }
}

#[tokio::test]
async fn metadata_links_limits_and_seal() {
    let t = Target::start().await;
    let js = t.js().await;
    let c = t.client().await;
    let b = unique("META");
    let mut bucket = js
        .create_object_store(object_store::Config {
            bucket: b.clone(),
            max_bytes: 1024 * 1024,
            ..Default::default()
        })
        .await
        .unwrap();
    let body = data(200_000, 9);
    let orig = bucket.put("orig", &mut body.as_slice()).await.unwrap();

    // Rename with a description: the old meta subject is purged, the chunks stay.
    let renamed = bucket
        .update_metadata(
            "orig",
            object_store::UpdateMetadata {
                name: "renamed".into(),
                description: Some("new description".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.nuid, orig.nuid);
    let info = bucket.info("renamed").await.unwrap();
    assert_eq!(info.description.as_deref(), Some("new description"));
    assert_eq!(info.digest, orig.digest);
    assert_eq!(
        bucket.info("orig").await.unwrap_err().kind(),
        InfoErrorKind::NotFound
    );
    assert_eq!(read_chunks(&js, &b, &orig.nuid).await, body);

    // Links are metas pointing at another object or bucket.
    bucket.add_link("lnk", &info).await.unwrap();
    let l = bucket.info("lnk").await.unwrap();
    let link = l.options.unwrap().link.unwrap();
    assert_eq!(link.name.as_deref(), Some("renamed"));
    assert_eq!(link.bucket, b);
    bucket.add_bucket_link("blink", "elsewhere").await.unwrap();
    let bl = bucket
        .info("blink")
        .await
        .unwrap()
        .options
        .unwrap()
        .link
        .unwrap();
    assert_eq!((bl.name, bl.bucket.as_str()), (None, "elsewhere"));

    // max_bytes with discard new: an object that does not fit is refused.
    let too_big = data(2 * 1024 * 1024, 10);
    assert!(bucket
        .put("too big", &mut too_big.as_slice())
        .await
        .is_err());
    assert_eq!(
        bucket.info("too big").await.unwrap_err().kind(),
        InfoErrorKind::NotFound
    );

    // Sealing: the stream is sealed and nothing more can be stored or deleted.
    bucket.seal().await.unwrap();
    let v = api(&c, &format!("$JS.API.STREAM.INFO.OBJ_{b}"), json!(null)).await;
    assert_eq!(v["config"]["sealed"], true, "{v}");
    assert!(bucket.put("after", &mut &b"x"[..]).await.is_err());
    assert!(bucket.delete("renamed").await.is_err());
    assert!(!bucket.info("renamed").await.unwrap().deleted);
}

// ---- consumers -------------------------------------------------------------------

#[tokio::test]
async fn get_20_mb_object_digest_verified_by_the_client() {
    let t = Target::start().await;
    let js = t.js().await;
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: unique("GET"),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = data(MB20, 4);
    let info = bucket.put("big", &mut body.as_slice()).await.unwrap();
    let mut obj = bucket.get("big").await.unwrap();
    assert_eq!(obj.info.size, MB20);
    assert_eq!(obj.info.digest, info.digest);
    let mut back = Vec::with_capacity(MB20);
    // The client checks the SHA-256 digest at the end of the object and fails the
    // read on a mismatch.
    tokio::time::timeout(Duration::from_secs(120), obj.read_to_end(&mut back))
        .await
        .expect("read within 120s")
        .expect("object read with a matching digest");
    assert_eq!(back.len(), MB20);
    assert!(back == body);
    // A small object too.
    bucket.put("small", &mut &b"hello"[..]).await.unwrap();
    let mut s = String::new();
    bucket
        .get("small")
        .await
        .unwrap()
        .read_to_string(&mut s)
        .await
        .unwrap();
    assert_eq!(s, "hello");
}

#[tokio::test]
async fn list_objects() {
    let t = Target::start().await;
    let js = t.js().await;
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: unique("LIST"),
            ..Default::default()
        })
        .await
        .unwrap();
    let empty: Vec<object_store::ObjectInfo> = within5(bucket.list().await.unwrap().try_collect())
        .await
        .unwrap();
    assert!(empty.is_empty());
    for (name, len) in [("a", 10usize), ("b", 200_000), ("c", 0), ("a", 20)] {
        bucket
            .put(name, &mut data(len, 5).as_slice())
            .await
            .unwrap();
    }
    bucket.delete("c").await.unwrap();
    let list: Vec<object_store::ObjectInfo> = within5(bucket.list().await.unwrap().try_collect())
        .await
        .unwrap();
    let mut got: Vec<(String, usize)> = list.into_iter().map(|i| (i.name, i.size)).collect();
    got.sort();
    assert_eq!(got, vec![("a".to_string(), 20), ("b".to_string(), 200_000)]);
}

#[tokio::test]
async fn watch_objects() {
    let t = Target::start().await;
    let js = t.js().await;
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: unique("OWATCH"),
            ..Default::default()
        })
        .await
        .unwrap();
    bucket.put("before", &mut &b"x"[..]).await.unwrap();
    let mut w = bucket.watch().await.unwrap();
    bucket.put("one", &mut &b"1"[..]).await.unwrap();
    bucket.put("two", &mut &b"22"[..]).await.unwrap();
    bucket.delete("one").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        let i = within5(w.next()).await.expect("watch open").expect("info");
        got.push((i.name, i.size, i.deleted));
    }
    assert_eq!(
        got,
        vec![
            ("one".to_string(), 1, false),
            ("two".to_string(), 2, false),
            ("one".to_string(), 0, true),
        ]
    );
    // With history: the latest meta of every object first.
    let mut wh = bucket.watch_with_history().await.unwrap();
    let mut names = Vec::new();
    for _ in 0..3 {
        let i = within5(wh.next()).await.expect("watch open").expect("info");
        names.push(i.name);
    }
    names.sort();
    assert_eq!(names, vec!["before", "one", "two"]);
}

// ---- restart -------------------------------------------------------------------------

#[tokio::test]
async fn objects_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: "RST".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = data(MB20, 6);
    let info = bucket.put("big", &mut body.as_slice()).await.unwrap();
    bucket.put("gone", &mut &b"bye"[..]).await.unwrap();
    bucket.delete("gone").await.unwrap();
    drop(js);
    js_common::stop(srv).await;

    let srv = js_common::start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let js = async_nats::jetstream::new(c.clone());
    let bucket = js.get_object_store("RST").await.unwrap();
    let got = bucket.info("big").await.unwrap();
    assert_eq!(got.size, MB20);
    assert_eq!(got.nuid, info.nuid);
    assert_eq!(got.digest.as_deref(), Some(digest_of(&body).as_str()));
    assert!(read_chunks(&js, "RST", &info.nuid).await == body);
    assert!(bucket.info("gone").await.unwrap().deleted);
    assert_eq!(messages_in(&c, "OBJ_RST").await, 160 + 1 + 1);
    // Overwriting after the restart purges the old chunks.
    let small = data(1000, 7);
    let i2 = bucket.put("big", &mut small.as_slice()).await.unwrap();
    assert_eq!(messages_in(&c, "OBJ_RST").await, 1 + 1 + 1);
    assert_eq!(read_chunks(&js, "RST", &i2.nuid).await, small);
    js_common::stop(srv).await;
}

#[tokio::test]
async fn get_list_and_watch_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let bucket = js
        .create_object_store(object_store::Config {
            bucket: "RSTC".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let body = data(MB20, 8);
    bucket.put("big", &mut body.as_slice()).await.unwrap();
    bucket.put("small", &mut &b"s"[..]).await.unwrap();
    drop(js);
    js_common::stop(srv).await;

    let srv = js_common::start_js(dir.path()).await;
    let js = async_nats::jetstream::new(common::client(&srv).await);
    let bucket = js.get_object_store("RSTC").await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(120),
        bucket.get("big").await.unwrap().read_to_end(&mut back),
    )
    .await
    .expect("read within 120s")
    .expect("digest matches");
    assert!(back == body);
    let list: Vec<object_store::ObjectInfo> = within5(bucket.list().await.unwrap().try_collect())
        .await
        .unwrap();
    let mut names: Vec<String> = list.into_iter().map(|i| i.name).collect();
    names.sort();
    assert_eq!(names, vec!["big", "small"]);
    let mut w = bucket.watch().await.unwrap();
    bucket.put("new", &mut &b"n"[..]).await.unwrap();
    let i = within5(w.next()).await.unwrap().unwrap();
    assert_eq!(i.name, "new");
    js_common::stop(srv).await;
}

// ---- nats.py -------------------------------------------------------------------------

/// nats.py's ObjectStore API (tests/py/obj_client.py) against natrium: a 3 MB object
/// and its digest, info through STREAM.MSG.GET, overwrite, delete, seal.
#[tokio::test]
async fn nats_py_object_store() {
    let t = Target::start().await;
    kv_common::run_python(
        "obj_client.py",
        &t.url,
        &[
            "bucket create and status",
            "put and info",
            "overwrite purges old chunks",
            "delete",
            "seal",
            "delete bucket",
        ],
    )
    .await;
}
