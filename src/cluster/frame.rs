//! Route framing: a 4-byte big-endian length, then one prost-encoded [`Frame`].
//!
//! Pure: no I/O, no locks. [`decode`] looks at a byte slice and returns at most one
//! frame and the number of bytes it used, so it gives the same frames however the input
//! is split. A length above the bound is an error before anything is buffered for it.
//! [`encode_msg`] writes a forwarded message without building an owned [`RoutedMsg`],
//! so forwarding copies the payload once, straight into the route's output buffer.

use bytes::{BufMut, BytesMut};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
use prost::Message as _;

#[cfg(test)]
use super::proto::RoutedMsg;
use super::proto::{frame::Kind, Frame};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Why a route's input could not be decoded. Any of these closes the route.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("empty frame")]
    Empty,
}

/// Decodes one frame from the start of `buf`. `Ok(None)` means more input is needed.
pub fn decode(buf: &[u8], max_frame: usize) -> Result<Option<(Kind, usize)>, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > max_frame {
        return Err(FrameError::TooLarge {
            len,
            max: max_frame,
        });
    }
    let total = HEADER_LEN + len;
    if buf.len() < total {
        return Ok(None);
    }
    let frame =
        Frame::decode(&buf[HEADER_LEN..total]).map_err(|e| FrameError::Malformed(e.to_string()))?;
    match frame.kind {
        Some(k) => Ok(Some((k, total))),
        None => Err(FrameError::Empty),
    }
}

/// Appends one frame carrying `kind`.
pub fn encode(out: &mut BytesMut, kind: Kind) {
    let frame = Frame { kind: Some(kind) };
    let len = frame.encoded_len();
    out.reserve(HEADER_LEN + len);
    out.put_u32(len as u32);
    // Cannot fail: the buffer was reserved above and BytesMut grows anyway.
    let _ = frame.encode(out);
}

/// The parts of a forwarded message, borrowed from the publisher's input.
#[derive(Debug, Clone, Copy)]
pub struct MsgParts<'a> {
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
    /// The subject to route by on the receiving node, when it differs from `subject`.
    pub deliver: Option<&'a [u8]>,
}

/// Field numbers of `Frame.msg` and of `RoutedMsg`.
const FRAME_MSG: u32 = 6;
const F_ACCOUNT: u32 = 1;
const F_SUBJECT: u32 = 2;
const F_REPLY: u32 = 3;
const F_HEADERS: u32 = 4;
const F_PAYLOAD: u32 = 5;
const F_QUEUES: u32 = 6;
const F_DELIVER: u32 = 7;

fn field_len(tag: u32, n: usize) -> usize {
    key_len(tag) + encoded_len_varint(n as u64) + n
}

fn put_field(out: &mut BytesMut, tag: u32, data: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(data.len() as u64, out);
    out.put_slice(data);
}

/// Appends a `Frame { msg: RoutedMsg { .. } }` built straight from borrowed parts,
/// byte-identical to what prost would encode for the owned message.
pub fn encode_msg(out: &mut BytesMut, m: &MsgParts<'_>, queues: &[&str]) {
    let nonempty = |tag: u32, d: &[u8]| {
        if d.is_empty() {
            0
        } else {
            field_len(tag, d.len())
        }
    };
    let mut inner = nonempty(F_ACCOUNT, m.account) + nonempty(F_SUBJECT, m.subject);
    inner += m.reply.map_or(0, |r| nonempty(F_REPLY, r));
    inner += m.headers.map_or(0, |h| field_len(F_HEADERS, h.len()));
    inner += nonempty(F_PAYLOAD, m.payload);
    inner += m.deliver.map_or(0, |d| nonempty(F_DELIVER, d));
    inner += queues
        .iter()
        .map(|q| field_len(F_QUEUES, q.len()))
        .sum::<usize>();
    let outer = field_len(FRAME_MSG, inner);
    out.reserve(HEADER_LEN + outer);
    out.put_u32(outer as u32);
    encode_key(FRAME_MSG, WireType::LengthDelimited, out);
    encode_varint(inner as u64, out);
    if !m.account.is_empty() {
        put_field(out, F_ACCOUNT, m.account);
    }
    if !m.subject.is_empty() {
        put_field(out, F_SUBJECT, m.subject);
    }
    if let Some(r) = m.reply.filter(|r| !r.is_empty()) {
        put_field(out, F_REPLY, r);
    }
    if let Some(h) = m.headers {
        put_field(out, F_HEADERS, h);
    }
    if !m.payload.is_empty() {
        put_field(out, F_PAYLOAD, m.payload);
    }
    for q in queues {
        put_field(out, F_QUEUES, q.as_bytes());
    }
    if let Some(d) = m.deliver.filter(|d| !d.is_empty()) {
        put_field(out, F_DELIVER, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::proto::{Hello, Interest, Ping};
    use bytes::Bytes;
    use proptest::prelude::*;

    fn sample() -> Vec<Kind> {
        vec![
            Kind::Hello(Hello {
                node_id: "N1".into(),
                server_name: "n1".into(),
                cluster_name: "c".into(),
                ..Default::default()
            }),
            Kind::Interest(Interest {
                account: "$G".into(),
                subject: "foo.*".into(),
                queue: "q".into(),
                count: 3,
            }),
            Kind::Ping(Ping { nonce: 7 }),
            Kind::Msg(RoutedMsg {
                account: "$G".into(),
                subject: "a.b".into(),
                reply: "".into(),
                headers: Some(Bytes::from_static(b"NATS/1.0\r\n\r\n")),
                payload: Bytes::from(vec![0u8; 300]),
                queues: vec!["q1".into(), "q2".into()],
                deliver: String::new(),
            }),
        ]
    }

    #[test]
    fn encode_msg_matches_prost() {
        let cases = [
            (
                Some(&b"r.1"[..]),
                Some(&b"NATS/1.0\r\n\r\n"[..]),
                &b"hello"[..],
                vec!["q"],
            ),
            (None, None, &b""[..], vec![]),
            (
                Some(&b""[..]),
                Some(&b""[..]),
                &[7u8; 200][..],
                vec!["a", "bb"],
            ),
        ];
        for (reply, headers, payload, queues) in cases {
            let parts = MsgParts {
                account: b"ACC",
                subject: b"x.y",
                reply,
                headers,
                payload,
                deliver: Some(b"_INBOX.d"),
            };
            let mut fast = BytesMut::new();
            encode_msg(&mut fast, &parts, &queues);
            let mut slow = BytesMut::new();
            encode(
                &mut slow,
                Kind::Msg(RoutedMsg {
                    account: "ACC".into(),
                    subject: "x.y".into(),
                    reply: reply
                        .map(|r| String::from_utf8_lossy(r).into_owned())
                        .unwrap_or_default(),
                    headers: headers.map(Bytes::copy_from_slice),
                    payload: Bytes::copy_from_slice(payload),
                    queues: queues.iter().map(|q| q.to_string()).collect(),
                    deliver: "_INBOX.d".into(),
                }),
            );
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn too_large_is_refused_before_buffering() {
        let mut b = BytesMut::new();
        b.put_u32(1 << 30);
        assert!(matches!(decode(&b, 1024), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut b = BytesMut::new();
        b.put_u32(3);
        b.put_slice(&[0xff, 0xff, 0xff]);
        assert!(decode(&b, 1024).is_err());
        let mut e = BytesMut::new();
        e.put_u32(0);
        assert_eq!(decode(&e, 1024), Err(FrameError::Empty));
    }

    proptest! {
        #[test]
        fn same_frames_however_split(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let mut all = BytesMut::new();
            for k in sample() {
                encode(&mut all, k);
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(all.len() + 1)).collect();
            points.sort_unstable();
            let mut got = Vec::new();
            let mut buf = BytesMut::new();
            let mut prev = 0;
            for p in points.into_iter().chain(std::iter::once(all.len())) {
                buf.extend_from_slice(&all[prev..p]);
                prev = p;
                while let Some((k, n)) = decode(&buf, 1 << 20).unwrap() {
                    got.push(k);
                    let _ = buf.split_to(n);
                }
            }
            prop_assert_eq!(got, sample());
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&data, 128);
        }
    }
}
