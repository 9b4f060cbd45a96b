//! Root key rotation: re-wrapping every value sealed under the root key in one transaction, and
//! the re-wrap function kept for root-sealed values this process writes after it.
//!
//! The store never sees a root key: it hands each value to the caller's function and stores what
//! comes back. Writers of root-sealed values in this process hold [`Late::writing`] across their
//! transaction and a rotation holds [`Late::rotating`] across its own until the function is
//! installed, so each such write is either re-wrapped by the rotation or applies its function.
//!
//! Other processes (the other nodes, `kinko rotate-root-key`) rotate too. A node learns of it from
//! the change feed and switches keys ([`Store::fence_root_sealed`](kinko_core::store::Store)),
//! which installs the re-wrap function from its old key the same way, and the check value of its
//! new key as the fence: each write of a root-sealed value reads the check value `FOR SHARE` as
//! the last statement of its transaction and is refused when it differs. A rotation by another
//! process that committed first is seen there (the write then fails, and the node switches keys);
//! one that comes later waits (its table locks) for the write to commit and re-wraps its value.

use std::sync::{Arc, Mutex, PoisonError};

use kinko_core::kms::WrappedMaterial;
use kinko_core::mfa::MfaDevice;
use kinko_core::principal::AccessKeyRecord;
use kinko_core::stack::Stack;
use kinko_core::store::{RewrapCounts, RootFence, RootRewrap, RootSealed, StoreError};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::{Write, backend};

/// The `meta` key and value of a fence.
type Fence = Option<(String, Vec<u8>)>;

#[derive(Default, Clone)]
pub(crate) struct Late {
    f: Arc<Mutex<Option<Arc<RootRewrap>>>>,
    /// The `meta` key and value every write of a root-sealed value checks in its transaction.
    fence: Arc<Mutex<Fence>>,
    order: Arc<RwLock<()>>,
}

/// A rotation's turn: no write of a root-sealed value runs until it is dropped.
pub(crate) struct Rotation {
    late: Late,
    _guard: OwnedRwLockWriteGuard<()>,
}

impl Rotation {
    /// The rotation committed: later writes pass through `f`, and check `fence` (the fence's new
    /// value, read in the rotation's transaction) when one is set.
    pub fn installed(self, f: Arc<RootRewrap>, fence: Option<Vec<u8>>) {
        *self.late.f.lock().unwrap_or_else(PoisonError::into_inner) = Some(f);
        if let Some(value) = fence {
            let mut set = self.late.fence.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, v)) = set.as_mut() {
                *v = value;
            }
        }
    }

    /// Another process rotated: later writes pass through `f` (when given) and check `fence`.
    pub fn fenced(self, fence: RootFence) {
        if let Some(f) = fence.rewrap {
            *self.late.f.lock().unwrap_or_else(PoisonError::into_inner) = Some(f);
        }
        *self.late.fence.lock().unwrap_or_else(PoisonError::into_inner) = Some((fence.meta_key, fence.value));
    }
}

impl Late {
    pub async fn writing(&self) -> OwnedRwLockReadGuard<()> {
        self.order.clone().read_owned().await
    }

    pub async fn rotating(&self) -> Rotation {
        Rotation {
            late: self.clone(),
            _guard: self.order.clone().write_owned().await,
        }
    }

    /// The `meta` key of the fence, if one is set.
    pub fn fence_key(&self) -> Option<String> {
        self.fence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(k, _)| k.clone())
    }

    /// Inside a write of a root-sealed value (holding [`Late::writing`]): refuses it when the
    /// store is under another root key than the one this process seals under.
    pub async fn check_fence(&self, w: &Write<'_>) -> Result<(), StoreError> {
        let fence = self.fence.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let Some((key, expected)) = fence else {
            return Ok(());
        };
        let found: Option<Vec<u8>> = w
            .query_opt("SELECT value FROM meta WHERE key = $1 FOR SHARE", &[&key])
            .await?
            .map(|r| r.try_get(0).map_err(backend))
            .transpose()?;
        if found.as_deref() == Some(expected.as_slice()) {
            Ok(())
        } else {
            Err(StoreError::Backend(
                "the root key was rotated by another process and this one has not switched to the new key yet; \
                 nothing was written (retry)"
                    .into(),
            ))
        }
    }

    fn get(&self) -> Option<Arc<RootRewrap>> {
        self.f.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// An access key about to be written, its secret re-wrapped if a rotation happened.
    pub fn access_key(&self, mut k: AccessKeyRecord) -> Result<AccessKeyRecord, StoreError> {
        if let Some(f) = self.get() {
            k.sealed_secret = f(RootSealed::AccessKey {
                access_key_id: &k.access_key_id,
                sealed_secret: &k.sealed_secret,
            })
            .map_err(|e| failed("a new access key", &e))?;
        }
        Ok(k)
    }

    /// A new MFA device about to be written, its seed re-wrapped if a rotation happened.
    pub fn mfa_device(&self, mut d: MfaDevice) -> Result<MfaDevice, StoreError> {
        if let Some(f) = self.get() {
            d.sealed_seed = f(RootSealed::MfaSeed {
                serial_number: &d.serial_number,
                sealed_seed: &d.sealed_seed,
            })
            .map_err(|e| failed("a new MFA device", &e))?;
        }
        Ok(d)
    }

    /// A stack about to be written, the values sealed in it re-wrapped if a rotation happened.
    pub fn stack(&self, mut s: Stack) -> Result<Stack, StoreError> {
        if let Some(f) = self.get() {
            rewrap_stack(&mut s, f.as_ref())?;
        }
        Ok(s)
    }

    /// KMS key material about to be written, re-wrapped if a rotation happened.
    pub fn material(&self, mut m: WrappedMaterial) -> Result<WrappedMaterial, StoreError> {
        if let Some(f) = self.get() {
            m.wrapped = f(RootSealed::KmsMaterial {
                key_arn: &m.key_arn,
                version: m.version,
                wrapped: &m.wrapped,
            })
            .map_err(|e| failed("new KMS key material", &e))?;
        }
        Ok(m)
    }
}

/// Re-wraps the values sealed in `s`; returns how many.
pub(crate) fn rewrap_stack(s: &mut Stack, f: &RootRewrap) -> Result<u64, StoreError> {
    let stack_id = s.stack_id.clone();
    let mut n = 0;
    s.visit_sealed(&mut |name, sealed| {
        *sealed = f(RootSealed::StackValue {
            stack_id: &stack_id,
            name,
            sealed,
        })
        .map_err(|e| failed(&format!("{name} of stack {stack_id}"), &e))?;
        n += 1;
        Ok::<(), StoreError>(())
    })?;
    Ok(n)
}

/// Whether `s` holds a value sealed under the root key.
pub(crate) fn has_sealed(s: &mut Stack) -> bool {
    s.visit_sealed(&mut |_, _| Err(())).is_err()
}

fn failed(what: &str, e: &str) -> StoreError {
    StoreError::Backend(format!("re-wrapping {what} under the root key: {e}"))
}

/// Re-wraps every root-sealed value, inside the rotation's transaction.
pub(crate) async fn rewrap_all(
    w: &Write<'_>,
    meta_keys: &[&str],
    f: &RootRewrap,
) -> Result<RewrapCounts, StoreError> {
    let mut counts = RewrapCounts::default();

    let materials = w
        .query(
            "SELECT key_arn, version, wrapped FROM kms_materials ORDER BY key_arn, version",
            &[],
        )
        .await?;
    for row in &materials {
        let key_arn: String = row.try_get(0).map_err(backend)?;
        let version: i64 = row.try_get(1).map_err(backend)?;
        let wrapped: Vec<u8> = row.try_get(2).map_err(backend)?;
        let rewrapped = f(RootSealed::KmsMaterial {
            key_arn: &key_arn,
            version: u32::try_from(version).map_err(backend)?,
            wrapped: &wrapped,
        })
        .map_err(|e| failed(&format!("the material of {key_arn} version {version}"), &e))?;
        w.execute(
            "UPDATE kms_materials SET wrapped = $1 WHERE key_arn = $2 AND version = $3",
            &[&rewrapped, &key_arn, &version],
        )
        .await?;
        counts.kms_materials += 1;
    }

    let keys = w
        .query(
            "SELECT access_key_id, sealed_secret FROM access_keys ORDER BY access_key_id",
            &[],
        )
        .await?;
    for row in &keys {
        let access_key_id: String = row.try_get(0).map_err(backend)?;
        let sealed_secret: Vec<u8> = row.try_get(1).map_err(backend)?;
        let rewrapped = f(RootSealed::AccessKey {
            access_key_id: &access_key_id,
            sealed_secret: &sealed_secret,
        })
        .map_err(|e| failed(&format!("the secret of access key {access_key_id}"), &e))?;
        w.execute(
            "UPDATE access_keys SET sealed_secret = $1 WHERE access_key_id = $2",
            &[&rewrapped, &access_key_id],
        )
        .await?;
        counts.access_keys += 1;
    }

    let seeds = w
        .query(
            "SELECT serial_number, sealed_seed FROM mfa_devices ORDER BY serial_number",
            &[],
        )
        .await?;
    for row in &seeds {
        let serial_number: String = row.try_get(0).map_err(backend)?;
        let sealed_seed: Vec<u8> = row.try_get(1).map_err(backend)?;
        let rewrapped = f(RootSealed::MfaSeed {
            serial_number: &serial_number,
            sealed_seed: &sealed_seed,
        })
        .map_err(|e| failed(&format!("the seed of MFA device {serial_number}"), &e))?;
        w.execute(
            "UPDATE mfa_devices SET sealed_seed = $1 WHERE serial_number = $2",
            &[&rewrapped, &serial_number],
        )
        .await?;
        counts.mfa_devices += 1;
    }

    let stacks = w
        .query("SELECT stack_id, body FROM stacks ORDER BY stack_id", &[])
        .await?;
    for row in &stacks {
        let stack_id: String = row.try_get(0).map_err(backend)?;
        let body: String = row.try_get(1).map_err(backend)?;
        let mut stack: Stack = serde_json::from_str(&body).map_err(backend)?;
        let n = rewrap_stack(&mut stack, f)?;
        if n == 0 {
            continue;
        }
        // The revision stays: a writer holding the stack read before rewrites its own sealed
        // values, and those pass through the re-wrap function kept for later writes.
        let body = serde_json::to_string(&stack).map_err(backend)?;
        w.execute(
            "UPDATE stacks SET body = $1 WHERE stack_id = $2",
            &[&body, &stack_id],
        )
        .await?;
        counts.stack_values += n;
    }

    for key in meta_keys {
        let value: Vec<u8> = w
            .query_opt("SELECT value FROM meta WHERE key = $1", &[key])
            .await?
            .ok_or_else(|| StoreError::Backend(format!("meta value {key} is missing")))?
            .try_get(0)
            .map_err(backend)?;
        let rewrapped = f(RootSealed::Meta { key, value: &value })
            .map_err(|e| failed(&format!("meta value {key}"), &e))?;
        w.execute("UPDATE meta SET value = $1 WHERE key = $2", &[&rewrapped, key])
            .await?;
        counts.meta += 1;
    }
    Ok(counts)
}
