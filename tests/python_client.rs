//! nats.py, a second official client, against natrium: pub/sub, queue groups,
//! request/reply, headers, no-responders. Skips (with the reason printed) only when
//! python3 or the nats-py package is missing; tests/run.sh installs it.

mod common;
mod js_common;

use std::process::Command;

#[tokio::test]
async fn nats_py_core_features() {
    let have_py = Command::new("python3")
        .args(["-c", "import nats"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_py {
        eprintln!("SKIPPED nats_py_core_features: python3 with nats-py is not installed (pip install nats-py)");
        return;
    }
    let srv = common::start_default().await;
    let url = srv.client_url();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/core_client.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&url)
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nats.py checks failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "pubsub wildcard",
        "queue group",
        "request/reply",
        "headers",
        "no responders",
    ] {
        assert!(
            stdout.contains(&format!("OK {check}")),
            "missing {check}:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn nats_py_jetstream_consumers() {
    let have_py = Command::new("python3")
        .args(["-c", "import nats"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_py {
        eprintln!("SKIPPED nats_py_jetstream_consumers: python3 with nats-py is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;
    let url = srv.client_url();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/js_consumers.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&url)
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nats.py JetStream checks failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "publish",
        "pull fetch ack",
        "pull empty",
        "push subscribe",
        "ordered consumer",
        "consumer errors and delete",
    ] {
        assert!(
            stdout.contains(&format!("OK {check}")),
            "missing {check}:\n{stdout}"
        );
    }
    js_common::stop(srv).await;
}
