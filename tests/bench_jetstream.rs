//! `natrium bench js-pub`, `kv` and `js-consume` against an in-process natrium with
//! JetStream: the runs pass their own checks (every PubAck, the stream's message
//! count, every value read back), and a server that refuses the publishes makes the
//! run fail instead of reporting a rate.

mod common;
mod js_common;

use clap::Parser;
use natrium::bench::{run, BenchArgs, BenchError};
use natrium::server::RunningServer;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn args(srv: &RunningServer, a: &[&str]) -> BenchArgs {
    let url = srv.client_url();
    let mut full = vec!["bench"];
    full.extend_from_slice(a);
    full.extend_from_slice(&["--url", &url, "--no-progress", "--json"]);
    Cli::try_parse_from(full).expect("bench flags").bench
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_pub_sync_async_kv_and_js_consume_pass_their_checks() {
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;

    let r = run(args(&srv, &["js-pub", "--msgs", "200"])).await.unwrap();
    assert!(r.ok, "{:?}", r.failures);
    assert_eq!((r.workload.as_str(), r.count), ("js-pub", 200));
    assert_eq!(r.concurrency, Some(1));
    assert_eq!(r.latency.as_ref().map(|l| l.count), Some(200));
    assert!(r.setup.as_deref().unwrap().contains("file storage"));
    assert!(r.setup.as_deref().unwrap().contains("synchronous"));

    let r = run(args(
        &srv,
        &[
            "js-pub",
            "--msgs",
            "2000",
            "--window",
            "64",
            "--storage",
            "memory",
            "--stream",
            "WIN",
        ],
    ))
    .await
    .unwrap();
    assert!(r.ok, "{:?}", r.failures);
    assert_eq!(r.count, 2000);
    assert!(r.setup.as_deref().unwrap().contains("window 64"));

    let r = run(args(&srv, &["kv", "--msgs", "150", "--size", "32"]))
        .await
        .unwrap();
    assert!(r.ok, "{:?}", r.failures);
    assert_eq!(r.count, 300);
    let names: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["kv put", "kv get"]);
    assert!(r.phases.iter().all(|p| p.rate.msgs == 150));

    let r = run(args(
        &srv,
        &[
            "js-consume",
            "--msgs",
            "1050",
            "--batch",
            "100",
            "--size",
            "24",
        ],
    ))
    .await
    .unwrap();
    assert!(r.ok, "{:?}", r.failures);
    assert_eq!((r.workload.as_str(), r.count), ("js-consume", 1050));
    assert_eq!(r.concurrency, Some(100));
    // 10 full pulls and one of 50.
    assert_eq!(r.latency.as_ref().map(|l| l.count), Some(11));
    assert!(r.setup.as_deref().unwrap().contains("pull batches of 100"));

    let r = run(args(
        &srv,
        &[
            "js-consume",
            "--msgs",
            "300",
            "--batch",
            "7",
            "--storage",
            "memory",
        ],
    ))
    .await
    .unwrap();
    assert!(r.ok, "{:?}", r.failures);
    assert_eq!(r.count, 300);

    // The bench cleans up after itself.
    let c = common::client(&srv).await;
    let v = js_common::api(&c, "$JS.API.STREAM.NAMES", serde_json::Value::Null).await;
    assert_eq!(v["total"], 0, "{v}");
    srv.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_publishes_and_impossible_streams_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = js_common::js_config(dir.path());
    if let Some(j) = cfg.jetstream.as_mut() {
        j.max_file_store = Some(4096);
    }
    let srv = common::start_server(cfg).await;
    // 16-byte messages cost ~50 bytes each: the server's 4 KiB fill up.
    match run(args(&srv, &["js-pub", "--msgs", "500"])).await {
        Err(BenchError::Failed(r)) => {
            assert!(!r.ok);
            assert!(r.count < 500, "{}", r.count);
            let all = r.failures.join("; ");
            assert!(all.contains("insufficient resources"), "{all}");
            assert!(all.contains("of 500 publishes acknowledged"), "{all}");
        }
        other => panic!("expected a failed run, got {other:?}"),
    }
    match run(args(&srv, &["js-pub", "--msgs", "5", "--replicas", "3"])).await {
        Err(BenchError::JetStream(e)) => assert!(e.contains("creating stream"), "{e}"),
        other => panic!("expected a setup error, got {other:?}"),
    }
    srv.shutdown();
}
