//! The JetStream API error table: every error a `$JS.API` request or a publish can get,
//! with nats-server's `code`, `err_code` and description, in one place.

use serde::Serialize;

/// An API error as it appears in a response's `error` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, thiserror::Error)]
#[error("{description} ({err_code})")]
pub struct ApiError {
    pub code: u16,
    pub err_code: u32,
    pub description: String,
}

impl ApiError {
    fn new(code: u16, err_code: u32, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// More replicas than JetStream nodes (nats-server's 10074, with the reason).
    pub fn replicas_exceed_cluster(replicas: usize, nodes: usize) -> Self {
        Self::new(
            500,
            10074,
            format!("replicas {replicas} > {nodes} JetStream nodes available in the cluster"),
        )
    }

    /// The meta group has no leader (10008, naming the reason).
    pub fn cluster_unavailable(reason: &str) -> Self {
        Self::new(
            503,
            10008,
            format!("JetStream system temporarily unavailable: meta group {reason}"),
        )
    }

    /// A stream's group cannot take the request now (10008, naming stream and reason).
    pub fn stream_unavailable(stream: &str, reason: &str) -> Self {
        Self::new(
            503,
            10008,
            format!("JetStream system temporarily unavailable: stream {stream}: {reason}"),
        )
    }

    pub fn bad_request() -> Self {
        Self::new(400, 10003, "bad request")
    }
    pub fn invalid_json(detail: &str) -> Self {
        let _ = detail;
        Self::new(400, 10025, "invalid JSON")
    }
    pub fn insufficient_resources() -> Self {
        Self::new(503, 10023, "insufficient resources")
    }
    pub fn account_resources_exceeded() -> Self {
        Self::new(400, 10002, "resource limits exceeded for account")
    }
    pub fn insufficient_memory_resources() -> Self {
        Self::new(500, 10028, "insufficient memory resources available")
    }
    pub fn insufficient_storage_resources() -> Self {
        Self::new(500, 10047, "insufficient storage resources available")
    }
    pub fn max_streams() -> Self {
        Self::new(400, 10027, "maximum number of streams reached")
    }
    pub fn no_message_found() -> Self {
        Self::new(404, 10037, "no message found")
    }
    pub fn not_enabled_for_account() -> Self {
        Self::new(503, 10039, "JetStream not enabled for account")
    }
    pub fn stream_config(detail: impl Into<String>) -> Self {
        Self::new(500, 10052, detail)
    }
    pub fn msg_size_exceeded() -> Self {
        Self::new(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn name_mismatch() -> Self {
        Self::new(400, 10056, "stream name in subject does not match request")
    }
    pub fn name_in_use() -> Self {
        Self::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_not_found() -> Self {
        Self::new(404, 10059, "stream not found")
    }
    pub fn expected_stream_mismatch() -> Self {
        Self::new(400, 10060, "expected stream does not match")
    }
    pub fn subjects_overlap() -> Self {
        Self::new(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn wrong_last_msg_id(id: &str) -> Self {
        Self::new(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn wrong_last_sequence(seq: u64) -> Self {
        Self::new(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn replicas_not_supported() -> Self {
        Self::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
    pub fn store_failed(detail: impl Into<String>) -> Self {
        Self::new(503, 10077, detail)
    }
    pub fn header_too_big() -> Self {
        Self::new(400, 10097, "header size exceeds maximum allowed of 64k")
    }
    pub fn sealed() -> Self {
        Self::new(400, 10109, "invalid operation on sealed stream")
    }
    pub fn invalid_stream_name() -> Self {
        // nats-server 2.15 answers this one as a stream create error (500/10052).
        Self::new(
            500,
            10052,
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        )
    }
    pub fn stream_update(detail: impl Into<String>) -> Self {
        Self::new(500, 10052, detail)
    }
    pub fn msg_delete_failed(detail: impl Into<String>) -> Self {
        Self::new(500, 10057, detail)
    }
    /// MSG.DELETE of a sequence with no message, as nats-server 2.9 answers it: memory
    /// storage always 400/10043; file storage 10043 inside the stream's range, else
    /// the store's error (500/10057 "no message found" below it, "stream store EOF"
    /// above it).
    pub fn delete_not_found(seq: u64, file: bool, first: u64, last: u64) -> Self {
        if file && seq > last {
            Self::msg_delete_failed("stream store EOF")
        } else if file && (seq == 0 || seq < first) {
            Self::msg_delete_failed("no message found")
        } else {
            Self::new(400, 10043, format!("sequence {seq} not found"))
        }
    }
    pub fn purge_failed(detail: impl Into<String>) -> Self {
        Self::new(500, 10110, detail)
    }
    pub fn stream_create(detail: impl Into<String>) -> Self {
        Self::new(500, 10049, detail)
    }
    pub fn mirrors_unsupported() -> Self {
        Self::stream_config("mirrors and sources are not supported yet")
    }
    pub fn general(detail: impl Into<String>) -> Self {
        Self::new(500, 10118, detail)
    }
}

impl ApiError {
    pub fn rollup_failed(detail: impl Into<String>) -> Self {
        Self::new(500, 10111, detail)
    }
}

impl ApiError {
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, 10003, detail)
    }
}

/// Consumer errors.
impl ApiError {
    pub fn consumer_create(detail: impl Into<String>) -> Self {
        Self::new(500, 10012, detail)
    }
    pub fn consumer_name_exists() -> Self {
        Self::new(400, 10013, "consumer name already in use")
    }
    pub fn consumer_not_found() -> Self {
        Self::new(404, 10014, "consumer not found")
    }
    pub fn consumer_durable_not_in_subject() -> Self {
        Self::new(
            400,
            10016,
            "consumer expected to be durable but no durable name set in subject",
        )
    }
    pub fn consumer_durable_subject_mismatch() -> Self {
        Self::new(
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        )
    }
    pub fn consumer_durable_not_set() -> Self {
        Self::new(
            400,
            10018,
            "consumer expected to be durable but a durable name was not set",
        )
    }
    pub fn consumer_ephemeral_with_durable() -> Self {
        Self::new(
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request",
        )
    }
    pub fn max_consumers() -> Self {
        Self::new(400, 10026, "maximum consumers limit reached")
    }
    pub fn consumer_config_required() -> Self {
        Self::new(400, 10078, "consumer config required")
    }
    pub fn consumer_deliver_to_wildcards() -> Self {
        Self::new(400, 10079, "consumer deliver subject has wildcards")
    }
    pub fn consumer_push_max_waiting() -> Self {
        Self::new(400, 10080, "consumer in push mode can not set max waiting")
    }
    pub fn consumer_deliver_cycle() -> Self {
        Self::new(400, 10081, "consumer deliver subject forms a cycle")
    }
    pub fn consumer_small_heartbeat() -> Self {
        Self::new(400, 10083, "consumer idle heartbeat needs to be >= 100ms")
    }
    pub fn consumer_pull_requires_ack() -> Self {
        Self::new(
            400,
            10084,
            "consumer in pull mode requires explicit ack policy on workqueue stream",
        )
    }
    pub fn consumer_pull_with_rate_limit() -> Self {
        Self::new(
            400,
            10086,
            "consumer in pull mode can not have rate limit set",
        )
    }
    pub fn consumer_max_waiting_negative() -> Self {
        Self::new(400, 10087, "consumer max waiting needs to be positive")
    }
    pub fn consumer_hb_requires_push() -> Self {
        Self::new(
            400,
            10088,
            "consumer idle heartbeat requires a push based consumer",
        )
    }
    pub fn consumer_fc_requires_push() -> Self {
        Self::new(
            400,
            10089,
            "consumer flow control requires a push based consumer",
        )
    }
    pub fn consumer_filter_not_subset() -> Self {
        Self::new(
            400,
            10093,
            "consumer filter subject is not a valid subset of the interest subjects",
        )
    }
    pub fn consumer_invalid_policy(detail: impl Into<String>) -> Self {
        Self::new(400, 10094, detail)
    }
    pub fn consumer_wq_requires_explicit_ack() -> Self {
        Self::new(400, 10098, "workqueue stream requires explicit ack")
    }
    pub fn consumer_wq_multiple_unfiltered() -> Self {
        Self::new(
            400,
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        )
    }
    pub fn consumer_wq_not_unique() -> Self {
        Self::new(
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        )
    }
    pub fn consumer_wq_not_deliver_all() -> Self {
        Self::new(
            400,
            10101,
            "consumer must be deliver all on workqueue stream",
        )
    }
    pub fn consumer_name_too_long() -> Self {
        Self::new(
            400,
            10102,
            "consumer name is too long, maximum allowed is 255",
        )
    }
    pub fn consumer_bad_durable_name() -> Self {
        Self::new(400, 10103, "durable name can not contain '.', '*', '>'")
    }
    pub fn consumer_store_failed(detail: impl std::fmt::Display) -> Self {
        Self::new(
            500,
            10104,
            format!("error creating store for consumer: {detail}"),
        )
    }
    pub fn consumer_existing_active() -> Self {
        Self::new(400, 10105, "consumer already exists and is still active")
    }
    pub fn consumer_fc_needs_heartbeats() -> Self {
        Self::new(
            400,
            10108,
            "consumer with flow control also needs heartbeats",
        )
    }
    pub fn consumer_invalid_deliver_subject() -> Self {
        Self::new(400, 10112, "invalid push consumer deliver subject")
    }
    pub fn consumer_max_batch_negative() -> Self {
        Self::new(400, 10114, "consumer max request batch needs to be > 0")
    }
    pub fn consumer_max_expires_too_small() -> Self {
        Self::new(
            400,
            10115,
            "consumer max request expires needs to be >= 1ms",
        )
    }
    pub fn consumer_max_deliver_backoff() -> Self {
        Self::new(
            400,
            10116,
            "max deliver is required to be > length of backoff values",
        )
    }
    pub fn consumer_replicas_exceed_stream() -> Self {
        Self::new(
            400,
            10126,
            "consumer config replica count exceeds parent stream",
        )
    }
    pub fn consumer_name_path_separators() -> Self {
        Self::new(400, 10127, "Consumer name can not contain path separators")
    }
    pub fn consumer_filter_mismatch() -> Self {
        Self::new(
            400,
            10131,
            "Consumer create request did not match filtered subject from create subject",
        )
    }
    pub fn consumer_durable_name_mismatch() -> Self {
        Self::new(
            400,
            10132,
            "Consumer Durable and Name have to be equal if both are provided",
        )
    }
    pub fn replicas_negative() -> Self {
        Self::new(400, 10133, "replicas count cannot be negative")
    }
    pub fn consumer_duplicate_filters() -> Self {
        Self::new(
            400,
            10136,
            "consumer cannot have both FilterSubject and FilterSubjects specified",
        )
    }
    pub fn consumer_multiple_filters_not_allowed() -> Self {
        Self::new(
            400,
            10137,
            "consumer with multiple subject filters cannot use subject based API",
        )
    }
    pub fn consumer_overlapping_filters() -> Self {
        Self::new(400, 10138, "consumer subject filters cannot overlap")
    }
    pub fn consumer_empty_filter() -> Self {
        Self::new(
            400,
            10139,
            "consumer filter in FilterSubjects cannot be empty",
        )
    }
    pub fn consumer_already_exists() -> Self {
        Self::new(400, 10148, "consumer already exists")
    }
    pub fn consumer_does_not_exist() -> Self {
        Self::new(400, 10149, "consumer does not exist")
    }
}
