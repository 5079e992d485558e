//! Every supported key and alias, mapped onto [`Config`].

use std::time::Duration;

use super::*;

#[test]
fn defaults_when_empty() {
    let l = load("");
    assert!(l.warnings.is_empty());
    let want = Config {
        source: Some(PathBuf::from("/nonexistent-natrium-dir/test.conf")),
        ..Config::default()
    };
    assert_eq!(l.config, want);
}

#[test]
fn ports() {
    assert_eq!(cfg("port: 4333").port, 4333);
    assert_eq!(cfg("port: -1").port, 0);
    assert_eq!(cfg("port: 0").port, DEFAULT_PORT);
    assert_eq!(cfg("port: 65535").port, 65535);
    assert_eq!(cfg("PORT: 1").port, 1);
}

#[test]
fn listen_forms() {
    let c = cfg("listen: 127.0.0.1:4333");
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4333));
    let c = cfg("listen: 4444");
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 4444));
    let c = cfg("listen: \"[::1]:5555\"");
    assert_eq!((c.host.as_str(), c.port), ("::1", 5555));
    let c = cfg("listen: \":6666\"");
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 6666));
    let c = cfg("listen: \"localhost:-1\"");
    assert_eq!((c.host.as_str(), c.port), ("localhost", 0));
}

#[test]
fn host_aliases() {
    assert_eq!(cfg("host: 10.0.0.1").host, "10.0.0.1");
    assert_eq!(cfg("net: 10.0.0.2").host, "10.0.0.2");
    assert_eq!(
        cfg("client_advertise: \"nats.example.com:4222\"")
            .client_advertise
            .as_deref(),
        Some("nats.example.com:4222")
    );
}

#[test]
fn server_name_but_not_name() {
    assert_eq!(cfg("server_name: n1").server_name.as_deref(), Some("n1"));
    let l = load("name: n1");
    assert_eq!(l.config.server_name, None);
    assert_eq!(l.warnings.len(), 1);
}

#[test]
fn monitoring() {
    assert_eq!(cfg("http_port: 8222").http_port, Some(8222));
    assert_eq!(cfg("monitor_port: 8223").http_port, Some(8223));
    assert_eq!(cfg("http_port: -1").http_port, Some(0));
    assert_eq!(cfg("http_port: 0").http_port, None);
    let c = cfg("http: \"127.0.0.1:8224\"");
    assert_eq!(
        (c.http_host.as_str(), c.http_port),
        ("127.0.0.1", Some(8224))
    );
    let c = cfg("http: 8225");
    assert_eq!((c.http_host.as_str(), c.http_port), ("0.0.0.0", Some(8225)));
    assert_eq!(cfg("http: \"localhost:-1\"").http_port, Some(0));
}

#[test]
fn limits() {
    let c = cfg("max_payload: 2MB\nmax_control_line: 8KB\nmax_pending: 128MB\nmax_connections: 100\nmax_subscriptions: 5\n");
    assert_eq!(c.max_payload, 2 << 20);
    assert_eq!(c.max_control_line, 8192);
    assert_eq!(c.max_pending, 128 << 20);
    assert_eq!(c.max_connections, 100);
    assert_eq!(c.max_subscriptions, 5);
    let c = cfg("max_conn: 7\nmax_subs: 9\nmax_payload: \"1M\"");
    assert_eq!((c.max_connections, c.max_subscriptions), (7, 9));
    assert_eq!(c.max_payload, 1 << 20);
    assert_eq!(cfg("max_payload: 65536").max_payload, 65536);
}

#[test]
fn max_payload_warns_above_8mb() {
    let l = load("max_payload: 16MB");
    assert_eq!(l.config.max_payload, 16 << 20);
    assert_eq!(
        l.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["test.conf:1:14: max_payload of 16777216 bytes is larger than the recommended maximum of 8MB"]
    );
    assert!(load("max_payload: 8MB").warnings.is_empty());
    assert_eq!(cfg("max_payload: 64MB").max_payload, 64 << 20);
}

#[test]
fn pings_and_deadlines() {
    let c = cfg("ping_interval: \"30s\"\nping_max: 3\nwrite_deadline: \"500ms\"\nlame_duck_duration: \"1m30s\"");
    assert_eq!(c.ping_interval, Duration::from_secs(30));
    assert_eq!(c.ping_max, 3);
    assert_eq!(c.write_deadline, Duration::from_millis(500));
    assert_eq!(c.lame_duck_duration, Duration::from_secs(90));
}

#[test]
fn unquoted_suffixed_durations_are_reinterpreted() {
    let l = load("ping_interval: 2m\nlame_duck_duration: 5m");
    assert_eq!(l.config.ping_interval, Duration::from_secs(120));
    assert_eq!(l.config.lame_duck_duration, Duration::from_secs(300));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // Unquoted forms that lex as strings work as well.
    let c = cfg("ping_interval: 1h30m\nwrite_deadline: 1.5s");
    assert_eq!(c.ping_interval, Duration::from_secs(5400));
    assert_eq!(c.write_deadline, Duration::from_millis(1500));
}

#[test]
fn bare_integer_durations_are_seconds_with_warning() {
    let l = load("write_deadline: 5");
    assert_eq!(l.config.write_deadline, Duration::from_secs(5));
    assert_eq!(
        l.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["test.conf:1:17: write_deadline should be a duration string such as \"5s\"; interpreted as 5 seconds"]
    );
    let l = load("ping_interval: 0.5");
    assert_eq!(l.config.ping_interval, Duration::from_millis(500));
    assert_eq!(l.warnings.len(), 1);
}

#[test]
fn booleans_and_logging() {
    let c = cfg("debug: true\ntrace: yes\nlogtime: off\nno_header_support: on\nlog_file: \"/var/log/n.log\"\npid_file: /run/n.pid");
    assert!(c.debug && c.trace && !c.logtime && c.no_header_support);
    assert_eq!(c.log_file, Some(PathBuf::from("/var/log/n.log")));
    assert_eq!(c.pid_file, Some(PathBuf::from("/run/n.pid")));
    let c = cfg("logfile: a.log\npidfile: a.pid");
    assert_eq!(c.log_file, Some(PathBuf::from("a.log")));
    assert_eq!(c.pid_file, Some(PathBuf::from("a.pid")));
}

#[test]
fn authorization_single_user() {
    let a = cfg("authorization { user: app, password: \"s3cret\", timeout: 2.5 }").authorization;
    assert_eq!(a.user.as_deref(), Some("app"));
    assert_eq!(a.password.as_deref(), Some("s3cret"));
    assert_eq!(a.timeout, Duration::from_millis(2500));
    let a = cfg("authorization { username: u, pass: 12345, timeout: \"3s\" }").authorization;
    assert_eq!(a.user.as_deref(), Some("u"));
    assert_eq!(a.password.as_deref(), Some("12345"));
    assert_eq!(a.timeout, Duration::from_secs(3));
    assert_eq!(
        cfg("authorization { token: abc }")
            .authorization
            .token
            .as_deref(),
        Some("abc")
    );
    assert_eq!(
        cfg("authorization { }").authorization.timeout,
        Duration::from_secs(2)
    );
}

#[test]
fn authorization_timeout_warns_when_high() {
    let l = load("authorization {\n  timeout: 120\n}");
    assert_eq!(l.config.authorization.timeout, Duration::from_secs(120));
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0]
        .to_string()
        .starts_with("test.conf:2:12: authorization.timeout of 120 seconds is high"));
}

#[test]
fn authorization_users_and_permissions() {
    let text = "
authorization {
  default_permissions = { publish: \"SANDBOX.*\", subscribe: [\"PUBLIC.>\", \"_INBOX.>\"] }
  users = [
    {user: alice, password: a, permissions: { publish: { allow: [\"a.>\"], deny: \"a.secret\" }, subscribe: { deny: [\"x\"] } }}
    {username: bob, pass: b}
    {user: carol, permission: { pub: c, sub: \"c.* q1\", allow_responses: true }}
    {user: dave, authorization: { allow_responses: { max: 5, expires: \"1m\" } }}
  ]
}";
    let a = cfg(text).authorization;
    let d = a.default_permissions.clone().unwrap_or_default();
    assert_eq!(
        d.publish.map(|p| p.allow),
        Some(vec!["SANDBOX.*".to_string()])
    );
    assert_eq!(a.users.len(), 4);
    let alice = a.users[0].permissions.clone().unwrap_or_default();
    assert_eq!(
        alice.publish,
        Some(SubjectPermission {
            allow: vec!["a.>".into()],
            deny: vec!["a.secret".into()]
        })
    );
    assert_eq!(
        alice.subscribe,
        Some(SubjectPermission {
            allow: vec![],
            deny: vec!["x".into()]
        })
    );
    // bob gets the defaults.
    assert_eq!(a.users[1].user, "bob");
    assert_eq!(a.users[1].password.as_deref(), Some("b"));
    assert_eq!(a.users[1].permissions, a.default_permissions);
    let carol = a.users[2].permissions.clone().unwrap_or_default();
    assert_eq!(carol.publish.map(|p| p.allow), Some(vec!["c".to_string()]));
    assert_eq!(
        carol.subscribe.map(|p| p.allow),
        Some(vec!["c.* q1".to_string()])
    );
    assert_eq!(
        carol.allow_responses,
        Some(ResponsePermission {
            max: 1,
            expires: Some(Duration::from_secs(120))
        })
    );
    let dave = a.users[3].permissions.clone().unwrap_or_default();
    assert_eq!(
        dave.allow_responses,
        Some(ResponsePermission {
            max: 5,
            expires: Some(Duration::from_secs(60))
        })
    );
    // allow_responses without publish turns off the blanket publish allow (as nats-server).
    assert_eq!(dave.publish, Some(SubjectPermission::default()));
}

#[test]
fn permissions_alias_in_authorization_and_false_responses() {
    let a = cfg(
        "authorization { permissions: { publish: [x], allow_responses: false, subscribe: {} } }",
    )
    .authorization;
    let p = a.default_permissions.unwrap_or_default();
    assert_eq!(p.allow_responses, None);
    assert_eq!(p.subscribe, None);
    let a = cfg("authorization { default_permission: { publish: y } }").authorization;
    assert!(a.default_permissions.is_some());
    let p = cfg("authorization { permissions: { import: i, export: e } }")
        .authorization
        .default_permissions
        .unwrap_or_default();
    assert_eq!(p.publish.map(|p| p.allow), Some(vec!["i".to_string()]));
    assert_eq!(p.subscribe.map(|p| p.allow), Some(vec!["e".to_string()]));
}

#[test]
fn accounts_full() {
    let text = "
accounts {
  $SYS { users: [ {user: admin, password: $2a$11$abcdefghijklmnopqrstuv} ] }
  APP {
    users: [ {user: app1, password: p1}, {user: app2, password: p2} ]
    jetstream: { max_mem: 1GB, max_file: 10G, max_streams: 10, max_consumers: -1 }
  }
  B { jetstream: enabled }
  C { jetstream: disabled }
  D { jetstream: true }
  E { jetstream: { max_memory: \"512M\", max_store: -1, streams: 3, consumers: 4 } }
  F { jetstream: { mem: 1, store: 2 } }
  G { jetstream: { memory: 5, disk: 6, max_disk: 7 } }
  H {}
}
system_account: \"$SYS\"
";
    let c = cfg(text);
    let names: Vec<&str> = c.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["$SYS", "APP", "B", "C", "D", "E", "F", "G", "H"]
    );
    assert_eq!(c.system_account.as_deref(), Some("$SYS"));
    assert_eq!(
        c.accounts[0].users[0].password.as_deref(),
        Some("$2a$11$abcdefghijklmnopqrstuv")
    );
    let app = &c.accounts[1];
    assert_eq!(app.users.len(), 2);
    assert_eq!(
        app.jetstream,
        Some(AccountJetStream {
            enabled: true,
            max_memory: Some(1 << 30),
            max_file: Some(10_000_000_000),
            max_streams: Some(10),
            max_consumers: None,
        })
    );
    assert_eq!(
        c.accounts[2].jetstream.as_ref().map(|j| j.enabled),
        Some(true)
    );
    assert_eq!(
        c.accounts[3].jetstream.as_ref().map(|j| j.enabled),
        Some(false)
    );
    assert_eq!(
        c.accounts[4].jetstream.as_ref().map(|j| j.enabled),
        Some(true)
    );
    let e = c.accounts[5].jetstream.clone().unwrap_or_default();
    assert_eq!(
        (e.max_memory, e.max_file, e.max_streams, e.max_consumers),
        (Some(512 << 20), None, Some(3), Some(4))
    );
    let f = c.accounts[6].jetstream.clone().unwrap_or_default();
    assert_eq!((f.max_memory, f.max_file), (Some(1), Some(2)));
    let g = c.accounts[7].jetstream.clone().unwrap_or_default();
    assert_eq!((g.max_memory, g.max_file), (Some(5), Some(7)));
    assert_eq!(c.accounts[8].jetstream, None);
}

#[test]
fn account_list_form_and_default_permissions() {
    let c = cfg("accounts: [A, B]");
    assert_eq!(
        c.accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        vec!["A", "B"]
    );
    let c = cfg("accounts { A { default_permissions: { publish: p }, users: [ {user: u, password: x}, {user: v, password: y, permissions: { publish: q }} ] } }");
    let users = &c.accounts[0].users;
    assert_eq!(
        users[0]
            .permissions
            .clone()
            .and_then(|p| p.publish)
            .map(|p| p.allow),
        Some(vec!["p".to_string()])
    );
    assert_eq!(
        users[1]
            .permissions
            .clone()
            .and_then(|p| p.publish)
            .map(|p| p.allow),
        Some(vec!["q".to_string()])
    );
}

#[test]
fn system_and_no_auth_user() {
    let c = cfg("accounts { SYS {} }\nsystem: SYS");
    assert_eq!(c.system_account.as_deref(), Some("SYS"));
    let c = cfg("authorization { users: [ {user: anon, password: x} ] }\nno_auth_user: anon");
    assert_eq!(c.no_auth_user.as_deref(), Some("anon"));
    let c = cfg("accounts { A { users: [ {user: anon, password: x} ] } }\nno_auth_user: anon");
    assert_eq!(c.no_auth_user.as_deref(), Some("anon"));
}

#[test]
fn cluster_full() {
    let text = "
cluster {
  name: natrium
  listen: 0.0.0.0:6333
  authorization { user: route, password: rpass, timeout: 0.5 }
  routes: [ nats://route:rpass@n2:6222, nats-route://n3:6222 ]
  advertise: \"10.0.0.1:6333\"
  no_advertise: true
  connect_retries: 5
  pool_size: -1
}";
    let c = cfg(text).cluster.unwrap_or_default();
    assert_eq!(c.name.as_deref(), Some("natrium"));
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 6333));
    assert_eq!(
        c.authorization,
        Some(RouteAuth {
            user: "route".into(),
            password: "rpass".into(),
            timeout: Duration::from_millis(500)
        })
    );
    assert_eq!(
        c.routes,
        vec!["nats://route:rpass@n2:6222", "nats-route://n3:6222"]
    );
    assert_eq!(c.advertise.as_deref(), Some("10.0.0.1:6333"));
    assert!(c.no_advertise);
    assert_eq!(c.connect_retries, 5);
    assert_eq!(c.pool_size, -1);
}

#[test]
fn cluster_aliases_and_defaults() {
    let c =
        cfg("cluster { host: 127.0.0.1, port: 7222, cluster_advertise: a:1, routes: nats://x:1 }")
            .cluster
            .unwrap_or_default();
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 7222));
    assert_eq!(c.advertise.as_deref(), Some("a:1"));
    assert_eq!(c.routes, vec!["nats://x:1"]);
    let c = cfg("cluster { net: 10.1.1.1, listen: 6444 }")
        .cluster
        .unwrap_or_default();
    assert_eq!((c.host.as_str(), c.port), ("10.1.1.1", 6444));
    assert_eq!(cfg("cluster {}").cluster, Some(ClusterConfig::default()));
    assert_eq!(cfg("cluster { port: -1 }").cluster.map(|c| c.port), Some(0));
    let a = cfg("cluster { authorization { username: u, pass: p } }")
        .cluster
        .and_then(|c| c.authorization);
    assert_eq!(
        a.map(|a| (a.user, a.password, a.timeout)),
        Some(("u".into(), "p".into(), Duration::from_secs(2)))
    );
}

#[test]
fn jetstream_forms() {
    for (text, enabled) in [
        ("jetstream: enabled", true),
        ("jetstream: enable", true),
        ("jetstream: true", true),
        ("jetstream: disabled", false),
        ("jetstream: false", false),
        ("jetstream: \"Disabled\"", false),
        ("jetstream {}", true),
        ("jetstream { enabled: false }", false),
        ("jetstream { enable: true }", true),
    ] {
        assert_eq!(
            cfg(text).jetstream.map(|j| j.enabled),
            Some(enabled),
            "{text}"
        );
    }
    assert_eq!(cfg("port: 1").jetstream, None);
}

#[test]
fn jetstream_map() {
    let c = cfg("jetstream { store_dir: \"/data/js\", max_memory_store: 1GB, max_file_store: 10GB, sync_interval: \"2m\", domain: hub }");
    let js = c.jetstream.unwrap_or_default();
    assert_eq!(js.store_dir, Some(PathBuf::from("/data/js")));
    assert_eq!(js.max_memory_store, Some(1 << 30));
    assert_eq!(js.max_file_store, Some(10 << 30));
    assert_eq!(
        js.sync_interval,
        SyncInterval::Every(Duration::from_secs(120))
    );
    assert_eq!(js.domain.as_deref(), Some("hub"));
    let js = cfg("jetstream { store: /a, max_mem_store: 1k, max_file: \"2G\", sync: always }")
        .jetstream
        .unwrap_or_default();
    assert_eq!(js.store_dir, Some(PathBuf::from("/a")));
    assert_eq!(js.max_memory_store, Some(1000));
    assert_eq!(js.max_file_store, Some(2 << 30));
    assert_eq!(js.sync_interval, SyncInterval::Always);
    let js = cfg("jetstream { storedir: /b, max_mem: -1, sync_interval: 2m }")
        .jetstream
        .unwrap_or_default();
    assert_eq!(js.store_dir, Some(PathBuf::from("/b")));
    assert_eq!(js.max_memory_store, None);
    assert_eq!(
        js.sync_interval,
        SyncInterval::Every(Duration::from_secs(120))
    );
    let js = cfg("jetstream { sync_interval: \"ALWAYS\" }")
        .jetstream
        .unwrap_or_default();
    assert_eq!(js.sync_interval, SyncInterval::Always);
}

#[test]
fn top_level_store_dir() {
    let js = cfg("store_dir: /x\njetstream: enabled")
        .jetstream
        .unwrap_or_default();
    assert_eq!(
        (js.enabled, js.store_dir),
        (true, Some(PathBuf::from("/x")))
    );
    let js = cfg("jetstream { max_mem: 1 }\nstoredir: /y")
        .jetstream
        .unwrap_or_default();
    assert_eq!(
        (js.enabled, js.store_dir),
        (true, Some(PathBuf::from("/y")))
    );
    // store_dir alone records the directory without enabling JetStream.
    let js = cfg("store_dir: /z").jetstream.unwrap_or_default();
    assert_eq!(
        (js.enabled, js.store_dir),
        (false, Some(PathBuf::from("/z")))
    );
}

#[test]
fn unknown_keys_warn_at_every_level() {
    let text = "bogus: 1\nauthorization { nope: 1 }\ncluster { zzz: 1 }\njetstream { qqq: 1 }\naccounts { A { xxx: 1, users: [ {user: u, password: p, yyy: 1} ] } }";
    let w = warns(text);
    assert_eq!(
        w,
        vec![
            "test.conf:1:1: unknown configuration key 'bogus', ignored",
            "test.conf:2:17: unknown configuration key 'authorization.nope', ignored",
            "test.conf:3:11: unknown configuration key 'cluster.zzz', ignored",
            "test.conf:4:13: unknown configuration key 'jetstream.qqq', ignored",
            "test.conf:5:16: unknown configuration key 'accounts.A.xxx', ignored",
            "test.conf:5:56: unknown configuration key 'accounts.A.users.yyy', ignored",
        ]
    );
}

#[test]
fn unsupported_keys_warn() {
    let text = "leafnodes { port: 7422 }
gateway { name: g }
server_tags: [a]
mappings {}
logtime_utc: true
syslog: true
max_sub_tokens: 5
lame_duck_grace_period: \"10s\"
ports_file_dir: /tmp
trace_verbose: true
";
    let w = warns(text);
    assert_eq!(w.len(), 10, "{w:#?}");
    assert_eq!(
        w[0],
        "test.conf:1:1: configuration key 'leafnodes' is not supported yet, ignored"
    );
    assert!(w
        .iter()
        .all(|s| s.ends_with("is not supported yet, ignored")));
    let w = warns("accounts { A { mappings: {}, users: [ {user: a} ] } }\ncluster { compression: off }\njetstream { strict: true }");
    assert_eq!(
        w,
        vec![
            "test.conf:1:16: configuration key 'accounts.A.mappings' is not supported yet, ignored",
            "test.conf:2:11: configuration key 'cluster.compression' is not supported yet, ignored",
            "test.conf:3:13: configuration key 'jetstream.strict' is not supported yet, ignored",
        ]
    );
}

#[test]
fn keys_are_case_insensitive() {
    let c = cfg("Port: 1\nSERVER_NAME: x\nCluster { Name: c, Listen: 6999 }\nJetStream { Store_Dir: /d }\nAuthorization { User: u, Password: p }");
    assert_eq!(c.port, 1);
    assert_eq!(c.server_name.as_deref(), Some("x"));
    assert_eq!(
        c.cluster.map(|c| (c.name, c.port)),
        Some((Some("c".to_string()), 6999))
    );
    assert_eq!(
        c.jetstream.and_then(|j| j.store_dir),
        Some(PathBuf::from("/d"))
    );
    assert_eq!(c.authorization.user.as_deref(), Some("u"));
}
