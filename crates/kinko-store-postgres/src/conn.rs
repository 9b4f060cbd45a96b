//! Connecting: the URL, TLS, the pool, and migrations applied under an advisory lock.

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use kinko_core::store::StoreError;
use tokio_postgres::config::SslMode;

use crate::{PostgresOptions, backend};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_attachments.sql"),
    include_str!("../migrations/0003_leases.sql"),
    include_str!("../migrations/0004_functions.sql"),
    include_str!("../migrations/0005_secret_rotation.sql"),
    include_str!("../migrations/0006_account_aliases.sql"),
    include_str!("../migrations/0007_mfa_devices.sql"),
    include_str!("../migrations/0008_stacks.sql"),
    include_str!("../migrations/0009_secret_terms.sql"),
    include_str!("../migrations/0010_secret_terms_by_term_with_id.sql"),
];
/// The schema version that adds `secret_terms`: its migration also writes every existing secret's
/// terms, which only kinko can compute.
const SECRET_TERMS_VERSION: usize = 9;

/// The advisory lock every node takes to migrate (any constant, the same in every version):
/// several nodes starting at once apply each migration exactly once, one after another.
const MIGRATION_LOCK: i64 = 0x6b69_6e6b_6f00_0001;

/// How the certificate of a database server speaking TLS is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verify {
    /// `sslmode=prefer` (the default) or `require`, as libpq does them: the connection is
    /// encrypted, the certificate is not checked (unless `sslrootcert` names a file).
    None,
    /// `sslmode=verify-full` or `verify-ca` (both check the host name here), or `sslrootcert`:
    /// the certificate must chain to the system's roots, or to those in the file.
    Roots(Option<String>),
}

/// A `postgres://` URL, the parameters kinko reads itself taken off: `sslrootcert`, the
/// `sslmode` values tokio-postgres doesn't know, `schema`, `pool_size` and `password_file` (the
/// password in a file, so that the URL itself holds no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// tokio-postgres's connection string.
    pub conn: String,
    pub verify: Verify,
    pub schema: Option<String>,
    pub pool_size: Option<usize>,
    pub password_file: Option<String>,
}

pub(crate) fn split_url(url: &str) -> Result<Url, StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut root_cert = None;
    let mut verify = false;
    let mut schema = None;
    let mut pool_size = None;
    let mut password_file = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("sslrootcert", v)) => root_cert = Some(v.to_owned()),
            Some(("sslmode", "verify-full" | "verify-ca")) => {
                verify = true;
                kept.push("sslmode=require".to_owned());
            }
            Some(("schema", v)) => {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(StoreError::Backend(format!(
                        "the PostgreSQL URL's schema must be letters, digits and _, got {v:?}"
                    )));
                }
                schema = Some(v.to_owned());
            }
            Some(("pool_size", v)) => {
                pool_size = Some(v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::Backend(format!(
                        "the PostgreSQL URL's pool_size must be a positive number, got {v:?}"
                    ))
                })?);
            }
            Some(("password_file", v)) => password_file = Some(v.to_owned()),
            _ => kept.push(kv.to_owned()),
        }
    }
    let verify = if verify || root_cert.is_some() {
        Verify::Roots(root_cert)
    } else {
        Verify::None
    };
    let conn = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(Url {
        conn,
        verify,
        schema,
        pool_size,
        password_file,
    })
}

/// Accepts any server certificate: libpq's `sslmode=prefer`/`require` (encryption without
/// authentication of the server), the signatures still checked.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS to the database, checking the server's certificate as `verify` says.
fn tls(verify: &Verify) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(backend)?;
    let config = match verify {
        Verify::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
            .with_no_client_auth(),
        Verify::Roots(root_cert) => {
            let mut roots = rustls::RootCertStore::empty();
            match root_cert {
                Some(path) => {
                    let bad =
                        |e: &dyn std::fmt::Display| StoreError::Backend(format!("sslrootcert {path}: {e}"));
                    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
                        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
                    }
                }
                None => {
                    for cert in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(cert);
                    }
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The password in the file `path`, its final newline removed.
fn read_password(path: &str) -> Result<zeroize::Zeroizing<String>, StoreError> {
    let content = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| StoreError::Backend(format!("the PostgreSQL URL's password_file {path}: {e}")))?,
    );
    let password = content.strip_suffix('\n').unwrap_or(&content);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(zeroize::Zeroizing::new(password.to_owned()))
}

/// A pool on the database `url` names, its schema migrated.
pub(crate) async fn open(url: &str, options: &PostgresOptions) -> Result<Pool, StoreError> {
    let url = split_url(url)?;
    let schema = url.schema.as_deref().or(options.schema.as_deref());
    let mut config: tokio_postgres::Config = url
        .conn
        .parse()
        .map_err(|e| StoreError::Backend(format!("the PostgreSQL URL: {e}")))?;
    if let Some(schema) = schema {
        config.options(format!("-c search_path={schema}"));
    }
    if let Some(path) = &url.password_file {
        if config.get_password().is_some() {
            return Err(StoreError::Backend(
                "the PostgreSQL URL has both a password and a password_file: give one".to_owned(),
            ));
        }
        config.password(read_password(path)?.as_bytes());
    }
    if config.get_application_name().is_none() {
        config.application_name("kinko");
    }
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = if config.get_ssl_mode() == SslMode::Disable {
        Manager::from_config(config, tokio_postgres::NoTls, manager_config)
    } else {
        Manager::from_config(config, tls(&url.verify)?, manager_config)
    };
    let pool = Pool::builder(manager)
        .max_size(url.pool_size.unwrap_or(options.max_connections).max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .create_timeout(Some(options.connect_timeout))
        .wait_timeout(Some(options.connect_timeout))
        .build()
        .map_err(backend)?;
    migrate(&pool, schema).await?;
    Ok(pool)
}

async fn migrate(pool: &Pool, schema: Option<&str>) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(backend)?;
    let tx = client.transaction().await.map_err(crate::db)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(crate::db)?;
    if let Some(schema) = schema {
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
            .await
            .map_err(crate::db)?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS kinko_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(crate::db)?;
    let applied: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM kinko_migrations", &[])
        .await
        .map_err(crate::db)?
        .get(0);
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if applied > known {
        return Err(StoreError::Backend(format!(
            "the database schema is at version {applied}, newer than this kinko knows ({known}): \
             run a newer kinko"
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(applied).unwrap_or(0))
    {
        tx.batch_execute(sql).await.map_err(crate::db)?;
        if i + 1 == SECRET_TERMS_VERSION {
            crate::write_all_secret_terms(&tx).await?;
        }
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute("INSERT INTO kinko_migrations (version) VALUES ($1)", &[&version])
            .await
            .map_err(crate::db)?;
    }
    tx.commit().await.map_err(crate::db)
}

#[cfg(test)]
mod tests {
    use super::{Url, Verify, split_url};

    fn url(conn: &str, verify: Verify) -> Url {
        Url {
            conn: conn.to_owned(),
            verify,
            schema: None,
            pool_size: None,
            password_file: None,
        }
    }

    #[test]
    fn kinko_reads_its_own_parameters() {
        let ok = |u: &str| split_url(u).expect("a valid URL");
        assert_eq!(
            ok("postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem"),
            url(
                "postgres://u@h/db?sslmode=require",
                Verify::Roots(Some("/ca.pem".to_owned()))
            )
        );
        assert_eq!(
            ok("postgres://u@h/db?sslmode=verify-full"),
            url("postgres://u@h/db?sslmode=require", Verify::Roots(None))
        );
        assert_eq!(
            ok("postgres://u@h/db?sslrootcert=/ca.pem"),
            url("postgres://u@h/db", Verify::Roots(Some("/ca.pem".to_owned())))
        );
        assert_eq!(
            ok("postgres://u@h/db?sslmode=require"),
            url("postgres://u@h/db?sslmode=require", Verify::None)
        );
        assert_eq!(ok("postgres://u@h/db"), url("postgres://u@h/db", Verify::None));
        assert_eq!(
            ok("postgres://u@h/db?schema=kinko_a&pool_size=4&connect_timeout=5"),
            Url {
                schema: Some("kinko_a".to_owned()),
                pool_size: Some(4),
                ..url("postgres://u@h/db?connect_timeout=5", Verify::None)
            }
        );
        assert_eq!(
            ok("postgres://u@h/db?password_file=/run/secrets/db-password"),
            Url {
                password_file: Some("/run/secrets/db-password".to_owned()),
                ..url("postgres://u@h/db", Verify::None)
            }
        );
        assert!(split_url("postgres://u@h/db?schema=a;drop").is_err());
        assert!(split_url("postgres://u@h/db?pool_size=0").is_err());
    }
}
