//! Syntax forms of the nats.conf format, checked on the untyped tree.

use super::*;

#[test]
fn key_value_separators() {
    let v = parse("a = 1\nb: 2\nc 3\nd=4\ne:5\nf\t6");
    for (k, want) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(int(get(&v, &[k])), want, "{k}");
    }
}

#[test]
fn optional_terminators() {
    let v = parse("a: 1; b: 2, c: 3\nd: x;\ne: y,\n");
    assert_eq!(int(get(&v, &["a"])), 1);
    assert_eq!(int(get(&v, &["b"])), 2);
    assert_eq!(int(get(&v, &["c"])), 3);
    assert_eq!(string(get(&v, &["d"])), "x");
    assert_eq!(string(get(&v, &["e"])), "y");
}

#[test]
fn comments() {
    let text = "# hash comment\n// slash comment\na: 1 # trailing\nb: 2 // trailing\n  # indented\nc { # in map\n  d: 3 // x\n}\n";
    let v = parse(text);
    assert_eq!(int(get(&v, &["a"])), 1);
    assert_eq!(int(get(&v, &["b"])), 2);
    assert_eq!(int(get(&v, &["c", "d"])), 3);
    assert_eq!(v.as_map().map(Map::len), Some(3));
}

#[test]
fn comment_chars_inside_values_are_kept() {
    let v = parse("url: nats://h:4222\nx: a#b\ny: \"# not a comment\"");
    assert_eq!(string(get(&v, &["url"])), "nats://h:4222");
    assert_eq!(string(get(&v, &["x"])), "a#b");
    assert_eq!(string(get(&v, &["y"])), "# not a comment");
}

#[test]
fn maps_in_all_forms() {
    let v = parse(
        "a { x: 1 }\nb: { x: 2 }\nc = {x: 3}\nd{x:4}\ne\n{\n  x: 5\n}\nf { x: 6, y: 7; z: 8 }\ng {}\nh: # c\n\n{ x: 9 }\n",
    );
    for (k, want) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(int(get(&v, &[k, "x"])), want, "{k}");
    }
    assert_eq!(int(get(&v, &["f", "z"])), 8);
    assert_eq!(int(get(&v, &["h", "x"])), 9);
    assert_eq!(get(&v, &["g"]).as_map().map(Map::len), Some(0));
}

#[test]
fn nested_maps() {
    let v = parse("a { b { c { d: deep } } }");
    assert_eq!(string(get(&v, &["a", "b", "c", "d"])), "deep");
}

#[test]
fn arrays_in_all_forms() {
    let v = parse(
        "a: [1, 2, 3]\nb [\n  x\n  y # c\n  // c2\n  z,\n]\nc: []\nd: [[1, 2], [3]]\ne: [ {u: 1}, {u: 2} ]\nf: [\"q\", 'r', s]\n",
    );
    let a: Vec<i64> = get(&v, &["a"])
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(int)
        .collect();
    assert_eq!(a, vec![1, 2, 3]);
    let b: Vec<&str> = get(&v, &["b"])
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(string)
        .collect();
    assert_eq!(b, vec!["x", "y", "z"]);
    assert_eq!(get(&v, &["c"]).as_array().map(<[Value]>::len), Some(0));
    let d = get(&v, &["d"]).as_array().unwrap_or_default();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].as_array().map(<[Value]>::len), Some(2));
    let e = get(&v, &["e"]).as_array().unwrap_or_default();
    assert_eq!(int(get(&e[1], &["u"])), 2);
    let f: Vec<&str> = get(&v, &["f"])
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(string)
        .collect();
    assert_eq!(f, vec!["q", "r", "s"]);
}

#[test]
fn unquoted_string_terminators() {
    let v = parse("a: [x,y]\nb {c: z}\nd: w;e: v\n");
    let a: Vec<&str> = get(&v, &["a"])
        .as_array()
        .unwrap_or_default()
        .iter()
        .map(string)
        .collect();
    assert_eq!(a, vec!["x", "y"]);
    assert_eq!(string(get(&v, &["b", "c"])), "z");
    assert_eq!(string(get(&v, &["d"])), "w");
    assert_eq!(string(get(&v, &["e"])), "v");
}

#[test]
fn quoted_strings() {
    let v = parse(
        r#"a: 'raw \t $X "x"'
b: "tab\there \"q\" back\\slash nl\n cr\r hex\x41\x42"
c: "multi
line"
d: ""
"#,
    );
    assert_eq!(string(get(&v, &["a"])), r#"raw \t $X "x""#);
    assert_eq!(
        string(get(&v, &["b"])),
        "tab\there \"q\" back\\slash nl\n cr\r hexAB"
    );
    assert_eq!(string(get(&v, &["c"])), "multi\nline");
    assert_eq!(string(get(&v, &["d"])), "");
}

#[test]
fn block_strings() {
    let v = parse("text (\n  line one\n  line (two)\n)\nafter: 1\n");
    assert_eq!(string(get(&v, &["text"])), "\n  line one\n  line (two)\n");
    assert_eq!(int(get(&v, &["after"])), 1);
}

#[test]
fn booleans() {
    let text = "a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: OFF\ng: \"true\"\nh: True";
    let v = parse(text);
    for (k, want) in [
        ("a", true),
        ("b", false),
        ("c", true),
        ("d", false),
        ("e", true),
        ("f", false),
        ("h", true),
    ] {
        assert_eq!(get(&v, &[k]).as_bool(), Some(want), "{k}");
    }
    assert_eq!(string(get(&v, &["g"])), "true");
}

#[test]
fn numbers() {
    let v = parse("a: 42\nb: -1\nc: 0.5\nd: -2.5\ne: 007\nf: 10GB\ng: 2m\nh: 1k\n");
    assert_eq!(int(get(&v, &["a"])), 42);
    assert_eq!(int(get(&v, &["b"])), -1);
    assert_eq!(get(&v, &["c"]).kind, ValueKind::Float(0.5));
    assert_eq!(get(&v, &["d"]).kind, ValueKind::Float(-2.5));
    assert_eq!(int(get(&v, &["e"])), 7);
    assert_eq!(int(get(&v, &["f"])), 10 << 30);
    assert_eq!(int(get(&v, &["g"])), 2_000_000);
    assert_eq!(get(&v, &["g"]).literal.as_deref(), Some("2m"));
    assert_eq!(int(get(&v, &["h"])), 1000);
}

#[test]
fn every_size_suffix() {
    let cases: &[(&str, i64)] = &[
        ("k", 1000),
        ("kb", 1024),
        ("ki", 1024),
        ("kib", 1024),
        ("m", 1_000_000),
        ("mb", 1 << 20),
        ("mi", 1 << 20),
        ("mib", 1 << 20),
        ("g", 1_000_000_000),
        ("gb", 1 << 30),
        ("gi", 1 << 30),
        ("gib", 1 << 30),
        ("t", 1_000_000_000_000),
        ("tb", 1 << 40),
        ("p", 1_000_000_000_000_000),
        ("pb", 1 << 50),
        ("e", 1_000_000_000_000_000_000),
        ("eb", 1 << 60),
    ];
    for (suffix, mult) in cases {
        for s in [suffix.to_string(), suffix.to_uppercase()] {
            let v = parse(&format!("x: 1{s}"));
            assert_eq!(int(get(&v, &["x"])), *mult, "1{s}");
        }
    }
}

#[test]
fn digit_leading_strings() {
    let v = parse("a: 3secret\nb: 127.0.0.1:4222\nc: 0.0.0.0\nd: 1.5s\ne: 10s\nf: 1h30m\ng: 500ms\nh: 2020-01-01T00:00:00Z");
    for (k, want) in [
        ("a", "3secret"),
        ("b", "127.0.0.1:4222"),
        ("c", "0.0.0.0"),
        ("d", "1.5s"),
        ("e", "10s"),
        ("f", "1h30m"),
        ("g", "500ms"),
        ("h", "2020-01-01T00:00:00Z"),
    ] {
        assert_eq!(string(get(&v, &[k])), want, "{k}");
    }
}

#[test]
fn quoted_keys() {
    let v = parse("\"a key\": 1\n'b.c' = 2\n\"include\" x\n");
    assert_eq!(int(get(&v, &["a key"])), 1);
    assert_eq!(int(get(&v, &["b.c"])), 2);
    assert_eq!(string(get(&v, &["include"])), "x");
}

#[test]
fn json_like_top_level_braces() {
    let v = parse("{\n  \"port\": 4222,\n  \"list\": [1, 2],\n  \"m\": {\"a\": true}\n}\n");
    assert_eq!(int(get(&v, &["port"])), 4222);
    assert_eq!(get(&v, &["m", "a"]).as_bool(), Some(true));
}

#[test]
fn duplicate_keys_last_wins_in_place() {
    let v = parse("a: 1\nb: 2\na: 3\n");
    let m = v.as_map().cloned().unwrap_or_default();
    let keys: Vec<&str> = m.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["a", "b"]);
    assert_eq!(int(get(&v, &["a"])), 3);
}

#[test]
fn keys_keep_their_case() {
    let v = parse("Port: 1\nPORT: 2");
    let m = v.as_map().cloned().unwrap_or_default();
    assert_eq!(m.len(), 2);
    assert_eq!(m.get_ci("port").and_then(Value::as_int), Some(2));
}

#[test]
fn empty_and_comment_only_inputs() {
    for text in [
        "",
        "\n\n",
        "# only\n// comments",
        "  \t ",
        "\u{feff}",
        ";;,\n",
    ] {
        assert_eq!(parse(text).as_map().map(Map::len), Some(0), "{text:?}");
    }
}

#[test]
fn crlf_line_endings() {
    let v = parse("a: 1\r\nb {\r\n  c: x\r\n}\r\nd: [1,\r\n 2]\r\n");
    assert_eq!(int(get(&v, &["a"])), 1);
    assert_eq!(string(get(&v, &["b", "c"])), "x");
    assert_eq!(get(&v, &["d"]).as_array().map(<[Value]>::len), Some(2));
}

#[test]
fn positions_of_keys_and_values() {
    let v = parse("# c\nport: 4222\nm {\n   k = 'v'\n}\n");
    let m = v.as_map().cloned().unwrap_or_default();
    let port = &m.entries[0];
    assert_eq!((port.key_pos.line, port.key_pos.col), (2, 1));
    assert_eq!((port.value.pos.line, port.value.pos.col), (2, 7));
    let k = get(&v, &["m", "k"]);
    assert_eq!((k.pos.line, k.pos.col), (4, 8));
    assert_eq!(&*k.pos.file, "<input>");
}

#[test]
fn include_word_as_plain_key() {
    // `include:` with a separator is an ordinary key.
    let v = parse("include: yes");
    assert_eq!(get(&v, &["include"]).as_bool(), Some(true));
}

#[test]
fn value_describe_and_type_names() {
    let v = parse("a: \"s\"\nb: 2k\nc: 1.5\nd: on\ne: []\nf: {}");
    let d: Vec<(String, &str)> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|k| (get(&v, &[k]).describe(), get(&v, &[k]).type_name()))
        .collect();
    assert_eq!(
        d,
        vec![
            ("\"s\"".to_string(), "string"),
            ("2k".to_string(), "integer"),
            ("1.5".to_string(), "float"),
            ("true".to_string(), "boolean"),
            ("(an array)".to_string(), "array"),
            ("(a map)".to_string(), "map"),
        ]
    );
}
