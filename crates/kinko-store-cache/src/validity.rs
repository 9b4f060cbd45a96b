//! When a cached entry may be served: only if nothing that could change it was invalidated since
//! the read that produced it began.
//!
//! One sequence number counts invalidations. A reader takes the current number (its *ticket*)
//! before it reads the backend and stamps what it caches with it. A writer, after its commit,
//! takes a new number and records it for each *unit* it changed (a secret, an account's IAM state,
//! ...), in one of a fixed number of stripes the unit hashes to. An entry is valid while every
//! unit it depends on has a stripe number no greater than its stamp, and no clear-all came after
//! it.
//!
//! Why this is enough: a reader whose read saw the state before a commit took its ticket before
//! that commit, hence before the writer's number, which is therefore greater than its stamp; from
//! the moment the writer recorded it (before the write returns), the entry is invalid, whatever
//! order the writers and readers finish in. An entry stamped after the number was taken comes from
//! a read that began after the commit. Two units sharing a stripe only cost a spurious miss. No
//! lock is taken: a stale fill that lands after the invalidation is never served.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

/// What an invalidation names: the unit of change of each cached kind.
#[derive(Clone, Copy, Hash)]
pub(crate) enum Unit<'a> {
    /// A secret (by ARN): its metadata and all its sealed values.
    Secret(&'a str),
    /// A KMS key (by ARN); aliases pointing at it depend on it too (deleting the key removes them).
    KmsKey(&'a str),
    /// An alias: account, region, name.
    Alias(&'a str, &'a str, &'a str),
    /// An account's IAM state.
    Iam(&'a str),
    Organization,
    AccessKey(&'a str),
}

/// 16,384 stripes: 128 KiB, and a write makes one entry in 16,384 miss spuriously at most.
const STRIPES: usize = 1 << 14;

pub(crate) struct Validity {
    seq: AtomicU64,
    cleared: AtomicU64,
    stripes: Box<[AtomicU64]>,
    hasher: quick_cache::DefaultHashBuilder,
}

impl Validity {
    pub fn new() -> Self {
        Validity {
            seq: AtomicU64::new(1),
            cleared: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: quick_cache::DefaultHashBuilder::default(),
        }
    }

    fn stripe(&self, unit: Unit<'_>) -> &AtomicU64 {
        let h = self.hasher.hash_one(unit);
        let i = (h as usize) & (STRIPES - 1);
        &self.stripes[i]
    }

    /// Taken before reading the backend; the stamp of what that read caches.
    pub fn ticket(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// After a commit that changed `units` (or may have): entries read before now are invalid.
    pub fn invalidate(&self, units: &[Unit<'_>]) {
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        for u in units {
            self.stripe(*u).fetch_max(n, Ordering::SeqCst);
        }
    }

    /// Every entry read before now is invalid.
    pub fn clear(&self) {
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.cleared.fetch_max(n, Ordering::SeqCst);
    }

    /// Whether an entry stamped `stamp` that depends on `units` may be served.
    pub fn valid(&self, stamp: u64, units: &[Unit<'_>]) -> bool {
        self.cleared.load(Ordering::SeqCst) <= stamp
            && units
                .iter()
                .all(|u| self.stripe(*u).load(Ordering::SeqCst) <= stamp)
    }
}
