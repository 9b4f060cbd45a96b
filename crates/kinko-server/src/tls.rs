//! HTTPS: the TLS [`Acceptor`] of the listeners (rustls on the aws-lc-rs provider, TLS 1.2 and 1.3),
//! its certificate chain and private key read from PEM files, and their reload.
//!
//! The certificate file holds the chain, the server's own certificate first; the key file one
//! private key in PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 RSA (`BEGIN RSA PRIVATE KEY`) or SEC1 EC
//! (`BEGIN EC PRIVATE KEY`) form. A key that does not belong to the certificate is refused.
//!
//! The pair is read again when [`CertStore::reload`] is called (SIGHUP) and when either file
//! changes (its modification time, size or inode, checked every `reload_interval`). A reload
//! changes only the handshakes that begin after it: open connections keep their session. A pair
//! that can't be read or doesn't match is logged as an error and the one in use is kept.
//!
//! Nothing here depends on HTTP; the listener asks the accepted stream for its [`TlsSession`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::listener::{Acceptor, TlsSession};

/// Where the certificate chain and the private key are (`--tls-cert`, `--tls-key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
}

impl TlsFiles {
    /// The files, checked for changes every 5 seconds.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsFiles {
            cert: cert.into(),
            key: key.into(),
            reload_interval: Duration::from_secs(5),
        }
    }
}

/// Why a certificate and key pair could not be used; the message names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {0}: {1}")]
    ReadCert(PathBuf, io::Error),
    #[error("cannot read the TLS key file {0}: {1}")]
    ReadKey(PathBuf, io::Error),
    #[error("the TLS certificate file {0} holds no PEM certificate (BEGIN CERTIFICATE)")]
    NoCert(PathBuf),
    #[error("the TLS certificate file {0} is not valid PEM: {1}")]
    BadCert(PathBuf, String),
    #[error(
        "the TLS key file {0} holds no PEM private key (BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)"
    )]
    NoKey(PathBuf),
    #[error("the TLS key file {0} is not valid PEM: {1}")]
    BadKey(PathBuf, String),
    #[error("the TLS key in {0} can't be used: {1}")]
    UnusableKey(PathBuf, rustls::Error),
    #[error("the TLS key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("the TLS certificate in {0} can't be used: {1}")]
    UnusableCert(PathBuf, rustls::Error),
}

/// Reads and checks the pair.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_pem = std::fs::read(&files.cert).map_err(|e| TlsError::ReadCert(files.cert.clone(), e))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCert(files.cert.clone(), e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCert(files.cert.clone()));
    }
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read(&files.key).map_err(|e| TlsError::ReadKey(files.key.clone(), e))?,
    );
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey(files.key.clone()),
        e => TlsError::BadKey(files.key.clone(), e.to_string()),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::UnusableKey(files.key.clone(), e))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        // aws-lc-rs knows the public key of every key type it loads; `Unknown` would mean a key
        // whose match can't be checked, which is served as rustls itself does.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            })
        }
        Err(e) => Err(TlsError::UnusableCert(files.cert.clone(), e)),
    }
}

/// What tells a file's new content from its old: modification time, size and inode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        ino,
    })
}

/// The certificate and key in use, handed to each new handshake.
pub(crate) struct CertStore {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' stamps when they were last read (whether or not that pair was good).
    seen: Mutex<(Option<Stamp>, Option<Stamp>)>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    fn open(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<CertStore, TlsError> {
        let seen = (stamp(&files.cert), stamp(&files.key));
        let first = load(&files, &provider)?;
        Ok(CertStore {
            files,
            provider,
            current: RwLock::new(Arc::new(first)),
            seen: Mutex::new(seen),
        })
    }

    /// Reads the pair again; on success new handshakes use it, else the pair in use stays.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let seen = (stamp(&self.files.cert), stamp(&self.files.key));
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
        let next = load(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    /// Reloads when either file changed since it was last read, logging the outcome.
    fn reload_if_changed(&self) {
        let now = (stamp(&self.files.cert), stamp(&self.files.key));
        if *self.seen.lock().unwrap_or_else(PoisonError::into_inner) == now {
            return;
        }
        self.reload_logged("the files changed");
    }

    /// Reloads, logging the outcome; `why` says what asked for it.
    pub(crate) fn reload_logged(&self, why: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(
                cert = %self.files.cert.display(),
                key = %self.files.key.display(),
                "TLS certificate and key reloaded ({why})"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "TLS certificate and key not reloaded ({why}): new connections keep the previous pair"
            ),
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The TLS set-up of the listeners: one certificate store, one rustls configuration.
#[derive(Clone)]
pub(crate) struct Tls {
    pub store: Arc<CertStore>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl Tls {
    /// Reads the pair (start-up fails on any problem with it).
    pub(crate) fn new(files: &TlsFiles) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let store = Arc::new(CertStore::open(files.clone(), provider.clone())?);
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::UnusableCert(files.cert.clone(), e))?
            .with_no_client_auth()
            .with_cert_resolver(store.clone());
        // Only HTTP/1.1 is served: a client offering h2 and http/1.1 is told to speak the latter.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            store,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Checks the files for changes every `reload_interval` until aborted.
    pub(crate) fn watch(&self) -> JoinHandle<()> {
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(store.files.reload_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let s = store.clone();
                // File system calls block: off the runtime's workers.
                let _ = tokio::task::spawn_blocking(move || s.reload_if_changed()).await;
            }
        })
    }
}

impl Acceptor for Tls {
    type Stream = tokio_rustls::server::TlsStream<TcpStream>;

    async fn wrap(&self, tcp: TcpStream) -> io::Result<Self::Stream> {
        self.acceptor.accept(tcp).await
    }

    fn session(stream: &Self::Stream) -> Option<TlsSession> {
        let (_, conn) = stream.get_ref();
        let version = match conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => return None,
        };
        let suite = conn.negotiated_cipher_suite()?.suite();
        Some(TlsSession {
            version,
            cipher_suite: cloudtrail_suite_name(suite),
        })
    }
}

/// The warning a server without TLS gives at start when it listens beyond loopback. Plain HTTP is
/// for loopback (development, or a TLS-terminating proxy on the same host). Elsewhere it is
/// allowed, since a proxy may end TLS on a private network, but requests' signatures and secret
/// values cross the network in the clear: said loudly, once.
pub(crate) fn plain_http_warning(listen: std::net::SocketAddr, tls: bool) -> Option<String> {
    (!tls && !listen.ip().is_loopback()).then(|| {
        format!(
            "PLAIN HTTP ON A NON-LOOPBACK ADDRESS: {listen} serves without TLS; secret values cross the network in the clear. Give --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS-terminating proxy"
        )
    })
}

/// A cipher suite named as CloudTrail's `tlsDetails.cipherSuite` names it: TLS 1.3 suites by
/// their IANA names (`TLS_AES_128_GCM_SHA256`), TLS 1.2 suites by their OpenSSL names
/// (`ECDHE-RSA-AES128-GCM-SHA256`), as AWS's endpoints report them.
fn cloudtrail_suite_name(suite: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as S;
    match suite {
        S::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        S::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        S::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        other => other.as_str().unwrap_or("unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only pairs made with `openssl` (PKCS#1 RSA and SEC1 EC keys, self-signed, 100 years).
    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/tls")
            .join(name)
    }

    fn provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }

    #[test]
    fn rsa_and_ec_keys_in_their_traditional_pem_forms_load() {
        for (cert, key) in [("rsa.crt", "rsa.key"), ("ec.crt", "ec.key")] {
            let files = TlsFiles::new(testdata(cert), testdata(key));
            let loaded = load(&files, &provider()).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(loaded.cert.len(), 1);
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let files = TlsFiles::new(testdata("rsa.crt"), testdata("ec.key"));
        let e = load(&files, &provider()).expect_err("mismatch");
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("ec.key") && msg.contains("rsa.crt"), "{msg}");
    }

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = TlsFiles::new(dir.path().join("none.crt"), testdata("ec.key"));
        let e = load(&missing, &provider()).expect_err("missing cert");
        assert!(
            e.to_string().starts_with(&format!(
                "cannot read the TLS certificate file {}",
                dir.path().join("none.crt").display()
            )),
            "{e}"
        );
        let missing = TlsFiles::new(testdata("ec.crt"), dir.path().join("none.key"));
        let e = load(&missing, &provider()).expect_err("missing key");
        assert!(matches!(e, TlsError::ReadKey(..)), "{e:?}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not PEM\n").expect("write");
        let e = load(&TlsFiles::new(&empty, testdata("ec.key")), &provider()).expect_err("no cert");
        assert!(matches!(e, TlsError::NoCert(_)), "{e:?}");
        // A certificate where the key should be.
        let e = load(
            &TlsFiles::new(testdata("ec.crt"), testdata("ec.crt")),
            &provider(),
        )
        .expect_err("no key");
        assert!(matches!(e, TlsError::NoKey(_)), "{e:?}");
        assert!(e.to_string().contains("holds no PEM private key"), "{e}");
    }

    #[test]
    fn plain_http_is_warned_about_beyond_loopback_only() {
        let at = |a: &str| a.parse::<std::net::SocketAddr>().expect("address");
        for quiet in ["127.0.0.1:8780", "[::1]:8780", "127.0.0.2:1"] {
            assert_eq!(plain_http_warning(at(quiet), false), None, "{quiet}");
        }
        for loud in ["0.0.0.0:8780", "[::]:8780", "10.0.0.5:8780"] {
            let w = plain_http_warning(at(loud), false).expect(loud);
            assert!(w.starts_with("PLAIN HTTP ON A NON-LOOPBACK ADDRESS"), "{w}");
            assert_eq!(plain_http_warning(at(loud), true), None, "{loud} with TLS");
        }
    }

    #[test]
    fn tls12_suites_have_openssl_names_and_tls13_suites_iana_names() {
        assert_eq!(
            cloudtrail_suite_name(rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
            "ECDHE-RSA-AES128-GCM-SHA256"
        );
        assert_eq!(
            cloudtrail_suite_name(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
    }
}
