//! A database made before `secret_terms` (schema version 12) with secrets in it: the migration
//! that adds the table writes every existing secret's terms, so filters find them.

use kinko_core::store::Store;
use kinko_store_contract::migration;
use kinko_store_sqlite::SqliteStore;

#[tokio::test]
async fn existing_secrets_get_their_terms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kinko.db");
    {
        let store = SqliteStore::open(&path).expect("open store");
        migration::write_secrets_before_terms(&store).await;
        store.close();
    }
    // Back to the schema before the terms, as an older kinko left it.
    let c = rusqlite::Connection::open(&path).expect("open file");
    c.execute_batch("DROP TABLE secret_terms; PRAGMA user_version = 12;")
        .expect("downgrade");
    drop(c);

    let store = SqliteStore::open(&path).expect("reopen store");
    migration::check_secret_terms_written(&store).await;
}
