//! `natrium bench`: a load generator modelled on `nats bench`.
//!
//! It drives a NATS server (natrium or the reference nats-server) through
//! the official `async-nats` client, so the client side is identical whichever
//! server is measured. This module owns the entry point [`run`]: it validates
//! the flags, optionally pins the process, runs one workload, attaches CPU
//! and connection-event figures, prints the report (human summary or one JSON
//! object on stdout) and returns it.
//!
//! Layout:
//! - [`args`]: flags and workload subcommands;
//! - `throughput` / `reqrep` / `jetstream` (`js-pub`, `kv`, `js-consume`): the workloads;
//! - `client`: connection options and event counting;
//! - `monitor`: progress counters, progress bar, stall watchdog;
//! - [`latency`], [`cpu`], [`report`]: the pure parts (percentiles, `/proc`
//!   parsing and pinning, report layout).

pub mod args;
mod client;
pub mod cpu;
mod error;
mod jetstream;
pub mod latency;
mod monitor;
pub mod report;
mod reqrep;
mod throughput;

use std::io::Write as _;
use std::time::Duration;

pub use args::{BenchArgs, Workload};
pub use client::EventCounts;
pub use error::BenchError;
pub use latency::LatencyStats;
pub use report::{BenchReport, ClientStats, Phase, Rate, ServerCpu};

use args::Plan;
use client::{Auth, Connector};
use cpu::{CpuProbe, CpuUsage};

/// What every workload gets to work with.
pub(crate) struct Ctx {
    pub connector: Connector,
    pub probe: CpuProbe,
    /// Draw a progress bar (still only on a terminal).
    pub progress: bool,
    pub stall: Duration,
}

/// What a workload measured; [`run`] turns it into a [`BenchReport`].
pub(crate) struct Measured {
    pub count: u64,
    pub elapsed: Duration,
    pub measured_at: &'static str,
    pub publish: Option<Rate>,
    pub publishers: Vec<ClientStats>,
    pub subscribers: Vec<ClientStats>,
    pub latency: Option<LatencyStats>,
    pub cpu: CpuUsage,
    pub failures: Vec<String>,
    /// JetStream workloads: what was created.
    pub setup: Option<String>,
    /// Phases measured separately.
    pub phases: Vec<Phase>,
}

/// Runs the workload described by `args`, prints the report on stdout
/// (JSON with `--json`) and returns it.
///
/// Returns [`BenchError::Failed`] (carrying the already printed report)
/// when the run completed but a check failed: lost, surplus or malformed
/// messages, failed requests, slow-consumer or disconnect events, a stall.
/// Every other error happens before measuring starts.
pub async fn run(args: BenchArgs) -> Result<BenchReport, BenchError> {
    let plan = args.workload.plan()?;
    let urls = args.urls()?;
    let stall = args.stall_duration()?;
    if let Some(cpu) = args.pin_cpu {
        cpu::pin_process(cpu)?;
    }
    let ctx = Ctx {
        connector: Connector::new(
            &urls,
            Auth {
                user: args.user.clone(),
                password: args.password.clone(),
                token: args.token.clone(),
            },
        )?,
        probe: CpuProbe::new(&args.server_pid)?,
        progress: !args.no_progress,
        stall,
    };

    let measured = match &plan {
        Plan::Throughput(p) => throughput::run(&ctx, p).await?,
        Plan::Reqrep(p) => reqrep::run(&ctx, p).await?,
        Plan::JsPub(p) => jetstream::run_js_pub(&ctx, p).await?,
        Plan::Kv(p) => jetstream::run_kv(&ctx, p).await?,
        Plan::JsConsume(p) => jetstream::run_js_consume(&ctx, p).await?,
    };
    let report = build_report(&args, &plan, urls, &ctx, measured);

    let text = if args.json {
        let mut json = serde_json::to_string(&report)?;
        json.push('\n');
        json
    } else {
        report.render_human()
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(BenchError::Output)?;

    if report.ok {
        Ok(report)
    } else {
        Err(BenchError::Failed(Box::new(report)))
    }
}

fn build_report(
    args: &BenchArgs,
    plan: &Plan,
    urls: Vec<String>,
    ctx: &Ctx,
    m: Measured,
) -> BenchReport {
    let (msgs, size, pubs, subs, clients, concurrency) = match plan {
        Plan::Throughput(p) => (p.msgs, p.size, p.pubs, p.subs, None, None),
        Plan::Reqrep(p) => (p.msgs, p.size, 0, 0, Some(p.clients), Some(p.concurrency)),
        Plan::JsPub(p) => (p.msgs, p.size, 1, 0, None, Some(p.window)),
        Plan::Kv(p) => (p.msgs, p.size, 1, 0, None, None),
        Plan::JsConsume(p) => (p.msgs, p.size, 0, 1, None, Some(p.window)),
    };
    let per_msg_us = |secs: f64| {
        if m.count > 0 {
            secs * 1e6 / m.count as f64
        } else {
            0.0
        }
    };
    let events = ctx.connector.events();
    let mut failures = m.failures;
    if events.slow_consumers > 0 {
        failures.push(format!(
            "{} slow-consumer event(s): the client dropped messages",
            events.slow_consumers
        ));
    }
    if events.disconnects > 0 {
        failures.push(format!(
            "{} disconnect(s) during the run (the server may have cut a slow consumer)",
            events.disconnects
        ));
    }
    if events.server_errors > 0 || events.client_errors > 0 {
        failures.push(format!(
            "{} server error(s), {} client error(s): {}",
            events.server_errors,
            events.client_errors,
            events.notes.join("; ")
        ));
    }
    let headline = Rate::new(m.count, size, m.elapsed);
    BenchReport {
        schema: report::REPORT_SCHEMA,
        workload: args.workload.name().to_string(),
        urls,
        msgs,
        size,
        pubs,
        subs,
        clients,
        concurrency,
        measured_at: m.measured_at.to_string(),
        count: headline.msgs,
        elapsed_secs: headline.elapsed_secs,
        msgs_per_sec: headline.msgs_per_sec,
        mb_per_sec: headline.mb_per_sec,
        publish: m.publish,
        publishers: m.publishers,
        subscribers: m.subscribers,
        latency: m.latency,
        setup: m.setup,
        phases: m.phases,
        server_cpu: m.cpu.server_secs.map(|secs| ServerCpu {
            pids: ctx.probe.server_pids().to_vec(),
            secs,
            us_per_msg: per_msg_us(secs),
        }),
        client_cpu_secs: m.cpu.client_secs,
        client_cpu_us_per_msg: per_msg_us(m.cpu.client_secs),
        pinned_cpu: args.pin_cpu,
        events,
        ok: failures.is_empty(),
        failures,
    }
}
