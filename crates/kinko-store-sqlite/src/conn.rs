//! Connections: the writer thread with group commit, and the reader pool.

use std::any::Any;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use kinko_core::store::StoreError;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_iam.sql"),
    include_str!("../migrations/0003_kms.sql"),
    include_str!("../migrations/0004_kms_rotation.sql"),
    include_str!("../migrations/0005_changes.sql"),
    include_str!("../migrations/0006_attachments.sql"),
    include_str!("../migrations/0007_leases.sql"),
    include_str!("../migrations/0008_functions.sql"),
    include_str!("../migrations/0009_secret_rotation.sql"),
    include_str!("../migrations/0010_account_aliases.sql"),
    include_str!("../migrations/0011_mfa_devices.sql"),
    include_str!("../migrations/0012_stacks.sql"),
    include_str!("../migrations/0013_secret_terms.sql"),
    include_str!("../migrations/0014_secret_terms_without_rowid.sql"),
];
/// The schema version that adds `secret_terms`: its migration also writes every existing secret's
/// terms, which only kinko can compute.
const SECRET_TERMS_VERSION: usize = 13;
/// Most writes committed together in one transaction.
const MAX_BATCH: usize = 512;

type Work = Box<dyn FnOnce(&Connection) -> Result<Box<dyn Any + Send>, StoreError> + Send>;

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>,
    /// Runs on the writer thread once the job's work succeeded and its transaction committed,
    /// before any later job runs.
    on_commit: Option<Box<dyn FnOnce() + Send>>,
    /// The job's transaction ends after it: no later job shares it.
    ends_batch: bool,
}

enum Readers {
    /// File databases: a pool of read connections, grown on demand.
    Pool {
        path: std::path::PathBuf,
        idle: Mutex<Vec<Connection>>,
    },
    /// In-memory databases have one connection, shared with the writer.
    Shared(Arc<Mutex<Connection>>),
}

pub(crate) struct Db {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Readers,
    /// A transaction failed to begin or commit since the readiness probe last wrote successfully.
    write_failed: Arc<AtomicBool>,
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn configure(c: &Connection) -> Result<(), StoreError> {
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
        .map_err(backend)
}

fn migrate(c: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = c.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        if i + 1 == SECRET_TERMS_VERSION {
            crate::queries::write_all_secret_terms(&tx)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

/// Reads one `meta` value through a read-only connection; `None` when the table isn't there yet.
pub(crate) fn peek_meta(path: &Path, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    use rusqlite::OptionalExtension;
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    let has_meta: bool = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(backend)?
        > 0;
    if !has_meta {
        return Ok(None);
    }
    c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(backend)
}

/// Writes a consistent copy of the database file at `path` to `to`, a new file (mode 0600 on
/// Unix), while other connections may be writing: `VACUUM INTO` reads one snapshot.
pub(crate) fn backup(path: &Path, to: &Path) -> Result<(), StoreError> {
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Backend("the backup file name is not UTF-8".into()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(to)
        .map_err(|e| backend(format!("{}: {e}", to.display())))?;
    let copied = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)
    .and_then(|c| {
        configure(&c)?;
        c.execute("VACUUM INTO ?1", [target]).map_err(backend)
    })
    .and_then(|_| {
        std::fs::File::open(to)
            .and_then(|f| f.sync_all())
            .map_err(backend)
    });
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

impl Db {
    pub fn open_file(path: &Path) -> Result<Db, StoreError> {
        let mut c = Connection::open(path).map_err(backend)?;
        c.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        configure(&c)?;
        migrate(&mut c)?;
        let writer = Arc::new(Mutex::new(c));
        Ok(Self::start(
            writer,
            Readers::Pool {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            },
        ))
    }

    pub fn open_memory() -> Result<Db, StoreError> {
        let mut c = Connection::open_in_memory().map_err(backend)?;
        configure(&c)?;
        migrate(&mut c)?;
        let conn = Arc::new(Mutex::new(c));
        Ok(Self::start(conn.clone(), Readers::Shared(conn)))
    }

    fn start(conn: Arc<Mutex<Connection>>, readers: Readers) -> Db {
        let (tx, rx) = mpsc::channel::<Job>();
        let write_failed = Arc::new(AtomicBool::new(false));
        let failed = write_failed.clone();
        let handle = std::thread::Builder::new()
            .name("kinko-sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx, &failed))
            .ok();
        Db {
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(handle),
            readers,
            write_failed,
        }
    }

    /// Whether a transaction failed to begin or commit since [`Db::clear_write_failed`].
    pub fn write_failed(&self) -> bool {
        self.write_failed.load(Ordering::Acquire)
    }

    pub fn clear_write_failed(&self) {
        self.write_failed.store(false, Ordering::Release);
    }

    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// Runs `f` in the writer's next transaction; resolves once that transaction committed.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(f, None, false).await
    }

    /// Like [`Db::write`], but `f` is the last work of its transaction, and `on_commit` runs on the
    /// writer thread after that transaction committed (only if `f` succeeded), before any work
    /// queued later runs.
    pub async fn write_last<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        on_commit: impl FnOnce() + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(f, Some(Box::new(on_commit)), true).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        on_commit: Option<Box<dyn FnOnce() + Send>>,
        ends_batch: bool,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        let work: Work = Box::new(move |c| f(c).map(|t| Box::new(t) as Box<dyn Any + Send>));
        {
            let guard = self.tx.lock().map_err(backend)?;
            let tx = guard
                .as_ref()
                .ok_or_else(|| StoreError::Backend("store is closed".into()))?;
            tx.send(Job {
                work,
                reply,
                on_commit,
                ends_batch,
            })
            .map_err(|_| StoreError::Backend("store writer stopped".into()))?;
        }
        let out = rx
            .await
            .map_err(|_| StoreError::Backend("store writer stopped".into()))??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Backend("write result type mismatch".into()))
    }

    /// Runs `f` on a read connection. Reads are short and never wait for the writer (WAL).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.readers {
            Readers::Shared(conn) => {
                let c = conn.lock().map_err(backend)?;
                f(&c)
            }
            Readers::Pool { path, idle } => {
                let pooled = idle.lock().map_err(backend)?.pop();
                let c = match pooled {
                    Some(c) => c,
                    None => {
                        let c = Connection::open_with_flags(
                            path,
                            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )
                        .map_err(backend)?;
                        configure(&c)?;
                        c
                    }
                };
                let out = f(&c);
                if let Ok(mut idle) = idle.lock() {
                    idle.push(c);
                }
                out
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.close();
    }
}

fn writer_loop(conn: &Mutex<Connection>, rx: &mpsc::Receiver<Job>, failed: &AtomicBool) {
    while let Ok(first) = rx.recv() {
        let mut open = !first.ends_batch;
        let mut batch = vec![first];
        while open && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    open = !j.ends_batch;
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        let Ok(c) = conn.lock() else { return };
        if !commit_batch(&c, batch) {
            failed.store(true, Ordering::Release);
        }
    }
    // All senders are gone: fold the WAL back into the database file before closing.
    if let Ok(c) = conn.lock() {
        let _ = c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }
}

/// Runs a batch in one transaction; false when the transaction could not begin or commit.
fn commit_batch(c: &Connection, batch: Vec<Job>) -> bool {
    if let Err(e) = c.execute_batch("BEGIN IMMEDIATE") {
        for job in batch {
            let _ = job.reply.send(Err(backend(&e)));
        }
        return false;
    }
    let mut done = Vec::with_capacity(batch.len());
    for job in batch {
        let result = match c.execute_batch("SAVEPOINT w") {
            Ok(()) => {
                let r = (job.work)(c);
                let end = if r.is_ok() {
                    "RELEASE w"
                } else {
                    "ROLLBACK TO w; RELEASE w"
                };
                match c.execute_batch(end) {
                    Ok(()) => r,
                    Err(e) => Err(backend(e)),
                }
            }
            Err(e) => Err(backend(e)),
        };
        done.push((job.reply, result, job.on_commit));
    }
    // Keeps the change feed bounded, in the same commit (a failure only postpones it).
    if let Err(e) = crate::queries::prune_changes(c) {
        tracing::warn!(error = %e, "pruning the change feed failed");
    }
    match c.execute_batch("COMMIT") {
        Ok(()) => {
            for (reply, r, on_commit) in done {
                if r.is_ok()
                    && let Some(f) = on_commit
                {
                    f();
                }
                let _ = reply.send(r);
            }
            true
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            tracing::error!(error = %e, "store commit failed");
            for (reply, _, _) in done {
                let _ = reply.send(Err(backend(&e)));
            }
            false
        }
    }
}
