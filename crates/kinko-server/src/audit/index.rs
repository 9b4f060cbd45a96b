//! The index LookupEvents reads: a SQLite file beside the audit log (`NAME-index.sqlite`, not
//! `NAME.*`, which tools shipping rotated logs match) that maps each lookup attribute to where
//! its records are in the log files. The log stays the source of
//! truth: the index holds no record, only hashes of the looked-up values, times and offsets, and
//! it is rebuilt from the files whenever it is missing, unreadable or of another version.
//!
//! One table per log file, `at_N (term, time, offset)` keyed in that order (a covering index by
//! construction): a lookup is one range read per file, newest first, and retention dropping a
//! file drops its table. `term` is the first 8 bytes of SHA-256 over (account, attribute,
//! value); a record read back is checked against the query, so a hash collision never shows.
//!
//! Updated incrementally, off the request path: the writer only signals that it wrote; a thread
//! of its own reads what is new in the files (each file known by device and inode, so a rotation's
//! rename keeps its rows; one removed, cut short or replaced loses them) and indexes it. A lookup
//! first indexes whatever was written before it, so a call's record can be looked up as soon as
//! the call is answered.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kinko_api::trail::{Cursor, EventIndex, EventPage, EventQuery, FoundEvent, LookupKey};

use super::writer::Committed;
use ring::digest;
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::Value;

/// The layout of the index file; another value there means it is rebuilt.
const VERSION: i64 = 2;
/// The most time between the first and the last entry of a block (milliseconds).
const BLOCK_SPAN_MS: i64 = 60_000;
/// How much of a file is read (and committed) at a time.
const CHUNK: usize = 4 * 1024 * 1024;
/// A record longer than this is not indexed (none is written that long).
const MAX_RECORD: usize = 16 * 1024 * 1024;
/// Offsets take the low bits of a position, the file's number the high ones.
const OFFSET_BITS: u32 = 40;
/// How often the index thread looks at the files without being told of a write.
const IDLE: Duration = Duration::from_secs(5);
/// The least time between two passes of the index thread. Under load the writer tells of a write
/// after every batch (hundreds a second); each pass is a transaction of the index, whose fixed
/// cost would then take more CPU than the requests. Gathering the batches of this long into one
/// pass costs nothing visible: a lookup first indexes whatever is new itself.
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(250);

/// The index of the audit log at `log`.
pub struct Index {
    log: PathBuf,
    db: PathBuf,
    state: Mutex<State>,
    /// Bumped by the writer after each write or rotation.
    written: AtomicU64,
    /// `written` as the last pass of the index found it.
    seen: AtomicU64,
    /// Bytes the writer wrote since start.
    written_bytes: AtomicU64,
    /// Bytes on disk the last pass found not yet indexed, and `written_bytes` when it started.
    backlog: AtomicU64,
    written_bytes_seen: AtomicU64,
    /// Bytes of log files this index read since it was opened.
    read_bytes: AtomicU64,
    /// Where the writer's records end in the active file: nothing past it is indexed (a batch
    /// whose write failed is cut off and written over; it must not be taken for records).
    committed: Mutex<Option<Committed>>,
    stop: AtomicBool,
    wake: Condvar,
    wake_lock: Mutex<Wake>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the index thread is told between passes.
#[derive(Default)]
struct Wake {
    /// Something was written since the last pass started.
    written: bool,
    /// The thread waits for a write: only then is it woken (while it gathers the batches of
    /// [`MIN_PASS_INTERVAL`], a wake-up per batch would only put it back to sleep).
    waiting: bool,
}

struct State {
    conn: Option<Connection>,
    /// The files indexed, by device and inode.
    files: HashMap<(u64, u64), FileRow>,
}

#[derive(Debug, Clone)]
struct FileRow {
    id: i64,
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// SHA-256 of the file's first record (to tell a replaced file that got the same inode).
    head: Vec<u8>,
    indexed: u64,
    min_time: i64,
    max_time: i64,
}

impl Index {
    /// The index of the log at `log`, in `LOG-index.sqlite` (opened on first use).
    pub fn open(log: &Path) -> Arc<Index> {
        let mut db = log.as_os_str().to_owned();
        db.push("-index.sqlite");
        Arc::new(Index {
            log: log.to_owned(),
            db: PathBuf::from(db),
            state: Mutex::new(State {
                conn: None,
                files: HashMap::new(),
            }),
            written: AtomicU64::new(1),
            seen: AtomicU64::new(0),
            written_bytes: AtomicU64::new(0),
            backlog: AtomicU64::new(0),
            written_bytes_seen: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
            committed: Mutex::new(None),
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
            wake_lock: Mutex::new(Wake::default()),
            thread: Mutex::new(None),
        })
    }

    /// Starts the thread that indexes what the writer writes (it ends with [`Index::close`], or
    /// soon after the index is dropped).
    pub fn start(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("kinko-audit-index".into())
            .spawn(move || run(&me));
        match spawned {
            Ok(h) => *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(h),
            // Lookups still index what is new before they read.
            Err(e) => tracing::error!("cannot start the audit index thread: {e}"),
        }
    }

    /// The writer wrote `bytes` (or rotated, or removed files): there is something to index, up
    /// to `committed` in the active file.
    pub(super) fn written(&self, bytes: u64, committed: Option<Committed>) {
        if let Some(c) = committed {
            *self.committed.lock().unwrap_or_else(PoisonError::into_inner) = Some(c);
        }
        self.written_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.written.fetch_add(1, Ordering::Release);
        let wake = {
            let mut w = self.wake_lock.lock().unwrap_or_else(PoisonError::into_inner);
            w.written = true;
            std::mem::take(&mut w.waiting)
        };
        if wake {
            self.wake.notify_one();
        }
    }

    /// Bytes of the log not yet indexed.
    pub fn lag_bytes(&self) -> u64 {
        let since = self
            .written_bytes
            .load(Ordering::Relaxed)
            .saturating_sub(self.written_bytes_seen.load(Ordering::Relaxed));
        self.backlog.load(Ordering::Relaxed).saturating_add(since)
    }

    /// Bytes of log files read (to index them) since the index was opened: at a start, only
    /// what the index did not hold yet.
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes.load(Ordering::Relaxed)
    }

    /// Stops the thread (what is not indexed yet is at the next start).
    pub fn close(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .written = true;
        self.wake.notify_all();
        if let Some(h) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = h.join();
        }
    }

    /// Indexes what the files hold and the index does not; logs what goes wrong (the index is
    /// rebuilt from the files when it cannot be read or written).
    pub fn catch_up(&self) {
        if self.stop.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = self.pass(&mut state) {
            tracing::warn!(
                "the LookupEvents index {} failed ({e}): rebuilding it from the audit log",
                self.db.display()
            );
            self.discard(&mut state);
            if let Err(e) = self.pass(&mut state) {
                tracing::error!(
                    "the LookupEvents index {} cannot be rebuilt: {e}",
                    self.db.display()
                );
                state.conn = None;
            }
        }
    }

    /// Removes the index file; the next pass builds it anew.
    fn discard(&self, state: &mut State) {
        state.conn = None;
        state.files.clear();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.db.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }

    fn connect(&self, state: &mut State) -> rusqlite::Result<()> {
        if state.conn.is_some() {
            return Ok(());
        }
        // Created private, as the log is.
        if let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.db)
        {
            return Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e)));
        }
        let conn = Connection::open(&self.db)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        // The index is rebuilt from the log when it is lost: no need to sync each pass.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if version != VERSION {
            if tables > 0 {
                return Err(rusqlite::Error::InvalidQuery);
            }
            conn.execute_batch(
                "CREATE TABLE files (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    path TEXT NOT NULL,
                    dev INTEGER NOT NULL,
                    ino INTEGER NOT NULL,
                    head BLOB NOT NULL,
                    indexed INTEGER NOT NULL,
                    min_time INTEGER NOT NULL,
                    max_time INTEGER NOT NULL
                );",
            )?;
            conn.pragma_update(None, "user_version", VERSION)?;
        }
        let mut files = HashMap::new();
        {
            let mut stmt =
                conn.prepare("SELECT id, path, dev, ino, head, indexed, min_time, max_time FROM files")?;
            let rows = stmt.query_map([], |r| {
                Ok(FileRow {
                    id: r.get(0)?,
                    path: PathBuf::from(r.get::<_, String>(1)?),
                    dev: r.get::<_, i64>(2)?.cast_unsigned(),
                    ino: r.get::<_, i64>(3)?.cast_unsigned(),
                    head: r.get(4)?,
                    indexed: r.get::<_, i64>(5)?.cast_unsigned(),
                    min_time: r.get(6)?,
                    max_time: r.get(7)?,
                })
            })?;
            for row in rows {
                let row = row?;
                files.insert((row.dev, row.ino), row);
            }
        }
        state.files = files;
        state.conn = Some(conn);
        Ok(())
    }

    /// One pass: forgets files that are gone, cut short or replaced, and indexes what is new.
    fn pass(&self, state: &mut State) -> Result<(), String> {
        let generation = self.written.load(Ordering::Acquire);
        let bytes_mark = self.written_bytes.load(Ordering::Relaxed);
        self.connect(state).map_err(|e| e.to_string())?;
        let mut on_disk: Vec<(PathBuf, std::fs::Metadata)> = super::writer::rotated_files(&self.log)
            .into_iter()
            .map(|(_, p)| p)
            .chain(std::iter::once(self.log.clone()))
            .filter_map(|p| {
                let m = std::fs::metadata(&p).ok()?;
                // Only regular files are read back (a device in the log's place never ends).
                m.is_file().then_some((p, m))
            })
            .collect();
        let present: std::collections::HashSet<(u64, u64)> =
            on_disk.iter().map(|(_, m)| (m.dev(), m.ino())).collect();
        let gone: Vec<FileRow> = state
            .files
            .values()
            .filter(|f| !present.contains(&(f.dev, f.ino)))
            .cloned()
            .collect();
        for f in gone {
            self.forget(state, &f).map_err(|e| e.to_string())?;
        }
        let committed = *self.committed.lock().unwrap_or_else(PoisonError::into_inner);
        let mut backlog = 0;
        for (_, m) in &on_disk {
            let key = (m.dev(), m.ino());
            let indexed = state.files.get(&key).map_or(0, |f| f.indexed);
            backlog += readable(m.len(), key, committed).saturating_sub(indexed);
        }
        self.backlog.store(backlog, Ordering::Relaxed);
        self.written_bytes_seen.store(bytes_mark, Ordering::Relaxed);
        for (path, meta) in on_disk.drain(..) {
            self.index_file(state, &path, &meta).map_err(|e| e.to_string())?;
        }
        self.backlog.store(0, Ordering::Relaxed);
        self.seen.store(generation, Ordering::Release);
        Ok(())
    }

    fn forget(&self, state: &mut State, f: &FileRow) -> rusqlite::Result<()> {
        let Some(conn) = &state.conn else {
            return Ok(());
        };
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(&format!("DROP TABLE IF EXISTS at_{}", f.id))?;
        tx.execute("DELETE FROM files WHERE id = ?1", params![f.id])?;
        tx.commit()?;
        state.files.remove(&(f.dev, f.ino));
        Ok(())
    }

    /// Indexes the whole records of `path` past what is indexed of it.
    fn index_file(&self, state: &mut State, path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
        let key = (meta.dev(), meta.ino());
        let mut file = match File::open(path) {
            Ok(f) => f,
            // Rotated or removed since it was listed: the next pass sees it where it is.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let opened = file.metadata()?;
        if (opened.dev(), opened.ino()) != key {
            return Ok(());
        }
        // The file the writer writes is read up to where its written records end; past that
        // may be a failed batch's records, about to be cut off and written over.
        let committed = *self.committed.lock().unwrap_or_else(PoisonError::into_inner);
        let size = readable(opened.len(), key, committed);
        if let Some(known) = state.files.get(&key).cloned() {
            let replaced = size < known.indexed
                || (known.path != path || size > known.indexed)
                    && !known.head.is_empty()
                    && first_record_digest(&file)? != known.head;
            if replaced {
                tracing::info!(
                    "the audit log {} was cut short or replaced: indexing it anew",
                    path.display()
                );
                self.forget(state, &known).map_err(std::io::Error::other)?;
            } else if known.path != path {
                let conn = state
                    .conn
                    .as_ref()
                    .ok_or_else(|| std::io::Error::other("no index"))?;
                conn.execute(
                    "UPDATE files SET path = ?1 WHERE id = ?2",
                    params![path.to_string_lossy(), known.id],
                )
                .map_err(std::io::Error::other)?;
                if let Some(f) = state.files.get_mut(&key) {
                    f.path = path.to_owned();
                }
            }
        }
        let mut row = match state.files.get(&key) {
            Some(r) => r.clone(),
            None => {
                if size == 0 {
                    return Ok(());
                }
                let conn = state
                    .conn
                    .as_ref()
                    .ok_or_else(|| std::io::Error::other("no index"))?;
                // Numbers are never reused (AUTOINCREMENT): a page token names one file only.
                let id: i64 = conn
                    .query_row(
                        "INSERT INTO files (path, dev, ino, head, indexed, min_time, max_time)
                         VALUES (?1, ?2, ?3, x'', 0, ?4, ?5) RETURNING id",
                        params![
                            path.to_string_lossy(),
                            key.0.cast_signed(),
                            key.1.cast_signed(),
                            i64::MAX,
                            i64::MIN
                        ],
                        |r| r.get(0),
                    )
                    .map_err(std::io::Error::other)?;
                let row = FileRow {
                    id,
                    path: path.to_owned(),
                    dev: key.0,
                    ino: key.1,
                    head: Vec::new(),
                    indexed: 0,
                    min_time: i64::MAX,
                    max_time: i64::MIN,
                };
                state.files.insert(key, row.clone());
                row
            }
        };
        let mut buf = Vec::with_capacity(CHUNK);
        while row.indexed < size {
            buf.clear();
            let want = usize::try_from(size - row.indexed)
                .unwrap_or(usize::MAX)
                .min(CHUNK);
            buf.resize(want, 0);
            let n = read_at_most(&mut file, &mut buf, row.indexed)?;
            buf.truncate(n);
            self.read_bytes.fetch_add(n as u64, Ordering::Relaxed);
            // Zeros are space allocated ahead of the records, not written yet.
            let n = match buf.iter().position(|&b| b == 0) {
                Some(z) => {
                    buf.truncate(z);
                    z
                }
                None => n,
            };
            let Some(last_newline) = buf.iter().rposition(|&b| b == b'\n') else {
                if n < CHUNK {
                    // Only part of a record so far.
                    break;
                }
                // A line longer than a chunk (no record is): stepped over, unindexed.
                let mut at = row.indexed + n as u64;
                let end = loop {
                    let got = read_at_most(&mut file, &mut buf, at)?;
                    if got == 0 {
                        break None;
                    }
                    if let Some(e) = buf[..got].iter().position(|&b| b == b'\n') {
                        break Some(at + e as u64 + 1);
                    }
                    at += got as u64;
                };
                let Some(end) = end else { break };
                tracing::warn!(
                    "the audit log {} holds a line of {} bytes at {}: not indexed",
                    path.display(),
                    end - row.indexed,
                    row.indexed
                );
                row.indexed = end;
                self.commit_chunk(state, &mut row, b"")?;
                continue;
            };
            buf.truncate(last_newline + 1);
            self.commit_chunk(state, &mut row, &buf)?;
        }
        Ok(())
    }

    /// Indexes `chunk` (whole lines, at `row.indexed`) and records how far the file is indexed,
    /// in one transaction: the chunk's entries are gathered by term into blocks, one row each.
    fn commit_chunk(&self, state: &mut State, row: &mut FileRow, chunk: &[u8]) -> std::io::Result<()> {
        let conn = state
            .conn
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no index"))?;
        let io = std::io::Error::other;
        let tx = conn.unchecked_transaction().map_err(io)?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS at_{} (term INTEGER NOT NULL, last INTEGER NOT NULL, at INTEGER NOT NULL, first INTEGER NOT NULL, entries BLOB NOT NULL, PRIMARY KEY (term, last, at)) WITHOUT ROWID",
            row.id
        ))
        .map_err(io)?;
        {
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT OR REPLACE INTO at_{} (term, last, at, first, entries) VALUES (?1, ?2, ?3, ?4, ?5)",
                    row.id
                ))
                .map_err(io)?;
            let mut offset = row.indexed;
            let mut terms = Vec::new();
            let mut rows: Vec<(i64, i64, i64)> = Vec::new();
            for line in chunk.split_inclusive(|&b| b == b'\n') {
                let at = offset;
                offset += line.len() as u64;
                if at == 0 {
                    row.head = digest::digest(&digest::SHA256, line).as_ref().to_vec();
                }
                let Some(fields) = Fields::parse(line) else {
                    continue;
                };
                terms.clear();
                fields.terms(|account, key, value| terms.push(term(account, key, value)));
                terms.sort_unstable();
                terms.dedup();
                row.min_time = row.min_time.min(fields.time_ms);
                row.max_time = row.max_time.max(fields.time_ms);
                let at = at.cast_signed();
                rows.extend(terms.iter().map(|&t| (t, fields.time_ms, at)));
            }
            // By term, then time: each term's entries in blocks of at most `BLOCK_SPAN_MS`,
            // inserted in key order.
            rows.sort_unstable();
            let mut entries = Vec::new();
            for block in blocks(&rows) {
                entries.clear();
                encode(&mut entries, block);
                let (t, first, _) = block[0];
                let last = block[block.len() - 1].1;
                let at = block.iter().map(|r| r.2).min().unwrap_or(0);
                insert.execute(params![t, last, at, first, entries]).map_err(io)?;
            }
            row.indexed = offset;
        }
        tx.execute(
            "UPDATE files SET path = ?2, head = ?3, indexed = ?4, min_time = ?5, max_time = ?6
             WHERE id = ?1",
            params![
                row.id,
                row.path.to_string_lossy(),
                row.head,
                row.indexed.cast_signed(),
                row.min_time,
                row.max_time
            ],
        )
        .map_err(io)?;
        tx.commit().map_err(io)?;
        self.backlog
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_sub(chunk.len() as u64))
            })
            .ok();
        state.files.insert((row.dev, row.ino), row.clone());
        Ok(())
    }

    /// One page of `q`, newest first.
    fn page(&self, q: &EventQuery) -> Result<EventPage, String> {
        // What was written before the lookup is indexed first (the caller may have just made
        // the call it looks for).
        if self.seen.load(Ordering::Acquire) != self.written.load(Ordering::Acquire) {
            self.catch_up();
        }
        for attempt in 0..2 {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(conn) = &state.conn else {
                return Err("the index cannot be opened".into());
            };
            let hits = find(conn, &state.files, q).map_err(|e| e.to_string())?;
            let files: HashMap<i64, FileRow> = state.files.values().map(|f| (f.id, f.clone())).collect();
            drop(state);
            match read_hits(&files, q, &hits) {
                Some(page) => return Ok(page),
                // A file moved (rotated) or went since the last pass: look again.
                None if attempt == 0 => self.catch_up(),
                None => {}
            }
        }
        Err("the audit files changed while they were read".into())
    }
}

impl EventIndex for Index {
    fn lookup(&self, q: &EventQuery) -> Result<EventPage, String> {
        self.page(q)
    }
}

fn run(index: &std::sync::Weak<Index>) {
    loop {
        let Some(me) = index.upgrade() else { return };
        if me.stop.load(Ordering::Acquire) {
            return;
        }
        let started = Instant::now();
        me.catch_up();
        let mut woken = me.wake_lock.lock().unwrap_or_else(PoisonError::into_inner);
        if !woken.written && !me.stop.load(Ordering::Acquire) {
            woken.waiting = true;
            woken = me
                .wake
                .wait_timeout(woken, IDLE)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            woken.waiting = false;
        }
        // Told of a write soon after the last pass: let more batches gather first (only
        // `close` cuts the wait short).
        while !me.stop.load(Ordering::Acquire) {
            let left = MIN_PASS_INTERVAL.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            woken = me
                .wake
                .wait_timeout(woken, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        woken.written = false;
    }
}

/// The hits of `q` (at most one more than a page), newest first: (time, file id, offset).
fn find(
    conn: &Connection,
    files: &HashMap<(u64, u64), FileRow>,
    q: &EventQuery,
) -> rusqlite::Result<Vec<(i64, i64, i64)>> {
    let want = q.max_results + 1;
    let t = match &q.attribute {
        None => term(&q.account, None, ""),
        Some((k, v)) => term(&q.account, Some(*k), v),
    };
    let mut order: Vec<&FileRow> = files
        .values()
        .filter(|f| f.indexed > 0 && f.max_time >= q.start_ms && f.min_time <= q.end_ms)
        .collect();
    order.sort_by_key(|f| std::cmp::Reverse((f.max_time, f.id)));
    let mut hits: Vec<(i64, i64, i64)> = Vec::new();
    for f in order {
        if hits.len() >= want && hits.get(want - 1).is_some_and(|h| f.max_time < h.0) {
            break;
        }
        // Below the cursor in the order (time, file, offset), and within the range.
        let (mut time, mut offset) = match q.after {
            None => (q.end_ms, i64::MAX),
            Some(c) => {
                let (file, at) = split(c.position);
                match f.id.cmp(&file) {
                    std::cmp::Ordering::Greater => (c.time_ms, i64::MIN),
                    std::cmp::Ordering::Equal => (c.time_ms, at),
                    std::cmp::Ordering::Less => (c.time_ms, i64::MAX),
                }
            }
        };
        if q.end_ms < time {
            (time, offset) = (q.end_ms, i64::MAX);
        }
        // A block's entries are at most `BLOCK_SPAN_MS` older than its last one: a block that
        // ends later than that past the bound holds none at or below it.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT last, first, entries FROM at_{} WHERE term = ?1 AND last >= ?2 AND last <= ?3
             ORDER BY last DESC, at DESC",
            f.id
        ))?;
        let mut rows = stmt.query(params![t, q.start_ms, time.saturating_add(BLOCK_SPAN_MS)])?;
        let mut found = Vec::new();
        while let Some(r) = rows.next()? {
            let last: i64 = r.get(0)?;
            // Every later block ends earlier than the hits already gathered.
            if hits.len() >= want && hits.get(want - 1).is_some_and(|h| last < h.0) {
                break;
            }
            let first: i64 = r.get(1)?;
            if first > time {
                continue;
            }
            let rusqlite::types::ValueRef::Blob(entries) = r.get_ref(2)? else {
                continue;
            };
            found.clear();
            decode(entries, first, |at_ms, at| {
                if at_ms >= q.start_ms && (at_ms, at) < (time, offset) {
                    found.push((at_ms, f.id, at));
                }
            });
            found.sort_unstable_by(|a, b| b.cmp(a));
            found.truncate(want);
            hits.extend_from_slice(&found);
            hits.sort_unstable_by(|a, b| b.cmp(a));
            hits.truncate(want);
        }
        hits.sort_unstable_by(|a, b| b.cmp(a));
        hits.truncate(want);
    }
    Ok(hits)
}

/// Reads the records of `hits` into a page; `None` when a file is no longer where the index
/// has it.
fn read_hits(files: &HashMap<i64, FileRow>, q: &EventQuery, hits: &[(i64, i64, i64)]) -> Option<EventPage> {
    let mut page = EventPage::default();
    let mut open: HashMap<i64, File> = HashMap::new();
    for (i, &(_, file, offset)) in hits.iter().enumerate() {
        if i == q.max_results {
            page.next = hits.get(i - 1).map(|&(time_ms, file, at)| Cursor {
                time_ms,
                position: join(file, at),
            });
            break;
        }
        let row = files.get(&file)?;
        let f = match open.entry(file) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let f = File::open(&row.path).ok()?;
                let m = f.metadata().ok()?;
                if (m.dev(), m.ino()) != (row.dev, row.ino) {
                    return None;
                }
                e.insert(f)
            }
        };
        let line = read_line(f, u64::try_from(offset).ok()?)?;
        let Some(event) = parse(&line) else { continue };
        // The hash matched; the record itself must too.
        if !event.matches(q) {
            continue;
        }
        page.events.push(event.event);
    }
    Some(page)
}

/// How much of a file of `len` bytes holds records to read: the file the writer writes, up to
/// where its written records end (past that may be zeros allocated ahead, or a failed batch's
/// records about to be cut off and written over); any other file, all of it.
fn readable(len: u64, key: (u64, u64), committed: Option<Committed>) -> u64 {
    match committed {
        Some(c) if c.file == key => len.min(c.len),
        _ => len,
    }
}

/// Splits `rows` (term, time, offset), sorted, into blocks: runs of one term whose times span
/// at most [`BLOCK_SPAN_MS`].
fn blocks(rows: &[(i64, i64, i64)]) -> impl Iterator<Item = &[(i64, i64, i64)]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        let &(term, first, _) = rest.first()?;
        let n = rest
            .iter()
            .position(|&(t, time, _)| t != term || time - first > BLOCK_SPAN_MS)
            .unwrap_or(rest.len());
        let (block, tail) = rest.split_at(n);
        rest = tail;
        Some(block)
    })
}

/// Encodes a block's entries, sorted by time then offset: for each, the time after the previous
/// one's (the first's after the block's first time, so 0) and the offset's difference from the
/// previous offset (zigzag), both as LEB128 varints.
fn encode(out: &mut Vec<u8>, block: &[(i64, i64, i64)]) {
    let (mut time, mut offset) = (block.first().map_or(0, |r| r.1), 0i64);
    for &(_, t, at) in block {
        put_varint(out, (t - time).cast_unsigned());
        let d = at.wrapping_sub(offset);
        put_varint(out, ((d << 1) ^ (d >> 63)).cast_unsigned());
        (time, offset) = (t, at);
    }
}

/// Calls `each(time, offset)` for the entries of a block whose first time is `first`.
fn decode(mut bytes: &[u8], first: i64, mut each: impl FnMut(i64, i64)) {
    let (mut time, mut offset) = (first, 0i64);
    while !bytes.is_empty() {
        let (Some(dt), Some(z)) = (get_varint(&mut bytes), get_varint(&mut bytes)) else {
            return;
        };
        time = time.wrapping_add(dt.cast_signed());
        let d = (z >> 1).cast_signed() ^ -(z & 1).cast_signed();
        offset = offset.wrapping_add(d);
        each(time, offset);
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn join(file: i64, offset: i64) -> u64 {
    (file.cast_unsigned() << OFFSET_BITS) | (offset.cast_unsigned() & ((1 << OFFSET_BITS) - 1))
}

fn split(position: u64) -> (i64, i64) {
    (
        (position >> OFFSET_BITS).cast_signed(),
        (position & ((1 << OFFSET_BITS) - 1)).cast_signed(),
    )
}

/// Reads into `buf` from `at` until it is full or the file ends; returns how much was read.
fn read_at_most(file: &mut File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The line that starts at `at`.
fn read_line(file: &File, at: u64) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut chunk = vec![0; 4096];
    loop {
        let n = file.read_at(&mut chunk, at + line.len() as u64).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..end]);
            return Some(line);
        }
        line.extend_from_slice(&chunk[..n]);
        if line.len() > MAX_RECORD {
            return None;
        }
    }
}

/// SHA-256 of the file's first line.
fn first_record_digest(file: &File) -> std::io::Result<Vec<u8>> {
    let mut line = read_line(file, 0).unwrap_or_default();
    line.push(b'\n');
    Ok(digest::digest(&digest::SHA256, &line).as_ref().to_vec())
}

/// The name an attribute is hashed under.
fn key_name(key: Option<LookupKey>) -> &'static str {
    match key {
        None => "*",
        Some(LookupKey::EventId) => "EventId",
        Some(LookupKey::EventName) => "EventName",
        Some(LookupKey::ReadOnly) => "ReadOnly",
        Some(LookupKey::Username) => "Username",
        Some(LookupKey::ResourceType) => "ResourceType",
        Some(LookupKey::ResourceName) => "ResourceName",
        Some(LookupKey::EventSource) => "EventSource",
        Some(LookupKey::AccessKeyId) => "AccessKeyId",
    }
}

/// The term of (account, attribute, value): `None` is every event of the account.
fn term(account: &str, key: Option<LookupKey>, value: &str) -> i64 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [account, key_name(key), value] {
        ctx.update(&(part.len() as u64).to_le_bytes());
        ctx.update(part.as_bytes());
    }
    let d = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    i64::from_le_bytes(first)
}

/// What the index needs of a record, read without building the whole JSON value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFields<'a> {
    #[serde(rename = "eventID", borrow)]
    event_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    event_name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    event_source: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    event_time: Option<std::borrow::Cow<'a, str>>,
    read_only: Option<bool>,
    #[serde(borrow)]
    recipient_account_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    user_identity: Option<RawIdentity<'a>>,
    #[serde(borrow, default)]
    resources: Vec<RawResource<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIdentity<'a> {
    #[serde(borrow)]
    account_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    access_key_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    arn: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    user_name: Option<std::borrow::Cow<'a, str>>,
}

/// CloudTrail's `Username` of a record's caller: from its ARN, or for a caller without one (a web
/// identity) its `userName`.
fn raw_username(id: Option<&RawIdentity<'_>>) -> Option<String> {
    let id = id?;
    match id.arn.as_deref() {
        Some(arn) => username(arn),
        None => id.user_name.as_deref().map(str::to_owned),
    }
}

#[derive(Deserialize)]
struct RawResource<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "ARN", borrow)]
    arn: Option<std::borrow::Cow<'a, str>>,
}

struct Fields<'a> {
    raw: RawFields<'a>,
    time_ms: i64,
}

impl<'a> Fields<'a> {
    fn parse(line: &'a [u8]) -> Option<Fields<'a>> {
        let raw: RawFields<'a> = serde_json::from_slice(line).ok()?;
        raw.event_id.as_ref()?;
        let time_ms = time_ms(raw.event_time.as_deref()?)?;
        Some(Fields { raw, time_ms })
    }

    /// Every (account, attribute, value) the record is found under.
    fn terms(&self, mut each: impl FnMut(&str, Option<LookupKey>, &str)) {
        let r = &self.raw;
        let id = r.user_identity.as_ref();
        // The account the record is for: a cross-account call has a record in each account, and
        // each account sees its own.
        let account = r
            .recipient_account_id
            .as_deref()
            .or_else(|| id.and_then(|i| i.account_id.as_deref()));
        let accounts = account.into_iter();
        let username = raw_username(id);
        let read_only = r.read_only.map(|b| if b { "true" } else { "false" });
        for account in accounts {
            each(account, None, "");
            let single = [
                (LookupKey::EventId, r.event_id.as_deref()),
                (LookupKey::EventName, r.event_name.as_deref()),
                (LookupKey::EventSource, r.event_source.as_deref()),
                (
                    LookupKey::AccessKeyId,
                    id.and_then(|i| i.access_key_id.as_deref()),
                ),
                (LookupKey::ReadOnly, read_only),
                (LookupKey::Username, username.as_deref()),
            ];
            for (k, v) in single {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    each(account, Some(k), v);
                }
            }
            for res in &r.resources {
                if let Some(t) = res.kind.as_deref().filter(|v| !v.is_empty()) {
                    each(account, Some(LookupKey::ResourceType), t);
                }
                if let Some(a) = res.arn.as_deref().filter(|v| !v.is_empty()) {
                    each(account, Some(LookupKey::ResourceName), a);
                }
            }
        }
    }
}

fn time_ms(text: &str) -> Option<i64> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A record read back for a page.
struct Read {
    accounts: Vec<String>,
    event: FoundEvent,
    attributes: Vec<(LookupKey, String)>,
}

impl Read {
    fn matches(&self, q: &EventQuery) -> bool {
        self.accounts.contains(&q.account)
            && q.attribute
                .as_ref()
                .is_none_or(|(k, v)| self.attributes.iter().any(|(k2, v2)| k2 == k && v2 == v))
    }
}

/// Reads one record line as LookupEvents returns it.
fn parse(line: &[u8]) -> Option<Read> {
    let fields = Fields::parse(line)?;
    let mut accounts = Vec::new();
    let mut attributes = Vec::new();
    fields.terms(|account, key, value| match key {
        None => accounts.push(account.to_owned()),
        Some(k) => attributes.push((k, value.to_owned())),
    });
    let r = &fields.raw;
    let id = r.user_identity.as_ref();
    let event = FoundEvent {
        event_id: r.event_id.as_deref().unwrap_or_default().to_owned(),
        event_name: r.event_name.as_deref().unwrap_or_default().to_owned(),
        read_only: r.read_only,
        access_key_id: id
            .and_then(|i| i.access_key_id.as_deref())
            .unwrap_or_default()
            .to_owned(),
        event_time_ms: fields.time_ms,
        event_source: r.event_source.as_deref().unwrap_or_default().to_owned(),
        username: raw_username(id),
        resources: r
            .resources
            .iter()
            .filter_map(|res| Some((res.kind.as_deref()?.to_owned(), res.arn.as_deref()?.to_owned())))
            .collect(),
        cloud_trail_event: String::new(),
    };
    let mut v: Value = serde_json::from_slice(line).ok()?;
    let obj = v.as_object_mut()?;
    // The chain's members are the file's, not CloudTrail's.
    obj.remove("sequence");
    obj.remove("chain");
    let text = serde_json::to_string(&v).ok()?;
    Some(Read {
        accounts,
        attributes,
        event: FoundEvent {
            cloud_trail_event: text,
            ..event
        },
    })
}

/// CloudTrail's `Username` of a caller: `root`, an IAM user's name, an assumed role's session
/// name.
fn username(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    if resource == "root" {
        return Some("root".into());
    }
    let (kind, rest) = resource.split_once('/')?;
    match kind {
        "user" | "assumed-role" | "federated-user" => rest.rsplit('/').next().map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_keep_file_and_offset() {
        for (file, offset) in [(1, 0), (7, 123_456), (65_000, (1 << OFFSET_BITS) - 1)] {
            assert_eq!(split(join(file, offset)), (file, offset));
        }
        assert!(join(2, 0) > join(1, 999));
    }

    const ACCOUNT: &str = "111111111111";

    /// A record of `name` (its `eventID` too), at second `second` of a day.
    fn record(name: &str, second: u32) -> String {
        format!(
            "{{\"eventTime\":\"2026-01-01T00:00:{second:02}Z\",\"eventName\":\"{name}\",\"eventID\":\"{name}\",\"recipientAccountId\":\"{ACCOUNT}\"}}\n"
        )
    }

    /// The event ids of every record of the account, oldest first.
    fn ids(index: &Index) -> Vec<String> {
        let q = EventQuery {
            account: ACCOUNT.into(),
            attribute: None,
            start_ms: 0,
            end_ms: i64::MAX,
            max_results: 50,
            after: None,
        };
        let mut ids: Vec<String> = index
            .lookup(&q)
            .expect("lookup")
            .events
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        ids.reverse();
        ids
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("write");
    }

    /// Tells the index where the writer's records end, as the writer does after each batch.
    fn committed(index: &Index, path: &Path) {
        let m = std::fs::metadata(path).expect("metadata");
        let c = Committed {
            file: (m.dev(), m.ino()),
            len: m.len(),
        };
        index.written(0, Some(c));
    }

    /// A batch whose write failed (its records reached the file, its sync did not) is cut off
    /// and the next batch written in its place: the index never held the failed records, so it
    /// neither points at them nor skips the records written over them.
    #[test]
    fn records_of_a_failed_write_are_not_indexed() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("audit.log");
        append(&log, &record("A", 1));
        let index = Index::open(&log);
        committed(&index, &log);
        // The failed batch: whole records in the file, past what the writer has written.
        append(&log, &record("FailedOne", 2));
        append(&log, &record("FailedTwo", 3));
        index.written(0, None);
        assert_eq!(ids(&index), ["A"]);
        // Cut off, then longer records written in their place.
        let kept = u64::try_from(record("A", 1).len()).expect("length");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .expect("open")
            .set_len(kept)
            .expect("cut");
        append(&log, &record("WrittenAfterTheFailure", 4));
        append(&log, &record("AndAnotherOneAfterIt", 5));
        append(&log, &record("AndAThird", 6));
        committed(&index, &log);
        assert_eq!(
            ids(&index),
            ["A", "WrittenAfterTheFailure", "AndAnotherOneAfterIt", "AndAThird"]
        );
        index.close();
    }

    /// A record cut short by a crash is never indexed; the next start removes it and writes on
    /// from there.
    #[test]
    fn a_record_cut_short_is_not_indexed_and_what_replaces_it_is() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("audit.log");
        let whole = record("A", 1);
        let torn = record("Torn", 2);
        append(&log, &whole);
        append(&log, &torn[..torn.len() / 2]);
        let index = Index::open(&log);
        index.written(0, None);
        assert_eq!(ids(&index), ["A"]);
        index.close();
        // The restart: the torn record removed, new ones written.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .expect("open")
            .set_len(u64::try_from(whole.len()).expect("length"))
            .expect("cut");
        append(&log, &record("AfterTheRestart", 3));
        let index = Index::open(&log);
        committed(&index, &log);
        assert_eq!(ids(&index), ["A", "AfterTheRestart"]);
        index.close();
    }

    /// Rotation keeps a file's entries (it is the same file under another name); retention
    /// removing a file removes its entries; an active file replaced by another is indexed anew.
    #[test]
    fn rotation_retention_and_replacement_keep_the_index_true_to_the_files() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("audit.log");
        append(&log, &record("One", 1));
        let index = Index::open(&log);
        committed(&index, &log);
        assert_eq!(ids(&index), ["One"]);
        let first = super::super::writer::rotated_path(&log, 1);
        std::fs::rename(&log, &first).expect("rotate");
        append(&log, &record("Two", 2));
        committed(&index, &log);
        assert_eq!(ids(&index), ["One", "Two"]);
        let read = index.read_bytes();
        let second = super::super::writer::rotated_path(&log, 2);
        std::fs::rename(&log, &second).expect("rotate");
        append(&log, &record("Three", 3));
        committed(&index, &log);
        assert_eq!(ids(&index), ["One", "Two", "Three"]);
        // Only the new file was read: the rotated ones kept their entries.
        assert_eq!(index.read_bytes() - read, record("Three", 3).len() as u64);
        // Retention.
        std::fs::remove_file(&first).expect("retention");
        index.written(0, None);
        assert_eq!(ids(&index), ["Two", "Three"]);
        // The active file replaced by one with other records, as long as the old one.
        let other = dir.path().join("other");
        append(&other, &record("Other", 4));
        std::fs::rename(&other, &log).expect("replace");
        committed(&index, &log);
        assert_eq!(ids(&index), ["Two", "Other"]);
        index.close();
    }

    #[test]
    fn blocks_split_by_term_and_span_and_encode_back() {
        let base = 1_767_225_600_000;
        let big = (1 << OFFSET_BITS) - 1;
        let rows = vec![
            (-7, base, 5),
            (-7, base, 900),
            (-7, base + 20, 3),
            (-7, base + BLOCK_SPAN_MS + 1, big),
            (2, base - 5, 1),
        ];
        let got: Vec<Vec<(i64, i64, i64)>> = blocks(&rows).map(<[_]>::to_vec).collect();
        assert_eq!(got, [rows[..3].to_vec(), rows[3..4].to_vec(), rows[4..].to_vec()]);
        for block in blocks(&rows) {
            let mut bytes = Vec::new();
            encode(&mut bytes, block);
            let mut back = Vec::new();
            decode(&bytes, block[0].1, |time, at| back.push((block[0].0, time, at)));
            assert_eq!(back, block);
        }
    }

    /// Pages follow one another through blocks of several passes and files, newest first, each
    /// event once.
    #[test]
    fn pages_go_through_every_block_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("audit.log");
        let index = Index::open(&log);
        let mut names = Vec::new();
        for pass in 0..3u32 {
            for i in 0..5u32 {
                let name = format!("P{pass}E{i}");
                // Passes overlap in time; some events share a second.
                append(&log, &record(&name, 10 + pass * 2 + i / 2));
                names.push((10 + pass * 2 + i / 2, name));
            }
            committed(&index, &log);
            assert_eq!(ids(&index).len(), names.len());
            if pass == 1 {
                std::fs::rename(&log, super::super::writer::rotated_path(&log, 1)).expect("rotate");
            }
        }
        let mut q = EventQuery {
            account: ACCOUNT.into(),
            attribute: Some((LookupKey::EventSource, String::new())),
            start_ms: 0,
            end_ms: i64::MAX,
            max_results: 2,
            after: None,
        };
        // No record has an event source: nothing under it.
        assert!(index.lookup(&q).expect("lookup").events.is_empty());
        q.attribute = None;
        let mut seen = Vec::new();
        loop {
            let page = index.lookup(&q).expect("lookup");
            seen.extend(page.events.iter().map(|e| (e.event_time_ms, e.event_id.clone())));
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let times: Vec<i64> = seen.iter().map(|s| s.0).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{seen:?}");
        let mut got: Vec<String> = seen.into_iter().map(|s| s.1).collect();
        got.sort();
        let mut want: Vec<String> = names.into_iter().map(|n| n.1).collect();
        want.sort();
        assert_eq!(got, want);
        index.close();
    }

    #[test]
    fn terms_differ_by_account_attribute_and_value() {
        let a = term("111111111111", Some(LookupKey::EventName), "GetSecretValue");
        assert_ne!(
            a,
            term("222222222222", Some(LookupKey::EventName), "GetSecretValue")
        );
        assert_ne!(
            a,
            term("111111111111", Some(LookupKey::Username), "GetSecretValue")
        );
        assert_ne!(
            a,
            term("111111111111", Some(LookupKey::EventName), "CreateSecret")
        );
        // Lengths are hashed too: the parts cannot run into each other.
        assert_ne!(term("ab", None, "c"), term("a", None, "bc"));
    }
}
