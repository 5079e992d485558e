//! Watching a run while it happens: per-task progress counters (one padded
//! atomic per publisher/subscriber/requester, so the hot path never
//! contends), the indicatif progress bar on stderr, and the stall watchdog
//! that aborts a run in which nothing has moved for `--stall-timeout`.

use std::io::IsTerminal;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::{JoinError, JoinHandle};

use super::report::group_digits;

/// How often the progress bar and the watchdog look at the counters.
const TICK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// One progress counter per task.
#[derive(Debug, Clone)]
pub struct Counters {
    cells: Arc<[Padded]>,
}

impl Counters {
    /// `n` counters, all zero.
    pub fn new(n: usize) -> Counters {
        Counters {
            cells: (0..n).map(|_| Padded::default()).collect(),
        }
    }

    /// Sets counter `i` (out-of-range indices are ignored).
    #[inline]
    pub fn set(&self, i: usize, value: u64) {
        if let Some(c) = self.cells.get(i) {
            c.0.store(value, Ordering::Relaxed);
        }
    }

    /// Reads counter `i` (0 when out of range).
    pub fn get(&self, i: usize) -> u64 {
        self.cells.get(i).map_or(0, |c| c.0.load(Ordering::Relaxed))
    }

    /// Sum of the counters in `range`.
    pub fn sum(&self, range: Range<usize>) -> u64 {
        range.map(|i| self.get(i)).sum()
    }

    /// Sum of all counters.
    pub fn total(&self) -> u64 {
        self.sum(0..self.cells.len())
    }
}

/// The progress bar, or nothing when disabled or stderr is not a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// A bar of length `len` labelled `label`, drawn only if `enabled` and
    /// stderr is a terminal.
    pub fn new(enabled: bool, len: u64, label: &str) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                started: Instant::now(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let template = "{prefix:>8} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_string());
        Progress {
            bar: Some(bar),
            started: Instant::now(),
        }
    }

    fn set(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
            let secs = self.started.elapsed().as_secs_f64();
            if secs > 0.0 {
                let rate = (pos as f64 / secs).round() as u64;
                bar.set_message(format!("{} msgs/s", group_digits(rate)));
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Results of [`supervise`]: one entry per task, in order.
pub struct Supervised<T> {
    pub results: Vec<Result<T, JoinError>>,
    /// The watchdog aborted the tasks.
    pub stalled: bool,
}

/// Waits for `handles` while updating `progress` from the counters in
/// `shown`. If the sum of all counters does not change for `stall`, every
/// task is aborted and `stalled` is set.
pub async fn supervise<T>(
    handles: Vec<JoinHandle<T>>,
    counters: &Counters,
    shown: Range<usize>,
    progress: &Progress,
    stall: Duration,
) -> Supervised<T> {
    let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
    let join = futures::future::join_all(handles);
    tokio::pin!(join);
    let mut tick = tokio::time::interval(TICK);
    let mut last_total = counters.total();
    let mut last_change = Instant::now();
    let mut stalled = false;
    loop {
        tokio::select! {
            results = &mut join => {
                progress.set(counters.sum(shown.clone()));
                progress.finish();
                return Supervised { results, stalled };
            }
            _ = tick.tick() => {
                progress.set(counters.sum(shown.clone()));
                let total = counters.total();
                if total != last_total {
                    last_total = total;
                    last_change = Instant::now();
                } else if !stalled && last_change.elapsed() >= stall {
                    stalled = true;
                    aborts.iter().for_each(|a| a.abort());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_ranges() {
        let c = Counters::new(4);
        c.set(0, 5);
        c.set(3, 7);
        c.set(9, 100);
        assert_eq!(c.sum(0..2), 5);
        assert_eq!(c.sum(2..4), 7);
        assert_eq!(c.total(), 12);
        assert_eq!(c.get(9), 0);
    }

    #[tokio::test]
    async fn watchdog_aborts_stuck_tasks() {
        let c = Counters::new(1);
        let stuck = tokio::spawn(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        let done = tokio::spawn(async {});
        let p = Progress::new(false, 1, "test");
        let s = supervise(vec![stuck, done], &c, 0..1, &p, Duration::from_millis(250)).await;
        assert!(s.stalled);
        assert!(s.results[0].as_ref().is_err_and(|e| e.is_cancelled()));
    }
}
