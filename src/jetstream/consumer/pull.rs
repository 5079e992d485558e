//! Pull requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` and `+NXT` acks):
//! parsing the body, checking it against the consumer's limits, and the status
//! messages (`404`, `408`, `409`, `100 Idle Heartbeat`) nats-server sends to a
//! request's inbox. Pure: no I/O, no clock reads except the `now` passed in.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::config::ConsumerConfig;

/// Longest pull request without an expiry: kept until served or interest is gone.
const NO_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, Default, Deserialize)]
struct Body {
    #[serde(default)]
    batch: i64,
    /// Nanoseconds.
    #[serde(default)]
    expires: i64,
    #[serde(default)]
    no_wait: bool,
    #[serde(default)]
    max_bytes: i64,
    /// Nanoseconds.
    #[serde(default)]
    idle_heartbeat: i64,
}

/// One waiting pull request.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub reply: String,
    /// Messages still wanted.
    pub batch: u64,
    /// Bytes still allowed (None = no limit).
    pub max_bytes: Option<u64>,
    pub expires: Instant,
    pub no_wait: bool,
    /// Whether the request set `expires` (a no_wait request with an expiry waits for
    /// its first message, then ends as soon as the data runs out).
    pub has_expiry: bool,
    pub heartbeat: Option<Duration>,
    pub next_heartbeat: Option<Instant>,
    /// Messages delivered to it so far.
    pub delivered: u64,
}

/// Why a pull request was refused at once: the status line to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl PullRequest {
    /// Parses a request body: empty (batch 1), a plain number, or JSON.
    pub fn parse(
        reply: &str,
        body: &[u8],
        cfg: &ConsumerConfig,
        now: Instant,
    ) -> Result<PullRequest, Refusal> {
        let text = body.trim_ascii();
        let b: Body = if text.is_empty() {
            Body {
                batch: 1,
                ..Body::default()
            }
        } else if text.iter().all(u8::is_ascii_digit) {
            Body {
                batch: std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1),
                ..Body::default()
            }
        } else {
            serde_json::from_slice(text).map_err(|e| Refusal(format!("400 Bad Request - {e}")))?
        };
        let batch = if b.batch <= 0 { 1 } else { b.batch };
        if cfg.max_batch > 0 && batch > cfg.max_batch {
            return Err(Refusal(format!(
                "409 Exceeded MaxRequestBatch of {}",
                cfg.max_batch
            )));
        }
        if cfg.max_expires > 0 && b.expires > cfg.max_expires {
            return Err(Refusal(format!(
                "409 Exceeded MaxRequestExpires of {}",
                crate::util::time::go_duration(Duration::from_nanos(cfg.max_expires as u64))
            )));
        }
        if cfg.max_bytes > 0 && b.max_bytes > cfg.max_bytes {
            return Err(Refusal(format!(
                "409 Exceeded MaxRequestMaxBytes of {}",
                cfg.max_bytes
            )));
        }
        if b.idle_heartbeat > 0 && b.expires > 0 && b.idle_heartbeat.saturating_mul(2) > b.expires {
            return Err(Refusal(
                "400 Bad Request - heartbeat value too large".to_string(),
            ));
        }
        let expires = if b.expires > 0 {
            now + Duration::from_nanos(b.expires as u64)
        } else {
            now + NO_EXPIRY
        };
        let heartbeat =
            (b.idle_heartbeat > 0).then(|| Duration::from_nanos(b.idle_heartbeat as u64));
        Ok(PullRequest {
            reply: reply.to_string(),
            batch: batch as u64,
            max_bytes: (b.max_bytes > 0).then_some(b.max_bytes as u64),
            expires,
            no_wait: b.no_wait,
            has_expiry: b.expires > 0,
            heartbeat,
            next_heartbeat: heartbeat.map(|h| now + h),
            delivered: 0,
        })
    }
}

impl PullRequest {
    /// Whether the request ends now that no more data is available: the status line
    /// to end it with, if so.
    pub fn end_when_dry(&self) -> Option<&'static str> {
        if !self.no_wait {
            return None;
        }
        match (self.delivered, self.has_expiry) {
            (0, false) => Some("404 No Messages"),
            (0, true) => None,
            _ => Some("408 Request Timeout"),
        }
    }
}

/// A header-only status message: `NATS/1.0 <status>` plus extra headers.
pub fn status(line: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut h = format!("NATS/1.0 {line}\r\n");
    for (k, v) in extra {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// `408 Request Timeout` with what the request still wanted.
pub fn timeout(req: &PullRequest) -> Vec<u8> {
    status(
        "408 Request Timeout",
        &[
            ("Nats-Pending-Messages", req.batch.to_string()),
            ("Nats-Pending-Bytes", req.max_bytes.unwrap_or(0).to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ConsumerConfig {
        ConsumerConfig {
            max_batch: 10,
            ..ConsumerConfig::default()
        }
    }

    #[test]
    fn bodies() {
        let now = Instant::now();
        let r = PullRequest::parse("r", b"", &cfg(), now).unwrap();
        assert_eq!(r.batch, 1);
        let r = PullRequest::parse("r", b"5", &cfg(), now).unwrap();
        assert_eq!(r.batch, 5);
        let r = PullRequest::parse(
            "r",
            br#"{"batch":3,"expires":2000000000,"max_bytes":100,"idle_heartbeat":500000000}"#,
            &cfg(),
            now,
        )
        .unwrap();
        assert_eq!((r.batch, r.max_bytes), (3, Some(100)));
        assert_eq!(r.expires, now + Duration::from_secs(2));
        assert_eq!(r.heartbeat, Some(Duration::from_millis(500)));
        assert_eq!(
            PullRequest::parse("r", br#"{"batch":11}"#, &cfg(), now).unwrap_err(),
            Refusal("409 Exceeded MaxRequestBatch of 10".into())
        );
        assert!(PullRequest::parse(
            "r",
            br#"{"batch":1,"expires":1000000000,"idle_heartbeat":900000000}"#,
            &cfg(),
            now
        )
        .unwrap_err()
        .0
        .starts_with("400"));
        assert!(PullRequest::parse("r", b"{nope", &cfg(), now).is_err());
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            status("404 No Messages", &[]),
            b"NATS/1.0 404 No Messages\r\n\r\n".to_vec()
        );
    }
}
