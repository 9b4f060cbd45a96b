//! A schema made before `secret_terms` (version 8) with secrets in it: the migration that adds
//! the table writes every existing secret's terms, so filters find them. Skipped (with the reason
//! printed) when `KINKO_TEST_POSTGRES_URL` is unset.

use kinko_core::store::Store;
use kinko_store_contract::migration;
use kinko_store_postgres::scratch::{ScratchSchema, test_url};
use kinko_store_postgres::{PostgresOptions, PostgresStore};

async fn open(url: &str, schema: &ScratchSchema) -> PostgresStore {
    let options = PostgresOptions {
        max_connections: 2,
        schema: Some(schema.name().to_owned()),
        ..PostgresOptions::default()
    };
    PostgresStore::connect(url, options)
        .await
        .expect("connect to PostgreSQL")
}

#[tokio::test]
async fn existing_secrets_get_their_terms() {
    let Some(url) = test_url("the secret terms migration test") else {
        return;
    };
    let schema = ScratchSchema::new(&url);
    let store = open(&url, &schema).await;
    migration::write_secrets_before_terms(&store).await;
    store.close();
    // Back to the schema before the terms, as an older kinko left it (no later version either).
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let connection = tokio::spawn(connection);
    let quoted = format!("\"{}\"", schema.name());
    client
        .batch_execute(&format!(
            "DROP TABLE {quoted}.secret_terms; DELETE FROM {quoted}.kinko_migrations WHERE version >= 9;"
        ))
        .await
        .expect("downgrade");
    drop(client);
    let _ = connection.await;

    let store = open(&url, &schema).await;
    migration::check_secret_terms_written(&store).await;
    store.close();
}
