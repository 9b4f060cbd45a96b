//! Argon2id work for console passwords, off the async runtime and bounded: each hash or
//! verification takes 19 MiB and tens of milliseconds by design, so at most a few run at once
//! (one per CPU, at least two) and the rest wait their turn. A burst of sign-in attempts or
//! password changes then costs queueing time, never unbounded memory or blocking threads.

use std::sync::OnceLock;

use kinko_core::login::PasswordHash;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Why the work could not be done (a failure of this process, never of the password).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub(crate) struct WorkFailed(String);

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Semaphore::new(cpus.max(2))
    })
}

/// Runs `f` on a blocking thread once a permit is free.
async fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, WorkFailed> {
    let _permit = permits().acquire().await.map_err(|e| WorkFailed(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WorkFailed(e.to_string()))
}

/// The Argon2id hash of `password`.
pub(crate) async fn hash(password: &str) -> Result<PasswordHash, WorkFailed> {
    let password = Zeroizing::new(password.to_owned());
    bounded(move || kinko_crypto::password::hash_password(&password))
        .await?
        .map(PasswordHash)
        .map_err(|e| WorkFailed(e.to_string()))
}

/// Whether `password` is the one any of `hashes` was made from.
pub(crate) async fn matches_any(password: &str, hashes: Vec<String>) -> Result<bool, WorkFailed> {
    let password = Zeroizing::new(password.to_owned());
    bounded(move || {
        hashes
            .iter()
            .any(|h| kinko_crypto::password::verify_password(&password, h))
    })
    .await
}

/// Whether `password` is the one `hash` was made from; without a hash, the same work against a
/// dummy hash, which matches nothing (a sign-in for a user that doesn't exist).
pub(crate) async fn matches_or_dummy(password: &str, hash: Option<String>) -> Result<bool, WorkFailed> {
    let password = Zeroizing::new(password.to_owned());
    bounded(move || match &hash {
        Some(h) => kinko_crypto::password::verify_password(&password, h),
        None => {
            // The result is thrown away; `black_box` keeps the work from being optimized out.
            std::hint::black_box(kinko_crypto::password::verify_password(
                &password,
                kinko_crypto::password::dummy_hash(),
            ));
            false
        }
    })
    .await
}
