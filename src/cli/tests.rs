//! Command-line parsing.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::options::HandshakeFirst;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn run(s: &str) -> RunPlan {
    match parse_server_args(args(s)) {
        Ok(Launch::Run(plan)) => plan,
        other => panic!("{s:?}: expected Run, got {other:?}"),
    }
}

fn err(s: &str) -> CliError {
    match parse_server_args(args(s)) {
        Err(e) => e,
        Ok(other) => panic!("{s:?}: expected an error, got {other:?}"),
    }
}

fn temp_file(tag: &str, text: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "switchboard-cli-{tag}-{}-{}.conf",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults() {
    let plan = run("");
    assert_eq!(plan.options, Options::default());
    assert!(plan.warnings.is_empty());
    assert_eq!(plan.config_file, None);
    assert_eq!(plan.options.host, "127.0.0.1");
}

#[test]
fn nats_py_command_line() {
    let o = run("-p 4222 -m 8222 -a 127.0.0.1 --user foo --pass bar").options;
    assert_eq!(o.port, 4222);
    assert_eq!(o.http_port, Some(8222));
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.auth.user.as_deref(), Some("foo"));
    assert_eq!(o.auth.password.as_deref(), Some("bar"));
    let o = run("-p 4223 --auth token").options;
    assert_eq!(o.auth.token.as_deref(), Some("token"));
}

#[test]
fn flag_forms() {
    for form in [
        "-p 5000",
        "--p 5000",
        "-p=5000",
        "--p=5000",
        "-port 5000",
        "--port=5000",
    ] {
        assert_eq!(run(form).options.port, 5000, "{form}");
    }
    assert_eq!(run("-p -1").options.port, -1);
    assert_eq!(run("--port=-1").options.port, -1);
    assert_eq!(run("-p 0").options.port, 4222);
    assert_eq!(run("-p 0x10").options.port, 16);
    assert_eq!(run("-p 010").options.port, 8);
    assert_eq!(run("-p 1_000").options.port, 1000);
    assert_eq!(run("-user x").options.auth.user.as_deref(), Some("x"));
    assert_eq!(run("--user x").options.auth.user.as_deref(), Some("x"));
    assert_eq!(run("-user=x").options.auth.user.as_deref(), Some("x"));
    // A string flag takes the next argument whatever it looks like.
    assert_eq!(
        run("--pass -D").options.auth.password.as_deref(),
        Some("-D")
    );
    assert_eq!(run("--addr ::1").options.host, "::1");
    assert_eq!(run("--net 0.0.0.0").options.host, "0.0.0.0");
    assert_eq!(run("-n a").options.server_name.as_deref(), Some("a"));
    assert_eq!(
        run("--name b --server_name c")
            .options
            .server_name
            .as_deref(),
        Some("c")
    );
    // nats.c passes the quotes through.
    assert_eq!(
        run("-server_name \"n1\"").options.server_name.as_deref(),
        Some("\"n1\"")
    );
    // The last value wins.
    assert_eq!(run("-p 1 -p 2").options.port, 2);
}

#[test]
fn boolean_flags() {
    let o = run("-D").options;
    assert!(o.logging.debug && !o.logging.trace);
    let o = run("-V").options;
    assert!(!o.logging.debug && o.logging.trace);
    for f in ["-DV", "--DV", "-DVV"] {
        let o = run(f).options;
        assert!(o.logging.debug && o.logging.trace, "{f}");
    }
    let o = run("-VV").options;
    assert!(!o.logging.debug && o.logging.trace);
    let o = run("--debug --trace").options;
    assert!(o.logging.debug && o.logging.trace);
    let o = run("-D=true -V=1").options;
    assert!(o.logging.debug && o.logging.trace);
    let o = run("-DV -D=false").options;
    assert!(!o.logging.debug && o.logging.trace);
    let o = run("-DV=false").options;
    assert!(!o.logging.debug && !o.logging.trace);
    assert!(!run("-T=false").options.logging.time);
    assert!(run("-T").options.logging.time);
    // A boolean flag does not take the next argument.
    assert!(matches!(err("-D true"), CliError::UnrecognizedCommand(c) if c == "true"));
    let e = err("-D=maybe");
    assert_eq!(
        e.to_string(),
        "invalid boolean value \"maybe\" for -D: parse error"
    );
    // Combined short flags are not a thing in Go.
    assert_eq!(err("-VD").to_string(), "flag provided but not defined: -VD");
}

#[test]
fn logging_and_pid_files() {
    let o = run("-l /tmp/s.log -P /tmp/s.pid").options;
    assert_eq!(o.logging.file, Some(PathBuf::from("/tmp/s.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/s.pid")));
    let o = run("--log=a.log --pid=a.pid").options;
    assert_eq!(o.logging.file, Some(PathBuf::from("a.log")));
    assert_eq!(o.pid_file, Some(PathBuf::from("a.pid")));
}

#[test]
fn unsupported_flags_warn_and_consume_values() {
    let plan = run(
        "--cluster nats://127.0.0.1:6222 --cluster_listen nats://127.0.0.1:6223 \
         --routes nats://127.0.0.1:6222,nats://127.0.0.1:6223 --cluster_name CLUSTER --client_advertise x:1 \
         --no_advertise --connect_retries 3 --cluster_advertise y:2 -ms 8443 --https_port 8444 \
         --profile 6060 -s -r udp://x:514 --log_size_limit 1000 --max_traced_msg_len 10 \
         --logtime_utc --ports_file_dir /tmp -n node1 -p 4333",
    );
    assert_eq!(plan.options.server_name.as_deref(), Some("node1"));
    assert_eq!(plan.options.port, 4333);
    assert_eq!(plan.warnings.len(), 17, "{:#?}", plan.warnings);
    assert_eq!(
        plan.warnings[0],
        "flag \"--cluster\" is not supported yet and is ignored"
    );
    assert!(plan.warnings[2].contains("\"--routes\""));
}

#[test]
fn jetstream_flags() {
    use crate::options::JetStreamOptions;
    // nats-server's default, and serve's: off.
    assert_eq!(run("").options.jetstream, None);
    for on in ["-js", "--jetstream", "-js=true", "--jetstream=1"] {
        let plan = run(on);
        assert_eq!(
            plan.options.jetstream,
            Some(JetStreamOptions::default()),
            "{on}"
        );
        assert!(plan.warnings.is_empty(), "{on}: {:?}", plan.warnings);
    }
    assert_eq!(run("-js=false").options.jetstream, None);
    // The last one wins, as with Go's flags.
    assert_eq!(run("-js -js=false").options.jetstream, None);
    assert!(run("-js=false --jetstream").options.jetstream.is_some());

    // -sd alone does not turn JetStream on (nats-server neither); it is kept for -js.
    let o = run("-sd /tmp/js").options;
    assert_eq!(o.jetstream, None);
    assert_eq!(
        o.jetstream_disabled.unwrap().store_dir,
        Some(PathBuf::from("/tmp/js"))
    );
    for line in [
        "-js -sd /tmp/js",
        "-sd /tmp/js -js",
        "--store_dir=/tmp/js --jetstream",
        "-sd=/tmp/js -js -p 4333",
    ] {
        let js = run(line).options.jetstream.unwrap();
        assert_eq!(js.store_dir, Some(PathBuf::from("/tmp/js")), "{line}");
    }
    assert_eq!(run("-js -sd=").options.jetstream.unwrap().store_dir, None);
    assert_eq!(err("-sd").to_string(), "flag needs an argument: -sd");
    assert_eq!(
        err("-js=maybe").to_string(),
        "invalid boolean value \"maybe\" for -js: parse error"
    );
    // -js takes no value: the next argument is not its.
    assert_eq!(
        err("-js false").to_string(),
        "unrecognized command: \"false\""
    );
    assert!(!usage().contains("JetStream options (not supported"));
    assert!(usage().contains("-js, --jetstream"));
}

#[test]
fn jetstream_flags_override_the_file() {
    let conf = temp_file(
        "js",
        "jetstream { store_dir: /from/file, max_mem: 1G, sync_interval: always }\n",
    );
    let c = conf.display();
    let js = run(&format!("-c {c}")).options.jetstream.unwrap();
    assert_eq!(js.store_dir, Some(PathBuf::from("/from/file")));
    assert_eq!(js.max_memory, Some(1_000_000_000));
    // -sd wins over the file (nats-server would refuse the pair, see the module docs).
    let js = run(&format!("-c {c} -sd /from/flag"))
        .options
        .jetstream
        .unwrap();
    assert_eq!(js.store_dir, Some(PathBuf::from("/from/flag")));
    assert_eq!(js.max_memory, Some(1_000_000_000));
    assert_eq!(js.sync, crate::options::SyncPolicy::Always);
    // -js=false turns off what the file turned on, keeping its settings for a later -js.
    let o = run(&format!("-c {c} -js=false")).options;
    assert_eq!(o.jetstream, None);
    assert_eq!(
        o.jetstream_disabled.unwrap().max_memory,
        Some(1_000_000_000)
    );
    std::fs::remove_file(&conf).unwrap();

    // The file's settings serve -js when the file leaves JetStream off.
    let conf = temp_file("js-off", "store_dir: /from/file\n");
    let c = conf.display();
    assert_eq!(run(&format!("-c {c}")).options.jetstream, None);
    let js = run(&format!("-c {c} -js")).options.jetstream.unwrap();
    assert_eq!(js.store_dir, Some(PathBuf::from("/from/file")));
    std::fs::remove_file(&conf).unwrap();
    let conf = temp_file(
        "js-disabled",
        "jetstream { enabled: false, max_file: \"2G\" }\n",
    );
    let c = conf.display();
    assert_eq!(run(&format!("-c {c}")).options.jetstream, None);
    let js = run(&format!("-c {c} --jetstream"))
        .options
        .jetstream
        .unwrap();
    assert_eq!(js.max_store, Some(2 << 30));
    std::fs::remove_file(&conf).unwrap();
    let conf = temp_file("js-word", "jetstream: disabled\n");
    let c = conf.display();
    assert!(run(&format!("-c {c} -js")).options.jetstream.is_some());
    std::fs::remove_file(&conf).unwrap();
}

#[test]
fn busy_poll_flag() {
    assert_eq!(run("--busy_poll 0").options.busy_poll, Duration::ZERO);
    assert_eq!(
        run("--busy_poll=40us").options.busy_poll,
        Duration::from_micros(40)
    );
    assert_eq!(
        err("--busy_poll 40").to_string(),
        "invalid value \"40\" for flag -busy_poll: missing unit in duration \"40\""
    );
}

#[test]
fn flag_errors() {
    assert_eq!(
        err("-xyz").to_string(),
        "flag provided but not defined: -xyz"
    );
    assert_eq!(
        err("--xyz=1").to_string(),
        "flag provided but not defined: -xyz"
    );
    assert_eq!(err("-p").to_string(), "flag needs an argument: -p");
    assert_eq!(
        err("-p abc").to_string(),
        "invalid value \"abc\" for flag -p: parse error"
    );
    assert_eq!(
        err("-p 99999999999999999999").to_string(),
        "invalid value \"99999999999999999999\" for flag -p: value out of range"
    );
    assert!(matches!(err("-p 70000"), CliError::InvalidValue { .. }));
    assert_eq!(err("---p").to_string(), "bad flag syntax: ---p");
    assert_eq!(err("-=p").to_string(), "bad flag syntax: -=p");
    assert_eq!(err("foo").to_string(), "unrecognized command: \"foo\"");
    assert_eq!(
        err("-p 1 extra").to_string(),
        "unrecognized command: \"extra\""
    );
    assert!(matches!(err("-- -p"), CliError::UnrecognizedCommand(c) if c == "-p"));
    assert!(err("-xyz").is_usage_error());
    assert!(!err("foo").is_usage_error());
    assert!(matches!(
        err("-n \"a b\""),
        CliError::UnrecognizedCommand(_)
    ));
}

#[test]
fn version_help_and_commands() {
    for a in ["-v", "--version", "version", "VERSION", "-p 1 version"] {
        assert_eq!(parse_server_args(args(a)).unwrap(), Launch::Version, "{a}");
    }
    for a in ["-h", "--help", "help"] {
        match parse_server_args(args(a)).unwrap() {
            Launch::Help(text) => assert!(text.contains("--config"), "{a}"),
            other => panic!("{a}: {other:?}"),
        }
    }
    match parse_server_args(args("--help_tls")).unwrap() {
        Launch::Help(text) => assert!(text.contains("handshake_first")),
        other => panic!("{other:?}"),
    }
    // Version wins even with otherwise bad input after it is parsed.
    assert_eq!(parse_server_args(args("-v foo")).unwrap(), Launch::Version);
}

#[test]
fn signals() {
    let sig = |a: &str| match parse_server_args(args(a)).unwrap() {
        Launch::Signal(s) => s,
        other => panic!("{a}: {other:?}"),
    };
    let s = sig("--signal ldm=123");
    assert_eq!(s.command, SignalCommand::LameDuck);
    assert_eq!(s.pid.as_deref(), Some("123"));
    assert_eq!(s.command.signal_number(), libc::SIGUSR2);
    let s = sig("-sl stop");
    assert_eq!((s.command, s.pid), (SignalCommand::Stop, None));
    assert_eq!(sig("--signal=quit").command, SignalCommand::Quit);
    assert_eq!(
        sig("-sl=reload=/var/run/x.pid").pid.as_deref(),
        Some("/var/run/x.pid")
    );
    assert_eq!(sig("-sl reopen").command.signal_number(), libc::SIGUSR1);
    assert_eq!(sig("-sl term").command.name(), "term");
    assert_eq!(err("--signal nope").to_string(), "unknown signal \"nope\"");
    assert_eq!(
        err("--signal ldm=1=2=3").to_string(),
        "invalid signal parameters: [2 3]"
    );

    assert_eq!(resolve_pid("4242").unwrap(), 4242);
    let pidfile = temp_file("pid", "777\n");
    assert_eq!(resolve_pid(pidfile.to_str().unwrap()).unwrap(), 777);
    std::fs::remove_file(&pidfile).unwrap();
    assert!(matches!(resolve_pid("abc"), Err(CliError::InvalidPid(_))));
}

#[test]
fn flags_win_over_the_file() {
    let conf = temp_file(
        "precedence",
        "listen: localhost:4222\nserver_name: from_file\ndebug: true\nhttp_port: 8222\nauthorization { user: file, password: pw }\n",
    );
    let path = conf.display().to_string();
    for line in [
        format!("-p -1 -c {path} -n from_flag -D=false"),
        format!("-c {path} -p -1 -n from_flag -D=false"),
        format!("--config={path} --port=-1 --name=from_flag --debug=false"),
    ] {
        let plan = run(&line);
        assert_eq!(plan.config_file, Some(conf.clone()));
        let o = &plan.options;
        assert_eq!(o.port, -1, "{line}");
        assert_eq!(o.host, "localhost", "{line}");
        assert_eq!(o.server_name.as_deref(), Some("from_flag"));
        assert!(!o.logging.debug);
        assert_eq!(o.http_port, Some(8222));
        assert_eq!(o.auth.user.as_deref(), Some("file"));
    }
    let o = run(&format!("-c {path} --user flag -m 0 -a 0.0.0.0")).options;
    assert_eq!(o.auth.user.as_deref(), Some("flag"));
    assert_eq!(o.auth.password.as_deref(), Some("pw"));
    assert_eq!(o.http_port, None);
    assert_eq!(o.host, "0.0.0.0");
    std::fs::remove_file(&conf).unwrap();
}

#[test]
fn config_errors_and_test_mode() {
    let conf = temp_file("bad", "port: 1\nmax_payload: \"x\"\n");
    let e = err(&format!("-c {}", conf.display()));
    assert!(matches!(e, CliError::Config(_)));
    assert!(e.to_string().contains(":2:"), "{e}");
    std::fs::remove_file(&conf).unwrap();

    let conf = temp_file("good", "port: 4999\njetstream: {}\ncluster: {}\n");
    match parse_server_args(args(&format!("-t -c {}", conf.display()))).unwrap() {
        Launch::TestConfig(plan) => {
            assert_eq!(plan.options.port, 4999);
            assert!(plan.options.jetstream.is_some());
            assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
            assert!(plan.warnings[0].contains("\"cluster\""));
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&conf).unwrap();
    assert!(matches!(err("-t"), CliError::TestWithoutConfig));
    assert!(matches!(err("-c /nonexistent/x.conf"), CliError::Config(_)));
}

#[test]
fn tls_flags() {
    let o = run("--tls --tlscert c.pem --tlskey k.pem").options;
    let t = o.tls.unwrap();
    assert_eq!(t.cert_file, Some(PathBuf::from("c.pem")));
    assert_eq!(t.key_file, Some(PathBuf::from("k.pem")));
    assert!(!t.verify);
    let o = run("--tls --tlscert c --tlskey k --tlsverify --tlscacert ca").options;
    let t = o.tls.unwrap();
    assert!(t.verify);
    assert_eq!(t.ca_file, Some(PathBuf::from("ca")));
    // nats.c's single-dash forms.
    assert!(run("-tls -tlscert c -tlskey k -tlscacert ca")
        .options
        .tls
        .is_some());
    assert_eq!(
        err("--tls").to_string(),
        "TLS Server certificate must be present and valid"
    );
    assert_eq!(
        err("--tlscert c").to_string(),
        "TLS Server private key must be present and valid"
    );

    // Flags complete and override the file's tls block; --tls=false removes it.
    let conf = temp_file(
        "tls",
        "tls { cert_file: fc, key_file: fk, handshake_first: \"300ms\", timeout: 5 }\n",
    );
    let path = conf.display().to_string();
    let t = run(&format!("-c {path} --tlsverify --tlscacert ca"))
        .options
        .tls
        .unwrap();
    assert_eq!(t.cert_file, Some(PathBuf::from("fc")));
    assert!(t.verify);
    assert_eq!(t.timeout, Duration::from_secs(5));
    assert_eq!(
        t.handshake_first,
        HandshakeFirst::Fallback(Duration::from_millis(300))
    );
    let t = run(&format!("-c {path} --tlscert xc")).options.tls.unwrap();
    assert_eq!(t.cert_file, Some(PathBuf::from("xc")));
    assert!(run(&format!("-c {path} --tls=false --tlscert c"))
        .options
        .tls
        .is_none());
    assert!(run(&format!("-c {path}")).options.tls.is_some());
    std::fs::remove_file(&conf).unwrap();
}

#[test]
fn go_integers() {
    assert_eq!(parse_go_int("42"), Ok(42));
    assert_eq!(parse_go_int("-42"), Ok(-42));
    assert_eq!(parse_go_int("+7"), Ok(7));
    assert_eq!(parse_go_int("0"), Ok(0));
    assert_eq!(parse_go_int("0b101"), Ok(5));
    assert_eq!(parse_go_int("0o17"), Ok(15));
    assert_eq!(parse_go_int("0X1f"), Ok(31));
    assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
    assert!(parse_go_int("9223372036854775808").is_err());
    assert!(parse_go_int("").is_err());
    assert!(parse_go_int("-").is_err());
    assert!(parse_go_int("08").is_err());
    assert!(parse_go_int("1__0").is_err());
    assert!(parse_go_int("_1").is_err());
    assert!(parse_go_int("1e3").is_err());
}

proptest::proptest! {
    #[test]
    fn never_panics(a in proptest::collection::vec("(-{0,3}[a-zA-Z_]{0,6}(=[-a-z0-9]{0,4})?)|([-0-9]{0,4})", 0..8)) {
        let _ = parse_server_args(a);
    }
}
