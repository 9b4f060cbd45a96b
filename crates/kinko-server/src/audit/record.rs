//! The records themselves: one CloudTrail-shaped JSON object per call, and one per KMS call
//! another service made for its caller (as CloudTrail records them). Records never hold secret
//! values, keys or ciphertext.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kinko_api::audit::{AuditEvent, AuditResource, Caller, SessionAttributes};
use kinko_api::{KmsCall, KmsOperation};
use kinko_core::Timestamp;
use serde::Serialize;

/// `userIdentity`, with the members CloudTrail writes for the caller's kind.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'a str>,
}

/// `sessionContext` of temporary credentials: the role that issued a role session (`{}` for a
/// user's own session), `webIdFederationData` (`{}`: sessions are used with their role's
/// identity), and when and how they were issued.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    session_issuer: Issuer<'a>,
    web_id_federation_data: Empty,
    attributes: Attributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_identity: Option<&'a str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Issuer<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
}

/// An empty JSON object.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attributes {
    /// Whole seconds, as CloudTrail writes it (`2024-05-01T12:34:56Z`).
    #[serde(serialize_with = "inline_str")]
    creation_date: Inline<40>,
    /// `"true"` or `"false"`: a string, as CloudTrail writes it.
    mfa_authenticated: &'static str,
}

fn inline_str<S: serde::Serializer, const N: usize>(v: &Inline<N>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

impl Attributes {
    fn of(a: &SessionAttributes) -> Attributes {
        let ms = a.creation_date.millis();
        Attributes {
            creation_date: event_time(Timestamp::from_millis(ms - ms.rem_euclid(1000))),
            mfa_authenticated: if a.mfa_authenticated { "true" } else { "false" },
        }
    }
}

/// One record, with CloudTrail's members in CloudTrail's order. `requestParameters` and
/// `responseElements` are always present (`null` when there are none), as CloudTrail writes them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'a str,
    user_identity: Identity<'a>,
    event_time: &'a str,
    event_source: &'a str,
    event_name: Cow<'a, str>,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    source_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<Cow<'a, str>>,
    request_parameters: Option<Parameters<'a>>,
    response_elements: Option<&'a serde_json::Value>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
    #[serde(skip_serializing_if = "Resources::is_empty")]
    resources: Resources<'a>,
    event_type: &'a str,
    /// Every action kinko serves is a management event in CloudTrail's terms (KMS's
    /// cryptographic operations and Secrets Manager's GetSecretValue included); none is a data
    /// event.
    management_event: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_account_id: Option<&'a str>,
    /// The id the copies of one cross-account call share.
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    shared_event_id: Option<&'a str>,
    event_category: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_details: Option<Tls<'a>>,
}

/// `requestParameters`: a call's own (shaped by the services), or a KMS call's made for it.
#[derive(Serialize)]
#[serde(untagged)]
enum Parameters<'a> {
    Call(&'a serde_json::Value),
    Kms(KmsParameters<'a>),
}

/// `requestParameters` of a KMS call: what KMS's own CloudTrail records show (the ciphertext and
/// plaintext are never part of them).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KmsParameters<'a> {
    key_id: &'a str,
    encryption_context: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_spec: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_algorithm: Option<&'a str>,
}

#[derive(Serialize)]
struct KeyResource<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "ARN")]
    arn: &'a str,
}

/// `resources`: what the call was authorized on, or the key of a KMS call made for it.
enum Resources<'a> {
    Call(&'a [AuditResource]),
    Key(KeyResource<'a>),
}

impl Resources<'_> {
    fn is_empty(&self) -> bool {
        matches!(self, Resources::Call(r) if r.is_empty())
    }
}

impl Serialize for Resources<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Resources::Key(key) => s.collect_seq([key]),
            Resources::Call(resources) => s.collect_seq(resources.iter().map(|r| KeyResource {
                account_id: &r.account_id,
                kind: &r.kind,
                arn: &r.arn,
            })),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tls<'a> {
    tls_version: &'a str,
    cipher_suite: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_provided_host_header: Option<&'a str>,
}

/// Serializes the record of `e` and those of the KMS calls made for its caller, one JSON object
/// and a newline each, onto `out`. A call on resources of other accounts is recorded once more for
/// each of them, as CloudTrail records cross-account calls: the caller's account named as an
/// `AWSAccount`, both records sharing a `sharedEventID`.
pub(super) fn write_records(out: &mut Vec<u8>, e: &AuditEvent, kms: &[KmsCall]) {
    let (id, time) = (event_id(), event_time(e.event_time));
    let shared = (!e.shared_with.is_empty()).then(event_id);
    let shared = shared.as_ref().map(Inline::as_str);
    let mut record = request_record(e, id.as_str(), time.as_str());
    record.shared_event_id = shared;
    write_line(out, &record);
    for account in &e.shared_with {
        let id = event_id();
        let mut record = request_record(e, id.as_str(), time.as_str());
        record.user_identity = Identity {
            kind: "AWSAccount",
            principal_id: principal_id(e),
            arn: None,
            account_id: e.account_id.as_deref(),
            access_key_id: None,
            user_name: None,
            identity_provider: None,
            session_context: None,
            invoked_by: None,
        };
        record.recipient_account_id = Some(account);
        record.shared_event_id = shared;
        write_line(out, &record);
    }
    for call in kms {
        let (id, time) = (event_id(), event_time(call.event_time));
        write_line(out, &kms_record(e, call, id.as_str(), time.as_str()));
    }
}

/// Appends `record` and a newline to `out`, or nothing if it fails to serialize.
fn write_line(out: &mut Vec<u8>, record: &Record<'_>) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, record).is_ok() {
        out.push(b'\n');
    } else {
        out.truncate(start);
    }
}

/// Short text formatted on the stack (record times and ids), so a record allocates nothing for it.
struct Inline<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Inline<N> {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// `eventTime`, RFC 3339 (at most 35 characters with nanoseconds and an offset).
fn event_time(t: Timestamp) -> Inline<40> {
    let mut buf = [0; 40];
    let mut out = std::io::Cursor::new(buf.as_mut_slice());
    let len = match t
        .to_offset_date_time()
        .format_into(&mut out, &time::format_description::well_known::Rfc3339)
    {
        Ok(_) => usize::try_from(out.position()).unwrap_or(0),
        Err(_) => 0,
    };
    Inline { buf, len }
}

/// `eventID`: a random UUID.
fn event_id() -> Inline<{ uuid::fmt::Hyphenated::LENGTH }> {
    let mut buf = [0; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    Inline {
        buf,
        len: uuid::fmt::Hyphenated::LENGTH,
    }
}

/// CloudTrail's `principalId` of the caller: the unique id of a user, `<role id>:<session>` of a
/// role session, the account of its root user, `<provider>:<audience>:<subject>` of a web identity,
/// `<name qualifier>:<subject>` of a SAML user.
fn principal_id(e: &AuditEvent) -> Option<&str> {
    match &e.caller {
        Caller::Root => e.account_id.as_deref(),
        Caller::IamUser { principal_id, .. }
        | Caller::AssumedRole { principal_id, .. }
        | Caller::FederatedUser { principal_id, .. }
        | Caller::WebIdentity { principal_id, .. }
        | Caller::Saml { principal_id, .. } => Some(principal_id),
        Caller::Unknown => None,
    }
}

/// `userIdentity` of `e`'s caller, as CloudTrail shapes it for each kind; `invoked_by` is the
/// service that made the call for it (KMS calls Secrets Manager makes as the caller).
fn identity<'a>(e: &'a AuditEvent, invoked_by: Option<&'a str>) -> Identity<'a> {
    let mut id = Identity {
        kind: "Unknown",
        principal_id: principal_id(e),
        arn: e.principal_arn.as_deref(),
        account_id: e.account_id.as_deref(),
        access_key_id: Some(&e.access_key_id),
        user_name: None,
        identity_provider: None,
        session_context: None,
        invoked_by,
    };
    match &e.caller {
        Caller::Root => id.kind = "Root",
        Caller::IamUser {
            user_name, session, ..
        } => {
            id.kind = "IAMUser";
            id.user_name = Some(user_name);
            // A user's own session (GetSessionToken) has no issuer.
            id.session_context = session.as_ref().map(|a| SessionContext {
                session_issuer: Issuer::default(),
                web_id_federation_data: Empty {},
                attributes: Attributes::of(a),
                source_identity: None,
            });
        }
        Caller::AssumedRole {
            issuer,
            attributes,
            source_identity,
            ..
        } => {
            id.kind = "AssumedRole";
            id.session_context = Some(SessionContext {
                session_issuer: Issuer {
                    kind: Some("Role"),
                    principal_id: Some(&issuer.principal_id),
                    arn: Some(&issuer.arn),
                    account_id: Some(&issuer.account_id),
                    user_name: Some(&issuer.user_name),
                },
                web_id_federation_data: Empty {},
                attributes: Attributes::of(attributes),
                source_identity: source_identity.as_deref(),
            });
        }
        Caller::FederatedUser {
            issuer,
            issuer_type,
            attributes,
            ..
        } => {
            id.kind = "FederatedUser";
            id.session_context = Some(SessionContext {
                session_issuer: Issuer {
                    kind: Some(*issuer_type),
                    principal_id: Some(&issuer.principal_id),
                    arn: Some(&issuer.arn),
                    account_id: Some(&issuer.account_id),
                    user_name: Some(issuer.user_name.as_str()).filter(|u| !u.is_empty()),
                },
                web_id_federation_data: Empty {},
                attributes: Attributes::of(attributes),
                source_identity: None,
            });
        }
        Caller::WebIdentity {
            user_name,
            identity_provider,
            ..
        } => {
            // Unsigned: no access key, no ARN or account of its own.
            id.kind = "WebIdentityUser";
            id.user_name = Some(user_name);
            id.identity_provider = Some(identity_provider);
            id.access_key_id = None;
        }
        Caller::Saml {
            user_name,
            identity_provider,
            ..
        } => {
            // Unsigned, as a web identity: no access key, no ARN or account of its own.
            id.kind = "SAMLUser";
            id.user_name = Some(user_name);
            id.identity_provider = Some(identity_provider);
            id.access_key_id = None;
        }
        // A service acting on its own behalf is named by its `invokedBy` alone.
        Caller::Unknown if e.principal_arn.is_none() && e.invoked_by.is_some() => {
            return Identity {
                kind: "AWSService",
                principal_id: None,
                arn: None,
                account_id: None,
                access_key_id: None,
                user_name: None,
                identity_provider: None,
                session_context: None,
                invoked_by: e.invoked_by,
            };
        }
        Caller::Unknown => {}
    }
    id
}

/// Longest `errorMessage` a record holds, in characters. A message may echo a parameter (AWS's
/// validation messages quote the value: a 100 KB policy), and a record is one line of a log that
/// must stay readable and bounded; CloudTrail likewise keeps error messages short.
const MAX_ERROR_MESSAGE_CHARS: usize = 1024;

/// Longest `eventName`: the operation as the client named it, unchecked when unknown. AWS's
/// longest operation names are under 64 characters.
const MAX_EVENT_NAME_CHARS: usize = 128;

/// What a shortened text ends with.
const TRUNCATED: &str = "...(truncated)";

/// `text` itself when it has at most `max` characters, else its first `max` characters (cut on a
/// character boundary) and [`TRUNCATED`].
fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}{TRUNCATED}", &text[..cut])),
    }
}

/// CloudTrail's `errorCode` for a KMS error: KMS denials are recorded as `AccessDenied`, other
/// errors by their exception name.
fn kms_error_code(code: &str) -> &str {
    match code {
        "AccessDeniedException" => "AccessDenied",
        other => other,
    }
}

/// Longest `userAgent`, in characters: the header as the client sent it, within bounds.
const MAX_USER_AGENT_CHARS: usize = 1024;

/// The record of the call itself.
fn request_record<'a>(e: &'a AuditEvent, id: &'a str, time: &'a str) -> Record<'a> {
    let error_code = e.error_code.as_deref();
    Record {
        event_version: "1.08",
        user_identity: identity(e, e.invoked_by),
        event_time: time,
        event_source: e.event_source,
        event_name: bounded(&e.event_name, MAX_EVENT_NAME_CHARS),
        aws_region: &e.aws_region,
        source_ip: e.source_ip.as_deref(),
        user_agent: e.user_agent.as_deref().map(|a| bounded(a, MAX_USER_AGENT_CHARS)),
        error_code: if e.event_source == KMS {
            error_code.map(kms_error_code)
        } else {
            error_code
        },
        error_message: e
            .error_message
            .as_deref()
            .map(|m| bounded(m, MAX_ERROR_MESSAGE_CHARS)),
        request_parameters: e.request_parameters.as_ref().map(Parameters::Call),
        response_elements: e.response_elements.as_ref(),
        request_id: &e.request_id,
        event_id: id,
        read_only: e.read_only,
        resources: Resources::Call(&e.resources),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: e.recipient_account_id.as_deref(),
        shared_event_id: None,
        event_category: "Management",
        tls_details: e.tls_details.as_ref().map(|t| Tls {
            tls_version: &t.tls_version,
            cipher_suite: &t.cipher_suite,
            client_provided_host_header: t.client_provided_host_header.as_deref(),
        }),
    }
}

const KMS: &str = "kms.amazonaws.com";

/// The record of a KMS call another service made for `e`'s caller, shaped as AWS KMS records it:
/// the caller's identity `invokedBy` the service, which is also the source address and user agent.
fn kms_record<'a>(e: &'a AuditEvent, call: &'a KmsCall, id: &'a str, time: &'a str) -> Record<'a> {
    let (key_spec, encryption_algorithm) = match call.operation {
        KmsOperation::GenerateDataKey => (Some("AES_256"), None),
        KmsOperation::Encrypt | KmsOperation::Decrypt => (None, Some("SYMMETRIC_DEFAULT")),
    };
    // arn:aws:kms:<region>:<account>:key/<id>
    let key_account = call.key_arn.split(':').nth(4).unwrap_or_default();
    Record {
        event_version: "1.08",
        user_identity: identity(e, Some(call.invoked_by)),
        event_time: time,
        event_source: KMS,
        event_name: Cow::Borrowed(call.operation.name()),
        aws_region: &e.aws_region,
        source_ip: Some(call.invoked_by),
        user_agent: Some(Cow::Borrowed(call.invoked_by)),
        error_code: call.error_code.map(kms_error_code),
        error_message: call
            .error_message
            .as_deref()
            .map(|m| bounded(m, MAX_ERROR_MESSAGE_CHARS)),
        request_parameters: Some(Parameters::Kms(KmsParameters {
            key_id: &call.key_arn,
            encryption_context: &call.encryption_context,
            key_spec,
            encryption_algorithm,
        })),
        // GenerateDataKey, Decrypt and Encrypt answer data keys and ciphertexts: KMS records no
        // response elements for them.
        response_elements: None,
        request_id: &e.request_id,
        event_id: id,
        // KMS's cryptographic operations are read-only events in CloudTrail.
        read_only: Some(true),
        resources: Resources::Key(KeyResource {
            account_id: key_account,
            kind: "AWS::KMS::Key",
            arn: &call.key_arn,
        }),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: e.recipient_account_id.as_deref(),
        shared_event_id: None,
        event_category: "Management",
        // A call one service makes to another within AWS carries no TLS details of the client's.
        tls_details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_are_rfc3339_with_milliseconds() {
        // 2024-05-01T12:34:56.789Z and the whole second before it.
        let t = Timestamp::from_millis(1_714_566_896_789);
        assert_eq!(event_time(t).as_str(), "2024-05-01T12:34:56.789Z");
        assert_eq!(event_time(t.plus_millis(-789)).as_str(), "2024-05-01T12:34:56Z");
    }

    #[test]
    fn texts_are_bounded_on_character_boundaries() {
        assert_eq!(bounded("", 3), "");
        assert_eq!(bounded("abc", 3), "abc");
        assert!(matches!(bounded("abc", 3), Cow::Borrowed(_)));
        assert_eq!(bounded("abcd", 3), "abc...(truncated)");
        // Multi-byte characters are kept whole: 3 characters, 6 bytes.
        assert_eq!(bounded("ééééé", 3), "ééé...(truncated)");
        assert_eq!(bounded("日本語テキスト", 2), "日本...(truncated)");
        let long = "x".repeat(100_000);
        assert_eq!(
            bounded(&long, MAX_ERROR_MESSAGE_CHARS).chars().count(),
            MAX_ERROR_MESSAGE_CHARS + TRUNCATED.len()
        );
    }

    #[test]
    fn event_ids_are_distinct_uuids() {
        let (a, b) = (event_id(), event_id());
        assert!(uuid::Uuid::parse_str(a.as_str()).is_ok(), "{}", a.as_str());
        assert_ne!(a.as_str(), b.as_str());
    }
}
