#![allow(clippy::unwrap_used)]

use rcgen::{CertificateParams, DnType, KeyPair, SanType};

use super::*;

fn cert(dn: &[(DnType, &str)], sans: Vec<SanType>) -> CertNames {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (kind, value) in dn {
        params.distinguished_name.push(kind.clone(), *value);
    }
    params.subject_alt_names = sans;
    let der = params.self_signed(&key).unwrap().der().to_vec();
    CertNames::from_der(&der).unwrap()
}

fn dc() -> DnType {
    DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25])
}

#[test]
fn the_subject_is_written_as_go_writes_it() {
    let names = cert(
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme, Inc."),
            (DnType::OrganizationalUnitName, "NATS"),
            (DnType::CommonName, "alice"),
        ],
        vec![],
    );
    assert_eq!(names.rdn, "CN=alice,OU=NATS,O=Acme\\, Inc.,C=US");
    assert_eq!(names.rdn_with_dcs, None);
    assert_eq!(
        names.dn.unwrap(),
        vec![
            vec![("CN".to_string(), "alice".to_string())],
            vec![("OU".to_string(), "NATS".to_string())],
            vec![("O".to_string(), "Acme, Inc.".to_string())],
            vec![("C".to_string(), "US".to_string())],
        ]
    );
}

#[test]
fn domain_components_follow_the_subject_in_the_second_form() {
    // (rcgen keeps one value per attribute type.)
    let names = cert(&[(dc(), "example"), (DnType::CommonName, "svc")], vec![]);
    assert_eq!(names.rdn, "CN=svc");
    assert_eq!(names.rdn_with_dcs.as_deref(), Some("CN=svc,DC=example"));
    // In DN form the domain components are part of the name.
    let users = ["DC=example,CN=svc"];
    assert_eq!(names.find_user(users.into_iter()), Some(users[0]));
    // Go's form with the components, looked up as it is.
    let users = ["CN=svc,DC=example", "CN=svc"];
    assert_eq!(names.find_user(users.into_iter()), Some(users[0]));
}

#[test]
fn users_are_found_in_nats_servers_order() {
    let names = cert(
        &[
            (DnType::OrganizationName, "Acme"),
            (DnType::CommonName, "bob"),
        ],
        vec![
            SanType::URI("spiffe://acme/bob".try_into().unwrap()),
            SanType::DnsName("bob.acme.test".try_into().unwrap()),
            SanType::Rfc822Name("bob@acme.test".try_into().unwrap()),
        ],
    );
    assert_eq!(
        names.sans,
        ["bob@acme.test", "bob.acme.test", "spiffe://acme/bob"]
    );
    let all = [
        "CN=bob,O=Acme",
        "spiffe://acme/bob",
        "bob.acme.test",
        "bob@acme.test",
    ];
    // The e-mail address first, then DNS names, URIs, and the subject last.
    assert_eq!(names.find_user(all.into_iter()), Some("bob@acme.test"));
    assert_eq!(
        names.find_user(all[..3].iter().copied()),
        Some("bob.acme.test")
    );
    assert_eq!(
        names.find_user(all[..2].iter().copied()),
        Some("spiffe://acme/bob")
    );
    assert_eq!(
        names.find_user(all[..1].iter().copied()),
        Some("CN=bob,O=Acme")
    );
    // A DN in another order, other spacing or type case still matches.
    for user in ["O=Acme,CN=bob", "cn=bob, o=Acme"] {
        assert_eq!(names.find_user([user].into_iter()), Some(user), "{user}");
    }
    // Values are compared exactly.
    assert_eq!(
        names.find_user(["CN=Bob,O=Acme", "nobody"].into_iter()),
        None
    );
}

#[test]
fn user_names_parse_as_distinguished_names() {
    assert_eq!(
        parse_dn("CN=a\\,b+UID=x, O=Acme ").unwrap(),
        vec![
            vec![
                ("CN".to_string(), "a,b".to_string()),
                ("UID".to_string(), "x".to_string())
            ],
            vec![("O".to_string(), "Acme".to_string())],
        ]
    );
    assert_eq!(parse_dn("CN=\\41x").unwrap()[0][0].1, "Ax");
    for bad in ["", "plain", "=x", "CN=#0101", "CN=x\\", "CN=x\\4"] {
        assert_eq!(parse_dn(bad), None, "{bad:?}");
    }
}
