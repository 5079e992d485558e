//! Public-API model test of `natrium::sublist::Sublist`, plus a
//! multi-threaded stress test, checked against a naive model built on
//! `natrium::subject::matches`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use natrium::subject;
use natrium::sublist::{MatchResult, Sublist};
use proptest::prelude::*;

type Canon = (Vec<u16>, BTreeMap<String, Vec<u16>>);

fn canon(r: &MatchResult<u16>) -> Canon {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues = BTreeMap::new();
    for g in &r.queues {
        let mut m = g.members.clone();
        m.sort_unstable();
        assert!(queues.insert(g.name.to_string(), m).is_none());
    }
    (plain, queues)
}

fn model_match(model: &[(String, Option<String>, u16)], lit: &str) -> Canon {
    let mut plain = Vec::new();
    let mut queues: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for (s, q, i) in model.iter().filter(|(s, _, _)| subject::matches(s, lit)) {
        let _ = s;
        match q {
            None => plain.push(*i),
            Some(q) => queues.entry(q.clone()).or_default().push(*i),
        }
    }
    plain.sort_unstable();
    queues.values_mut().for_each(|v| v.sort_unstable());
    (plain, queues)
}

fn pattern() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(vec!["x", "y", "*"]), 1..4),
        any::<bool>(),
    )
        .prop_map(|(mut v, fwc)| {
            if fwc {
                v.push(">");
            }
            v.join(".")
        })
}

fn literal() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["x", "y", "z"]), 1..5).prop_map(|v| v.join("."))
}

#[derive(Debug, Clone)]
enum Op {
    Insert(String, Option<&'static str>, u16),
    Remove(String, Option<&'static str>, u16),
}

fn op() -> impl Strategy<Value = Op> {
    let q = prop::option::weighted(0.3, prop::sample::select(vec!["g1", "g2"]));
    prop_oneof![
        3 => (pattern(), q.clone(), 0u16..5).prop_map(|(s, q, i)| Op::Insert(s, q, i)),
        2 => (pattern(), q, 0u16..5).prop_map(|(s, q, i)| Op::Remove(s, q, i)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sublist_agrees_with_naive_model(
        steps in prop::collection::vec((op(), literal()), 1..60),
    ) {
        let s = Sublist::new();
        let mut model: Vec<(String, Option<String>, u16)> = Vec::new();
        for (op, lit) in steps {
            match op {
                Op::Insert(subj, q, i) => {
                    s.insert(&subj, q, i).unwrap();
                    let key = (subj, q.map(String::from), i);
                    if !model.contains(&key) {
                        model.push(key);
                    }
                }
                Op::Remove(subj, q, i) => {
                    let key = (subj.clone(), q.map(String::from), i);
                    let pos = model.iter().position(|k| *k == key);
                    prop_assert_eq!(s.remove(&subj, q, &i), pos.is_some());
                    if let Some(p) = pos {
                        model.remove(p);
                    }
                }
            }
            let want = model_match(&model, &lit);
            prop_assert_eq!(canon(&s.matches(&lit)), want.clone());
            prop_assert_eq!(canon(&s.matches(&lit)), want);
            prop_assert_eq!(s.count(), model.len());
        }
    }
}

#[test]
fn concurrent_writers_and_readers() {
    let s: Arc<Sublist<u16>> = Arc::new(Sublist::new());
    let writers: Vec<_> = (0..2u16)
        .map(|w| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                for round in 0..3u16 {
                    for i in 0..300u16 {
                        let item = w * 1000 + i;
                        let subj = format!("t.{}.{}", i % 7, round);
                        s.insert(&subj, None, item).unwrap();
                        s.insert("t.*.>", Some("g"), item).unwrap();
                        assert!(s.has_interest(&subj));
                        assert!(s.matches(&subj).plain.contains(&item));
                    }
                    for i in 0..300u16 {
                        let item = w * 1000 + i;
                        let subj = format!("t.{}.{}", i % 7, round);
                        assert!(s.remove(&subj, None, &item));
                        assert!(!s.matches(&subj).plain.contains(&item));
                    }
                }
            })
        })
        .collect();
    let reader = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            for k in 0..20_000u32 {
                let r = s.matches(&format!("t.{}.{}", k % 7, k % 3));
                assert!(r.len() <= 2 * 300 + 2 * 300);
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(s.count(), 600);
    let r = s.matches("t.0.0");
    assert!(r.plain.is_empty());
    assert_eq!(r.queues.len(), 1);
    assert_eq!(r.queues[0].members.len(), 600);
    assert_eq!(s.all().len(), 600);
}
