//! Sublist benchmarks: insert, match (cache hit and miss) and remove with
//! 1k and 100k subscriptions, for three subscription sets:
//!
//! * `literal`: `foo.bar.<i>` (one subscriber per subject);
//! * `wildcard`: `foo.*.<i>`, with every 100th subscription on `foo.>`
//!   instead (a probe matches one `foo.*.<i>` plus n/100 `foo.>` subs);
//! * `fanout`: everyone on `foo.bar.fan` (n subscribers on one node).
//!
//! Run with `cargo bench --bench sublist`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use natrium::sublist::Sublist;

const SIZES: [usize; 2] = [1_000, 100_000];

#[derive(Clone, Copy)]
enum Set {
    Literal,
    Wildcard,
    Fanout,
}

impl Set {
    const ALL: [Set; 3] = [Set::Literal, Set::Wildcard, Set::Fanout];

    fn name(self) -> &'static str {
        match self {
            Set::Literal => "literal",
            Set::Wildcard => "wildcard",
            Set::Fanout => "fanout",
        }
    }

    fn subjects(self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| match self {
                Set::Literal => format!("foo.bar.{i}"),
                Set::Wildcard if i % 100 == 0 => "foo.>".to_string(),
                Set::Wildcard => format!("foo.*.{i}"),
                Set::Fanout => "foo.bar.fan".to_string(),
            })
            .collect()
    }

    /// A published subject with interest (odd index: not a `foo.>` slot).
    fn probe(self, n: usize) -> String {
        let k = n / 2 + 1;
        match self {
            Set::Literal => format!("foo.bar.{k}"),
            Set::Wildcard => format!("foo.baz.{k}"),
            Set::Fanout => "foo.bar.fan".to_string(),
        }
    }
}

fn build(subjects: &[String], cache: bool) -> Sublist<u64> {
    let s = if cache {
        Sublist::new()
    } else {
        Sublist::without_cache()
    };
    for (i, subj) in subjects.iter().enumerate() {
        s.insert(subj, None, i as u64).unwrap();
    }
    s
}

fn bench_insert_remove(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for set in Set::ALL {
        for n in SIZES {
            let subjects = set.subjects(n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("insert/{}", set.name()), n),
                &subjects,
                |b, subjects| {
                    b.iter_batched(
                        Sublist::new,
                        |s| {
                            for (i, subj) in subjects.iter().enumerate() {
                                s.insert(subj, None, i as u64).unwrap();
                            }
                            s
                        },
                        BatchSize::LargeInput,
                    )
                },
            );
            g.bench_with_input(
                BenchmarkId::new(format!("remove/{}", set.name()), n),
                &subjects,
                |b, subjects| {
                    b.iter_batched(
                        || build(subjects, true),
                        |s| {
                            for (i, subj) in subjects.iter().enumerate() {
                                assert!(s.remove(subj, None, &(i as u64)));
                            }
                            s
                        },
                        BatchSize::LargeInput,
                    )
                },
            );
        }
    }
    g.finish();
}

fn bench_match(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(1));
    for set in Set::ALL {
        for n in SIZES {
            let subjects = set.subjects(n);
            let probe = set.probe(n);

            let cached = build(&subjects, true);
            assert!(!cached.matches(&probe).is_empty());
            g.bench_with_input(
                BenchmarkId::new(format!("match_hit/{}", set.name()), n),
                &probe,
                |b, probe| b.iter(|| cached.matches(black_box(probe))),
            );
            drop(cached);

            let uncached = build(&subjects, false);
            g.bench_with_input(
                BenchmarkId::new(format!("match_miss/{}", set.name()), n),
                &probe,
                |b, probe| b.iter(|| uncached.matches(black_box(probe))),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_insert_remove, bench_match);
criterion_main!(benches);
