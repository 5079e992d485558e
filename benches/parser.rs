//! Micro-benchmarks of the hot protocol paths: parsing client ops and encoding MSG.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use natrium::protocol::{encode, parse_client_op, Limits, Parsed};
use std::hint::black_box;

fn stream(n: usize, payload: usize) -> Vec<u8> {
    let body = vec![b'x'; payload];
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(
            format!("PUB orders.{} _INBOX.abc.{} {}\r\n", i % 100, i, payload).as_bytes(),
        );
        v.extend_from_slice(&body);
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn parse_all(buf: &[u8], limits: &Limits) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while let Ok(Parsed::Op(op, used)) = parse_client_op(&buf[pos..], limits) {
        black_box(&op);
        pos += used;
        n += 1;
    }
    n
}

fn bench_parser(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    for size in [16usize, 128, 4096] {
        let input = stream(1000, size);
        g.throughput(Throughput::Elements(1000));
        g.bench_function(format!("pub_{size}b_x1000"), |b| {
            b.iter(|| assert_eq!(parse_all(black_box(&input), &limits), 1000))
        });
    }
    let subs: Vec<u8> = (0..1000)
        .flat_map(|i| format!("SUB foo.{i}.* q {i}\r\n").into_bytes())
        .collect();
    g.bench_function("sub_x1000", |b| {
        b.iter(|| parse_all(black_box(&subs), &limits))
    });
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let payload = vec![b'x'; 128];
    g.throughput(Throughput::Elements(1000));
    g.bench_function("msg_128b_x1000", |b| {
        let mut out = BytesMut::with_capacity(256 * 1000);
        b.iter(|| {
            out.clear();
            for _ in 0..1000 {
                encode::msg(
                    &mut out,
                    b"orders.new",
                    b"17",
                    Some(b"_INBOX.abc.1"),
                    &payload,
                );
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parser, bench_encode);
criterion_main!(benches);
