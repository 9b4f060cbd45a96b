//! Readiness: whether the server can do its work now, which `GET /ready` answers. A probe writes
//! to the store (`Store::check_writable`) every `--ready-probe-interval`; while the last probe
//! failed (a full disk, a file size limit, a lost database), `/ready` answers 503 and load
//! balancers stop sending writes here. Reads keep being served.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kinko_core::store::Store;
use tokio::task::JoinHandle;

#[derive(Default)]
pub(crate) struct Readiness {
    unwritable: AtomicBool,
    /// Set by the node's root key ring (several nodes on one database): the database is under a
    /// root key this node does not hold.
    root_key_missing: Arc<AtomicBool>,
}

impl Readiness {
    pub(crate) fn ready(&self) -> bool {
        !self.unwritable.load(Ordering::Relaxed)
    }

    pub(crate) fn root_key_missing(&self) -> bool {
        self.root_key_missing.load(Ordering::Relaxed)
    }

    /// The flag the root key ring sets.
    pub(crate) fn root_key_flag(&self) -> Arc<AtomicBool> {
        self.root_key_missing.clone()
    }

    /// Runs one probe (bounded by `within`) and records its outcome.
    pub(crate) async fn probe(&self, store: &dyn Store, within: Duration) {
        let ok = match tokio::time::timeout(within, store.check_writable()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the store cannot be written: /ready answers 503");
                false
            }
            Err(_) => {
                tracing::error!("a store write took longer than {within:?}: /ready answers 503");
                false
            }
        };
        let was_ok = !self.unwritable.swap(!ok, Ordering::Relaxed);
        if ok && !was_ok {
            tracing::info!("the store can be written again: /ready answers 200");
        }
    }

    /// Probes every `interval` until the task is aborted.
    pub(crate) fn spawn(self: Arc<Self>, store: Arc<dyn Store>, interval: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.probe(store.as_ref(), interval.max(Duration::from_secs(1)))
                    .await;
            }
        })
    }
}
