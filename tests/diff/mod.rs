//! The differential harness: starts the reference nats-server 2.15.1 and natrium as
//! processes with the same flags, sends each case's raw protocol bytes to both, and
//! normalises the replies (JSON payloads reduced to the fields a case compares) so they
//! can be compared byte for byte.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where tests/install-reference.sh puts nats-server 2.15.1 (`NATS_REF_SERVER`
/// overrides).
pub fn reference_binary() -> String {
    std::env::var("NATS_REF_SERVER")
        .unwrap_or_else(|_| "/opt/nats-server-2.15.1/nats-server".to_string())
}

/// A broker process on ephemeral loopback ports with JetStream in a scratch directory.
pub struct Broker {
    pub name: &'static str,
    pub port: u16,
    pub http: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Broker {
    /// Starts `bin` with `-a 127.0.0.1 -p P -m M -js -sd DIR` and waits (30 s deadline)
    /// until both ports accept connections.
    pub async fn start(name: &'static str, bin: &str) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let (port, http) = (free_port(), free_port());
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &http.to_string(), "-js", "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({bin}): {e}"));
        let b = Broker {
            name,
            port,
            http,
            child,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        for p in [port, http] {
            while TcpStream::connect(("127.0.0.1", p)).await.is_err() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{name} did not listen on {p} within 30s"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        b
    }

    /// Connects and reads INFO (10 s deadline).
    pub async fn session(&self) -> Session {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut buf = Vec::new();
        let mut tmp = vec![0u8; 1 << 16];
        let info_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            let n = tokio::time::timeout_at(deadline, s.read(&mut tmp))
                .await
                .expect("INFO within 10s")
                .expect("read");
            assert!(n > 0, "{}: closed before INFO", self.name);
            buf.extend_from_slice(&tmp[..n]);
        };
        let line = String::from_utf8_lossy(&buf[..info_end]).into_owned();
        let info = serde_json::from_str(line.trim_start_matches("INFO ")).expect("INFO json");
        let rest = buf.split_off(info_end + 2);
        Session {
            stream: s,
            info,
            buf: rest,
        }
    }

    /// GET `path` from the monitoring port (10 s deadline): the JSON body.
    pub async fn http_json(&self, path: &str) -> serde_json::Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.http))
            .await
            .expect("connect http");
        let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut resp))
            .await
            .expect("http within 10s")
            .expect("read http");
        let text = String::from_utf8_lossy(&resp).into_owned();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{} GET {path}: {e}: {text}", self.name))
    }
}

/// What a step waits for after sending its bytes.
#[derive(Clone, Copy, Debug)]
pub enum Wait {
    /// The PONG that answers the step's trailing PING (or a close).
    Pong,
    /// The server closing the connection.
    Close,
    /// This many complete MSG/HMSG frames (JetStream replies come asynchronously, after
    /// a PONG; or a close).
    Frames(usize),
}

/// One client connection to a broker.
pub struct Session {
    stream: TcpStream,
    pub info: serde_json::Value,
    buf: Vec<u8>,
}

impl Session {
    /// Sends `input`, reads until `wait` holds or the server closes (10 s deadline);
    /// returns the bytes and whether the server closed.
    pub async fn step(&mut self, input: &[u8], wait: Wait) -> (Vec<u8>, bool) {
        if !input.is_empty() {
            if let Err(e) = self.stream.write_all(input).await {
                // The server closed first (it may refuse before reading everything):
                // what it sent before closing is the answer.
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ),
                    "write: {e}"
                );
                let mut out = std::mem::take(&mut self.buf);
                let mut tmp = vec![0u8; 1 << 16];
                while let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(2), self.stream.read(&mut tmp)).await
                {
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&tmp[..n]);
                }
                return (out, true);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut out = std::mem::take(&mut self.buf);
        let mut tmp = vec![0u8; 1 << 16];
        loop {
            let done = match wait {
                Wait::Pong => out.ends_with(b"PONG\r\n"),
                Wait::Close => false,
                Wait::Frames(n) => complete_frames(&out) >= n,
            };
            if done {
                return (out, false);
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut tmp)).await {
                Err(_) => return (out, false),
                Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
                Ok(Ok(n)) => out.extend_from_slice(&tmp[..n]),
            }
        }
    }
}

/// The number of complete MSG/HMSG frames in `out`.
pub fn complete_frames(out: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = out;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&rest[..eol]).into_owned();
        rest = &rest[eol + 2..];
        if line.starts_with("MSG ") || line.starts_with("HMSG ") {
            let Some(total) = line
                .rsplit(' ')
                .next()
                .and_then(|t| t.parse::<usize>().ok())
            else {
                continue;
            };
            if rest.len() < total + 2 {
                return n;
            }
            rest = &rest[total + 2..];
            n += 1;
        }
    }
    n
}

/// Rewrites the reply stream for comparison: each MSG/HMSG frame keeps its control line
/// (with the byte counts replaced by `#` when the payload is JSON, since JSON field
/// order and extra fields change the length) and its headers; a JSON payload is
/// reduced to `keep(json)`. Other lines stay as they are.
pub fn normalise(out: &[u8], keep: &dyn Fn(&serde_json::Value) -> serde_json::Value) -> String {
    let mut res = String::new();
    let mut rest = out;
    while !rest.is_empty() {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            res.push_str(&format!("<partial {:?}>", String::from_utf8_lossy(rest)));
            break;
        };
        let line = String::from_utf8_lossy(&rest[..eol]).into_owned();
        rest = &rest[eol + 2..];
        let words: Vec<&str> = line.split(' ').collect();
        let (hdr, total) = match words.first().copied() {
            Some("MSG") => (0, words.last().and_then(|w| w.parse::<usize>().ok())),
            Some("HMSG") => (
                words[words.len() - 2].parse::<usize>().unwrap_or(0),
                words.last().and_then(|w| w.parse::<usize>().ok()),
            ),
            _ => (0, None),
        };
        let Some(total) = total.filter(|t| rest.len() >= t + 2) else {
            res.push_str(&line);
            res.push('\n');
            continue;
        };
        let headers = String::from_utf8_lossy(&rest[..hdr]).into_owned();
        let body = &rest[hdr..total];
        rest = &rest[total + 2..];
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if !body.is_empty() => {
                let mut w = words.clone();
                let n = w.len();
                w[n - 1] = "#";
                if words[0] == "HMSG" {
                    w[n - 2] = "#";
                }
                res.push_str(&w.join(" "));
                res.push('\n');
                res.push_str(&headers.replace("\r\n", "\\r\\n"));
                res.push_str(&keep(&v).to_string());
            }
            _ => {
                res.push_str(&line);
                res.push('\n');
                res.push_str(&headers.replace("\r\n", "\\r\\n"));
                res.push_str(&String::from_utf8_lossy(body));
            }
        }
        res.push('\n');
    }
    res
}

/// The JSON reduced to the dotted `paths` that exist in it (missing ones are left out,
/// so a field present on one side only shows up as a difference).
pub fn project(v: &serde_json::Value, paths: &[&str]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for p in paths {
        let mut cur = Some(v);
        for part in p.split('.') {
            cur = cur.and_then(|c| c.get(part));
        }
        if let Some(x) = cur {
            out.insert(p.to_string(), x.clone());
        }
    }
    serde_json::Value::Object(out)
}
