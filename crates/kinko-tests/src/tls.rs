//! HTTPS test fixtures: a certificate authority made for the test ([`TestCa`], rcgen), server
//! certificates it issues as PEM files for `--tls-cert` / `--tls-key`, an AWS SDK HTTP client
//! trusting it ([`TestCa::sdk_http_client`]), and a bare TLS client ([`TlsProbe`]) that shows which
//! certificate a server presents and keeps a connection open across a reload.
//!
//! ```no_run
//! # use kinko_tests::*;
//! # async fn example() {
//! let dir = tempfile::tempdir().unwrap();
//! let ca = TestCa::new("kinko test CA");
//! let (files, _issued) = ca.issue_files(dir.path(), "server");
//! let config = Config { tls: Some(files), ..dev_config() };
//! let server = TestServer::start_with(config, TestClock::System).await.trusting(&ca);
//! server.client().list_secrets().send().await.unwrap();
//! # }
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use kinko_server::TlsFiles;

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
}

impl TestCa {
    /// A new CA (ECDSA P-256) named `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA's certificate, PEM (what `AWS_CA_BUNDLE` names).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and `127.0.0.1` with a new ECDSA P-256 key (PKCS#8).
    pub fn issue(&self) -> Issued {
        self.issue_with(&KeyPair::generate().expect("server key"))
    }

    /// A server certificate for `localhost` and `127.0.0.1` with `key`.
    pub fn issue_with(&self, key: &KeyPair) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let cert = params.signed_by(key, &self.issuer).expect("server certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
        }
    }

    /// [`TestCa::issue`] written to `DIR/NAME.crt` and `DIR/NAME.key` (the chain: the server's
    /// certificate, then the CA's), as server TLS files; also returns the issued certificate.
    pub fn issue_files(&self, dir: &Path, name: &str) -> (TlsFiles, Issued) {
        let issued = self.issue();
        let files = TlsFiles::new(dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        self.write(&files, &issued);
        (files, issued)
    }

    /// Writes `issued` (with the CA's certificate after it) over the files of `files`.
    pub fn write(&self, files: &TlsFiles, issued: &Issued) {
        std::fs::write(&files.cert, format!("{}{}", issued.cert_pem, self.pem())).expect("write cert");
        std::fs::write(&files.key, &issued.key_pem).expect("write key");
    }

    /// An AWS SDK HTTP client (rustls, aws-lc-rs) trusting this CA alone.
    pub fn sdk_http_client(&self) -> SharedHttpClient {
        let trust = TrustStore::empty().with_pem_certificate(self.pem().into_bytes());
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .expect("TLS context");
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
            .tls_context(context)
            .build_https()
    }

    /// The CA's certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A rustls client configuration trusting this CA alone.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der()).expect("CA certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// One TLS connection to a server, opened and kept by the test.
pub struct TlsProbe {
    stream: tokio_rustls::client::TlsStream<TcpStream>,
}

impl TlsProbe {
    /// Connects to `addr` (as `localhost`) trusting `config`'s roots; fails as the handshake fails.
    pub async fn connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::io::Result<TlsProbe> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        Ok(TlsProbe { stream })
    }

    /// The certificate the server presented.
    pub fn server_cert(&self) -> CertificateDer<'static> {
        let (_, conn) = self.stream.get_ref();
        conn.peer_certificates()
            .and_then(|c| c.first())
            .expect("the server presents a certificate")
            .clone()
    }

    /// The negotiated protocol version (`TLSv1_3`, ...).
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.stream.get_ref().1.protocol_version()
    }

    /// `GET path` on this connection, kept alive; the status code and body.
    pub async fn get(&mut self, path: &str) -> (u16, String) {
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.stream
            .write_all(req.as_bytes())
            .await
            .expect("write request");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await.expect("read response");
            assert!(n > 0, "the connection closed before a full response");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .expect("a content-length");
                if buf.len() >= end + 4 + len {
                    let status = head
                        .split(' ')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .expect("a status code");
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    return (status, body);
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
