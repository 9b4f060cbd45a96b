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

/// A database of schema version 13, whose `secret_terms` had a rowid and two indexes (and may
/// hold a term twice): the migration to the table keyed by term keeps every term.
#[tokio::test]
async fn terms_are_kept_when_the_table_is_keyed_by_term() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kinko.db");
    {
        let store = SqliteStore::open(&path).expect("open store");
        migration::write_secrets_before_terms(&store).await;
        store.close();
    }
    // Back to version 13's table, as an older kinko left it, with one term written twice.
    let c = rusqlite::Connection::open(&path).expect("open file");
    c.execute_batch(
        "CREATE TABLE old_terms (
             secret_id INTEGER NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
             kind      TEXT NOT NULL,
             attribute INTEGER NOT NULL,
             term      TEXT NOT NULL
         );
         INSERT INTO old_terms (secret_id, kind, attribute, term)
             SELECT secret_id, kind, attribute, term FROM secret_terms;
         INSERT INTO old_terms (secret_id, kind, attribute, term)
             SELECT secret_id, kind, attribute, term FROM secret_terms WHERE kind = 'v';
         DROP TABLE secret_terms;
         ALTER TABLE old_terms RENAME TO secret_terms;
         CREATE INDEX secret_terms_by_secret ON secret_terms (secret_id, kind, term);
         CREATE INDEX secret_terms_by_term ON secret_terms (kind, term);
         PRAGMA user_version = 13;",
    )
    .expect("downgrade");
    drop(c);

    let store = SqliteStore::open(&path).expect("reopen store");
    migration::check_secret_terms_written(&store).await;
    store.close();
    let c = rusqlite::Connection::open(&path).expect("open file");
    let (version, without_rowid): (i64, i64) = c
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version),
                    (SELECT count(*) FROM sqlite_master WHERE name = 'secret_terms' AND sql LIKE '%WITHOUT ROWID%')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("schema");
    assert_eq!((version, without_rowid), (14, 1));
}
