//! natrium: a NATS-compatible message broker.
//!
//! Code map (see ARCHITECTURE.md for the whole picture):
//! - [`protocol`]: the client wire format; a pure, resumable parser and the encoder.
//! - [`subject`], [`sublist`]: subject rules and the subscription trie with its cache.
//! - [`server`]: accept loop, connections, accounts, message routing.
//! - [`cluster`]: routes between nodes (port 6222), gossip, interest, forwarding.
//! - [`auth`]: users, passwords, tokens, permissions.
//! - [`config`]: nats.conf parsing into a typed [`config::Config`].
//! - [`jetstream`]: streams, the `$JS.API` surface, publish acks and limits.
//! - [`store`]: the node's RocksDB (the only user of `rocksdb`), group commit.
//! - [`monitor`]: the HTTP monitoring endpoint.
//! - [`cli`]: command-line flags and how they override the file.
//! - [`bench`]: `natrium bench`, the load generator.
//! - [`util`]: ids and time formatting.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![recursion_limit = "256"]

pub mod auth;
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod jetstream;
pub mod monitor;
pub mod mqtt;
pub mod protocol;
pub mod raft;
pub mod server;
pub mod store;
pub mod subject;
pub mod sublist;
pub mod tls;
pub mod util;
pub mod websocket;
