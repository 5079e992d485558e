//! Encoding of server→client operations into an output buffer.
//!
//! PERF-CRITICAL: `msg`/`hmsg` run once per delivered message. They append to a
//! caller-owned `BytesMut` and never allocate beyond growing that buffer.

use bytes::{BufMut, BytesMut};

/// Appends `MSG <subject> <sid> [reply] <len>\r\n<payload>\r\n`.
#[inline]
pub fn msg(out: &mut BytesMut, subject: &[u8], sid: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    out.reserve(subject.len() + sid.len() + reply.map_or(0, |r| r.len() + 1) + payload.len() + 32);
    out.put_slice(b"MSG ");
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(r) = reply {
        out.put_slice(r);
        out.put_u8(b' ');
    }
    put_usize(out, payload.len());
    out.put_slice(b"\r\n");
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Appends `HMSG <subject> <sid> [reply] <hdr-len> <total-len>\r\n<headers><payload>\r\n`.
#[inline]
pub fn hmsg(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    out.reserve(
        subject.len()
            + sid.len()
            + reply.map_or(0, |r| r.len() + 1)
            + headers.len()
            + payload.len()
            + 48,
    );
    out.put_slice(b"HMSG ");
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if let Some(r) = reply {
        out.put_slice(r);
        out.put_u8(b' ');
    }
    put_usize(out, headers.len());
    out.put_u8(b' ');
    put_usize(out, headers.len() + payload.len());
    out.put_slice(b"\r\n");
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Appends `-ERR '<text>'\r\n`.
pub fn err(out: &mut BytesMut, text: &str) {
    out.put_slice(b"-ERR '");
    out.put_slice(text.as_bytes());
    out.put_slice(b"'\r\n");
}

/// Appends `INFO <json>\r\n`.
pub fn info(out: &mut BytesMut, json: &[u8]) {
    out.put_slice(b"INFO ");
    out.put_slice(json);
    out.put_slice(b"\r\n");
}

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// Writes a decimal number without allocating.
#[inline]
pub fn put_usize(out: &mut BytesMut, mut n: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_msg_and_hmsg() {
        let mut b = BytesMut::new();
        msg(&mut b, b"foo", b"1", None, b"hi");
        msg(&mut b, b"foo", b"22", Some(b"_INBOX.x"), b"");
        assert_eq!(
            &b[..],
            b"MSG foo 1 2\r\nhi\r\nMSG foo 22 _INBOX.x 0\r\n\r\n"
        );
        let mut b = BytesMut::new();
        hmsg(&mut b, b"r", b"1", None, b"NATS/1.0 503\r\n\r\n", b"");
        assert_eq!(&b[..], b"HMSG r 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
        let mut b = BytesMut::new();
        put_usize(&mut b, 0);
        put_usize(&mut b, 1234567890);
        assert_eq!(&b[..], b"01234567890");
    }
}
