//! The configuration syntax: text -> value tree.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::parser::{parse_str, parse_str_with_env};
use super::value::{Kind, Map, Value};
use super::ConfigError;

fn parse(text: &str) -> Map {
    match parse_str_with_env(text, None, &|_| None) {
        Ok(m) => m,
        Err(e) => panic!("parse failed: {e}\n---\n{text}"),
    }
}

fn parse_err(text: &str) -> ConfigError {
    match parse_str_with_env(text, None, &|_| None) {
        Ok(m) => panic!("expected an error, got {m:?}\n---\n{text}"),
        Err(e) => e,
    }
}

fn get<'m>(m: &'m Map, key: &str) -> &'m Value {
    m.get(key)
        .unwrap_or_else(|| panic!("no key {key} in {:?}", keys(m)))
}

fn keys(m: &Map) -> Vec<&str> {
    m.entries().iter().map(|e| e.key.as_str()).collect()
}

fn s(m: &Map, key: &str) -> String {
    match &get(m, key).kind {
        Kind::String(s) => s.clone(),
        k => panic!("{key} is {k:?}, not a string"),
    }
}

fn i(m: &Map, key: &str) -> i64 {
    match get(m, key).kind {
        Kind::Integer(n) => n,
        ref k => panic!("{key} is {k:?}, not an integer"),
    }
}

fn b(m: &Map, key: &str) -> bool {
    match get(m, key).kind {
        Kind::Bool(b) => b,
        ref k => panic!("{key} is {k:?}, not a boolean"),
    }
}

fn sub<'m>(m: &'m Map, key: &str) -> &'m Map {
    get(m, key).as_map().unwrap()
}

/// A fresh directory under the system temp dir.
pub(super) fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "switchboard-config-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn separators() {
    let m = parse("a: 1\nb = 2\nc 3\nd:4\ne=5\n  f   :   6  \n");
    for (k, v) in [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5), ("f", 6)] {
        assert_eq!(i(&m, k), v, "{k}");
    }
}

#[test]
fn terminators_and_comments() {
    let m = parse(
        "# hash comment\n// slash comment\na: 1; b: 2, c: 3 # trailing\nd: 'x' // trailing\n\
         e: \"y\";\n\n\r\nf: true\r\n",
    );
    assert_eq!(keys(&m), ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(s(&m, "d"), "x");
    assert_eq!(s(&m, "e"), "y");
    assert!(b(&m, "f"));
}

#[test]
fn strings() {
    let m = parse(concat!(
        "dq: \"a b\\t\\n\\r\\\"\\\\\\x41\"\n",
        "sq: 'raw \\n \"x\"'\n",
        "bare: localhost:4222\n",
        "url: nats://127.0.0.1:4222\n",
        "ip: 127.0.0.1\n",
        "ipport: 0.0.0.0:4222\n",
        "digits_word: 4222abc\n",
        "dur: 2s\n",
        "ms: 100ms\n",
        "hour: 1h\n",
        "empty: \"\"\n",
        "utf8: \"h\\xc3\\xa9\" \n",
        "unicode: héllo\n",
        "path: /var/run/nats.pid\n",
        "wild: foo.*.>\n",
    ));
    assert_eq!(s(&m, "dq"), "a b\t\n\r\"\\A");
    assert_eq!(s(&m, "sq"), "raw \\n \"x\"");
    assert_eq!(s(&m, "bare"), "localhost:4222");
    assert_eq!(s(&m, "url"), "nats://127.0.0.1:4222");
    assert_eq!(s(&m, "ip"), "127.0.0.1");
    assert_eq!(s(&m, "ipport"), "0.0.0.0:4222");
    assert_eq!(s(&m, "digits_word"), "4222abc");
    assert_eq!(s(&m, "dur"), "2s");
    assert_eq!(s(&m, "ms"), "100ms");
    assert_eq!(s(&m, "hour"), "1h");
    assert_eq!(s(&m, "empty"), "");
    assert_eq!(s(&m, "utf8"), "hé");
    assert_eq!(s(&m, "unicode"), "héllo");
    assert_eq!(s(&m, "path"), "/var/run/nats.pid");
    assert_eq!(s(&m, "wild"), "foo.*.>");
}

#[test]
fn quoted_keys() {
    let m = parse("\"quoted key\": 1\n'single': 2\nm { \"in map\": 3, 'x y' = 4 }\n");
    assert_eq!(i(&m, "quoted key"), 1);
    assert_eq!(i(&m, "single"), 2);
    assert_eq!(i(sub(&m, "m"), "in map"), 3);
    assert_eq!(i(sub(&m, "m"), "x y"), 4);
}

#[test]
fn numbers_and_sizes() {
    let m = parse(concat!(
        "int: 4222\nneg: -1\nzero: 0\nfloat: 1.5\nnegf: -0.25\n",
        "k: 1k\nK: 2K\nkb: 1kb\nKB: 128KB\nKiB: 1KiB\nki: 1ki\n",
        "m: 1m\nMB: 1MB\nMiB: 64MiB\nMi: 2Mi\n",
        "g: 1G\nGB: 1GB\nGiB: 10GiB\n",
        "t: 1T\nTB: 1TB\np: 1p\npb: 1pb\ne: 1e\neb: 1eb\n",
        "negsize: -1K\n",
    ));
    assert_eq!(i(&m, "int"), 4222);
    assert_eq!(i(&m, "neg"), -1);
    assert_eq!(i(&m, "zero"), 0);
    assert_eq!(get(&m, "float").kind, Kind::Float(1.5));
    assert_eq!(get(&m, "negf").kind, Kind::Float(-0.25));
    assert_eq!(i(&m, "k"), 1000);
    assert_eq!(i(&m, "K"), 2000);
    assert_eq!(i(&m, "kb"), 1024);
    assert_eq!(i(&m, "KB"), 128 * 1024);
    assert_eq!(i(&m, "KiB"), 1024);
    assert_eq!(i(&m, "ki"), 1024);
    assert_eq!(i(&m, "m"), 1_000_000);
    assert_eq!(i(&m, "MB"), 1 << 20);
    assert_eq!(i(&m, "MiB"), 64 << 20);
    assert_eq!(i(&m, "Mi"), 2 << 20);
    assert_eq!(i(&m, "g"), 1_000_000_000);
    assert_eq!(i(&m, "GB"), 1 << 30);
    assert_eq!(i(&m, "GiB"), 10 << 30);
    assert_eq!(i(&m, "t"), 1_000_000_000_000);
    assert_eq!(i(&m, "TB"), 1 << 40);
    assert_eq!(i(&m, "p"), 1_000_000_000_000_000);
    assert_eq!(i(&m, "pb"), 1 << 50);
    assert_eq!(i(&m, "e"), 1_000_000_000_000_000_000);
    assert_eq!(i(&m, "eb"), 1 << 60);
    assert_eq!(i(&m, "negsize"), -1000);
}

#[test]
fn number_errors() {
    assert!(parse_err("a: 99999999999999999999\n")
        .to_string()
        .contains("out of range"));
    assert!(parse_err("a: 100EB\n").to_string().contains("out of range"));
    assert!(parse_err("a: 1kbb\n").to_string().contains("size suffix"));
    assert!(parse_err("a: .5\n").to_string().contains("digit"));
    assert!(parse_err("a: 1.x\n").to_string().contains("digit after"));
    assert!(parse_err("a: -x\n").to_string().contains("digit"));
    assert!(parse_err("a: 12-34\n").to_string().contains("ISO 8601"));
}

#[test]
fn booleans() {
    let m = parse("a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: off\ng: \"true\"\n");
    assert!(b(&m, "a"));
    assert!(!b(&m, "b"));
    assert!(b(&m, "c"));
    assert!(!b(&m, "d"));
    assert!(b(&m, "e"));
    assert!(!b(&m, "f"));
    assert_eq!(s(&m, "g"), "true");
}

#[test]
fn datetime_and_block() {
    let m = parse("when: 2016-05-04T18:53:41Z\nblock (\nline one\n  line two )\n)\nafter: 1\n");
    assert_eq!(
        get(&m, "when").kind,
        Kind::DateTime("2016-05-04T18:53:41Z".into())
    );
    assert_eq!(s(&m, "block"), "\nline one\n  line two )\n");
    assert_eq!(i(&m, "after"), 1);
    assert!(parse_err("when: 2016-05-04\n")
        .to_string()
        .contains("ISO 8601"));
}

#[test]
fn maps_and_arrays() {
    let m = parse(
        r#"
        authorization {
          user: derek
          password = "s3cr3t"
          timeout 2
          nested { deep: { x: 1 } }
        }
        list: [1, 2, 3]
        newline_list: [
          "a"
          "b", # comment
          'c' // comment
        ]
        trailing: [1, 2, ]
        empty_list: []
        empty_map: {}
        one_line { a: 1, b: 2; c: 3 }
        maps_in_list = [ { user: a, password: b }, { nkey: U123 } ]
        "#,
    );
    let auth = sub(&m, "authorization");
    assert_eq!(s(auth, "user"), "derek");
    assert_eq!(s(auth, "password"), "s3cr3t");
    assert_eq!(i(auth, "timeout"), 2);
    assert_eq!(i(sub(sub(auth, "nested"), "deep"), "x"), 1);
    let ints: Vec<i64> = get(&m, "list")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ints, [1, 2, 3]);
    let strs: Vec<&str> = get(&m, "newline_list")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(strs, ["a", "b", "c"]);
    assert_eq!(get(&m, "trailing").as_array().unwrap().len(), 2);
    assert!(get(&m, "empty_list").as_array().unwrap().is_empty());
    assert!(sub(&m, "empty_map").is_empty());
    assert_eq!(keys(sub(&m, "one_line")), ["a", "b", "c"]);
    let users = get(&m, "maps_in_list").as_array().unwrap();
    assert_eq!(s(users[0].as_map().unwrap(), "password"), "b");
    assert_eq!(s(users[1].as_map().unwrap(), "nkey"), "U123");
}

#[test]
fn json_like_top_level() {
    let m = parse(r#"{ "port": 4222, "debug": true, "tls": { "verify": false } }"#);
    assert_eq!(i(&m, "port"), 4222);
    assert!(b(&m, "debug"));
    assert!(!b(sub(&m, "tls"), "verify"));
}

#[test]
fn later_keys_win() {
    let m = parse("port: 1\nport: 2\n");
    assert_eq!(i(&m, "port"), 2);
    assert_eq!(m.len(), 1);
}

#[test]
fn variables() {
    let m = parse(concat!(
        "TOKEN: \"s3cr3t\"\n",
        "size = 2MB\n",
        "authorization { token: $TOKEN, inner: 5, x: $inner }\n",
        "max_payload: $size\n",
        "bcrypt: $2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG\n",
    ));
    assert_eq!(s(sub(&m, "authorization"), "token"), "s3cr3t");
    assert_eq!(i(sub(&m, "authorization"), "x"), 5);
    assert_eq!(i(&m, "max_payload"), 2 << 20);
    assert!(s(&m, "bcrypt").starts_with("$2a$11$"));
    let token_entry = m.entries().iter().find(|e| e.key == "TOKEN").unwrap();
    assert!(token_entry.used_as_variable);
    let err = parse_err("a: $missing\n").to_string();
    assert!(err.contains("'missing' can not be found"), "{err}");
    assert!(err.starts_with("<string>:1:4:"), "{err}");
}

#[test]
fn environment_variables() {
    let env = |name: &str| match name {
        "SB_PORT" => Some("4333".to_string()),
        "SB_NAME" => Some("\"from env\"".to_string()),
        "SB_MAP" => Some("{ a: 1 }".to_string()),
        "SB_CHAIN" => Some("$SB_PORT".to_string()),
        "SB_LOOP" => Some("$SB_LOOP".to_string()),
        "SB_BAD" => Some("a b c".to_string()),
        _ => None,
    };
    let m = parse_str_with_env(
        "port: $SB_PORT\nname: $SB_NAME\nm: $SB_MAP\nc: $SB_CHAIN\n",
        None,
        &env,
    )
    .unwrap();
    assert_eq!(i(&m, "port"), 4333);
    assert_eq!(s(&m, "name"), "from env");
    assert_eq!(i(sub(&m, "m"), "a"), 1);
    assert_eq!(i(&m, "c"), 4333);
    let err = parse_str_with_env("x: $SB_LOOP\n", None, &env).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    let err = parse_str_with_env("x: $SB_BAD\n", None, &env).unwrap_err();
    assert!(err.to_string().contains("could not be parsed"), "{err}");
    // The real process environment is the default source.
    let m = parse_str("home: $PATH\n", None).unwrap();
    assert!(get(&m, "home").as_str().is_some());
    for odd in ["x: $\n", "x: $a=b\n", "x: $a\u{0}b\n"] {
        assert!(parse_str(odd, None).is_err(), "{odd:?}");
    }
}

#[test]
fn includes() {
    let dir = temp_dir("include");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("auth.conf"), "user: alice\npassword: 'pw'\n").unwrap();
    std::fs::write(
        dir.join("sub/inner.conf"),
        "include '../leaf.conf'\nmiddle: 2\n",
    )
    .unwrap();
    std::fs::write(dir.join("leaf.conf"), "leaf: 3\n").unwrap();
    let main = dir.join("main.conf");
    std::fs::write(
        &main,
        "port: 1\nauthorization {\n  include \"auth.conf\"\n  timeout: 1\n}\ninclude sub/inner.conf\nafter: $leaf\n",
    )
    .unwrap();
    let m = super::parse_file(&main).unwrap();
    let auth = sub(&m, "authorization");
    assert_eq!(s(auth, "user"), "alice");
    assert_eq!(s(auth, "password"), "pw");
    assert_eq!(i(auth, "timeout"), 1);
    assert_eq!(i(&m, "middle"), 2);
    assert_eq!(i(&m, "leaf"), 3);
    assert_eq!(i(&m, "after"), 3);

    // A missing include names the include and the including line.
    std::fs::write(&main, "port: 1\ninclude nothere.conf\n").unwrap();
    let err = super::parse_file(&main).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("main.conf:2:1"), "{text}");
    assert!(text.contains("nothere.conf"), "{text}");

    // An error inside an include reports the included file's line.
    std::fs::write(dir.join("bad.conf"), "ok: 1\nbad: [1, 2\n").unwrap();
    std::fs::write(&main, "include bad.conf\n").unwrap();
    let err = super::parse_file(&main).unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert!(err.pos().unwrap().file.ends_with("bad.conf"));

    // Include cycles stop.
    std::fs::write(dir.join("loop.conf"), "include loop.conf\n").unwrap();
    std::fs::write(&main, "include loop.conf\n").unwrap();
    let err = super::parse_file(&main).unwrap_err();
    assert!(format!("{err}").contains("nested too deeply"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_errors_name_the_line() {
    let cases: &[(&str, u32)] = &[
        ("a: 1\nb: [1, 2\n", 3),
        ("a: 1\nb {\n c: 1\n", 4),
        ("a: 1\n\nb: \"unterminated\n", 3),
        ("a: 1\nb: 'x\n", 2),
        ("a: 1\nb:\nc: 2\n", 2),
        ("a: 1\nb: 1 2\n", 2),
        ("a: 1\n  :x\n", 2),
        ("a { b: 1 c: 2 }\n", 1),
        ("x: \"bad \\q escape\"\n", 1),
        ("x: \"\\xZZ\"\n", 1),
        ("a: 1\nkey_without_value", 2),
        ("a: [1,,2]\n", 1),
        ("m { , }\n", 1),
    ];
    for (text, line) in cases {
        let err = parse_err(text);
        assert_eq!(err.line(), Some(*line), "{text:?} -> {err}");
        assert!(err.to_string().starts_with("<string>:"), "{err}");
    }
}

#[test]
fn origin_names_file() {
    let err = parse_str_with_env("a: [", Some(Path::new("/etc/x.conf")), &|_| None).unwrap_err();
    assert!(err.to_string().starts_with("/etc/x.conf:1:"), "{err}");
}

#[test]
fn positions() {
    let m = parse("a: 1\n  b: {\n    c: \"x\"\n  }\n");
    let e = &m.entries()[1];
    assert_eq!((e.key_pos.line, e.key_pos.col), (2, 3));
    let c = &e.value.as_map().unwrap().entries()[0];
    assert_eq!(
        (c.key_pos.line, c.value.pos.line, c.value.pos.col),
        (3, 3, 8)
    );
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("a: {}{}", "[".repeat(500), "]".repeat(500));
    assert!(parse_err(&text).to_string().contains("nested too deeply"));
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse_str_with_env(&text, None, &|_| Some("1".to_string()));
    }

    #[test]
    fn never_panics_on_config_like_text(
        text in proptest::collection::vec(
            prop_oneof![
                Just("a"), Just(":"), Just("="), Just(" "), Just("\n"), Just("{"), Just("}"),
                Just("["), Just("]"), Just(","), Just(";"), Just("\""), Just("'"), Just("#"),
                Just("//"), Just("$a"), Just("$E"), Just("1"), Just("-"), Just("."), Just("k"),
                Just("b"), Just("\\"), Just("x"), Just("("), Just(")"), Just("include "),
                Just("2016-01-01T00:00:00Z"), Just("é"), Just("\r"), Just("\t"),
            ],
            0..60,
        ).prop_map(|v| v.concat())
    ) {
        let _ = parse_str_with_env(&text, None, &|n| (n == "E").then(|| "[$E]".to_string()));
    }

    #[test]
    fn integers_round_trip(n in any::<i64>()) {
        let m = parse(&format!("n: {n}\n"));
        prop_assert_eq!(i(&m, "n"), n);
    }
}
