//! The chaos scripts' own logic: runs chaos/test-lib.sh, which checks chaos/lib.sh's
//! `wait_until`, `step` and `parse_num_routes` with fake commands (a condition that
//! becomes true on a retry is "ok", not FAIL; one that never holds fails after its
//! deadline), and checks that kill-restart.sh parses.

use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `bash args...` from the repository root under coreutils' `timeout 60`.
fn run_bash(args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["60", "bash"])
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("run bash (with coreutils timeout)")
}

#[test]
fn chaos_lib_logic() {
    let out = run_bash(&["chaos/test-lib.sh"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chaos/test-lib.sh failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok    step after a retry prints ok"),
        "{stdout}"
    );
    assert!(stdout.contains("== 0 failed checks"), "{stdout}");
}

#[test]
fn chaos_scripts_parse() {
    for script in [
        "chaos/kill-restart.sh",
        "chaos/lib.sh",
        "chaos/docker-build.sh",
    ] {
        let out = run_bash(&["-n", script]);
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
