//! The core publish path does not allocate per message: payloads are copied into
//! per-connection output buffers that are reused, match results come from a cache, and
//! writers are woken without allocating. Counted with a global allocator that only
//! counts on the server runtime's threads (checked to count: a positive control makes
//! 1,000 allocations on that runtime first).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static SERVER_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ON_SERVER: Cell<Option<bool>> = const { Cell::new(None) };
}

fn on_server_thread() -> bool {
    ON_SERVER
        .try_with(|c| match c.get() {
            Some(v) => v,
            None => {
                let v = std::thread::current().name() == Some("natrium-srv");
                c.set(Some(v));
                v
            }
        })
        .unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_server_thread() {
            SERVER_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_server_thread() {
            SERVER_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn read_until(s: &mut std::net::TcpStream, buf: &mut Vec<u8>, want: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tmp = vec![0u8; 1 << 16];
    while !want(buf) {
        assert!(Instant::now() < deadline, "timed out");
        let n = s.read(&mut tmp).unwrap();
        assert!(n > 0, "closed");
        buf.extend_from_slice(&tmp[..n]);
    }
}

#[test]
fn publish_path_allocates_nothing_per_message() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("natrium-srv")
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = natrium::config::Config {
        host: "127.0.0.1".into(),
        port: 0,
        ..Default::default()
    };
    cfg.ping_interval = Duration::from_secs(3600);
    let srv = rt.block_on(natrium::server::start(cfg)).unwrap();
    let addr = srv.client_addr;

    // Positive control: the counter sees allocations made on the server's threads.
    let before = SERVER_ALLOCS.load(Ordering::Relaxed);
    rt.block_on(rt.spawn(async {
        for i in 0..1000u32 {
            std::hint::black_box(Box::new(i));
        }
    }))
    .unwrap();
    let counted = SERVER_ALLOCS.load(Ordering::Relaxed) - before;
    assert!(
        counted >= 1000,
        "the counter missed allocations on the server runtime: {counted} of 1000"
    );

    let mut sub = std::net::TcpStream::connect(addr).unwrap();
    // Every blocking read below has a deadline.
    sub.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut sbuf = Vec::new();
    read_until(&mut sub, &mut sbuf, |b| b.ends_with(b"\r\n"));
    sub.write_all(
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB bench.subject 1\r\nPING\r\n",
    )
    .unwrap();
    sbuf.clear();
    read_until(&mut sub, &mut sbuf, |b| b.ends_with(b"PONG\r\n"));

    let mut publ = std::net::TcpStream::connect(addr).unwrap();
    publ.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    publ.set_write_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut pbuf = Vec::new();
    read_until(&mut publ, &mut pbuf, |b| b.ends_with(b"\r\n"));
    publ.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .unwrap();

    let one = b"PUB bench.subject 16\r\n0123456789abcdef\r\n";
    let msg_len = b"MSG bench.subject 1 16\r\n0123456789abcdef\r\n".len();
    let batch: Vec<u8> = one.repeat(1000);
    let mut run = |batches: usize| {
        let mut received = 0usize;
        let mut rbuf = vec![0u8; 1 << 16];
        for _ in 0..batches {
            publ.write_all(&batch).unwrap();
            // Keep the subscriber drained so buffers stay at their steady size.
            while received < msg_len * 1000 / 2 {
                let n = sub.read(&mut rbuf).unwrap();
                received += n;
            }
            received -= msg_len * 1000 / 2;
        }
        let want = batches * 1000 * msg_len;
        let mut total = batches * 1000 * msg_len / 2 + received;
        while total < want {
            let n = sub.read(&mut rbuf).unwrap();
            assert!(n > 0);
            total += n;
        }
        assert_eq!(total, want, "every message delivered once");
    };
    // Warm up: buffers grow to their working size, the match cache fills.
    run(20);
    let before = SERVER_ALLOCS.load(Ordering::Relaxed);
    let batches = 100;
    run(batches);
    let allocs = SERVER_ALLOCS.load(Ordering::Relaxed) - before;
    let msgs = (batches * 1000) as u64;
    eprintln!("server allocations for {msgs} messages: {allocs}");
    assert!(
        allocs * 100 < msgs,
        "{allocs} allocations for {msgs} messages: the publish path allocates per message"
    );
    srv.shutdown();
    rt.block_on(srv.wait());
}
