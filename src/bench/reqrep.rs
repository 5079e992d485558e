//! The request/reply workload: one responder connection echoes every
//! request; `--clients` requester connections each keep `--concurrency`
//! requests in flight (sequential request after request per slot) until
//! `--msgs` requests have completed. Every round-trip time is recorded for
//! the latency percentiles.
//!
//! One warm-up request per requester (which also creates the client's
//! reply-inbox subscription) is made before the clock starts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_nats::{Client, Subject};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use super::args::ReqrepPlan;
use super::client::{flush, subscription_capacity};
use super::error::BenchError;
use super::latency::LatencyStats;
use super::monitor::{supervise, Counters, Progress};
use super::{Ctx, Measured};

struct Shared {
    subject: Subject,
    payload: Bytes,
    total: u64,
    next: AtomicU64,
    stop: AtomicBool,
    counters: Counters,
}

struct ReqOutcome {
    latencies: Vec<u64>,
    wrong_size: u64,
    finished_at: Instant,
    error: Option<String>,
}

async fn requester(
    client: Client,
    shared: Arc<Shared>,
    slot: usize,
    mut go: watch::Receiver<bool>,
) -> ReqOutcome {
    let mut latencies = Vec::new();
    let mut wrong_size = 0;
    let mut error = None;
    if go.wait_for(|go| *go).await.is_err() {
        error = Some("start signal lost".to_string());
    }
    while error.is_none() && !shared.stop.load(Ordering::Relaxed) {
        if shared.next.fetch_add(1, Ordering::Relaxed) >= shared.total {
            break;
        }
        let t0 = Instant::now();
        match client
            .request(shared.subject.clone(), shared.payload.clone())
            .await
        {
            Ok(reply) => {
                latencies.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
                wrong_size += u64::from(reply.payload.len() != shared.payload.len());
                shared.counters.set(slot, latencies.len() as u64);
            }
            Err(e) => {
                error = Some(format!("request: {e}"));
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
    }
    ReqOutcome {
        latencies,
        wrong_size,
        finished_at: Instant::now(),
        error,
    }
}

/// Starts the echoing responder; it runs until aborted.
async fn start_responder(
    ctx: &Ctx,
    plan: &ReqrepPlan,
) -> Result<tokio::task::JoinHandle<()>, BenchError> {
    let capacity = subscription_capacity(plan.msgs);
    let client = ctx
        .connector
        .connect("responder", 0, Some(capacity))
        .await?;
    let mut sub = client
        .subscribe(Subject::from(plan.subject.as_str()))
        .await
        .map_err(|source| BenchError::Subscribe {
            subject: plan.subject.clone(),
            source,
        })?;
    flush(&client, "responder").await?;
    Ok(tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                if client.publish(reply, msg.payload).await.is_err() {
                    break;
                }
            }
        }
    }))
}

/// Runs the request/reply workload.
pub(crate) async fn run(ctx: &Ctx, plan: &ReqrepPlan) -> Result<Measured, BenchError> {
    let tasks = plan.clients * plan.concurrency;
    let shared = Arc::new(Shared {
        subject: Subject::from(plan.subject.as_str()),
        payload: Bytes::from(vec![b'n'; plan.size]),
        total: plan.msgs,
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        counters: Counters::new(tasks),
    });
    let responder = start_responder(ctx, plan).await?;

    let mut failures = Vec::new();
    let (go_tx, go_rx) = watch::channel(false);
    let mut handles = Vec::with_capacity(tasks);
    for c in 0..plan.clients {
        let role = format!("requester-{c}");
        let client = ctx.connector.connect(&role, 1 + c, None).await?;
        if let Err(e) = client
            .request(shared.subject.clone(), shared.payload.clone())
            .await
        {
            failures.push(format!("{role}: warm-up request: {e}"));
        }
        for k in 0..plan.concurrency {
            handles.push(tokio::spawn(requester(
                client.clone(),
                Arc::clone(&shared),
                c * plan.concurrency + k,
                go_rx.clone(),
            )));
        }
    }
    if !failures.is_empty() {
        shared.stop.store(true, Ordering::Relaxed);
    }

    let progress = Progress::new(ctx.progress, plan.msgs, "reqrep");
    let before = ctx.probe.sample()?;
    let start = Instant::now();
    // Cannot fail: every requester holds a receiver.
    let _ = go_tx.send(true);
    let supervised = supervise(handles, &shared.counters, 0..tasks, &progress, ctx.stall).await;
    let after = ctx.probe.sample()?;
    responder.abort();

    if supervised.stalled {
        failures.push(format!(
            "stalled: no reply for {:.1} s, run aborted",
            ctx.stall.as_secs_f64()
        ));
    }
    let mut samples = Vec::with_capacity(usize::try_from(plan.msgs).unwrap_or(0));
    let mut end = start;
    let mut wrong_size = 0;
    for (slot, result) in supervised.results.into_iter().enumerate() {
        match result {
            Ok(out) => {
                if let Some(e) = out.error {
                    failures.push(format!("requester slot {slot}: {e}"));
                }
                wrong_size += out.wrong_size;
                samples.extend(out.latencies);
                end = end.max(out.finished_at);
            }
            Err(e) if e.is_cancelled() => end = end.max(Instant::now()),
            Err(e) => failures.push(format!("requester slot {slot}: task failed: {e}")),
        }
    }
    if wrong_size > 0 {
        failures.push(format!(
            "{wrong_size} replies with a payload size other than {}",
            plan.size
        ));
    }
    let count = samples.len() as u64;
    if count != plan.msgs {
        failures.push(format!("{count} of {} requests completed", plan.msgs));
    }
    Ok(Measured {
        count,
        elapsed: end.duration_since(start),
        measured_at: "requesters",
        publish: None,
        publishers: Vec::new(),
        subscribers: Vec::new(),
        latency: LatencyStats::from_nanos(&mut samples),
        cpu: ctx.probe.usage(before, after),
        failures,
        setup: None,
        phases: Vec::new(),
    })
}
