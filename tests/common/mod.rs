//! Test helpers: start natrium in-process on ephemeral loopback ports, talk to it with
//! raw sockets, and fetch monitoring endpoints over plain HTTP.

#![allow(dead_code)]

use std::time::Duration;

use natrium::config::Config;
use natrium::server::{start, RunningServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A config bound to 127.0.0.1 with ephemeral client and monitoring ports.
pub fn test_config() -> Config {
    Config {
        host: "127.0.0.1".into(),
        port: 0,
        http_host: "127.0.0.1".into(),
        http_port: Some(0),
        ..Config::default()
    }
}

pub async fn start_server(cfg: Config) -> RunningServer {
    // `NATRIUM_TEST_LOG=debug cargo test ...` shows the in-process server's logs.
    if let Ok(filter) = std::env::var("NATRIUM_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
    start(cfg).await.expect("server starts")
}

pub async fn start_default() -> RunningServer {
    start_server(test_config()).await
}

/// A raw protocol connection that has read the server's INFO line.
pub struct Raw {
    pub stream: TcpStream,
    pub info: serde_json::Value,
    buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(srv: &RunningServer) -> Raw {
        let stream = TcpStream::connect(srv.client_addr).await.expect("connect");
        let mut raw = Raw {
            stream,
            info: serde_json::Value::Null,
            buf: Vec::new(),
        };
        let line = raw.read_line().await;
        assert!(line.starts_with("INFO "), "first line is INFO: {line}");
        raw.info =
            serde_json::from_str(line.trim_start_matches("INFO ").trim()).expect("INFO json");
        raw
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads one CRLF-terminated line (without CRLF).
    pub async fn read_line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line[..i]).into_owned();
            }
            let mut tmp = vec![0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut tmp))
                .await
                .expect("line within 5s")
                .expect("read");
            assert!(
                n > 0,
                "connection closed while waiting for a line; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// Reads everything the server sends within `wait` (or until it closes).
    /// Returns the bytes and whether the server closed the connection.
    pub async fn read_for(&mut self, wait: Duration) -> (Vec<u8>, bool) {
        let mut out = std::mem::take(&mut self.buf);
        let deadline = tokio::time::Instant::now() + wait;
        let mut tmp = vec![0u8; 65536];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut tmp)).await {
                Err(_) => return (out, false),
                Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
                Ok(Ok(n)) => out.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// Sends `input` and returns the reply and whether the server closed the
    /// connection. No time window: when `input` ends with PING the reply is read up to
    /// its PONG (the server answers in order, so everything `input` caused came
    /// before), otherwise until the server closes; either under a 10 s deadline, after
    /// which what arrived is returned (and the caller's assertion fails).
    pub async fn exchange(&mut self, input: &[u8]) -> (String, bool) {
        self.send(input).await;
        let trimmed = input.strip_suffix(b"\n").unwrap_or(input);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        let pinged =
            trimmed.len() >= 4 && trimmed[trimmed.len() - 4..].eq_ignore_ascii_case(b"PING");
        let (b, closed) = self
            .read_until(Duration::from_secs(10), |b| {
                pinged && b.ends_with(b"PONG\r\n")
            })
            .await;
        (String::from_utf8_lossy(&b).into_owned(), closed)
    }

    /// Reads until `done(bytes so far)` holds, the server closes, or `deadline` passes.
    pub async fn read_until(
        &mut self,
        deadline: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> (Vec<u8>, bool) {
        let mut out = std::mem::take(&mut self.buf);
        let deadline = tokio::time::Instant::now() + deadline;
        let mut tmp = vec![0u8; 65536];
        while !done(&out) {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut tmp)).await {
                Err(_) => return (out, false),
                Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
                Ok(Ok(n)) => out.extend_from_slice(&tmp[..n]),
            }
        }
        (out, false)
    }
}

/// GET `path` from the monitoring port; returns (status, body).
pub async fn http_get(srv: &RunningServer, path: &str) -> (u16, String) {
    let addr = srv.http_addr.expect("monitoring enabled");
    let mut s = TcpStream::connect(addr).await.expect("connect http");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut resp))
        .await
        .expect("http within 5s")
        .expect("read");
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, dechunk(&body))
}

fn dechunk(body: &str) -> String {
    // axum may answer with chunked encoding; decode it when present.
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size_line, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(size) = usize::from_str_radix(size_line.trim(), 16) else {
            return body.to_string();
        };
        if size == 0 {
            return out;
        }
        if after.len() < size {
            return body.to_string();
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
}

pub async fn http_json(srv: &RunningServer, path: &str) -> serde_json::Value {
    let (status, body) = http_get(srv, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: bad json {e}: {body}"))
}

/// Connects the official async-nats client.
pub async fn client(srv: &RunningServer) -> async_nats::Client {
    async_nats::connect(srv.client_url())
        .await
        .expect("async-nats connects")
}

/// Waits until the server has processed everything this client sent before (async-nats'
/// `flush` only empties the socket buffer): a message to a fresh inbox on the same
/// connection comes back only after the earlier SUBs were applied.
pub async fn barrier(c: &async_nats::Client) {
    use futures::StreamExt;
    let inbox = c.new_inbox();
    let mut s = c.subscribe(inbox.clone()).await.expect("barrier subscribe");
    c.publish(inbox, bytes::Bytes::new())
        .await
        .expect("barrier publish");
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("barrier within 5s")
        .expect("barrier message");
}

/// Every Python package the scripts in tests/py import. tests/run.sh installs them;
/// the tests fail, never skip, without them.
pub const PY_IMPORTS: &str = "import nats, nats.js, aiohttp, paho.mqtt";

/// The one check that python3 and the packages the scripts need are present; panics
/// with the command that installs them otherwise.
pub fn require_python() {
    let out = std::process::Command::new("python3")
        .args(["-c", PY_IMPORTS])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "python3 lacks a package the tests need (`{PY_IMPORTS}` failed: {}); \
             run tests/run.sh or `python3 -m pip install nats-py aiohttp paho-mqtt`",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("python3 is required by the tests and could not run: {e}"),
    }
}

/// Runs `tests/py/<script>` with the server URL and checks it printed `OK <check>` for
/// every check. Fails when python3 or a package is missing (`require_python`).
pub async fn run_python(script: &str, url: &str, checks: &[&str]) {
    run_python_args(script, &[url.to_string()], checks).await
}

/// Runs `tests/py/<script>` with `args` under a 90 s deadline; asserts success and an
/// `OK <check>` line for each check.
pub async fn run_python_args(script: &str, args: &[String], checks: &[&str]) {
    require_python();
    let path = format!("{}/tests/py/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new("python3")
            .arg(&path)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{script} finishes within 90s"))
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    for check in checks {
        assert!(
            stdout.contains(&format!("OK {check}")),
            "{script}: missing {check}:\n{stdout}"
        );
    }
}

/// Records an intentional skip: printed to stderr past libtest's capture and appended
/// to the file named by `NATRIUM_SKIP_LOG` (tests/run.sh sets it and prints every
/// line of it in its summary). Under `CI` a skip is a failure instead.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false") {
        panic!("{test} cannot run under CI: {reason}");
    }
    let line = format!("SKIPPED {test}: {reason}");
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(path) = std::env::var_os("NATRIUM_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// A loopback port free right now (for servers started as processes).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
