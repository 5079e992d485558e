//! Operations on a stream: every change to a stream's messages or configuration is one
//! of these, applied in order by `apply::apply`. Timestamps travel in the operation so
//! applying the same sequence of operations always gives the same state (this is what
//! a Raft log will later carry).

use bytes::Bytes;

use super::config::StreamConfig;

/// One change to a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A message published on one of the stream's subjects.
    Store {
        subject: String,
        headers: Option<Bytes>,
        payload: Bytes,
        /// Unix nanoseconds at which the server received it.
        ts: i64,
    },
    /// `$JS.API.STREAM.PURGE`: all, by subject filter, below a sequence, or keep N.
    Purge {
        filter: Option<String>,
        seq: Option<u64>,
        keep: Option<u64>,
    },
    /// `$JS.API.STREAM.MSG.DELETE`.
    DeleteMsg { seq: u64, no_erase: bool },
    /// Remove messages older than `max_age` as of `now` (unix nanoseconds).
    Expire { now: i64 },
    /// Retention: a consumer acknowledged the message (workqueue) or every interested
    /// consumer did (interest). Allowed even with `deny_delete`.
    Remove { seq: u64 },
    /// `$JS.API.STREAM.UPDATE` with an already validated configuration.
    Update { config: Box<StreamConfig> },
    /// A consumer was created or changed: its filters decide what an interest stream
    /// keeps, so every replica must know them at the same point of the log.
    ConsumerSet { name: String, filters: Vec<String> },
    /// A consumer was deleted.
    ConsumerRemove { name: String },
}

/// What applying an operation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Stored { seq: u64 },
    Duplicate { seq: u64 },
    Purged { purged: u64 },
    Deleted,
    Expired { removed: u64 },
    Updated,
    ConsumerChanged,
}
