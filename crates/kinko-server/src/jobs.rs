//! Background jobs: removing secrets whose recovery window has passed, and KMS keys whose deletion
//! date has passed (with their aliases and material); rotating KMS keys whose automatic rotation
//! is due. Each change is a write based on the revision read, so with several nodes exactly one of
//! them removes a given secret or key, or rotates a key once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kinko_api::Services;
use kinko_core::kms::RotationType;
use kinko_core::store::{SecretWrite, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::{JobReport, Metrics};

const BATCH: usize = 256;

pub(crate) struct Jobs {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Jobs {
    pub fn start(services: Services, metrics: Arc<Metrics>, every: Duration) -> Jobs {
        let (stop, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => run_once(&services, &metrics).await,
                    _ = rx.changed() => break,
                }
            }
        });
        Jobs { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Purges every secret and KMS key whose deletion date has passed, then rotates the KMS keys
/// whose automatic rotation is due; each job's result goes to `metrics`.
pub(crate) async fn run_once(services: &Services, metrics: &Metrics) {
    let started = Instant::now();
    let report = purge_secrets(services).await;
    job_done(services, metrics, "purge_secrets", report, started);
    let started = Instant::now();
    let report = purge_kms_keys(services).await;
    job_done(services, metrics, "purge_kms_keys", report, started);
    let started = Instant::now();
    let report = rotate_kms_keys(services).await;
    job_done(services, metrics, "rotate_kms_keys", report, started);
}

fn job_done(services: &Services, metrics: &Metrics, job: &'static str, report: JobReport, started: Instant) {
    // The server's clock: a test's manual clock moves the last success with it.
    let now = services.clock.now().millis() as f64 / 1000.0;
    metrics.job_run(job, report, started.elapsed(), now);
}

/// Counts one item's result in `report`.
fn count(report: &mut JobReport, result: &Result<(), StoreError>) {
    match result {
        Ok(()) => report.done += 1,
        Err(StoreError::Conflict) => report.conflicts += 1,
        Err(_) => report.failed += 1,
    }
}

/// Gives every key due for automatic rotation (rotation enabled, key `Enabled`, next rotation date
/// passed) a new material version: customer managed keys on their own period, AWS managed keys
/// yearly. A key changed since it was listed (disabled, rotated on demand, scheduled for
/// deletion...) is left to the next run, which sees its new state.
async fn rotate_kms_keys(services: &Services) -> JobReport {
    let mut report = JobReport::default();
    loop {
        let now = services.clock.now();
        let due = match services.store.kms_keys_due_for_rotation(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "listing KMS keys due for rotation failed");
                report.list_failed = true;
                return report;
            }
        };
        let n = due.len();
        let mut rotated = 0;
        for k in due {
            if k.next_rotation_date().is_none_or(|d| d > now) {
                continue;
            }
            match services.keyring.rotate(&k, RotationType::Automatic).await {
                Ok(r) => {
                    rotated += 1;
                    report.done += 1;
                    let material = r.current_material;
                    tracing::info!(arn = %k.arn, material, "KMS key rotated automatically");
                }
                Err(kinko_api::keyring::KeyringError::Store(StoreError::Conflict)) => report.conflicts += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(error = %e, arn = %k.arn, "rotating KMS key failed");
                }
            }
        }
        // A full batch of which none could be rotated would come back the same: stop until the
        // next run.
        if n < BATCH || rotated == 0 {
            return report;
        }
    }
}

/// Deletes KMS keys past their deletion date; ciphertexts under them can't be decrypted anymore.
async fn purge_kms_keys(services: &Services) -> JobReport {
    let mut report = JobReport::default();
    loop {
        let now = services.clock.now();
        let due = match services.store.kms_keys_due_for_deletion(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "listing KMS keys due for deletion failed");
                report.list_failed = true;
                return report;
            }
        };
        let n = due.len();
        for k in due {
            let result = services.store.delete_kms_key(&k.arn, k.revision).await;
            count(&mut report, &result);
            match result {
                Ok(()) => tracing::info!(arn = %k.arn, "KMS key deleted after its waiting period"),
                // Deletion cancelled meanwhile (or another node got it): the next run decides.
                Err(StoreError::Conflict) => {}
                Err(e) => tracing::error!(error = %e, arn = %k.arn, "purging KMS key failed"),
            }
        }
        if n < BATCH {
            return report;
        }
    }
}

/// Purges every secret whose deletion date has passed.
async fn purge_secrets(services: &Services) -> JobReport {
    let mut report = JobReport::default();
    loop {
        let now = services.clock.now();
        let due = match services.store.secrets_due_for_deletion(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "listing secrets due for deletion failed");
                report.list_failed = true;
                return report;
            }
        };
        let n = due.len();
        for s in due {
            let result = services
                .store
                .write_secret(SecretWrite::Delete {
                    arn: s.arn.clone(),
                    revision: s.revision,
                })
                .await;
            count(&mut report, &result);
            match result {
                Ok(()) => tracing::info!(arn = %s.arn, "secret deleted after its recovery window"),
                // Restored or changed meanwhile (or another node got it): the next run decides.
                Err(StoreError::Conflict) => {}
                Err(e) => tracing::error!(error = %e, arn = %s.arn, "purging secret failed"),
            }
        }
        if n < BATCH {
            return report;
        }
    }
}
