//! Realistic nats-server style configurations that must load.

use std::time::Duration;

use super::*;

pub(super) const NODE1: &str = r#"
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
fn three_node_config() {
    let l = load(NODE1);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    assert_eq!(c.server_name.as_deref(), Some("n1"));
    assert_eq!(c.port, 4222);
    assert_eq!(c.http_port, Some(8222));
    assert_eq!(c.authorization.user.as_deref(), Some("app"));
    assert_eq!(c.authorization.password.as_deref(), Some("s3cret"));
    assert_eq!(c.authorization.timeout, Duration::from_secs(2));
    let js = c.jetstream.clone().unwrap_or_default();
    assert!(js.enabled);
    assert_eq!(js.store_dir, Some(PathBuf::from("/data/n1")));
    assert_eq!(js.max_file_store, Some(10 * 1024 * 1024 * 1024));
    let cl = c.cluster.clone().unwrap_or_default();
    assert_eq!(cl.name.as_deref(), Some("natrium"));
    assert_eq!((cl.host.as_str(), cl.port), ("0.0.0.0", 6222));
    assert_eq!(
        cl.authorization,
        Some(RouteAuth {
            user: "route".into(),
            password: "rpass".into(),
            timeout: Duration::from_secs(2)
        })
    );
    assert_eq!(
        cl.routes,
        vec!["nats://route:rpass@n2:6222", "nats://route:rpass@n3:6222"]
    );
    assert_eq!(c.log_file, Some(PathBuf::from("/var/log/n1.log")));
    assert_eq!(c.pid_file, Some(PathBuf::from("/var/run/n1.pid")));
}

pub(super) const ACCOUNTS: &str = r#"
# Multi-tenant server with a system account.
listen: 127.0.0.1:4222
http: "127.0.0.1:8222"
max_payload: 4MB
ping_interval: "20s"
write_deadline: "5s"

jetstream {
  store_dir: /var/lib/natrium
  max_memory_store: 2GiB
  max_file_store: 100G
  sync_interval: always
  domain: edge
}

ADMIN_PASS: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"

accounts {
  $SYS {
    users = [
      { user: admin, password: $ADMIN_PASS }
    ]
  }
  ORDERS {
    jetstream: enabled
    users: [
      { user: orders, password: $2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy,
        permissions: { publish: { allow: ["orders.>", "$JS.API.>"] }, subscribe: ["orders.>", "_INBOX.>"] } }
      { user: auditor, password: "$2b$10$abcdefghijklmnopqrstuuvwxyz0123456789ABCDEFGHIJKLMNOP", permissions: { subscribe: "orders.*" } }
    ]
  }
  BILLING {
    jetstream {
      max_mem: 512M
      max_file: 1G
      max_streams: 10
      max_consumers: 100
    }
    users: [ { user: billing, password: b1ll1ng } ]
  }
  PUBLIC {
    jetstream: disabled
    users: [ { user: anonymous, password: "" } ]
  }
}
system_account: "$SYS"
no_auth_user: anonymous
"#;

#[test]
fn accounts_config() {
    let l = load(ACCOUNTS);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4222));
    assert_eq!(
        (c.http_host.as_str(), c.http_port),
        ("127.0.0.1", Some(8222))
    );
    assert_eq!(c.max_payload, 4 << 20);
    assert_eq!(c.ping_interval, Duration::from_secs(20));
    assert_eq!(c.write_deadline, Duration::from_secs(5));
    let js = c.jetstream.clone().unwrap_or_default();
    assert_eq!(js.max_memory_store, Some(2 << 30));
    assert_eq!(js.max_file_store, Some(100_000_000_000));
    assert_eq!(js.sync_interval, SyncInterval::Always);
    assert_eq!(js.domain.as_deref(), Some("edge"));
    assert_eq!(c.system_account.as_deref(), Some("$SYS"));
    assert_eq!(c.no_auth_user.as_deref(), Some("anonymous"));
    let names: Vec<&str> = c.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["$SYS", "ORDERS", "BILLING", "PUBLIC"]);
    let sys = &c.accounts[0];
    assert_eq!(sys.users[0].user, "admin");
    assert_eq!(
        sys.users[0].password.as_deref(),
        Some("$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG")
    );
    assert_eq!(sys.jetstream, None);
    let orders = &c.accounts[1];
    assert_eq!(orders.jetstream.as_ref().map(|j| j.enabled), Some(true));
    assert_eq!(
        orders.users[0].password.as_deref(),
        Some("$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy")
    );
    let p = orders.users[0].permissions.clone().unwrap_or_default();
    assert_eq!(
        p.publish.map(|s| s.allow),
        Some(vec!["orders.>".to_string(), "$JS.API.>".to_string()])
    );
    assert_eq!(
        p.subscribe.map(|s| s.allow),
        Some(vec!["orders.>".to_string(), "_INBOX.>".to_string()])
    );
    assert!(orders.users[1]
        .password
        .as_deref()
        .is_some_and(|p| p.starts_with("$2b$10$")));
    let billing = c.accounts[2].jetstream.clone().unwrap_or_default();
    assert_eq!(
        billing,
        AccountJetStream {
            enabled: true,
            max_memory: Some(512_000_000),
            max_file: Some(1_000_000_000),
            max_streams: Some(10),
            max_consumers: Some(100),
        }
    );
    assert_eq!(
        c.accounts[3].jetstream.as_ref().map(|j| j.enabled),
        Some(false)
    );
    assert_eq!(c.accounts[3].users[0].password.as_deref(), Some(""));
}

#[test]
fn three_node_cluster_files_with_shared_include() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let common = "\
ROUTE_PASS: rpass
authorization { user: app, password: s3cret, timeout: 2 }
";
    std::fs::write(d.path().join("common.conf"), common).unwrap_or_else(|e| panic!("{e}"));
    for n in 1..=3 {
        let others: Vec<String> = (1..=3)
            .filter(|m| *m != n)
            .map(|m| format!("nats://route:$ROUTE_PASS@n{m}:6222"))
            .collect();
        let text = format!(
            "include common.conf\nserver_name: n{n}\nport: {}\ncluster {{\n  name: natrium\n  listen: 0.0.0.0:{}\n  authorization {{ user: route, password: $ROUTE_PASS }}\n  routes: [ {} ]\n}}\njetstream {{ store_dir: /data/n{n} }}\n",
            4221 + n,
            6221 + n,
            others.join(", ")
        );
        let path = d.path().join(format!("n{n}.conf"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let l = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let c = l.config;
        assert_eq!(c.server_name, Some(format!("n{n}")));
        assert_eq!(c.port, 4221 + n);
        let cl = c.cluster.unwrap_or_default();
        assert_eq!(cl.port, 6221 + n);
        assert_eq!(
            cl.authorization.map(|a| a.password),
            Some("rpass".to_string())
        );
        // `$ROUTE_PASS` inside an unquoted URL is a plain string (no interpolation), as nats-server.
        assert_eq!(cl.routes.len(), 2);
        assert!(cl.routes[0].starts_with("nats://route:$ROUTE_PASS@"));
        assert_eq!(c.authorization.user.as_deref(), Some("app"));
    }
}
