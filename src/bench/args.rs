//! Command-line surface of `natrium bench`: the global flags ([`BenchArgs`]),
//! one subcommand per workload ([`Workload`]) and the validation that turns
//! raw flags into checked values.
//!
//! New workloads (JetStream publish/consume, KV) are added as further
//! [`Workload`] variants with their own argument struct; the global flags and
//! the shared [`MsgArgs`] stay as they are.

use std::time::Duration;

use super::error::BenchError;

/// Default server URL when `--url` is not given.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
/// Default message count for the throughput workloads.
pub const DEFAULT_THROUGHPUT_MSGS: u64 = 1_000_000;
/// Default request count for `reqrep`.
pub const DEFAULT_REQREP_MSGS: u64 = 100_000;
/// Default message (or key) count for the JetStream workloads.
pub const DEFAULT_JS_MSGS: u64 = 10_000;

/// `natrium bench`: load generator modelled on `nats bench`, using the
/// official `async-nats` client so that the client side is identical for
/// every server under test.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Workload to run.
    #[command(subcommand)]
    pub workload: Workload,

    /// Server URL(s), comma separated. Connection i prefers URL i mod n.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = DEFAULT_URL
    )]
    pub url: Vec<String>,

    /// User name for user/password authentication.
    #[arg(long, global = true, requires = "password")]
    pub user: Option<String>,

    /// Password for user/password authentication.
    #[arg(long, global = true, requires = "user")]
    pub password: Option<String>,

    /// Token for token authentication.
    #[arg(long, global = true, conflicts_with = "user")]
    pub token: Option<String>,

    /// Print one JSON object on stdout instead of the human summary.
    #[arg(long, global = true)]
    pub json: bool,

    /// Do not draw a progress bar on stderr.
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Server process(es) whose CPU time (including child processes) is
    /// measured across the run. Repeatable or comma separated.
    #[arg(
        long = "server-pid",
        value_name = "PID",
        global = true,
        value_delimiter = ','
    )]
    pub server_pid: Vec<u32>,

    /// Pin every thread of the bench process to this CPU.
    #[arg(long, value_name = "CPU", global = true)]
    pub pin_cpu: Option<usize>,

    /// Abort (and fail) when no message moves for this many seconds.
    #[arg(long, value_name = "SECS", global = true, default_value_t = 10.0)]
    pub stall_timeout: f64,
}

/// The workloads. Each variant owns its flags.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Workload {
    /// N publishers publish only (each ends with a flush round trip).
    Pub(PubArgs),
    /// 1 publisher -> 1 subscriber on separate connections.
    Pubsub(PubsubArgs),
    /// 1 publisher -> N subscribers; each must receive every message.
    Fanout(FanoutArgs),
    /// N publishers -> M subscribers; each subscriber receives every message.
    Mpmc(MpmcArgs),
    /// Request/reply against one responder connection; reports latency.
    Reqrep(ReqrepArgs),
    /// JetStream publish into a stream the bench creates, waiting for every PubAck
    /// (one at a time with --window 1, else up to --window in flight).
    JsPub(JsPubArgs),
    /// JetStream key/value: put N keys into a bucket the bench creates, then get and
    /// verify each.
    Kv(KvArgs),
    /// JetStream pull consume: fill a stream with N messages (not measured), then
    /// fetch them in batches through a durable pull consumer, acking each.
    JsConsume(JsConsumeArgs),
}

/// Storage of the stream or bucket a JetStream workload creates.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageArg {
    File,
    Memory,
}

impl StorageArg {
    pub fn name(self) -> &'static str {
        match self {
            StorageArg::File => "file",
            StorageArg::Memory => "memory",
        }
    }
}

/// Flags shared by the JetStream workloads.
#[derive(clap::Args, Debug, Clone)]
pub struct JsArgs {
    /// Storage of the stream (bucket) the bench creates.
    #[arg(long, value_enum, default_value_t = StorageArg::File)]
    pub storage: StorageArg,
    /// Replicas of the stream (bucket).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
}

/// Flags of `js-pub`.
#[derive(clap::Args, Debug, Clone)]
pub struct JsPubArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    #[command(flatten)]
    pub js: JsArgs,
    /// PubAcks awaited in flight: 1 = synchronous publish (wait for each PubAck),
    /// more = asynchronous publish with that window.
    #[arg(long, default_value_t = 1)]
    pub window: usize,
    /// Name of the stream the bench creates (deleted first if it exists, and at the end).
    #[arg(long, default_value = "BENCH")]
    pub stream: String,
}

/// Flags of `js-consume`.
#[derive(clap::Args, Debug, Clone)]
pub struct JsConsumeArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    #[command(flatten)]
    pub js: JsArgs,
    /// Messages requested per pull (fetch) request.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Name of the stream the bench creates (deleted first if it exists, and at the end).
    #[arg(long, default_value = "BENCH")]
    pub stream: String,
}

/// Flags of `kv` (`--msgs` is the number of keys).
#[derive(clap::Args, Debug, Clone)]
pub struct KvArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    #[command(flatten)]
    pub js: JsArgs,
    /// Name of the bucket the bench creates (deleted first if it exists, and at the end).
    #[arg(long, default_value = "BENCH")]
    pub bucket: String,
}

/// Message flags shared by every workload.
#[derive(clap::Args, Debug, Clone)]
pub struct MsgArgs {
    /// Messages to publish in total, split across publishers
    /// [default: 1000000; reqrep: 100000 requests].
    #[arg(long)]
    pub msgs: Option<u64>,

    /// Payload size in bytes.
    #[arg(long, default_value_t = 16)]
    pub size: usize,

    /// Subject to use [default: bench.<workload>].
    #[arg(long)]
    pub subject: Option<String>,
}

/// Flags of `pub`.
#[derive(clap::Args, Debug, Clone)]
pub struct PubArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    /// Number of publisher connections.
    #[arg(long, default_value_t = 1)]
    pub pubs: usize,
}

/// Flags of `pubsub`.
#[derive(clap::Args, Debug, Clone)]
pub struct PubsubArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
}

/// Flags of `fanout`.
#[derive(clap::Args, Debug, Clone)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    /// Number of subscriber connections.
    #[arg(long, default_value_t = 4)]
    pub subs: usize,
}

/// Flags of `mpmc`.
#[derive(clap::Args, Debug, Clone)]
pub struct MpmcArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    /// Number of publisher connections.
    #[arg(long, default_value_t = 4)]
    pub pubs: usize,
    /// Number of subscriber connections.
    #[arg(long, default_value_t = 4)]
    pub subs: usize,
}

/// Flags of `reqrep`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReqrepArgs {
    #[command(flatten)]
    pub msg: MsgArgs,
    /// Number of requester connections.
    #[arg(long, default_value_t = 1)]
    pub clients: usize,
    /// Requests in flight per requester connection.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
}

/// Validated shape of a throughput run (`pub`, `pubsub`, `fanout`, `mpmc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThroughputPlan {
    pub name: &'static str,
    pub pubs: usize,
    pub subs: usize,
    pub msgs: u64,
    pub size: usize,
    pub subject: String,
}

/// Validated shape of a request/reply run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReqrepPlan {
    pub msgs: u64,
    pub size: usize,
    pub subject: String,
    pub clients: usize,
    pub concurrency: usize,
}

/// Validated shape of a `js-pub` or `kv` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsPlan {
    pub msgs: u64,
    pub size: usize,
    pub subject: String,
    pub storage: StorageArg,
    pub replicas: usize,
    /// PubAcks in flight (`js-pub`; 1 for `kv`), messages per pull request
    /// (`js-consume`).
    pub window: usize,
    /// Stream (`js-pub`) or bucket (`kv`) name.
    pub name: String,
}

/// A validated workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    Throughput(ThroughputPlan),
    Reqrep(ReqrepPlan),
    JsPub(JsPlan),
    Kv(JsPlan),
    JsConsume(JsPlan),
}

impl Workload {
    /// Short name used in reports and default subjects.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Pub(_) => "pub",
            Workload::Pubsub(_) => "pubsub",
            Workload::Fanout(_) => "fanout",
            Workload::Mpmc(_) => "mpmc",
            Workload::Reqrep(_) => "reqrep",
            Workload::JsPub(_) => "js-pub",
            Workload::Kv(_) => "kv",
            Workload::JsConsume(_) => "js-consume",
        }
    }

    /// Checks the flags and resolves defaults.
    pub(crate) fn plan(&self) -> Result<Plan, BenchError> {
        let name = self.name();
        let throughput = |msg: &MsgArgs, pubs: usize, subs: usize| {
            let (msgs, size, subject) = resolve_msg(msg, name, DEFAULT_THROUGHPUT_MSGS)?;
            if pubs == 0 {
                return Err(invalid("--pubs must be at least 1"));
            }
            if msgs < pubs as u64 {
                return Err(invalid("--msgs must be at least the number of publishers"));
            }
            Ok(Plan::Throughput(ThroughputPlan {
                name,
                pubs,
                subs,
                msgs,
                size,
                subject,
            }))
        };
        match self {
            Workload::Pub(a) => throughput(&a.msg, a.pubs, 0),
            Workload::Pubsub(a) => throughput(&a.msg, 1, 1),
            Workload::Fanout(a) => {
                if a.subs == 0 {
                    return Err(invalid("--subs must be at least 1"));
                }
                throughput(&a.msg, 1, a.subs)
            }
            Workload::Mpmc(a) => {
                if a.subs == 0 {
                    return Err(invalid("--subs must be at least 1"));
                }
                throughput(&a.msg, a.pubs, a.subs)
            }
            Workload::Reqrep(a) => {
                let (msgs, size, subject) = resolve_msg(&a.msg, name, DEFAULT_REQREP_MSGS)?;
                if a.clients == 0 || a.concurrency == 0 {
                    return Err(invalid("--clients and --concurrency must be at least 1"));
                }
                Ok(Plan::Reqrep(ReqrepPlan {
                    msgs,
                    size,
                    subject,
                    clients: a.clients,
                    concurrency: a.concurrency,
                }))
            }
            Workload::JsPub(a) => {
                let (msgs, size, subject) = resolve_msg(&a.msg, name, DEFAULT_JS_MSGS)?;
                if a.window == 0 {
                    return Err(invalid("--window must be at least 1"));
                }
                if a.window > 5000 {
                    return Err(invalid(
                        "--window must be at most 5000 (the client's PubAck limit)",
                    ));
                }
                Ok(Plan::JsPub(JsPlan {
                    msgs,
                    size,
                    subject,
                    storage: a.js.storage,
                    replicas: check_js(&a.js, &a.stream)?,
                    window: a.window,
                    name: a.stream.clone(),
                }))
            }
            Workload::Kv(a) => {
                let (msgs, size, subject) = resolve_msg(&a.msg, name, DEFAULT_JS_MSGS)?;
                Ok(Plan::Kv(JsPlan {
                    msgs,
                    size,
                    subject,
                    storage: a.js.storage,
                    replicas: check_js(&a.js, &a.bucket)?,
                    window: 1,
                    name: a.bucket.clone(),
                }))
            }
            Workload::JsConsume(a) => {
                let (msgs, size, subject) = resolve_msg(&a.msg, name, DEFAULT_JS_MSGS)?;
                if a.batch == 0 || a.batch > 10_000 {
                    return Err(invalid("--batch must be 1 to 10000"));
                }
                Ok(Plan::JsConsume(JsPlan {
                    msgs,
                    size,
                    subject,
                    storage: a.js.storage,
                    replicas: check_js(&a.js, &a.stream)?,
                    window: a.batch,
                    name: a.stream.clone(),
                }))
            }
        }
    }
}

impl BenchArgs {
    /// The stall timeout as a [`Duration`], checked to be positive and finite.
    pub(crate) fn stall_duration(&self) -> Result<Duration, BenchError> {
        Duration::try_from_secs_f64(self.stall_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| invalid("--stall-timeout must be a positive number of seconds"))
    }

    /// The server URLs, trimmed, with empty entries removed.
    pub(crate) fn urls(&self) -> Result<Vec<String>, BenchError> {
        let urls: Vec<String> = self
            .url
            .iter()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err(invalid("--url must name at least one server"));
        }
        Ok(urls)
    }
}

fn resolve_msg(
    msg: &MsgArgs,
    workload: &str,
    default_msgs: u64,
) -> Result<(u64, usize, String), BenchError> {
    let msgs = msg.msgs.unwrap_or(default_msgs);
    if msgs == 0 {
        return Err(invalid("--msgs must be at least 1"));
    }
    let subject = msg
        .subject
        .clone()
        .unwrap_or_else(|| format!("bench.{workload}"));
    let valid = !subject.is_empty()
        && !subject.contains(|c: char| c.is_whitespace() || c == '*' || c == '>')
        && subject.split('.').all(|token| !token.is_empty());
    if !valid {
        return Err(invalid(format!(
            "--subject {subject:?} is not a valid literal subject"
        )));
    }
    Ok((msgs, msg.size, subject))
}

/// Checks the replicas and the stream/bucket name; returns the replicas.
fn check_js(js: &JsArgs, name: &str) -> Result<usize, BenchError> {
    if js.replicas == 0 || js.replicas > 5 {
        return Err(invalid("--replicas must be 1 to 5"));
    }
    if name.is_empty()
        || name.contains(|c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        return Err(invalid(format!(
            "{name:?} is not a valid stream or bucket name"
        )));
    }
    Ok(js.replicas)
}

fn invalid(msg: impl Into<String>) -> BenchError {
    BenchError::InvalidArgs(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> BenchArgs {
        let mut full = vec!["bench"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full) {
            Ok(cli) => cli.bench,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    #[test]
    fn defaults_for_pubsub() {
        let a = parse(&["pubsub"]);
        assert_eq!(a.url, vec![DEFAULT_URL.to_string()]);
        assert!(!a.json);
        match a.workload.plan() {
            Ok(Plan::Throughput(p)) => {
                assert_eq!(p.msgs, DEFAULT_THROUGHPUT_MSGS);
                assert_eq!((p.pubs, p.subs, p.size), (1, 1, 16));
                assert_eq!(p.subject, "bench.pubsub");
            }
            other => panic!("unexpected plan {other:?}"),
        }
    }

    #[test]
    fn global_flags_after_subcommand_and_pid_list() {
        let a = parse(&[
            "fanout",
            "--subs",
            "3",
            "--json",
            "--server-pid",
            "10,11",
            "--server-pid",
            "12",
            "--url",
            "nats://127.0.0.1:1,nats://127.0.0.1:2",
        ]);
        assert!(a.json);
        assert_eq!(a.server_pid, vec![10, 11, 12]);
        assert_eq!(a.urls().map(|u| u.len()).ok(), Some(2));
        match a.workload.plan() {
            Ok(Plan::Throughput(p)) => assert_eq!((p.pubs, p.subs), (1, 3)),
            other => panic!("unexpected plan {other:?}"),
        }
    }

    #[test]
    fn reqrep_default_count_and_validation() {
        let a = parse(&["reqrep", "--concurrency", "8"]);
        match a.workload.plan() {
            Ok(Plan::Reqrep(p)) => {
                assert_eq!(p.msgs, DEFAULT_REQREP_MSGS);
                assert_eq!(p.concurrency, 8);
            }
            other => panic!("unexpected plan {other:?}"),
        }
        let bad = parse(&["reqrep", "--clients", "0"]);
        assert!(bad.workload.plan().is_err());
    }

    #[test]
    fn js_workloads() {
        let a = parse(&["js-pub", "--window", "64", "--storage", "memory"]);
        match a.workload.plan() {
            Ok(Plan::JsPub(p)) => {
                assert_eq!((p.msgs, p.window, p.replicas), (DEFAULT_JS_MSGS, 64, 1));
                assert_eq!(p.storage, StorageArg::Memory);
                assert_eq!(
                    (p.name.as_str(), p.subject.as_str()),
                    ("BENCH", "bench.js-pub")
                );
            }
            other => panic!("unexpected plan {other:?}"),
        }
        match parse(&["kv", "--msgs", "7", "--bucket", "B1"])
            .workload
            .plan()
        {
            Ok(Plan::Kv(p)) => {
                assert_eq!(
                    (p.msgs, p.storage, p.name.as_str()),
                    (7, StorageArg::File, "B1")
                );
            }
            other => panic!("unexpected plan {other:?}"),
        }
        assert!(parse(&["js-pub", "--window", "0"]).workload.plan().is_err());
        assert!(parse(&["js-pub", "--replicas", "0"])
            .workload
            .plan()
            .is_err());
        assert!(parse(&["js-pub", "--stream", "a.b"])
            .workload
            .plan()
            .is_err());
        assert!(parse(&["kv", "--bucket", "a*"]).workload.plan().is_err());
        match parse(&["js-consume", "--storage", "memory"])
            .workload
            .plan()
        {
            Ok(Plan::JsConsume(p)) => {
                assert_eq!((p.msgs, p.window), (DEFAULT_JS_MSGS, 100));
                assert_eq!(p.storage, StorageArg::Memory);
                assert_eq!(p.subject, "bench.js-consume");
            }
            other => panic!("unexpected plan {other:?}"),
        }
        assert!(parse(&["js-consume", "--batch", "0"])
            .workload
            .plan()
            .is_err());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse(&["pub", "--msgs", "0"]).workload.plan().is_err());
        assert!(parse(&["pub", "--subject", "a.*"]).workload.plan().is_err());
        assert!(parse(&["pub", "--subject", "a..b"])
            .workload
            .plan()
            .is_err());
        assert!(parse(&["mpmc", "--subs", "0"]).workload.plan().is_err());
        assert!(parse(&["pub", "--stall-timeout", "0"])
            .stall_duration()
            .is_err());
        assert!(parse(&["pub", "--stall-timeout=-1"])
            .stall_duration()
            .is_err());
    }
}
