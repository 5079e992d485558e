//! Random identifiers: server ids in nats-server's nkey-like shape.

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A 56-character id starting with `N`, like a nats-server server id.
pub fn server_id() -> String {
    let mut s = String::with_capacity(56);
    s.push('N');
    for _ in 0..55 {
        s.push(BASE32[fastrand::usize(..32)] as char);
    }
    s
}

/// A random alphanumeric token of `len` characters.
pub fn token(len: usize) -> String {
    (0..len).map(|_| fastrand::alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        let id = super::server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    }
}
