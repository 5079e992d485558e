//! Property tests: no input makes the parser panic, and generated configs
//! parse back to the values they were generated from.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::config::literal::parse_duration;

/// Parses and converts without ever reading a file (includes are errors).
fn convert_text(text: &str) {
    if let Ok(v) = parse_value_with_env(text, &no_env) {
        if let Some(m) = v.as_map() {
            let _ = crate::config::convert::convert(m, None);
        }
    }
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text drawn mostly from the characters that matter to the grammar.
fn grammar_soup() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a",
        "port",
        "include",
        " ",
        "\t",
        "\n",
        "\r\n",
        ":",
        "=",
        "{",
        "}",
        "[",
        "]",
        ",",
        ";",
        "#",
        "//",
        "\"",
        "'",
        "(",
        ")",
        "\n)\n",
        "$",
        "$a",
        "$2a$",
        "\\",
        "\\x4",
        "1",
        "-1",
        "0.5",
        "2m",
        "10GB",
        "true",
        "off",
        "nats://h:1",
        "é",
        "\u{feff}",
        "\0",
    ]);
    prop::collection::vec(atoms, 0..64).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_value_with_env(&text, &no_env);
        convert_text(&text);
    }

    #[test]
    fn random_strings_never_panic(text in "\\PC{0,200}") {
        let _ = parse_value_with_env(&text, &no_env);
        convert_text(&text);
    }

    #[test]
    fn grammar_soup_never_panics(text in grammar_soup()) {
        let env = |name: &str| (name == "a").then(|| "[$a]".to_string());
        let _ = parse_value_with_env(&text, &env);
        convert_text(&text);
    }

    #[test]
    fn generated_configs_round_trip(
        entries in prop::collection::btree_map("[a-z][a-z0-9_]{0,8}", simple_value(), 0..12)
            .prop_filter("`include` is a directive", |m| !m.contains_key("include")),
        seps in prop::collection::vec(prop::sample::select(vec![": ", " = ", " ", "="]), 12),
        terms in prop::collection::vec(prop::sample::select(vec!["\n", ";\n", ",", "; ", " # c\n", "\n\n"]), 12),
    ) {
        let mut text = String::new();
        for (i, (k, v)) in entries.iter().enumerate() {
            text.push_str(k);
            text.push_str(seps[i % seps.len()]);
            text.push_str(&render(v));
            text.push_str(terms[i % terms.len()]);
        }
        let parsed = parse_value_with_env(&text, &no_env)
            .map_err(|e| TestCaseError::fail(format!("{e}\n---\n{text}")))?;
        let m = parsed.as_map().cloned().unwrap_or_default();
        prop_assert_eq!(m.len(), entries.len(), "{}", text);
        for (k, want) in &entries {
            let got = m.get(k).ok_or_else(|| TestCaseError::fail(format!("missing {k}\n{text}")))?;
            prop_assert!(matches(got, want), "{}: {:?} vs {:?}\n{}", k, got, want, text);
        }
    }

    #[test]
    fn suffixed_integers(n in 0i64..100_000, idx in 0usize..12) {
        let table: [(&str, i64); 12] = [
            ("", 1), ("k", 1000), ("K", 1000), ("kb", 1024), ("KiB", 1024), ("m", 1_000_000),
            ("MB", 1 << 20), ("mi", 1 << 20), ("g", 1_000_000_000), ("GB", 1 << 30), ("Gi", 1 << 30), ("t", 1_000_000_000_000),
        ];
        let (suffix, mult) = table[idx];
        let v = parse_value_with_env(&format!("x: {n}{suffix}"), &no_env)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v.get_path(&["x"]).and_then(Value::as_int), Some(n * mult));
    }

    #[test]
    fn go_durations(h in 0u64..100, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let want = Duration::from_secs(h * 3600 + m * 60 + s) + Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&text), Ok(want));
        let c = load(&format!("ping_interval: \"{text}\"")).config;
        if !want.is_zero() {
            prop_assert_eq!(c.ping_interval, want);
        }
    }

    #[test]
    fn ports_round_trip(p in 1u16..=65535) {
        prop_assert_eq!(cfg(&format!("port: {p}")).port, p);
        prop_assert_eq!(cfg(&format!("listen: \"10.1.2.3:{p}\"")).port, p);
        prop_assert_eq!(cfg(&format!("cluster {{ port: {p} }}")).cluster.map(|c| c.port), Some(p));
    }
}

/// A generated value, rendered to nats.conf text by [`render`].
#[derive(Debug, Clone)]
enum Simple {
    Int(i64),
    Bool(bool),
    Str(String),
    List(Vec<i64>),
    Map(BTreeMap<String, i64>),
}

fn simple_value() -> impl Strategy<Value = Simple> {
    prop_oneof![
        any::<i64>().prop_map(Simple::Int),
        any::<bool>().prop_map(Simple::Bool),
        "[ -~\t\n]{0,20}".prop_map(Simple::Str),
        prop::collection::vec(-1000i64..1000, 0..5).prop_map(Simple::List),
        prop::collection::btree_map("[a-z]{1,5}", any::<i64>(), 0..4).prop_map(Simple::Map),
    ]
}

fn render(v: &Simple) -> String {
    match v {
        Simple::Int(i) => i.to_string(),
        Simple::Bool(b) => if *b { "true" } else { "off" }.to_string(),
        Simple::Str(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Simple::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Simple::Map(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n ")
        ),
    }
}

fn matches(got: &Value, want: &Simple) -> bool {
    match (want, &got.kind) {
        (Simple::Int(i), ValueKind::Integer(g)) => i == g,
        (Simple::Bool(b), ValueKind::Bool(g)) => b == g,
        (Simple::Str(s), ValueKind::String(g)) => s == g,
        (Simple::List(items), ValueKind::Array(g)) => {
            items.len() == g.len() && items.iter().zip(g).all(|(i, v)| v.as_int() == Some(*i))
        }
        (Simple::Map(m), ValueKind::Map(g)) => {
            m.len() == g.len()
                && m.iter()
                    .all(|(k, v)| g.get(k).and_then(Value::as_int) == Some(*v))
        }
        _ => false,
    }
}
