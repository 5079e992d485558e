//! rustls configurations built from [`TlsConfig`]: the server side of client (and
//! route) listeners and the client side of route dials. ring is the crypto provider;
//! no OpenSSL.
//!
//! Owns: reading the PEM certificate, key and CA files and turning them into
//! `rustls` configs, with errors that name the file. Must not: accept or dial
//! connections (that is `server::tls_conn` and `cluster`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}: {reason}")]
    Read {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("no certificate found in {what} {path}")]
    Empty { what: &'static str, path: PathBuf },
    #[error("invalid TLS configuration ({cert}): {reason}")]
    Invalid { cert: PathBuf, reason: String },
}

/// A listener's TLS: the rustls config plus the settings the accept path needs.
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    pub settings: TlsConfig,
}

impl ServerTls {
    pub fn new(settings: &TlsConfig) -> Result<Self, TlsError> {
        Ok(ServerTls {
            config: server_config(settings)?,
            settings: settings.clone(),
        })
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

fn certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_err = |reason: String| TlsError::Read {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| read_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Read {
        what: "key_file",
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in certs("ca_file", path)? {
        roots.add(c).map_err(|e| TlsError::Invalid {
            cert: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// The server side: our certificate, and client verification when `verify` is set.
pub fn server_config(t: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let invalid = |e: &dyn std::fmt::Display| TlsError::Invalid {
        cert: t.cert_file.clone(),
        reason: e.to_string(),
    };
    let provider = Arc::new(default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?;
    let builder = match (&t.ca_file, t.verify || t.verify_and_map) {
        (Some(ca), true) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider)
                    .build()
                    .map_err(|e| invalid(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
        (None, true) => {
            return Err(invalid(&"verify needs a ca_file"));
        }
        _ => builder.with_no_client_auth(),
    };
    let cfg = builder
        .with_single_cert(certs("cert_file", &t.cert_file)?, key(&t.key_file)?)
        .map_err(|e| invalid(&e))?;
    Ok(Arc::new(cfg))
}

/// The client side (route dials): trust `ca_file` and present our certificate.
pub fn client_config(t: &TlsConfig) -> Result<Arc<ClientConfig>, TlsError> {
    let invalid = |e: &dyn std::fmt::Display| TlsError::Invalid {
        cert: t.cert_file.clone(),
        reason: e.to_string(),
    };
    let ca = t
        .ca_file
        .as_ref()
        .ok_or_else(|| invalid(&"a route tls block needs a ca_file to verify peers"))?;
    let cfg = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_root_certificates(roots(ca)?)
        .with_client_auth_cert(certs("cert_file", &t.cert_file)?, key(&t.key_file)?)
        .map_err(|e| invalid(&e))?;
    Ok(Arc::new(cfg))
}
