//! Background jobs: removing secrets whose recovery window has passed, and KMS keys whose deletion
//! date has passed (with their aliases and material); rotating KMS keys whose automatic rotation
//! is due; starting the secret rotations whose window has opened.
//!
//! With several nodes on one database, each job runs on one node at a time: the one holding the
//! job's lease in the store (`Store::acquire_lease`, named `job/<name>`). Every node tries to take
//! or extend each lease at every tick; the holder extends it and runs the job, the others skip it.
//! When the holder dies, its lease runs out and the next node to tick takes it over, within the
//! lease's length and one tick. The lease is no lock (a holder that stalls past its expiry may
//! overlap with the next): each change is still a write based on the revision read, so a secret
//! or key is removed, a key rotated, or a secret's rotation started, at most once whatever
//! happens.
//!
//! Scheduled secret rotation (`rotate_secrets`) keeps nothing in memory: each run asks the store
//! for the secrets due (an indexed date each secret's writes keep, see
//! `Secret::rotation_due_date`), so a restarted server, or the node that takes the lease over,
//! starts what is due from the stored state alone, retrying a rotation a stop left unfinished
//! (see `kinko_api::secretsmanager::rotation::start_scheduled`).
//!
//! At every tick each node also looks for CloudFormation stack operations whose node is gone (the
//! stack's own lease ran out) and takes them over.

use std::sync::Arc;

use kinko_api::secretsmanager::rotation::{Scheduled, start_scheduled};
use std::time::{Duration, Instant};

use kinko_api::Services;
use kinko_core::Timestamp;
use kinko_core::kms::RotationType;
use kinko_core::store::{SecretWrite, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::{JobReport, Metrics};

const BATCH: usize = 256;

/// The jobs, in the order a run does them.
const JOBS: [&str; 4] = [
    "purge_secrets",
    "purge_kms_keys",
    "rotate_kms_keys",
    "rotate_secrets",
];

/// Who this node is to the jobs' leases, and how long a lease it takes.
#[derive(Clone, Debug)]
pub(crate) struct Leases {
    /// This node's holder id: host name, process id and a random part (unique per start).
    pub holder: String,
    pub length: Duration,
}

impl Leases {
    /// A new holder id, and leases of `length`, at least twice `every` (the holder extends its
    /// lease at every tick: a shorter one would lapse between two).
    pub fn new(length: Duration, every: Duration) -> Leases {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        Leases {
            holder: format!("{host}/{}/{:08x}", std::process::id(), rand::random::<u32>()),
            length: length.max(every.saturating_mul(2)),
        }
    }

    fn name(job: &str) -> String {
        format!("job/{job}")
    }
}

pub(crate) struct Jobs {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    services: Services,
    leases: Leases,
}

impl Jobs {
    pub fn start(services: Services, metrics: Arc<Metrics>, every: Duration, leases: Leases) -> Jobs {
        let (stop, mut rx) = watch::channel(false);
        let (s, l) = (services.clone(), leases.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => run_once(&s, &metrics, &l).await,
                    _ = rx.changed() => break,
                }
            }
        });
        Jobs {
            stop,
            task,
            services,
            leases,
        }
    }

    /// Stops the jobs and gives their leases up, so another node takes them over at its next
    /// tick rather than after they run out.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        for job in JOBS {
            if let Err(e) = self
                .services
                .store
                .release_lease(&Leases::name(job), &self.leases.holder)
                .await
            {
                tracing::warn!(error = %e, job, "giving up a job lease failed; it runs out on its own");
            }
        }
    }
}

/// Takes or extends the lease of `job`; whether this node holds it (and so runs the job).
async fn lease(services: &Services, metrics: &Metrics, leases: &Leases, job: &'static str) -> bool {
    let now = services.clock.now();
    let length = i64::try_from(leases.length.as_millis()).unwrap_or(i64::MAX);
    let expires = Timestamp(now.millis().saturating_add(length));
    let held = match services
        .store
        .acquire_lease(&Leases::name(job), &leases.holder, now, expires)
        .await
    {
        Ok(held) => held,
        Err(e) => {
            // Unknown: another node may run the job meanwhile; this one waits for the next tick.
            tracing::error!(error = %e, job, "taking a job lease failed");
            false
        }
    };
    metrics.job_lease(job, &leases.holder, held);
    held
}

/// Runs each job whose lease this node holds (taking or extending it first): purges every secret
/// and KMS key whose deletion date has passed, rotates the KMS keys whose automatic rotation is
/// due, then starts the secret rotations that are due; each job's result goes to `metrics`.
pub(crate) async fn run_once(services: &Services, metrics: &Arc<Metrics>, leases: &Leases) {
    for job in JOBS {
        if !lease(services, metrics, leases, job).await {
            continue;
        }
        let started = Instant::now();
        let report = match job {
            "purge_secrets" => purge_secrets(services).await,
            "purge_kms_keys" => purge_kms_keys(services).await,
            "rotate_kms_keys" => rotate_kms_keys(services).await,
            _ => rotate_secrets(services, metrics).await,
        };
        job_done(services, metrics, job, report, started);
    }
    // Stack operations whose node is gone: every node looks, and the stack's own lease (see
    // `kinko_api::cloudformation`) decides which one takes each over.
    match kinko_api::cloudformation::take_over_abandoned(services).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(stacks = n, "took over stack operations whose node is gone"),
        Err(e) => tracing::error!(error = %e, "looking for abandoned stack operations failed"),
    }
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

/// Starts the rotation of every secret due for it (rotation on, its window open, or a rotation
/// left unfinished to retry), each through the same run RotateSecret starts. The runs go on in the
/// background; `metrics` counts the scheduled rotations started, and those that failed (could not
/// start, or ended unfinished) or succeeded. A secret changed since it was listed is left to the
/// next run, which sees its new state.
async fn rotate_secrets(services: &Services, metrics: &Arc<Metrics>) -> JobReport {
    let mut report = JobReport::default();
    loop {
        let now = services.clock.now();
        let due = match services.store.secrets_due_for_rotation(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "listing secrets due for rotation failed");
                report.list_failed = true;
                return report;
            }
        };
        let n = due.len();
        let mut started = 0;
        for s in due {
            match start_scheduled(services, s).await {
                Scheduled::Started { run, .. } => {
                    started += 1;
                    report.done += 1;
                    metrics.scheduled_rotation("started");
                    let metrics = metrics.clone();
                    tokio::spawn(async move {
                        let ok = run.await.unwrap_or(false);
                        metrics.scheduled_rotation(if ok { "succeeded" } else { "failed" });
                    });
                }
                Scheduled::Skipped(_) => report.conflicts += 1,
                Scheduled::Failed(_) => {
                    report.failed += 1;
                    metrics.scheduled_rotation("failed");
                }
            }
        }
        // A full batch of which none could be started would come back the same: stop until the
        // next run.
        if n < BATCH || started == 0 {
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
                Ok(()) => {
                    tracing::info!(arn = %k.arn, "KMS key deleted after its waiting period");
                    if let Err(e) = services.keyring.forget_related(&k).await {
                        tracing::error!(error = %e, arn = %k.arn, "updating the related multi-Region keys failed");
                    }
                }
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
