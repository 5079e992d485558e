//! The persistent state of one consumer and the deterministic `apply` that changes it:
//! what was delivered, what is acknowledged, what is still pending and how often each
//! pending message went out.
//!
//! Must not: read the clock (times travel in the operations), do I/O, or know about
//! subscriptions. The consumer task turns deliveries and acks into [`ConsumerOp`]s; the
//! same operations applied in the same order always give the same state, which is
//! what lets the state be persisted now and replicated later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::AckPolicy;

/// A (consumer sequence, stream sequence) position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqPair {
    pub consumer_seq: u64,
    pub stream_seq: u64,
}

/// One delivered, not yet acknowledged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Consumer sequence of its first delivery.
    pub cseq: u64,
    /// Unix nanoseconds of its latest delivery.
    pub ts: i64,
}

/// What the consumer has delivered and what is acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerState {
    pub delivered: SeqPair,
    pub ack_floor: SeqPair,
    /// Stream sequence → pending entry.
    #[serde(default)]
    pub pending: BTreeMap<u64, Pending>,
    /// Stream sequence → number of deliveries, for messages delivered more than once.
    #[serde(default)]
    pub redelivered: BTreeMap<u64, u64>,
    /// Unix nanoseconds of the last delivery and the last ack (0 = never).
    #[serde(default)]
    pub last_delivered_ts: i64,
    #[serde(default)]
    pub last_ack_ts: i64,
}

/// One change to a consumer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerOp {
    /// First delivery of stream sequence `sseq` at `ts`.
    Deliver { sseq: u64, ts: i64 },
    /// Another delivery of a pending message.
    Redeliver { sseq: u64, ts: i64 },
    /// An acknowledgement (`+ACK`, `+NXT`, `+TERM`) of `sseq` at `ts`.
    Ack { sseq: u64, ts: i64 },
    /// The message reached max_deliver (or vanished from the stream): stop tracking it.
    Drop { sseq: u64 },
    /// The stream's messages below `first` are gone (purge, limits).
    StreamFirst { first: u64 },
}

/// What applying an operation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerOpResult {
    /// The delivery's consumer sequence and delivery count.
    Delivered {
        cseq: u64,
        count: u64,
    },
    /// The stream sequences this op acknowledged (for retention).
    Acked(Vec<u64>),
    Nothing,
}

impl ConsumerState {
    /// The state of a new consumer that starts delivering at stream sequence `start`.
    pub fn starting_at(start: u64) -> Self {
        let s = start.saturating_sub(1);
        ConsumerState {
            delivered: SeqPair {
                consumer_seq: 0,
                stream_seq: s,
            },
            ack_floor: SeqPair {
                consumer_seq: 0,
                stream_seq: s,
            },
            ..Default::default()
        }
    }

    /// How many times `sseq` has been delivered.
    pub fn deliveries(&self, sseq: u64) -> u64 {
        self.redelivered.get(&sseq).copied().unwrap_or(1)
    }

    /// Whether this consumer is done with `sseq` (for interest retention).
    pub fn has_acked(&self, sseq: u64, policy: AckPolicy) -> bool {
        if sseq > self.delivered.stream_seq {
            return false;
        }
        policy == AckPolicy::None || !self.pending.contains_key(&sseq)
    }

    fn update_floor(&mut self) {
        match self.pending.iter().next() {
            None => self.ack_floor = self.delivered,
            Some((sseq, p)) => {
                self.ack_floor = SeqPair {
                    consumer_seq: p.cseq.saturating_sub(1),
                    stream_seq: sseq.saturating_sub(1),
                }
            }
        }
    }

    fn forget(&mut self, sseq: u64) -> bool {
        self.redelivered.remove(&sseq);
        self.pending.remove(&sseq).is_some()
    }
}

/// Applies `op`. The only place a consumer's state changes.
pub fn apply(st: &mut ConsumerState, policy: AckPolicy, op: ConsumerOp) -> ConsumerOpResult {
    match op {
        ConsumerOp::Deliver { sseq, ts } => {
            st.delivered.consumer_seq += 1;
            st.delivered.stream_seq = st.delivered.stream_seq.max(sseq);
            st.last_delivered_ts = ts;
            let cseq = st.delivered.consumer_seq;
            if policy == AckPolicy::None {
                st.ack_floor = st.delivered;
            } else {
                st.pending.insert(sseq, Pending { cseq, ts });
                st.update_floor();
            }
            ConsumerOpResult::Delivered { cseq, count: 1 }
        }
        ConsumerOp::Redeliver { sseq, ts } => {
            st.delivered.consumer_seq += 1;
            st.last_delivered_ts = ts;
            let cseq = st.delivered.consumer_seq;
            let count = st.deliveries(sseq) + 1;
            st.redelivered.insert(sseq, count);
            if let Some(p) = st.pending.get_mut(&sseq) {
                p.ts = ts;
            }
            if policy == AckPolicy::None {
                st.ack_floor = st.delivered;
            }
            ConsumerOpResult::Delivered { cseq, count }
        }
        ConsumerOp::Ack { sseq, ts } => {
            let acked: Vec<u64> = match policy {
                AckPolicy::None => Vec::new(),
                AckPolicy::Explicit => {
                    if st.forget(sseq) {
                        vec![sseq]
                    } else {
                        Vec::new()
                    }
                }
                AckPolicy::All => {
                    let below: Vec<u64> = st.pending.range(..=sseq).map(|(s, _)| *s).collect();
                    for s in &below {
                        st.forget(*s);
                    }
                    below
                }
            };
            if !acked.is_empty() {
                st.last_ack_ts = ts;
                st.update_floor();
            }
            ConsumerOpResult::Acked(acked)
        }
        ConsumerOp::Drop { sseq } => {
            if st.forget(sseq) {
                st.update_floor();
            }
            ConsumerOpResult::Nothing
        }
        ConsumerOp::StreamFirst { first } => {
            let gone: Vec<u64> = st.pending.range(..first).map(|(s, _)| *s).collect();
            for s in gone {
                st.forget(s);
            }
            if st.delivered.stream_seq + 1 < first {
                st.delivered.stream_seq = first - 1;
            }
            st.update_floor();
            ConsumerOpResult::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_acks_move_the_floor_past_contiguous_acks() {
        let mut st = ConsumerState::starting_at(1);
        for s in 1..=3 {
            apply(
                &mut st,
                AckPolicy::Explicit,
                ConsumerOp::Deliver { sseq: s, ts: 10 },
            );
        }
        assert_eq!(st.pending.len(), 3);
        apply(
            &mut st,
            AckPolicy::Explicit,
            ConsumerOp::Ack { sseq: 2, ts: 11 },
        );
        assert_eq!(st.ack_floor.stream_seq, 0);
        apply(
            &mut st,
            AckPolicy::Explicit,
            ConsumerOp::Ack { sseq: 1, ts: 12 },
        );
        assert_eq!(
            st.ack_floor,
            SeqPair {
                consumer_seq: 2,
                stream_seq: 2
            }
        );
        let r = apply(
            &mut st,
            AckPolicy::Explicit,
            ConsumerOp::Redeliver { sseq: 3, ts: 13 },
        );
        assert_eq!(r, ConsumerOpResult::Delivered { cseq: 4, count: 2 });
        assert_eq!(st.redelivered.len(), 1);
        apply(
            &mut st,
            AckPolicy::Explicit,
            ConsumerOp::Ack { sseq: 3, ts: 14 },
        );
        assert!(st.pending.is_empty() && st.redelivered.is_empty());
        assert_eq!(st.ack_floor, st.delivered);
    }

    #[test]
    fn ack_all_acks_everything_below() {
        let mut st = ConsumerState::starting_at(5);
        for s in 5..=9 {
            apply(
                &mut st,
                AckPolicy::All,
                ConsumerOp::Deliver { sseq: s, ts: 1 },
            );
        }
        let r = apply(&mut st, AckPolicy::All, ConsumerOp::Ack { sseq: 7, ts: 2 });
        assert_eq!(r, ConsumerOpResult::Acked(vec![5, 6, 7]));
        assert_eq!(st.ack_floor.stream_seq, 7);
        assert!(st.has_acked(6, AckPolicy::All));
        assert!(!st.has_acked(8, AckPolicy::All));
        assert!(!st.has_acked(10, AckPolicy::All));
    }

    #[test]
    fn replaying_ops_gives_the_same_state() {
        let ops = [
            ConsumerOp::Deliver { sseq: 1, ts: 1 },
            ConsumerOp::Deliver { sseq: 4, ts: 2 },
            ConsumerOp::Redeliver { sseq: 1, ts: 3 },
            ConsumerOp::Ack { sseq: 4, ts: 4 },
            ConsumerOp::StreamFirst { first: 2 },
        ];
        let run = || {
            let mut st = ConsumerState::starting_at(1);
            for op in ops {
                apply(&mut st, AckPolicy::Explicit, op);
            }
            st
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.pending.is_empty());
        assert_eq!(a.ack_floor.stream_seq, 4);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<ConsumerState>(&json).unwrap(), a);
    }
}
