//! Throw-away certificates (`rcgen`): a CA, a server certificate for `localhost` and
//! 127.0.0.1, and a client certificate, all signed by the CA, written as PEM files.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};

/// The PEM files of one private CA and the certificates it signed.
pub struct Pki {
    /// The CA's certificate.
    pub ca: PathBuf,
    /// The server's certificate and key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The client's certificate and key.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The client's certificate and key in one PEM text.
    pub client_pem: String,
    /// The CA's certificate as PEM text.
    pub ca_pem: String,
}

impl Pki {
    /// A fresh CA and its certificates, written into `dir` (which must exist).
    pub fn new(dir: &Path) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own (OpenSSL, e.g. redis-server, finds a client certificate's issuer
        // by name, and two test CAs must not look alike).
        let name = format!("lka test CA {}", dir.display());
        ca_params.distinguished_name.push(DnType::CommonName, name);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
        let (client_cert, client_key) = leaf(vec!["analytics-client".into()]);
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", &ca.pem()),
            cert: write("server.pem", &server_cert),
            key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            client_pem: format!("{client_cert}{client_key}"),
            ca_pem: ca.pem(),
        }
    }
}
