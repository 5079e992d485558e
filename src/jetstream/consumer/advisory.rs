//! Consumer advisories on `$JS.EVENT.ADVISORY.CONSUMER.*`: created, deleted, max
//! deliveries reached, message terminated. Published in the stream's account, as
//! nats-server does; nobody listening costs one sublist match.

use serde_json::{json, Value};

use crate::jetstream::stream::Stream;
use crate::server::router::Message;
use crate::server::ServerShared;

fn publish(server: &ServerShared, stream: &Stream, subject: &str, body: Value) {
    let mut body = body;
    body["id"] = json!(crate::util::ids::token(22));
    body["timestamp"] = json!(crate::util::time::rfc3339(std::time::SystemTime::now()));
    let payload = serde_json::to_vec(&body).unwrap_or_default();
    server.publish(
        &stream.account,
        &Message {
            subject: subject.as_bytes(),
            reply: None,
            headers: None,
            payload: &payload,
        },
    );
}

/// `CONSUMER.CREATED` / `CONSUMER.DELETED`.
pub fn action(server: &ServerShared, stream: &Stream, consumer: &str, created: bool) {
    let (kind, action) = if created {
        ("CREATED", "create")
    } else {
        ("DELETED", "delete")
    };
    publish(
        server,
        stream,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.{kind}.{}.{consumer}",
            stream.name
        ),
        json!({
            "type": "io.nats.jetstream.advisory.v1.consumer_action",
            "stream": stream.name,
            "consumer": consumer,
            "action": action,
        }),
    );
}

/// `CONSUMER.MAX_DELIVERIES`: a message was delivered max_deliver times unacked.
pub fn max_deliveries(
    server: &ServerShared,
    stream: &Stream,
    consumer: &str,
    sseq: u64,
    count: u64,
) {
    publish(
        server,
        stream,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{consumer}",
            stream.name
        ),
        json!({
            "type": "io.nats.jetstream.advisory.v1.max_deliver",
            "stream": stream.name,
            "consumer": consumer,
            "stream_seq": sseq,
            "deliveries": count,
        }),
    );
}

/// `CONSUMER.MSG_TERMINATED`: a client sent `+TERM`.
pub fn terminated(server: &ServerShared, stream: &Stream, consumer: &str, sseq: u64) {
    publish(
        server,
        stream,
        &format!(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{}.{consumer}",
            stream.name
        ),
        json!({
            "type": "io.nats.jetstream.advisory.v1.terminated",
            "stream": stream.name,
            "consumer": consumer,
            "stream_seq": sseq,
        }),
    );
}
