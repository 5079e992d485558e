//! The JetStream workloads, through async-nats' `jetstream` API.
//!
//! - `js-pub`: creates the stream (`--storage`, `--replicas`; deleted first if it
//!   exists), publishes `--msgs` messages on one connection waiting for every PubAck —
//!   one at a time with `--window 1` (synchronous publish), else keeping up to
//!   `--window` PubAcks in flight — checks each PubAck (stream, sequence in order),
//!   records publish→PubAck latency, and at the end checks that the stream holds
//!   exactly the published count. The stream is deleted afterwards.
//! - `kv`: creates the bucket, puts `--msgs` keys (`k<i>`, values carrying `i`), each
//!   waiting for its PubAck, then gets every key and compares the value. Put and get
//!   are reported as phases; the headline counts both. The bucket is deleted
//!   afterwards.
//!
//! - `js-consume`: creates the stream, fills it with `--msgs` messages (publishes with
//!   up to 256 PubAcks in flight, not measured), creates a durable pull consumer with
//!   explicit acks, then measures fetching every message in pull batches of `--batch`
//!   (`--window` in the plan), acking each (plain ack) and ending with a flush so the
//!   acks have reached the server. Checks: every stream sequence 1..=N arrived exactly
//!   once, and the consumer's `num_ack_pending` drops to 0 shortly afterwards.
//!
//! Setup and clean-up are outside the clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;

use super::args::{JsPlan, StorageArg};
use super::error::BenchError;
use super::latency::LatencyStats;
use super::monitor::{supervise, Counters, Progress};
use super::report::{Phase, Rate};
use super::{Ctx, Measured};

/// PubAck (and API) timeout of the bench's JetStream context.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

fn storage_type(s: StorageArg) -> stream::StorageType {
    match s {
        StorageArg::File => stream::StorageType::File,
        StorageArg::Memory => stream::StorageType::Memory,
    }
}

fn setup_error(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::JetStream(format!("{what}: {e}"))
}

fn context(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .ack_timeout(ACK_TIMEOUT)
        .max_ack_inflight(5000)
        .backpressure_on_inflight(true)
        .build(client)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What the publishing task saw.
struct PubOutcome {
    acked: u64,
    out_of_order: u64,
    latencies: Vec<u64>,
    finished_at: Instant,
    error: Option<String>,
}

async fn publish_all(
    js: jetstream::Context,
    plan: JsPlan,
    counters: Arc<Counters>,
    start: Instant,
) -> PubOutcome {
    let payload = Bytes::from(vec![b'j'; plan.size]);
    let mut inflight: VecDeque<(Instant, jetstream::context::PublishAckFuture)> =
        VecDeque::with_capacity(plan.window);
    let mut out = PubOutcome {
        acked: 0,
        out_of_order: 0,
        latencies: Vec::with_capacity(usize::try_from(plan.msgs).unwrap_or(0)),
        finished_at: start,
        error: None,
    };
    let mut sent = 0u64;
    while out.error.is_none() && (sent < plan.msgs || !inflight.is_empty()) {
        if sent < plan.msgs && inflight.len() < plan.window {
            let t0 = Instant::now();
            match js.publish(plan.subject.clone(), payload.clone()).await {
                Ok(f) => inflight.push_back((t0, f)),
                Err(e) => out.error = Some(format!("publish {}: {e}", sent + 1)),
            }
            sent += 1;
            continue;
        }
        let Some((t0, f)) = inflight.pop_front() else {
            break;
        };
        match f.await {
            Ok(ack) => {
                out.latencies.push(nanos(t0.elapsed()));
                out.acked += 1;
                if ack.stream != plan.name || ack.sequence != out.acked {
                    out.out_of_order += 1;
                }
                counters.set(0, out.acked);
            }
            Err(e) => out.error = Some(format!("PubAck {}: {e}", out.acked + 1)),
        }
    }
    out.finished_at = Instant::now();
    out
}

/// Runs `js-pub`.
pub(crate) async fn run_js_pub(ctx: &Ctx, plan: &JsPlan) -> Result<Measured, BenchError> {
    let client = ctx.connector.connect("js-pub", 0, None).await?;
    let js = context(client);
    let _ = js.delete_stream(&plan.name).await;
    js.create_stream(stream::Config {
        name: plan.name.clone(),
        subjects: vec![plan.subject.clone()],
        storage: storage_type(plan.storage),
        num_replicas: plan.replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| setup_error(&format!("creating stream {}", plan.name), e))?;

    let counters = Arc::new(Counters::new(1));
    let progress = Progress::new(ctx.progress, plan.msgs, "js-pub");
    let before = ctx.probe.sample()?;
    let start = Instant::now();
    let task = tokio::spawn(publish_all(
        js.clone(),
        plan.clone(),
        Arc::clone(&counters),
        start,
    ));
    let supervised = supervise(vec![task], &counters, 0..1, &progress, ctx.stall).await;
    let after = ctx.probe.sample()?;

    let mut failures = Vec::new();
    if supervised.stalled {
        failures.push(format!(
            "stalled: no PubAck for {:.1} s, run aborted",
            ctx.stall.as_secs_f64()
        ));
    }
    let (mut samples, acked, end) = match supervised.results.into_iter().next() {
        Some(Ok(out)) => {
            if let Some(e) = out.error {
                failures.push(e);
            }
            if out.out_of_order > 0 {
                failures.push(format!(
                    "{} PubAcks for another stream or out of sequence",
                    out.out_of_order
                ));
            }
            (out.latencies, out.acked, out.finished_at)
        }
        Some(Err(e)) if e.is_cancelled() => (Vec::new(), counters.get(0), Instant::now()),
        Some(Err(e)) => {
            failures.push(format!("publisher task failed: {e}"));
            (Vec::new(), counters.get(0), Instant::now())
        }
        None => (Vec::new(), 0, Instant::now()),
    };
    if acked != plan.msgs {
        failures.push(format!("{acked} of {} publishes acknowledged", plan.msgs));
    }
    // The stream must hold exactly what was acknowledged.
    match js.get_stream(&plan.name).await {
        Ok(mut s) => match s.info().await {
            Ok(info) if info.state.messages == plan.msgs => {}
            Ok(info) => failures.push(format!(
                "stream {} holds {} messages, expected {}",
                plan.name, info.state.messages, plan.msgs
            )),
            Err(e) => failures.push(format!("stream info: {e}")),
        },
        Err(e) => failures.push(format!("stream {}: {e}", plan.name)),
    }
    if let Err(e) = js.delete_stream(&plan.name).await {
        failures.push(format!("deleting stream {}: {e}", plan.name));
    }
    let elapsed = end.duration_since(start);
    Ok(Measured {
        count: acked,
        elapsed,
        measured_at: "publisher (PubAcks)",
        publish: None,
        publishers: Vec::new(),
        subscribers: Vec::new(),
        latency: LatencyStats::from_nanos(&mut samples),
        cpu: ctx.probe.usage(before, after),
        failures,
        setup: Some(format!(
            "stream {}, {} storage, R{}, {}",
            plan.name,
            plan.storage.name(),
            plan.replicas,
            if plan.window == 1 {
                "synchronous publish (window 1)".to_string()
            } else {
                format!("asynchronous publish, window {}", plan.window)
            }
        )),
        phases: Vec::new(),
    })
}

/// PubAcks in flight while `js-consume` fills its stream.
const FILL_WINDOW: usize = 256;
/// How long a pull request of `js-consume` may wait for its batch.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// How long `js-consume` waits for the server to process the last acks.
const ACK_SETTLE: Duration = Duration::from_secs(5);

/// What the consuming task saw.
struct ConsumeOutcome {
    received: u64,
    duplicates: u64,
    out_of_range: u64,
    missing: u64,
    latencies: Vec<u64>,
    finished_at: Instant,
    error: Option<String>,
}

async fn consume_all(
    client: async_nats::Client,
    consumer: jetstream::consumer::PullConsumer,
    plan: JsPlan,
    counters: Arc<Counters>,
) -> ConsumeOutcome {
    use futures::StreamExt as _;
    let n = plan.msgs;
    let mut seen = vec![false; usize::try_from(n).unwrap_or(0) + 1];
    let mut out = ConsumeOutcome {
        received: 0,
        duplicates: 0,
        out_of_range: 0,
        missing: 0,
        latencies: Vec::new(),
        finished_at: Instant::now(),
        error: None,
    };
    let mut distinct = 0u64;
    'pull: while distinct < n {
        let want = usize::try_from(n - distinct)
            .unwrap_or(usize::MAX)
            .min(plan.window);
        let t0 = Instant::now();
        let mut batch = match consumer
            .batch()
            .max_messages(want)
            .expires(PULL_EXPIRES)
            .messages()
            .await
        {
            Ok(b) => b,
            Err(e) => {
                out.error = Some(format!("pull request: {e}"));
                break;
            }
        };
        let mut got = 0usize;
        while let Some(m) = batch.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    out.error = Some(format!("pull batch: {e}"));
                    break 'pull;
                }
            };
            let seq = match m.info() {
                Ok(i) => i.stream_sequence,
                Err(e) => {
                    out.error = Some(format!("message without JetStream info: {e}"));
                    break 'pull;
                }
            };
            if m.payload.len() != plan.size {
                out.error = Some(format!(
                    "sequence {seq}: {} payload bytes, expected {}",
                    m.payload.len(),
                    plan.size
                ));
                break 'pull;
            }
            if let Err(e) = m.ack().await {
                out.error = Some(format!("ack of sequence {seq}: {e}"));
                break 'pull;
            }
            out.received += 1;
            got += 1;
            match usize::try_from(seq).ok().and_then(|i| seen.get_mut(i)) {
                Some(slot) if seq > 0 => {
                    if *slot {
                        out.duplicates += 1;
                    } else {
                        *slot = true;
                        distinct += 1;
                    }
                }
                _ => out.out_of_range += 1,
            }
            counters.set(0, out.received);
        }
        out.latencies.push(nanos(t0.elapsed()));
        if got == 0 {
            out.error = Some(format!(
                "a pull request for {want} messages expired empty after {} of {n}",
                distinct
            ));
            break;
        }
    }
    // The acks are plain publishes: make sure the server has read them.
    if let Err(e) = client.flush().await {
        out.error
            .get_or_insert(format!("flush after the last ack: {e}"));
    }
    out.finished_at = Instant::now();
    out.missing = n - distinct;
    out
}

/// Runs `js-consume`.
pub(crate) async fn run_js_consume(ctx: &Ctx, plan: &JsPlan) -> Result<Measured, BenchError> {
    let client = ctx.connector.connect("js-consume", 0, None).await?;
    let js = context(client.clone());
    let _ = js.delete_stream(&plan.name).await;
    let stream = js
        .create_stream(stream::Config {
            name: plan.name.clone(),
            subjects: vec![plan.subject.clone()],
            storage: storage_type(plan.storage),
            num_replicas: plan.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| setup_error(&format!("creating stream {}", plan.name), e))?;

    // Fill the stream (outside the clock).
    let fill_plan = JsPlan {
        window: FILL_WINDOW,
        ..plan.clone()
    };
    let fill = publish_all(
        js.clone(),
        fill_plan,
        Arc::new(Counters::new(1)),
        Instant::now(),
    )
    .await;
    if let Some(e) = fill.error {
        let _ = js.delete_stream(&plan.name).await;
        return Err(setup_error("filling the stream", e));
    }
    if fill.acked != plan.msgs || fill.out_of_order > 0 {
        let _ = js.delete_stream(&plan.name).await;
        return Err(setup_error(
            "filling the stream",
            format!(
                "{} of {} PubAcks, {} out of sequence",
                fill.acked, plan.msgs, fill.out_of_order
            ),
        ));
    }
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("BENCH_CONSUMER".to_string()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: -1,
            ..Default::default()
        })
        .await
        .map_err(|e| setup_error("creating the pull consumer", e))?;

    let counters = Arc::new(Counters::new(1));
    let progress = Progress::new(ctx.progress, plan.msgs, "js-consume");
    let before = ctx.probe.sample()?;
    let start = Instant::now();
    let task = tokio::spawn(consume_all(
        client.clone(),
        consumer.clone(),
        plan.clone(),
        Arc::clone(&counters),
    ));
    let supervised = supervise(vec![task], &counters, 0..1, &progress, ctx.stall).await;
    let after = ctx.probe.sample()?;

    let mut failures = Vec::new();
    if supervised.stalled {
        failures.push(format!(
            "stalled: no message for {:.1} s, run aborted",
            ctx.stall.as_secs_f64()
        ));
    }
    let (mut samples, received, end) = match supervised.results.into_iter().next() {
        Some(Ok(out)) => {
            if let Some(e) = out.error {
                failures.push(e);
            }
            if out.duplicates > 0 {
                failures.push(format!("{} duplicate deliveries", out.duplicates));
            }
            if out.out_of_range > 0 {
                failures.push(format!(
                    "{} deliveries with a sequence outside 1..={}",
                    out.out_of_range, plan.msgs
                ));
            }
            if out.missing > 0 {
                failures.push(format!(
                    "{} of {} sequences never delivered",
                    out.missing, plan.msgs
                ));
            }
            (out.latencies, out.received, out.finished_at)
        }
        Some(Err(e)) => {
            if !e.is_cancelled() {
                failures.push(format!("consumer task failed: {e}"));
            }
            (Vec::new(), counters.get(0), Instant::now())
        }
        None => (Vec::new(), 0, Instant::now()),
    };
    if failures.is_empty() {
        // Every ack has been flushed; give the server a moment to process them.
        let deadline = Instant::now() + ACK_SETTLE;
        let mut consumer = consumer;
        loop {
            match consumer.info().await {
                Ok(info) if info.num_ack_pending == 0 => break,
                Ok(info) if Instant::now() >= deadline => {
                    failures.push(format!(
                        "consumer still has {} acks pending {:.0} s after the last ack",
                        info.num_ack_pending,
                        ACK_SETTLE.as_secs_f64()
                    ));
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    failures.push(format!("consumer info: {e}"));
                    break;
                }
            }
        }
    }
    if let Err(e) = js.delete_stream(&plan.name).await {
        failures.push(format!("deleting stream {}: {e}", plan.name));
    }
    Ok(Measured {
        count: received,
        elapsed: end.duration_since(start),
        measured_at: "pull consumer (messages received and acked)",
        publish: None,
        publishers: Vec::new(),
        subscribers: Vec::new(),
        latency: LatencyStats::from_nanos(&mut samples),
        cpu: ctx.probe.usage(before, after),
        failures,
        setup: Some(format!(
            "stream {}, {} storage, R{}, durable pull consumer, explicit ack, pull batches of {} (latency: per pull request)",
            plan.name,
            plan.storage.name(),
            plan.replicas,
            plan.window
        )),
        phases: Vec::new(),
    })
}

/// The value stored under key `i`: `i` in decimal, padded with `v` to `size` bytes.
fn kv_value(i: u64, size: usize) -> Bytes {
    let mut v = i.to_string().into_bytes();
    if v.len() < size {
        v.resize(size, b'v');
    }
    Bytes::from(v)
}

/// What one kv phase saw.
struct KvOutcome {
    done: u64,
    wrong: u64,
    latencies: Vec<u64>,
    finished_at: Instant,
    error: Option<String>,
}

async fn kv_phase(
    store: kv::Store,
    n: u64,
    size: usize,
    put: bool,
    counters: Arc<Counters>,
) -> KvOutcome {
    let mut out = KvOutcome {
        done: 0,
        wrong: 0,
        latencies: Vec::with_capacity(usize::try_from(n).unwrap_or(0)),
        finished_at: Instant::now(),
        error: None,
    };
    for i in 0..n {
        let key = format!("k{i}");
        let value = kv_value(i, size);
        let t0 = Instant::now();
        if put {
            match store.put(&key, value).await {
                Ok(rev) => out.wrong += u64::from(rev != i + 1),
                Err(e) => {
                    out.error = Some(format!("put {key}: {e}"));
                    break;
                }
            }
        } else {
            match store.get(&key).await {
                Ok(Some(v)) => out.wrong += u64::from(v != value),
                Ok(None) => out.wrong += 1,
                Err(e) => {
                    out.error = Some(format!("get {key}: {e}"));
                    break;
                }
            }
        }
        out.latencies.push(nanos(t0.elapsed()));
        out.done += 1;
        counters.set(0, out.done);
    }
    out.finished_at = Instant::now();
    out
}

/// Runs `kv`.
pub(crate) async fn run_kv(ctx: &Ctx, plan: &JsPlan) -> Result<Measured, BenchError> {
    let client = ctx.connector.connect("kv", 0, None).await?;
    let js = context(client);
    let _ = js.delete_key_value(&plan.name).await;
    // The bucket's stream as async-nats' `create_key_value` would make it; created
    // directly because that call first reads the account info, which async-nats 0.51
    // cannot parse from nats-server 2.9 (no `reserved_memory`).
    let stream_name = format!("KV_{}", plan.name);
    js.create_stream(stream::Config {
        name: stream_name.clone(),
        subjects: vec![format!("$KV.{}.>", plan.name)],
        max_messages_per_subject: 1,
        storage: storage_type(plan.storage),
        num_replicas: plan.replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| setup_error(&format!("creating bucket {}", plan.name), e))?;
    let store = js
        .get_key_value(&plan.name)
        .await
        .map_err(|e| setup_error(&format!("opening bucket {}", plan.name), e))?;

    let mut failures = Vec::new();
    let mut phases = Vec::new();
    let mut total = Duration::ZERO;
    let mut count = 0;
    let before = ctx.probe.sample()?;
    for (name, put) in [("put", true), ("get", false)] {
        if !failures.is_empty() {
            break;
        }
        let counters = Arc::new(Counters::new(1));
        let progress = Progress::new(ctx.progress, plan.msgs, &format!("kv {name}"));
        let start = Instant::now();
        let task = tokio::spawn(kv_phase(
            store.clone(),
            plan.msgs,
            plan.size,
            put,
            Arc::clone(&counters),
        ));
        let supervised = supervise(vec![task], &counters, 0..1, &progress, ctx.stall).await;
        if supervised.stalled {
            failures.push(format!(
                "{name}: stalled for {:.1} s, run aborted",
                ctx.stall.as_secs_f64()
            ));
        }
        let (mut samples, done, end) = match supervised.results.into_iter().next() {
            Some(Ok(out)) => {
                if let Some(e) = out.error {
                    failures.push(e);
                }
                if out.wrong > 0 {
                    failures.push(format!(
                        "{name}: {} keys with a wrong {}",
                        out.wrong,
                        if put { "revision" } else { "or missing value" }
                    ));
                }
                (out.latencies, out.done, out.finished_at)
            }
            Some(Err(e)) => {
                if !e.is_cancelled() {
                    failures.push(format!("{name} task failed: {e}"));
                }
                (Vec::new(), counters.get(0), Instant::now())
            }
            None => (Vec::new(), 0, Instant::now()),
        };
        if done != plan.msgs {
            failures.push(format!("{name}: {done} of {} keys", plan.msgs));
        }
        let elapsed = end.duration_since(start);
        total += elapsed;
        count += done;
        phases.push(Phase {
            name: format!("kv {name}"),
            rate: Rate::new(done, plan.size, elapsed),
            latency: LatencyStats::from_nanos(&mut samples),
        });
    }
    let after = ctx.probe.sample()?;
    match js.get_stream(&stream_name).await {
        Ok(mut s) => match s.info().await {
            Ok(info) if info.state.messages == plan.msgs => {}
            Ok(info) => failures.push(format!(
                "bucket {} holds {} values, expected {}",
                plan.name, info.state.messages, plan.msgs
            )),
            Err(e) => failures.push(format!("bucket info: {e}")),
        },
        Err(e) => failures.push(format!("bucket {}: {e}", plan.name)),
    }
    if let Err(e) = js.delete_key_value(&plan.name).await {
        failures.push(format!("deleting bucket {}: {e}", plan.name));
    }
    Ok(Measured {
        count,
        elapsed: total,
        measured_at: "kv client (puts + gets)",
        publish: None,
        publishers: Vec::new(),
        subscribers: Vec::new(),
        latency: None,
        cpu: ctx.probe.usage(before, after),
        failures,
        setup: Some(format!(
            "bucket {}, {} storage, R{}, history 1",
            plan.name,
            plan.storage.name(),
            plan.replicas
        )),
        phases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_values_carry_the_key_index() {
        assert_eq!(&kv_value(42, 8)[..], b"42vvvvvv");
        assert_eq!(&kv_value(12345, 2)[..], b"12345");
        assert_ne!(kv_value(1, 16), kv_value(2, 16));
    }
}
