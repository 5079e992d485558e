//! Integration tests of `natrium::config` through its public API only:
//! `load_file`, `load_str`, `parse_value`, the model types, errors and warnings.

use std::path::Path;
use std::time::Duration;

use natrium::config::{
    load_file, load_str, parse_value, ConfigError, SyncInterval, Value, ValueKind, Warning,
};
use proptest::prelude::*;

fn load(text: &str) -> natrium::config::Loaded {
    load_str(text, "node1.conf", Path::new("/nonexistent-natrium-dir"))
        .unwrap_or_else(|e| panic!("load failed: {e}\n---\n{text}"))
}

fn load_err(text: &str) -> String {
    match load_str(text, "node1.conf", Path::new("/nonexistent-natrium-dir")) {
        Ok(l) => panic!("expected an error, got {l:?}"),
        Err(e) => e.to_string(),
    }
}

const THREE_NODE: &str = r#"
server_name: n1
port: 4222
http_port: 8222
authorization { user: app, password: "s3cret", timeout: 2 }
jetstream { store_dir: "/data/n1", max_file_store: 10GB }
cluster { name: natrium, listen: 0.0.0.0:6222, authorization { user: route, password: rpass, timeout: 2 }, routes: [ nats://route:rpass@n2:6222, nats://route:rpass@n3:6222 ] }
log_file: "/var/log/n1.log"
pid_file: "/var/run/n1.pid"
"#;

#[test]
fn three_node_example_loads() {
    let l = load(THREE_NODE);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    assert_eq!(c.server_name.as_deref(), Some("n1"));
    assert_eq!((c.port, c.http_port), (4222, Some(8222)));
    assert_eq!(c.authorization.user.as_deref(), Some("app"));
    assert_eq!(c.authorization.timeout, Duration::from_secs(2));
    let js = c.jetstream.expect("jetstream");
    assert!(js.enabled);
    assert_eq!(js.max_file_store, Some(10 << 30));
    assert_eq!(js.sync_interval, SyncInterval::Always);
    let cl = c.cluster.expect("cluster");
    assert_eq!(
        (cl.name.as_deref(), cl.host.as_str(), cl.port),
        (Some("natrium"), "0.0.0.0", 6222)
    );
    assert_eq!(cl.routes.len(), 2);
    assert_eq!(cl.authorization.map(|a| a.user), Some("route".to_string()));
    assert_eq!(c.log_file.as_deref(), Some(Path::new("/var/log/n1.log")));
}

#[test]
fn accounts_example_loads() {
    let text = r#"
accounts {
  $SYS { users: [ { user: admin, password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG" } ] }
  APP {
    users: [ { user: app, password: $2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy } ]
    jetstream: { max_mem: 1GB, max_file: 10GB, max_streams: -1 }
  }
}
system_account: "$SYS"
"#;
    let c = load(text).config;
    assert_eq!(c.accounts.len(), 2);
    assert_eq!(c.accounts[0].name, "$SYS");
    assert!(c.accounts[1].users[0]
        .password
        .as_deref()
        .is_some_and(|p| p.starts_with("$2a$11$")));
    let js = c.accounts[1].jetstream.clone().expect("account jetstream");
    assert!(js.enabled);
    assert_eq!(
        (js.max_memory, js.max_file, js.max_streams),
        (Some(1 << 30), Some(10 << 30), None)
    );
}

#[test]
fn errors_and_warnings_have_positions() {
    assert_eq!(
        load_err("\n\n\n\n\n\n\n\n\n\n\n    port: abc"),
        "node1.conf:12:11: invalid port \"abc\": expected an integer"
    );
    let l = load("port: 1\nmystery: 2\nsyslog: true\nping_interval: 30");
    let w: Vec<String> = l.warnings.iter().map(Warning::to_string).collect();
    assert_eq!(
        w,
        vec![
            "node1.conf:2:1: unknown configuration key 'mystery', ignored",
            "node1.conf:3:1: configuration key 'syslog' is not supported yet, ignored",
            "node1.conf:4:16: ping_interval should be a duration string such as \"30s\"; interpreted as 30 seconds",
        ]
    );
    assert_eq!(l.config.ping_interval, Duration::from_secs(30));
}

#[test]
fn error_kinds_are_matchable() {
    let e = load_str("a: [", "x.conf", Path::new(".")).expect_err("syntax error");
    assert!(matches!(e, ConfigError::Syntax { .. }));
    assert_eq!(e.pos().map(|p| (p.line, p.col)), Some((1, 5)));
    let e = load_str("port: $NATRIUM_IT_UNDEFINED_VAR", "x.conf", Path::new("."))
        .expect_err("variable");
    assert!(matches!(e, ConfigError::Variable { .. }));
    assert_eq!(
        e.to_string(),
        "x.conf:1:7: variable reference for 'NATRIUM_IT_UNDEFINED_VAR' can not be found"
    );
}

#[test]
fn load_file_with_includes_and_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("inc")).expect("mkdir");
    std::fs::write(
        dir.path().join("inc/auth.conf"),
        "PASS: pw\nusers: [ { user: a, password: $PASS } ]\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("main.conf"),
        "authorization {\n  include inc/auth.conf\n}\nport: -1\n",
    )
    .expect("write");
    let l = load_file(&dir.path().join("main.conf")).expect("load");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.config.port, 0);
    assert_eq!(
        l.config.authorization.users[0].password.as_deref(),
        Some("pw")
    );
    assert_eq!(
        l.config.source.as_deref(),
        Some(dir.path().join("main.conf").as_path())
    );

    std::fs::write(dir.path().join("loop.conf"), "include loop.conf\n").expect("write");
    let e = load_file(&dir.path().join("loop.conf")).expect_err("cycle");
    assert!(matches!(e, ConfigError::Include { .. }), "{e}");
}

#[test]
fn parse_value_gives_an_untyped_tree() {
    let v = parse_value("a { b: [1, 2k, \"x\", true, 0.5] }").expect("parse");
    let items = v
        .get_path(&["a", "b"])
        .and_then(Value::as_array)
        .expect("array");
    let kinds: Vec<&str> = items.iter().map(Value::type_name).collect();
    assert_eq!(
        kinds,
        vec!["integer", "integer", "string", "boolean", "float"]
    );
    assert_eq!(items[1].kind, ValueKind::Integer(2000));
    assert_eq!((items[2].pos.line, items[2].pos.col), (1, 16));
    assert!(parse_value(&"[".repeat(10_000)).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parse_value_never_panics(text in "[a-z0-9 :=\\[\\]{},;#/\"'()$.\\n\\\\-]{0,120}") {
        let _ = parse_value(&text);
    }

    #[test]
    fn integers_round_trip(n in any::<i64>()) {
        let v = parse_value(&format!("n: {n}")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v.get_path(&["n"]).and_then(Value::as_int), Some(n));
    }
}
