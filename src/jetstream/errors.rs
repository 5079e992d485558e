//! The JetStream API error table: every error a `$JS.API` request or a publish can get,
//! with nats-server's `code`, `err_code` and description, in one place.

use serde::Serialize;

/// An API error as it appears in a response's `error` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
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
        Self::new(
            400,
            10128,
            "stream name is required and can not contain '.', '*', '>'",
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
