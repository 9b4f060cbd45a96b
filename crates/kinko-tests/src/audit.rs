//! Servers whose audit log goes to a temp file, and reading that log: the records of a request,
//! and checks that a value appears nowhere in it, in any of the encodings a record could carry it
//! in.

use std::path::PathBuf;

use serde_json::Value;

use crate::{Config, TestClock, TestServer, dev_config};

/// A dev-mode server of the test's own writing its audit log to a temp file.
pub struct AuditedServer {
    pub server: TestServer,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

/// The root key of [`AuditedServer`]s (base64 of 32 bytes): their seals are checked under it.
pub const AUDIT_ROOT_KEY: &str = "YXVkaXQtdGVzdC1yb290LWtleS0wMTIzNDU2Nzg5YWI=";

impl AuditedServer {
    pub async fn start() -> AuditedServer {
        Self::start_with(kinko_server::AuditOptions::default()).await
    }

    /// A server whose audit log rotates and is kept as `options` say.
    pub async fn start_with(options: kinko_server::AuditOptions) -> AuditedServer {
        Self::start_configured(|c| c.audit = options).await
    }

    /// A server configured further by `configure`.
    pub async fn start_configured(configure: impl FnOnce(&mut Config)) -> AuditedServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let mut config = Config {
            audit_log: Some(path.clone()),
            root_key_base64: Some(AUDIT_ROOT_KEY.to_owned().into()),
            ..dev_config()
        };
        configure(&mut config);
        AuditedServer {
            server: TestServer::start_with(config, TestClock::System).await,
            path,
            _dir: dir,
        }
    }

    /// The active audit file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Stops the server and returns the directory its log is in, for the test to look at.
    pub async fn stop_keeping_files(self) -> (PathBuf, tempfile::TempDir) {
        self.server.shutdown().await;
        (self.path, self._dir)
    }

    /// Stops the server (which writes out every record) and reads its log.
    pub async fn stop(self) -> AuditLog {
        self.server.shutdown().await;
        let raw = std::fs::read(&self.path).expect("audit log");
        let records = raw
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| {
                let mut record: Value = serde_json::from_slice(l)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
                unchain(&mut record, i as u64 + 1);
                record
            })
            .collect();
        AuditLog { raw, records }
    }
}

/// `kinko audit verify` of the log at `active` (its rotated files and itself when `files` is
/// empty), with the seals checked under [`AUDIT_ROOT_KEY`].
pub fn verify_log(active: &std::path::Path, files: &[PathBuf]) -> kinko_server::VerifyReport {
    let config = Config {
        audit_log: Some(active.to_owned()),
        root_key_base64: Some(AUDIT_ROOT_KEY.to_owned().into()),
        ..dev_config()
    };
    kinko_server::verify_audit_log(&config, files)
}

/// How many bytes of an audit file's `bytes` hold records: a file the server is writing ends
/// with zeros, space allocated ahead of its records and not written yet.
pub fn audit_records_len(bytes: &[u8]) -> usize {
    bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())
}

/// The records of one audit file, parsed (chain members kept).
pub fn read_records(path: &std::path::Path) -> Vec<Value> {
    let raw = std::fs::read(path).expect("audit file");
    raw[..audit_records_len(&raw)]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a JSON record"))
        .collect()
}

/// Checks that the `index`-th record of a log carries its place in the hash chain (`sequence`,
/// counting from 1, and a `chain` digest), then removes both: what is left is the CloudTrail
/// record. The chain itself is checked by `kinko audit verify`'s tests.
#[track_caller]
pub fn unchain(record: &mut Value, index: u64) {
    let obj = record.as_object_mut().expect("a record is an object");
    assert_eq!(
        obj.remove("sequence"),
        Some(Value::from(index)),
        "sequence of record {index}"
    );
    let chain = obj.remove("chain").expect("a record has a chain");
    let chain = chain.as_str().expect("chain is a string");
    assert!(
        chain.len() == 64 && chain.bytes().all(|b| b.is_ascii_hexdigit()),
        "chain of record {index}: {chain}"
    );
}

/// An audit log: its bytes, and its records in order (without their chain members).
pub struct AuditLog {
    pub raw: Vec<u8>,
    pub records: Vec<Value>,
}

impl AuditLog {
    /// The records of one request, in log order: the call's own, then those of the KMS calls made
    /// for its caller.
    #[track_caller]
    pub fn of_request(&self, request_id: &str) -> Vec<&Value> {
        let found: Vec<&Value> = self
            .records
            .iter()
            .filter(|r| r["requestID"] == request_id)
            .collect();
        assert!(!found.is_empty(), "no records for request {request_id}");
        found
    }

    /// The record of the call itself.
    #[track_caller]
    pub fn call(&self, request_id: &str) -> &Value {
        self.of_request(request_id)[0]
    }

    /// Fails unless `needle` appears nowhere in the log: not as it is, not base64-encoded (at
    /// any of the three alignments it could have inside a longer encoded value, standard or
    /// URL-safe alphabet), not hex-encoded, not JSON-escaped.
    #[track_caller]
    pub fn assert_absent(&self, needle: &[u8], what: &str) {
        assert!(needle.len() >= 8, "{what}: too short to look for");
        for (form, bytes) in encodings(needle) {
            assert!(
                !contains(&self.raw, &bytes),
                "the audit log holds {what} ({form})"
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The forms `value` could take in a record.
fn encodings(value: &[u8]) -> Vec<(String, Vec<u8>)> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let mut forms = vec![("raw".to_owned(), value.to_vec())];
    if let Ok(text) = std::str::from_utf8(value) {
        let escaped = serde_json::to_string(text).expect("JSON string");
        let escaped = escaped.as_bytes()[1..escaped.len() - 1].to_vec();
        if escaped != value {
            forms.push(("JSON-escaped".to_owned(), escaped));
        }
    }
    for (alphabet, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
        // After `shift` bytes of something else, the encoding of `value` starts mid-group: the
        // characters mixing in the bytes before it (the first `ceil(shift * 8 / 6)`) and the last
        // group (mixing in the bytes after it, or padding) differ; the rest is always the same.
        for shift in 0..3usize {
            let mut shifted = vec![0u8; shift];
            shifted.extend_from_slice(value);
            let encoded = engine.encode(&shifted);
            let skip = (shift * 8).div_ceil(6);
            let core = &encoded.as_bytes()[skip..encoded.len().saturating_sub(4)];
            forms.push((format!("{alphabet}, offset {shift}"), core.to_vec()));
        }
    }
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    forms.push(("hex".to_owned(), hex.clone().into_bytes()));
    forms.push(("HEX".to_owned(), hex.to_uppercase().into_bytes()));
    forms
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn a_value_is_found_in_any_base64_alignment() {
        let value = b"the-secret-value-0123456789";
        for prefix in ["", "x", "xy", "xyz", "wxyz"] {
            let mut text = prefix.as_bytes().to_vec();
            text.extend_from_slice(value);
            text.extend_from_slice(b"tail");
            let encoded = STANDARD.encode(&text).into_bytes();
            assert!(
                encodings(value).iter().any(|(_, form)| contains(&encoded, form)),
                "after {prefix:?}"
            );
        }
    }
}
