//! Hostile input over real sockets: many connections sending random and mutated
//! protocol bytes in random splits. The server must never panic (a panic hook counts
//! any, including in spawned tasks) and must keep serving well-behaved clients.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

static PANICS: AtomicUsize = AtomicUsize::new(0);

const SEEDS: &[&[u8]] = &[
    b"CONNECT {\"verbose\":true,\"headers\":true,\"no_responders\":true}\r\n",
    b"SUB foo.* q 1\r\n",
    b"SUB > 2\r\n",
    b"PUB foo.bar reply 5\r\nhello\r\n",
    b"HPUB foo.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    b"UNSUB 1 3\r\n",
    b"PING\r\n",
    b"PONG\r\n",
];

fn garbage(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..rng.usize(1..20) {
        match rng.u8(0..10) {
            0 => v.extend((0..rng.usize(0..200)).map(|_| rng.u8(..))),
            _ => v.extend_from_slice(SEEDS[rng.usize(..SEEDS.len())]),
        }
    }
    for _ in 0..rng.usize(0..6) {
        if !v.is_empty() {
            let i = rng.usize(..v.len());
            v[i] = rng.u8(..);
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_never_panic_the_server() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        prev(info);
    }));
    // Positive control: the hook counts a panic in a spawned task.
    let control = tokio::spawn(async { panic!("positive control: counted") }).await;
    assert!(control.is_err());
    assert_eq!(PANICS.swap(0, Ordering::SeqCst), 1, "the panic hook counts");
    let mut cfg = common::test_config();
    cfg.max_payload = 4096;
    cfg.max_control_line = 256;
    let srv = Arc::new(common::start_server(cfg).await);
    let mut tasks = Vec::new();
    for seed in 0..200u64 {
        let addr = srv.client_addr;
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            let input = garbage(&mut rng);
            let mut pos = 0;
            while pos < input.len() {
                let n = rng.usize(1..=input.len() - pos);
                if s.write_all(&input[pos..pos + n]).await.is_err() {
                    break;
                }
                pos += n;
            }
            // Half-close and read to EOF: the server closes once it has read and
            // handled everything this connection sent.
            let _ = s.shutdown().await;
            let mut sink = vec![0u8; 4096];
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                match tokio::time::timeout_at(deadline, s.read(&mut sink)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => {}
                    Err(_) => panic!("seed {seed}: the server did not close within 30s"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Every connection's server task has finished before the panics are counted.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !srv.shared.clients.read().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} connections still open",
            srv.shared.clients.read().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "the server panicked on input"
    );
    // Still serving.
    let c = common::client(&srv).await;
    let mut sub = c.subscribe("after.garbage").await.unwrap();
    common::barrier(&c).await;
    c.publish("after.garbage", "ok".into()).await.unwrap();
    use futures::StreamExt;
    let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"ok");
    let (status, _) = common::http_get(&srv, "/healthz").await;
    assert_eq!(status, 200);
}
