use super::*;
use proptest::prelude::*;

#[test]
fn valid_subjects() {
    for s in [
        "foo",
        "foo.bar",
        "foo.bar.baz",
        "*",
        ">",
        "foo.*",
        "*.bar",
        "foo.>",
        "*.*.>",
        "foo*",
        "foo.b*r",
        "a>.b",
        ">a",
        "foo.**",
        "foo.>>",
        "FOO.Bar",
        "$SYS.REQ.SERVER.PING",
        "_INBOX.abc123",
        "ünïcødé.主题",
        "a-b_c.d~e/f",
    ] {
        assert!(is_valid_subject(s), "{s:?} should be valid");
    }
}

#[test]
fn invalid_subjects() {
    for s in [
        "",
        ".",
        "..",
        ".foo",
        "foo.",
        "foo..bar",
        "foo bar",
        "foo\tbar",
        "foo\rbar",
        "foo\nbar",
        "foo\x0cbar",
        " ",
        "foo. .bar",
        "foo.>.bar",
        ">.foo",
        ">.>",
        "foo.>.",
        "foo.*.",
        "*.",
        ".*",
        "foo.bar ",
        " foo",
    ] {
        assert!(!is_valid_subject(s), "{s:?} should be invalid");
        assert!(!is_valid_literal_subject(s), "{s:?} should be invalid");
    }
}

#[test]
fn literal_subjects() {
    for s in ["foo", "foo.bar", "foo*", "a>.b", "*a.b>", "$JS.API.INFO"] {
        assert!(is_literal(s), "{s:?} is literal");
        assert!(is_valid_literal_subject(s), "{s:?} is a valid literal");
    }
    for s in ["*", ">", "foo.*", "foo.>", "*.bar", "a.*.b", "*.>"] {
        assert!(!is_literal(s), "{s:?} has wildcards");
        assert!(is_valid_subject(s));
        assert!(!is_valid_literal_subject(s), "{s:?} is not literal");
    }
    // is_literal does not validate otherwise.
    assert!(is_literal(""));
    assert!(is_literal("foo..bar"));
    assert!(!is_literal("foo..*"));
}

#[test]
fn queue_names() {
    for q in ["q", "workers", "a.b", "*", ">", "Q-1_x"] {
        assert!(is_valid_queue(q), "{q:?}");
    }
    for q in ["", " ", "a b", "a\tb", "a\r", "\na", "a\x0cb"] {
        assert!(!is_valid_queue(q), "{q:?}");
    }
}

#[test]
fn tokenizing() {
    assert_eq!(tokens("").count(), 0);
    assert_eq!(num_tokens(""), 0);
    assert_eq!(tokens("foo").collect::<Vec<_>>(), ["foo"]);
    assert_eq!(tokens("foo.bar.>").collect::<Vec<_>>(), ["foo", "bar", ">"]);
    assert_eq!(tokens("foo..bar").collect::<Vec<_>>(), ["foo", "", "bar"]);
    assert_eq!(num_tokens("foo"), 1);
    assert_eq!(num_tokens("foo.bar.>"), 3);
    assert_eq!(num_tokens("foo..bar"), 3);
    assert_eq!(num_tokens("."), 2);
}

#[test]
fn matching_table() {
    let yes = [
        ("foo", "foo"),
        ("foo.bar", "foo.bar"),
        ("*", "foo"),
        (">", "foo"),
        (">", "foo.bar.baz"),
        ("foo.*", "foo.bar"),
        ("foo.>", "foo.bar"),
        ("foo.>", "foo.bar.baz"),
        ("*.bar", "foo.bar"),
        ("*.*", "a.b"),
        ("foo.*.baz", "foo.bar.baz"),
        ("foo.*.>", "foo.bar.baz"),
        ("foo.*.>", "foo.bar.baz.qux"),
        ("*.>", "a.b"),
        // wildcard tokens in the subject are matched like any other token
        ("foo.*", "foo.*"),
        ("foo.>", "foo.>"),
        ("foo.*", "foo.>"),
        // partial-token "wildcards" are literals
        ("foo*", "foo*"),
        ("a>.b", "a>.b"),
    ];
    for (p, s) in yes {
        assert!(matches(p, s), "{p:?} should match {s:?}");
    }
    let no = [
        ("foo", "bar"),
        ("foo", "Foo"),
        ("foo", "foo.bar"),
        ("foo.bar", "foo"),
        ("*", "foo.bar"),
        (">", ""),
        ("foo.>", "foo"),
        ("foo.*", "foo"),
        ("foo.*", "foo.bar.baz"),
        ("*.bar", "foo.baz"),
        ("foo.*.>", "foo.bar"),
        ("foo*", "foobar"),
        ("foo*", "foo"),
        ("a>", "a.b"),
        ("foo.bar", "foo.*"),
        // invalid inputs never match
        ("foo..bar", "foo..bar"),
        ("", ""),
        ("foo.>.bar", "foo.x.bar"),
        ("foo", "foo "),
        (">", "foo."),
    ];
    for (p, s) in no {
        assert!(!matches(p, s), "{p:?} should not match {s:?}");
    }
}

#[test]
fn overlap_table() {
    let yes = [
        ("foo", "foo"),
        ("foo.*", "foo.bar"),
        ("foo.*", "*.bar"),
        ("foo.>", "foo.bar.baz"),
        ("foo.>", "*.*"),
        (">", "a.b.c"),
        ("*.*", "foo.>"),
        ("foo.*.baz", "foo.bar.*"),
        ("*", ">"),
        ("foo.>", "foo.*.>"),
    ];
    for (a, b) in yes {
        assert!(subjects_overlap(a, b), "{a:?} overlaps {b:?}");
        assert!(subjects_overlap(b, a), "{b:?} overlaps {a:?}");
    }
    let no = [
        ("foo", "bar"),
        ("foo", "foo.bar"),
        ("foo", "foo.>"),
        ("foo.*", "foo"),
        ("foo.*", "foo.bar.baz"),
        ("foo.*", "bar.*"),
        ("*.*", "*"),
        ("foo.*.baz", "foo.bar.qux"),
        ("*.a", "*.b"),
        ("foo..bar", "foo..bar"),
        ("", ">"),
    ];
    for (a, b) in no {
        assert!(!subjects_overlap(a, b), "{a:?} vs {b:?}");
        assert!(!subjects_overlap(b, a), "{b:?} vs {a:?}");
    }
}

#[test]
fn subset_table() {
    let yes = [
        ("foo", "foo"),
        ("foo.bar", "foo.*"),
        ("foo.bar", "foo.>"),
        ("foo.bar.baz", "foo.>"),
        ("foo.*", "foo.*"),
        ("foo.*", "foo.>"),
        ("foo.*", "*.*"),
        ("foo.>", "foo.>"),
        ("foo.>", ">"),
        ("foo.*.>", "foo.>"),
        ("foo.bar.>", "foo.*.>"),
        ("*", "*"),
        ("*", ">"),
        ("a.b.c", ">"),
    ];
    for (sub, sup) in yes {
        assert!(is_subset(sub, sup), "{sub:?} ⊆ {sup:?}");
    }
    let no = [
        ("foo.*", "foo.bar"),
        ("foo.>", "foo.*"),
        ("foo.>", "foo.*.>"),
        (">", "foo.>"),
        (">", "*"),
        ("foo", "foo.>"),
        ("foo.bar", "foo"),
        ("*.bar", "foo.*"),
        ("foo.*", "foo.*.*"),
        ("foo", "bar"),
        ("foo..bar", "foo..bar"),
        ("foo", ""),
    ];
    for (sub, sup) in no {
        assert!(!is_subset(sub, sup), "{sub:?} not ⊆ {sup:?}");
    }
}

// ---- property tests against a brute-force reference ----

const ALPHA: &[&str] = &["a", "b", "c", "*", ">"];

/// Patterns over a tiny alphabet (valid: `>` only in last position).
fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(0usize..4, 1..5).prop_flat_map(|toks| {
        let n = toks.len();
        (Just(toks), any::<bool>()).prop_map(move |(toks, fwc)| {
            let mut v: Vec<&str> = toks.iter().map(|&i| ALPHA[i]).collect();
            if fwc {
                v[n - 1] = ">";
            }
            v.join(".")
        })
    })
}

/// Literal subjects over the alphabet `a`, `b`, `c` (plus `d`, which no
/// pattern mentions), 1..=5 tokens.
fn literal() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..6)
        .prop_map(|v| v.join("."))
}

/// Reference matcher: recursive over token slices.
fn ref_match(p: &[&str], s: &[&str]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(&">"), Some(_)) => p.len() == 1,
        (Some(&"*"), Some(_)) => ref_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) => a == b && ref_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// All literal subjects of up to 6 tokens over `a b c d`: for patterns
/// of at most 4 tokens over `a b c`, enough witnesses for overlap/subset.
fn universe() -> Vec<String> {
    let toks = ["a", "b", "c", "d"];
    let mut out: Vec<String> = Vec::new();
    let mut level: Vec<String> = toks.iter().map(|t| t.to_string()).collect();
    for _ in 0..6 {
        out.extend(level.iter().cloned());
        level = level
            .iter()
            .flat_map(|p| toks.iter().map(move |t| format!("{p}.{t}")))
            .collect();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_matches_reference(p in pattern(), s in literal()) {
        let pt: Vec<&str> = p.split('.').collect();
        let st: Vec<&str> = s.split('.').collect();
        prop_assert!(is_valid_subject(&p));
        prop_assert!(is_valid_literal_subject(&s));
        prop_assert_eq!(matches(&p, &s), ref_match(&pt, &st), "{} vs {}", p, s);
        // a literal pattern only matches itself
        if is_literal(&p) {
            prop_assert_eq!(matches(&p, &s), p == s);
        }
    }

    #[test]
    fn prop_never_panics(p in "\\PC{0,12}", s in "[a-c.*> \t]{0,10}") {
        let _ = is_valid_subject(&p);
        let _ = is_valid_literal_subject(&p);
        let _ = is_literal(&p);
        let _ = is_valid_queue(&p);
        let _ = matches(&p, &s);
        let _ = matches(&s, &p);
        let _ = subjects_overlap(&p, &s);
        let _ = is_subset(&s, &p);
        prop_assert_eq!(tokens(&s).count(), num_tokens(&s));
        if is_valid_subject(&s) {
            prop_assert!(tokens(&s).all(|t| !t.is_empty()));
        }
    }
}

#[test]
fn overlap_and_subset_agree_with_brute_force() {
    let uni = universe();
    // every valid pattern over {a, b, *, >} with 1..=3 tokens
    let alpha = ["a", "b", "*", ">"];
    let mut pats = Vec::new();
    let mut level: Vec<Vec<&str>> = alpha.iter().map(|t| vec![*t]).collect();
    for _ in 0..3 {
        for p in &level {
            let s = p.join(".");
            if is_valid_subject(&s) {
                pats.push(s);
            }
        }
        level = level
            .iter()
            .flat_map(|p| {
                alpha.iter().map(move |t| {
                    let mut q = p.clone();
                    q.push(t);
                    q
                })
            })
            .collect();
    }
    let sets: Vec<Vec<bool>> = pats
        .iter()
        .map(|p| uni.iter().map(|s| matches(p, s)).collect())
        .collect();
    for (i, a) in pats.iter().enumerate() {
        for (j, b) in pats.iter().enumerate() {
            let both = sets[i].iter().zip(&sets[j]).any(|(x, y)| *x && *y);
            assert_eq!(subjects_overlap(a, b), both, "overlap {a:?} {b:?}");
            let sub = sets[i].iter().zip(&sets[j]).all(|(x, y)| !*x || *y);
            assert_eq!(is_subset(a, b), sub, "subset {a:?} {b:?}");
        }
    }
}
