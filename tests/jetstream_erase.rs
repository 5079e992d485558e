//! `$JS.API.STREAM.MSG.DELETE`: with `no_erase: false` (the default) the message's
//! stored data is overwritten and scrubbed from the RocksDB files (write-ahead log and
//! tables); `no_erase: true` only removes it. Both leave the sequence in the deleted
//! details. The files of the store directory are scanned for the payloads.

mod common;
mod js_common;

use std::path::Path;

use async_nats::jetstream;
use js_common::{api, create, err_code, publish, start_js, stop};
use serde_json::{json, Value};

/// Whether any file under `dir` contains `needle`.
fn found_in_files(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
            }
        }
    }
    false
}

#[tokio::test]
async fn erase_scrubs_the_payload_from_the_files_and_no_erase_only_removes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"E","subjects":["e.>"]})).await;
    let kept = b"NOERASE-MARKER-7f3a1c";
    let erased = b"ERASE-MARKER-91c2d8e4";
    let flushed = b"FLUSHED-MARKER-5e7b40";
    for p in [&kept[..], &erased[..], &flushed[..]] {
        let v = publish(&c, "e.x", &[], std::str::from_utf8(p).unwrap()).await;
        assert!(v.get("error").is_none(), "{v}");
    }

    // no_erase: gone from the stream, its bytes still in the files.
    let v = api(
        &c,
        "$JS.API.STREAM.MSG.DELETE.E",
        json!({"seq":1,"no_erase":true}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    assert!(found_in_files(dir.path(), kept));
    assert!(found_in_files(dir.path(), erased));

    // Erase through async-nats (no no_erase field): gone, and gone from the files.
    let js = jetstream::new(c.clone());
    let s = js.get_stream("E").await.unwrap();
    assert!(s.delete_message(2).await.unwrap());
    assert!(
        !found_in_files(dir.path(), erased),
        "erased payload still on disk"
    );
    for seq in [1, 2] {
        let v = api(&c, "$JS.API.STREAM.MSG.GET.E", json!({ "seq": seq })).await;
        assert_eq!(err_code(&v), 10037);
    }
    let v = api(&c, "$JS.API.STREAM.INFO.E", json!({"deleted_details":true})).await;
    assert_eq!(v["state"]["messages"], 1);
    assert_eq!(v["state"]["first_seq"], 3);
    let m = s.get_raw_message(3).await.unwrap();
    assert_eq!(&m.payload[..], flushed);
    // The scrub flushed the memtable: message 3 now lives in a table file.
    assert!(found_in_files(dir.path(), flushed));

    // Deleted-in-the-middle sequences show in the deleted details.
    for p in ["m4", "m5", "m6"] {
        publish(&c, "e.x", &[], p).await;
    }
    let v = api(&c, "$JS.API.STREAM.MSG.DELETE.E", json!({"seq":5})).await;
    assert_eq!(v["success"], true, "{v}");
    let v = api(
        &c,
        "$JS.API.STREAM.MSG.DELETE.E",
        json!({"seq":4,"no_erase":true}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let v = api(&c, "$JS.API.STREAM.INFO.E", json!({"deleted_details":true})).await;
    assert_eq!(v["state"]["deleted"], json!([4, 5]));
    assert_eq!(v["state"]["num_deleted"], 2);

    // Erasing a message that is already in a table file compacts it away too.
    let v = api(&c, "$JS.API.STREAM.MSG.DELETE.E", json!({"seq":3})).await;
    assert_eq!(v["success"], true, "{v}");
    assert!(
        !found_in_files(dir.path(), flushed),
        "flushed payload still on disk"
    );

    // After a restart: still deleted, the rest intact, the erased bytes nowhere.
    drop(s);
    stop(srv).await;
    assert!(!found_in_files(dir.path(), erased));
    assert!(!found_in_files(dir.path(), flushed));
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    let v = api(&c, "$JS.API.STREAM.INFO.E", Value::Null).await;
    assert_eq!(v["state"]["messages"], 1);
    assert_eq!(v["state"]["first_seq"], 6);
    let v = api(&c, "$JS.API.STREAM.MSG.GET.E", json!({"seq":6})).await;
    assert!(v.get("error").is_none(), "{v}");
    stop(srv).await;
}

/// Deleting a sequence that has no message, with nats-server 2.9.10's answers: memory
/// storage 400/10043 always; file storage 10043 inside the stream, the store's 10057
/// outside it.
#[tokio::test]
async fn delete_of_a_missing_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    for storage in ["file", "memory"] {
        let name = format!("N{storage}");
        create(
            &c,
            json!({"name": name, "subjects": [name], "storage": storage}),
        )
        .await;
        for _ in 0..5 {
            publish(&c, &name, &[], "x").await;
        }
        let del = |seq: u64| {
            let c = c.clone();
            let subject = format!("$JS.API.STREAM.MSG.DELETE.{name}");
            async move { api(&c, &subject, json!({ "seq": seq })).await }
        };
        assert_eq!(del(3).await["success"], true);
        let again = del(3).await;
        assert_eq!(
            (
                &again["error"]["code"],
                err_code(&again),
                &again["error"]["description"]
            ),
            (&json!(400), 10043, &json!("sequence 3 not found")),
            "{storage}"
        );
        let v = api(
            &c,
            &format!("$JS.API.STREAM.PURGE.{name}"),
            json!({"seq": 2}),
        )
        .await;
        assert_eq!(v["purged"], 1, "{v}");
        let (below, above) = (del(1).await, del(6).await);
        if storage == "file" {
            assert_eq!(below["error"]["code"], 500);
            assert_eq!(err_code(&below), 10057);
            assert_eq!(below["error"]["description"], "no message found");
            assert_eq!(err_code(&above), 10057);
            assert_eq!(above["error"]["description"], "stream store EOF");
        } else {
            assert_eq!(below["error"]["description"], "sequence 1 not found");
            assert_eq!(err_code(&above), 10043);
            assert_eq!(above["error"]["description"], "sequence 6 not found");
        }
    }
    stop(srv).await;
}

#[tokio::test]
async fn erase_in_memory_storage_removes_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_js(dir.path()).await;
    let c = common::client(&srv).await;
    create(&c, json!({"name":"M","subjects":["m"],"storage":"memory"})).await;
    for p in ["a", "b", "c"] {
        publish(&c, "m", &[], p).await;
    }
    let v = api(&c, "$JS.API.STREAM.MSG.DELETE.M", json!({"seq":2})).await;
    assert_eq!(v["success"], true, "{v}");
    let v = api(&c, "$JS.API.STREAM.MSG.GET.M", json!({"seq":2})).await;
    assert_eq!(err_code(&v), 10037);
    let v = api(&c, "$JS.API.STREAM.INFO.M", json!({"deleted_details":true})).await;
    assert_eq!(v["state"]["deleted"], json!([2]));
    stop(srv).await;
}
