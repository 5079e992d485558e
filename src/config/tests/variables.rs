//! `$VARIABLE` references: block scope, environment, bcrypt literals, errors.

use super::*;

fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

fn parse_env(
    text: &str,
    vars: &'static [(&'static str, &'static str)],
) -> Result<Value, ConfigError> {
    let env = env_of(vars);
    parse_value_with_env(text, &env)
}

#[test]
fn top_level_variable() {
    let v = parse("PORT: 4333\nport: $PORT\nname = $PORT\n");
    assert_eq!(int(get(&v, &["port"])), 4333);
    assert_eq!(int(get(&v, &["name"])), 4333);
}

#[test]
fn variable_takes_reference_position() {
    let v = parse("X: 5\n\nport:   $X\n");
    let p = get(&v, &["port"]);
    assert_eq!((p.pos.line, p.pos.col), (3, 9));
}

#[test]
fn block_scoping() {
    let text = "
A: outer
B: outer_b
m {
  A: inner
  x: $A
  y: $B
  n { z: $A }
}
w: $A
";
    let v = parse(text);
    assert_eq!(string(get(&v, &["m", "x"])), "inner");
    assert_eq!(string(get(&v, &["m", "y"])), "outer_b");
    assert_eq!(string(get(&v, &["m", "n", "z"])), "inner");
    assert_eq!(string(get(&v, &["w"])), "outer");
}

#[test]
fn sibling_block_variables_are_not_visible() {
    let e = parse_err("a { X: 1 }\nb { y: $X }\n");
    assert_eq!(
        e,
        "<input>:2:8: variable reference for 'X' can not be found"
    );
}

#[test]
fn map_and_array_variables() {
    let v = parse("PERMS: { publish: [a, b] }\nLIST: [1, 2]\nu { permissions: $PERMS, l: $LIST }");
    assert_eq!(
        get(&v, &["u", "permissions", "publish"])
            .as_array()
            .map(<[Value]>::len),
        Some(2)
    );
    assert_eq!(get(&v, &["u", "l"]).as_array().map(<[Value]>::len), Some(2));
}

#[test]
fn variables_inside_arrays_and_array_maps() {
    let v = parse("P: secret\nusers: [ {user: a, password: $P}, $P ]");
    let users = get(&v, &["users"]).as_array().unwrap_or_default();
    assert_eq!(string(get(&users[0], &["password"])), "secret");
    assert_eq!(string(&users[1]), "secret");
}

#[test]
fn environment_variables_are_parsed_as_values() {
    static VARS: &[(&str, &str)] = &[
        ("PORT", "4333"),
        ("HOST", "10.0.0.1"),
        ("FLAG", "true"),
        ("SIZE", "10GB"),
        ("LIST", "[1, 2]"),
        ("REF", "$PORT"),
        ("SP", "a b"),
    ];
    let v = parse_env(
        "port: $PORT\nhost: $HOST\nflag: $FLAG\nsize: $SIZE\nlist: $LIST\nref: $REF",
        VARS,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(int(get(&v, &["port"])), 4333);
    assert_eq!(string(get(&v, &["host"])), "10.0.0.1");
    assert_eq!(get(&v, &["flag"]).as_bool(), Some(true));
    assert_eq!(int(get(&v, &["size"])), 10 << 30);
    assert_eq!(get(&v, &["list"]).as_array().map(<[Value]>::len), Some(2));
    assert_eq!(int(get(&v, &["ref"])), 4333);
    // Environment values carry the position of the reference.
    let p = get(&v, &["list"]).as_array().unwrap_or_default();
    assert_eq!((p[0].pos.line, p[0].pos.col), (5, 7));
    // "a b" is not a single value.
    let e = parse_env("x: $SP", VARS)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("<input>:1:4: variable reference for 'SP' could not be parsed"),
        "{e}"
    );
}

#[test]
fn block_variables_shadow_the_environment() {
    static VARS: &[(&str, &str)] = &[("X", "env")];
    let v = parse_env("X: file\na: $X\nm { b: $X }", VARS).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(string(get(&v, &["a"])), "file");
    assert_eq!(string(get(&v, &["m", "b"])), "file");
}

#[test]
fn environment_cycles_are_errors() {
    static VARS: &[(&str, &str)] = &[("A", "$B"), ("B", "$A"), ("SELF", "$SELF")];
    let e = parse_env("x: $A", VARS).map(|_| ()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<input>:1:4: variable reference cycle for 'A'"
    );
    let e = parse_env("\n  y: $SELF", VARS).map(|_| ()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<input>:2:6: variable reference cycle for 'SELF'"
    );
}

#[test]
fn undefined_variable_error_has_position() {
    assert_eq!(
        parse_err("a: 1\nb {\n  c: $NOPE\n}"),
        "<input>:3:6: variable reference for 'NOPE' can not be found"
    );
    // Defined later is not defined yet.
    assert_eq!(
        parse_err("a: $L\nL: 1"),
        "<input>:1:4: variable reference for 'L' can not be found"
    );
}

#[test]
fn exponential_expansion_is_capped() {
    let mut text = String::from("a0: [1, 1, 1, 1, 1, 1, 1, 1]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: [$a{p}, $a{p}, $a{p}, $a{p}, $a{p}, $a{p}, $a{p}, $a{p}]\n"
        ));
    }
    let e = parse_err(&text);
    assert!(
        e.contains("expands the configuration beyond 1000000 values"),
        "{e}"
    );
    static VARS: &[(&str, &str)] = &[
        ("E0", "[1,1,1,1,1,1,1,1]"),
        ("E1", "[$E0,$E0,$E0,$E0,$E0,$E0,$E0,$E0]"),
        ("E2", "[$E1,$E1,$E1,$E1,$E1,$E1,$E1,$E1]"),
        ("E3", "[$E2,$E2,$E2,$E2,$E2,$E2,$E2,$E2]"),
        ("E4", "[$E3,$E3,$E3,$E3,$E3,$E3,$E3,$E3]"),
        ("E5", "[$E4,$E4,$E4,$E4,$E4,$E4,$E4,$E4]"),
        ("E6", "[$E5,$E5,$E5,$E5,$E5,$E5,$E5,$E5]"),
        ("E7", "[$E6,$E6,$E6,$E6,$E6,$E6,$E6,$E6]"),
    ];
    let e = parse_env("x: $E7", VARS)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("expands the configuration beyond"), "{e}");
}

#[test]
fn quoted_dollar_is_literal() {
    let v = parse("a: \"$NOPE\"\nb: '$NOPE'\nc: \"x$y\"");
    assert_eq!(string(get(&v, &["a"])), "$NOPE");
    assert_eq!(string(get(&v, &["b"])), "$NOPE");
    assert_eq!(string(get(&v, &["c"])), "x$y");
}

#[test]
fn bcrypt_hashes_are_literal() {
    let text = "a: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG\nb: $2b$10$abc\nc: $2x$10$abc\nd: $2y$10$abc";
    let v = parse(text);
    assert_eq!(
        string(get(&v, &["a"])),
        "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
    );
    assert_eq!(string(get(&v, &["b"])), "$2b$10$abc");
    assert_eq!(string(get(&v, &["c"])), "$2x$10$abc");
    assert_eq!(string(get(&v, &["d"])), "$2y$10$abc");
    // Other `$2` prefixes are variables.
    assert!(parse_err("e: $2c$10$abc").contains("variable reference for '2c$10$abc'"));
}

#[test]
fn referenced_variables_are_marked_used() {
    let v = parse("A: 1\nB: 2\nx: $A");
    let m = v.as_map().cloned().unwrap_or_default();
    let used: Vec<(String, bool)> = m
        .entries
        .iter()
        .map(|e| (e.key.clone(), e.used_as_variable))
        .collect();
    assert_eq!(
        used,
        vec![("A".into(), true), ("B".into(), false), ("x".into(), false)]
    );
}

#[test]
fn used_variables_are_not_unknown_keys() {
    let w =
        warns("APP_PASS: s3cret\nauthorization { user: app, password: $APP_PASS }\nUNUSED: 1\n");
    assert_eq!(
        w,
        vec!["test.conf:3:1: unknown configuration key 'UNUSED', ignored"]
    );
    let c = cfg("APP_PASS: s3cret\nauthorization { user: app, password: $APP_PASS }");
    assert_eq!(c.authorization.password.as_deref(), Some("s3cret"));
}

#[test]
fn variables_in_blocks_are_not_unknown_keys() {
    let text = "authorization {\n  PASS: x\n  users: [ {user: a, password: $PASS} ]\n}\naccounts {\n  U: { user: b, password: y }\n  A { users: [ $U ] }\n}\n";
    let l = load(text);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.config.accounts.len(), 1);
    assert_eq!(l.config.accounts[0].users[0].user, "b");
}

#[test]
fn load_str_uses_the_process_environment() {
    // A name unlikely to exist; set only by this test.
    std::env::set_var("NATRIUM_CFG_TEST_PORT_4333", "4333");
    let l = load_str(
        "port: $NATRIUM_CFG_TEST_PORT_4333",
        "env.conf",
        Path::new("."),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.config.port, 4333);
    let e = load_str(
        "port: $NATRIUM_CFG_TEST_UNSET_VAR",
        "env.conf",
        Path::new("."),
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "env.conf:1:7: variable reference for 'NATRIUM_CFG_TEST_UNSET_VAR' can not be found"
    );
}
