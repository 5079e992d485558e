//! A cache hit in `Sublist::matches` must not allocate.
//!
//! Counts allocations made by the current thread with a wrapping global
//! allocator (this file is its own test binary, so the allocator affects
//! nothing else).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use natrium::subject;
use natrium::sublist::Sublist;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn cache_hit_does_not_allocate() {
    let s = Sublist::new();
    for i in 0..100u64 {
        s.insert(&format!("foo.bar.{i}"), None, i).unwrap();
        s.insert("foo.*.7", Some("q"), i).unwrap();
        s.insert("foo.>", None, 1000 + i).unwrap();
    }
    let subjects: Vec<String> = (0..50).map(|i| format!("foo.bar.{i}")).collect();
    for _ in 0..2 {
        for subj in &subjects {
            s.matches(subj); // fill the cache (admitted on the second miss)
        }
    }
    let before = allocs();
    let mut total = 0;
    for _ in 0..10 {
        for subj in &subjects {
            let r = s.matches(subj);
            total += r.len();
            assert!(s.has_interest(subj));
        }
    }
    assert_eq!(allocs(), before, "cache hits allocated");
    assert!(total > 0);
    // 100 misses while filling (two per subject), then 500 hits.
    assert!((s.stats().cache_hit_rate - 500.0 / 600.0).abs() < 1e-9);
}

#[test]
fn subject_functions_do_not_allocate() {
    let cases = [
        ("foo.*.baz", "foo.bar.baz"),
        ("foo.>", "foo.bar.baz"),
        ("a.b", "a.b.c"),
    ];
    let before = allocs();
    let mut n = 0;
    for (p, s) in cases {
        n += usize::from(subject::is_valid_subject(p));
        n += usize::from(subject::is_valid_literal_subject(s));
        n += usize::from(subject::is_literal(p));
        n += usize::from(subject::is_valid_queue(p));
        n += usize::from(subject::matches(p, s));
        n += usize::from(subject::subjects_overlap(p, s));
        n += usize::from(subject::is_subset(s, p));
        n += subject::num_tokens(s);
        n += subject::tokens(s).count();
    }
    assert_eq!(allocs(), before, "subject functions allocated");
    assert!(n > 0);
}
