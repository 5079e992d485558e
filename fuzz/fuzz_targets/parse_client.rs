//! Fuzzes the client parser: any bytes, split at a fuzzer-chosen point, must never panic
//! and must give the same ops as the unsplit input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natrium::protocol::{parse_client_op, Limits, Parsed};

fn drive(chunks: &[&[u8]], limits: &Limits) -> (Vec<String>, Option<String>) {
    let mut buf = Vec::new();
    let mut ops = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match parse_client_op(&buf, limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Op(op, n)) => {
                    ops.push(format!("{op:?}"));
                    buf.drain(..n);
                }
                Err(e) => return (ops, Some(e.to_string())),
            }
        }
    }
    (ops, None)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % data.len();
    let input = &data[1..];
    let split = split.min(input.len());
    let limits = Limits { max_control_line: 256, max_payload: 4096 };
    let whole = drive(&[input], &limits);
    let parts = drive(&[&input[..split], &input[split..]], &limits);
    assert_eq!(whole, parts);
});
