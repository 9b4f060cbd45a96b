//! The audit trail as the services see it: one [`AuditEvent`] per call of every service (allowed,
//! denied or failed), handed with the KMS calls made for its caller to an [`AuditSink`]. How
//! records are written (shape, file, durability) is the sink's business; the server provides it.
//! Events never hold secret values, keys, plaintexts or ciphertexts.

use kinko_core::Timestamp;

use crate::{KmsCall, RequestContext};

/// What the audit record of one call says.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event_time: Timestamp,
    /// `secretsmanager.amazonaws.com`, ...; empty when the service isn't known.
    pub event_source: &'static str,
    pub event_name: String,
    pub aws_region: String,
    pub request_id: String,
    pub access_key_id: String,
    pub principal_arn: Option<String>,
    pub account_id: Option<String>,
    pub error_code: Option<String>,
    /// The error's message for client errors (internal failures are only logged).
    pub error_message: Option<String>,
    pub source_ip: Option<String>,
}

impl AuditEvent {
    /// The event of an authenticated call.
    pub fn of(
        rc: &RequestContext,
        event_time: Timestamp,
        event_source: &'static str,
        event_name: &str,
    ) -> Self {
        AuditEvent {
            event_time,
            event_source,
            event_name: event_name.to_owned(),
            aws_region: rc.region.clone(),
            request_id: rc.request_id.clone(),
            access_key_id: rc.access_key_id.clone(),
            principal_arn: Some(rc.principal.arn.clone()),
            account_id: Some(rc.principal.account_id.clone()),
            error_code: None,
            error_message: None,
            source_ip: rc.source_ip.map(|ip| ip.to_string()),
        }
    }
}

/// Where audit events go.
pub trait AuditSink: Send + Sync {
    /// Records one call, then the KMS calls another service made for its caller while serving it.
    fn record(&self, event: &AuditEvent, kms_calls: &[KmsCall]);
}

/// No audit trail (tests that don't look at it; `--audit-log` unset in dev mode).
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: &AuditEvent, _: &[KmsCall]) {}
}
