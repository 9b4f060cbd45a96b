//! Console sign-in of IAM users: account id or alias, user name and password, as on AWS's sign-in
//! page ("you must provide your account ID or account alias in addition to your user name and
//! password", IAM User Guide, "How IAM users sign in to AWS").
//!
//! [`verify_password`] answers who signed in, or one opaque refusal whatever went wrong (no such
//! account, alias, user or login profile, a wrong password, a hard-expired password), so a caller
//! learns nothing about which names exist. It takes about the same time either way: when there is
//! no password to check it checks one against a dummy hash of the same cost, so every attempt runs
//! one Argon2id verification. It does not limit attempts: the console in front of it rate-limits
//! per client and per user name.
//!
//! Signing in is no IAM action: it needs no permission, as on AWS, and what the user may do once
//! signed in is decided per request through the one authorization path, as for their access keys.

use kinko_core::principal::Principal;

use crate::Services;

/// A successful sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The IAM user, as their access keys resolve to them.
    pub principal: Principal,
    /// Whether the user must set a new password (ChangePassword) before doing anything else.
    pub password_change: Option<PasswordChange>,
}

/// Why a signed-in user must change their password first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// The login profile says so (`PasswordResetRequired`, set by an administrator).
    ResetRequired,
    /// The password is older than the account password policy's `MaxPasswordAge`.
    Expired,
}

/// A sign-in that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefused {
    /// The account, user or password is wrong; deliberately says no more.
    #[error("the account, user name or password is incorrect")]
    Refused,
    /// The store failed (logged here): the attempt could not be decided.
    #[error("sign-in is unavailable")]
    Unavailable,
}

/// Twelve digits name an account by id; anything else is taken as an alias. An alias of twelve
/// digits is thus never looked up: the account id reading wins, which is the only one of the two
/// that can't be made up by another account.
fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks an IAM user's console password. See the module documentation.
pub async fn verify_password(
    services: &Services,
    account_or_alias: &str,
    user_name: &str,
    password: &str,
) -> Result<SignedIn, SignInRefused> {
    let found = find(services, account_or_alias, user_name).await.map_err(|e| {
        tracing::error!(error = %e, "console sign-in: reading the store failed");
        SignInRefused::Unavailable
    })?;
    let hash = found.as_ref().map(|f| f.hash.clone());
    let matches = super::passwords::matches_or_dummy(password, hash)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "console sign-in: the verification failed");
            SignInRefused::Unavailable
        })?;
    match found {
        Some(f) if matches => {
            if f.hard_expired {
                return Err(SignInRefused::Refused);
            }
            Ok(SignedIn {
                principal: f.principal,
                password_change: f.password_change,
            })
        }
        _ => Err(SignInRefused::Refused),
    }
}

/// Checks a password against `hash` (a PHC string), on the same bounded threads as
/// [`verify_password`]; without a hash, against the dummy one, so it takes as long and matches
/// nothing. The console checks the root user's password this way.
pub async fn password_matches(password: &str, hash: Option<&str>) -> Result<bool, SignInRefused> {
    super::passwords::matches_or_dummy(password, hash.map(str::to_owned))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "console sign-in: the verification failed");
            SignInRefused::Unavailable
        })
}

/// A user with a login profile, as found by account and name.
struct Found {
    principal: Principal,
    hash: String,
    password_change: Option<PasswordChange>,
    /// Expired under a policy with `HardExpiry`: only an administrator can let them in again
    /// (UpdateLoginProfile), so the sign-in is refused like any other.
    hard_expired: bool,
}

async fn find(
    services: &Services,
    account_or_alias: &str,
    user_name: &str,
) -> Result<Option<Found>, kinko_core::store::StoreError> {
    let store = &services.store;
    let account = if is_account_id(account_or_alias) {
        store.account(account_or_alias).await?.map(|a| a.account_id)
    } else {
        store.account_by_alias(account_or_alias).await?
    };
    let Some(account) = account else {
        return Ok(None);
    };
    let state = store.iam_state(&account).await?;
    let Some(user) = state.user(user_name) else {
        return Ok(None);
    };
    let Some(profile) = &user.login_profile else {
        return Ok(None);
    };
    let now = services.clock.now();
    let expired = profile.expired(state.password_policy.as_ref(), now);
    let hard_expiry = state
        .password_policy
        .as_ref()
        .and_then(|p| p.hard_expiry)
        .unwrap_or(false);
    let password_change = if profile.password_reset_required {
        Some(PasswordChange::ResetRequired)
    } else if expired {
        Some(PasswordChange::Expired)
    } else {
        None
    };
    Ok(Some(Found {
        principal: user.principal(&account),
        hash: profile.password_hash.0.clone(),
        password_change,
        hard_expired: expired && hard_expiry,
    }))
}
