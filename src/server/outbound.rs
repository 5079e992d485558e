//! A connection's outbound byte queue and the writer task that drains it.
//!
//! PERF-CRITICAL: every delivered message is appended here by whichever task routed it.
//! Appends copy into one `BytesMut` under a short lock; the writer swaps that buffer out
//! and writes it with one syscall batch, so many messages coalesce into one write.
//! Bounded: a queue above `max_pending` bytes marks the connection a slow consumer.
//! Routes have a second, urgent lane (Raft frames): the writer takes it before the
//! bulk bytes, so consensus traffic waits for at most the write in progress, never for
//! a backlog of messages. Both lanes hold whole frames and are written whole.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The connection is closing; the bytes were dropped.
    Closed,
    /// The pending bytes would exceed `max_pending`: slow consumer.
    SlowConsumer,
}

struct Queue {
    data: BytesMut,
    urgent: BytesMut,
    closed: bool,
}

/// The bounded outbound queue of one connection.
pub struct Outbound {
    queue: Mutex<Queue>,
    notify: Notify,
    max_pending: usize,
    /// Set while the connection sits in some reader's [`FlushSet`].
    queued: AtomicBool,
}

impl Outbound {
    pub fn new(max_pending: usize) -> Self {
        Outbound {
            queue: Mutex::new(Queue {
                data: BytesMut::new(),
                urgent: BytesMut::new(),
                closed: false,
            }),
            notify: Notify::new(),
            max_pending,
            queued: AtomicBool::new(false),
        }
    }

    /// Appends bytes produced by `fill`. The caller wakes the writer (directly with
    /// [`Outbound::wake`] or through a [`FlushSet`]).
    #[inline]
    pub fn push(&self, fill: impl FnOnce(&mut BytesMut)) -> Result<(), PushError> {
        let mut q = self.queue.lock();
        if q.closed {
            return Err(PushError::Closed);
        }
        fill(&mut q.data);
        if q.data.len() > self.max_pending {
            q.closed = true;
            q.data.clear();
            return Err(PushError::SlowConsumer);
        }
        Ok(())
    }

    /// Appends to the urgent lane (written before any queued bulk bytes); bounded by
    /// `max_pending` on its own.
    pub fn push_urgent(&self, fill: impl FnOnce(&mut BytesMut)) -> Result<(), PushError> {
        let mut q = self.queue.lock();
        if q.closed {
            return Err(PushError::Closed);
        }
        fill(&mut q.urgent);
        if q.urgent.len() > self.max_pending {
            q.closed = true;
            q.data.clear();
            q.urgent.clear();
            return Err(PushError::SlowConsumer);
        }
        Ok(())
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        let q = self.queue.lock();
        q.data.len() + q.urgent.len()
    }

    /// Wakes the writer now.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Stops accepting bytes; `discard` drops what is queued (slow consumer).
    pub fn close(&self, discard: bool) {
        let mut q = self.queue.lock();
        q.closed = true;
        if discard {
            q.data.clear();
            q.urgent.clear();
        }
        drop(q);
        self.notify.notify_one();
    }

    /// Swaps the next buffer to write into `spare`: the urgent lane first.
    fn take(&self, spare: &mut BytesMut) -> (bool, bool) {
        let mut q = self.queue.lock();
        if !q.urgent.is_empty() {
            std::mem::swap(&mut q.urgent, spare);
            return (true, q.closed);
        }
        let has = !q.data.is_empty();
        if has {
            std::mem::swap(&mut q.data, spare);
        }
        (has, q.closed)
    }
}

/// Why the writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEnd {
    /// Queue closed and drained.
    Done,
    /// A write took longer than `write_deadline`.
    WriteDeadline,
    /// The socket failed.
    Io,
}

/// Drains `out` into `w` until the queue is closed and empty, or a write fails.
pub async fn run_writer<W: tokio::io::AsyncWrite + Unpin>(
    out: &Outbound,
    mut w: W,
    write_deadline: Duration,
) -> WriterEnd {
    let mut spare = BytesMut::new();
    let end = loop {
        let (has, closed) = out.take(&mut spare);
        if has {
            match tokio::time::timeout(write_deadline, w.write_all(&spare)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break WriterEnd::Io,
                Err(_) => break WriterEnd::WriteDeadline,
            }
            spare.clear();
            // Keep a large buffer from pinning memory after a burst.
            if spare.capacity() > 256 * 1024 {
                spare = BytesMut::new();
            }
            continue;
        }
        if closed {
            break WriterEnd::Done;
        }
        out.notify.notified().await;
    };
    let _ = tokio::time::timeout(Duration::from_millis(200), w.shutdown()).await;
    end
}

/// The set of connections a reader has pushed to since its last wake-up round, so each
/// writer is woken once per read batch instead of once per message.
#[derive(Default)]
pub struct FlushSet<T: AsRef<Outbound>> {
    pending: Vec<T>,
}

impl<T: AsRef<Outbound>> FlushSet<T> {
    pub fn new() -> Self {
        FlushSet {
            pending: Vec::new(),
        }
    }

    /// Remembers `conn` for the next [`FlushSet::flush`] (once, however often called).
    #[inline]
    pub fn add(&mut self, conn: &T)
    where
        T: Clone,
    {
        if !conn.as_ref().queued.swap(true, Ordering::AcqRel) {
            self.pending.push(conn.clone());
        }
    }

    /// Wakes every remembered writer.
    pub fn flush(&mut self) {
        for c in self.pending.drain(..) {
            let out = c.as_ref();
            out.queued.store(false, Ordering::Release);
            out.notify.notify_one();
        }
    }
}
