//! Audit events: one record per call (allowed, denied or failed), shaped like a CloudTrail record,
//! written as JSON lines by a background thread. Records never hold secret values or keys.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kinko_core::Timestamp;
use serde::Serialize;

use crate::bootstrap::StartError;

pub(crate) struct AuditEvent {
    pub event_time: Timestamp,
    pub event_source: &'static str,
    pub event_name: String,
    pub aws_region: String,
    pub request_id: String,
    pub access_key_id: String,
    pub principal_arn: Option<String>,
    pub account_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub source_ip: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    access_key_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'a str,
    event_time: String,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    user_identity: Identity<'a>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    source_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    event_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_account_id: Option<&'a str>,
}

/// Records are appended to a shared buffer; a background thread writes the buffer out every
/// [`FLUSH_EVERY`], so a request never waits for (or wakes) the writer.
pub(crate) struct Audit {
    shared: Option<Arc<Shared>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

const FLUSH_EVERY: Duration = Duration::from_millis(50);

struct Shared {
    buf: Mutex<Vec<u8>>,
    closed: Mutex<bool>,
    wake: Condvar,
}

impl Audit {
    /// Audit records go to `path` (`-` = stdout), or nowhere when `None`.
    pub fn open(path: Option<&Path>) -> Result<Audit, StartError> {
        let Some(path) = path else {
            return Ok(Audit {
                shared: None,
                writer: Mutex::new(None),
            });
        };
        let mut out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| StartError::Write(path.to_owned(), e))?,
            )
        };
        let shared = Arc::new(Shared {
            buf: Mutex::default(),
            closed: Mutex::new(false),
            wake: Condvar::new(),
        });
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("kinko-audit".into())
            .spawn(move || {
                let mut pending = Vec::with_capacity(64 * 1024);
                loop {
                    let closed = match s.closed.lock() {
                        Ok(guard) => match s.wake.wait_timeout(guard, FLUSH_EVERY) {
                            Ok((g, _)) => *g,
                            Err(_) => true,
                        },
                        Err(_) => true,
                    };
                    if let Ok(mut buf) = s.buf.lock() {
                        std::mem::swap(&mut *buf, &mut pending);
                    }
                    if !pending.is_empty() {
                        let _ = out.write_all(&pending).and_then(|()| out.flush());
                        pending.clear();
                    }
                    if closed {
                        return;
                    }
                }
            })
            .ok();
        Ok(Audit {
            shared: Some(shared),
            writer: Mutex::new(writer),
        })
    }

    pub fn record(&self, e: &AuditEvent) {
        let Some(shared) = &self.shared else { return };
        let time = e
            .event_time
            .to_offset_date_time()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let record = Record {
            event_version: "1.08",
            event_time: time,
            event_source: e.event_source,
            event_name: &e.event_name,
            aws_region: &e.aws_region,
            user_identity: Identity {
                kind: match e.principal_arn.as_deref() {
                    Some(a) if a.ends_with(":root") => "Root",
                    Some(a) if a.contains(":assumed-role/") => "AssumedRole",
                    Some(_) => "IAMUser",
                    None => "Unknown",
                },
                arn: e.principal_arn.as_deref(),
                account_id: e.account_id.as_deref(),
                access_key_id: &e.access_key_id,
            },
            request_id: &e.request_id,
            source_ip: e.source_ip.as_deref(),
            error_code: e.error_code.as_deref(),
            error_message: e.error_message.as_deref(),
            event_type: "AwsApiCall",
            recipient_account_id: e.account_id.as_deref(),
        };
        if let Ok(mut buf) = shared.buf.lock()
            && serde_json::to_writer(&mut *buf, &record).is_ok()
        {
            buf.push(b'\n');
        }
    }

    pub fn close(&self) {
        if let Some(shared) = &self.shared
            && let Ok(mut closed) = shared.closed.lock()
        {
            *closed = true;
            shared.wake.notify_all();
        }
        if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }
}
