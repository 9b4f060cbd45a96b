//! Virtual MFA devices' codes, for every place that asks for one: IAM (EnableMFADevice,
//! ResyncMFADevice), STS (GetSessionToken and AssumeRole with `SerialNumber` and `TokenCode`) and
//! the console's sign-in.
//!
//! A device's seed is sealed under the root key (bound to its serial number) the moment it is
//! made and opened only here, to check a code. A code is good once: the device keeps the last
//! time step a code was accepted for, and a code of that step or an earlier one is refused, also
//! when two requests race with the same code (the device is written based on its revision).

use kinko_core::Timestamp;
use kinko_core::mfa::{Holder, MfaDevice};
use kinko_core::store::StoreError;
use kinko_crypto::totp;
use zeroize::Zeroizing;

use crate::Services;

/// Steps either side of now a sign-in or STS code may be from (RFC 6238 recommends at most one
/// step of network delay; the same one step allows for a little clock drift).
pub const WINDOW: u64 = 1;
/// Steps either side of now the two codes that enable or resynchronize a device may be from:
/// resynchronizing is for a device whose clock drifted (AWS's ResyncMFADevice).
pub const SYNC_WINDOW: u64 = 10;
/// Reads of a device a code check makes when other requests keep changing it.
const ATTEMPTS: usize = 5;

/// Why a code was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum MfaRefused {
    /// The user (or root user) has no enabled device with this serial number.
    #[error("no such MFA device for this user")]
    NoDevice,
    /// The code is wrong, outside the window, or was used already.
    #[error("invalid code")]
    InvalidCode,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The seed could not be opened; details for the log only.
    #[error("{0}")]
    Internal(String),
}

/// A new seed, and it sealed for the device `serial_number`.
pub fn new_seed(services: &Services, serial_number: &str) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), String> {
    let seed = totp::generate_seed().map_err(|e| e.to_string())?;
    let sealed = services
        .keyring
        .root()
        .seal(&seed, serial_number.as_bytes())
        .map_err(|e| format!("sealing an MFA seed: {e}"))?;
    Ok((seed, sealed))
}

fn open_seed(services: &Services, device: &MfaDevice) -> Result<Zeroizing<Vec<u8>>, MfaRefused> {
    services
        .keyring
        .root()
        .open(&device.sealed_seed, device.serial_number.as_bytes())
        .map_err(|e| MfaRefused::Internal(format!("opening the seed of {}: {e}", device.serial_number)))
}

/// The current time step.
fn now_step(services: &Services) -> u64 {
    totp::step_at(services.clock.now().millis().div_euclid(1000))
}

/// Codes are six digits; anything else never matches (and costs the same to refuse).
pub fn is_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `code` against the enabled device `serial_number` of `holder` (an IAM user or the root
/// user of `account`), and records it as used. Answers when the code was proved.
pub async fn prove(
    services: &Services,
    account: &str,
    holder: Holder<'_>,
    serial_number: &str,
    code: &str,
) -> Result<Timestamp, MfaRefused> {
    for _ in 0..ATTEMPTS {
        let device = services
            .store
            .mfa_device(serial_number)
            .await?
            .filter(|d| d.account_id == account && d.assigned_to(holder) && d.enable_date.is_some())
            .ok_or(MfaRefused::NoDevice)?;
        let seed = open_seed(services, &device)?;
        let step = totp::verify(&seed, code, now_step(services), WINDOW, device.last_step)
            .ok_or(MfaRefused::InvalidCode)?;
        match services
            .store
            .update_mfa_device(MfaDevice {
                last_step: step,
                ..device
            })
            .await
        {
            Ok(()) => return Ok(services.clock.now()),
            // Changed meanwhile (maybe this very code was used): check again on a fresh read.
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(MfaRefused::Store(StoreError::Conflict))
}

/// Checks two consecutive codes of `device` (enabling or resynchronizing it): the step of the
/// second, to record as the device's last, or `None` when they are not two consecutive codes
/// after the last one used.
pub fn consecutive(
    services: &Services,
    device: &MfaDevice,
    first: &str,
    second: &str,
) -> Result<Option<u64>, MfaRefused> {
    let seed = open_seed(services, device)?;
    Ok(totp::verify_consecutive(
        &seed,
        first,
        second,
        now_step(services),
        SYNC_WINDOW,
        device.last_step,
    ))
}

/// Checks `code` against each enabled device of `holder` (an IAM user or the root user may have
/// several), as the console's sign-in does: when the code was proved, or why not.
pub async fn prove_any(
    services: &Services,
    account: &str,
    holder: Holder<'_>,
    code: &str,
) -> Result<Timestamp, MfaRefused> {
    let devices: Vec<MfaDevice> = services
        .store
        .list_mfa_devices(account)
        .await?
        .into_iter()
        .filter(|d| d.assigned_to(holder) && d.enable_date.is_some())
        .collect();
    let mut refused = MfaRefused::NoDevice;
    for d in devices {
        match prove(services, account, holder, &d.serial_number, code).await {
            Ok(at) => return Ok(at),
            Err(MfaRefused::InvalidCode | MfaRefused::NoDevice) => refused = MfaRefused::InvalidCode,
            Err(e) => return Err(e),
        }
    }
    Err(refused)
}

/// The first enabled MFA device of `holder` (an IAM user or the root user) in `account`, by
/// serial number: the one the console's sign-in asks a code of. `None` when it has none.
pub async fn enabled_device_of(
    services: &Services,
    account: &str,
    holder: Holder<'_>,
) -> Result<Option<MfaDevice>, StoreError> {
    Ok(services
        .store
        .list_mfa_devices(account)
        .await?
        .into_iter()
        .find(|d| d.assigned_to(holder) && d.enable_date.is_some()))
}
