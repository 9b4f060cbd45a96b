//! The agent's cache of GetSecretValue answers, keyed by (secretId, versionId, versionStage) as
//! asked, and its reads from Secrets Manager.
//!
//! An entry younger than the TTL is served as it is, with no call upstream. An older one is
//! checked with DescribeSecret: when the version it holds still has the stage asked for (AWSCURRENT
//! when none was), it is kept and its TTL starts again; otherwise the value is read again with
//! GetSecretValue. With `ignore_transient_errors`, a check or read that fails transiently (no
//! connection, a timeout, a 5xx) serves the entry held, and starts its TTL again, as AWS's agent
//! does. `refreshNow` reads with GetSecretValue at once and stores the answer.
//!
//! The bound counts entries; the one written longest ago is dropped first (a read does not keep an
//! entry, a refresh does), as AWS's agent's cache.
//!
//! Each entry holds the answer already serialized, so a hit is a map lookup and a reference count.
//! Cached values are plaintext in this process's memory for as long as they are cached, as in AWS's
//! agent: that is what a cache of secrets is.

use std::num::NonZeroUsize;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use bytes::Bytes;
use hashlink::LinkedHashMap;
use hyper::StatusCode;
use serde::Serialize;

/// What a read was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub secret_id: String,
    pub version_id: Option<String>,
    pub version_stage: Option<String>,
}

/// One cached answer.
struct Entry {
    /// The agent's answer, ready to send.
    body: Bytes,
    /// The secret's ARN and the version held, for DescribeSecret's check.
    arn: Option<String>,
    version_id: Option<String>,
    stored: Instant,
}

/// An answer that is not the secret: an HTTP status and its body.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Failure {
    /// AWS's agent's answer to any failure it has no code for: 500 and only the type.
    fn internal() -> Failure {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: Bytes::from_static(br#"{"__type":"InternalFailure"}"#),
        }
    }

    /// A Secrets Manager error in AWS's agent's shape, `{"__type":CODE, "message":MESSAGE}` (its
    /// space after the comma included; the strings JSON-escaped, which AWS's agent omits).
    fn service(status: u16, code: &str, message: &str) -> Failure {
        let Ok(status) = StatusCode::from_u16(status) else {
            return Failure::internal();
        };
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        Failure {
            status,
            body: Bytes::from(format!(
                "{{\"__type\":{}, \"message\":{}}}",
                quote(code),
                quote(message)
            )),
        }
    }
}

/// The answer's JSON, in AWS's agent's field names and order: `ARN`, `Name` and `VersionId` always
/// (null when absent), `SecretString`, `SecretBinary` (base64) and `VersionStages` only when
/// present, then `CreatedDate` as a string of seconds since the epoch with their fraction
/// (`"1569534789.046"`).
#[derive(Serialize)]
struct Answer<'a> {
    #[serde(rename = "ARN")]
    arn: Option<&'a str>,
    #[serde(rename = "Name")]
    name: Option<&'a str>,
    #[serde(rename = "VersionId")]
    version_id: Option<&'a str>,
    #[serde(rename = "SecretString", skip_serializing_if = "Option::is_none")]
    secret_string: Option<&'a str>,
    #[serde(rename = "SecretBinary", skip_serializing_if = "Option::is_none")]
    secret_binary: Option<String>,
    #[serde(rename = "VersionStages", skip_serializing_if = "Option::is_none")]
    version_stages: Option<&'a [String]>,
    #[serde(rename = "CreatedDate")]
    created_date: Option<String>,
}

fn answer(out: &GetSecretValueOutput) -> Result<Bytes, Failure> {
    let created_date = out.created_date().map(|d| {
        let secs = d.secs() as f64 + f64::from(d.subsec_nanos()) / 1e9;
        secs.to_string()
    });
    let body = Answer {
        arn: out.arn(),
        name: out.name(),
        version_id: out.version_id(),
        secret_string: out.secret_string(),
        secret_binary: out
            .secret_binary()
            .map(|b| aws_smithy_types::base64::encode(b.as_ref())),
        version_stages: out.version_stages.as_deref(),
        created_date,
    };
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(|_| Failure::internal())
}

/// Whether an SDK error is one a stale value may be served over: no answer, a timeout, an
/// unreadable answer or a 5xx.
fn transient<E>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout() || d.is_io(),
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => false,
    }
}

/// An SDK error as AWS's agent answers it: a service error passed through with its status, code
/// and message; 504 TimeoutError for a timeout; 502 ConnectionError when there was no answer or
/// it could not be read; otherwise 500.
fn failure<E>(e: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(s) => match (s.err().code(), s.err().message()) {
            (Some(code), Some(message)) => Failure::service(s.raw().status().as_u16(), code, message),
            _ => Failure::internal(),
        },
        SdkError::TimeoutError(_) => Failure::service(504, "TimeoutError", "Timeout"),
        SdkError::DispatchFailure(d) if d.is_timeout() => Failure::service(504, "TimeoutError", "Timeout"),
        SdkError::DispatchFailure(d) if d.is_io() => Failure::service(502, "ConnectionError", "Read Error"),
        SdkError::ResponseError(_) => Failure::service(502, "ConnectionError", "Response Error"),
        _ => Failure::internal(),
    }
}

pub struct Cache {
    sm: aws_sdk_secretsmanager::Client,
    entries: RwLock<LinkedHashMap<Key, Arc<Entry>>>,
    size: NonZeroUsize,
    ttl: Duration,
    ignore_transient_errors: bool,
}

impl Cache {
    pub fn new(
        sm: aws_sdk_secretsmanager::Client,
        size: NonZeroUsize,
        ttl: Duration,
        ignore_transient_errors: bool,
    ) -> Cache {
        Cache {
            sm,
            entries: RwLock::new(LinkedHashMap::new()),
            size,
            ttl,
            ignore_transient_errors,
        }
    }

    /// The answer to a read of `key`.
    pub async fn get(&self, key: Key, refresh_now: bool) -> Result<Bytes, Failure> {
        if refresh_now {
            return self.fetch(key, None).await;
        }
        let held = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        match held {
            // An entry is fresh up to its TTL inclusive (a TTL of 0 checks on every read).
            Some(e) if e.stored.elapsed() <= self.ttl && !self.ttl.is_zero() => Ok(e.body.clone()),
            Some(e) => {
                if self.is_current(&key, &e).await? {
                    self.store(key, e.renewed());
                    Ok(e.body.clone())
                } else {
                    self.fetch(key, Some(e)).await
                }
            }
            None => self.fetch(key, None).await,
        }
    }

    /// Whether `held` still is what `key` asks for, by DescribeSecret's versions and stages.
    async fn is_current(&self, key: &Key, held: &Entry) -> Result<bool, Failure> {
        let id = held.arn.as_deref().unwrap_or(&key.secret_id);
        let described = match self.sm.describe_secret().secret_id(id).send().await {
            Ok(d) => d,
            Err(e) if self.ignore_transient_errors && transient(&e) => {
                tracing::warn!(secret_id = %key.secret_id, "DescribeSecret failed; serving the cached value: {}", describe(&e));
                return Ok(true);
            }
            Err(e) => return Err(failure(&e)),
        };
        let Some(versions) = described.version_ids_to_stages() else {
            return Ok(false);
        };
        // A version asked for by id alone is current for as long as it exists.
        if let (Some(version), None) = (&key.version_id, &key.version_stage) {
            return Ok(versions.contains_key(version));
        }
        let Some(version) = key.version_id.as_ref().or(held.version_id.as_ref()) else {
            return Ok(false);
        };
        let stage = key.version_stage.as_deref().unwrap_or("AWSCURRENT");
        Ok(versions
            .get(version)
            .is_some_and(|stages| stages.iter().any(|s| s == stage)))
    }

    /// Reads `key` with GetSecretValue and stores the answer; `held` is served instead when the
    /// read fails transiently and stale values may be served.
    async fn fetch(&self, key: Key, held: Option<Arc<Entry>>) -> Result<Bytes, Failure> {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(&key.secret_id)
            .set_version_id(key.version_id.clone())
            .set_version_stage(key.version_stage.clone())
            .send()
            .await;
        let entry = match (out, held) {
            (Ok(out), _) => Entry {
                body: answer(&out)?,
                arn: out.arn,
                version_id: out.version_id,
                stored: Instant::now(),
            },
            (Err(e), Some(held)) if self.ignore_transient_errors && transient(&e) => {
                tracing::warn!(secret_id = %key.secret_id, "GetSecretValue failed; serving the cached value: {}", describe(&e));
                held.renewed()
            }
            (Err(e), _) => {
                tracing::info!(secret_id = %key.secret_id, "GetSecretValue failed: {}", describe(&e));
                return Err(failure(&e));
            }
        };
        let body = entry.body.clone();
        self.store(key, entry);
        Ok(body)
    }

    fn store(&self, key: Key, entry: Entry) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key, Arc::new(entry));
        while entries.len() > self.size.get() {
            entries.pop_front();
        }
    }
}

impl Entry {
    /// The same answer, its TTL started again.
    fn renewed(&self) -> Entry {
        Entry {
            body: self.body.clone(),
            arn: self.arn.clone(),
            version_id: self.version_id.clone(),
            stored: Instant::now(),
        }
    }
}

/// An SDK error as one line for the log (never a value).
fn describe<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or_default()
        ),
        None => format!("{}", aws_smithy_types::error::display::DisplayErrorContext(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_has_aws_agents_fields_in_order() {
        let out = GetSecretValueOutput::builder()
            .arn("arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf")
            .name("app")
            .version_id("v1")
            .secret_string("hunter2")
            .version_stages("AWSCURRENT")
            .created_date(aws_smithy_types::DateTime::from_millis(1_569_534_789_046))
            .build();
        let body = answer(&out).unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"ARN":"arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf","Name":"app","VersionId":"v1","SecretString":"hunter2","VersionStages":["AWSCURRENT"],"CreatedDate":"1569534789.046"}"#
        );
        let binary = GetSecretValueOutput::builder()
            .secret_binary(aws_smithy_types::Blob::new(b"\x00\x01".to_vec()))
            .build();
        assert_eq!(
            std::str::from_utf8(&answer(&binary).unwrap()).unwrap(),
            r#"{"ARN":null,"Name":null,"VersionId":null,"SecretBinary":"AAE=","CreatedDate":null}"#
        );
    }

    #[test]
    fn service_errors_are_valid_json_in_aws_agents_shape() {
        let f = Failure::service(400, "ResourceNotFoundException", "can't find \"x\"");
        assert_eq!(f.status, 400);
        assert_eq!(
            std::str::from_utf8(&f.body).unwrap(),
            r#"{"__type":"ResourceNotFoundException", "message":"can't find \"x\""}"#
        );
        assert_eq!(Failure::service(1000, "X", "y").status, 500);
    }
}
