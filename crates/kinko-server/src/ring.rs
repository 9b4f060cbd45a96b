//! The root keys of a node on a database several nodes share, and root key rotation across them.
//!
//! The root key is never in the database: each node gets it from its own configuration (the key
//! file or `KINKO_ROOT_KEY`), and the database only holds the check value that tells which key
//! everything is sealed under. A rotation (`kinko rotate-root-key --store`, by any process)
//! re-wraps every root-sealed value and the check value in one transaction. Every node holds, next
//! to its current key, the next key its configuration gives (`--new-root-key-file` or
//! `KINKO_NEW_ROOT_KEY`), and opens values under either: so the re-wrapped values open everywhere
//! as soon as they are committed. Each node then switches to the key the check value names:
//!
//! - when its change feed reports the rotation (the store cache signals it, at the node's next
//!   read of the database), and every second in any case;
//! - the switch installs, in the store, the re-wrap function from the old key (for values sealed
//!   just before it and written after) and the new check value as the fence its writes of
//!   root-sealed values check in their transaction. A write sealed under the old key that meets
//!   the rotated database is refused (an internal error the SDKs retry; nothing written) instead
//!   of leaving a value under the old key behind.
//!
//! The key files are read again at every check, so a key is added (before a rotation) or removed
//! (after it, once every node switched) by writing the files, without a restart. Keys given in the
//! environment can only change with a restart.
//!
//! A node whose keys do not include the one the database is under says so loudly: an error in its
//! log, `kinko_root_key_missing` 1, and `/ready` answering 503 (a load balancer takes it out). It
//! keeps answering what it can (values whose unwrapped KMS material it holds in memory), refuses
//! root-sealed writes, and switches as soon as its key files give it the key.
//!
//! Caches: unwrapped KMS key material and signing keys do not change with a rotation (only their
//! wrapping does) and stay valid; the store cache drops every cached record on the feed's
//! rotation entry (cached access keys hold their secrets as sealed before).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kinko_core::store::{RootFence, Store};
use kinko_crypto::{RootKey, SharedRootKey};
use kinko_store_cache::CachedStore;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::bootstrap::META_ROOT_CHECK;
use crate::metrics::RootKeyMetrics;

/// How often a node checks which key the database is under when its feed reported nothing.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where a node's root keys come from.
#[derive(Clone)]
pub(crate) struct KeySources {
    pub root_base64: Option<Zeroizing<String>>,
    pub root_file: Option<PathBuf>,
    pub new_base64: Option<Zeroizing<String>>,
    pub new_file: Option<PathBuf>,
}

impl KeySources {
    pub fn from_config(config: &crate::Config) -> KeySources {
        KeySources {
            root_base64: config.root_key_base64.clone(),
            root_file: config.root_key_base64.is_none().then(|| {
                config
                    .root_key_file
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join(crate::bootstrap::ROOT_KEY_FILE))
            }),
            new_base64: config.new_root_key_base64.clone(),
            new_file: config
                .new_root_key_base64
                .is_none()
                .then(|| config.new_root_key_file.clone())
                .flatten(),
        }
    }

    /// The next key configured, if any (errors are the caller's to report).
    pub fn next(&self) -> Result<Option<RootKey>, String> {
        match (&self.new_base64, &self.new_file) {
            (Some(b64), _) => RootKey::from_base64(b64)
                .map(Some)
                .map_err(|e| format!("KINKO_NEW_ROOT_KEY: {e}")),
            (None, Some(path)) => match RootKey::load(path) {
                Ok(k) => Ok(Some(k)),
                // Not there (yet, or any more): no next key.
                Err(kinko_crypto::CryptoError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            (None, None) => Ok(None),
        }
    }

    /// Every key configured now: the root key, then the next key. A file that cannot be read is
    /// reported and left out.
    fn load(&self) -> (Vec<RootKey>, Vec<String>) {
        let mut keys = Vec::new();
        let mut problems = Vec::new();
        match (&self.root_base64, &self.root_file) {
            (Some(b64), _) => match RootKey::from_base64(b64) {
                Ok(k) => keys.push(k),
                Err(e) => problems.push(format!("KINKO_ROOT_KEY: {e}")),
            },
            (None, Some(path)) => match RootKey::load(path) {
                Ok(k) => keys.push(k),
                Err(e) => problems.push(e.to_string()),
            },
            (None, None) => {}
        }
        match self.next() {
            Ok(Some(k)) if !keys.contains(&k) => keys.push(k),
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
        (keys, problems)
    }
}

/// A node's root keys, kept in step with the database.
pub(crate) struct Ring {
    root: SharedRootKey,
    store: Arc<CachedStore>,
    sources: KeySources,
    metrics: RootKeyMetrics,
    /// Shared with the readiness of `/ready`.
    missing: Arc<AtomicBool>,
    /// The last problems reported with the key files, so each is logged once.
    problems: std::sync::Mutex<Vec<String>>,
}

impl Ring {
    /// Sets the store's fence to the check value of `root`'s current key (or to nothing that
    /// matches, when the database is under another key already: the first check sorts it out).
    pub async fn start(
        root: SharedRootKey,
        store: Arc<CachedStore>,
        sources: KeySources,
        metrics: RootKeyMetrics,
        missing: Arc<AtomicBool>,
    ) -> Arc<Ring> {
        let check = store.meta_get(META_ROOT_CHECK).await.ok().flatten();
        let value = check
            .filter(|c| root.current().verify_check(c))
            .unwrap_or_default();
        store
            .fence_root_sealed(RootFence {
                meta_key: META_ROOT_CHECK.to_owned(),
                value,
                rewrap: None,
            })
            .await;
        let ring = Arc::new(Ring {
            root,
            store,
            sources,
            metrics,
            missing,
            problems: Default::default(),
        });
        ring.check().await;
        ring
    }

    fn report_problems(&self, problems: Vec<String>) {
        let mut last = self
            .problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in &problems {
            if !last.contains(p) {
                tracing::error!(problem = %p, "a root key file cannot be read");
            }
        }
        *last = problems;
    }

    /// Reads the key files and the database's check value, and switches keys if the database
    /// was rotated.
    pub async fn check(&self) {
        let (keys, problems) = self.sources.load();
        self.report_problems(problems);
        let check = match self.store.meta_get(META_ROOT_CHECK).await {
            Ok(Some(c)) => c,
            // The database cannot be reached: the readiness probe reports it. (The check value
            // is never removed.)
            Ok(None) | Err(_) => return,
        };
        let current = self.root.current();
        if current.verify_check(&check) {
            self.root.hold(keys.iter().find(|k| **k != *current));
            self.set_missing(false);
        } else if let Some(new) = keys.iter().find(|k| k.verify_check(&check)) {
            let new = Arc::new(new.clone());
            // Writes sealed under the old key from now on are re-wrapped, and fenced on the new
            // check value; then the new key seals.
            self.store
                .fence_root_sealed(RootFence {
                    meta_key: META_ROOT_CHECK.to_owned(),
                    value: check,
                    rewrap: Some(crate::admin::rewrap_fn(current.clone(), new.clone())),
                })
                .await;
            self.root.stage((*new).clone());
            self.root.promote();
            self.root.hold(keys.iter().find(|k| **k != *new));
            self.metrics.switches.inc();
            tracing::warn!("the database was rotated to another root key: this node switched to it");
            self.set_missing(false);
        } else {
            // Nothing sealed under the old key may be written any more.
            self.store
                .fence_root_sealed(RootFence {
                    meta_key: META_ROOT_CHECK.to_owned(),
                    value: Vec::new(),
                    rewrap: None,
                })
                .await;
            self.set_missing(true);
        }
        self.metrics
            .next_loaded
            .set(i64::from(self.root.next().is_some()));
    }

    fn set_missing(&self, missing: bool) {
        let was = self.missing.swap(missing, Ordering::Relaxed);
        self.metrics.missing.set(i64::from(missing));
        if missing && !was {
            tracing::error!(
                "THE DATABASE IS UNDER A ROOT KEY THIS NODE DOES NOT HOLD: it was rotated to a key none of this \
                 node's key files gives; requests that need it fail and /ready answers 503 until the new key is \
                 in the root key file or the new root key file"
            );
        } else if was && !missing {
            tracing::info!("this node holds the database's root key again: /ready answers 200");
        }
    }

    /// Checks when the store cache's change feed shows a rotation, and every second.
    pub fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        let changes = self.store.root_sealed_changes();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = changes.notified() => {}
                    () = tokio::time::sleep(CHECK_EVERY) => {}
                }
                self.check().await;
            }
        })
    }
}
