//! `kinko audit verify`: walks the hash chain through a log's files in order and checks each
//! rotated file against its seal. It reports the first record that was changed, removed or
//! reordered in each place the chain breaks, files missing between others, and files changed after
//! they were sealed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ring::digest;

use super::chain::{self, Link};
use super::seal::{Seal, SealKey};
use super::writer::{rotated_files, rotated_number, seal_path};

/// What `verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Each file checked, in chain order.
    pub files: Vec<FileSummary>,
    /// Changed, removed or reordered records, missing files, broken seals: the log cannot be
    /// trusted where these are.
    pub problems: Vec<String>,
    /// What could not be checked, and why (not problems of the log).
    pub notes: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug)]
pub struct FileSummary {
    pub path: PathBuf,
    pub records: u64,
    /// Sequence numbers of its first and last records.
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// Whether a seal vouches for the file (signature checked and matching).
    pub sealed: bool,
}

/// The files of the log whose active file is `active`: the rotated ones, oldest first, then the
/// active one; a seal whose file is gone is reported.
pub(crate) fn log_files(active: &Path, report: &mut VerifyReport) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = rotated_files(active).into_iter().map(|(_, p)| p).collect();
    // Seals without their file: `NAME.NNNNNN.seal`.
    let dir = match active.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if let Some(file) = p
            .to_str()
            .and_then(|s| s.strip_suffix(".seal"))
            .map(PathBuf::from)
            && rotated_number(active, &file).is_some()
            && !file.exists()
        {
            report
                .problems
                .push(format!("{} is missing (its seal is there)", file.display()));
        }
    }
    if active.exists() {
        files.push(active.to_owned());
    }
    files
}

/// Verifies `files`, in the order given (oldest first; the active file last), with seals checked
/// under `key` when there is one.
pub(crate) fn verify_files(files: &[PathBuf], key: Option<&SealKey>, report: &mut VerifyReport) {
    let mut prev: Option<(Link, PathBuf)> = None;
    let mut prev_number: Option<u64> = None;
    for path in files {
        let number = path.file_name().and_then(|n| {
            let n = n.to_str()?;
            let (_, digits) = n.rsplit_once('.')?;
            (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<u64>().ok())
                .flatten()
        });
        if let (Some(a), Some(b)) = (prev_number, number) {
            for missing in a + 1..b {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
                report.problems.push(format!("{stem}.{missing:06} is missing"));
            }
        }
        if number.is_some() {
            prev_number = number;
        }
        let bytes = match std::fs::read(path) {
            // The active file (not rotated) may end with zeros: space the server allocated ahead
            // of its records and has not written yet (or, after a crash, not written any more).
            Ok(mut b) if number.is_none() => {
                let zeros = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
                b.truncate(zeros);
                b
            }
            Ok(b) => b,
            Err(e) => {
                report
                    .problems
                    .push(format!("{}: cannot be read: {e}", path.display()));
                continue;
            }
        };
        let seal = read_seal(path, number.is_some(), key, &bytes, report);
        if let (None, Some(s)) = (&prev, &seal)
            && s.previous_sequence > 0
        {
            report.notes.push(format!(
                "{}: the log given starts at record {} (earlier files not given, or removed by retention)",
                path.display(),
                s.previous_sequence + 1
            ));
        }
        let start = match (&prev, &seal) {
            (Some((link, _)), _) => Some(*link),
            (None, Some(s)) => s.previous_chain.as_bytes().try_into().ok().map(|chain| Link {
                sequence: s.previous_sequence,
                chain,
            }),
            (None, None) => None,
        };
        let summary = verify_lines(
            path,
            &bytes,
            start,
            prev.as_ref().map(|(_, p)| p.as_path()),
            report,
        );
        if let Some(s) = &seal {
            match summary.last_link {
                Some(l) if l.sequence == s.last_sequence && l.chain_str() == s.last_chain => {}
                _ => report.problems.push(format!(
                    "{}: its last record is not the one its seal names (record {})",
                    path.display(),
                    s.last_sequence
                )),
            }
        }
        if let Some(l) = summary.last_link {
            prev = Some((l, path.clone()));
        }
        report.files.push(FileSummary {
            path: path.clone(),
            records: summary.records,
            first: summary.first,
            last: summary.last_link.map(|l| l.sequence),
            sealed: seal.is_some(),
        });
    }
}

/// Reads and checks the seal of `path`; returns it when its signature holds (or cannot be
/// checked) so the chain can be compared with it.
fn read_seal(
    path: &Path,
    rotated: bool,
    key: Option<&SealKey>,
    bytes: &[u8],
    report: &mut VerifyReport,
) -> Option<Seal> {
    let seal_file = seal_path(path);
    let raw = match std::fs::read(&seal_file) {
        Ok(raw) => raw,
        Err(_) => {
            if rotated {
                report.problems.push(format!("{}: has no seal", path.display()));
            }
            return None;
        }
    };
    let Ok(seal) = serde_json::from_slice::<Seal>(&raw) else {
        report
            .problems
            .push(format!("{}: its seal cannot be read", seal_file.display()));
        return None;
    };
    match key {
        Some(k) if k.id == seal.key_id => {
            if !k.check(&seal) {
                report.problems.push(format!(
                    "{}: its seal's signature does not verify (the seal was changed or forged)",
                    path.display()
                ));
                return None;
            }
        }
        Some(_) => report.notes.push(format!(
            "{}: sealed under another root key (before a root key rotation?): its signature was not checked",
            path.display()
        )),
        None => report.notes.push(format!(
            "{}: no root key given: its seal's signature was not checked",
            path.display()
        )),
    }
    let sha = chain::hex(digest::digest(&digest::SHA256, bytes).as_ref());
    if bytes.len() as u64 != seal.bytes || sha.as_slice() != seal.sha256.as_bytes() {
        report.problems.push(format!(
            "{}: changed after it was sealed ({} bytes now, {} sealed)",
            path.display(),
            bytes.len(),
            seal.bytes
        ));
    }
    if path.file_name().is_some_and(|n| n.to_string_lossy() != seal.file) {
        report.problems.push(format!(
            "{}: its seal is for {} (renamed?)",
            path.display(),
            seal.file
        ));
    }
    Some(seal)
}

struct LinesSummary {
    records: u64,
    first: Option<u64>,
    last_link: Option<Link>,
}

fn verify_lines(
    path: &Path,
    bytes: &[u8],
    start: Option<Link>,
    prev_file: Option<&Path>,
    report: &mut VerifyReport,
) -> LinesSummary {
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l))
        .collect();
    let parsed: Vec<Option<chain::Parsed<'_>>> = lines.iter().map(|(_, l)| chain::parse(l)).collect();
    let sequences: BTreeSet<u64> = parsed.iter().flatten().map(|p| p.link.sequence).collect();
    let mut prev = start;
    let mut first = None;
    let mut first_line = true;
    let where_ = |n: usize| format!("{} line {n}", path.display());
    for ((n, _), p) in lines.iter().zip(&parsed) {
        let Some(p) = p else {
            report
                .problems
                .push(format!("{}: not a chained record (changed)", where_(*n)));
            continue;
        };
        let seq = p.link.sequence;
        first.get_or_insert(seq);
        match prev {
            None => {
                if seq != 1 {
                    report.notes.push(format!(
                        "{}: the log given starts at record {seq} (earlier files not given, or removed by retention)",
                        where_(*n)
                    ));
                }
            }
            Some(before) => {
                let expected = before.sequence + 1;
                let linked = chain::link(&before.chain, p.prefix) == p.link.chain;
                if seq == expected && !linked {
                    report.problems.push(format!(
                        "{}: record {seq} was changed (its chain does not match its content and the record before it)",
                        where_(*n)
                    ));
                } else if seq > expected {
                    let later = (expected..seq).find(|s| sequences.contains(s));
                    let between = if first_line {
                        prev_file.map_or(String::new(), |f| {
                            format!(" (between {} and this file)", f.display())
                        })
                    } else {
                        String::new()
                    };
                    match later {
                        Some(s) => report.problems.push(format!(
                            "{}: record {seq} is out of order: record {s} comes after it",
                            where_(*n)
                        )),
                        _ if expected == seq - 1 => report.problems.push(format!(
                            "{}: record {expected} was removed before it (record {seq}){between}",
                            where_(*n)
                        )),
                        _ => report.problems.push(format!(
                            "{}: records {expected} to {} were removed before it (record {seq}){between}",
                            where_(*n),
                            seq - 1
                        )),
                    }
                } else if seq < expected {
                    report.problems.push(format!(
                        "{}: record {seq} is out of order or repeated (it follows record {})",
                        where_(*n),
                        before.sequence
                    ));
                }
            }
        }
        first_line = false;
        prev = Some(p.link);
    }
    LinesSummary {
        records: lines.len() as u64,
        first,
        last_link: if parsed.iter().any(Option::is_some) {
            prev
        } else {
            None
        },
    }
}
