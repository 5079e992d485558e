//! Property tests for the client parser: no panic on any bytes, and the same ops (and
//! the same error) however the input is split into reads.

use natrium::protocol::{parse_client_op, Limits, Parsed};
use proptest::prelude::*;

/// Feeds `input` in chunks ending at `cuts`, the way a connection's read loop does,
/// and records every op (as text) and the final error, if any.
fn drive(input: &[u8], cuts: &[usize], limits: &Limits) -> (Vec<String>, Option<String>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut start = 0;
    for end in bounds {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match parse_client_op(&buf, limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Op(op, n)) => {
                    assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
                    ops.push(format!("{op:?}"));
                    buf.drain(..n);
                }
                Err(e) => return (ops, Some(e.to_string())),
            }
        }
    }
    (ops, None)
}

fn op_strategy() -> impl Strategy<Value = Vec<u8>> {
    let token = "[a-z]{1,5}";
    prop_oneof![
        Just(b"PING\r\n".to_vec()),
        Just(b"PONG\r\n".to_vec()),
        Just(b"CONNECT {\"verbose\":false}\r\n".to_vec()),
        (token, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(s, p)| {
            let mut v = format!("PUB {s} {}\r\n", p.len()).into_bytes();
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (token, token, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(s, r, p)| {
            let hdr = b"NATS/1.0\r\nK: v\r\n\r\n";
            let mut v =
                format!("HPUB {s} {r} {} {}\r\n", hdr.len(), hdr.len() + p.len()).into_bytes();
            v.extend_from_slice(hdr);
            v.extend_from_slice(&p);
            v.extend_from_slice(b"\r\n");
            v
        }),
        (token, token).prop_map(|(s, q)| format!("SUB {s} {q} 7\r\n").into_bytes()),
        (1u32..100).prop_map(|n| format!("UNSUB 7 {n}\r\n").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic_and_split_invariant(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let limits = Limits { max_control_line: 64, max_payload: 128 };
        let whole = drive(&input, &[], &limits);
        let split = drive(&input, &cuts, &limits);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn valid_streams_parse_fully_under_any_split(
        ops in proptest::collection::vec(op_strategy(), 1..30),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let input: Vec<u8> = ops.concat();
        let limits = Limits::default();
        let (whole, err) = drive(&input, &[], &limits);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(whole.len(), ops.len());
        let (split, err) = drive(&input, &cuts, &limits);
        prop_assert!(err.is_none());
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn mutated_valid_streams_never_panic(
        ops in proptest::collection::vec(op_strategy(), 1..10),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut input: Vec<u8> = ops.concat();
        for (i, b) in flips {
            let n = input.len();
            input[i % n] = b;
        }
        let limits = Limits::default();
        prop_assert_eq!(drive(&input, &[], &limits), drive(&input, &cuts, &limits));
    }
}
