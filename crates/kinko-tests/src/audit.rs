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

impl AuditedServer {
    pub async fn start() -> AuditedServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.log");
        let config = Config {
            audit_log: Some(path.clone()),
            ..dev_config()
        };
        AuditedServer {
            server: TestServer::start_with(config, TestClock::System).await,
            path,
            _dir: dir,
        }
    }

    /// Stops the server (which writes out every record) and reads its log.
    pub async fn stop(self) -> AuditLog {
        self.server.shutdown().await;
        let raw = std::fs::read(&self.path).expect("audit log");
        let records = raw
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)))
            })
            .collect();
        AuditLog { raw, records }
    }
}

/// An audit log: its bytes, and its records in order.
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
