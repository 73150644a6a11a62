//! TLS towards Redis, as livekit-server sets it up from its `redis:` section: `tls.enabled`
//! with an optional private CA (`ca_cert_file`, which replaces the system's roots), a client
//! certificate for mutual TLS (`client_cert_file` + `client_key_file`) and `insecure`; else
//! the deprecated `use_tls` (the system's roots). The same settings apply to a single Redis,
//! to the sentinels and the master they name, and to every cluster node.

use crate::settings::LiveKitRedisConfig;
use anyhow::Context;
use redis::{ClientTlsConfig, RedisError, TlsCertificates, TlsMode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// The TLS of the connection, files read and checked.
#[derive(Clone, Debug)]
pub(super) struct RedisTls {
    /// Accept any certificate (`tls.insecure`).
    pub insecure: bool,
    /// The private CA and the client certificate, when any is set.
    pub certificates: Option<TlsCertificates>,
    /// The CA file, for error messages.
    pub ca_file: Option<PathBuf>,
}

impl RedisTls {
    /// The TLS settings of `redis`, or `None` for a plain connection. Reads the PEM files and
    /// fails naming the key and the file when one cannot be read or holds nothing usable.
    pub(super) fn from_config(redis: &LiveKitRedisConfig) -> anyhow::Result<Option<RedisTls>> {
        let Some(tls) = redis.tls.as_ref().filter(|t| t.enabled) else {
            return Ok(redis.use_tls.then_some(RedisTls {
                insecure: false,
                certificates: None,
                ca_file: None,
            }));
        };
        let root_cert = tls
            .ca_cert_file
            .as_deref()
            .map(|path| {
                let pem = read(path, "redis.tls.ca_cert_file")?;
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| {
                        format!("redis.tls.ca_cert_file `{}`: bad PEM", path.display())
                    })?;
                anyhow::ensure!(
                    !certs.is_empty(),
                    "redis.tls.ca_cert_file `{}` holds no certificate",
                    path.display()
                );
                Ok(pem)
            })
            .transpose()?;
        let client_tls = match (&tls.client_cert_file, &tls.client_key_file) {
            (Some(cert_path), Some(key_path)) => {
                let client_cert = read(cert_path, "redis.tls.client_cert_file")?;
                let chain = CertificateDer::pem_slice_iter(&client_cert)
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| {
                        format!(
                            "redis.tls.client_cert_file `{}`: bad PEM",
                            cert_path.display()
                        )
                    })?;
                anyhow::ensure!(
                    !chain.is_empty(),
                    "redis.tls.client_cert_file `{}` holds no certificate",
                    cert_path.display()
                );
                let client_key = read(key_path, "redis.tls.client_key_file")?;
                PrivateKeyDer::from_pem_slice(&client_key).with_context(|| {
                    format!(
                        "redis.tls.client_key_file `{}` holds no private key",
                        key_path.display()
                    )
                })?;
                Some(ClientTlsConfig {
                    client_cert,
                    client_key,
                })
            }
            (None, None) => None,
            _ => anyhow::bail!(
                "redis.tls: client_cert_file and client_key_file go together (mutual TLS \
                 needs both)"
            ),
        };
        let certificates =
            (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
                client_tls,
                root_cert,
            });
        Ok(Some(RedisTls {
            insecure: tls.insecure,
            certificates,
            ca_file: tls.ca_cert_file.clone(),
        }))
    }

    /// The mode for the sentinel and cluster builders.
    pub(super) fn mode(&self) -> TlsMode {
        if self.insecure {
            TlsMode::Insecure
        } else {
            TlsMode::Secure
        }
    }
}

fn read(path: &Path, key: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{key} `{}` cannot be read", path.display()))
}

/// A sentence on what a TLS failure means, when `err` is one (an untrusted or mismatched
/// server certificate, a refused client certificate, a plain server); `None` otherwise.
pub(super) fn tls_hint(err: &RedisError, tls: Option<&RedisTls>) -> Option<String> {
    let text = err.to_string();
    let tls = tls?;
    let trust = match &tls.ca_file {
        Some(ca) => format!("the CA of redis.tls.ca_cert_file `{}`", ca.display()),
        None => "the system's roots (set redis.tls.ca_cert_file for a private CA)".to_string(),
    };
    if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        if text.contains("NotValidForName") {
            return Some(
                "TLS: the server's certificate does not name the host of the address \
                 (redis.address / sentinel_addresses / cluster_addresses)"
                    .into(),
            );
        }
        return Some(format!(
            "TLS: the server's certificate is not signed by {trust}"
        ));
    }
    if text.contains("CertificateRequired")
        || text.contains("certificate required")
        || text.contains("BadCertificate")
        || text.contains("UnknownCA")
    {
        return Some(
            "TLS: the server refused the client certificate (redis.tls.client_cert_file \
             and client_key_file; mutual TLS)"
                .into(),
        );
    }
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        return Some("TLS: the server does not speak TLS on this port".into());
    }
    None
}
