//! A configured password or token: plain text (compared in constant time) or a bcrypt
//! hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`).

/// A stored credential.
#[derive(Debug, Clone)]
pub enum Secret {
    Plain(String),
    Bcrypt(String),
}

impl Secret {
    pub fn new(s: &str) -> Self {
        if is_bcrypt_hash(s) {
            Secret::Bcrypt(s.to_string())
        } else {
            Secret::Plain(s.to_string())
        }
    }

    pub fn is_bcrypt(&self) -> bool {
        matches!(self, Secret::Bcrypt(_))
    }

    /// Whether `given` matches.
    pub fn verify(&self, given: &str) -> bool {
        match self {
            Secret::Plain(p) => constant_time_eq(p.as_bytes(), given.as_bytes()),
            Secret::Bcrypt(h) => bcrypt::verify(given, h).unwrap_or(false),
        }
    }
}

/// `^\$2[abxy]\$\d{2}\$`
pub fn is_bcrypt_hash(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_bcrypt() {
        assert!(Secret::new("pw").verify("pw"));
        assert!(!Secret::new("pw").verify("pW"));
        let h = bcrypt::hash("s3cret", 4).unwrap();
        let s = Secret::new(&h);
        assert!(s.is_bcrypt());
        assert!(s.verify("s3cret"));
        assert!(!s.verify("nope"));
        assert!(!is_bcrypt_hash("$2q$11$abc"));
    }
}
