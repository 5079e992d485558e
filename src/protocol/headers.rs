//! NATS/1.0 header blocks: building the status messages the server generates and
//! looking up a header in a client's block.

/// `NATS/1.0 503\r\n\r\n`: the no-responders status without headers.
pub const NO_RESPONDERS: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// The no-responders status as nats-server 2.15.1 sends it to a client: the 503 status
/// line and `Nats-Subject:` naming the subject that had no subscribers.
pub fn no_responders(out: &mut Vec<u8>, subject: &[u8]) {
    out.clear();
    out.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    out.extend_from_slice(subject);
    out.extend_from_slice(b"\r\n\r\n");
}

/// Finds the first value of header `key` (case-sensitive, as nats-server matches).
pub fn get<'a>(block: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut lines = block.split(|&c| c == b'\n');
    lines.next()?; // status line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(colon) = line.iter().position(|&c| c == b':') {
            if &line[..colon] == key {
                let v = &line[colon + 1..];
                let start = v
                    .iter()
                    .position(|c| !c.is_ascii_whitespace())
                    .unwrap_or(v.len());
                let end = v
                    .iter()
                    .rposition(|c| !c.is_ascii_whitespace())
                    .map_or(start, |e| e + 1);
                return Some(&v[start..end.max(start)]);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_values() {
        let b = b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX:  y \r\n\r\n";
        assert_eq!(super::get(b, b"Nats-Msg-Id"), Some(&b"abc"[..]));
        assert_eq!(super::get(b, b"X"), Some(&b"y"[..]));
        assert_eq!(super::get(b, b"nats-msg-id"), None);
    }
}
