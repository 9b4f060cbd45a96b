//! The storage contract: one set of async tests every [`Store`] must pass, written against
//! `Arc<dyn Store>` only. A backend (or a layer in front of one) runs them from its own tests:
//!
//! ```ignore
//! async fn fresh() -> kinko_store_contract::Handles { /* a new, empty store */ }
//! mod contract {
//!     kinko_store_contract::contract_tests!(super::fresh);
//! }
//! ```
//!
//! which generates one `#[tokio::test]` per contract test (the calling crate needs `tokio` with
//! its `macros` and `rt-multi-thread` features), or calls [`run_all`] from one test.
//!
//! [`Handles`] gives each test two handles on the same, new data: `a` and `b`. Tests write through
//! `a`; the freshness tests read through `b` a state they cached there before the write, and
//! expect the write. For a single store, `b` is `a`; for a store shared by several processes
//! (each with its own cache), `b` is another handle on the same database.
//!
//! [`words_filling`] makes the longest filter values, for tests over HTTP too.
//!
//! Depends on `kinko-core` and `tokio` only.

mod fixtures;
pub mod migration;

pub use fixtures::words_filling;
#[doc(hidden)]
pub mod tests;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use kinko_core::store::Store;

/// Two handles on one new, empty store (see the crate docs), and what must live as long as they
/// do (a temporary directory, say).
pub struct Handles {
    /// The handle tests write through.
    pub a: Arc<dyn Store>,
    /// `a` itself, or another handle on the same data.
    pub b: Arc<dyn Store>,
    _keep: Box<dyn Any + Send>,
}

impl Handles {
    /// One handle: `b` is `a`.
    pub fn one(store: Arc<dyn Store>, keep: impl Any + Send) -> Handles {
        Handles {
            a: store.clone(),
            b: store,
            _keep: Box::new(keep),
        }
    }

    /// Two handles on the same data.
    pub fn two(a: Arc<dyn Store>, b: Arc<dyn Store>, keep: impl Any + Send) -> Handles {
        Handles {
            a,
            b,
            _keep: Box::new(keep),
        }
    }
}

impl Drop for Handles {
    fn drop(&mut self) {
        self.a.close();
        self.b.close();
    }
}

/// A contract test.
pub type ContractTest = fn(Handles) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Calls `$callback!` with every contract test's name: the one list both [`contract_tests!`] and
/// [`ALL`] are made from.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_contract_tests {
    ($callback:ident ! ($($args:tt)*)) => {
        $crate::$callback! { ($($args)*)
            meta_put_if_absent_keeps_the_first_value,
            accounts_are_stored_listed_and_unique,
            access_keys_round_trip_and_list_by_user,
            access_key_status_and_deletion,
            mfa_devices_are_created_once_and_listed_per_account,
            mfa_devices_are_updated_and_deleted_by_revision,
            iam_state_starts_empty_and_is_written_by_revision,
            iam_concurrent_writers_lose_nothing,
            account_aliases_are_unique_and_find_their_account,
            organization_is_written_by_revision,
            member_account_creation_is_one_transaction,
            secret_is_read_by_arn_and_name_with_its_values,
            secret_name_is_unique_and_creating_twice_conflicts,
            secret_update_with_a_stale_revision_changes_nothing,
            secret_update_adds_replaces_and_removes_values,
            secret_delete_removes_values_and_frees_the_name,
            secret_concurrent_writers_lose_no_version,
            secret_writes_together_are_all_or_nothing,
            secret_listing_orders_and_pages,
            secret_listing_filters_as_the_rules_say,
            secret_listing_takes_the_largest_filters,
            secret_listing_seeks_after_a_secret,
            secret_listing_filters_many_secrets,
            secrets_due_for_deletion,
            secrets_due_for_rotation,
            kms_key_is_created_with_material_and_alias,
            kms_key_with_a_taken_alias_is_not_created,
            kms_key_update_and_material_by_revision,
            kms_key_grants_are_kept_and_deleted_with_the_key,
            kms_key_delete_removes_aliases_and_material,
            kms_keys_due_for_deletion_and_rotation,
            kms_aliases_create_update_delete_and_list,
            kms_key_concurrent_writers_lose_nothing,
            lease_is_held_by_one_holder_until_it_expires_or_is_released,
            lease_concurrent_takers_get_it_once,
            rewrap_is_all_or_nothing_and_later_reads_see_it,
            change_feed_reports_every_write,
            fresh_secret_after_writes,
            fresh_iam_after_writes,
            fresh_organization_after_writes,
            fresh_kms_after_writes,
            fresh_access_key_after_writes,
            attachments_are_found_by_port_and_token_and_revoked,
            attachment_ports_tokens_and_ids_are_unique,
            functions_are_written_by_revision_with_their_code,
            function_concurrent_writers_lose_nothing,
            stacks_are_written_by_revision_and_listed,
            stacks_with_sealed_values_are_rewrapped,
            stacks_in_operation_are_listed,
            stack_exports_and_imports_are_kept,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_list {
    (() $($name:ident),* $(,)?) => {
        /// Every contract test, by name.
        pub const ALL: &[(&str, $crate::ContractTest)] = &[
            $((stringify!($name), |h| Box::pin($crate::tests::$name(h)))),*
        ];
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_fns {
    (($factory:path) $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::tests::$name($factory().await).await;
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_fns_if {
    (($factory:path) $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(handles) = $factory().await {
                    $crate::tests::$name(handles).await;
                }
            }
        )*
    };
}

/// Like [`contract_tests!`], for a store that may be unavailable (a database server named by an
/// environment variable): `$factory` returns `Option<Handles>`, and each test passes without
/// running when it returns `None` (the factory prints why).
#[macro_export]
macro_rules! contract_tests_if {
    ($factory:path) => {
        $crate::__with_contract_tests!(__contract_fns_if!($factory));
    };
}

/// One `#[tokio::test]` per contract test, each on a new store from `$factory`: an async fn
/// returning [`Handles`].
#[macro_export]
macro_rules! contract_tests {
    ($factory:path) => {
        $crate::__with_contract_tests!(__contract_fns!($factory));
    };
}

__with_contract_tests!(__contract_list!());

/// Runs every contract test in turn, each on a new store from `factory`; panics on the first
/// failure, naming the test.
pub async fn run_all<F, Fut>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Handles>,
{
    for (name, test) in ALL {
        let handles = factory().await;
        let outcome = tokio::spawn(test(handles)).await;
        if let Err(e) = outcome {
            panic!("contract test {name} failed: {e}");
        }
    }
}
