//! Fail closed: every security setting natrium does not implement stops the load
//! with `file:line:col`, never a warning and a weaker server.

use super::*;

const TAIL: &str =
    "is not supported by natrium; remove it (natrium will not start with security settings it would ignore)";

/// (config text, position and key expected in the error)
const REFUSED: &[(&str, &str)] = &[
    ("tls { cert_file: x }", "1:1: 'tls'"),
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
        "authorization { users: [ {nkey: UABC} ] }",
        "1:27: nkey users",
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
        load_err("tls { cert_file: x }"),
        format!("test.conf:1:1: 'tls' {TAIL}")
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
