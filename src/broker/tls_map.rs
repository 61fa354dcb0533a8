//! `verify_and_map`: the user a client certificate stands for, found as nats-server finds
//! it. The candidates, in its order: the certificate's e-mail addresses, then its DNS
//! names, then its URIs (each looked up as a user name); then the subject as a
//! distinguished name, equal to a user name parsed as one (RFC 4514), first in order and
//! then in any order of its RDNs; then the subject written as Go writes an RDN sequence,
//! with the domain components after it, and without them.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::X509Name;

/// The type names of the attributes a distinguished name may hold (by OID), as nats-server
/// knows them; a subject with any other attribute has no DN form.
const TYPE_NAMES: [(&str, &str); 10] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    ("0.9.2342.19200300.100.1.25", "DC"),
];

/// Go's `pkix.Name` order when it writes a subject back as an RDN sequence: each of these
/// types is one RDN (several values joined with `+`), the last written first.
const GO_NAME_ORDER: [&str; 9] = [
    "C",
    "ST",
    "L",
    "STREET",
    "POSTALCODE",
    "O",
    "OU",
    "CN",
    "SERIALNUMBER",
];

/// One attribute of a relative distinguished name: its type name and value.
type Attribute = (String, String);
/// A distinguished name: its RDNs, each a set of attributes.
pub type Dn = Vec<Vec<Attribute>>;

/// What a client certificate offers as a user name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// E-mail addresses, DNS names and URIs of the subject alternative names, in that order.
    pub sans: Vec<String>,
    /// The subject as a DN, last RDN first (as RFC 4514 writes it); `None` when it holds an
    /// attribute of another type or a value that is not a string.
    pub dn: Option<Dn>,
    /// The subject as Go writes it (`CN=alice,O=Acme,C=US`), and that with its domain
    /// components after it (`...,DC=example,DC=com`) when it has some.
    pub rdn: String,
    pub rdn_with_dcs: Option<String>,
}

impl CertNames {
    /// Reads a DER certificate; `None` when it does not parse.
    pub fn from_der(der: &[u8]) -> Option<CertNames> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut names = CertNames::default();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            let general = &san.value.general_names;
            for kind in 0..3 {
                names
                    .sans
                    .extend(general.iter().filter_map(|g| match (kind, g) {
                        (0, GeneralName::RFC822Name(s))
                        | (1, GeneralName::DNSName(s))
                        | (2, GeneralName::URI(s)) => Some(s.to_string()),
                        _ => None,
                    }));
            }
        }
        let subject = cert.subject();
        names.dn = subject_dn(subject);
        names.rdn = go_rdn_string(subject);
        let dcs: Vec<String> = subject
            .iter_attributes()
            .filter(|a| type_name(&a.attr_type().to_id_string()) == Some("DC"))
            .filter_map(|a| a.as_str().ok())
            .map(|v| format!("DC={v}"))
            .collect();
        if !dcs.is_empty() {
            names.rdn_with_dcs = Some(format!("{},{}", names.rdn, dcs.join(",")));
        }
        Some(names)
    }

    /// The user among `users` this certificate maps to, with nats-server's precedence.
    pub fn find_user<'a>(&self, users: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
        let exact = |name: &str| users.clone().find(|u| *u == name);
        if let Some(user) = self.sans.iter().find_map(|s| exact(s)) {
            return Some(user);
        }
        if let Some(dn) = &self.dn {
            let parsed: Vec<(&str, Dn)> = users
                .clone()
                .filter_map(|u| Some((u, parse_dn(u)?)))
                .collect();
            if let Some((user, _)) = parsed.iter().find(|(_, d)| dn_equal(d, dn)) {
                return Some(user);
            }
            if let Some((user, _)) = parsed.iter().find(|(_, d)| rdns_match(d, dn)) {
                return Some(user);
            }
        }
        if let Some(user) = self.rdn_with_dcs.as_deref().and_then(exact) {
            return Some(user);
        }
        exact(&self.rdn)
    }
}

fn type_name(oid: &str) -> Option<&'static str> {
    TYPE_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// The subject as a DN: RDNs from last to first, each one's attributes from last to first.
fn subject_dn(subject: &X509Name<'_>) -> Option<Dn> {
    let rdns: Vec<_> = subject.iter().collect();
    let mut dn = Vec::new();
    for rdn in rdns.into_iter().rev() {
        let attrs: Vec<_> = rdn.iter().collect();
        if attrs.is_empty() {
            continue;
        }
        let mut out = Vec::new();
        for a in attrs.into_iter().rev() {
            let name = type_name(&a.attr_type().to_id_string())?;
            out.push((name.to_string(), a.as_str().ok()?.to_string()));
        }
        dn.push(out);
    }
    Some(dn)
}

/// The subject as Go's `pkix.Name.ToRDNSequence().String()` writes it: the known types in
/// Go's order (the common name and serial number once, their last values), written last
/// first, values escaped as RFC 2253 asks.
fn go_rdn_string(subject: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for kind in GO_NAME_ORDER {
        let mut values: Vec<&str> = subject
            .iter_attributes()
            .filter(|a| type_name(&a.attr_type().to_id_string()) == Some(kind))
            .filter_map(|a| a.as_str().ok())
            .collect();
        if kind == "CN" || kind == "SERIALNUMBER" {
            values = values.last().copied().into_iter().collect();
        }
        let values: Vec<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            continue;
        }
        let rdn: Vec<String> = values
            .iter()
            .map(|v| format!("{kind}={}", escape(v)))
            .collect();
        rdns.push(rdn.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// RFC 2253 escaping, as Go applies it.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        let special = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => i == 0 || i == last,
            '#' => i == 0,
            _ => false,
        };
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A user name read as a DN (RFC 4514): `None` when it is not one.
pub fn parse_dn(text: &str) -> Option<Dn> {
    let bytes = text.as_bytes();
    let mut dn: Dn = Vec::new();
    let mut rdn: Vec<Attribute> = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    let mut kind: Option<String> = None;
    let mut trailing_spaces = 0usize;
    let take = |buffer: &mut Vec<u8>, trailing: &mut usize| -> Option<String> {
        let keep = buffer.len() - *trailing;
        let s = String::from_utf8(buffer[..keep].to_vec()).ok();
        buffer.clear();
        *trailing = 0;
        s
    };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\\' => {
                trailing_spaces = 0;
                let next = *bytes.get(i + 1)?;
                if b" \"#+,;<=>\\".contains(&next) {
                    buffer.push(next);
                    i += 2;
                } else {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    buffer.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                }
                continue;
            }
            b'=' if kind.is_none() => {
                kind = Some(take(&mut buffer, &mut trailing_spaces)?);
                // A BER-encoded value (`#...`) is not supported, as in nats-server.
                if bytes.get(i + 1) == Some(&b'#') {
                    return None;
                }
            }
            b',' | b'+' => {
                let k = kind.take().filter(|k| !k.is_empty())?;
                rdn.push((k, take(&mut buffer, &mut trailing_spaces)?));
                if c == b',' {
                    dn.push(std::mem::take(&mut rdn));
                }
            }
            b' ' if buffer.is_empty() => {}
            _ => {
                if c == b' ' {
                    trailing_spaces += 1;
                } else {
                    trailing_spaces = 0;
                }
                buffer.push(c);
            }
        }
        i += 1;
    }
    if !buffer.is_empty() {
        let k = kind.take().filter(|k| !k.is_empty())?;
        rdn.push((k, take(&mut buffer, &mut trailing_spaces)?));
        dn.push(rdn);
    }
    (!dn.is_empty()).then_some(dn)
}

fn attribute_equal(a: &Attribute, b: &Attribute) -> bool {
    a.0.eq_ignore_ascii_case(&b.0) && a.1 == b.1
}

fn rdn_equal(a: &[Attribute], b: &[Attribute]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| b.iter().any(|y| attribute_equal(x, y)))
        && b.iter().all(|y| a.iter().any(|x| attribute_equal(x, y)))
}

/// RFC 4517's distinguishedNameMatch: the same RDNs in the same order.
fn dn_equal(a: &Dn, b: &Dn) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| rdn_equal(x, y))
}

/// The same RDNs in any order.
fn rdns_match(a: &Dn, b: &Dn) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let found = b
            .iter()
            .enumerate()
            .find(|(j, y)| !used[*j] && rdn_equal(x, y))
            .map(|(j, _)| j);
        found.map(|j| used[j] = true).is_some()
    })
}

#[cfg(test)]
#[path = "tls_map_tests.rs"]
mod tests;
