//! Fuzzes the MQTT packet decoder: any bytes, split at a fuzzer-chosen point, must
//! never panic and must give the same packets as the unsplit input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natrium::mqtt::packet::parse;

fn drive(chunks: &[&[u8]]) -> (Vec<String>, Option<String>) {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        loop {
            match parse(&buf, 4096) {
                Ok(None) => break,
                Ok(Some((p, n))) => {
                    out.push(format!("{p:?}"));
                    buf.drain(..n);
                }
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }
    (out, None)
}

fuzz_target!(|input: &[u8]| {
    if input.is_empty() {
        return;
    }
    let data = &input[1..];
    let split = (input[0] as usize).min(data.len());
    assert_eq!(drive(&[data]), drive(&[&data[..split], &data[split..]]));
});
