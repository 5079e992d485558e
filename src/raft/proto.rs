//! The prost types generated from `proto/raft.proto` (see `build.rs`).

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/natrium.raft.rs"));
