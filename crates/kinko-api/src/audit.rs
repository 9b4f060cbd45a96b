//! The audit trail as the services see it: one [`AuditEvent`] per call of every service (allowed,
//! denied or failed), handed with the KMS calls made for its caller to an [`AuditSink`]. How
//! records are written (shape, file, durability) is the sink's business; the server provides it.
//! Events never hold secret values, keys, plaintexts or ciphertexts: their request parameters and
//! response elements come shaped by [`crate::cloudtrail`], without them.

use kinko_core::Timestamp;

pub use crate::cloudtrail::AuditResource;
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
    /// The caller's account (`userIdentity.accountId`).
    pub account_id: Option<String>,
    /// Who the caller is, in the detail CloudTrail's `userIdentity` shows for its kind.
    pub caller: Caller,
    /// The account the record is written for (`recipientAccountId`): the caller's, or for a caller
    /// without an account (a web identity) the account of the resource it asked for.
    pub recipient_account_id: Option<String>,
    /// Accounts other than the caller's that own a resource the call was authorized on: each
    /// gets a copy of the record (CloudTrail's cross-account events, `userIdentity.type`
    /// `AWSAccount`), both copies sharing a `sharedEventID`.
    pub shared_with: Vec<String>,
    pub error_code: Option<String>,
    /// The error's message for client errors (internal failures are only logged).
    pub error_message: Option<String>,
    pub source_ip: Option<String>,
    /// The request's `User-Agent` header.
    pub user_agent: Option<String>,
    /// Whether the action only reads (CloudTrail's `readOnly`); none when no operation ran (an
    /// unknown action, a request refused before it named one).
    pub read_only: Option<bool>,
    /// The request's parameters in CloudTrail's shape (`requestParameters`), none without any.
    pub request_parameters: Option<serde_json::Value>,
    /// The answer in CloudTrail's shape (`responseElements`): for the actions whose answer
    /// CloudTrail records, when they succeeded.
    pub response_elements: Option<serde_json::Value>,
    /// The resources the call was authorized on.
    pub resources: Vec<AuditResource>,
    /// The TLS session the request came over (`tlsDetails`), when it came over TLS.
    pub tls_details: Option<TlsDetails>,
    /// The AWS service that made the call on its own behalf (`userIdentity.type` `AWSService`
    /// with this `invokedBy`): `ec2.amazonaws.com` assuming an instance profile's role.
    pub invoked_by: Option<&'static str>,
}

/// The caller as CloudTrail's `userIdentity` describes it, beyond its ARN and account (which the
/// event holds for every kind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Caller {
    /// No principal: a call made by an AWS service on its own behalf (`AWSService`, with the
    /// event's `invoked_by`), or a request refused before anyone was identified.
    #[default]
    Unknown,
    /// The account's root user (`Root`, `principalId` the account id).
    Root,
    /// An IAM user (`IAMUser`), with the attributes of its `GetSessionToken` session when it
    /// signed with one.
    IamUser {
        principal_id: String,
        user_name: String,
        session: Option<SessionAttributes>,
    },
    /// A role session (`AssumedRole`): `principalId` `<role id>:<session name>`, and the role
    /// that issued it.
    AssumedRole {
        principal_id: String,
        issuer: SessionIssuer,
        attributes: SessionAttributes,
        source_identity: Option<String>,
    },
    /// A federated user (`FederatedUser`): `principalId` `<account>:<name>`, and the IAM user
    /// (`issuer_type` `IAMUser`) or root user (`Root`) that called GetFederationToken.
    FederatedUser {
        principal_id: String,
        issuer: SessionIssuer,
        issuer_type: &'static str,
        attributes: SessionAttributes,
    },
    /// The holder of a web identity token calling `AssumeRoleWithWebIdentity` (`WebIdentityUser`):
    /// `principalId` `<provider>:<audience>:<subject>`, `userName` the subject.
    WebIdentity {
        principal_id: String,
        user_name: String,
        identity_provider: String,
    },
    /// The holder of a SAML assertion calling `AssumeRoleWithSAML` (`SAMLUser`): `principalId`
    /// `<name qualifier>:<subject>`, `userName` the subject, `identityProvider` the name qualifier
    /// (CloudTrail User Guide, "Values for AWS STS APIs with SAML and web identity federation").
    Saml {
        principal_id: String,
        user_name: String,
        identity_provider: String,
    },
}

/// `sessionContext.sessionIssuer` of a role session: the role (`type` `Role`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIssuer {
    /// The role's unique id (`AROA...`).
    pub principal_id: String,
    /// The role's ARN, with its path.
    pub arn: String,
    pub account_id: String,
    /// The role's name.
    pub user_name: String,
}

/// `sessionContext.attributes` of temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAttributes {
    /// When the credentials were issued.
    pub creation_date: Timestamp,
    /// Whether they were issued with MFA (kinko issues none with MFA).
    pub mfa_authenticated: bool,
}

impl Caller {
    /// The caller behind `rc`: its principal and the session it signed with.
    pub fn of(rc: &RequestContext) -> Caller {
        use kinko_core::principal::PrincipalKind;
        let p = &rc.principal;
        let attributes = |s: &crate::Session| SessionAttributes {
            creation_date: s.issued,
            mfa_authenticated: false,
        };
        match &p.kind {
            PrincipalKind::Root => Caller::Root,
            PrincipalKind::User { name, user_id } => Caller::IamUser {
                principal_id: user_id.clone(),
                user_name: name.clone(),
                session: rc.session.as_ref().map(attributes),
            },
            PrincipalKind::AssumedRole {
                role_name,
                role_id,
                session_name,
            } => Caller::AssumedRole {
                principal_id: format!("{role_id}:{session_name}"),
                issuer: SessionIssuer {
                    principal_id: role_id.clone(),
                    // Without its path: [`crate::call`] names the role as IAM has it.
                    arn: format!("arn:aws:iam::{}:role/{role_name}", p.account_id),
                    account_id: p.account_id.clone(),
                    user_name: role_name.clone(),
                },
                attributes: rc.session.as_ref().map_or(
                    SessionAttributes {
                        creation_date: Timestamp(0),
                        mfa_authenticated: false,
                    },
                    attributes,
                ),
                source_identity: rc.session.as_ref().and_then(|s| s.source_identity.clone()),
            },
            PrincipalKind::FederatedUser {
                name,
                user_name,
                user_id,
            } => Caller::FederatedUser {
                principal_id: format!("{}:{name}", p.account_id),
                issuer: SessionIssuer {
                    principal_id: user_id.clone(),
                    // Without its path: [`crate::call`] names the user as IAM has it.
                    arn: match user_name {
                        Some(u) => format!("arn:aws:iam::{}:user/{u}", p.account_id),
                        None => format!("arn:aws:iam::{}:root", p.account_id),
                    },
                    account_id: p.account_id.clone(),
                    user_name: user_name.clone().unwrap_or_default(),
                },
                issuer_type: if user_name.is_some() { "IAMUser" } else { "Root" },
                attributes: rc.session.as_ref().map_or(
                    SessionAttributes {
                        creation_date: Timestamp(0),
                        mfa_authenticated: false,
                    },
                    attributes,
                ),
            },
            PrincipalKind::Anonymous => Caller::Unknown,
        }
    }
}

/// CloudTrail's `tlsDetails` of a request that came over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDetails {
    /// `TLSv1.2`, `TLSv1.3`.
    pub tls_version: String,
    /// The IANA name of the cipher suite (`TLS_AES_128_GCM_SHA256`).
    pub cipher_suite: String,
    /// The `Host` the client asked for.
    pub client_provided_host_header: Option<String>,
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
            // An unsigned request (AssumeRoleWithWebIdentity) has no principal of its own.
            principal_arn: (!rc.principal.is_anonymous()).then(|| rc.principal.arn.clone()),
            account_id: (!rc.principal.is_anonymous()).then(|| rc.principal.account_id.clone()),
            caller: Caller::of(rc),
            recipient_account_id: (!rc.principal.is_anonymous()).then(|| rc.principal.account_id.clone()),
            shared_with: Vec::new(),
            error_code: None,
            error_message: None,
            source_ip: rc.source_ip.map(|ip| ip.to_string()),
            user_agent: rc.user_agent.clone(),
            read_only: None,
            request_parameters: None,
            response_elements: None,
            resources: Vec::new(),
            tls_details: rc.tls_details.clone(),
            invoked_by: None,
        }
    }
}

/// The audit record of a call could not be made durable (disk full, file removed, I/O error):
/// the call must fail with its service's internal error. The detail is for the server's log.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit record not written: {0}")]
pub struct AuditFailed(pub String);

/// When a call's records are durable: resolves once they are on disk (or the sink has given up
/// on them). A sink that keeps nothing, or only buffers, resolves at once.
pub type Durable = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AuditFailed>> + Send>>;

/// Where audit events go.
pub trait AuditSink: Send + Sync {
    /// Whether records can be written now. While they cannot, calls are refused before they run
    /// (nothing of them takes effect); their records are still handed to [`AuditSink::record`],
    /// whose success tells the sink it has recovered.
    fn ready(&self) -> Result<(), AuditFailed> {
        Ok(())
    }

    /// Records one call, then the KMS calls another service made for its caller while serving it.
    /// The call is answered only once the returned future resolves, and fails if it fails.
    fn record(&self, event: &AuditEvent, kms_calls: &[KmsCall]) -> Durable;
}

/// No audit trail (tests that don't look at it; `--audit-log none`).
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: &AuditEvent, _: &[KmsCall]) -> Durable {
        Box::pin(std::future::ready(Ok(())))
    }
}
