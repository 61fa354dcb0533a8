//! TLS: classic (plain INFO, then the handshake), handshake_first (with and without a
//! fallback delay), mutual TLS, the TLS timeout and start-up errors. Certificates are made at
//! test time with rcgen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::clients::{round_trip, STEP};
use crate::support::pki::{pki, Pki};
use crate::support::{for_each_target_async, for_each_target_bare, for_each_target_opts, RawConn};
use crate::support::{try_wait_for, ServerOpts, Target};
use async_nats::ConnectOptions;
use tokio::time::timeout;

fn tls_config(p: &Pki, extra: &str) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n{extra}\n}}\n",
        p.cert.display(),
        p.key.display(),
        p.ca.display()
    )
}

#[test]
fn classic_tls_info_is_plain_and_plaintext_connect_is_refused() {
    let p = pki();
    for_each_target_opts(&ServerOpts::new().config(&tls_config(&p, "")), |s| {
        let mut c = s.raw();
        assert_eq!(c.info["tls_required"], true, "INFO: {}", c.info);
        assert!(c.info.get("tls_verify").is_none(), "INFO: {}", c.info);
        assert!(c.info.get("tls_available").is_none(), "INFO: {}", c.info);
        c.send_lossy("CONNECT {\"verbose\":false}\r\nPING\r\n");
        c.expect_closed();
    });
}

#[test]
fn classic_tls_idle_client_is_closed_after_the_tls_timeout() {
    let p = pki();
    for_each_target_opts(
        &ServerOpts::new().config(&tls_config(&p, "timeout: 0.5")),
        |s| {
            let started = Instant::now();
            let mut c = s.raw();
            c.expect_closed();
            assert!(started.elapsed() >= Duration::from_millis(400));
        },
    );
}

#[test]
fn handshake_first_sends_nothing_in_plain_text() {
    let p = pki();
    let config = tls_config(&p, "handshake_first: true\ntimeout: 1");
    for_each_target_opts(&ServerOpts::new().config(&config), |s| {
        let mut c = RawConn::connect_no_info(s.addr(), s.target.name());
        c.expect_silence(400);
        c.expect_closed();
    });
}

#[test]
fn handshake_first_fallback_sends_plain_info_after_the_delay() {
    let p = pki();
    let config = tls_config(&p, "handshake_first: \"300ms\"");
    for_each_target_opts(&ServerOpts::new().config(&config), |s| {
        let started = Instant::now();
        let mut c = RawConn::connect_no_info(s.addr(), s.target.name());
        c.expect_silence(150);
        c.read_info();
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(c.info["tls_required"], true, "INFO: {}", c.info);
    });
}

#[test]
fn async_nats_over_tls_classic_and_handshake_first() {
    let p = pki();
    let ca = p.ca.clone();
    for_each_target_async(
        &ServerOpts::new().config(&tls_config(&p, "")),
        STEP * 3,
        |s| {
            let ca = ca.clone();
            async move {
                let opts = ConnectOptions::new()
                    .add_root_certificates(ca)
                    .require_tls(true);
                round_trip(
                    &support::connect_once(s.url(), opts).await.unwrap(),
                    "tls.test",
                    b"secret",
                )
                .await;
            }
        },
    );
    let config = tls_config(&p, "handshake_first: true");
    for_each_target_async(&ServerOpts::new().config(&config), STEP * 3, |s| {
        let ca = ca.clone();
        async move {
            let opts = ConnectOptions::new()
                .add_root_certificates(ca)
                .require_tls(true)
                .tls_first();
            round_trip(
                &support::connect_once(s.url(), opts).await.unwrap(),
                "tls.test",
                b"secret",
            )
            .await;
        }
    });
}

#[test]
fn mutual_tls_requires_a_client_certificate() {
    let p = pki();
    let config = tls_config(&p, "verify: true");
    let (ca, cert, key) = (p.ca.clone(), p.client_cert.clone(), p.client_key.clone());
    for_each_target_async(&ServerOpts::new().config(&config), STEP * 3, |s| {
        let (ca, cert, key) = (ca.clone(), cert.clone(), key.clone());
        async move {
            let opts = ConnectOptions::new()
                .add_root_certificates(ca.clone())
                .add_client_certificate(cert, key)
                .require_tls(true);
            round_trip(
                &support::connect_once(s.url(), opts).await.unwrap(),
                "tls.test",
                b"secret",
            )
            .await;
            let anonymous = ConnectOptions::new()
                .add_root_certificates(ca)
                .require_tls(true);
            let refused = match support::connect_once(s.url(), anonymous).await {
                Err(_) => true,
                // TLS 1.3 may report the refusal only after the handshake "succeeded".
                Ok(c) => timeout(STEP, c.flush()).await.map_or(true, |r| r.is_err()),
            };
            assert!(refused, "a client without a certificate must be refused");
        }
    });
    for_each_target_opts(&ServerOpts::new().config(&config), |s| {
        let c = s.raw();
        assert_eq!(c.info["tls_verify"], true, "INFO: {}", c.info);
    });
}

fn start_error(target: &Target, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = match target {
        Target::Switchboard => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
            c.arg("serve");
            c
        }
        Target::Reference(path) => Command::new(path),
    };
    cmd.args(["-a", "127.0.0.1", "-p", &support::free_port().to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let Some(status) = try_wait_for(Duration::from_secs(5), || child.try_wait().unwrap()) else {
        let _ = child.kill();
        let _ = child.wait();
        return (None, "still running".into());
    };
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (status.code(), text)
}

#[test]
fn unreadable_certificate_or_key_stops_start_up() {
    let p = pki();
    let missing = p.cert.with_file_name("missing.pem");
    let cert = p.cert.to_str().unwrap();
    let key = p.key.to_str().unwrap();
    for_each_target_bare(|t| {
        let cases: [(&[&str], &str); 4] = [
            (
                &[
                    "--tls",
                    "--tlscert",
                    missing.to_str().unwrap(),
                    "--tlskey",
                    key,
                ],
                "missing.pem",
            ),
            (
                &[
                    "--tls",
                    "--tlscert",
                    cert,
                    "--tlskey",
                    missing.to_str().unwrap(),
                ],
                "missing.pem",
            ),
            (
                &["--tls", "--tlscert", cert, "--tlskey", cert],
                "certificate/key pair",
            ),
            (
                &["--tls", "--tlscert", key, "--tlskey", key],
                "certificate/key pair",
            ),
        ];
        for (args, needle) in cases {
            let (code, text) = start_error(t, args);
            assert_eq!(code, Some(1), "{args:?}: {text}");
            assert!(
                text.contains("error parsing X509 certificate/key pair") && text.contains(needle),
                "{args:?}: {text}"
            );
        }
    });
}

/// `verify_and_map`: the user is the one the client certificate names (an e-mail address,
/// a DNS name, a URI, or the subject as a DN in any order), with that user's permissions;
/// a certificate that names no user is refused, whatever user and password CONNECT sends.
#[test]
fn verify_and_map_takes_the_user_from_the_certificate() {
    use support::pki::{DnType, SanType};
    let p = pki();
    fn subject(cn: &str) -> Vec<(DnType, &str)> {
        vec![(DnType::OrganizationName, "Acme"), (DnType::CommonName, cn)]
    }
    let by_email = p.client(
        "mail",
        &subject("carol"),
        vec![SanType::Rfc822Name("carol@acme.test".try_into().unwrap())],
    );
    let by_dn = p.client("dn", &subject("alice"), vec![]);
    let unknown = p.client("unknown", &subject("mallory"), vec![]);
    let config = format!(
        "{}authorization {{ users [
            {{ user: \"O=Acme,CN=alice\" }}
            {{ user: \"carol@acme.test\", permissions: {{ publish: {{ deny: \"forbidden\" }} }} }}
            {{ user: app, password: app }}
        ] }}\n",
        tls_config(&p, "verify_and_map: true")
    );
    let ca = p.ca.clone();
    for_each_target_async(&ServerOpts::new().config(&config), STEP * 3, |s| {
        let (ca, by_email, by_dn, unknown) =
            (ca.clone(), by_email.clone(), by_dn.clone(), unknown.clone());
        async move {
            let with = |(cert, key): (std::path::PathBuf, std::path::PathBuf)| {
                ConnectOptions::new()
                    .add_root_certificates(ca.clone())
                    .add_client_certificate(cert, key)
                    .require_tls(true)
            };
            // The subject, written in another order than the certificate's.
            let alice = support::connect_once(s.url(), with(by_dn.clone()))
                .await
                .unwrap();
            round_trip(&alice, "mapped.dn", b"hi").await;
            // The e-mail address, with that user's permissions.
            let carol = support::connect_once(s.url(), with(by_email.clone()))
                .await
                .unwrap();
            round_trip(&carol, "mapped.mail", b"hi").await;
            let mut errors = carol.subscribe("forbidden").await.unwrap();
            carol.flush().await.unwrap();
            carol.publish("forbidden", "x".into()).await.unwrap();
            carol.flush().await.unwrap();
            assert!(
                timeout(STEP, futures_util::StreamExt::next(&mut errors))
                    .await
                    .is_err(),
                "carol may not publish to `forbidden`"
            );
            // A certificate that names no user: refused, even with a good password.
            let refused = support::connect_once(
                s.url(),
                with(unknown.clone()).user_and_password("app".into(), "app".into()),
            )
            .await;
            let refused = match refused {
                Err(_) => true,
                Ok(c) => timeout(STEP, c.flush()).await.map_or(true, |r| r.is_err()),
            };
            assert!(
                refused,
                "a certificate that maps to no user must be refused"
            );
        }
    });
}
