//! The one place the server names its storage backend, SQLite: opening the database file (or an
//! in-memory one in dev mode), and the operations on the file itself that `kinko backup` and
//! start-up need (a consistent copy with `VACUUM INTO`, reading a value without opening the
//! store). Everything else holds an `Arc<dyn Store>`.

use std::path::Path;
use std::sync::Arc;

use kinko_core::store::{Store, StoreError};
use kinko_store_sqlite::SqliteStore;

/// Opens (creating if needed) the database file and applies pending migrations.
pub(crate) fn open(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open(path)?))
}

/// A database that keeps nothing on disk (dev mode).
pub(crate) fn in_memory() -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::in_memory()?))
}

/// Reads one `meta` value from a database file without changing anything on disk.
pub(crate) fn peek_meta(path: &Path, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    SqliteStore::peek_meta(path, key)
}

/// Writes a consistent copy of the database file at `path` to the new file `to` (mode 0600).
pub(crate) fn backup(path: &Path, to: &Path) -> Result<(), StoreError> {
    SqliteStore::backup(path, to)
}
