//! Value tree -> Options, with the configuration files client test suites use.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use super::syntax_tests::temp_dir;
use super::{apply_config_file, apply_config_str, ConfigError};
use crate::options::{
    AccountJetStreamLimits, HandshakeFirst, Options, ResponsePermission, SubjectPermission,
    DEFAULT_HOST,
};

fn load(text: &str) -> (Options, Vec<String>) {
    let mut o = Options::default();
    match apply_config_str(text, &mut o) {
        Ok(w) => (o, w),
        Err(e) => panic!("config failed: {e}\n---\n{text}"),
    }
}

fn load_err(text: &str) -> ConfigError {
    let mut o = Options::default();
    match apply_config_str(text, &mut o) {
        Ok(_) => panic!("expected an error\n---\n{text}"),
        Err(e) => e,
    }
}

const USER_NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

#[test]
fn async_nats_listen_and_sizes() {
    let (o, w) = load("listen: localhost:4222\nmax_payload = 128KB\n");
    assert_eq!(o.host, "localhost");
    assert_eq!(o.port, 4222);
    assert_eq!(o.max_payload, 128 * 1024);
    assert!(w.is_empty(), "{w:?}");

    let (o, _) = load("listen: 4333\n");
    assert_eq!((o.host.as_str(), o.port), (DEFAULT_HOST, 4333));
    let (o, _) = load("listen: \"[::1]:4444\"\n");
    assert_eq!((o.host.as_str(), o.port), ("::1", 4444));
    let (o, _) = load("listen: 0.0.0.0:-1\n");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", -1));
    let (o, _) = load("net: 10.0.0.1\nport: 0\n");
    assert_eq!((o.host.as_str(), o.port), ("10.0.0.1", 4222));
    let (o, _) = load("host: \"0.0.0.0\"\nport: -1\n");
    assert_eq!((o.host.as_str(), o.port), ("0.0.0.0", -1));
}

#[test]
fn monitoring() {
    let (o, _) = load("http: 8222\n");
    assert_eq!((o.http_host.as_deref(), o.http_port), (None, Some(8222)));
    let (o, _) = load("http: \"127.0.0.2:8333\"\n");
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("127.0.0.2"), Some(8333))
    );
    let (o, _) = load("http_port: -1\nhttp_host: 0.0.0.0\n");
    assert_eq!(
        (o.http_host.as_deref(), o.http_port),
        (Some("0.0.0.0"), Some(-1))
    );
    let (o, _) = load("monitor_port: 0\n");
    assert_eq!(o.http_port, None);
}

#[test]
fn limits_and_timers() {
    let (o, w) = load(concat!(
        "server_name: n1\nmax_control_line: 8KB\nmax_pending: 100MB\nmax_connections: 10\n",
        "max_subscriptions: 5\nping_interval: \"100ms\"\nping_max: 3\nwrite_deadline: \"5s\"\n",
    ));
    assert_eq!(o.server_name.as_deref(), Some("n1"));
    assert_eq!(o.max_control_line, 8192);
    assert_eq!(o.max_pending, 100 << 20);
    assert_eq!(o.max_connections, 10);
    assert_eq!(o.max_subscriptions, 5);
    assert_eq!(o.ping_interval, Duration::from_millis(100));
    assert_eq!(o.ping_max, 3);
    assert_eq!(o.write_deadline, Duration::from_secs(5));
    assert!(w.is_empty(), "{w:?}");

    // Plain numbers are seconds, with nats-server's deprecation warning.
    let (o, w) = load("ping_interval: 30\nwrite_deadline: 2\nmax_conn: 3\nmax_subs: 4\n");
    assert_eq!(o.ping_interval, Duration::from_secs(30));
    assert_eq!(o.write_deadline, Duration::from_secs(2));
    assert_eq!((o.max_connections, o.max_subscriptions), (3, 4));
    assert_eq!(w.len(), 2);
    assert!(w[0].contains("ping_interval should be converted to a duration"));
    assert!(w[0].starts_with("<string>:1:"), "{}", w[0]);
}

#[test]
fn busy_poll_is_a_duration_or_zero() {
    assert_eq!(
        load("busy_poll: \"250us\"\n").0.busy_poll,
        Duration::from_micros(250)
    );
    assert_eq!(load("busy_poll: 0\n").0.busy_poll, Duration::ZERO);
    assert_eq!(load("busy_poll: \"0s\"\n").0.busy_poll, Duration::ZERO);
    assert_eq!(load("port: 1\n").0.busy_poll, Duration::from_micros(100));
}

#[test]
fn logging_and_pid() {
    let (o, _) = load(
        "debug: true\ntrace: on\nlogtime: false\nlogfile: /tmp/x.log\npid_file: '/tmp/x.pid'\n",
    );
    assert!(o.logging.debug && o.logging.trace && !o.logging.time);
    assert_eq!(o.logging.file, Some(PathBuf::from("/tmp/x.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/x.pid")));
    let (o, _) = load("log_file: a.log\npidfile: a.pid\n");
    assert_eq!(o.logging.file, Some(PathBuf::from("a.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("a.pid")));
}

#[test]
fn simple_authorization() {
    let (o, _) = load("authorization { user: derek, password: porkchop, timeout: 1 }\n");
    assert_eq!(o.auth.user.as_deref(), Some("derek"));
    assert_eq!(o.auth.password.as_deref(), Some("porkchop"));
    assert_eq!(o.auth.timeout, Some(Duration::from_secs(1)));
    assert!(o.auth.is_required());

    let (o, _) = load("authorization {\n  token: \"s3cr3t\"\n  timeout: \"2s\"\n}\n");
    assert_eq!(o.auth.token.as_deref(), Some("s3cr3t"));
    assert_eq!(o.auth.timeout, Some(Duration::from_secs(2)));

    let (o, _) = load("authorization { token: t, timeout: 0.5 }\n");
    assert_eq!(o.auth.timeout, Some(Duration::from_millis(500)));

    let (_, w) = load("authorization { token: t, timeout: 1m }\n");
    assert!(w[0].contains("is high"), "{w:?}");

    let err = load_err("authorization { user: a, password: b, token: c }\n");
    assert!(
        err.to_string()
            .contains("Cannot have a user/pass and token"),
        "{err}"
    );
    let err = load_err("authorization { user: a, users: [ {user: b} ] }\n");
    assert!(
        err.to_string()
            .contains("single user/pass and a users array"),
        "{err}"
    );
}

#[test]
fn nats_c_users_with_permissions() {
    // nats.c's test/permissions.conf (tabs and all).
    let (o, w) = load(
        "authorization {\n  users = [\n    {\n\t\tuser: ivan\n\t\tpassword: pwd\n     \tpermissions: {\n    \t\tpublish=\"foo\"\n    \t\tsubscribe=\"bar\"\n     \t}\n\t}\n  ]\n}\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.auth.users.len(), 1);
    let u = &o.auth.users[0];
    assert_eq!(u.user.as_deref(), Some("ivan"));
    assert_eq!(u.password.as_deref(), Some("pwd"));
    let p = u.permissions.as_ref().unwrap();
    assert_eq!(
        p.publish,
        Some(SubjectPermission {
            allow: vec!["foo".into()],
            deny: vec![]
        })
    );
    assert_eq!(p.subscribe.as_ref().unwrap().allow, ["bar"]);

    // Two values on one line need a separator, in nats-server too.
    let err = load_err("authorization { users = [ { user: ivan, permissions { publish=\"foo\" subscribe=\"bar\" } } ] }\n");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    let (o, _) = load("authorization { users = [ { user: ivan, permissions { publish=\"foo\", subscribe=\"bar\" } } ] }\n");
    assert_eq!(
        o.auth.users[0]
            .permissions
            .as_ref()
            .unwrap()
            .subscribe
            .as_ref()
            .unwrap()
            .allow,
        ["bar"]
    );
}

#[test]
fn nkey_users_and_default_permissions() {
    let (o, _) = load(&format!(
        "authorization {{\n default_permissions {{ publish: [\"a.>\"] }}\n users [\n  {{ nkey: {USER_NKEY} }}\n  {{ user: x, password: y, permissions: {{ subscribe: \"q\" }} }}\n ]\n}}\n"
    ));
    assert_eq!(o.auth.users[0].nkey.as_deref(), Some(USER_NKEY));
    assert_eq!(
        o.auth.users[0]
            .permissions
            .as_ref()
            .unwrap()
            .publish
            .as_ref()
            .unwrap()
            .allow,
        ["a.>"]
    );
    assert!(o.auth.users[1]
        .permissions
        .as_ref()
        .unwrap()
        .publish
        .is_none());

    let err = load_err("authorization { users [ { nkey: UBAD } ] }\n");
    assert!(err.to_string().contains("Not a valid public nkey"), "{err}");
    let err = load_err(&format!(
        "authorization {{ users [ {{ nkey: {USER_NKEY}, user: a }} ] }}\n"
    ));
    assert!(err.to_string().contains("do not take usernames"), "{err}");
    let err = load_err("authorization { users [ { password: a } ] }\n");
    assert!(err.to_string().contains("requires a user"), "{err}");
    let err = load_err("authorization { users [ { user: a }, { user: a } ] }\n");
    assert!(err.to_string().contains("Duplicate user"), "{err}");
}

#[test]
fn nats_py_accounts_and_no_auth_user() {
    let (o, w) = load(
        r#"
port: 4555

accounts {
  a {
    users = [
      {user: a, pass: a, permissions = {
        subscribe = { allow = ["foo", "bar"], deny = ["quux"] }
        publish = { allow = ["foo", "bar"], deny = ["baz"] }
      }}
    ]
  }
  b {
    users = [
      {user: b, pass: b}
    ]
  }
}
no_auth_user: b
"#,
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.port, 4555);
    assert_eq!(o.auth.no_auth_user.as_deref(), Some("b"));
    assert_eq!(o.auth.accounts.len(), 2);
    let a = &o.auth.accounts[0];
    assert_eq!(a.name, "a");
    let p = a.users[0].permissions.as_ref().unwrap();
    assert_eq!(p.subscribe.as_ref().unwrap().deny, ["quux"]);
    assert_eq!(p.publish.as_ref().unwrap().allow, ["foo", "bar"]);
    assert_eq!(o.auth.accounts[1].users[0].password.as_deref(), Some("b"));
    assert!(o.auth.is_required());
}

#[test]
fn account_checks_and_warnings() {
    let (o, w) = load(
        "accounts { A { users: [{user: u}], jetstream: enabled, mappings: {} }, SYS: {} }\nsystem_account: SYS\n",
    );
    assert_eq!(o.auth.accounts.len(), 2);
    // An account's `jetstream` is read (see jetstream_tests.rs), `mappings` is not.
    assert_eq!(
        o.auth.accounts[0].jetstream,
        Some(AccountJetStreamLimits::default())
    );
    assert_eq!(o.auth.accounts[1].jetstream, None);
    assert_eq!(o.system_account.as_deref(), Some("SYS"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("config key \"accounts.A.mappings\" is not supported yet"));

    let (o, _) = load("accounts: [A, B]\n");
    assert_eq!(o.auth.accounts.len(), 2);
    let err = load_err("accounts { \"$G\": {} }\n");
    assert!(err.to_string().contains("Reserved Account"), "{err}");
    let err = load_err("accounts { A: 1 }\n");
    assert!(err.to_string().contains("Expected map entries"), "{err}");
    let err = load_err("accounts { A { users [{user: x}] }, B { users [{user: x}] } }\n");
    assert!(err.to_string().contains("Duplicate user"), "{err}");
}

#[test]
fn permission_forms() {
    let (o, _) = load(
        "authorization { users [ { user: a, permissions: { pub: [\"x\", \"y\"], sub: { deny: \"z\" }, allow_responses: true } }, { user: b, permissions: { allow_responses: { max: 5, expires: \"1m\" }, subscribe: \"foo q\" } } ] }\n",
    );
    let p = o.auth.users[0].permissions.as_ref().unwrap();
    assert_eq!(p.publish.as_ref().unwrap().allow, ["x", "y"]);
    assert_eq!(p.subscribe.as_ref().unwrap().deny, ["z"]);
    assert_eq!(
        p.allow_responses,
        Some(ResponsePermission {
            max_msgs: 1,
            expires: Duration::from_secs(120)
        })
    );
    let p = o.auth.users[1].permissions.as_ref().unwrap();
    assert_eq!(
        p.allow_responses,
        Some(ResponsePermission {
            max_msgs: 5,
            expires: Duration::from_secs(60)
        })
    );
    // allow_responses without publish: no blanket publish permission.
    assert_eq!(p.publish, Some(SubjectPermission::default()));
    assert_eq!(p.subscribe.as_ref().unwrap().allow, ["foo q"]);

    let err =
        load_err("authorization { users [ { user: a, permissions: { publish: \"a..b\" } } ] }\n");
    assert!(err.to_string().contains("not a valid subject"), "{err}");
    let err = load_err("authorization { users [ { user: a, permissions: { publish: 5 } } ] }\n");
    assert!(
        err.to_string().contains("expected subject permissions"),
        "{err}"
    );
    let err =
        load_err("authorization { users [ { user: a, permissions: { publish: \"a b\" } } ] }\n");
    assert!(err.to_string().contains("not a valid subject"), "{err}");
}

#[test]
fn tls_blocks() {
    let (o, w) = load(
        "port: 4222\ntls {\n  cert_file: \"./certs/server-cert.pem\"\n  key_file: \"./certs/server-key.pem\"\n  ca_file: \"./certs/ca.pem\"\n  handshake_first: true\n  verify: true\n  timeout: 3\n}\n",
    );
    assert!(w.is_empty(), "{w:?}");
    let t = o.tls.unwrap();
    assert_eq!(t.cert_file, Some(PathBuf::from("./certs/server-cert.pem")));
    assert_eq!(t.key_file, Some(PathBuf::from("./certs/server-key.pem")));
    assert_eq!(t.ca_file, Some(PathBuf::from("./certs/ca.pem")));
    assert!(t.verify);
    assert_eq!(t.timeout, Duration::from_secs(3));
    assert_eq!(t.handshake_first, HandshakeFirst::On);

    let tls_of = |hf: &str| {
        let (o, _) = load(&format!(
            "tls {{ cert_file: c, key_file: k, handshake_first: {hf} }}\n"
        ));
        o.tls.unwrap().handshake_first
    };
    assert_eq!(
        tls_of("\"300ms\""),
        HandshakeFirst::Fallback(Duration::from_millis(300))
    );
    assert_eq!(
        tls_of("auto"),
        HandshakeFirst::Fallback(Duration::from_millis(50))
    );
    assert_eq!(tls_of("false"), HandshakeFirst::Off);
    assert_eq!(tls_of("\"on\""), HandshakeFirst::On);
    let err = load_err("tls { cert_file: c, key_file: k, handshake_first: \"sometimes\" }\n");
    assert!(err.to_string().contains("tls.handshake_first"), "{err}");
    let err = load_err("tls { cert_file: c }\n");
    assert!(err.to_string().contains("missing 'key_file'"), "{err}");
    let err = load_err("tls { cert_file: 5, key_file: k }\n");
    assert!(err.to_string().contains("expected a file name"), "{err}");

    let (o, w) = load("tls { cert_file: c, key_file: k, timeout: \"1.5s\", verify_and_map: true, cipher_suites: [x] }\n");
    let t = o.tls.unwrap();
    assert!(t.verify && t.verify_and_map);
    assert_eq!(t.timeout, Duration::from_millis(1500));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("\"tls.cipher_suites\" is not supported yet"));
}

#[test]
fn unsupported_and_unknown_keys_warn() {
    let (o, w) = load(concat!(
        "port: 4222\n",
        "jetstream { store_dir: /tmp/js, max_mem_store: 64MiB, max_file_store: 10GiB, cipher: aes }\n",
        "websocket { port: -1, no_tls: true }\n",
        "cluster { name: c, listen: 127.0.0.1:6222 }\n",
        "leafnodes { remotes [ { url: \"nats://x\" } ] }\n",
        "resolver_pinned_accounts: [A]\n",
        "mqtt: {}\nlame_duck_duration: \"30s\"\n",
        "lame_duck_grace_period: \"5s\"\n",
        "colour: blue\n",
        "VAR: 1\nping_max: $VAR\n",
    ));
    assert_eq!(o.port, 4222);
    assert_eq!(o.ping_max, 1);
    assert_eq!(o.lame_duck_duration, std::time::Duration::from_secs(30));
    assert_eq!(o.lame_duck_grace_period, std::time::Duration::from_secs(5));
    let js = o.jetstream.unwrap();
    assert_eq!(js.store_dir, Some(PathBuf::from("/tmp/js")));
    assert_eq!(js.max_memory, Some(64 << 20));
    assert_eq!(js.max_store, Some(10 << 30));
    // websocket and leafnodes are served now: no warning.
    assert_eq!(o.websocket.as_ref().map(|ws| ws.port), Some(-1));
    assert_eq!(o.leafnodes.remotes.len(), 1);
    let expected = [
        "jetstream.cipher",
        "cluster",
        "resolver_pinned_accounts",
        "mqtt",
    ];
    assert_eq!(w.len(), expected.len() + 1, "{w:#?}");
    for (warning, key) in w.iter().zip(expected) {
        assert!(
            warning.ends_with(&format!(
                "config key \"{key}\" is not supported yet and is ignored"
            )),
            "{warning}"
        );
    }
    assert_eq!(
        w.last().unwrap(),
        "<string>:10:1: config key \"colour\" is unknown and is ignored"
    );
}

#[test]
fn invalid_values_name_key_and_line() {
    let cases: &[(&str, u32, &str)] = &[
        ("port: 1\nmax_payload: -1\n", 2, "max_payload"),
        ("port: 1\nmax_payload: 3GB\n", 2, "max_payload"),
        ("\n\nport: \"abc\"\n", 3, "port"),
        ("port: 70000\n", 1, "port"),
        ("ping_interval: \"2 minutes\"\n", 1, "ping_interval"),
        ("ping_interval: \"-2s\"\n", 1, "ping_interval"),
        ("write_deadline: true\n", 1, "write_deadline"),
        ("debug: 1\n", 1, "debug"),
        ("listen: \"localhost\"\n", 1, "listen"),
        ("listen: \"localhost:abc\"\n", 1, "listen"),
        ("server_name: \"a b\"\n", 1, "server_name"),
        (
            "a: 1\nauthorization {\n  timeout: \"x\"\n}\n",
            3,
            "authorization.timeout",
        ),
        ("authorization: 5\n", 1, "authorization"),
        (
            "authorization {\n users [\n  { user: a, password: 5 }\n ]\n}\n",
            3,
            "authorization.users[0].password",
        ),
        ("tls {\n  verify: \"yes\"\n}\n", 2, "tls.verify"),
        ("max_connections: -5\n", 1, "max_connections"),
        ("busy_poll: 100\n", 1, "busy_poll"),
        ("busy_poll: \"fast\"\n", 1, "busy_poll"),
        (
            "jetstream {\n  max_mem: \"1GiB\"\n}\n",
            2,
            "jetstream.max_mem",
        ),
        ("\njetstream: 5\n", 2, "jetstream"),
        (
            "accounts {\n A {\n  jetstream {\n   max_streams: \"x\"\n  }\n }\n}\n",
            4,
            "accounts.A.jetstream.max_streams",
        ),
    ];
    for (text, line, key) in cases {
        let err = load_err(text);
        match &err {
            ConfigError::Invalid { pos, key: k, .. } => {
                assert_eq!(pos.line, *line, "{text:?} -> {err}");
                assert_eq!(k, key, "{text:?} -> {err}");
            }
            other => panic!("{text:?}: expected Invalid, got {other}"),
        }
        assert!(err.to_string().starts_with("<string>:"), "{err}");
        assert!(err.to_string().contains(&format!("\"{key}\"")), "{err}");
    }
}

#[test]
fn config_file_with_include_and_empty_warning() {
    let dir = temp_dir("apply");
    std::fs::write(dir.join("auth.conf"), "authorization { token: abc }\n").unwrap();
    let main = dir.join("server.conf");
    std::fs::write(&main, "include ./auth.conf\nport: 4888\n").unwrap();
    let mut o = Options::default();
    let w = apply_config_file(&main, &mut o).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.auth.token.as_deref(), Some("abc"));
    assert_eq!(o.port, 4888);

    let empty = dir.join("empty.conf");
    std::fs::write(&empty, "# nothing\n").unwrap();
    let w = apply_config_file(&empty, &mut Options::default()).unwrap();
    assert!(w[0].contains("config has no values or is empty"), "{w:?}");

    let err = apply_config_file(&dir.join("missing.conf"), &mut Options::default()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("missing.conf"), "{err}");

    std::fs::write(&main, "port: 1\n\nmax_payload: \"big\"\n").unwrap();
    let err = apply_config_file(&main, &mut Options::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:3:", main.display())),
        "{text}"
    );
    assert!(text.contains("max_payload"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn system_account_keys() {
    let (o, w) = load("accounts { SYS {} }\nsystem: SYS\nno_sys_acc: true\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.system_account.as_deref(), Some("SYS"));
    assert!(o.no_system_account);
    let (o, _) = load("no_system_account: true\n");
    assert_eq!(o.system_account_name(), None);
    let err = load_err("system_account: 1\n");
    assert!(
        err.to_string()
            .contains("system account name must be a string"),
        "{err}"
    );
}
