//! Raw-socket conformance: the bytes natrium answers with match nats-server 2.9/2.10
//! for each op, error and edge case (checked against nats-server 2.9.10 by hand).

mod common;

use std::time::Duration;

use common::{start_default, start_server, test_config, Raw};

const QUIET: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

#[tokio::test]
async fn info_fields() {
    let srv = start_default().await;
    let raw = Raw::connect(&srv).await;
    let i = &raw.info;
    assert_eq!(i["proto"], 1);
    assert_eq!(i["headers"], true);
    assert_eq!(i["max_payload"], 1048576);
    assert_eq!(i["port"], srv.client_addr.port());
    assert!(i["version"].as_str().unwrap().starts_with("2.10."));
    assert_eq!(i["server_id"].as_str().unwrap().len(), 56);
    assert!(i["client_id"].as_u64().unwrap() > 0);
    assert!(i.get("auth_required").is_none());
}

#[tokio::test]
async fn ping_pong_and_verbose_defaults() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    assert_eq!(c.exchange(b"PING\r\n").await, ("PONG\r\n".into(), false));
    assert_eq!(c.exchange(b"ping\r\n").await, ("PONG\r\n".into(), false));
    assert_eq!(c.exchange(b"PING\n").await, ("PONG\r\n".into(), false));
    // Before CONNECT, verbose defaults to true.
    assert_eq!(
        c.exchange(b"SUB foo 1\r\nPING\r\n").await,
        ("+OK\r\nPONG\r\n".into(), false)
    );
    let mut c = Raw::connect(&srv).await;
    assert_eq!(
        c.exchange(b"CONNECT {\"verbose\":true}\r\nPING\r\n").await,
        ("+OK\r\nPONG\r\n".into(), false)
    );
    let mut c = Raw::connect(&srv).await;
    assert_eq!(
        c.exchange(b"CONNECT {}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n")
            .await,
        (
            "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n".into(),
            false
        )
    );
}

#[tokio::test]
async fn pub_sub_exact_bytes() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    let (out, _) = c
        .exchange(b"SUB foo.> 1\r\nSUB foo.* 2\r\nSUB > 3\r\nPUB foo.bar rep 1\r\na\r\nPING\r\n")
        .await;
    // One MSG per matching subscription, in any order, then PONG.
    assert!(out.ends_with("PONG\r\n"), "{out}");
    for sid in ["1", "2", "3"] {
        assert!(
            out.contains(&format!("MSG foo.bar {sid} rep 1\r\na\r\n")),
            "{out}"
        );
    }
    // Whitespace: tabs and repeated spaces separate arguments.
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    let (out, _) = c.exchange(b"SUB\tx  9\r\nPUB  x\t 0\r\n\r\nPING\r\n").await;
    assert_eq!(out, "MSG x 9 0\r\n\r\nPONG\r\n");
}

#[tokio::test]
async fn resub_same_sid_is_noop_and_unsub_max() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    let (out, _) = c
        .exchange(b"SUB foo q 1\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\n")
        .await;
    assert_eq!(out, "MSG foo 1 1\r\na\r\nPONG\r\n");
    let (out, _) = c
        .exchange(b"SUB bar 2\r\nUNSUB 2 2\r\nPUB bar 1\r\na\r\nPUB bar 1\r\nb\r\nPUB bar 1\r\nc\r\nPING\r\n")
        .await;
    assert_eq!(out, "MSG bar 2 1\r\na\r\nMSG bar 2 1\r\nb\r\nPONG\r\n");
    // Unknown sid and double UNSUB are ignored.
    let (out, _) = c
        .exchange(b"UNSUB 99\r\nUNSUB 2\r\nUNSUB 2\r\nPING\r\n")
        .await;
    assert_eq!(out, "PONG\r\n");
}

#[tokio::test]
async fn headers_and_no_responders() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n")
        .await;
    let (out, _) = c
        .exchange(b"SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n")
        .await;
    assert_eq!(out, "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n");
    let (out, _) = c
        .exchange(b"SUB r 2\r\nPUB nobody r 1\r\na\r\nPING\r\n")
        .await;
    assert_eq!(
        out,
        "HMSG r 2 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\nPONG\r\n"
    );
    // Without a subscription on the reply subject, nothing comes back.
    let (out, _) = c.exchange(b"PUB nobody other 1\r\na\r\nPING\r\n").await;
    assert_eq!(out, "PONG\r\n");
}

#[tokio::test]
async fn header_message_to_client_without_headers_is_stripped() {
    let srv = start_default().await;
    let mut sub = Raw::connect(&srv).await;
    sub.send(QUIET).await;
    assert_eq!(sub.exchange(b"SUB foo 1\r\nPING\r\n").await.0, "PONG\r\n");
    let mut p = Raw::connect(&srv).await;
    p.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n")
        .await;
    assert_eq!(
        p.exchange(b"HPUB foo 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPING\r\n")
            .await
            .0,
        "PONG\r\n"
    );
    assert_eq!(
        sub.exchange(b"PING\r\n").await.0,
        "MSG foo 1 2\r\nhi\r\nPONG\r\n"
    );
}

#[tokio::test]
async fn hpub_without_headers_support_closes() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c
        .exchange(b"CONNECT {\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
        .await;
    assert_eq!(out, "");
    assert!(closed);
}

#[tokio::test]
async fn echo_false_suppresses_own_messages() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    let (out, _) = c
        .exchange(b"CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\n")
        .await;
    assert_eq!(out, "PONG\r\n");
}

async fn expect_close(input: &[u8], expected: &str) {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    let (out, closed) = c.exchange(input).await;
    assert_eq!(out, expected, "input {:?}", String::from_utf8_lossy(input));
    assert!(
        closed,
        "connection closed after {:?}",
        String::from_utf8_lossy(input)
    );
}

#[tokio::test]
async fn errors_that_close() {
    expect_close(b"FOO\r\n", "-ERR 'Unknown Protocol Operation'\r\n").await;
    expect_close(b"UNSUB\r\n", "-ERR 'Unknown Protocol Operation'\r\n").await;
    expect_close(
        b"PUB foo 2\r\nabc\r\n",
        "-ERR 'Unknown Protocol Operation'\r\n",
    )
    .await;
    expect_close(
        b"PUB foo 99999999\r\n",
        "-ERR 'Maximum Payload Violation'\r\n",
    )
    .await;
    expect_close(
        b"CONNECT {\"protocol\":2}\r\n",
        "-ERR 'invalid client protocol'\r\n",
    )
    .await;
    expect_close(
        b"CONNECT {\"no_responders\":true}\r\n",
        "-ERR 'no responders requires headers support'\r\n",
    )
    .await;
    // Framing errors close without a specific -ERR.
    expect_close(b"PUB foo\r\n", "").await;
    expect_close(b"PUB foo x\r\n", "").await;
    expect_close(b"SUB foo\r\n", "").await;
    expect_close(b"SUB a b c d\r\n", "").await;
    expect_close(b"CONNECT {\r\n", "").await;
    expect_close(b"-ERR 'x'\r\n", "").await;
    let mut long = b"PUB ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 5000));
    long.extend_from_slice(b" 1\r\na\r\n");
    expect_close(&long, "-ERR 'maximum control line exceeded'\r\n").await;
    let unterminated = vec![b'a'; 5000];
    expect_close(&unterminated, "-ERR 'Unknown Protocol Operation'\r\n").await;
    let mut unterminated_pub = b"PUB ".to_vec();
    unterminated_pub.extend(std::iter::repeat_n(b'a', 5000));
    expect_close(
        &unterminated_pub,
        "-ERR 'maximum control line exceeded'\r\n",
    )
    .await;
}

#[tokio::test]
async fn errors_that_keep_the_connection() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    for bad in ["foo..bar", "foo.>.bar", ".foo", "foo.", "*.>.x"] {
        let (out, closed) = c
            .exchange(format!("SUB {bad} 1\r\nPING\r\n").as_bytes())
            .await;
        assert_eq!(out, "-ERR 'Invalid Subject'\r\nPONG\r\n", "SUB {bad}");
        assert!(!closed);
    }
    // `foo>bar` is a literal token, so it is valid.
    assert_eq!(c.exchange(b"SUB foo>bar 7\r\nPING\r\n").await.0, "PONG\r\n");
    // Pedantic mode refuses wildcard publish subjects.
    let mut p = Raw::connect(&srv).await;
    let (out, closed) = p
        .exchange(b"CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB foo.* 1\r\na\r\nPING\r\n")
        .await;
    assert_eq!(out, "-ERR 'Invalid Publish Subject'\r\nPONG\r\n");
    assert!(!closed);
}

#[tokio::test]
async fn client_ok_and_info_are_ignored() {
    let srv = start_default().await;
    let mut c = Raw::connect(&srv).await;
    assert_eq!(
        c.exchange(b"+OK\r\nINFO {}\r\nPING\r\n").await.0,
        "PONG\r\n"
    );
}

#[tokio::test]
async fn every_split_of_the_input_gives_the_same_bytes() {
    let srv = start_default().await;
    let input: &[u8] = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a.* 1\r\nPUB a.b r 5\r\nhello\r\nHPUB a.c 12 15\r\nNATS/1.0\r\n\r\nabc\r\nPING\r\n";
    let expected = "MSG a.b 1 r 5\r\nhello\r\nHMSG a.c 1 12 15\r\nNATS/1.0\r\n\r\nabc\r\nPONG\r\n";
    for chunk in [1usize, 2, 3, 7, 13] {
        let mut c = Raw::connect(&srv).await;
        for part in input.chunks(chunk) {
            c.send(part).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (out, _) = c
            .read_until(Duration::from_secs(10), |b| b.ends_with(b"PONG\r\n"))
            .await;
        assert_eq!(
            String::from_utf8_lossy(&out),
            expected,
            "chunk size {chunk}"
        );
    }
}

#[tokio::test]
async fn max_payload_is_configurable() {
    let mut cfg = test_config();
    cfg.max_payload = 8;
    let srv = start_server(cfg).await;
    let mut c = Raw::connect(&srv).await;
    assert_eq!(c.info["max_payload"], 8);
    c.send(QUIET).await;
    assert_eq!(
        c.exchange(b"PUB a 8\r\n12345678\r\nPING\r\n").await.0,
        "PONG\r\n"
    );
    let (out, closed) = c.exchange(b"PUB a 9\r\n123456789\r\n").await;
    assert_eq!(out, "-ERR 'Maximum Payload Violation'\r\n");
    assert!(closed);
}

#[tokio::test]
async fn stale_connection_after_unanswered_pings() {
    let mut cfg = test_config();
    cfg.ping_interval = Duration::from_millis(100);
    cfg.ping_max = 2;
    let srv = start_server(cfg).await;
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    let (out, closed) = c.read_for(Duration::from_secs(10)).await;
    let out = String::from_utf8_lossy(&out);
    assert_eq!(out, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    assert!(closed);
}

#[tokio::test]
async fn answered_pings_keep_the_connection() {
    let mut cfg = test_config();
    cfg.ping_interval = Duration::from_millis(100);
    cfg.ping_max = 1;
    let srv = start_server(cfg).await;
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    for _ in 0..5 {
        assert_eq!(c.read_line().await, "PING");
        c.send(b"PONG\r\n").await;
    }
}

#[tokio::test]
async fn max_subscriptions() {
    let mut cfg = test_config();
    cfg.max_subscriptions = 2;
    let srv = start_server(cfg).await;
    let mut c = Raw::connect(&srv).await;
    c.send(QUIET).await;
    let (out, closed) = c
        .exchange(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n")
        .await;
    assert_eq!(out, "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n");
    assert!(!closed);
}

#[tokio::test]
async fn max_connections() {
    let mut cfg = test_config();
    cfg.max_connections = 1;
    let srv = start_server(cfg).await;
    let _first = Raw::connect(&srv).await;
    let mut s = tokio::net::TcpStream::connect(srv.client_addr)
        .await
        .unwrap();
    let mut out = Vec::new();
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-ERR 'maximum connections exceeded'\r\n"
    );
}
