//! The audit file writer: one thread that group-commits records. Requests append their serialized
//! records to the pending batch and wait for it; the thread takes the whole batch, chains its
//! records, writes them, `fdatasync`s the file and then wakes every request of the batch at once.
//! While it syncs one batch the next one fills, so one sync serves every request that arrived in
//! the meantime.
//!
//! When a batch cannot be written (disk full, I/O error, directory gone) the file is cut back to
//! its last good length, the batch's requests fail, and the trail is marked failed: calls are then
//! refused before they run until a record is written again. A file removed or replaced under the
//! server (by hand, or by external log rotation followed by SIGHUP) is noticed by its inode and
//! reopened, the chain continuing in the new file.
//!
//! The active file is written in place into space allocated ahead (zeros, [`PREALLOCATE`] bytes
//! at a time), as databases write their logs: overwriting blocks that are already allocated and
//! written lets `fdatasync` flush the data alone, where growing the file would also commit its
//! new size through the file system's journal on every sync. The records end at the first NUL
//! byte: the zeros past them are space not written yet. The file is cut back to its records when
//! it is rotated, closed, given up (replaced, reopened) and when the server starts.
//!
//! Rotation by size and age seals the file (see [`super::seal`]) and renames it to
//! `NAME.NNNNNN`; retention then removes the oldest rotated files beyond the configured count or
//! age.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use kinko_api::audit::AuditFailed;
use ring::digest;

use super::chain::{self, Link};
use super::seal::{Seal, SealKey};

/// How records reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Each call is answered once its record is written and `fdatasync`ed (group-committed).
    #[default]
    Fsync,
    /// Records are buffered and written every 50 ms without syncing; a crash loses the last
    /// ones and a failing disk fails no call. For those who choose speed over the trail.
    Buffered,
}

/// Rotation and retention of the audit file.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub durability: Durability,
    /// Rotate when the file reaches this many bytes; 0 = never by size.
    pub rotate_bytes: u64,
    /// Rotate when the file is this old; `None` = never by age.
    pub rotate_age: Option<Duration>,
    /// Keep at most this many rotated files; 0 = no limit by count.
    pub keep_files: usize,
    /// Remove rotated files older than this; `None` = no limit by age.
    pub keep_age: Option<Duration>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            durability: Durability::Fsync,
            rotate_bytes: 100 * 1024 * 1024,
            rotate_age: Some(Duration::from_secs(24 * 3600)),
            keep_files: 100,
            keep_age: None,
        }
    }
}

/// How often the writer looks at the clock (age rotation) and the file when idle.
const TICK: Duration = Duration::from_secs(1);
/// How long buffered records wait.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How much zeroed space is added to the active file at a time, ahead of its records: one
/// sync in this many bytes of records also commits the file's new size.
pub(crate) const PREALLOCATE: u64 = 1024 * 1024;

/// The outcome of one batch, and the requests waiting for it.
pub(super) struct Batch {
    result: OnceLock<Result<(), AuditFailed>>,
    done: tokio::sync::Notify,
}

impl Batch {
    fn new() -> Arc<Batch> {
        Arc::new(Batch {
            result: OnceLock::new(),
            done: tokio::sync::Notify::new(),
        })
    }

    fn finish(&self, result: Result<(), AuditFailed>) {
        let _ = self.result.set(result);
        self.done.notify_waiters();
    }

    /// Resolves when the batch has been written (or has failed).
    pub(super) async fn wait(self: Arc<Self>) -> Result<(), AuditFailed> {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = self.result.get() {
                return r.clone();
            }
            notified.await;
        }
    }
}

struct Pending {
    buf: Vec<u8>,
    batch: Arc<Batch>,
    closed: bool,
    reopen: bool,
    /// Whether the writer thread waits for records: only then does an append wake it (while it
    /// writes and syncs a batch it takes the next one without waiting, and a wake-up would be a
    /// system call on the request's thread for nothing).
    idle: bool,
}

/// What the writer reports, for logs and metrics.
#[derive(Default)]
pub struct WriterStats {
    /// Batches written (and synced).
    pub batches: AtomicU64,
    /// Records written.
    pub records: AtomicU64,
    /// Batches that could not be written.
    pub failures: AtomicU64,
    /// Total time spent writing and syncing batches, in microseconds.
    pub write_micros: AtomicU64,
    /// Bytes of records written (chained, as in the file).
    pub bytes: AtomicU64,
    /// Batches by the time they took to write, per bucket of [`WRITE_BUCKETS_MICROS`].
    pub histogram: [AtomicU64; WRITE_BUCKETS],
}

/// Upper bounds of the write-time buckets, in microseconds (the last bucket counts the rest).
pub const WRITE_BUCKETS_MICROS: [u64; WRITE_BUCKETS - 1] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];
pub const WRITE_BUCKETS: usize = 13;

/// Told, from the writer's thread, of each batch written (its bytes) and of each look at the
/// file (rotation, retention), before the batch's calls are answered, with where the records
/// written so far end in the active file.
pub(super) type OnWrite = Arc<dyn Fn(u64, Option<Committed>) + Send + Sync>;

/// Where the records the writer has written end in the active file: the file (device and inode)
/// and its length. Past it there may be part of a batch whose write failed (it is cut off again)
/// or a record cut short by a crash (removed at the next start), which nobody must read as records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Committed {
    pub file: (u64, u64),
    pub len: u64,
}

pub(super) struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    healthy: AtomicBool,
    last_error: Mutex<String>,
    pub(super) durability: Durability,
    pub(super) stats: WriterStats,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends serialized records (one JSON object and a newline each); the returned batch tells
    /// when they are on disk. `None` once the writer is closed.
    pub(super) fn append(&self, records: &[u8]) -> Option<Arc<Batch>> {
        let mut p = self.lock();
        if p.closed {
            return None;
        }
        p.buf.extend_from_slice(records);
        let batch = p.batch.clone();
        let wake = std::mem::take(&mut p.idle);
        drop(p);
        if wake {
            self.wake.notify_one();
        }
        Some(batch)
    }

    pub(super) fn ready(&self) -> Result<(), AuditFailed> {
        if self.healthy.load(Ordering::Acquire) {
            Ok(())
        } else {
            let e = self.last_error.lock().unwrap_or_else(PoisonError::into_inner);
            Err(AuditFailed(e.clone()))
        }
    }

    pub(super) fn reopen(&self) {
        self.lock().reopen = true;
        self.wake.notify_one();
    }
}

/// The writer thread's handle.
pub(super) struct Writer {
    pub(super) shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(super) fn start(
        out: Out,
        durability: Durability,
        on_write: Option<OnWrite>,
    ) -> std::io::Result<Writer> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(64 * 1024),
                batch: Batch::new(),
                closed: false,
                reopen: false,
                idle: false,
            }),
            wake: Condvar::new(),
            healthy: AtomicBool::new(true),
            last_error: Mutex::default(),
            durability,
            stats: WriterStats::default(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("kinko-audit".into())
            .spawn(move || run(&s, out, on_write.as_ref()))?;
        Ok(Writer {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Writes out what is pending and stops the thread.
    pub(super) fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = h.join();
        }
    }
}

fn run(s: &Shared, mut out: Out, on_write: Option<&OnWrite>) {
    let told = |bytes: u64, out: &Out| {
        if let Some(f) = on_write {
            f(bytes, out.committed());
        }
    };
    // Where the file's records end before anything is written.
    told(0, &out);
    let mut taken = Vec::with_capacity(64 * 1024);
    let mut last_tick = Instant::now();
    loop {
        let (batch, closed, reopen) = {
            let mut p = s.lock();
            match s.durability {
                Durability::Fsync => {
                    while p.buf.is_empty() && !p.closed && !p.reopen && last_tick.elapsed() < TICK {
                        let left = TICK.saturating_sub(last_tick.elapsed());
                        p.idle = true;
                        p = s
                            .wake
                            .wait_timeout(p, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                        p.idle = false;
                    }
                }
                Durability::Buffered => {
                    if !p.closed && !p.reopen {
                        p = s
                            .wake
                            .wait_timeout(p, FLUSH_EVERY)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                    }
                }
            }
            std::mem::swap(&mut p.buf, &mut taken);
            let batch = std::mem::replace(&mut p.batch, Batch::new());
            let reopen = std::mem::take(&mut p.reopen);
            (batch, p.closed, reopen)
        };
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            out.tick();
            told(0, &out);
        }
        if reopen {
            out.reopen("the server was asked to reopen it (SIGHUP)");
        }
        if !taken.is_empty() {
            let started = Instant::now();
            let result = out.write_batch(&taken, s.durability == Durability::Fsync);
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            s.stats.write_micros.fetch_add(micros, Ordering::Relaxed);
            let bucket = WRITE_BUCKETS_MICROS
                .iter()
                .position(|&b| micros <= b)
                .unwrap_or(WRITE_BUCKETS - 1);
            s.stats.histogram[bucket].fetch_add(1, Ordering::Relaxed);
            match result {
                Ok((n, bytes)) => {
                    s.stats.batches.fetch_add(1, Ordering::Relaxed);
                    s.stats.records.fetch_add(n, Ordering::Relaxed);
                    s.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
                    told(bytes, &out);
                    if !s.healthy.swap(true, Ordering::AcqRel) {
                        tracing::warn!("audit log writable again: calls are served again");
                    }
                    batch.finish(Ok(()));
                }
                Err(e) => {
                    s.stats.failures.fetch_add(1, Ordering::Relaxed);
                    let text = format!("cannot write the audit log {}: {e}", out.describe());
                    if s.healthy.swap(false, Ordering::AcqRel) {
                        tracing::error!(
                            "{text}; calls are refused until their records can be written (audit_write_failures={})",
                            s.stats.failures.load(Ordering::Relaxed)
                        );
                    }
                    *s.last_error.lock().unwrap_or_else(PoisonError::into_inner) = text.clone();
                    batch.finish(Err(AuditFailed(text)));
                }
            }
            taken.clear();
            if taken.capacity() > 4 * 1024 * 1024 {
                taken = Vec::with_capacity(64 * 1024);
            }
        } else {
            batch.finish(Ok(()));
        }
        if closed {
            out.close();
            // Requests still waiting on a batch appended after the last swap: none can be, as
            // `append` refuses once closed; the pending batch is finished for good measure.
            s.lock()
                .batch
                .finish(Err(AuditFailed("the audit log is closed".into())));
            return;
        }
    }
}

/// Where records go.
pub(super) enum Out {
    Stdout(std::io::Stdout, Link),
    File(Box<LogFile>),
}

impl Out {
    fn describe(&self) -> String {
        match self {
            Out::Stdout(..) => "(stdout)".into(),
            Out::File(f) => f.path.display().to_string(),
        }
    }

    /// Writes a batch; returns how many records and bytes it held.
    fn write_batch(&mut self, batch: &[u8], sync: bool) -> std::io::Result<(u64, u64)> {
        match self {
            Out::Stdout(out, link) => {
                let mut buf = Vec::with_capacity(batch.len() + batch.len() / 4);
                let (next, n) = chain_batch(&mut buf, batch, link);
                let mut lock = out.lock();
                lock.write_all(&buf)?;
                lock.flush()?;
                *link = next;
                Ok((n, buf.len() as u64))
            }
            Out::File(f) => f.write_batch(batch, sync),
        }
    }

    /// Where the records written end in the active file (none on stdout).
    fn committed(&self) -> Option<Committed> {
        match self {
            Out::Stdout(..) => None,
            Out::File(f) => Some(Committed {
                file: f.id,
                len: f.len,
            }),
        }
    }

    fn tick(&mut self) {
        if let Out::File(f) = self
            && let Err(e) = f.maybe_rotate()
        {
            tracing::error!("cannot rotate the audit log {}: {e}", f.path.display());
        }
    }

    fn reopen(&mut self, why: &str) {
        if let Out::File(f) = self {
            f.release();
            tracing::info!("reopening the audit log {}: {why}", f.path.display());
        }
    }

    fn close(&mut self) {
        if let Out::File(f) = self {
            f.release();
        }
    }
}

/// Chains every record of `batch` onto `buf`; returns the last link and the number of records.
fn chain_batch(buf: &mut Vec<u8>, batch: &[u8], prev: &Link) -> (Link, u64) {
    let mut link = *prev;
    let mut n = 0;
    for record in batch.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
        link = chain::append(buf, record, &link);
        n += 1;
    }
    (link, n)
}

/// The active audit file and what the writer knows of it.
pub(super) struct LogFile {
    path: PathBuf,
    options: AuditOptions,
    seal_key: Option<SealKey>,
    file: Option<File>,
    /// Device and inode of the open file, to notice it being removed or replaced.
    id: (u64, u64),
    /// Bytes of the file known to hold whole records.
    len: u64,
    /// The file's size: its records, then zeros (space allocated ahead, see [`PREALLOCATE`]).
    size: u64,
    /// Whether the file is a regular file (written in place), not a device written in turn.
    regular: bool,
    /// SHA-256 of those bytes, for the seal.
    digest: digest::Context,
    records: u64,
    /// The link before the file's first record.
    first: Link,
    /// The last record written.
    last: Link,
    opened_at: SystemTime,
    /// The number the next rotated file gets.
    next_number: u64,
    out: Vec<u8>,
}

/// `NAME.NNNNNN`: a rotated file of the log at `NAME`.
pub(crate) fn rotated_number(active: &Path, candidate: &Path) -> Option<u64> {
    let name = active.file_name()?.to_str()?;
    let other = candidate.file_name()?.to_str()?;
    let digits = other.strip_prefix(name)?.strip_prefix('.')?;
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

pub(crate) fn rotated_path(active: &Path, number: u64) -> PathBuf {
    let mut name = active.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{number:06}"));
    active.with_file_name(name)
}

pub(crate) fn seal_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".seal");
    file.with_file_name(name)
}

/// The rotated files of the log at `active`, oldest first.
pub(crate) fn rotated_files(active: &Path) -> Vec<(u64, PathBuf)> {
    let dir = match active.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            rotated_number(active, &p).map(|n| (n, p))
        })
        .collect();
    found.sort();
    found
}

/// The last whole line of `bytes` that carries a chain.
fn last_link(bytes: &[u8]) -> Option<Link> {
    bytes
        .split(|&b| b == b'\n')
        .rev()
        .find_map(|l| chain::parse(l).map(|p| p.link))
}

/// Opens the active file for writing at chosen offsets (not `O_APPEND`, under which Linux's
/// `pwrite` ignores its offset).
fn open_active_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .mode(0o600)
        .open(path)
}

/// Where the records of an active file's bytes end: at the last newline before the first NUL
/// byte (the zeros past the records are space allocated ahead and not written yet; a crash can
/// also leave part of an unanswered batch there, cut short or with a hole of zeros).
pub(crate) fn records_end(bytes: &[u8]) -> usize {
    let data = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..data]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// Writes `bytes` at `at` in a file of `size` bytes (zeros past `at`), first adding zeros (whole
/// steps of [`PREALLOCATE`]) when they don't fit, written (not just reserved) so that writing
/// records over them later changes nothing but data; returns the file's new size.
fn write_in_place(file: &File, bytes: &[u8], at: u64, size: u64) -> std::io::Result<u64> {
    let end = at + bytes.len() as u64;
    let mut grown = size;
    if end > size {
        grown = end.div_ceil(PREALLOCATE) * PREALLOCATE;
        write_zeros(file, size, grown - size)?;
    }
    file.write_all_at(bytes, at)?;
    Ok(grown)
}

/// Writes `len` zero bytes at `at`.
fn write_zeros(file: &File, mut at: u64, len: u64) -> std::io::Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let end = at + len;
    while at < end {
        let n = usize::try_from(end - at).unwrap_or(usize::MAX).min(ZEROS.len());
        file.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

impl LogFile {
    /// Opens (or creates) the log at `path`, continuing the chain from its last record, or from
    /// the last rotated file's.
    pub(super) fn open(
        path: &Path,
        options: AuditOptions,
        seal_key: Option<SealKey>,
    ) -> std::io::Result<LogFile> {
        let rotated = rotated_files(path);
        let next_number = rotated.last().map_or(1, |(n, _)| n + 1);
        let mut f = LogFile {
            path: path.to_owned(),
            options,
            seal_key,
            file: None,
            id: (0, 0),
            len: 0,
            size: 0,
            regular: false,
            digest: digest::Context::new(&digest::SHA256),
            records: 0,
            first: Link::START,
            last: Link::START,
            opened_at: SystemTime::now(),
            next_number,
            out: Vec::new(),
        };
        // Where the chain stands before the active file: the newest rotated file's end.
        if let Some((_, newest)) = rotated.last() {
            let seal = std::fs::read(seal_path(newest))
                .ok()
                .and_then(|b| serde_json::from_slice::<Seal>(&b).ok());
            let from_seal = seal.and_then(|s| {
                let chain: [u8; chain::CHAIN_LEN] = s.last_chain.as_bytes().try_into().ok()?;
                Some(Link {
                    sequence: s.last_sequence,
                    chain,
                })
            });
            f.last = from_seal
                .or_else(|| std::fs::read(newest).ok().and_then(|b| last_link(&b)))
                .unwrap_or(Link::START);
        }
        f.open_active()?;
        Ok(f)
    }

    /// Opens the active file, reading what it holds: a record cut short by a crash (never
    /// answered) is removed, and so are the zeros allocated ahead of the records; the chain
    /// continues from its last record.
    fn open_active(&mut self) -> std::io::Result<()> {
        let mut file = open_active_file(&self.path)?;
        let mut bytes = Vec::new();
        // Only a regular file is read back and written in place (a device in its place, such
        // as `/dev/full`, is written to and fails or not).
        let regular = file.metadata()?.is_file();
        if regular {
            file.seek(SeekFrom::Start(0))?;
            file.read_to_end(&mut bytes)?;
        }
        let whole = records_end(&bytes);
        if whole < bytes.len() {
            if bytes[whole..].iter().any(|&b| b != 0) {
                tracing::warn!(
                    "the audit log {} ends with a record cut short ({} bytes, from a crash before its call was answered): removed",
                    self.path.display(),
                    bytes[whole..].iter().filter(|&&b| b != 0).count()
                );
            }
            file.set_len(whole as u64)?;
            file.sync_data()?;
            bytes.truncate(whole);
        }
        self.regular = regular;
        self.size = bytes.len() as u64;
        let meta = file.metadata()?;
        self.id = (meta.dev(), meta.ino());
        self.len = bytes.len() as u64;
        self.digest = digest::Context::new(&digest::SHA256);
        self.digest.update(&bytes);
        self.records = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
        if let Some(link) = last_link(&bytes) {
            self.last = link;
        }
        self.first = bytes
            .split(|&b| b == b'\n')
            .find_map(chain::parse)
            .map_or(self.last, |p| Link {
                sequence: p.link.sequence.saturating_sub(1),
                chain: [0; chain::CHAIN_LEN],
            });
        // The age of a file counts from when it was created, as far as the file system tells.
        self.opened_at = meta
            .created()
            .or_else(|_| meta.modified())
            .unwrap_or_else(|_| SystemTime::now());
        if bytes.is_empty() {
            self.opened_at = SystemTime::now();
            self.first = self.last;
            sync_dir(&self.path);
        }
        self.file = Some(file);
        Ok(())
    }

    /// The open file, reopened when the one at the path is no longer it (removed, replaced).
    fn current(&mut self) -> std::io::Result<&mut File> {
        let same = match (&self.file, std::fs::metadata(&self.path)) {
            (Some(_), Ok(m)) => (m.dev(), m.ino()) == self.id,
            _ => false,
        };
        if !same {
            if self.file.is_some() {
                tracing::warn!(
                    "the audit log {} was removed or replaced: writing to a new file at that path (the chain continues)",
                    self.path.display()
                );
            }
            self.release();
            self.open_active()?;
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("audit log not open"))
    }

    fn write_batch(&mut self, batch: &[u8], sync: bool) -> std::io::Result<(u64, u64)> {
        self.maybe_rotate()?;
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let (link, n) = chain_batch(&mut out, batch, &self.last);
        let written = self.append(&out, sync);
        let bytes = out.len() as u64;
        if written.is_ok() {
            self.len += out.len() as u64;
            self.digest.update(&out);
            self.records += n;
            self.last = link;
        }
        if out.capacity() > 4 * 1024 * 1024 {
            out = Vec::new();
        }
        self.out = out;
        written.map(|()| (n, bytes))
    }

    fn append(&mut self, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        self.current()?;
        let (len, size, regular) = (self.len, self.size, self.regular);
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("audit log not open"))?;
        let result = if regular {
            write_in_place(file, bytes, len, size)
        } else {
            (&*file).write_all(bytes).map(|()| size)
        }
        .and_then(|grown| {
            if sync {
                file.sync_data().map(|()| grown)
            } else {
                Ok(grown)
            }
        });
        match result {
            Ok(grown) => {
                self.size = grown;
                Ok(())
            }
            Err(e) => {
                // Whatever part of the batch reached the file goes: its calls fail.
                let _ = file.set_len(len);
                // Reopened (and re-read) before the next write.
                self.file = None;
                Err(e)
            }
        }
    }

    /// Cuts the file back to its records (the zeros allocated ahead go) and lets it go.
    fn release(&mut self) {
        if let Some(file) = self.file.take()
            && self.regular
        {
            if self.size > self.len {
                let _ = file.set_len(self.len);
            }
            let _ = file.sync_all();
        }
        self.size = self.len;
    }

    /// Rotates when the file is over its size or age (and holds a record).
    fn maybe_rotate(&mut self) -> std::io::Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        let by_size = self.options.rotate_bytes > 0 && self.len >= self.options.rotate_bytes;
        let by_age = self
            .options
            .rotate_age
            .is_some_and(|age| self.opened_at.elapsed().is_ok_and(|e| e >= age));
        if by_size || by_age {
            self.rotate()?;
        }
        Ok(())
    }

    /// Seals the active file, renames it to its rotated name, starts a new one and applies
    /// retention.
    pub(super) fn rotate(&mut self) -> std::io::Result<()> {
        self.current()?;
        let (len, size) = (self.len, self.size);
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("audit log not open"))?;
        if size > len {
            file.set_len(len)?;
            self.size = len;
        }
        file.sync_all()?;
        let number = self.next_number;
        let target = rotated_path(&self.path, number);
        let mut seal = Seal {
            file: target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            number,
            records: self.records,
            bytes: self.len,
            sha256: String::from_utf8_lossy(&chain::hex(self.digest.clone().finish().as_ref())).into_owned(),
            previous_sequence: self.first.sequence,
            previous_chain: self.first.chain_str().to_owned(),
            last_sequence: self.last.sequence,
            last_chain: self.last.chain_str().to_owned(),
            sealed_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            key_id: String::new(),
            hmac: String::new(),
        };
        if let Some(key) = &self.seal_key {
            key.sign(&mut seal);
        }
        // The seal first (under a temporary name), then the rename: a crash in between leaves
        // the active file as it was.
        let seal_file = seal_path(&target);
        let tmp = seal_file.with_extension("seal.tmp");
        {
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(&seal).map_err(std::io::Error::other)?)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        std::fs::rename(&self.path, &target)?;
        std::fs::rename(&tmp, &seal_file)?;
        sync_dir(&self.path);
        self.next_number += 1;
        self.file = None;
        self.open_active()?;
        tracing::info!(
            "rotated the audit log {} to {} ({} records, sealed)",
            self.path.display(),
            target.display(),
            seal.records
        );
        self.retain();
        Ok(())
    }

    /// Removes the oldest rotated files (and their seals) beyond the count or age kept.
    fn retain(&self) {
        let files = rotated_files(&self.path);
        let excess = if self.options.keep_files > 0 {
            files.len().saturating_sub(self.options.keep_files)
        } else {
            0
        };
        for (i, (_, path)) in files.iter().enumerate() {
            let too_old = self.options.keep_age.is_some_and(|age| {
                std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|e| e > age))
            });
            if i < excess || too_old {
                match std::fs::remove_file(path) {
                    Ok(()) => {
                        let _ = std::fs::remove_file(seal_path(path));
                        tracing::info!("removed the old audit log {} (retention)", path.display());
                    }
                    Err(e) => tracing::warn!("cannot remove the old audit log {}: {e}", path.display()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32) -> Vec<u8> {
        format!("{{\"eventName\":\"Call{n}\"}}\n").into_bytes()
    }

    fn options() -> AuditOptions {
        AuditOptions {
            rotate_bytes: 0,
            rotate_age: None,
            ..AuditOptions::default()
        }
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).expect("metadata").len()
    }

    #[test]
    fn records_end_at_the_last_newline_before_the_zeros() {
        assert_eq!(records_end(b""), 0);
        assert_eq!(records_end(b"{}\n{}\n"), 6);
        assert_eq!(records_end(b"{}\n{}\n\0\0\0"), 6);
        assert_eq!(records_end(b"\0\0\0"), 0);
        // A record cut short, with and without the zeros after it.
        assert_eq!(records_end(b"{}\n{\"cut"), 3);
        assert_eq!(records_end(b"{}\n{\"cut\0\0"), 3);
        // A hole of zeros (part of an unanswered batch that never reached the disk) and records
        // past it: the records end before the hole.
        assert_eq!(records_end(b"{}\n{}\n\0\0{}\n\0"), 6);
    }

    #[test]
    fn records_are_written_over_zeros_allocated_ahead_and_the_zeros_go_when_the_file_is_let_go() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("audit.log");
        let mut f = LogFile::open(&path, options(), None).expect("open");
        f.write_batch(&[record(1), record(2)].concat(), true)
            .expect("write");
        let first = f.len;
        assert_eq!(size(&path), PREALLOCATE);
        f.write_batch(&record(3), true).expect("write");
        // Written in place: the file did not grow.
        assert_eq!(size(&path), PREALLOCATE);
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(records_end(&bytes) as u64, f.len);
        assert!(f.len > first);
        assert!(
            bytes[usize::try_from(f.len).expect("len")..]
                .iter()
                .all(|&b| b == 0)
        );
        // A batch past the space allocated grows the file by whole steps.
        let big: Vec<u8> = (4..4 + 40_000).flat_map(record).collect();
        f.write_batch(&big, true).expect("write");
        assert!(f.len > PREALLOCATE);
        assert_eq!(size(&path) % PREALLOCATE, 0);
        assert!(size(&path) >= f.len);
        let len = f.len;
        f.release();
        assert_eq!(size(&path), len);
        let report = crate::audit::verify(&path, &[], None);
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.files[0].records, 40_003);
    }

    #[test]
    fn a_file_left_by_a_crash_verifies_and_is_continued_without_its_zeros() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("audit.log");
        let mut f = LogFile::open(&path, options(), None).expect("open");
        f.write_batch(&[record(1), record(2)].concat(), true)
            .expect("write");
        let (len, last) = (f.len, f.last);
        // The process ends without letting the file go: the zeros allocated ahead stay.
        drop(f);
        assert_eq!(size(&path), PREALLOCATE);
        let report = crate::audit::verify(&path, &[], None);
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.files[0].records, 2);
        assert_eq!(report.files[0].last, Some(2));

        let mut again = LogFile::open(&path, options(), None).expect("reopen");
        assert_eq!((again.len, again.last), (len, last));
        assert_eq!(size(&path), len);
        again.write_batch(&record(3), true).expect("write");
        again.release();
        let report = crate::audit::verify(&path, &[], None);
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.files[0].records, 3);
        assert_eq!((report.files[0].first, report.files[0].last), (Some(1), Some(3)));
    }

    #[test]
    fn part_of_an_unanswered_batch_left_by_a_crash_is_removed_at_the_next_start() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("audit.log");
        let mut f = LogFile::open(&path, options(), None).expect("open");
        f.write_batch(&[record(1), record(2)].concat(), true)
            .expect("write");
        let (len, last) = (f.len, f.last);
        let file = f.file.take().expect("open file");
        drop(f);
        // A batch cut short by the crash: its first record reached the disk in part, a later
        // page of it whole, between them a hole of zeros.
        let mut torn = Vec::new();
        chain_batch(&mut torn, &[record(3), record(4)].concat(), &last);
        let cut = torn.len() / 3;
        file.write_all_at(&torn[..cut], len).expect("first part");
        file.write_all_at(&torn[2 * cut..], len + 2 * cut as u64)
            .expect("last part");
        drop(file);

        let mut again = LogFile::open(&path, options(), None).expect("reopen");
        assert_eq!((again.len, again.last), (len, last));
        assert_eq!(size(&path), len);
        again.write_batch(&record(5), true).expect("write");
        again.release();
        let report = crate::audit::verify(&path, &[], None);
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!((report.files[0].records, report.files[0].last), (3, Some(3)));
    }
}
