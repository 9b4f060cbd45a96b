//! A database made before `secret_terms` (schema version 12) with secrets in it: the migration
//! that adds the table writes every existing secret's terms, so filters find them.

use kinko_core::Timestamp;
use kinko_core::filters::{Filter, FilterKey};
use kinko_core::secret::{Secret, Tag};
use kinko_core::store::{ListOrder, ListPage, SecretWrite, Store};
use kinko_store_sqlite::SqliteStore;

fn secret(name: &str, description: &str, tag: (&str, &str)) -> Secret {
    Secret {
        arn: format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbCdEf"),
        name: name.to_owned(),
        account_id: "111122223333".to_owned(),
        region: "us-east-1".to_owned(),
        description: Some(description.to_owned()),
        kms_key_id: None,
        tags: Some(vec![Tag {
            key: tag.0.to_owned(),
            value: tag.1.to_owned(),
        }]),
        resource_policy: None,
        resource_policy_principals: vec![],
        secret_type: None,
        created_date: Timestamp::from_millis(1_700_000_000_000),
        last_changed_date: Timestamp::from_millis(1_700_000_000_000),
        last_accessed_date: None,
        deleted_date: None,
        deletion_date: None,
        rotation: None,
        last_rotated_date: None,
        primary_region: None,
        replicas: vec![],
        versions: vec![],
        revision: 0,
    }
}

#[tokio::test]
async fn existing_secrets_get_their_terms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kinko.db");
    {
        let store = SqliteStore::open(&path).expect("open store");
        for s in [
            secret("prod/AppBeta/db", "The primary database", ("env", "prod")),
            secret("uat/cache", "a cache", ("team", "platform")),
        ] {
            store
                .write_secret(SecretWrite::Create {
                    secret: s,
                    values: vec![],
                })
                .await
                .expect("create");
        }
        store.close();
    }
    // Back to the schema before the terms, as an older kinko left it.
    let c = rusqlite::Connection::open(&path).expect("open file");
    c.execute_batch("DROP TABLE secret_terms; PRAGMA user_version = 12;")
        .expect("downgrade");
    drop(c);

    let store = SqliteStore::open(&path).expect("reopen store");
    let find = |key: FilterKey, value: &str| {
        let filters = vec![Filter {
            key,
            values: vec![value.to_owned()],
        }];
        let store = &store;
        async move {
            let page = ListPage {
                include_deleted: false,
                order: ListOrder::NameAsc,
                offset: 0,
                limit: 10,
            };
            let (secrets, _) = store
                .list_secrets_page("111122223333", "us-east-1", &filters, page)
                .await
                .expect("filtered list");
            secrets.into_iter().map(|s| s.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(find(FilterKey::All, "beta").await, ["prod/AppBeta/db"]);
    assert_eq!(find(FilterKey::Description, "cache").await, ["uat/cache"]);
    assert_eq!(find(FilterKey::TagValue, "plat").await, ["uat/cache"]);
    assert_eq!(find(FilterKey::TagKey, "!env").await, ["uat/cache"]);
}
