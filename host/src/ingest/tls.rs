//! TLS on the doors: `ingest.webhook.tls` and `ingest.grpc.tls` name a PEM certificate
//! chain and key, and optionally a client CA (then every client must present a certificate
//! it signed: mTLS). The webhook door serves HTTP/1.1 over `tokio-rustls` (see
//! [`crate::listener::serve_http`]); the gRPC door
//! uses tonic's rustls support. Both use the `ring` provider, as the rest of the host.

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// A door's TLS settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server's certificate chain (leaf first).
    pub cert_file: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM file of the CA(s) that sign client certificates; set, clients must present one
    /// (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<PathBuf>,
}

/// The PEM files of a [`TlsConfig`], read.
#[derive(Debug)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: Vec<u8>,
    /// The private key.
    pub key: Vec<u8>,
    /// The client CA(s), for mutual TLS.
    pub client_ca: Option<Vec<u8>>,
}

impl TlsConfig {
    /// The files' contents, each error naming the file.
    pub fn read(&self) -> anyhow::Result<TlsFiles> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path)
                .with_context(|| format!("{what} `{}` cannot be read", path.display()))
        };
        Ok(TlsFiles {
            cert: read(&self.cert_file, "tls.cert_file")?,
            key: read(&self.key_file, "tls.key_file")?,
            client_ca: self
                .client_ca_file
                .as_deref()
                .map(|p| read(p, "tls.client_ca_file"))
                .transpose()?,
        })
    }

    /// A rustls server configuration for HTTP/1.1 (the webhook door).
    pub fn server_config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let TlsFiles {
            cert,
            key,
            client_ca,
        } = self.read()?;
        let chain = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("tls.cert_file `{}`", self.cert_file.display()))?;
        anyhow::ensure!(
            !chain.is_empty(),
            "tls.cert_file `{}` holds no certificate",
            self.cert_file.display()
        );
        let key = PrivateKeyDer::from_pem_slice(&key).with_context(|| {
            format!(
                "tls.key_file `{}` holds no private key",
                self.key_file.display()
            )
        })?;
        let builder = ServerConfig::builder();
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&ca) {
                    roots.add(cert.context("tls.client_ca_file")?)?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .context("tls.client_ca_file")?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .context("the TLS certificate and key do not match")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// tonic's settings for the gRPC door.
    pub fn tonic_config(&self) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
        let TlsFiles {
            cert,
            key,
            client_ca,
        } = self.read()?;
        let mut config = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert, key));
        if let Some(ca) = client_ca {
            config = config.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        Ok(config)
    }
}
