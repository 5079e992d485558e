//! The NATS client wire format.
//!
//! Owns: parsing client operations from bytes ([`parse_client_op`]), encoding server
//! operations into an output buffer ([`encode`]), the INFO/CONNECT JSON types and the
//! `-ERR` texts ([`ProtoError`]).
//! Must not: do I/O, spawn tasks, take locks, or know about subscriptions, accounts or
//! streams. The parser is a pure function over a byte slice: the caller keeps the bytes
//! it did not consume and calls again when more arrive, so any split of the input gives
//! the same operations.

pub mod connect;
pub mod encode;
pub mod error;
pub mod headers;
pub mod info;
pub mod parser;

pub use connect::ConnectInfo;
pub use error::ProtoError;
pub use info::ServerInfo;
pub use parser::{parse_client_op, ClientOp, Limits, Parsed};
