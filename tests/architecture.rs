//! Layer boundaries, enforced: each module may only use what its `//!` header allows.
//! (TiKV's rule that engine traits never see RocksDB, applied per module.)

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Files under `src/` (relative paths) whose code mentions `needle`.
fn users_of(needle: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut hits = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        if code.contains(needle) {
            let rel = f
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            hits.push(rel);
        }
    }
    hits.sort();
    hits
}

fn only_under(needle: &str, allowed: &[&str]) {
    let bad: Vec<_> = users_of(needle)
        .into_iter()
        .filter(|f| !allowed.iter().any(|a| f.starts_with(a)))
        .collect();
    assert!(
        bad.is_empty(),
        "`{needle}` used outside {allowed:?}: {bad:?}"
    );
}

fn never_under(needle: &str, forbidden: &[&str]) {
    let bad: Vec<_> = users_of(needle)
        .into_iter()
        .filter(|f| forbidden.iter().any(|a| f.starts_with(a)))
        .collect();
    assert!(bad.is_empty(), "`{needle}` used in {bad:?}");
}

#[test]
fn rocksdb_only_in_store() {
    only_under("rocksdb::", &["store/"]);
}

#[test]
fn openraft_only_in_raft() {
    // Any mention in code (paths, grouped imports, renames), not just `openraft::`.
    only_under("openraft", &["raft/"]);
    // Positive control: the check looks at real code that does use openraft.
    let users = users_of("openraft::");
    assert!(
        users.iter().any(|f| f.starts_with("raft/")),
        "openraft is not used under raft/ at all: {users:?}"
    );
}

#[test]
fn pure_modules_do_no_io_and_spawn_nothing() {
    let pure = ["protocol/", "subject/", "sublist/", "config/"];
    for needle in [
        "tokio::net",
        "tokio::spawn",
        "std::net::TcpStream",
        "tokio::task",
    ] {
        never_under(needle, &pure);
    }
    // The config loader reads files (includes); the wire-format modules never do.
    never_under("std::fs", &["protocol/", "subject/", "sublist/"]);
}

#[test]
fn no_unbounded_channels_in_server_code() {
    only_under("unbounded_channel", &["bench/"]);
}

#[test]
fn process_exit_only_in_main() {
    only_under("std::process::exit", &["main.rs"]);
}

#[test]
fn files_stay_small() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for f in files {
        let n = std::fs::read_to_string(&f)
            .unwrap_or_default()
            .lines()
            .count();
        assert!(n <= 1500, "{} has {n} lines (budget 1,500)", f.display());
    }
}
