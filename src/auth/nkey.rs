//! nkey authentication: the per-connection nonce the server sends in INFO and the
//! check of the client's ed25519 signature over it (nats-server's scheme).

use base64::Engine;

/// Random bytes in a nonce (nats-server uses 11, base64url without padding).
const NONCE_BYTES: usize = 11;

/// A fresh nonce: 11 random bytes from the OS, base64url without padding.
pub fn new_nonce() -> String {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; NONCE_BYTES];
    if ring::rand::SystemRandom::new().fill(&mut raw).is_err() {
        // No OS randomness: a nonce nobody can predict cannot be made, so make one that
        // no signature will match (authentication then fails, closed).
        return String::new();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Whether `sig` (base64url, or standard base64 as nats-server also accepts) is
/// `public_key`'s signature of `nonce`.
pub fn verify(public_key: &str, nonce: &str, sig: &str) -> bool {
    if nonce.is_empty() {
        return false;
    }
    let Some(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(sig).ok())
    else {
        return false;
    };
    match nkeys::KeyPair::from_public_key(public_key) {
        Ok(kp) => kp.verify(nonce.as_bytes(), &sig).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_over_the_nonce() {
        let user = nkeys::KeyPair::new_user();
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        let sig = user.sign(nonce.as_bytes()).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig);
        assert!(verify(&user.public_key(), &nonce, &b64));
        assert!(!verify(&user.public_key(), &new_nonce(), &b64));
        let other = nkeys::KeyPair::new_user();
        assert!(!verify(&other.public_key(), &nonce, &b64));
        assert!(!verify(&user.public_key(), &nonce, "not base64!"));
        assert!(!verify(&user.public_key(), "", &b64));
    }
}
