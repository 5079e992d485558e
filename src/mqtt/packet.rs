//! MQTT 3.1.1 control packets: a pure decoder for what clients send and encoders
//! for what the server sends.
//!
//! Owns: the fixed header (type, flags, variable-length remaining length), the
//! fields of CONNECT, PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBSCRIBE,
//! UNSUBSCRIBE, PINGREQ, DISCONNECT, and the byte layout of CONNACK, PUBLISH, the
//! acks, SUBACK, UNSUBACK and PINGRESP. Must not: do I/O or keep session state.
//!
//! [`parse`] looks at a buffer and returns one packet borrowing from it plus its
//! length, `Ok(None)` when more bytes are needed (so any split of the input gives
//! the same packets), or an error that closes the connection.

/// Why the input is not acceptable; the connection closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("malformed variable int")]
    BadLength,
    #[error("packet of {0} bytes is over the limit")]
    TooBig(usize),
    #[error("invalid packet type {0}")]
    BadType(u8),
    #[error("invalid flags {1:#x} for packet type {0}")]
    BadFlags(u8, u8),
    #[error("malformed {0} packet")]
    Malformed(&'static str),
    #[error("invalid utf-8 in {0}")]
    BadUtf8(&'static str),
    #[error("invalid QoS {0}")]
    BadQos(u8),
}

/// The CONNECT fields the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect<'a> {
    pub protocol_name: &'a str,
    pub level: u8,
    pub clean_session: bool,
    pub keep_alive: u16,
    pub client_id: &'a str,
    pub will: Option<Will<'a>>,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will<'a> {
    pub topic: &'a str,
    pub message: &'a [u8],
    pub qos: u8,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish<'a> {
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    pub topic: &'a str,
    /// 0 for QoS 0.
    pub packet_id: u16,
    pub payload: &'a [u8],
}

/// A packet a client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Connect(Connect<'a>),
    Publish(Publish<'a>),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    /// Packet id and (filter, requested QoS) pairs.
    Subscribe(u16, Vec<(&'a str, u8)>),
    Unsubscribe(u16, Vec<&'a str>),
    PingReq,
    Disconnect,
}

/// Parses one packet from the front of `buf`; `max` bounds the remaining length.
pub fn parse(buf: &[u8], max: usize) -> Result<Option<(Packet<'_>, usize)>, PacketError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let b0 = buf[0];
    let mut len: usize = 0;
    let mut mult: usize = 1;
    let mut i = 1;
    loop {
        if i >= buf.len() {
            return Ok(None);
        }
        let b = buf[i];
        i += 1;
        len += usize::from(b & 0x7f) * mult;
        if b & 0x80 == 0 {
            break;
        }
        mult *= 128;
        if i > 4 {
            return Err(PacketError::BadLength);
        }
    }
    if len > max {
        return Err(PacketError::TooBig(len));
    }
    let typ = b0 >> 4;
    let flags = b0 & 0x0f;
    // Check the type before waiting for the body, so garbage closes at once.
    if !matches!(typ, 1 | 3..=8 | 10 | 12 | 14) {
        return Err(PacketError::BadType(typ));
    }
    if buf.len() < i + len {
        return Ok(None);
    }
    let body = &buf[i..i + len];
    let p = body_of(typ, flags, body)?;
    Ok(Some((p, i + len)))
}

fn body_of(typ: u8, flags: u8, body: &[u8]) -> Result<Packet<'_>, PacketError> {
    let want_flags = |f: u8| {
        if flags == f {
            Ok(())
        } else {
            Err(PacketError::BadFlags(typ, flags))
        }
    };
    let mut r = Reader { b: body, pos: 0 };
    match typ {
        1 => {
            want_flags(0)?;
            connect(&mut r).map(Packet::Connect)
        }
        3 => {
            let qos = (flags >> 1) & 3;
            if qos == 3 {
                return Err(PacketError::BadQos(qos));
            }
            let topic = r.string("topic")?;
            let packet_id = if qos > 0 { r.u16("publish")? } else { 0 };
            if qos > 0 && packet_id == 0 {
                return Err(PacketError::Malformed("publish"));
            }
            Ok(Packet::Publish(Publish {
                dup: flags & 8 != 0,
                qos,
                retain: flags & 1 != 0,
                topic,
                packet_id,
                payload: r.rest(),
            }))
        }
        4 | 5 | 7 => {
            want_flags(0)?;
            let id = r.u16("ack")?;
            r.end("ack")?;
            Ok(match typ {
                4 => Packet::PubAck(id),
                5 => Packet::PubRec(id),
                _ => Packet::PubComp(id),
            })
        }
        6 => {
            want_flags(2)?;
            let id = r.u16("pubrel")?;
            r.end("pubrel")?;
            Ok(Packet::PubRel(id))
        }
        8 => {
            want_flags(2)?;
            let id = r.u16("subscribe")?;
            let mut subs = Vec::new();
            while !r.done() {
                let f = r.string("topic filter")?;
                let q = r.u8("subscribe")?;
                if q > 2 {
                    return Err(PacketError::BadQos(q));
                }
                subs.push((f, q));
            }
            if subs.is_empty() {
                return Err(PacketError::Malformed("subscribe"));
            }
            Ok(Packet::Subscribe(id, subs))
        }
        10 => {
            want_flags(2)?;
            let id = r.u16("unsubscribe")?;
            let mut filters = Vec::new();
            while !r.done() {
                filters.push(r.string("topic filter")?);
            }
            if filters.is_empty() {
                return Err(PacketError::Malformed("unsubscribe"));
            }
            Ok(Packet::Unsubscribe(id, filters))
        }
        12 => {
            want_flags(0)?;
            r.end("pingreq")?;
            Ok(Packet::PingReq)
        }
        14 => {
            want_flags(0)?;
            r.end("disconnect")?;
            Ok(Packet::Disconnect)
        }
        t => Err(PacketError::BadType(t)),
    }
}

fn connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, PacketError> {
    const W: &str = "connect";
    let protocol_name = r.string("protocol name")?;
    let level = r.u8(W)?;
    let flags = r.u8(W)?;
    if flags & 1 != 0 {
        return Err(PacketError::Malformed(W));
    }
    let keep_alive = r.u16(W)?;
    let client_id = r.string("client id")?;
    let will_flag = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 3;
    let will_retain = flags & 0x20 != 0;
    if !will_flag && (will_qos != 0 || will_retain) {
        return Err(PacketError::Malformed(W));
    }
    if will_qos == 3 {
        return Err(PacketError::BadQos(3));
    }
    let will = if will_flag {
        let topic = r.string("will topic")?;
        let message = r.bytes(W)?;
        Some(Will {
            topic,
            message,
            qos: will_qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let has_user = flags & 0x80 != 0;
    let has_pass = flags & 0x40 != 0;
    if has_pass && !has_user {
        return Err(PacketError::Malformed(W));
    }
    let username = if has_user {
        Some(r.string("username")?)
    } else {
        None
    };
    let password = if has_pass { Some(r.bytes(W)?) } else { None };
    r.end(W)?;
    Ok(Connect {
        protocol_name,
        level,
        clean_session: flags & 0x02 != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.pos == self.b.len()
    }
    fn end(&self, what: &'static str) -> Result<(), PacketError> {
        if self.done() {
            Ok(())
        } else {
            Err(PacketError::Malformed(what))
        }
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, PacketError> {
        let v = *self.b.get(self.pos).ok_or(PacketError::Malformed(what))?;
        self.pos += 1;
        Ok(v)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, PacketError> {
        let hi = self.u8(what)?;
        let lo = self.u8(what)?;
        Ok(u16::from_be_bytes([hi, lo]))
    }
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], PacketError> {
        let n = usize::from(self.u16(what)?);
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or(PacketError::Malformed(what))?;
        self.pos += n;
        Ok(s)
    }
    fn string(&mut self, what: &'static str) -> Result<&'a str, PacketError> {
        let b = self.bytes(what)?;
        let s = std::str::from_utf8(b).map_err(|_| PacketError::BadUtf8(what))?;
        if s.contains('\0') {
            return Err(PacketError::BadUtf8(what));
        }
        Ok(s)
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.pos..];
        self.pos = self.b.len();
        s
    }
}

// ----- encoders ----------------------------------------------------------------

fn fixed(out: &mut Vec<u8>, b0: u8, mut len: usize) {
    out.push(b0);
    loop {
        let mut b = (len & 0x7f) as u8;
        len >>= 7;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
}

/// CONNACK with the session-present flag and a return code (0 = accepted).
pub fn connack(out: &mut Vec<u8>, session_present: bool, code: u8) {
    out.extend_from_slice(&[0x20, 2, u8::from(session_present), code]);
}

/// CONNACK return codes.
pub mod rc {
    pub const ACCEPTED: u8 = 0;
    pub const BAD_PROTOCOL: u8 = 1;
    pub const BAD_CLIENT_ID: u8 = 2;
    pub const BAD_CREDENTIALS: u8 = 4;
    pub const NOT_AUTHORIZED: u8 = 5;
}

pub fn publish(out: &mut Vec<u8>, p: &Publish<'_>) {
    let mut b0 = 0x30 | (p.qos << 1);
    if p.dup {
        b0 |= 8;
    }
    if p.retain {
        b0 |= 1;
    }
    let len = 2 + p.topic.len() + if p.qos > 0 { 2 } else { 0 } + p.payload.len();
    fixed(out, b0, len);
    out.extend_from_slice(&(p.topic.len() as u16).to_be_bytes());
    out.extend_from_slice(p.topic.as_bytes());
    if p.qos > 0 {
        out.extend_from_slice(&p.packet_id.to_be_bytes());
    }
    out.extend_from_slice(p.payload);
}

fn ack(out: &mut Vec<u8>, b0: u8, id: u16) {
    out.push(b0);
    out.push(2);
    out.extend_from_slice(&id.to_be_bytes());
}

pub fn puback(out: &mut Vec<u8>, id: u16) {
    ack(out, 0x40, id)
}
pub fn pubrec(out: &mut Vec<u8>, id: u16) {
    ack(out, 0x50, id)
}
pub fn pubrel(out: &mut Vec<u8>, id: u16) {
    ack(out, 0x62, id)
}
pub fn pubcomp(out: &mut Vec<u8>, id: u16) {
    ack(out, 0x70, id)
}
pub fn unsuback(out: &mut Vec<u8>, id: u16) {
    ack(out, 0xb0, id)
}

/// SUBACK: one granted QoS (or 0x80 failure) per filter.
pub fn suback(out: &mut Vec<u8>, id: u16, granted: &[u8]) {
    fixed(out, 0x90, 2 + granted.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(granted);
}

pub fn pingresp(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xd0, 0]);
}
