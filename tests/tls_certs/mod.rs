//! Test certificates made with rcgen: a CA, a server certificate for 127.0.0.1 and
//! localhost, client certificates, an expired one and one from another CA, written
//! as PEM files into a temporary directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub pem: PathBuf,
}

/// A certificate and key on disk.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn ca(dir: &Path, name: &str) -> Ca {
    let key = KeyPair::generate().expect("CA key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let cert = p.self_signed(&key).expect("self-signed CA");
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, cert.pem()).expect("write CA");
    Ca { cert, key, pem }
}

fn issue(
    dir: &Path,
    ca: &Ca,
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> Pair {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![usage];
    if expired {
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(30);
        p.not_after = now - time::Duration::days(1);
    }
    let cert = p.signed_by(&key, &ca.cert, &ca.key).expect("sign");
    let pair = Pair {
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pair.cert, cert.pem()).expect("write cert");
    std::fs::write(&pair.key, key.serialize_pem()).expect("write key");
    pair
}

/// A server certificate for 127.0.0.1 and localhost.
pub fn server(dir: &Path, ca: &Ca, name: &str) -> Pair {
    issue(
        dir,
        ca,
        name,
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
        false,
    )
}

/// A certificate usable both as server and client (route peers are both).
pub fn peer(dir: &Path, ca: &Ca, name: &str) -> Pair {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params");
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = p.signed_by(&key, &ca.cert, &ca.key).expect("sign");
    let pair = Pair {
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pair.cert, cert.pem()).expect("write cert");
    std::fs::write(&pair.key, key.serialize_pem()).expect("write key");
    pair
}

pub fn client(dir: &Path, ca: &Ca, name: &str) -> Pair {
    issue(
        dir,
        ca,
        name,
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
        false,
    )
}

pub fn expired_client(dir: &Path, ca: &Ca, name: &str) -> Pair {
    issue(
        dir,
        ca,
        name,
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
        true,
    )
}
