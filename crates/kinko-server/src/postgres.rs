//! The one place the server names PostgreSQL: opening the store a `--store postgres://...` URL
//! names. Everything else holds an `Arc<dyn Store>`.

use std::sync::Arc;

use kinko_core::store::{Store, StoreError};
use kinko_store_postgres::{PostgresOptions, PostgresStore};

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Connects and applies pending migrations (several nodes may do so at once).
pub(crate) async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(
        PostgresStore::connect(url, PostgresOptions::default()).await?,
    ))
}

/// The URL without its password, for logs and `Debug`.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[redacted]".to_owned();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{user}:[redacted]@{host}")
        }
        None => authority.to_owned(),
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    format!("{scheme}://{host}/{path}")
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_are_logged_without_passwords() {
        assert_eq!(
            redacted("postgres://kinko:s3cret@db:5432/kinko?sslmode=require&password=x"),
            "postgres://kinko:[redacted]@db:5432/kinko"
        );
        assert_eq!(redacted("postgres://db/kinko"), "postgres://db/kinko");
    }
}
