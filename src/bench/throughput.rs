//! The throughput workloads (`pub`, `pubsub`, `fanout`, `mpmc`): P publisher
//! connections split the messages between them, S subscriber connections
//! (possibly none) each expect every message.
//!
//! Setup (connect, subscribe, flush so the server has registered every
//! subscription) is outside the measured interval. The clock starts when the
//! publishers are released; a publisher's time ends after its final flush
//! round trip, a subscriber's when its last expected message arrives. After
//! the measurement each subscriber listens briefly for surplus messages, so
//! duplicates are caught as well as losses.

use std::time::{Duration, Instant};

use async_nats::{Client, Subject, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;

use super::args::ThroughputPlan;
use super::client::{flush, subscription_capacity};
use super::error::BenchError;
use super::monitor::{supervise, Counters, Progress};
use super::report::{ClientStats, Rate};
use super::{Ctx, Measured};

/// How long a subscriber listens for surplus messages after the run.
const SURPLUS_WAIT: Duration = Duration::from_millis(100);

/// Counters are published every this many messages (plus at the end).
const COUNTER_EVERY: u64 = 1024;

/// What a publisher or subscriber task hands back.
struct TaskOutcome {
    done: u64,
    wrong_size: u64,
    finished_at: Instant,
    error: Option<String>,
    leftover: Option<(Client, Subscriber)>,
}

/// Messages publisher `i` of `pubs` sends out of `total`.
pub(crate) fn share(total: u64, pubs: usize, i: usize) -> u64 {
    let pubs = pubs.max(1) as u64;
    let i = i as u64;
    total / pubs + u64::from(i < total % pubs)
}

async fn publisher(
    client: Client,
    subject: Subject,
    payload: Bytes,
    n: u64,
    counters: Counters,
    slot: usize,
    mut go: watch::Receiver<bool>,
) -> TaskOutcome {
    let mut error = None;
    let mut sent = 0;
    if go.wait_for(|go| *go).await.is_err() {
        error = Some("start signal lost".to_string());
    } else {
        while sent < n {
            if let Err(e) = client.publish(subject.clone(), payload.clone()).await {
                error = Some(format!("publish: {e}"));
                break;
            }
            sent += 1;
            if sent % COUNTER_EVERY == 0 {
                counters.set(slot, sent);
            }
        }
        counters.set(slot, sent);
        if error.is_none() {
            if let Err(e) = client.flush().await {
                error = Some(format!("flush: {e}"));
            }
        }
    }
    TaskOutcome {
        done: sent,
        wrong_size: 0,
        finished_at: Instant::now(),
        error,
        leftover: None,
    }
}

async fn subscriber(
    client: Client,
    mut sub: Subscriber,
    expected: u64,
    size: usize,
    counters: Counters,
    slot: usize,
) -> TaskOutcome {
    let mut got = 0;
    let mut wrong_size = 0;
    let mut error = None;
    while got < expected {
        match sub.next().await {
            Some(msg) => {
                got += 1;
                wrong_size += u64::from(msg.payload.len() != size);
                if got % COUNTER_EVERY == 0 {
                    counters.set(slot, got);
                }
            }
            None => {
                error = Some("subscription closed".to_string());
                break;
            }
        }
    }
    counters.set(slot, got);
    TaskOutcome {
        done: got,
        wrong_size,
        finished_at: Instant::now(),
        error,
        leftover: Some((client, sub)),
    }
}

/// Counts messages that arrive on `sub` within [`SURPLUS_WAIT`] of each other.
async fn surplus(mut sub: Subscriber) -> u64 {
    let mut extra = 0;
    while let Ok(Some(_)) = tokio::time::timeout(SURPLUS_WAIT, sub.next()).await {
        extra += 1;
    }
    extra
}

/// Runs one throughput workload.
pub(crate) async fn run(ctx: &Ctx, plan: &ThroughputPlan) -> Result<Measured, BenchError> {
    let payload = Bytes::from(vec![b'n'; plan.size]);
    let subject = Subject::from(plan.subject.as_str());
    let counters = Counters::new(plan.pubs + plan.subs);

    let mut subs = Vec::with_capacity(plan.subs);
    for j in 0..plan.subs {
        let role = format!("sub-{j}");
        let capacity = subscription_capacity(plan.msgs);
        let client = ctx
            .connector
            .connect(&role, plan.pubs + j, Some(capacity))
            .await?;
        let sub =
            client
                .subscribe(subject.clone())
                .await
                .map_err(|source| BenchError::Subscribe {
                    subject: plan.subject.clone(),
                    source,
                })?;
        flush(&client, &role).await?;
        subs.push((client, sub));
    }
    let mut pubs = Vec::with_capacity(plan.pubs);
    for i in 0..plan.pubs {
        let role = format!("pub-{i}");
        let client = ctx.connector.connect(&role, i, None).await?;
        flush(&client, &role).await?;
        pubs.push(client);
    }

    let (go_tx, go_rx) = watch::channel(false);
    let mut handles = Vec::with_capacity(plan.pubs + plan.subs);
    for (i, client) in pubs.into_iter().enumerate() {
        handles.push(tokio::spawn(publisher(
            client,
            subject.clone(),
            payload.clone(),
            share(plan.msgs, plan.pubs, i),
            counters.clone(),
            i,
            go_rx.clone(),
        )));
    }
    for (j, (client, sub)) in subs.into_iter().enumerate() {
        handles.push(tokio::spawn(subscriber(
            client,
            sub,
            plan.msgs,
            plan.size,
            counters.clone(),
            plan.pubs + j,
        )));
    }

    let (shown, shown_len) = if plan.subs == 0 {
        (0..plan.pubs, plan.msgs)
    } else {
        (
            plan.pubs..plan.pubs + plan.subs,
            plan.msgs * plan.subs as u64,
        )
    };
    let progress = Progress::new(ctx.progress, shown_len, plan.name);
    let before = ctx.probe.sample()?;
    let start = Instant::now();
    // Cannot fail: every publisher holds a receiver.
    let _ = go_tx.send(true);
    let supervised = supervise(handles, &counters, shown, &progress, ctx.stall).await;
    let after = ctx.probe.sample()?;

    let mut failures = Vec::new();
    if supervised.stalled {
        failures.push(format!(
            "stalled: no message moved for {:.1} s, run aborted",
            ctx.stall.as_secs_f64()
        ));
    }
    let mut publishers = Vec::new();
    let mut subscribers = Vec::new();
    let mut leftovers = Vec::new();
    let (mut pub_end, mut sub_end) = (start, start);
    for (slot, result) in supervised.results.into_iter().enumerate() {
        let is_pub = slot < plan.pubs;
        let (id, expected, role) = if is_pub {
            (slot, share(plan.msgs, plan.pubs, slot), "pub")
        } else {
            (slot - plan.pubs, plan.msgs, "sub")
        };
        let (done, end) = match result {
            Ok(out) => {
                if let Some(e) = out.error {
                    failures.push(format!("{role} #{id}: {e}"));
                }
                if out.wrong_size > 0 {
                    failures.push(format!(
                        "{role} #{id}: {} messages with a payload size other than {}",
                        out.wrong_size, plan.size
                    ));
                }
                leftovers.extend(out.leftover.map(|(client, sub)| (id, client, sub)));
                (out.done, out.finished_at)
            }
            Err(e) => {
                if !e.is_cancelled() {
                    failures.push(format!("{role} #{id}: task failed: {e}"));
                }
                (counters.get(slot), Instant::now())
            }
        };
        if done != expected {
            let verb = if is_pub { "sent" } else { "received" };
            failures.push(format!("{role} #{id} {verb} {done} of {expected} messages"));
        }
        let stats = ClientStats {
            id,
            expected,
            rate: Rate::new(done, plan.size, end.duration_since(start)),
        };
        if is_pub {
            pub_end = pub_end.max(end);
            publishers.push(stats);
        } else {
            sub_end = sub_end.max(end);
            subscribers.push(stats);
        }
    }

    let extras =
        futures::future::join_all(leftovers.into_iter().map(|(id, client, sub)| async move {
            let extra = surplus(sub).await;
            drop(client);
            (id, extra)
        }))
        .await;
    for (id, extra) in extras.into_iter().filter(|(_, extra)| *extra > 0) {
        failures.push(format!(
            "sub #{id} received {extra} messages more than published"
        ));
    }

    let published: u64 = publishers.iter().map(|p| p.rate.msgs).sum();
    let publish = Rate::new(published, plan.size, pub_end.duration_since(start));
    let (count, elapsed, measured_at) = if plan.subs == 0 {
        (published, pub_end.duration_since(start), "publishers")
    } else {
        let delivered = subscribers.iter().map(|s| s.rate.msgs).sum();
        (delivered, sub_end.duration_since(start), "subscribers")
    };
    Ok(Measured {
        count,
        elapsed,
        measured_at,
        publish: Some(publish),
        publishers,
        subscribers,
        latency: None,
        cpu: ctx.probe.usage(before, after),
        failures,
        setup: None,
        phases: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up() {
        for (total, pubs) in [(10u64, 3usize), (1_000_000, 4), (7, 7), (5, 1)] {
            let sum: u64 = (0..pubs).map(|i| share(total, pubs, i)).sum();
            assert_eq!(sum, total);
        }
        assert_eq!(share(10, 3, 0), 4);
        assert_eq!(share(10, 3, 2), 3);
    }
}
