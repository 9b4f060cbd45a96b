//! Checks of a store's migrations that every backend runs the same way around its own step back
//! to an older schema (which is backend SQL, so each store's test does it):
//!
//! ```ignore
//! let store = open();
//! migration::write_secrets_before_terms(&store).await;
//! // close, drop `secret_terms` and set the schema version back, reopen (migrating)
//! migration::check_secret_terms_written(&reopened).await;
//! ```

use kinko_core::filters::{Filter, FilterKey};
use kinko_core::secret::Tag;
use kinko_core::store::{ListOrder, ListPage, SecretWrite, Store};

use crate::fixtures::{ACCOUNT, REGION, bare_secret};

/// Writes the secrets [`check_secret_terms_written`] looks for.
pub async fn write_secrets_before_terms(store: &dyn Store) {
    let specs = [
        ("prod/AppBeta/db", "The primary database", ("env", "prod")),
        ("uat/cache", "a cache", ("team", "platform")),
    ];
    for (name, description, (key, value)) in specs {
        let mut secret = bare_secret(name, 0);
        secret.description = Some(description.to_owned());
        secret.tags = Some(vec![Tag {
            key: key.to_owned(),
            value: value.to_owned(),
        }]);
        store
            .write_secret(SecretWrite::Create {
                secret,
                values: vec![],
            })
            .await
            .expect("create");
    }
}

/// After the migration that adds `secret_terms` ran on the secrets of
/// [`write_secrets_before_terms`]: every filter finds them by their terms.
pub async fn check_secret_terms_written(store: &dyn Store) {
    let find = |key: FilterKey, value: &str| {
        let filters = vec![Filter {
            key,
            values: vec![value.to_owned()],
        }];
        async move {
            let page = ListPage {
                include_deleted: false,
                order: ListOrder::NameAsc,
                offset: 0,
                limit: 10,
                after: None,
            };
            let (secrets, _) = store
                .list_secrets_page(ACCOUNT, REGION, &filters, page)
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
