//! Property tests for the two front-end decoders: a stream of valid frames (or
//! packets), cut into arbitrary chunks, decodes to exactly what was encoded.

use bytes::BytesMut;
use natrium::mqtt::packet::{self, Packet, Publish};
use natrium::websocket::frame::{client_frame, Control, FrameDecoder};
use proptest::prelude::*;

/// One application message: payload, how many fragments, whether it is deflated,
/// and whether a ping is sent between its fragments.
type Msg = (Vec<u8>, usize, bool, bool);

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() * 2 + 64);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    out.truncate(out.len() - 4);
    out
}

fn encode(msgs: &[Msg], mask: [u8; 4]) -> (Vec<u8>, Vec<u8>, usize) {
    let mut wire = Vec::new();
    let mut expect = Vec::new();
    let mut pings = 0;
    for (payload, frags, compress, ping) in msgs {
        expect.extend_from_slice(payload);
        let body = if *compress {
            deflate(payload)
        } else {
            payload.clone()
        };
        let n = (*frags).clamp(1, body.len().max(1));
        let step = body.len().div_ceil(n).max(1);
        let pieces: Vec<&[u8]> = if body.is_empty() {
            vec![&body[..]]
        } else {
            body.chunks(step).collect()
        };
        for (i, piece) in pieces.iter().enumerate() {
            let first = i == 0;
            let last = i == pieces.len() - 1;
            let mut b0 = if first { 0x2 } else { 0x0 };
            if last {
                b0 |= 0x80;
            }
            if first && *compress {
                b0 |= 0x40;
            }
            wire.extend(client_frame(b0, piece, mask));
            if *ping && !last {
                wire.extend(client_frame(0x89, b"p", mask));
                pings += 1;
            }
        }
    }
    (wire, expect, pings)
}

proptest! {
    #[test]
    fn ws_frames_any_split(
        msgs in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..3000), 1usize..5, any::<bool>(), any::<bool>()),
            1..8),
        mask in any::<[u8; 4]>(),
        cuts in proptest::collection::vec(0usize..100_000, 0..12),
    ) {
        let (wire, expect, pings) = encode(&msgs, mask);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut d = FrameDecoder::new(true, 1 << 20);
        let mut data = BytesMut::new();
        let mut controls = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([wire.len()]) {
            d.decode(&wire[at..c], &mut data, &mut controls).unwrap();
            at = c;
        }
        prop_assert_eq!(&data[..], &expect[..]);
        prop_assert_eq!(controls.len(), pings);
        prop_assert!(controls.iter().all(|c| *c == Control::Ping(b"p".to_vec())));
    }

    #[test]
    fn mqtt_packets_any_split(
        pubs in proptest::collection::vec(
            ("[a-z]{1,8}(/[a-z]{1,8}){0,3}", 0u8..3, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..400)),
            1..10),
        cuts in proptest::collection::vec(0usize..100_000, 0..10),
    ) {
        let mut wire = Vec::new();
        for (i, (topic, qos, retain, payload)) in pubs.iter().enumerate() {
            packet::publish(&mut wire, &Publish {
                dup: false,
                qos: *qos,
                retain: *retain,
                topic,
                packet_id: if *qos > 0 { i as u16 + 1 } else { 0 },
                payload,
            });
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([wire.len()]) {
            buf.extend_from_slice(&wire[at..c]);
            at = c;
            while let Some((p, n)) = packet::parse(&buf, 1 << 20).unwrap() {
                match p {
                    Packet::Publish(p) => got.push((p.topic.to_string(), p.qos, p.retain, p.payload.to_vec())),
                    other => panic!("unexpected {other:?}"),
                }
                buf.drain(..n);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, pubs);
    }
}
