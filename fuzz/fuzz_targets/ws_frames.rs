//! Fuzzes the WebSocket frame decoder: any bytes, split at a fuzzer-chosen point,
//! must never panic and must give the same data, control frames and error as the
//! unsplit input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use natrium::websocket::frame::FrameDecoder;

fn drive(chunks: &[&[u8]], compression: bool) -> (Vec<u8>, String, Option<String>) {
    let mut d = FrameDecoder::new(compression, 64 * 1024);
    let mut data = BytesMut::new();
    let mut controls = Vec::new();
    for c in chunks {
        if let Err(e) = d.decode(c, &mut data, &mut controls) {
            return (data.to_vec(), format!("{controls:?}"), Some(e.to_string()));
        }
    }
    (data.to_vec(), format!("{controls:?}"), None)
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let compression = input[0] & 1 == 1;
    let data = &input[2..];
    let split = (input[1] as usize).min(data.len());
    let whole = drive(&[data], compression);
    let parts = drive(&[&data[..split], &data[split..]], compression);
    // Data decoded before an error may differ in how much was emitted; the
    // outcome (error or not, controls) and error-free data must agree.
    assert_eq!(whole.2, parts.2);
    if whole.2.is_none() {
        assert_eq!(whole, parts);
    }
});
