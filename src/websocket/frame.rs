//! RFC 6455 frames: a pure, resumable decoder for what clients send and the encoder
//! for what the server sends.
//!
//! Owns: frame header parsing, unmasking, fragment reassembly rules, permessage-deflate
//! (RFC 7692, no context takeover either way, as nats-server negotiates it) and the
//! close frame payloads. Must not: do I/O or know the NATS protocol.
//!
//! The decoder consumes any split of the input: [`FrameDecoder::decode`] takes every
//! byte it is given, keeps a partial header or payload in its own state and appends
//! application data to the caller's buffer as soon as it is unmasked, so a large
//! uncompressed frame is streamed, never buffered whole. Compressed messages are
//! buffered up to `max_message` bytes (before and after inflating).

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Close status codes (RFC 6455 section 7.4.1).
pub mod status {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const NO_STATUS: u16 = 1005;
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
}

const OP_CONT: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;
const MAX_CONTROL: usize = 125;
/// Messages shorter than this are sent uncompressed even when compression is on.
const COMPRESS_THRESHOLD: usize = 64;
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A control frame the connection must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Answer with a pong carrying this payload.
    Ping(Vec<u8>),
    Pong,
    /// The peer closes: status (1005 when absent) and the reason text.
    Close(u16, String),
}

/// Why the input is not an acceptable frame stream; the connection sends a close
/// frame with [`FrameError::status`] and the text, then closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("mask bit missing")]
    NotMasked,
    #[error("control frame length bigger than maximum allowed of 125 bytes")]
    ControlTooLong,
    #[error("control frame does not have final bit set")]
    ControlFragmented,
    #[error("new message started before final frame for previous message was received")]
    UnfinishedMessage,
    #[error("invalid continuation frame")]
    BadContinuation,
    #[error("unknown opcode {0}")]
    UnknownOpcode(u8),
    #[error("reserved bits set")]
    ReservedBits,
    #[error("compressed frame without negotiated compression")]
    UnexpectedCompression,
    #[error("invalid compressed data")]
    BadDeflate,
    #[error("message too big")]
    TooBig,
    #[error("frame length out of range")]
    BadLength,
}

impl FrameError {
    /// The close status sent for this error.
    pub fn status(&self) -> u16 {
        match self {
            FrameError::TooBig => status::MESSAGE_TOO_BIG,
            FrameError::BadDeflate => status::INVALID_PAYLOAD,
            _ => status::PROTOCOL_ERROR,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting header bytes into `hdr`.
    Header,
    /// Reading `rem` payload bytes of the current frame.
    Payload,
}

/// The reader side of one WebSocket connection.
pub struct FrameDecoder {
    state: State,
    hdr: [u8; 14],
    hdr_len: usize,
    opcode: u8,
    final_frame: bool,
    rem: u64,
    mask: [u8; 4],
    mask_pos: usize,
    /// A data message is open (its last frame not seen yet).
    in_message: bool,
    /// The open message is compressed.
    compressed: bool,
    compression: bool,
    max_message: usize,
    /// Compressed bytes of the open message.
    cbuf: Vec<u8>,
    /// Payload of the control frame being read.
    control: Vec<u8>,
}

impl FrameDecoder {
    /// `compression`: permessage-deflate was negotiated. `max_message`: the largest
    /// compressed message (and its inflated size) accepted.
    pub fn new(compression: bool, max_message: usize) -> Self {
        FrameDecoder {
            state: State::Header,
            hdr: [0; 14],
            hdr_len: 0,
            opcode: 0,
            final_frame: false,
            rem: 0,
            mask: [0; 4],
            mask_pos: 0,
            in_message: false,
            compressed: false,
            compression,
            max_message,
            cbuf: Vec::new(),
            control: Vec::new(),
        }
    }

    /// Consumes all of `input`: application data goes to `data`, control frames to
    /// `controls`. After an error the decoder must not be used again.
    pub fn decode(
        &mut self,
        mut input: &[u8],
        data: &mut BytesMut,
        controls: &mut Vec<Control>,
    ) -> Result<(), FrameError> {
        while !input.is_empty() {
            match self.state {
                State::Header => {
                    let need = self.header_need();
                    let take = (need - self.hdr_len).min(input.len());
                    self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(&input[..take]);
                    self.hdr_len += take;
                    input = &input[take..];
                    if self.hdr_len == need && self.header_need() == need {
                        self.start_frame()?;
                        if self.rem == 0 {
                            self.end_frame(data, controls)?;
                        }
                    }
                }
                State::Payload => {
                    let n = (self.rem.min(input.len() as u64)) as usize;
                    let (chunk, rest) = input.split_at(n);
                    input = rest;
                    self.rem -= n as u64;
                    self.payload(chunk, data)?;
                    if self.rem == 0 {
                        self.end_frame(data, controls)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Header bytes needed given what is known so far.
    fn header_need(&self) -> usize {
        if self.hdr_len < 2 {
            return 2;
        }
        let len7 = self.hdr[1] & 0x7f;
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.hdr[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    fn start_frame(&mut self) -> Result<(), FrameError> {
        let b0 = self.hdr[0];
        let b1 = self.hdr[1];
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        if b0 & 0x30 != 0 {
            return Err(FrameError::ReservedBits);
        }
        if b1 & 0x80 == 0 {
            return Err(FrameError::NotMasked);
        }
        let op = b0 & 0x0f;
        let (len, mask_at) = match b1 & 0x7f {
            126 => (u64::from(u16::from_be_bytes([self.hdr[2], self.hdr[3]])), 4),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.hdr[2..10]);
                let l = u64::from_be_bytes(b);
                if l >> 63 != 0 {
                    return Err(FrameError::BadLength);
                }
                (l, 10)
            }
            l => (u64::from(l), 2),
        };
        self.mask.copy_from_slice(&self.hdr[mask_at..mask_at + 4]);
        self.mask_pos = 0;
        match op {
            OP_CLOSE | OP_PING | OP_PONG => {
                if len as usize > MAX_CONTROL {
                    return Err(FrameError::ControlTooLong);
                }
                if !fin {
                    return Err(FrameError::ControlFragmented);
                }
                if rsv1 {
                    return Err(FrameError::ReservedBits);
                }
                self.control.clear();
            }
            OP_TEXT | OP_BINARY => {
                if self.in_message {
                    return Err(FrameError::UnfinishedMessage);
                }
                if rsv1 && !self.compression {
                    return Err(FrameError::UnexpectedCompression);
                }
                self.in_message = true;
                self.compressed = rsv1;
                self.cbuf.clear();
            }
            OP_CONT => {
                if !self.in_message || rsv1 {
                    return Err(FrameError::BadContinuation);
                }
            }
            other => return Err(FrameError::UnknownOpcode(other)),
        }
        if self.compressed
            && op < OP_CLOSE
            && (self.cbuf.len() as u64 + len) > self.max_message as u64
        {
            return Err(FrameError::TooBig);
        }
        self.opcode = op;
        self.final_frame = fin;
        self.rem = len;
        self.hdr_len = 0;
        self.state = State::Payload;
        Ok(())
    }

    fn unmask(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len());
        for &b in chunk {
            out.push(b ^ self.mask[self.mask_pos & 3]);
            self.mask_pos += 1;
        }
    }

    fn payload(&mut self, chunk: &[u8], data: &mut BytesMut) -> Result<(), FrameError> {
        if self.opcode >= OP_CLOSE {
            let mut c = std::mem::take(&mut self.control);
            self.unmask(chunk, &mut c);
            self.control = c;
        } else if self.compressed {
            let mut c = std::mem::take(&mut self.cbuf);
            self.unmask(chunk, &mut c);
            self.cbuf = c;
        } else {
            let start = data.len();
            data.extend_from_slice(chunk);
            let mut p = self.mask_pos;
            for b in &mut data[start..] {
                *b ^= self.mask[p & 3];
                p += 1;
            }
            self.mask_pos = p;
        }
        Ok(())
    }

    fn end_frame(
        &mut self,
        data: &mut BytesMut,
        controls: &mut Vec<Control>,
    ) -> Result<(), FrameError> {
        self.state = State::Header;
        self.hdr_len = 0;
        match self.opcode {
            OP_PING => controls.push(Control::Ping(std::mem::take(&mut self.control))),
            OP_PONG => controls.push(Control::Pong),
            OP_CLOSE => controls.push(close_of(&self.control)),
            _ => {
                if self.final_frame {
                    self.in_message = false;
                    if self.compressed {
                        self.compressed = false;
                        let c = std::mem::take(&mut self.cbuf);
                        inflate(&c, self.max_message, data)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn close_of(p: &[u8]) -> Control {
    if p.len() < 2 {
        return Control::Close(status::NO_STATUS, String::new());
    }
    let code = u16::from_be_bytes([p[0], p[1]]);
    match std::str::from_utf8(&p[2..]) {
        Ok(s) => Control::Close(code, s.to_string()),
        Err(_) => Control::Close(
            status::INVALID_PAYLOAD,
            "invalid utf8 body in close frame".to_string(),
        ),
    }
}

/// Inflates one permessage-deflate message (fresh window: no context takeover).
fn inflate(compressed: &[u8], max: usize, out: &mut BytesMut) -> Result<(), FrameError> {
    let mut d = Decompress::new(false);
    let mut input = Vec::with_capacity(compressed.len() + 4);
    input.extend_from_slice(compressed);
    input.extend_from_slice(&DEFLATE_TAIL);
    let start = out.len();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let before_in = d.total_in() as usize;
        let before_out = d.total_out();
        let st = d
            .decompress(&input[before_in..], &mut buf, FlushDecompress::Sync)
            .map_err(|_| FrameError::BadDeflate)?;
        let produced = (d.total_out() - before_out) as usize;
        out.extend_from_slice(&buf[..produced]);
        if out.len() - start > max {
            return Err(FrameError::TooBig);
        }
        let consumed_all = d.total_in() as usize >= input.len();
        if st == Status::StreamEnd || (consumed_all && produced < buf.len()) {
            return Ok(());
        }
        if produced == 0 && d.total_in() as usize == before_in {
            return Err(FrameError::BadDeflate);
        }
    }
}

/// The writer side: frames what the server sends (unmasked, as a server must).
pub struct FrameEncoder {
    compress: Option<Compress>,
}

impl FrameEncoder {
    pub fn new(compression: bool) -> Self {
        FrameEncoder {
            compress: compression.then(|| Compress::new(Compression::fast(), false)),
        }
    }

    /// Appends `payload` as one binary message (compressed when negotiated and worth it).
    pub fn binary(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if let Some(c) = self.compress.as_mut() {
            if payload.len() >= COMPRESS_THRESHOLD {
                let mut z = Vec::with_capacity(payload.len() / 2 + 64);
                c.reset();
                deflate_all(c, payload, &mut z);
                if z.ends_with(&DEFLATE_TAIL) {
                    z.truncate(z.len() - 4);
                }
                header(out, 0x80 | 0x40 | OP_BINARY, z.len());
                out.extend_from_slice(&z);
                return;
            }
        }
        header(out, 0x80 | OP_BINARY, payload.len());
        out.extend_from_slice(payload);
    }
}

fn deflate_all(c: &mut Compress, mut input: &[u8], out: &mut Vec<u8>) {
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.len().max(1024));
        }
        let before = c.total_in();
        if c.compress_vec(input, out, FlushCompress::Sync).is_err() {
            return;
        }
        let used = (c.total_in() - before) as usize;
        input = &input[used..];
        if input.is_empty() && out.len() < out.capacity() {
            return;
        }
    }
}

/// Appends an unmasked frame header.
pub fn header(out: &mut Vec<u8>, b0: u8, len: usize) {
    out.push(b0);
    if len <= 125 {
        out.push(len as u8);
    } else if len < 65536 {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a pong frame.
pub fn pong(out: &mut Vec<u8>, payload: &[u8]) {
    header(out, 0x80 | OP_PONG, payload.len());
    out.extend_from_slice(payload);
}

/// Appends a close frame; the reason is cut to fit a control frame.
pub fn close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut body = reason.as_bytes();
    let mut dots = false;
    if body.len() > MAX_CONTROL - 2 {
        let mut cut = MAX_CONTROL - 5;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        body = &body[..cut];
        dots = true;
    }
    let len = 2 + body.len() + if dots { 3 } else { 0 };
    header(out, 0x80 | OP_CLOSE, len);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(body);
    if dots {
        out.extend_from_slice(b"...");
    }
}

/// Builds a masked client frame (for tests, fuzzing and the benchmark client).
pub fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    header(&mut out, b0, payload.len());
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}
