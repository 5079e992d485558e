//! Fail closed, through the binary: a config with a security setting natrium does
//! not implement stops `natrium -t` and `natrium -c` with `file:line:col`, exit 1,
//! and nothing listens.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_natrium");

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write config");
    p
}

/// (file text, expected `file:line:col: key` prefix of the error)
const CASES: &[(&str, &str)] = &[
    (
        "port: -1\noperator: \"op.jwt\"\nresolver: MEMORY\n",
        "c.conf:2:1: 'operator' is not supported by natrium",
    ),
    (
        "port: -1\ntls {\n  cert_file: server.pem\n  key_file: key.pem\n  verify_and_map: true\n}\n",
        "c.conf:5:3: 'tls.verify_and_map' is not supported by natrium",
    ),
    (
        "port: -1\nauthorization {\n  auth_callout { issuer: x }\n}\n",
        "c.conf:3:3: 'authorization.auth_callout' is not supported by natrium",
    ),
    (
        "port: -1\naccounts {\n  A { exports = [ { stream: foo } ] }\n}\n",
        "c.conf:3:7: 'accounts.A.exports' is not supported by natrium",
    ),
    (
        "port: -1\ncluster {\n  port: -1\n  tls { cert_file: x }\n}\n",
        "c.conf:4:3: 'cluster.tls' is not supported by natrium",
    ),
];

#[test]
fn test_flag_and_start_refuse_ignored_security_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, want) in CASES {
        let conf = write(dir.path(), "c.conf", text);
        for args in [&["-t", "-c"][..], &["-c"][..]] {
            let out = Command::new(BIN)
                .args(args)
                .arg(&conf)
                .output()
                .expect("run natrium");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?} {text:?}: {err}");
            assert!(
                err.contains(want),
                "{args:?} {text:?}: expected {want:?} in {err}"
            );
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains("test is successful"),
                "{text:?}"
            );
        }
    }
}
