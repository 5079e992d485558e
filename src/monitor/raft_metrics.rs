//! The Raft and store part of `/metrics`: per group on this node (labels `group`,
//! the id, and `name`) term, leadership, log and applied index, commit lag, per-peer
//! lag on leaders, leader changes; and the store's fsync latency histogram.
//!
//! Reads `RaftNode::statuses()` and `Db::fsync_histogram()`; writes text only.

use std::fmt::Write;

use crate::raft::GroupStatus;
use crate::store::{FsyncSnapshot, FSYNC_BUCKETS};

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One line per group for each per-group metric.
pub(super) fn write_groups(out: &mut String, groups: &[GroupStatus]) {
    type Field = fn(&GroupStatus) -> u64;
    let per_group: [(&str, &str, &str, Field); 6] = [
        (
            "natrium_raft_term",
            "gauge",
            "Current Raft term of the group on this node.",
            |g| g.term,
        ),
        (
            "natrium_raft_is_leader",
            "gauge",
            "1 when this node is the group's leader, else 0.",
            |g| u64::from(g.leader == Some(g.node)),
        ),
        (
            "natrium_raft_last_log_index",
            "gauge",
            "Index of the last entry in the group's log on this node.",
            |g| g.last_log,
        ),
        (
            "natrium_raft_applied_index",
            "gauge",
            "Index of the last entry applied to the group's state machine on this node.",
            |g| g.applied,
        ),
        (
            "natrium_raft_commit_lag_entries",
            "gauge",
            "Entries in the log on this node not yet applied (last_log - applied).",
            |g| g.last_log.saturating_sub(g.applied),
        ),
        (
            "natrium_raft_leader_changes_total",
            "counter",
            "Times this node saw a new leader of the group.",
            |g| g.leader_changes,
        ),
    ];
    for (name, kind, help, field) in per_group {
        header(out, name, kind, help);
        for g in groups {
            let _ = writeln!(
                out,
                "{name}{{group=\"{}\",name=\"{}\"}} {}",
                g.group,
                label(&g.name),
                field(g)
            );
        }
    }
    header(
        out,
        "natrium_raft_peer_lag_entries",
        "gauge",
        "Entries the leader on this node has not yet seen replicated to the peer.",
    );
    for g in groups.iter().filter(|g| g.leader == Some(g.node)) {
        for p in &g.peers {
            if let Some(lag) = p.lag {
                let _ = writeln!(
                    out,
                    "natrium_raft_peer_lag_entries{{group=\"{}\",name=\"{}\",peer=\"{}\"}} {lag}",
                    g.group,
                    label(&g.name),
                    p.id
                );
            }
        }
    }
}

/// `natrium_store_fsync_seconds` as a Prometheus histogram.
pub(super) fn write_fsync(out: &mut String, h: &FsyncSnapshot) {
    let name = "natrium_store_fsync_seconds";
    header(
        out,
        name,
        "histogram",
        "Duration of the store's WAL fsyncs (group commit and periodic).",
    );
    for (bound, n) in FSYNC_BUCKETS.iter().zip(&h.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum_seconds);
    let _ = writeln!(out, "{name}_count {}", h.count);
}
