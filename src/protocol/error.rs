//! Protocol errors with the exact `-ERR` text nats-server sends and whether the
//! connection is closed afterwards.

use thiserror::Error;

/// An error found while reading a client's bytes or applying one of its ops.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    #[error("Unknown Protocol Operation")]
    UnknownOp,
    #[error("maximum control line exceeded")]
    MaxControlLine,
    #[error("Maximum Payload Violation")]
    MaxPayload,
    #[error("Authorization Violation")]
    AuthViolation,
    #[error("Authentication Timeout")]
    AuthTimeout,
    #[error("Stale Connection")]
    StaleConnection,
    #[error("invalid client protocol")]
    InvalidProtocol,
    #[error("no responders requires headers support")]
    NoRespondersNeedsHeaders,
    #[error("maximum connections exceeded")]
    MaxConnections,
    #[error("Invalid Subject")]
    InvalidSubject,
    #[error("Invalid Publish Subject")]
    InvalidPublishSubject,
    #[error("maximum subscriptions exceeded")]
    MaxSubscriptions,
    #[error("Permissions Violation for Publish to \"{0}\"")]
    PubPermission(String),
    #[error("Permissions Violation for Subscription to \"{0}\"")]
    SubPermission(String),
    #[error("Permissions Violation for Subscription to \"{0}\" using queue \"{1}\"")]
    SubQueuePermission(String, String),
    #[error("Permissions Violation for Publish with Reply of \"{0}\"")]
    ReplyPermission(String),
    /// A framing error that closes the connection without a specific `-ERR`
    /// (bad CONNECT JSON, HPUB from a client without headers, client `-ERR`).
    #[error("{0}")]
    CloseSilently(&'static str),
}

impl ProtoError {
    /// Whether nats-server closes the connection after this error.
    pub fn closes_connection(&self) -> bool {
        !matches!(
            self,
            ProtoError::InvalidSubject
                | ProtoError::InvalidPublishSubject
                | ProtoError::MaxSubscriptions
                | ProtoError::PubPermission(_)
                | ProtoError::SubPermission(_)
                | ProtoError::SubQueuePermission(_, _)
                | ProtoError::ReplyPermission(_)
        )
    }

    /// Whether an `-ERR` line is sent at all.
    pub fn sends_err(&self) -> bool {
        !matches!(self, ProtoError::CloseSilently(_))
    }
}
