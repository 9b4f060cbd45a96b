//! The audit trail: one record per call (allowed, denied or failed), shaped like a CloudTrail
//! record ([`record`]), hash-chained ([`chain`]) and group-committed to a file that is synced
//! before the call is answered ([`writer`]); rotated files are sealed ([`seal`]) and
//! `kinko audit verify` checks it all ([`verify`]).
//!
//! Fail closed: a call whose record cannot be written fails with its service's internal error,
//! and while records cannot be written calls are refused before they run.

mod chain;
pub mod index;
mod record;
mod seal;
mod verify;
mod writer;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use kinko_api::KmsCall;
pub(crate) use kinko_api::audit::AuditEvent;
use kinko_api::audit::{AuditFailed, Durable};

pub use verify::{FileSummary, VerifyReport};
pub use writer::{AuditOptions, Durability};

use crate::bootstrap::StartError;

/// The server's audit sink: nowhere (`--audit-log none`), stdout, or a file.
pub(crate) struct Audit {
    writer: Option<writer::Writer>,
    /// What LookupEvents reads: the records written, indexed (none when the trail goes to
    /// stdout or nowhere).
    index: Option<std::sync::Arc<index::Index>>,
}

/// What the audit writer has done since start (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Batches written (each synced once, in durable mode).
    pub batches: u64,
    pub records: u64,
    /// Batches that could not be written: their calls failed.
    pub failures: u64,
    /// Time spent writing and syncing, in microseconds.
    pub write_micros: u64,
    /// Whether records can be written now.
    pub healthy: bool,
    /// Bytes of records written.
    pub bytes: u64,
    /// Batches written, by how long writing (and syncing) took: counts per bucket of
    /// [`WRITE_BUCKETS_MICROS`] (the last counts the slower ones).
    pub write_histogram: [u64; WRITE_BUCKETS],
    /// Bytes of the log LookupEvents' index has not read yet.
    pub index_lag_bytes: u64,
    /// Bytes of the log the index read since start (at a start, what it did not hold yet).
    pub index_read_bytes: u64,
}

pub use writer::{WRITE_BUCKETS, WRITE_BUCKETS_MICROS};

impl Audit {
    /// Audit records go to `path` (`-` = stdout), or nowhere when `None`. Rotated files are
    /// sealed under `seal_root` (a key derived from it).
    pub fn open(
        path: Option<&Path>,
        options: &AuditOptions,
        seal_root: Option<&kinko_crypto::RootKey>,
    ) -> Result<Audit, StartError> {
        let Some(path) = path else {
            return Ok(Audit {
                writer: None,
                index: None,
            });
        };
        let index = (path != Path::new("-")).then(|| index::Index::open(path));
        let out = if path == Path::new("-") {
            writer::Out::Stdout(std::io::stdout(), chain::Link::START)
        } else {
            let key = match seal_root.map(seal::SealKey::derive) {
                Some(Ok(k)) => Some(k),
                Some(Err(e)) => {
                    return Err(StartError::Write(
                        path.to_owned(),
                        std::io::Error::other(e.to_string()),
                    ));
                }
                None => None,
            };
            let file = writer::LogFile::open(path, options.clone(), key)
                .map_err(|e| StartError::Write(path.to_owned(), e))?;
            writer::Out::File(Box::new(file))
        };
        let notify: Option<writer::OnWrite> = index.clone().map(|i| {
            let f: writer::OnWrite = std::sync::Arc::new(move |bytes, committed| i.written(bytes, committed));
            f
        });
        let writer = writer::Writer::start(out, options.durability, notify)
            .map_err(|e| StartError::Write(path.to_owned(), e))?;
        // Indexes what was written before this start (off the start's path), then what is written.
        if let Some(i) = &index {
            i.start();
        }
        Ok(Audit {
            writer: Some(writer),
            index,
        })
    }

    /// Records one call whose caller is not known (refused before authentication).
    pub fn record(&self, e: &AuditEvent) -> Durable {
        self.record_with_kms(e, &[])
    }

    /// Records one call and then the KMS calls made for its caller while serving it, each as its
    /// own record with the call's `requestID` and identity. The records are serialized into a
    /// per-thread buffer first, so the pending batch's lock is held only to copy them in.
    pub fn record_with_kms(&self, e: &AuditEvent, kms: &[KmsCall]) -> Durable {
        let Some(writer) = &self.writer else {
            return Box::pin(std::future::ready(Ok(())));
        };
        let batch = SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            record::write_records(scratch, e, kms);
            let batch = writer.shared.append(scratch);
            if scratch.capacity() > SCRATCH_KEEP {
                *scratch = Vec::new();
            }
            batch
        });
        // The index reads the records from the file once written: the call waits for its
        // records to be durable, never for the index.
        match (batch, writer.shared.durability) {
            (None, _) => Box::pin(std::future::ready(Err(AuditFailed(
                "the audit log is closed".into(),
            )))),
            (Some(_), Durability::Buffered) => Box::pin(std::future::ready(Ok(()))),
            (Some(batch), Durability::Fsync) => Box::pin(batch.wait()),
        }
    }

    /// Whether records can be written now (always, when buffered: a buffered trail fails no call).
    pub fn ready(&self) -> Result<(), AuditFailed> {
        match &self.writer {
            Some(w) if w.shared.durability == Durability::Fsync => w.shared.ready(),
            _ => Ok(()),
        }
    }

    /// Reopens the file at the configured path (after external log rotation moved it).
    pub fn reopen(&self) {
        if let Some(w) = &self.writer {
            w.shared.reopen();
        }
    }

    pub fn stats(&self) -> AuditStats {
        let index_lag_bytes = self.index.as_ref().map_or(0, |i| i.lag_bytes());
        let index_read_bytes = self.index.as_ref().map_or(0, |i| i.read_bytes());
        match &self.writer {
            None => AuditStats {
                healthy: true,
                ..AuditStats::default()
            },
            Some(w) => {
                let s = &w.shared.stats;
                AuditStats {
                    batches: s.batches.load(Ordering::Relaxed),
                    records: s.records.load(Ordering::Relaxed),
                    failures: s.failures.load(Ordering::Relaxed),
                    write_micros: s.write_micros.load(Ordering::Relaxed),
                    healthy: w.shared.ready().is_ok(),
                    bytes: s.bytes.load(Ordering::Relaxed),
                    write_histogram: std::array::from_fn(|i| s.histogram[i].load(Ordering::Relaxed)),
                    index_lag_bytes,
                    index_read_bytes,
                }
            }
        }
    }

    /// What LookupEvents reads.
    pub fn events(&self) -> std::sync::Arc<dyn kinko_api::trail::EventIndex> {
        match &self.index {
            Some(i) => i.clone(),
            None => std::sync::Arc::new(kinko_api::trail::NoEvents),
        }
    }

    pub fn close(&self) {
        if let Some(w) = &self.writer {
            w.close();
        }
        if let Some(i) = &self.index {
            i.close();
        }
    }
}

thread_local! {
    /// Where a request's records are serialized before they are copied to the pending batch.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Scratch buffers above this size (a request with unusually many records) are not kept.
const SCRATCH_KEEP: usize = 64 * 1024;

impl kinko_api::audit::AuditSink for Audit {
    fn ready(&self) -> Result<(), AuditFailed> {
        Audit::ready(self)
    }

    fn record(&self, event: &AuditEvent, kms_calls: &[KmsCall]) -> Durable {
        self.record_with_kms(event, kms_calls)
    }
}

/// Verifies the audit log: `files` in the order given, or when none are given the log at
/// `active` (its rotated files, oldest first, then itself). Seals are checked under a key derived
/// from `root` when it is given.
pub fn verify(active: &Path, files: &[PathBuf], root: Option<&kinko_crypto::RootKey>) -> VerifyReport {
    let mut report = VerifyReport::default();
    let key = match root.map(seal::SealKey::derive) {
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => {
            report.notes.push(format!("no seal key: {e}"));
            None
        }
        None => None,
    };
    let files = if files.is_empty() {
        verify::log_files(active, &mut report)
    } else {
        files.to_vec()
    };
    if files.is_empty() {
        report
            .problems
            .push(format!("{}: no audit log there", active.display()));
    }
    verify::verify_files(&files, key.as_ref(), &mut report);
    report
}
