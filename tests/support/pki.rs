//! Test certificates: a CA, a server certificate for 127.0.0.1 and localhost, and a client
//! certificate, written as PEM files to a temporary directory (rcgen).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
pub use rcgen::{DnType, SanType};

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files.
pub struct Pki {
    dir: tempfile::TempDir,
    ca_params: CertificateParams,
    ca_key: KeyPair,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

pub fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "switchboard test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (cert, key) = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        "localhost",
    );
    let (client_cert, client_key) = leaf(
        vec!["client.local".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
        "client",
    );
    let d = dir.path();
    Pki {
        ca: write(d, "ca.pem", &ca_cert.pem()),
        cert: write(d, "server-cert.pem", &cert),
        key: write(d, "server-key.pem", &key),
        client_cert: write(d, "client-cert.pem", &client_cert),
        client_key: write(d, "client-key.pem", &client_key),
        dir,
        ca_params,
        ca_key,
    }
}

impl Pki {
    /// Another client certificate from the CA, with this subject and these alternative
    /// names: its (certificate, key) files, named after `name`.
    pub fn client(
        &self,
        name: &str,
        subject: &[(DnType, &str)],
        sans: Vec<SanType>,
    ) -> (PathBuf, PathBuf) {
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.distinguished_name = DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.subject_alt_names = sans;
        let cert = params.signed_by(&key, &issuer).unwrap();
        let d = self.dir.path();
        (
            write(d, &format!("{name}-cert.pem"), &cert.pem()),
            write(d, &format!("{name}-key.pem"), &key.serialize_pem()),
        )
    }
}
