//! Root key rotation: re-wrapping every value sealed under the root key in one transaction, and
//! the re-wrap function kept for root-sealed values written after it.
//!
//! The store never sees a root key: it hands each value to the caller's function and stores what
//! comes back.

use std::sync::{Arc, Mutex, PoisonError};

use kinko_core::kms::WrappedMaterial;
use kinko_core::mfa::MfaDevice;
use kinko_core::principal::AccessKeyRecord;
use kinko_core::stack::Stack;
use kinko_core::store::{RewrapCounts, RootRewrap, RootSealed, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::conn::backend;

/// The re-wrap function of the last rotation, applied to root-sealed values written after it.
/// Only the writer thread reads or sets it, so its order against the rotation's transaction is
/// the writer's order.
#[derive(Default, Clone)]
pub(crate) struct Late(Arc<Mutex<Option<Arc<RootRewrap>>>>);

impl Late {
    pub fn set(&self, f: Arc<RootRewrap>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(f);
    }

    fn get(&self) -> Option<Arc<RootRewrap>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
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

fn failed(what: &str, e: &str) -> StoreError {
    StoreError::Backend(format!("re-wrapping {what} under the root key: {e}"))
}

/// Re-wraps every root-sealed value; runs inside the writer's transaction.
pub(crate) fn rewrap_all(
    c: &Connection,
    meta_keys: &[String],
    f: &RootRewrap,
) -> Result<RewrapCounts, StoreError> {
    let mut counts = RewrapCounts::default();

    let materials: Vec<(String, u32, Vec<u8>)> = {
        let mut stmt = c
            .prepare("SELECT key_arn, version, wrapped FROM kms_materials ORDER BY key_arn, version")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for (key_arn, version, wrapped) in &materials {
        let rewrapped = f(RootSealed::KmsMaterial {
            key_arn,
            version: *version,
            wrapped,
        })
        .map_err(|e| failed(&format!("the material of {key_arn} version {version}"), &e))?;
        c.execute(
            "UPDATE kms_materials SET wrapped = ?1 WHERE key_arn = ?2 AND version = ?3",
            params![rewrapped, key_arn, version],
        )
        .map_err(backend)?;
        counts.kms_materials += 1;
    }

    let keys: Vec<(String, Vec<u8>)> = {
        let mut stmt = c
            .prepare("SELECT access_key_id, sealed_secret FROM access_keys ORDER BY access_key_id")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for (access_key_id, sealed_secret) in &keys {
        let rewrapped = f(RootSealed::AccessKey {
            access_key_id,
            sealed_secret,
        })
        .map_err(|e| failed(&format!("the secret of access key {access_key_id}"), &e))?;
        c.execute(
            "UPDATE access_keys SET sealed_secret = ?1 WHERE access_key_id = ?2",
            params![rewrapped, access_key_id],
        )
        .map_err(backend)?;
        counts.access_keys += 1;
    }

    let seeds: Vec<(String, Vec<u8>)> = {
        let mut stmt = c
            .prepare("SELECT serial_number, sealed_seed FROM mfa_devices ORDER BY serial_number")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for (serial_number, sealed_seed) in &seeds {
        let rewrapped = f(RootSealed::MfaSeed {
            serial_number,
            sealed_seed,
        })
        .map_err(|e| failed(&format!("the seed of MFA device {serial_number}"), &e))?;
        c.execute(
            "UPDATE mfa_devices SET sealed_seed = ?1 WHERE serial_number = ?2",
            params![rewrapped, serial_number],
        )
        .map_err(backend)?;
        counts.mfa_devices += 1;
    }

    let stacks: Vec<(String, String)> = {
        let mut stmt = c
            .prepare("SELECT stack_id, body FROM stacks ORDER BY stack_id")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    for (stack_id, body) in &stacks {
        let mut stack: Stack = serde_json::from_str(body).map_err(backend)?;
        let n = rewrap_stack(&mut stack, f)?;
        if n == 0 {
            continue;
        }
        // The revision stays: a writer holding the stack read before rewrites its own sealed
        // values, and those pass through the re-wrap function kept for later writes.
        c.execute(
            "UPDATE stacks SET body = ?1 WHERE stack_id = ?2",
            params![serde_json::to_string(&stack).map_err(backend)?, stack_id],
        )
        .map_err(backend)?;
        counts.stack_values += n;
    }

    for key in meta_keys {
        let value: Vec<u8> = c
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(backend)?
            .ok_or_else(|| StoreError::Backend(format!("meta value {key} is missing")))?;
        let rewrapped = f(RootSealed::Meta { key, value: &value })
            .map_err(|e| failed(&format!("meta value {key}"), &e))?;
        c.execute(
            "UPDATE meta SET value = ?1 WHERE key = ?2",
            params![rewrapped, key],
        )
        .map_err(backend)?;
        counts.meta += 1;
    }
    crate::queries::changed(c, crate::queries::ROOT_SEALED, "")?;
    Ok(counts)
}
