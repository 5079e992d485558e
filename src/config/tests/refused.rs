//! Fail closed: every security setting natrium does not implement stops the load
//! with `file:line:col`, never a warning and a weaker server.

use super::*;

const TAIL: &str =
    "is not supported by natrium; remove it (natrium will not start with security settings it would ignore)";

/// (config text, position and key expected in the error)
const REFUSED: &[(&str, &str)] = &[
    (
        "tls { cert_file: x, key_file: y, cipher_suites: [] }",
        "1:34: 'tls.cipher_suites'",
    ),
    (
        "tls { cert_file: x, key_file: y, pinned_certs: [] }",
        "1:34: 'tls.pinned_certs'",
    ),
    (
        "tls { cert_file: x, key_file: y, verify_and_map: true }",
        "1:34: 'tls.verify_and_map'",
    ),
    (
        "tls { cert_file: x, key_file: y, insecure: true }",
        "1:34: 'tls.insecure'",
    ),
    (
        "tls { cert_file: x, key_file: y, min_version: \"1.3\" }",
        "1:34: 'tls.min_version'",
    ),
    ("allow_non_tls: true", "1:1: 'allow_non_tls'"),
    ("operator: op.jwt", "1:1: 'operator'"),
    ("operators: [op.jwt]", "1:1: 'operators'"),
    ("trusted: [OABC]", "1:1: 'trusted'"),
    ("trusted_keys: [OABC]", "1:1: 'trusted_keys'"),
    ("port: 1\nresolver: MEMORY", "2:1: 'resolver'"),
    ("resolver_preload { A: x }", "1:1: 'resolver_preload'"),
    ("resolver_tls { }", "1:1: 'resolver_tls'"),
    ("ocsp: true", "1:1: 'ocsp'"),
    ("ocsp_cache: true", "1:1: 'ocsp_cache'"),
    ("https: 8443", "1:1: 'https'"),
    ("https_port: 8443", "1:1: 'https_port'"),
    ("proxies { trusted: [] }", "1:1: 'proxies'"),
    ("default_sentinel: x", "1:1: 'default_sentinel'"),
    (
        "authorization { auth_callout { issuer: x } }",
        "1:17: 'authorization.auth_callout'",
    ),
    (
        "authorization { proxy_required: true }",
        "1:17: 'authorization.proxy_required'",
    ),
    (
        "authorization { users: [ {user: a, allowed_connection_types: [STANDARD]} ] }",
        "1:36: 'authorization.users.allowed_connection_types'",
    ),
    (
        "authorization { users: [ {user: a, account: B} ] }",
        "1:36: 'authorization.users.account'",
    ),
    ("accounts { A { nkey: AABC } }", "1:16: 'accounts.A.nkey'"),
    (
        "accounts { A { exports: [] } }",
        "1:16: 'accounts.A.exports'",
    ),
    (
        "accounts { A { imports: [] } }",
        "1:16: 'accounts.A.imports'",
    ),
    (
        "accounts { A { limits: { max_connections: 1 } } }",
        "1:16: 'accounts.A.limits'",
    ),
    ("cluster { tls { cert_file: x } }", "1:11: 'cluster.tls'"),
    (
        "cluster { permissions { import: x } }",
        "1:11: 'cluster.permissions'",
    ),
    (
        "cluster { authorization { user: u, password: p, permissions: { } } }",
        "1:49: 'cluster.authorization.permissions'",
    ),
    ("jetstream { cipher: aes }", "1:13: 'jetstream.cipher'"),
    ("jetstream { key: s3cret }", "1:13: 'jetstream.key'"),
    (
        "jetstream { tpm { keys_file: x } }",
        "1:13: 'jetstream.tpm'",
    ),
    ("websocket { port: 1, tls { } }", "1:22: 'websocket.tls'"),
    (
        "mqtt { authorization { user: a } }",
        "1:8: 'mqtt.authorization'",
    ),
];

#[test]
fn security_settings_are_refused_with_positions() {
    for (text, want) in REFUSED {
        let e = load_err(text);
        assert!(
            e.starts_with(&format!("test.conf:{want}")),
            "{text:?}: got {e:?}, want test.conf:{want}"
        );
        assert!(e.contains("not supported by natrium"), "{text:?}: {e}");
        assert!(e.contains("; remove "), "{text:?}: {e}");
    }
    assert_eq!(
        load_err("ocsp: true"),
        format!("test.conf:1:1: 'ocsp' {TAIL}")
    );
}

#[test]
fn leafnodes_and_gateways_refused_only_with_security_settings() {
    assert_eq!(
        load_err("leafnodes {\n  port: 7422\n  authorization { user: a, password: b }\n}"),
        format!("test.conf:3:3: 'leafnodes' with 'authorization' {TAIL}")
    );
    assert_eq!(
        load_err("gateway { name: A, gateways: [ { name: B, url: x, tls: {} } ] }"),
        format!("test.conf:1:51: 'gateway' with 'tls' {TAIL}")
    );
    assert_eq!(
        load_err("leaf { remotes: [ { url: x, credentials: a.creds } ] }"),
        format!("test.conf:1:29: 'leaf' with 'credentials' {TAIL}")
    );
    assert_eq!(
        warns("leafnodes { port: 7422 }"),
        vec!["test.conf:1:1: configuration key 'leafnodes' is not supported yet, ignored"]
    );
}

#[test]
fn tls_block() {
    let c = cfg("tls {\n  cert_file: \"s.pem\"\n  key_file: k.pem\n  ca_file: ca.pem\n  verify: true\n  timeout: 0.5\n  handshake_first: true\n}");
    let t = c.tls.expect("tls");
    assert_eq!(t.cert_file, PathBuf::from("s.pem"));
    assert_eq!(t.key_file, PathBuf::from("k.pem"));
    assert_eq!(t.ca_file, Some(PathBuf::from("ca.pem")));
    assert!(t.verify && t.handshake_first && !t.verify_and_map);
    assert_eq!(t.timeout, std::time::Duration::from_millis(500));
    assert_eq!(
        load_err("tls { key_file: k }"),
        "test.conf:1:5: invalid tls: missing 'cert_file'"
    );
    assert_eq!(
        load_err("tls { cert_file: c, key_file: k, verify: true }"),
        "test.conf:1:5: invalid tls: 'verify' needs a 'ca_file' (natrium does not use the system roots for client certificates)"
    );
    assert_eq!(
        load_err("tls { cert_file: c, key_file: k, handshake_first: auto }"),
        "test.conf:1:51: invalid tls.handshake_first \"auto\": expected true or false (the 'auto' fallback is not supported by natrium)"
    );
}
