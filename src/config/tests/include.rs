//! `include` directives: relative paths, nesting, merging, cycles, errors.

use std::fs;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn load_path(path: &Path) -> Loaded {
    load_file(path).unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
}

fn load_path_err(path: &Path) -> String {
    match load_file(path) {
        Ok(l) => panic!("expected an error, got {l:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn include_merges_keys_at_that_point() {
    let d = tmp();
    write(d.path(), "ports.conf", "port: 4333\nhttp_port: 8333\n");
    let main = write(
        d.path(),
        "main.conf",
        "port: 1\ninclude ./ports.conf\nserver_name: n1\n",
    );
    let c = load_path(&main).config;
    assert_eq!(c.port, 4333);
    assert_eq!(c.http_port, Some(8333));
    assert_eq!(c.server_name.as_deref(), Some("n1"));
    assert_eq!(c.source.as_deref(), Some(main.as_path()));
}

#[test]
fn later_keys_override_included_ones() {
    let d = tmp();
    write(d.path(), "base.conf", "port: 4333\n");
    let main = write(d.path(), "main.conf", "include \"base.conf\"\nport: 5555\n");
    assert_eq!(load_path(&main).config.port, 5555);
}

#[test]
fn quoted_and_bare_include_forms() {
    let d = tmp();
    write(d.path(), "a b.conf", "debug: true\n");
    write(d.path(), "c.conf", "trace: true\n");
    write(d.path(), "e.conf", "logtime: false\n");
    let main = write(
        d.path(),
        "main.conf",
        "include 'a b.conf'\nINCLUDE c.conf; include \"e.conf\" # comment\n",
    );
    let c = load_path(&main).config;
    assert!(c.debug && c.trace && !c.logtime);
}

#[test]
fn include_inside_a_block() {
    let d = tmp();
    write(d.path(), "auth.conf", "user: app\npassword: pw\n");
    let main = write(
        d.path(),
        "main.conf",
        "authorization {\n  include auth.conf\n  timeout: 3\n}\n",
    );
    let c = load_path(&main).config;
    assert_eq!(c.authorization.user.as_deref(), Some("app"));
    assert_eq!(c.authorization.password.as_deref(), Some("pw"));
    assert_eq!(c.authorization.timeout, std::time::Duration::from_secs(3));
}

#[test]
fn nested_includes_resolve_relative_to_each_file() {
    let d = tmp();
    write(d.path(), "conf/main.conf", "include sub/one.conf\n");
    write(
        d.path(),
        "conf/sub/one.conf",
        "include ../../two.conf\nport: 1111\n",
    );
    write(d.path(), "two.conf", "server_name: deep\n");
    let c = load_path(&d.path().join("conf/main.conf")).config;
    assert_eq!(c.port, 1111);
    assert_eq!(c.server_name.as_deref(), Some("deep"));
}

#[test]
fn included_variables_become_visible() {
    let d = tmp();
    write(d.path(), "vars.conf", "PASS: s3cret\n");
    let main = write(
        d.path(),
        "main.conf",
        "include vars.conf\nauthorization { user: a, password: $PASS }\n",
    );
    let l = load_path(&main);
    assert_eq!(l.config.authorization.password.as_deref(), Some("s3cret"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn include_cycles_are_errors() {
    let d = tmp();
    let a = write(d.path(), "a.conf", "port: 1\ninclude b.conf\n");
    write(d.path(), "b.conf", "\n  include ./a.conf\n");
    let e = load_path_err(&a);
    let b_name = d.path().join("b.conf").display().to_string();
    let a_name = d.path().join("./a.conf").display().to_string();
    assert_eq!(
        e,
        format!("{b_name}:2:11: include cycle: '{a_name}' is already being included")
    );
    let s = write(d.path(), "self.conf", "include self.conf\n");
    assert!(load_path_err(&s).contains("include cycle"));
}

#[test]
fn include_cycle_via_load_str() {
    let d = tmp();
    write(d.path(), "x.conf", "include root.conf\n");
    let e = load_str("include x.conf", "root.conf", d.path()).map(|_| ());
    // root.conf does not exist on disk, so the cycle surfaces as an unreadable file.
    assert!(e.is_err());
    write(d.path(), "root.conf", "include x.conf\n");
    let e = load_str("include x.conf", "root.conf", d.path())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("include cycle"), "{e}");
}

#[test]
fn deep_include_chains_are_capped() {
    let d = tmp();
    for i in 0..40 {
        write(
            d.path(),
            &format!("f{i}.conf"),
            &format!("include f{}.conf\n", i + 1),
        );
    }
    write(d.path(), "f40.conf", "port: 1\n");
    let e = load_path_err(&d.path().join("f0.conf"));
    assert!(e.contains("includes nested more than 32 deep"), "{e}");
}

#[test]
fn include_count_is_capped() {
    let d = tmp();
    write(d.path(), "leaf.conf", "# nothing\n");
    write(d.path(), "mid.conf", &"include leaf.conf\n".repeat(40));
    let main = write(d.path(), "main.conf", &"include mid.conf\n".repeat(40));
    let e = load_path_err(&main);
    assert!(
        e.contains("more than 1024 includes in one configuration"),
        "{e}"
    );
}

#[test]
fn missing_include_file_error_has_position() {
    let d = tmp();
    let main = write(d.path(), "main.conf", "port: 1\n\ninclude   nope.conf\n");
    let e = load_path_err(&main);
    let prefix = format!(
        "{}:3:11: cannot read include file '{}': ",
        main.display(),
        d.path().join("nope.conf").display()
    );
    assert!(e.starts_with(&prefix), "{e}\nwanted prefix {prefix}");
}

#[test]
fn errors_inside_included_files_name_that_file() {
    let d = tmp();
    let inc = write(d.path(), "bad.conf", "\n\nport: abc\n");
    let main = write(d.path(), "main.conf", "include bad.conf\n");
    assert_eq!(
        load_path_err(&main),
        format!(
            "{}:3:7: invalid port \"abc\": expected an integer",
            inc.display()
        )
    );
    let syn = write(d.path(), "syn.conf", "a {\n");
    let main2 = write(d.path(), "main2.conf", "include syn.conf\n");
    let e = load_path_err(&main2);
    assert!(e.starts_with(&format!("{}:2:1: ", syn.display())), "{e}");
    let w = write(d.path(), "warn.conf", "bogus: 1\n");
    let main3 = write(d.path(), "main3.conf", "include warn.conf\n");
    let l = load_path(&main3);
    assert_eq!(
        l.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![format!(
            "{}:1:1: unknown configuration key 'bogus', ignored",
            w.display()
        )]
    );
}

#[test]
fn missing_config_file() {
    let d = tmp();
    let e = load_path_err(&d.path().join("absent.conf"));
    assert!(e.starts_with("cannot read config file '"), "{e}");
}

#[test]
fn include_needs_a_file_name() {
    assert_eq!(
        load_err("include \"\"\n"),
        "test.conf:1:9: expected a file name after 'include'"
    );
}

#[test]
fn parse_value_does_not_read_includes() {
    let e = parse_err("include /etc/passwd");
    assert_eq!(
        e,
        "<input>:1:9: cannot include '/etc/passwd' here: includes are only resolved when loading a file"
    );
}

#[test]
fn include_with_separator_is_a_plain_key() {
    let w = warns("include: foo\n");
    assert_eq!(
        w,
        vec!["test.conf:1:1: unknown configuration key 'include', ignored"]
    );
}
