//! The typed error of `natrium bench`.
//!
//! Setup problems (bad flags, unreachable server, unknown server PID) are
//! errors before anything is measured. Problems seen while measuring (lost
//! messages, slow consumers, request failures) are recorded in the report;
//! [`run`](super::run) prints that report and then returns
//! [`BenchError::Failed`] carrying it, so the caller only has to map any
//! `Err` to a non-zero exit status.

use std::io;

use super::report::BenchReport;

/// Everything that can make `natrium bench` fail.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A flag has an unusable value.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),

    /// A `--url` entry could not be parsed.
    #[error("invalid server url {url:?}: {source}")]
    Url {
        url: String,
        #[source]
        source: io::Error,
    },

    /// The client could not connect.
    #[error("connecting {role} to {url}: {source}")]
    Connect {
        role: String,
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },

    /// A subscription could not be created.
    #[error("subscribing to {subject:?}: {source}")]
    Subscribe {
        subject: String,
        #[source]
        source: async_nats::SubscribeError,
    },

    /// A flush (PING/PONG round trip) during setup failed.
    #[error("flushing {role}: {source}")]
    Flush {
        role: String,
        #[source]
        source: async_nats::client::FlushError,
    },

    /// A `--server-pid` process could not be read from `/proc`.
    #[error("server pid {pid}: {source}")]
    ServerPid {
        pid: u32,
        #[source]
        source: io::Error,
    },

    /// Reading this process's own `/proc` entry failed.
    #[error("reading /proc/self/stat: {0}")]
    SelfStat(#[source] io::Error),

    /// `--pin-cpu` could not be applied.
    #[error("pinning to CPU {cpu}: {source}")]
    Pin {
        cpu: usize,
        #[source]
        source: io::Error,
    },

    /// The report could not be serialised.
    #[error("JetStream setup: {0}")]
    JetStream(String),

    #[error("encoding the JSON report: {0}")]
    Json(#[from] serde_json::Error),

    /// The report could not be written to stdout.
    #[error("writing the report: {0}")]
    Output(#[source] io::Error),

    /// The run completed but a check failed; the report has been printed.
    #[error("benchmark failed: {}", .0.failures.join("; "))]
    Failed(Box<BenchReport>),
}
