//! The `natrium` binary as an operator runs it: config check (`-t`), config errors with
//! `file:line:col`, flags overriding the file, pid and log files, graceful shutdown on
//! SIGTERM/SIGINT.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_natrium");

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn test_flag_accepts_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "ok.conf",
        "port: 4333\nhttp_port: 8333\nauthorization { user: a, password: b }\n",
    );
    let out = Command::new(BIN)
        .args(["-t", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("test is successful"));
}

#[test]
fn bad_config_exits_nonzero_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "bad.conf", "port: 4222\nhttp_port: \"abc\"\n");
    let out = Command::new(BIN).arg("-c").arg(&conf).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2:"),
        "error names file:line:col: {err}"
    );
    assert!(err.contains("http_port"), "error names the key: {err}");

    let conf = write(dir.path(), "syntax.conf", "cluster {\n  name: x\n");
    let out = Command::new(BIN)
        .args(["-t", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("syntax.conf:"));

    let out = Command::new(BIN)
        .args(["-c", "/nonexistent/natrium.conf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/natrium.conf"));
}

#[test]
fn unknown_key_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "warn.conf", "port: 4222\nfrobnicate: true\n");
    let out = Command::new(BIN)
        .args(["-t", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("frobnicate") && err.contains("warn.conf:2:"),
        "{err}"
    );
}

fn wait_for_port(port: u16) {
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "port {port} never opened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn runs_from_config_with_flag_overrides_pid_and_log_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http = free_port();
    let pid = dir.path().join("natrium.pid");
    let log = dir.path().join("natrium.log");
    let conf = write(
        dir.path(),
        "run.conf",
        &format!(
            "listen: 127.0.0.1:1\nhttp: \"127.0.0.1:{http}\"\nserver_name: from_file\npid_file: \"{}\"\nlog_file: \"{}\"\n",
            pid.display(),
            log.display()
        ),
    );
    // -p and -n override the file.
    let mut child = Command::new(BIN)
        .arg("-c")
        .arg(&conf)
        .args(["-p", &port.to_string(), "-n", "from_flag"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line).unwrap();
    assert!(line.contains("\"server_name\":\"from_flag\""), "{line}");
    drop(s);
    let t0 = Instant::now();
    while !pid.exists() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap().trim(),
        child.id().to_string()
    );
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    assert!(!pid.exists(), "pid file removed on shutdown");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("Server is ready"), "{logged}");
    assert!(logged.contains("Server Exiting"), "{logged}");
}

#[test]
fn go_style_flags_and_sigint() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-DV",
            "--user",
            "u",
            "--pass",
            "p",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line).unwrap();
    assert!(line.contains("\"auth_required\":true"), "{line}");
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn version_flag() {
    let out = Command::new(BIN).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("natrium"));
}
