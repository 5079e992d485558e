//! Every error carries the right `file:line:col` and says what was expected.

use super::*;

#[test]
fn syntax_errors_have_positions() {
    let cases: &[(&str, &str)] = &[
        ("port: 4222 extra", "test.conf:1:12: expected a new line, ';' or ',' after the value of top-level key 'port', found 'e'"),
        ("a {\n  b: 1 c\n}", "test.conf:2:8: expected a new line, ';' or ',' after the value of map key 'b', found 'c'"),
        ("port:", "test.conf:1:1: missing value for key 'port'"),
        ("port\n", "test.conf:1:1: missing value for key 'port'"),
        ("a {\n  port: }\n", "test.conf:2:3: missing value for key 'port'"),
        ("a: # comment\n", "test.conf:1:1: missing value for key 'a'"),
        ("a: \"open", "test.conf:1:4: unterminated string: missing closing \""),
        ("a: 'open", "test.conf:1:4: unterminated string: missing closing '"),
        ("a {\n b: 1\n", "test.conf:3:1: unexpected end of input: missing '}' to close the '{' at test.conf:1:3"),
        ("a: [1,\n 2", "test.conf:2:3: unexpected end of input: missing ']' to close the '[' at test.conf:1:4"),
        ("}", "test.conf:1:1: unexpected '}'"),
        ("a: 1\n]", "test.conf:2:1: expected a key, found ']'"),
        ("= 1", "test.conf:1:1: unexpected key separator '=': expected a key"),
        ("a: [1,,2]", "test.conf:1:7: unexpected ',' in array: expected a value"),
        ("a: [1 2]", "test.conf:1:7: expected ',' or ']' after an array value, found '2'"),
        ("a: \"x\\qy\"", "test.conf:1:6: invalid escape '\\q' in string: only \\t, \\n, \\r, \\\", \\\\ and \\xHH are allowed"),
        ("a: \"\\xZZ\"", "test.conf:1:5: invalid escape: expected two hexadecimal digits after \\x"),
        ("a: 99999999999999999999", "test.conf:1:4: integer '99999999999999999999' is out of range"),
        ("a: 100eb", "test.conf:1:4: integer '100eb' is out of range"),
        ("t (\nno end", "test.conf:1:3: unterminated block string: expected ')' alone on a line"),
        ("\"key", "test.conf:1:1: unterminated quoted key: missing closing quote"),
        ("a: [\n}\n]", "test.conf:2:1: expected a value, found '}'"),
    ];
    for (text, want) in cases {
        assert_eq!(&load_err(text), want, "input: {text:?}");
    }
}

#[test]
fn nesting_depth_is_capped() {
    let deep_arrays = format!("a: {}", "[".repeat(100_000));
    assert!(parse_err(&deep_arrays).contains("nesting too deep: more than 128 levels"));
    let deep_maps = "a { ".repeat(10_000);
    assert!(parse_err(&deep_maps).contains("nesting too deep"));
    // Exactly at the limit is fine.
    let ok = format!("a: {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse_value_with_env(&ok, &no_env).is_ok());
    let over = format!(
        "a: {}{}",
        "[".repeat(MAX_DEPTH + 1),
        "]".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        parse_err(&over),
        "<input>:1:132: nesting too deep: more than 128 levels of maps and arrays"
    );
}

#[test]
fn type_and_range_errors() {
    let cases: &[(&str, &str)] = &[
        ("port: abc", "test.conf:1:7: invalid port \"abc\": expected an integer"),
        ("\n\n  port: \"4222\"", "test.conf:3:9: invalid port \"4222\": expected an integer"),
        ("port: 70000", "test.conf:1:7: invalid port 70000: expected an integer port between 0 and 65535 (or -1 for a random port)"),
        ("port: -2", "test.conf:1:7: invalid port -2: expected an integer port between 0 and 65535 (or -1 for a random port)"),
        ("http_port: 1.5", "test.conf:1:12: invalid http_port 1.5: expected an integer"),
        ("listen: abc", "test.conf:1:9: invalid listen \"abc\": expected a port or \"host:port\""),
        ("listen: \"h:x\"", "test.conf:1:9: invalid listen \"h:x\": expected a port or \"host:port\""),
        ("listen: \"h:99999\"", "test.conf:1:9: invalid listen \"h:99999\": expected \"host:port\" with a port between 0 and 65535 (or -1)"),
        ("listen: [1]", "test.conf:1:9: invalid listen (an array): expected a port or \"host:port\""),
        ("http: \"::1:80\"", "test.conf:1:7: invalid http \"::1:80\": expected a port or \"host:port\""),
        ("max_payload: 65MB", "test.conf:1:14: invalid max_payload 65MB: expected a size of at most 64MB"),
        ("max_payload: 0", "test.conf:1:14: invalid max_payload 0: expected a size greater than zero"),
        ("max_payload: -1", "test.conf:1:14: invalid max_payload -1: expected a size greater than zero"),
        ("max_payload: lots", "test.conf:1:14: invalid max_payload \"lots\": expected a size such as 1048576, 512MB or \"10G\""),
        ("max_pending: -5", "test.conf:1:14: invalid max_pending -5: expected a size greater than zero"),
        ("max_control_line: 0", "test.conf:1:19: invalid max_control_line 0: expected a size greater than zero"),
        ("max_connections: -1", "test.conf:1:18: invalid max_connections -1: expected a non-negative integer"),
        ("ping_max: x", "test.conf:1:11: invalid ping_max \"x\": expected an integer"),
        ("ping_interval: \"2x\"", "test.conf:1:16: invalid ping_interval \"2x\": expected a duration such as \"2m\", \"10s\" or \"500ms\" (unknown unit \"x\")"),
        ("ping_interval: \"0s\"", "test.conf:1:16: invalid ping_interval \"0s\": expected a duration greater than zero"),
        ("write_deadline: -3", "test.conf:1:17: invalid write_deadline -3: expected a non-negative duration"),
        ("write_deadline: {}", "test.conf:1:17: invalid write_deadline (a map): expected a duration such as \"2m\", \"10s\" or \"500ms\""),
        ("lame_duck_duration: \"10s\"", "test.conf:1:21: invalid lame_duck_duration of 10s: minimum is 30 seconds"),
        ("debug: 1", "test.conf:1:8: invalid debug 1: expected a boolean (true/false, yes/no, on/off)"),
        ("trace: \"yes\"", "test.conf:1:8: invalid trace \"yes\": expected a boolean (true/false, yes/no, on/off)"),
        ("server_name: \"a b\"", "test.conf:1:14: invalid server_name \"a b\": expected a non-empty name without spaces"),
        ("log_file: 5", "test.conf:1:11: invalid log_file 5: expected a string"),
        ("authorization: 5", "test.conf:1:16: invalid authorization 5: expected a map { ... }"),
        ("authorization { timeout: -1 }", "test.conf:1:26: invalid authorization.timeout -1: expected a number of seconds such as 2 or 0.5 (or a duration string)"),
        ("cluster: [1]", "test.conf:1:10: invalid cluster (an array): expected a map { ... }"),
        ("cluster { name: \"x y\" }", "test.conf:1:17: invalid cluster.name \"x y\": expected a non-empty name without spaces"),
        ("cluster { port: 99999 }", "test.conf:1:17: invalid cluster.port 99999: expected an integer port between 0 and 65535 (or -1 for a random port)"),
        ("cluster { listen: \"nope\" }", "test.conf:1:19: invalid cluster.listen \"nope\": expected a port or \"host:port\""),
        ("cluster { routes: [ \"n2:6222\" ] }", "test.conf:1:21: invalid cluster.routes \"n2:6222\": expected a route URL such as nats://host:6222 or nats-route://user:pass@host:6222"),
        ("cluster { routes: [ 5 ] }", "test.conf:1:21: invalid cluster.routes 5: expected a string in the array"),
        ("cluster { connect_retries: -1 }", "test.conf:1:28: invalid cluster.connect_retries -1: expected a non-negative integer"),
        ("jetstream: maybe", "test.conf:1:12: invalid jetstream \"maybe\": expected enabled, disabled, true, false or a map { store_dir, ... }"),
        ("jetstream { max_file_store: -5 }", "test.conf:1:29: invalid jetstream.max_file_store -5: expected a non-negative value (or -1 for unlimited)"),
        ("jetstream { max_mem: \"huge\" }", "test.conf:1:22: invalid jetstream.max_mem \"huge\": expected a size such as 1048576, 512MB or \"10G\""),
        ("jetstream { sync_interval: \"never\" }", "test.conf:1:28: invalid jetstream.sync_interval \"never\": expected a duration such as \"2m\", \"10s\" or \"500ms\" (expected a number)"),
        ("jetstream { store_dir: 1 }", "test.conf:1:24: invalid jetstream.store_dir 1: expected a string"),
        ("accounts: 5", "test.conf:1:11: invalid accounts 5: expected a map of accounts { NAME { users: [...] } } or an array of names"),
        ("accounts { A: 1 }", "test.conf:1:15: invalid account 'A' 1: expected a map { users: [...] }"),
        ("accounts { A { jetstream: sometimes } }", "test.conf:1:27: invalid accounts.A.jetstream \"sometimes\": expected enabled, disabled, true, false or a map of limits"),
        ("accounts { A { jetstream: { max_streams: -2 } } }", "test.conf:1:42: invalid accounts.A.jetstream.max_streams -2: expected a non-negative value (or -1 for unlimited)"),
        ("accounts { A { users: {} } }", "test.conf:1:23: invalid accounts.A.users (a map): expected an array of users [ { user: ..., password: ... } ]"),
    ];
    for (text, want) in cases {
        assert_eq!(&load_err(text), want, "input: {text:?}");
    }
}

#[test]
fn authorization_consistency_errors() {
    let cases: &[(&str, &str)] = &[
        ("authorization {\n  user: a, password: b, token: t\n}", "test.conf:1:15: invalid authorization: cannot have both user/password and a token"),
        ("authorization { user: a, users: [] }", "test.conf:1:15: invalid authorization: cannot have both a single user/password and a users array"),
        ("authorization { token: t, users: [] }", "test.conf:1:15: invalid authorization: cannot have both a token and a users array"),
        ("authorization { users: [ { password: x } ] }", "test.conf:1:26: invalid user entry in authorization.users: a 'user' is required"),
        ("authorization { users: [ { user: \"\" } ] }", "test.conf:1:34: invalid user entry in authorization.users: the user name is empty"),
        ("authorization { users: [ x ] }", "test.conf:1:26: invalid authorization.users \"x\": expected each user to be a map like { user: name, password: secret }"),
        ("authorization { users: [ {user: a, nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ] }", "test.conf:1:42: invalid user entry: nkey users do not take a user name or password"),
        ("authorization {\n users: [ {user: a}, {user: a} ]\n}", "test.conf:2:29: duplicate user 'a': already defined at test.conf:2:18"),
        ("authorization { users: [ {user: a} ] }\naccounts { A { users: [ {user: a} ] } }", "test.conf:2:32: duplicate user 'a': already defined at test.conf:1:33"),
        ("accounts {\n A { users: [ {user: x} ] }\n B { users: [ {user: x} ] }\n}", "test.conf:3:22: duplicate user 'x': already defined at test.conf:2:22"),
        ("authorization { user: a, password: b }\naccounts { A { users: [ {user: c} ] } }", "test.conf:1:15: authorization cannot have a single user/password when accounts define users"),
        ("no_auth_user: ghost", "test.conf:1:15: invalid no_auth_user 'ghost': not defined as a user in authorization or accounts"),
        ("system_account: NOPE", "test.conf:1:17: invalid system_account 'NOPE': no such account in accounts"),
        ("accounts { $G {} }", "test.conf:1:15: invalid account name '$G': it is reserved for the global account"),
        ("accounts: [A, A]", "test.conf:1:15: duplicate account 'A'"),
    ];
    for (text, want) in cases {
        assert_eq!(&load_err(text), want, "input: {text:?}");
    }
}

#[test]
fn permission_errors() {
    let cases: &[(&str, &str)] = &[
        ("authorization { permissions: { publsh: x } }", "test.conf:1:32: unknown key 'publsh' in authorization.permissions: expected publish, subscribe or allow_responses"),
        ("authorization { permissions: { publish: { allw: x } } }", "test.conf:1:43: unknown key 'allw' in authorization.permissions.publish: only 'allow' and 'deny' are permitted"),
        ("authorization { permissions: { publish: \"a..b\" } }", "test.conf:1:41: invalid authorization.permissions.publish \"a..b\": expected a valid subject"),
        ("authorization { permissions: { publish: [ok, \"a >\"] } }", "test.conf:1:46: invalid authorization.permissions.publish \"a >\": expected a valid subject"),
        ("authorization { permissions: { subscribe: \"a b c\" } }", "test.conf:1:43: invalid authorization.permissions.subscribe \"a b c\": expected a valid subject (optionally followed by a queue name)"),
        ("authorization { permissions: { subscribe: \">.a\" } }", "test.conf:1:43: invalid authorization.permissions.subscribe \">.a\": expected a valid subject (optionally followed by a queue name)"),
        ("authorization { permissions: { publish: 5 } }", "test.conf:1:41: invalid authorization.permissions.publish 5: expected a string or an array of strings"),
        ("authorization { permissions: { allow_responses: 5 } }", "test.conf:1:49: invalid authorization.permissions.allow_responses 5: expected true, false or a map { max, expires }"),
        ("authorization { permissions: { allow_responses: { max: x } } }", "test.conf:1:56: invalid authorization.permissions.allow_responses.max \"x\": expected an integer"),
        ("authorization { permissions: { allow_responses: { ttl: \"x\" } } }", "test.conf:1:56: invalid authorization.permissions.allow_responses.ttl \"x\": expected a duration such as \"2m\", \"10s\" or \"500ms\" (expected a number)"),
        ("authorization { permissions: { allow_responses: { often: 1 } } }", "test.conf:1:51: unknown key 'often' in authorization.permissions.allow_responses: expected max or expires"),
        ("authorization { permissions: 1 }", "test.conf:1:30: invalid authorization.permissions 1: expected a map { ... }"),
    ];
    for (text, want) in cases {
        assert_eq!(&load_err(text), want, "input: {text:?}");
    }
}

#[test]
fn cluster_authorization_errors() {
    let cases: &[(&str, &str)] = &[
        ("cluster { authorization { users: [] } }", "test.conf:1:27: invalid cluster.authorization.users: cluster authorization does not allow multiple users"),
        ("cluster { authorization { token: t } }", "test.conf:1:27: invalid cluster.authorization.token: cluster authorization does not support tokens"),
        ("cluster { authorization { user: u } }", "test.conf:1:25: invalid cluster.authorization: both 'user' and 'password' are required"),
        ("cluster { authorization { user: u, password: p, timeout: x } }", "test.conf:1:58: invalid cluster.authorization.timeout \"x\": expected a number of seconds such as 2 or 0.5 (or a duration string)"),
    ];
    for (text, want) in cases {
        assert_eq!(&load_err(text), want, "input: {text:?}");
    }
}

#[test]
fn store_dir_twice_is_an_error() {
    assert_eq!(
        load_err("jetstream { store_dir: /a }\nstore_dir: /b"),
        "test.conf:2:12: duplicate store_dir: it is also set in the jetstream block"
    );
}

#[test]
fn error_accessors() {
    let e = load_result_err("port: x");
    assert_eq!(e.pos().map(|p| (p.line, p.col)), Some((1, 7)));
    assert!(matches!(e, ConfigError::Invalid { .. }));
    let e = load_result_err("a: [");
    assert!(matches!(e, ConfigError::Syntax { .. }));
    let e = load_result_err("a: $NOPE");
    assert!(matches!(e, ConfigError::Variable { .. }));
    let e = load_result_err("include x");
    assert!(matches!(e, ConfigError::Read { .. }));
    assert_eq!(e.pos().map(|p| p.col), Some(9));
}

fn load_result_err(text: &str) -> ConfigError {
    match load_impl(
        text,
        "t.conf",
        Path::new("/nonexistent-natrium-dir"),
        PathBuf::from("t.conf"),
        &no_env,
    ) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e,
    }
}

#[test]
fn warnings_display() {
    let w = Warning {
        file: "a.conf".into(),
        line: 3,
        col: 4,
        message: "hello".into(),
    };
    assert_eq!(w.to_string(), "a.conf:3:4: hello");
}
