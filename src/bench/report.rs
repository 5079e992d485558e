//! The result of a run: [`BenchReport`] (serialised as-is for `--json`) and
//! its human-readable rendering.
//!
//! Units: rates are per second, "MB" is 2^20 bytes of payload (as in
//! `nats bench`), CPU is in seconds, CPU per message in microseconds. The
//! headline `count` is what the workload measures: messages published
//! (`pub`), messages delivered summed over subscribers (`pubsub`, `fanout`,
//! `mpmc`) or requests completed (`reqrep`); `us_per_msg` divides by it.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::client::EventCounts;
use super::latency::LatencyStats;

/// Version of the JSON layout; bumped on incompatible changes.
pub const REPORT_SCHEMA: u32 = 1;

const MIB: f64 = 1024.0 * 1024.0;

/// A count over an interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    pub msgs: u64,
    pub elapsed_secs: f64,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
}

impl Rate {
    /// `msgs` messages of `size` payload bytes in `elapsed`.
    pub fn new(msgs: u64, size: usize, elapsed: Duration) -> Rate {
        let secs = elapsed.as_secs_f64();
        let per_sec = |x: f64| if secs > 0.0 { x / secs } else { 0.0 };
        Rate {
            msgs,
            elapsed_secs: secs,
            msgs_per_sec: per_sec(msgs as f64),
            mb_per_sec: per_sec(msgs as f64 * size as f64 / MIB),
        }
    }
}

/// One publisher, subscriber or requester connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientStats {
    pub id: usize,
    /// Messages it expected to send or receive.
    pub expected: u64,
    #[serde(flatten)]
    pub rate: Rate,
}

/// CPU used by the `--server-pid` processes during the measured interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerCpu {
    pub pids: Vec<u32>,
    pub secs: f64,
    /// `secs` in microseconds divided by the headline `count`.
    pub us_per_msg: f64,
}

/// One phase of a multi-phase workload (`kv`: put, then get).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: String,
    #[serde(flatten)]
    pub rate: Rate,
    pub latency: Option<LatencyStats>,
}

/// Everything a run measured. Printed by [`run`](super::run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub schema: u32,
    pub workload: String,
    pub urls: Vec<String>,
    /// Messages (or requests) to publish in total.
    pub msgs: u64,
    /// Payload bytes per message.
    pub size: usize,
    pub pubs: usize,
    pub subs: usize,
    /// Requester connections (`reqrep` only).
    pub clients: Option<usize>,
    /// Requests in flight per requester connection (`reqrep` only).
    pub concurrency: Option<usize>,
    /// Where the headline is measured: publishers, subscribers, requesters.
    pub measured_at: String,
    /// Headline: messages counted where measured.
    pub count: u64,
    pub elapsed_secs: f64,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
    /// Aggregate publish side (throughput workloads).
    pub publish: Option<Rate>,
    pub publishers: Vec<ClientStats>,
    pub subscribers: Vec<ClientStats>,
    pub latency: Option<LatencyStats>,
    /// JetStream workloads: what was created (storage, replicas, window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// Phases measured separately (`kv`); the headline covers all of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    pub server_cpu: Option<ServerCpu>,
    pub client_cpu_secs: f64,
    pub client_cpu_us_per_msg: f64,
    pub pinned_cpu: Option<usize>,
    pub events: EventCounts,
    pub failures: Vec<String>,
    pub ok: bool,
}

/// `1234567` -> `"1,234,567"`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    let mut until_comma = digits.len() % 3;
    if until_comma == 0 {
        until_comma = 3;
    }
    for c in digits.chars() {
        if until_comma == 0 {
            out.push(',');
            until_comma = 3;
        }
        out.push(c);
        until_comma -= 1;
    }
    out
}

fn rate_line(rate: &Rate) -> String {
    format!(
        "{:>12} msgs/s  {:>9.2} MB/s  ({} msgs in {:.3} s)",
        group_digits(rate.msgs_per_sec.round() as u64),
        rate.mb_per_sec,
        group_digits(rate.msgs),
        rate.elapsed_secs
    )
}

impl BenchReport {
    /// The headline as a [`Rate`].
    pub fn headline(&self) -> Rate {
        Rate {
            msgs: self.count,
            elapsed_secs: self.elapsed_secs,
            msgs_per_sec: self.msgs_per_sec,
            mb_per_sec: self.mb_per_sec,
        }
    }

    /// Multi-line human summary.
    pub fn render_human(&self) -> String {
        let mut s = String::new();
        let shape = match (self.workload.as_str(), self.clients, self.concurrency) {
            ("reqrep", Some(c), Some(k)) => {
                format!("{c} requester(s) x {k} in flight -> 1 responder")
            }
            ("kv", _, _) => "1 key/value client".to_string(),
            ("js-consume", _, Some(b)) => {
                format!("1 pull consumer, batches of {b}, ack each")
            }
            ("js-pub", _, Some(w)) => format!("1 publisher, {w} PubAck(s) in flight"),
            _ if self.subs == 0 => format!("{} publisher(s)", self.pubs),
            _ => format!("{} pub -> {} sub", self.pubs, self.subs),
        };
        let _ = writeln!(
            s,
            "natrium bench {}: {}, {} msgs x {} B, {}",
            self.workload,
            shape,
            group_digits(self.msgs),
            self.size,
            self.urls.join(",")
        );
        let _ = writeln!(
            s,
            "  {:<16}{}  [at {}]",
            "throughput",
            rate_line(&self.headline()),
            self.measured_at
        );
        if let Some(setup) = &self.setup {
            let _ = writeln!(s, "  {:<16}{}", "setup", setup);
        }
        if let Some(p) = &self.publish {
            let _ = writeln!(s, "  {:<16}{}", "publish", rate_line(p));
        }
        for p in &self.phases {
            let _ = writeln!(s, "  {:<16}{}", p.name, rate_line(&p.rate));
            if let Some(l) = &p.latency {
                let _ = writeln!(
                    s,
                    "  {:<16}p50 {:.1} us  p99 {:.1} us  max {:.1} us",
                    "", l.p50_us, l.p99_us, l.max_us
                );
            }
        }
        if self.publishers.len() > 1 {
            for p in &self.publishers {
                let _ = writeln!(
                    s,
                    "  {:<16}{}",
                    format!("pub #{}", p.id),
                    rate_line(&p.rate)
                );
            }
        }
        for c in &self.subscribers {
            let missing = if c.rate.msgs == c.expected {
                String::new()
            } else {
                format!("  RECEIVED {} OF {}", c.rate.msgs, c.expected)
            };
            let _ = writeln!(
                s,
                "  {:<16}{}{}",
                format!("sub #{}", c.id),
                rate_line(&c.rate),
                missing
            );
        }
        if let Some(l) = &self.latency {
            let _ = writeln!(
                s,
                "  {:<16}p50 {:.1} us  p90 {:.1} us  p99 {:.1} us  p99.9 {:.1} us",
                "latency", l.p50_us, l.p90_us, l.p99_us, l.p999_us
            );
            let _ = writeln!(
                s,
                "  {:<16}min {:.1} us  mean {:.1} us  max {:.1} us  ({} samples)",
                "",
                l.min_us,
                l.mean_us,
                l.max_us,
                group_digits(l.count)
            );
        }
        if let Some(cpu) = &self.server_cpu {
            let pids: Vec<String> = cpu.pids.iter().map(u32::to_string).collect();
            let _ = writeln!(
                s,
                "  {:<16}{:.2} s  {:.3} us/msg  (pid {})",
                "server cpu",
                cpu.secs,
                cpu.us_per_msg,
                pids.join(",")
            );
        }
        let _ = writeln!(
            s,
            "  {:<16}{:.2} s  {:.3} us/msg",
            "client cpu", self.client_cpu_secs, self.client_cpu_us_per_msg
        );
        if let Some(cpu) = self.pinned_cpu {
            let _ = writeln!(s, "  {:<16}bench pinned to CPU {cpu}", "pinning");
        }
        if self.events.any() {
            let e = &self.events;
            let _ = writeln!(
                s,
                "  {:<16}slow consumers {}  disconnects {}  server errors {}  client errors {}",
                "events", e.slow_consumers, e.disconnects, e.server_errors, e.client_errors
            );
        }
        if self.ok {
            let _ = writeln!(s, "  {:<16}OK", "result");
        } else {
            let _ = writeln!(s, "  {:<16}FAILED", "result");
            for f in &self.failures {
                let _ = writeln!(s, "    - {f}");
            }
        }
        s
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> BenchReport {
        let rate = Rate::new(1_000_000, 16, Duration::from_millis(500));
        BenchReport {
            schema: REPORT_SCHEMA,
            workload: "pubsub".into(),
            urls: vec!["nats://127.0.0.1:4222".into()],
            msgs: 1_000_000,
            size: 16,
            pubs: 1,
            subs: 1,
            clients: None,
            concurrency: None,
            measured_at: "subscribers".into(),
            count: rate.msgs,
            elapsed_secs: rate.elapsed_secs,
            msgs_per_sec: rate.msgs_per_sec,
            mb_per_sec: rate.mb_per_sec,
            publish: Some(rate.clone()),
            publishers: vec![],
            subscribers: vec![ClientStats {
                id: 0,
                expected: 1_000_000,
                rate,
            }],
            latency: None,
            setup: None,
            phases: Vec::new(),
            server_cpu: Some(ServerCpu {
                pids: vec![42],
                secs: 0.75,
                us_per_msg: 0.75,
            }),
            client_cpu_secs: 1.0,
            client_cpu_us_per_msg: 1.0,
            pinned_cpu: Some(1),
            events: EventCounts::default(),
            failures: vec![],
            ok: true,
        }
    }

    #[test]
    fn groups_digits() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn rate_math() {
        let r = Rate::new(2_000_000, 1024, Duration::from_secs(2));
        assert_eq!(r.msgs_per_sec, 1_000_000.0);
        assert!((r.mb_per_sec - 976.5625).abs() < 1e-9);
        assert_eq!(Rate::new(5, 1, Duration::ZERO).msgs_per_sec, 0.0);
    }

    #[test]
    fn human_summary_mentions_everything() {
        let text = sample().render_human();
        assert!(text.contains("natrium bench pubsub: 1 pub -> 1 sub, 1,000,000 msgs x 16 B"));
        assert!(text.contains("2,000,000 msgs/s"));
        assert!(text.contains("30.52 MB/s"));
        assert!(text.contains("sub #0"));
        assert!(text.contains("server cpu      0.75 s  0.750 us/msg  (pid 42)"));
        assert!(text.contains("bench pinned to CPU 1"));
        assert!(text.contains("OK"));
        assert!(!text.contains("RECEIVED"));
    }

    #[test]
    fn human_summary_shows_failures_and_latency() {
        let mut r = sample();
        r.ok = false;
        r.failures = vec!["sub #0 received 10 of 1000000".into()];
        r.subscribers[0].rate.msgs = 10;
        r.latency = LatencyStats::from_nanos(&mut [10_000, 20_000, 30_000]);
        let text = r.render_human();
        assert!(text.contains("FAILED"));
        assert!(text.contains("RECEIVED 10 OF 1000000"));
        assert!(text.contains("p50 20.0 us"));
    }

    #[test]
    fn json_has_stable_keys() {
        let v = serde_json::to_value(sample()).expect("json");
        for key in [
            "schema",
            "workload",
            "msgs_per_sec",
            "mb_per_sec",
            "count",
            "server_cpu",
            "latency",
            "events",
            "ok",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["server_cpu"]["us_per_msg"], 0.75);
        assert_eq!(v["subscribers"][0]["msgs"], 1_000_000);
        assert_eq!(v["subscribers"][0]["expected"], 1_000_000);
    }
}
