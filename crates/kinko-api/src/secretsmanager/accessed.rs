//! `LastAccessedDate`, recorded off the read path.
//!
//! The first read of a day of a secret (GetSecretValue, BatchGetSecretValue) moves its
//! `LastAccessedDate` and its version's to that day's midnight UTC, the day resolution AWS shows.
//! The read does not wait for that write: it notes (secret ARN, version id, day) in this process's
//! pending set and answers. A background task writes what is pending at most [`DEFAULT_DELAY`]
//! later (the delay is [`AccessDates::new`]'s), many secrets at once: each a revision-checked
//! write of the secret (a concurrent change makes it read the secret again and re-apply), issued
//! together so the store commits them in one transaction where it can (the SQLite writer's group
//! commit). Dates only ever move forward. [`AccessDates::flush`] writes what is pending at once
//! (the server calls it at shutdown, after the last request).
//!
//! Until it is written, every secret this process reads for an answer (DescribeSecret,
//! ListSecrets, ListSecretVersionIds, and the reads the writing operations start from) shows the
//! pending date ([`AccessDates::overlay`]), so on one node nothing observable changes. Other
//! processes on the same database see it once it is written.
//!
//! Recording stays best-effort, as before: a write that fails is logged and dropped (the next
//! read of the secret that day notes it again), and a full pending set (more than
//! [`MAX_PENDING`] secrets, only when the store can't keep up) takes no more until it drains.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kinko_core::Timestamp;
use kinko_core::secret::Secret;
use kinko_core::store::{SecretWrite, Store, StoreError};

/// How long a recorded read waits at most before its date is written.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);
/// Most secrets pending at once: about 20 MB at worst.
pub const MAX_PENDING: usize = 100_000;
/// Most writes in flight at once while writing a batch.
const CONCURRENT_WRITES: usize = 256;
/// Tries of one secret's write against concurrent changes.
const TRIES: usize = 8;

/// The days a secret and some of its versions were last read, not yet written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    day: Timestamp,
    versions: Vec<(String, Timestamp)>,
}

impl Pending {
    /// Moves the dates of `secret` forward to these; whether any moved.
    fn apply(&self, secret: &mut Secret) -> bool {
        let mut moved = false;
        if secret.last_accessed_date < Some(self.day) {
            secret.last_accessed_date = Some(self.day);
            moved = true;
        }
        for (id, day) in &self.versions {
            if let Some(v) = secret.versions.iter_mut().find(|v| &v.id == id)
                && v.last_accessed_date < Some(*day)
            {
                v.last_accessed_date = Some(*day);
                moved = true;
            }
        }
        moved
    }

    /// Adds a read of `version_id` on `day`; whether anything moved.
    fn add(&mut self, version_id: &str, day: Timestamp) -> bool {
        let mut moved = false;
        if self.day < day {
            self.day = day;
            moved = true;
        }
        match self.versions.iter_mut().find(|(id, _)| id == version_id) {
            Some((_, d)) if *d >= day => {}
            Some((_, d)) => {
                *d = day;
                moved = true;
            }
            None => {
                self.versions.push((version_id.to_owned(), day));
                moved = true;
            }
        }
        moved
    }
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<String, Pending>,
    /// A task is on its way to write what is pending.
    scheduled: bool,
}

/// What [`AccessDates`] did since start, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessStats {
    /// Secrets whose date is waiting to be written now.
    pub pending: u64,
    /// Secrets' dates written.
    pub written: u64,
    /// Dates not recorded: failed writes, or reads while the pending set was full.
    pub dropped: u64,
}

/// This process's pending `LastAccessedDate`s (see the module docs).
#[derive(Debug)]
pub struct AccessDates {
    delay: Duration,
    state: Mutex<State>,
    /// Held while a batch is written: [`AccessDates::flush`] waits for one in progress.
    writing: tokio::sync::Mutex<()>,
    written: AtomicU64,
    dropped: AtomicU64,
}

impl Default for AccessDates {
    fn default() -> Self {
        AccessDates::new(DEFAULT_DELAY)
    }
}

impl AccessDates {
    /// Pending dates are written within about `delay` of the read.
    pub fn new(delay: Duration) -> Self {
        AccessDates {
            delay,
            state: Mutex::default(),
            writing: tokio::sync::Mutex::const_new(()),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stats(&self) -> AccessStats {
        AccessStats {
            pending: self.state().pending.len() as u64,
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Notes a read of `secret`'s version `version_id` on `day` (a midnight UTC), unless the
    /// secret as read already shows it. The write happens in the background, through `store`.
    pub fn record(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        secret: &Secret,
        version_id: &str,
        day: Timestamp,
    ) {
        let shown = secret.last_accessed_date >= Some(day)
            && secret
                .version(version_id)
                .is_none_or(|v| v.last_accessed_date >= Some(day));
        if shown {
            return;
        }
        let mut state = self.state();
        let full = state.pending.len() >= MAX_PENDING;
        match state.pending.get_mut(&secret.arn) {
            Some(p) => {
                if !p.add(version_id, day) {
                    return;
                }
            }
            None if full => {
                drop(state);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            None => {
                state.pending.insert(
                    secret.arn.clone(),
                    Pending {
                        day,
                        versions: vec![(version_id.to_owned(), day)],
                    },
                );
            }
        }
        if !state.scheduled {
            state.scheduled = true;
            drop(state);
            let this = self.clone();
            let store = store.clone();
            tokio::spawn(async move { this.run(store).await });
        }
    }

    /// Shows the pending dates of `secret` in it.
    pub fn overlay(&self, secret: &mut Secret) {
        let state = self.state();
        if let Some(p) = state.pending.get(&secret.arn) {
            p.apply(secret);
        }
    }

    /// [`AccessDates::overlay`] on several secrets.
    pub fn overlay_all(&self, secrets: &mut [Secret]) {
        let state = self.state();
        if state.pending.is_empty() {
            return;
        }
        for s in secrets {
            if let Some(p) = state.pending.get(&s.arn) {
                p.apply(s);
            }
        }
    }

    /// Writes every pending date now, and waits for a batch being written.
    pub async fn flush(&self, store: &Arc<dyn Store>) {
        let _writing = self.writing.lock().await;
        self.write_pending(store).await;
    }

    /// The background task: every `delay`, writes what is pending; ends when nothing is.
    async fn run(self: Arc<Self>, store: Arc<dyn Store>) {
        loop {
            tokio::time::sleep(self.delay).await;
            let _writing = self.writing.lock().await;
            {
                let mut state = self.state();
                if state.pending.is_empty() {
                    state.scheduled = false;
                    return;
                }
            }
            self.write_pending(&store).await;
        }
    }

    /// Writes a snapshot of the pending set; an entry leaves it once written, unless a read
    /// moved it meanwhile (the next batch writes that).
    async fn write_pending(&self, store: &Arc<dyn Store>) {
        let batch: Vec<(String, Pending)> = self
            .state()
            .pending
            .iter()
            .map(|(arn, p)| (arn.clone(), p.clone()))
            .collect();
        let mut writes = tokio::task::JoinSet::new();
        let mut done = Vec::with_capacity(batch.len());
        for (arn, p) in batch {
            while writes.len() >= CONCURRENT_WRITES {
                if let Some(Ok(d)) = writes.join_next().await {
                    done.push(d);
                }
            }
            let store = store.clone();
            writes.spawn(async move {
                let r = write(store.as_ref(), &arn, &p, None).await;
                (arn, p, r)
            });
        }
        while let Some(r) = writes.join_next().await {
            if let Ok(d) = r {
                done.push(d);
            }
        }
        let mut state = self.state();
        for (arn, p, r) in done {
            match r {
                Ok(()) => {
                    self.written.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, arn, "LastAccessedDate not recorded");
                }
            }
            if state.pending.get(&arn) == Some(&p) {
                state.pending.remove(&arn);
            }
        }
    }
}

/// Moves the stored dates of secret `arn` forward to `p`'s, from `read` (a read of it) or a fresh
/// read; reads again and re-applies on a concurrent change. A secret that is gone needs nothing.
async fn write(store: &dyn Store, arn: &str, p: &Pending, read: Option<Secret>) -> Result<(), StoreError> {
    let mut read = read;
    for _ in 0..TRIES {
        let mut secret = match read.take() {
            Some(s) => s,
            None => match store.secret_by_arn(arn).await? {
                Some(s) => s,
                None => return Ok(()),
            },
        };
        if !p.apply(&mut secret) {
            return Ok(());
        }
        let update = SecretWrite::Update {
            secret,
            new_values: vec![],
            removed_versions: vec![],
        };
        match store.write_secret(update).await {
            Err(StoreError::Conflict) => {}
            r => return r,
        }
    }
    Err(StoreError::Conflict)
}

#[cfg(test)]
mod tests {
    use kinko_core::secret::ValueKind;
    use kinko_core::store::SealedValue;
    use kinko_store_sqlite::SqliteStore;

    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const DAY_MS: i64 = 86_400_000;

    fn day(n: i64) -> Timestamp {
        Timestamp(T0.div_euclid(DAY_MS) * DAY_MS + n * DAY_MS)
    }

    fn sealed(tag: &str) -> SealedValue {
        SealedValue {
            encrypted_data_key: format!("key-{tag}").into_bytes(),
            ciphertext: format!("value-{tag}").into_bytes(),
        }
    }

    fn add_version(s: &mut Secret, id: &str) {
        s.add_version(id, None, Some(ValueKind::String), None, Timestamp(T0))
            .expect("a new version");
    }

    async fn stored(store: &Arc<dyn Store>, name: &str) -> (Arc<dyn Store>, Secret) {
        let mut secret = Secret {
            arn: format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"),
            name: name.to_owned(),
            account_id: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
            description: None,
            kms_key_id: None,
            tags: None,
            resource_policy: None,
            resource_policy_principals: vec![],
            secret_type: None,
            created_date: Timestamp(T0),
            last_changed_date: Timestamp(T0),
            last_accessed_date: None,
            deleted_date: None,
            deletion_date: None,
            rotation: None,
            last_rotated_date: None,
            primary_region: None,
            replicas: vec![],
            versions: Vec::new(),
            revision: 0,
        };
        add_version(&mut secret, "v1");
        store
            .write_secret(SecretWrite::Create {
                secret: secret.clone(),
                values: vec![("v1".to_owned(), sealed("v1"))],
            })
            .await
            .expect("create");
        let read = store
            .secret_by_arn(&secret.arn)
            .await
            .expect("read")
            .expect("exists");
        (store.clone(), read)
    }

    fn memory() -> Arc<dyn Store> {
        Arc::new(SqliteStore::in_memory().expect("store"))
    }

    #[tokio::test]
    async fn a_read_is_shown_at_once_and_written_by_flush() {
        let store = memory();
        let (store, secret) = stored(&store, "accessed-flush").await;
        let dates = Arc::new(AccessDates::new(Duration::from_secs(3_600)));
        dates.record(&store, &secret, "v1", day(1));
        let mut shown = store.secret_by_arn(&secret.arn).await.unwrap().unwrap();
        assert_eq!(shown.last_accessed_date, None, "not written yet");
        dates.overlay(&mut shown);
        assert_eq!(shown.last_accessed_date, Some(day(1)), "shown while pending");
        assert_eq!(shown.versions[0].last_accessed_date, Some(day(1)));
        dates.flush(&store).await;
        let s = store.secret_by_arn(&secret.arn).await.unwrap().unwrap();
        assert_eq!(s.last_accessed_date, Some(day(1)));
        assert_eq!(s.version("v1").unwrap().last_accessed_date, Some(day(1)));
        assert_eq!(dates.stats().pending, 0);
        assert_eq!(dates.stats().written, 1);
    }

    #[tokio::test]
    async fn the_background_task_writes_within_the_delay() {
        let store = memory();
        let (store, secret) = stored(&store, "accessed-delay").await;
        let dates = Arc::new(AccessDates::new(Duration::from_millis(20)));
        dates.record(&store, &secret, "v1", day(0));
        for _ in 0..500 {
            if dates.stats().written == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let s = store.secret_by_arn(&secret.arn).await.unwrap().unwrap();
        assert_eq!(s.last_accessed_date, Some(day(0)));
        assert_eq!(dates.stats().pending, 0);
    }

    /// A change committed between the read and the date's write (a new version) is kept: the
    /// write conflicts, reads the secret again and adds the date to it.
    #[tokio::test]
    async fn a_concurrent_change_is_kept() {
        let store = memory();
        let (store, stale) = stored(&store, "accessed-conflict").await;
        let mut changed = stale.clone();
        add_version(&mut changed, "v2");
        store
            .write_secret(SecretWrite::Update {
                secret: changed,
                new_values: vec![("v2".to_owned(), sealed("v2"))],
                removed_versions: vec![],
            })
            .await
            .expect("concurrent change");
        let p = Pending {
            day: day(2),
            versions: vec![("v1".to_owned(), day(2))],
        };
        write(store.as_ref(), &stale.arn, &p, Some(stale.clone()))
            .await
            .expect("written after a re-read");
        let s = store.secret_by_arn(&stale.arn).await.unwrap().unwrap();
        assert!(s.version("v2").is_some(), "the concurrent version is kept");
        assert_eq!(s.last_accessed_date, Some(day(2)));
        assert_eq!(s.version("v1").unwrap().last_accessed_date, Some(day(2)));
    }

    #[tokio::test]
    async fn dates_only_move_forward() {
        let store = memory();
        let (store, secret) = stored(&store, "accessed-forward").await;
        let dates = Arc::new(AccessDates::new(Duration::from_secs(3_600)));
        dates.record(&store, &secret, "v1", day(5));
        dates.flush(&store).await;
        let later = store.secret_by_arn(&secret.arn).await.unwrap().unwrap();
        // A read stamped with an earlier day (another node's clock behind) changes nothing.
        dates.record(&store, &later, "v1", day(4));
        assert_eq!(dates.stats().pending, 0, "nothing to record");
        let p = Pending {
            day: day(3),
            versions: vec![("v1".to_owned(), day(3))],
        };
        write(store.as_ref(), &secret.arn, &p, None).await.expect("no-op");
        let s = store.secret_by_arn(&secret.arn).await.unwrap().unwrap();
        assert_eq!(s.last_accessed_date, Some(day(5)));
        assert_eq!(s.revision, later.revision, "nothing written");
    }

    #[tokio::test]
    async fn a_later_day_replaces_a_pending_one() {
        let store = memory();
        let (store, secret) = stored(&store, "accessed-later").await;
        let dates = Arc::new(AccessDates::new(Duration::from_secs(3_600)));
        dates.record(&store, &secret, "v1", day(1));
        dates.record(&store, &secret, "v1", day(2));
        dates.record(&store, &secret, "v1", day(1));
        let mut shown = secret.clone();
        dates.overlay_all(std::slice::from_mut(&mut shown));
        assert_eq!(shown.last_accessed_date, Some(day(2)));
        dates.flush(&store).await;
        let s = store.secret_by_arn(&secret.arn).await.unwrap().unwrap();
        assert_eq!(s.version("v1").unwrap().last_accessed_date, Some(day(2)));
    }
}
