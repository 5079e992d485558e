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

/// `use` paths in `code` with grouped imports expanded and renames dropped:
/// `use a::{b, c::{d as e}};` gives `a::b` and `a::c::d`, so `a::c::d` is found even
/// though that text never appears.
fn use_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let boundary = i == 0
            || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
        let after = &rest[i + 4..];
        let Some(end) = after.find(';') else { break };
        if boundary {
            let stmt = after[..end].split_whitespace().collect::<Vec<_>>();
            // Drop `as name` renames, then all whitespace.
            let mut joined = String::new();
            let mut k = 0;
            while k < stmt.len() {
                if stmt[k] == "as" {
                    // Keep what follows the new name (`S}},` keeps `}},`).
                    if let Some(name) = stmt.get(k + 1) {
                        joined.push_str(
                            name.trim_start_matches(|c: char| {
                                c.is_ascii_alphanumeric() || c == '_'
                            }),
                        );
                    }
                    k += 2;
                    continue;
                }
                joined.push_str(stmt[k]);
                k += 1;
            }
            expand("", joined.trim_start_matches("::"), &mut out);
        }
        rest = &after[end.min(after.len())..];
    }
    out
}

fn expand(prefix: &str, group: &str, out: &mut Vec<String>) {
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, ch) in group.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        match (item.find('{'), item.rfind('}')) {
            (Some(open), Some(close)) if close > open => expand(
                &format!("{prefix}{}", &item[..open]),
                &item[open + 1..close],
                out,
            ),
            _ => out.push(format!("{prefix}{item}")),
        }
    }
}

/// Files under `root` (relative paths) whose code mentions `needle`, as text or as an
/// expanded `use` path. Comment lines do not count.
fn users_in(root: &Path, needle: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut hits = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let bare = needle.trim_end_matches("::");
        let imported = use_paths(&code)
            .iter()
            .any(|p| p.contains(needle) || p == bare || p.starts_with(&format!("{bare}::")));
        if code.contains(needle) || imported {
            let rel = f
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            hits.push(rel);
        }
    }
    hits.sort();
    hits
}

/// Files under `src/` (relative paths) whose code mentions `needle`.
fn users_of(needle: &str) -> Vec<String> {
    users_in(&src(), needle)
}

/// Positive control: `needle` is used somewhere under `src/`, so a check about it
/// looks at real code (a renamed crate or module would otherwise pass silently).
fn used_somewhere(needle: &str) {
    assert!(
        !users_of(needle).is_empty(),
        "`{needle}` is not used under src/ at all: the check about it checks nothing"
    );
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
    used_somewhere("rocksdb::");
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
    for needle in ["tokio::net", "tokio::spawn", "tokio::task"] {
        used_somewhere(needle);
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

/// The checker itself: grouped, nested, renamed and `pub use` imports are found;
/// comments are not; each check would fail on such a file.
#[test]
fn checker_finds_grouped_and_renamed_imports() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("raft/ok.rs", "use openraft::Raft;\n");
    write(
        "protocol/grouped.rs",
        "use tokio::{io, net::{TcpListener, TcpStream as S}};\n",
    );
    write(
        "cluster/renamed.rs",
        "pub(crate) use ::openraft as r;\nfn f() {}\n",
    );
    write("store/nested.rs", "use std::{fs, process::{exit}};\n");
    write("server/bare.rs", "use rocksdb as db;\n");
    write(
        "subject/comment.rs",
        "// use tokio::net::TcpStream;\nfn reuse() {}\n",
    );
    let found = |needle: &str| users_in(dir.path(), needle);
    assert_eq!(found("tokio::net"), ["protocol/grouped.rs"]);
    assert_eq!(found("tokio::net::TcpStream"), ["protocol/grouped.rs"]);
    assert_eq!(found("openraft"), ["cluster/renamed.rs", "raft/ok.rs"]);
    assert_eq!(found("std::process::exit"), ["store/nested.rs"]);
    assert_eq!(found("rocksdb::"), ["server/bare.rs"]);
    assert_eq!(
        use_paths("use a::{b, c::{d as e, f}, g};"),
        ["a::b", "a::c::d", "a::c::f", "a::g"]
    );
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
