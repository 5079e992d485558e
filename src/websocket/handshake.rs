//! The HTTP/1.1 upgrade request of a WebSocket client (RFC 6455 section 4.2).
//!
//! Owns: parsing the request with `httparse`, the checks nats-server makes (method,
//! Host, Upgrade, Connection, key, version, origin), the `101` answer with
//! `Sec-WebSocket-Accept` and the negotiated extensions, and the HTTP error answers.
//! Must not: do I/O.

use base64::Engine;

/// The RFC 6455 GUID appended to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Most headers a request may carry.
const MAX_HEADERS: usize = 64;
/// Largest upgrade request accepted.
pub const MAX_REQUEST: usize = 16 * 1024;

/// What the server accepts as an origin (`same_origin`, `allowed_origins`).
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    pub same_origin: bool,
    /// (lower-case host, scheme, port) of each allowed origin.
    pub allowed: Vec<(String, String, String)>,
}

impl OriginPolicy {
    pub fn new(same_origin: bool, allowed: &[String]) -> Self {
        let allowed = allowed
            .iter()
            .filter_map(|o| {
                let (scheme, rest) = o.split_once("://")?;
                let hostport = rest.split('/').next().unwrap_or("");
                let (h, p) = host_port(scheme == "https", hostport);
                Some((h, scheme.to_string(), p))
            })
            .collect();
        OriginPolicy {
            same_origin,
            allowed,
        }
    }

    fn check(&self, origin: Option<&str>, host: &str) -> Result<(), String> {
        if !self.same_origin && self.allowed.is_empty() {
            return Ok(());
        }
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let (scheme, rest) = origin
            .split_once("://")
            .ok_or_else(|| format!("parse {origin:?}: invalid URI for request"))?;
        let hostport = rest.split('/').next().unwrap_or("");
        let (oh, op) = host_port(scheme == "https", hostport);
        if self.same_origin {
            let (rh, rp) = host_port(false, host);
            if oh != rh || op != rp {
                return Err("not same origin".into());
            }
        }
        if !self.allowed.is_empty()
            && !self
                .allowed
                .iter()
                .any(|(h, s, p)| *h == oh && s == scheme && *p == op)
        {
            return Err("not in the allowed list".into());
        }
        Ok(())
    }
}

fn host_port(tls: bool, hp: &str) -> (String, String) {
    let split = if hp.starts_with('[') {
        hp.rfind("]:").map(|i| (&hp[..i + 1], &hp[i + 2..]))
    } else {
        hp.rsplit_once(':')
    };
    match split {
        Some((h, p)) => (h.to_ascii_lowercase(), p.to_string()),
        None => (
            hp.to_ascii_lowercase(),
            if tls { "443" } else { "80" }.to_string(),
        ),
    }
}

/// An accepted upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The whole `101 Switching Protocols` answer.
    pub response: Vec<u8>,
    /// permessage-deflate was negotiated.
    pub compress: bool,
    /// The request path was `/mqtt` (MQTT over WebSocket).
    pub mqtt: bool,
    /// Bytes of the request (the rest of the buffer is frame data).
    pub consumed: usize,
}

/// A refused upgrade: the HTTP answer to send before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub response: Vec<u8>,
    /// Why, for the log.
    pub reason: String,
}

/// The result of looking at the bytes received so far.
#[derive(Debug)]
pub enum Handshake {
    Incomplete,
    Accept(Upgrade),
    Refuse(Refusal),
}

/// Parses and checks an upgrade request. `compression`: the server allows
/// permessage-deflate.
pub fn process(buf: &[u8], compression: bool, origins: &OriginPolicy) -> Handshake {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let consumed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => return Handshake::Incomplete,
        Ok(httparse::Status::Partial) => return refuse(431, "request too large"),
        Err(e) => return refuse(400, &format!("malformed request: {e}")),
    };
    let get = |name: &str| -> Vec<&str> {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .collect()
    };
    let contains = |name: &str, token: &str| {
        get(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if req.method != Some("GET") {
        return refuse(405, "request method must be GET");
    }
    let host = get("Host")
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    if host.is_empty() {
        return refuse(400, "'Host' missing in request");
    }
    if !contains("Upgrade", "websocket") {
        return refuse(400, "invalid value for header 'Upgrade'");
    }
    if !contains("Connection", "Upgrade") {
        return refuse(400, "invalid value for header 'Connection'");
    }
    let key = get("Sec-WebSocket-Key")
        .first()
        .map(|s| s.trim().to_string());
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return refuse(400, "key missing");
    };
    if !contains("Sec-WebSocket-Version", "13") {
        return refuse(400, "invalid version");
    }
    let origin = get("Origin")
        .first()
        .copied()
        .or_else(|| get("Sec-WebSocket-Origin").first().copied());
    if let Err(e) = origins.check(origin, &host) {
        return refuse(403, &format!("origin not allowed: {e}"));
    }
    let compress = compression
        && get("Sec-WebSocket-Extensions")
            .iter()
            .flat_map(|v| v.split(','))
            .flat_map(|e| e.split(';'))
            .any(|p| p.trim().eq_ignore_ascii_case("permessage-deflate"));
    let mqtt = req.path.is_some_and(|p| p.starts_with("/mqtt"));
    let mut response = Vec::with_capacity(256);
    response.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    response.extend_from_slice(accept_key(&key).as_bytes());
    response.extend_from_slice(b"\r\n");
    if compress {
        response.extend_from_slice(
            b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
        );
    }
    if mqtt {
        response.extend_from_slice(b"Sec-Websocket-Protocol: mqtt\r\n");
    }
    response.extend_from_slice(b"\r\n");
    Handshake::Accept(Upgrade {
        response,
        compress,
        mqtt,
        consumed,
    })
}

/// `Sec-WebSocket-Accept` for a client key.
pub fn accept_key(key: &str) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.digest().bytes())
}

fn refuse(code: u16, reason: &str) -> Handshake {
    let text = match code {
        403 => "Forbidden",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let body = format!("{text}\n");
    let response = format!(
        "HTTP/1.1 {code} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Handshake::Refuse(Refusal {
        response: response.into_bytes(),
        reason: reason.to_string(),
    })
}
