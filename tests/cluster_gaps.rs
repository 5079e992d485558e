//! Gaps the cluster tests left open: accounts stay isolated across routes (the other
//! cluster tests use only the global account), and malformed, oversized and garbage
//! input on the route port closes only that connection, never the healthy routes.
//! Two natrium processes with their own config files on ephemeral loopback ports.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    client: u16,
    http: u16,
    route: u16,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two nodes with accounts A (a1) and B (b1), routed to each other.
fn start_pair(dir: &Path) -> (Node, Node) {
    let ports: Vec<(u16, u16, u16)> = (0..2)
        .map(|_| (free_port(), free_port(), free_port()))
        .collect();
    let mut nodes = Vec::new();
    for (i, (client, http, route)) in ports.iter().enumerate() {
        let other = ports[1 - i].2;
        let conf = dir.join(format!("n{i}.conf"));
        std::fs::write(
            &conf,
            format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{http}\n\
                 accounts {{\n  A {{ users: [ {{ user: a1, password: p }} ] }}\n  \
                 B {{ users: [ {{ user: b1, password: p }} ] }}\n}}\n\
                 cluster {{\n  name: gaps\n  listen: 127.0.0.1:{route}\n  \
                 routes: [ nats://127.0.0.1:{other} ]\n}}\nlog_file: \"{}\"\n",
                dir.join(format!("n{i}.log")).display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_natrium"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn natrium");
        nodes.push(Node {
            client: *client,
            http: *http,
            route: *route,
            child,
        });
    }
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    (a, b)
}

async fn get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.ok()?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

/// Waits (60 s deadline) until both nodes report exactly one route.
async fn wait_routed(a: &Node, b: &Node) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ra = get_json(a.http, "/routez")
            .await
            .and_then(|v| v["num_routes"].as_u64());
        let rb = get_json(b.http, "/routez")
            .await
            .and_then(|v| v["num_routes"].as_u64());
        if ra == Some(1) && rb == Some(1) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "routes not up within 60s: {ra:?} {rb:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(node: &Node, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), "p".into())
        .connection_timeout(Duration::from_secs(10))
        .connect(format!("nats://127.0.0.1:{}", node.client))
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"))
}

/// Publishes on `p` until `sub` receives (interest crosses the route asynchronously;
/// 30 s deadline), returning the payload received.
async fn publish_until_received(
    p: &async_nats::Client,
    subject: &str,
    sub: &mut async_nats::Subscriber,
) -> bytes::Bytes {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        p.publish(subject.to_string(), "probe".into())
            .await
            .unwrap();
        p.flush().await.unwrap();
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            return m.expect("subscription open").payload;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing crossed the route on {subject} within 30s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_stay_isolated_across_routes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = start_pair(dir.path());
    wait_routed(&a, &b).await;
    let a_on_1 = login(&a, "a1").await;
    let b_on_1 = login(&a, "b1").await;
    let a_on_2 = login(&b, "a1").await;
    let b_on_2 = login(&b, "b1").await;
    let mut sub_a = a_on_2.subscribe("shared").await.unwrap();
    let mut sub_b = b_on_2.subscribe("shared").await.unwrap();
    a_on_2.flush().await.unwrap();
    b_on_2.flush().await.unwrap();

    // A's publish on node 1 reaches A on node 2 once interest has crossed...
    assert_eq!(
        &publish_until_received(&a_on_1, "shared", &mut sub_a).await[..],
        b"probe"
    );
    // ... and B's reaches B: both accounts' interest is known over the route.
    assert_eq!(
        &publish_until_received(&b_on_1, "shared", &mut sub_b).await[..],
        b"probe"
    );
    // Drain the probes, then one message per account, marked, after a round trip
    // through each subscriber's own connection (everything before it has arrived).
    for (c, sub) in [(&a_on_2, &mut sub_a), (&b_on_2, &mut sub_b)] {
        common_barrier(c).await;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
        }
    }
    a_on_1.publish("shared", "from A".into()).await.unwrap();
    b_on_1.publish("shared", "from B".into()).await.unwrap();
    a_on_1.flush().await.unwrap();
    b_on_1.flush().await.unwrap();
    let got_a = tokio::time::timeout(Duration::from_secs(10), sub_a.next())
        .await
        .expect("A's message within 10s")
        .unwrap();
    let got_b = tokio::time::timeout(Duration::from_secs(10), sub_b.next())
        .await
        .expect("B's message within 10s")
        .unwrap();
    assert_eq!(
        &got_a.payload[..],
        b"from A",
        "account A sees only A's message"
    );
    assert_eq!(
        &got_b.payload[..],
        b"from B",
        "account B sees only B's message"
    );
    for sub in [&mut sub_a, &mut sub_b] {
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            panic!("a message leaked across accounts: {m:?}");
        }
    }
    // No responders across the route for the other account's service.
    let _svc = a_on_2.subscribe("svc").await.unwrap();
    a_on_2.flush().await.unwrap();
    let err = b_on_1.request("svc", "x".into()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
}

/// A message to a fresh inbox on the same connection: everything sent to this client
/// before it has been delivered once it comes back.
async fn common_barrier(c: &async_nats::Client) {
    let inbox = c.new_inbox();
    let mut s = c.subscribe(inbox.clone()).await.unwrap();
    c.publish(inbox, "".into()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("barrier within 10s")
        .unwrap();
}

/// Sends `bytes` to node's route port and expects the server to close the connection
/// (10 s deadline).
async fn route_input_is_refused(node: &Node, what: &str, bytes: &[u8]) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", node.route))
        .await
        .unwrap();
    let _ = s.write_all(bytes).await;
    let mut tmp = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut tmp)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
            Err(_) => panic!("{what}: the route port did not close the connection within 10s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_route_input_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = start_pair(dir.path());
    wait_routed(&a, &b).await;
    // A length prefix far above the frame bound (oversized).
    route_input_is_refused(&a, "oversized", &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]).await;
    // A length of 4 GiB - 1: must not overflow or allocate.
    route_input_is_refused(&a, "overflowing length", &[0xff, 0xff, 0xff, 0xff]).await;
    // A well-framed body that is not a protobuf Frame (malformed).
    route_input_is_refused(
        &a,
        "malformed",
        &[0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    )
    .await;
    // An empty frame.
    route_input_is_refused(&a, "empty frame", &[0, 0, 0, 0]).await;
    // Client protocol on the route port.
    route_input_is_refused(&a, "client protocol", b"CONNECT {}\r\nPING\r\n").await;
    // Random bytes.
    let mut rng = fastrand::Rng::with_seed(7);
    let junk: Vec<u8> = (0..64 * 1024).map(|_| rng.u8(..)).collect();
    route_input_is_refused(&a, "random bytes", &junk).await;

    // Both nodes are alive, the real route is still up, and messages cross it.
    wait_routed(&a, &b).await;
    let p = login(&a, "a1").await;
    let s = login(&b, "a1").await;
    let mut sub = s.subscribe("after").await.unwrap();
    s.flush().await.unwrap();
    assert_eq!(
        &publish_until_received(&p, "after", &mut sub).await[..],
        b"probe"
    );
    let v = get_json(a.http, "/varz")
        .await
        .expect("node a serves /varz");
    assert_eq!(v["routes"], 1, "{v}");
}
