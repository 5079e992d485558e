//! The client-operation parser: a pure function from a byte slice to at most one
//! operation and the number of bytes it used.
//!
//! PERF-CRITICAL: called for every op a client sends. It allocates nothing; ops borrow
//! from the input. Resumability is the caller's: it keeps the unconsumed bytes and calls
//! again with more. A partial control line is re-scanned at most `max_control_line`
//! bytes, and a partial payload is not scanned at all, so no input is quadratic.

use super::error::ProtoError;

/// Limits checked while parsing, before anything is allocated.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: 4096,
            max_payload: 1024 * 1024,
        }
    }
}

/// One operation sent by a client. Every slice borrows from the parsed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp<'a> {
    Connect(&'a [u8]),
    Pub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    HPub {
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        headers: &'a [u8],
        payload: &'a [u8],
    },
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    Unsub {
        sid: &'a [u8],
        max: Option<u64>,
    },
    Ping,
    Pong,
    /// A client `+OK`, which is ignored.
    Ok,
    /// A client `-ERR`, which closes the connection.
    Err,
    /// A client `INFO`, which is ignored.
    Info,
}

/// The result of one parse call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// More bytes are needed; nothing was consumed.
    Incomplete,
    /// One op, and how many bytes of the input it used.
    Op(ClientOp<'a>, usize),
}

const MAX_ARGS: usize = 6;

/// Parses at most one operation from the front of `buf`.
pub fn parse_client_op<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ProtoError> {
    let scan_len = buf.len().min(limits.max_control_line + 2);
    let nl = match memchr_nl(&buf[..scan_len]) {
        Some(i) => i,
        None => {
            if buf.len() > limits.max_control_line + 1 {
                // nats-server rejects a line that does not start with an op as soon
                // as it sees it; only a known op's over-long line is a control-line
                // error.
                let (op, _) = split_op(&buf[..scan_len]);
                if ascii_upper_op(op).is_none() {
                    return Err(ProtoError::UnknownOp);
                }
                return Err(ProtoError::MaxControlLine);
            }
            return Ok(Parsed::Incomplete);
        }
    };
    let mut line = &buf[..nl];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    let line_end = nl + 1;
    let (op, rest) = split_op(line);
    let op_upper = ascii_upper_op(op);
    match op_upper {
        Some(OpName::Pub) => {
            check_control_len(line, limits)?;
            let mut args = [&[][..]; MAX_ARGS];
            let n = split_args(rest, &mut args).ok_or(ProtoError::CloseSilently("bad PUB"))?;
            let (subject, reply, size) = match n {
                2 => (args[0], None, args[1]),
                3 => (args[0], Some(args[1]), args[2]),
                _ => return Err(ProtoError::CloseSilently("bad PUB arguments")),
            };
            let size = parse_size(size).ok_or(ProtoError::CloseSilently("bad PUB size"))?;
            if size > limits.max_payload {
                return Err(ProtoError::MaxPayload);
            }
            let payload = match take_payload(buf, line_end, size)? {
                Some(p) => p,
                None => return Ok(Parsed::Incomplete),
            };
            Ok(Parsed::Op(
                ClientOp::Pub {
                    subject,
                    reply,
                    payload,
                },
                line_end + size + 2,
            ))
        }
        Some(OpName::HPub) => {
            check_control_len(line, limits)?;
            let mut args = [&[][..]; MAX_ARGS];
            let n = split_args(rest, &mut args).ok_or(ProtoError::CloseSilently("bad HPUB"))?;
            let (subject, reply, hdr, total) = match n {
                3 => (args[0], None, args[1], args[2]),
                4 => (args[0], Some(args[1]), args[2], args[3]),
                _ => return Err(ProtoError::CloseSilently("bad HPUB arguments")),
            };
            let hdr = parse_size(hdr).ok_or(ProtoError::CloseSilently("bad HPUB size"))?;
            let total = parse_size(total).ok_or(ProtoError::CloseSilently("bad HPUB size"))?;
            if hdr > total {
                return Err(ProtoError::CloseSilently("HPUB header size over total"));
            }
            if total > limits.max_payload {
                return Err(ProtoError::MaxPayload);
            }
            let body = match take_payload(buf, line_end, total)? {
                Some(p) => p,
                None => return Ok(Parsed::Incomplete),
            };
            let (headers, payload) = body.split_at(hdr);
            Ok(Parsed::Op(
                ClientOp::HPub {
                    subject,
                    reply,
                    headers,
                    payload,
                },
                line_end + total + 2,
            ))
        }
        Some(OpName::Sub) => {
            check_control_len(line, limits)?;
            let mut args = [&[][..]; MAX_ARGS];
            let n = split_args(rest, &mut args).ok_or(ProtoError::CloseSilently("bad SUB"))?;
            let op = match n {
                2 => ClientOp::Sub {
                    subject: args[0],
                    queue: None,
                    sid: args[1],
                },
                3 => ClientOp::Sub {
                    subject: args[0],
                    queue: Some(args[1]),
                    sid: args[2],
                },
                _ => return Err(ProtoError::CloseSilently("bad SUB arguments")),
            };
            Ok(Parsed::Op(op, line_end))
        }
        Some(OpName::Unsub) => {
            check_control_len(line, limits)?;
            let mut args = [&[][..]; MAX_ARGS];
            let n = split_args(rest, &mut args).ok_or(ProtoError::CloseSilently("bad UNSUB"))?;
            let op = match n {
                0 => return Err(ProtoError::UnknownOp),
                1 => ClientOp::Unsub {
                    sid: args[0],
                    max: None,
                },
                // nats-server ignores a max that is not a number.
                2 => ClientOp::Unsub {
                    sid: args[0],
                    max: parse_size(args[1]).map(|m| m as u64),
                },
                _ => return Err(ProtoError::CloseSilently("bad UNSUB arguments")),
            };
            Ok(Parsed::Op(op, line_end))
        }
        Some(OpName::Ping) if is_blank(rest) => Ok(Parsed::Op(ClientOp::Ping, line_end)),
        Some(OpName::Pong) if is_blank(rest) => Ok(Parsed::Op(ClientOp::Pong, line_end)),
        Some(OpName::Connect) => {
            let json = trim(rest);
            if json.is_empty() {
                return Err(ProtoError::CloseSilently("CONNECT without arguments"));
            }
            Ok(Parsed::Op(ClientOp::Connect(json), line_end))
        }
        Some(OpName::Info) => Ok(Parsed::Op(ClientOp::Info, line_end)),
        Some(OpName::Ok) if is_blank(rest) => Ok(Parsed::Op(ClientOp::Ok, line_end)),
        Some(OpName::Err) => Ok(Parsed::Op(ClientOp::Err, line_end)),
        _ => Err(ProtoError::UnknownOp),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpName {
    Pub,
    HPub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Connect,
    Info,
    Ok,
    Err,
}

fn ascii_upper_op(op: &[u8]) -> Option<OpName> {
    let mut up = [0u8; 8];
    if op.len() > up.len() {
        return None;
    }
    for (d, s) in up.iter_mut().zip(op) {
        *d = s.to_ascii_uppercase();
    }
    match &up[..op.len()] {
        b"PUB" => Some(OpName::Pub),
        b"HPUB" => Some(OpName::HPub),
        b"SUB" => Some(OpName::Sub),
        b"UNSUB" => Some(OpName::Unsub),
        b"PING" => Some(OpName::Ping),
        b"PONG" => Some(OpName::Pong),
        b"CONNECT" => Some(OpName::Connect),
        b"INFO" => Some(OpName::Info),
        b"+OK" => Some(OpName::Ok),
        b"-ERR" => Some(OpName::Err),
        _ => None,
    }
}

fn check_control_len(line: &[u8], limits: &Limits) -> Result<(), ProtoError> {
    if line.len() > limits.max_control_line {
        Err(ProtoError::MaxControlLine)
    } else {
        Ok(())
    }
}

/// Returns the payload if all of it and its CRLF have arrived.
fn take_payload(buf: &[u8], start: usize, size: usize) -> Result<Option<&[u8]>, ProtoError> {
    let end = start + size;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtoError::UnknownOp);
    }
    Ok(Some(&buf[start..end]))
}

#[inline]
fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[inline]
fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|&c| is_ws(c))
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [c, rest @ ..] = b {
        if is_ws(*c) {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., c] = b {
        if is_ws(*c) {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Splits the op name from the rest of the line.
fn split_op(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim(line);
    match line.iter().position(|&c| is_ws(c)) {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, &[]),
    }
}

/// Splits arguments on runs of spaces/tabs. `None` if there are more than `MAX_ARGS`.
fn split_args<'a>(rest: &'a [u8], out: &mut [&'a [u8]; MAX_ARGS]) -> Option<usize> {
    let mut n = 0;
    for arg in rest.split(|&c| is_ws(c)).filter(|a| !a.is_empty()) {
        if n == MAX_ARGS {
            return None;
        }
        out[n] = arg;
        n += 1;
    }
    Some(n)
}

/// Parses a non-negative decimal size; `None` for anything else or an overflow.
pub fn parse_size(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut n: usize = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as usize;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &[u8]) -> Result<Parsed<'_>, ProtoError> {
        parse_client_op(input, &Limits::default())
    }

    #[test]
    fn parses_each_op() {
        assert_eq!(one(b"PING\r\n"), Ok(Parsed::Op(ClientOp::Ping, 6)));
        assert_eq!(one(b"pong\r\n"), Ok(Parsed::Op(ClientOp::Pong, 6)));
        assert_eq!(one(b"PING\n"), Ok(Parsed::Op(ClientOp::Ping, 5)));
        assert_eq!(
            one(b"PUB foo 2\r\nhi\r\n"),
            Ok(Parsed::Op(
                ClientOp::Pub {
                    subject: b"foo",
                    reply: None,
                    payload: b"hi"
                },
                15
            ))
        );
        assert_eq!(
            one(b"pub\tfoo  bar\t0\r\n\r\n"),
            Ok(Parsed::Op(
                ClientOp::Pub {
                    subject: b"foo",
                    reply: Some(b"bar"),
                    payload: b""
                },
                18
            ))
        );
        assert_eq!(
            one(b"HPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            Ok(Parsed::Op(
                ClientOp::HPub {
                    subject: b"foo",
                    reply: Some(b"r"),
                    headers: b"NATS/1.0\r\n\r\n",
                    payload: b"hi"
                },
                34
            ))
        );
        assert_eq!(
            one(b"SUB foo q 1\r\n"),
            Ok(Parsed::Op(
                ClientOp::Sub {
                    subject: b"foo",
                    queue: Some(b"q"),
                    sid: b"1"
                },
                13
            ))
        );
        assert_eq!(
            one(b"UNSUB 1 5\r\n"),
            Ok(Parsed::Op(
                ClientOp::Unsub {
                    sid: b"1",
                    max: Some(5)
                },
                11
            ))
        );
        assert_eq!(
            one(b"CONNECT {\"verbose\":false}\r\n"),
            Ok(Parsed::Op(ClientOp::Connect(b"{\"verbose\":false}"), 27))
        );
    }

    #[test]
    fn incomplete_until_whole() {
        let full = b"PUB foo reply 5\r\nhello\r\n";
        for i in 0..full.len() {
            assert_eq!(one(&full[..i]), Ok(Parsed::Incomplete), "prefix {i}");
        }
        assert!(matches!(one(full), Ok(Parsed::Op(_, n)) if n == full.len()));
    }

    #[test]
    fn errors() {
        assert_eq!(one(b"FOO\r\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"UNSUB\r\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"PUB foo 2\r\nabc\r\n"), Err(ProtoError::UnknownOp));
        assert!(matches!(
            one(b"PUB foo x\r\n"),
            Err(ProtoError::CloseSilently(_))
        ));
        assert!(matches!(
            one(b"SUB foo\r\n"),
            Err(ProtoError::CloseSilently(_))
        ));
        assert_eq!(one(b"PUB foo 99999999\r\n"), Err(ProtoError::MaxPayload));
        assert!(matches!(
            one(b"HPUB foo 5 3\r\n"),
            Err(ProtoError::CloseSilently(_))
        ));
        // An over-long line that is not an op is an unknown op (as nats-server 2.15.1);
        // a known op's over-long line, terminated or not, is a control-line error.
        let long = [b'a'; 5000];
        assert_eq!(one(&long), Err(ProtoError::UnknownOp));
        let mut line = b"PUB ".to_vec();
        line.extend_from_slice(&long);
        assert_eq!(one(&line), Err(ProtoError::MaxControlLine));
        line.extend_from_slice(b" 1\r\na\r\n");
        assert_eq!(one(&line), Err(ProtoError::MaxControlLine));
    }
}
