//! The storage contract on a plain SQLite file (no cache in front).

use std::sync::Arc;

use kinko_store_contract::Handles;
use kinko_store_sqlite::SqliteStore;

async fn file() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("kinko.db")).expect("open store");
    Handles::one(Arc::new(store), dir)
}

async fn two_handles() -> Handles {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = SqliteStore::open(&dir.path().join("kinko.db")).expect("open store");
    let b = SqliteStore::open(&dir.path().join("kinko.db")).expect("open store");
    Handles::two(Arc::new(a), Arc::new(b), dir)
}

async fn memory() -> Handles {
    Handles::one(Arc::new(SqliteStore::in_memory().expect("in-memory store")), ())
}

mod file {
    kinko_store_contract::contract_tests!(super::file);
}

mod two_handles {
    kinko_store_contract::contract_tests!(super::two_handles);
}

mod in_memory {
    kinko_store_contract::contract_tests!(super::memory);
}
