//! nats.py, a second official client, against natrium: pub/sub, queue groups,
//! request/reply, headers, no-responders. Fails when python3 or nats-py is missing
//! (tests/run.sh installs them).

mod common;
mod js_common;

#[tokio::test]
async fn nats_py_core_features() {
    let srv = common::start_default().await;
    common::run_python(
        "core_client.py",
        &srv.client_url(),
        &[
            "pubsub wildcard",
            "queue group",
            "request/reply",
            "headers",
            "no responders",
        ],
    )
    .await;
}

#[tokio::test]
async fn nats_py_jetstream_consumers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = js_common::start_js(dir.path()).await;
    common::run_python(
        "js_consumers.py",
        &srv.client_url(),
        &[
            "publish",
            "pull fetch ack",
            "pull empty",
            "push subscribe",
            "ordered consumer",
            "consumer errors and delete",
        ],
    )
    .await;
    js_common::stop(srv).await;
}
