//! The AWS services kinko speaks: one module per service, one file per operation.
//!
//! Shared machinery here decodes and validates input, resolves the resource, authorizes and retries
//! optimistic-concurrency conflicts; an operation only does its work. No HTTP and no SQL in this
//! crate: it sees requests as (operation name, body bytes) and storage through `kinko_core::Store`.

pub mod access;
pub mod audit;
pub mod authz;
pub mod cloudformation;
pub mod cloudtrail;
pub mod iam;
pub mod keyring;
pub mod kinko;
pub mod kms;
pub mod lambda;
pub mod mfa;
pub mod operation;
pub mod organizations;
pub mod secretsmanager;
pub mod sts;
pub mod trail;

use std::sync::Arc;

use kinko_core::Clock;
use kinko_core::principal::Principal;
use kinko_core::store::Store;

pub use keyring::Keyring;

/// Everything an operation may use. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub keyring: Arc<Keyring>,
    /// Parsed policies, cached per principal and IAM revision.
    pub policies: Arc<authz::PolicyCache>,
    /// Where every call's audit event goes.
    pub audit: Arc<dyn audit::AuditSink>,
    /// The key sets of the OpenID Connect issuers whose tokens AssumeRoleWithWebIdentity accepts.
    pub jwks: Arc<dyn sts::web_identity::JwksSource>,
    /// Where CloudTrail's LookupEvents finds the audit trail's events.
    pub events: Arc<dyn trail::EventIndex>,
    /// What runs Lambda functions.
    pub functions: Arc<dyn kinko_core::function::FunctionRunner>,
    /// Who this process is to the leases of the work it runs in the background (stack
    /// operations), and how long a lease it takes.
    pub node: Arc<Node>,
    /// When each access key was last used, as this process saw it.
    pub key_usage: Arc<iam::KeyUsage>,
    /// The secrets' `LastAccessedDate`s this process recorded and has yet to write.
    pub accessed: Arc<secretsmanager::accessed::AccessDates>,
}

/// A process's name and lease length for the background work other nodes take over when it is
/// gone (`Store::acquire_lease`), and what of it runs here.
#[derive(Debug)]
pub struct Node {
    /// Unique per process start.
    pub holder: String,
    /// A holder extends its leases every third of this.
    pub lease: std::time::Duration,
    /// The stacks whose operation runs in this process.
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Node {
    pub fn new(holder: String, lease: std::time::Duration) -> Self {
        Node {
            holder,
            lease,
            running: std::sync::Mutex::default(),
        }
    }

    /// Marks the operation of `stack_id` as running here (`true`) or ended; when marking it
    /// running, whether it was not already.
    pub(crate) fn running(&self, stack_id: &str, running: bool) -> bool {
        let mut set = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if running {
            set.insert(stack_id.to_owned())
        } else {
            set.remove(stack_id)
        }
    }
}

impl Default for Node {
    fn default() -> Self {
        Node::new(
            format!("node/{}", uuid::Uuid::new_v4()),
            std::time::Duration::from_secs(60),
        )
    }
}

impl Services {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keyring: Arc<Keyring>) -> Self {
        Services {
            store,
            clock,
            keyring,
            policies: Arc::default(),
            audit: Arc::new(audit::NoAudit),
            jwks: Arc::new(sts::web_identity::NoJwks),
            events: Arc::new(trail::NoEvents),
            functions: Arc::new(kinko_core::function::NoRunner),
            node: Arc::default(),
            key_usage: Arc::default(),
            accessed: Arc::default(),
        }
    }

    /// The same services, holding leases as `node`.
    pub fn with_node(mut self, node: Node) -> Self {
        self.node = Arc::new(node);
        self
    }

    /// The same services, running functions with `runner`.
    pub fn with_functions(mut self, runner: Arc<dyn kinko_core::function::FunctionRunner>) -> Self {
        self.functions = runner;
        self
    }

    /// The same services, taking OpenID Connect key sets from `jwks`.
    pub fn with_jwks(mut self, jwks: Arc<dyn sts::web_identity::JwksSource>) -> Self {
        self.jwks = jwks;
        self
    }

    /// The same services, auditing into `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn audit::AuditSink>) -> Self {
        self.audit = audit;
        self
    }

    /// The same services, recording `LastAccessedDate`s in `accessed`.
    pub fn with_access_dates(mut self, accessed: Arc<secretsmanager::accessed::AccessDates>) -> Self {
        self.accessed = accessed;
        self
    }

    /// The same services, looking events up in `events`.
    pub fn with_events(mut self, events: Arc<dyn trail::EventIndex>) -> Self {
        self.events = events;
        self
    }
}

/// The services kinko speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    SecretsManager,
    Kms,
    Iam,
    Sts,
    Organizations,
    CloudTrail,
    Lambda,
    CloudFormation,
    /// kinko's own actions (workload attachments).
    Kinko,
}

impl ServiceName {
    /// The SigV4 service name (and IAM action prefix).
    pub fn signing_name(self) -> &'static str {
        match self {
            ServiceName::SecretsManager => <secretsmanager::SecretsManager as operation::Service>::PREFIX,
            ServiceName::Kms => <kms::Kms as operation::Service>::PREFIX,
            ServiceName::Iam => <iam::Iam as operation::Service>::PREFIX,
            ServiceName::Sts => <sts::Sts as operation::Service>::PREFIX,
            ServiceName::Organizations => <organizations::Organizations as operation::Service>::PREFIX,
            ServiceName::CloudTrail => <trail::CloudTrail as operation::Service>::PREFIX,
            ServiceName::Lambda => <lambda::Lambda as operation::Service>::PREFIX,
            ServiceName::CloudFormation => <cloudformation::CloudFormation as operation::Service>::PREFIX,
            ServiceName::Kinko => <kinko::Kinko as operation::Service>::PREFIX,
        }
    }

    /// The audit `eventSource`.
    pub fn event_source(self) -> &'static str {
        match self {
            ServiceName::SecretsManager => {
                <secretsmanager::SecretsManager as operation::Service>::EVENT_SOURCE
            }
            ServiceName::Kms => <kms::Kms as operation::Service>::EVENT_SOURCE,
            ServiceName::Iam => <iam::Iam as operation::Service>::EVENT_SOURCE,
            ServiceName::Sts => <sts::Sts as operation::Service>::EVENT_SOURCE,
            ServiceName::Organizations => <organizations::Organizations as operation::Service>::EVENT_SOURCE,
            ServiceName::CloudTrail => <trail::CloudTrail as operation::Service>::EVENT_SOURCE,
            ServiceName::Lambda => <lambda::Lambda as operation::Service>::EVENT_SOURCE,
            ServiceName::CloudFormation => {
                <cloudformation::CloudFormation as operation::Service>::EVENT_SOURCE
            }
            ServiceName::Kinko => <kinko::Kinko as operation::Service>::EVENT_SOURCE,
        }
    }

    /// What of the service's requests and answers its audit records leave out.
    pub fn cloudtrail(self) -> &'static cloudtrail::Shape {
        match self {
            ServiceName::SecretsManager => <secretsmanager::SecretsManager as operation::Service>::CLOUDTRAIL,
            ServiceName::Kms => <kms::Kms as operation::Service>::CLOUDTRAIL,
            ServiceName::Iam => <iam::Iam as operation::Service>::CLOUDTRAIL,
            ServiceName::Sts => <sts::Sts as operation::Service>::CLOUDTRAIL,
            ServiceName::Organizations => <organizations::Organizations as operation::Service>::CLOUDTRAIL,
            ServiceName::CloudTrail => <trail::CloudTrail as operation::Service>::CLOUDTRAIL,
            ServiceName::Lambda => <lambda::Lambda as operation::Service>::CLOUDTRAIL,
            ServiceName::CloudFormation => <cloudformation::CloudFormation as operation::Service>::CLOUDTRAIL,
            ServiceName::Kinko => <kinko::Kinko as operation::Service>::CLOUDTRAIL,
        }
    }
}

/// One authenticated call's input, as its protocol carries it.
#[derive(Clone, Copy)]
pub enum CallInput<'a> {
    /// A JSON 1.1 body.
    Json(&'a [u8]),
    /// Query-protocol parameters, or why they could not be read.
    Query(&'a Result<kinko_wire::query::Params, kinko_wire::WireError>),
    /// A REST-JSON request.
    Rest(&'a operation::RestRequest<'a>),
}

/// The one way into the services for every entry point: runs `operation` of `service` for the
/// authenticated caller of `rc` through the one operation contract, then records the call's audit
/// event (and those of the KMS calls made for the caller) whatever the outcome. `service` is
/// `None` when the request named none kinko speaks.
pub async fn call(
    services: &Services,
    rc: &RequestContext,
    service: Option<ServiceName>,
    operation: &str,
    input: CallInput<'_>,
) -> Result<Vec<u8>, kinko_wire::WireError> {
    let event_time = services.clock.now();
    // Fail closed: while audit records cannot be written, no call runs (nothing of it takes
    // effect and nothing is read); its record is still tried below, and when it is written the
    // trail has recovered.
    let ready = services.audit.ready();
    let result = match (service, input, &ready) {
        (_, _, Err(failed)) => Err(audit_failure(service, rc, failed)),
        (_, CallInput::Query(Err(e)), _) => Err(e.clone()),
        (Some(ServiceName::SecretsManager), CallInput::Json(body), _) => {
            secretsmanager::handle(services, rc, operation, body).await
        }
        (Some(ServiceName::Organizations), CallInput::Json(body), _) => {
            organizations::handle(services, rc, operation, body).await
        }
        (Some(ServiceName::CloudTrail), CallInput::Json(body), _) => {
            trail::handle(services, rc, operation, body).await
        }
        (Some(ServiceName::Kinko), CallInput::Json(body), _) => {
            kinko::handle(services, rc, operation, body).await
        }
        (Some(ServiceName::Lambda), CallInput::Rest(req), _) => {
            lambda::handle(services, rc, operation, req).await
        }
        (Some(ServiceName::Kms), CallInput::Json(body), _) => {
            kms::handle(services, rc, operation, body).await
        }
        (Some(ServiceName::Iam), CallInput::Query(Ok(p)), _) => {
            iam::handle(services, rc, p).await.map(String::into_bytes)
        }
        (Some(ServiceName::Sts), CallInput::Query(Ok(p)), _) => {
            sts::handle(services, rc, p).await.map(String::into_bytes)
        }
        (Some(ServiceName::CloudFormation), CallInput::Query(Ok(p)), _) => {
            cloudformation::handle(services, rc, p)
                .await
                .map(String::into_bytes)
        }
        _ => Err(kinko_wire::WireError::new(
            "InvalidAction",
            400,
            format!("The action {operation} is not valid for this web service."),
        )),
    };
    let mut event = audit::AuditEvent::of(
        rc,
        event_time,
        service.map_or("", ServiceName::event_source),
        operation,
    );
    if let Err(e) = &result {
        event.error_code = Some(e.code.to_owned());
        if e.status < 500 {
            event.error_message = Some(e.message.clone());
        }
    }
    if let (Some(service), Some(notes)) = (service, rc.audit_notes.take()) {
        describe_call(
            &mut event,
            service.cloudtrail(),
            &notes,
            input,
            result.as_deref().ok(),
        );
        if let Some(caller) = notes.caller {
            event.caller = caller;
        }
    }
    describe_accounts(&mut event);
    if let audit::Caller::AssumedRole { issuer, .. } | audit::Caller::FederatedUser { issuer, .. } =
        &mut event.caller
        && let Some(arn) = authz::session_issuer_arn(services, &rc.principal).await
    {
        issuer.arn = arn;
    }
    // The KMS calls made for the caller are recorded after the call's own record, as their own
    // events. The call is answered once they are durable; if they cannot be written, it fails with
    // its service's internal error, so no value is returned without its record.
    match services.audit.record(&event, &rc.kms_calls.take()).await {
        Ok(()) => result,
        Err(failed) => Err(audit_failure(service, rc, &failed)),
    }
}

/// The internal error of `service` for a call whose audit record cannot be written; the failure
/// itself goes to the log.
fn audit_failure(
    service: Option<ServiceName>,
    rc: &RequestContext,
    failed: &audit::AuditFailed,
) -> kinko_wire::WireError {
    tracing::error!(request_id = %rc.request_id, error = %failed, "call refused: its audit record cannot be written");
    use operation::ServiceError as _;
    let detail = failed.to_string();
    match service {
        Some(ServiceName::SecretsManager) => secretsmanager::SmError::internal(detail).to_wire(),
        Some(ServiceName::Kms) => kms::KmsError::internal(detail).to_wire(),
        Some(ServiceName::Iam) => iam::IamError::internal(detail).to_wire(),
        Some(ServiceName::Sts) => sts::StsError::internal(detail).to_wire(),
        Some(ServiceName::Organizations) => organizations::OrgError::internal(detail).to_wire(),
        Some(ServiceName::CloudTrail) => trail::TrailError::internal(detail).to_wire(),
        Some(ServiceName::Kinko) => kinko::KinkoError::internal(detail).to_wire(),
        Some(ServiceName::Lambda) => lambda::LambdaError::internal(detail).to_wire(),
        Some(ServiceName::CloudFormation) => cloudformation::CfnError::internal(detail).to_wire(),
        None => kinko_wire::WireError::new("InternalFailure", 500, "An internal error occurred."),
    }
}

/// Adds to `event` what the operation contract noted about the call, in CloudTrail's shape: its
/// `readOnly`, `requestParameters`, `resources`, and its `responseElements` when it succeeded with
/// an answer CloudTrail records.
fn describe_call(
    event: &mut audit::AuditEvent,
    shape: &cloudtrail::Shape,
    notes: &AuditNote,
    input: CallInput<'_>,
    answer: Option<&[u8]>,
) {
    event.read_only = Some(notes.read_only);
    event.request_parameters = match input {
        CallInput::Json(body) => cloudtrail::json_parameters(shape, body, notes.members, notes.defaults),
        CallInput::Query(Ok(params)) => cloudtrail::query_parameters(shape, params),
        CallInput::Query(Err(_)) => None,
        CallInput::Rest(req) => lambda::audit_parameters(shape, req, notes.members),
    };
    event.resources = Vec::with_capacity(notes.resources.len());
    for arn in &notes.resources {
        if let Some(r) = cloudtrail::resource(arn)
            && !event.resources.contains(&r)
        {
            event.resources.push(r);
        }
    }
    if let Some(body) = answer.filter(|_| notes.response_elements) {
        event.response_elements = match input {
            CallInput::Json(_) => cloudtrail::json_elements(shape, body),
            CallInput::Query(_) => cloudtrail::query_elements(shape, body),
            CallInput::Rest(_) => cloudtrail::json_elements(shape, body),
        };
    }
}

/// Sets who the record is for: the caller's account, or for a caller without one (a web identity)
/// the account of the first resource; and the other accounts owning a resource of the call, which
/// get a copy of it (CloudTrail's cross-account events).
fn describe_accounts(event: &mut audit::AuditEvent) {
    if event.recipient_account_id.is_none() {
        event.recipient_account_id = event
            .resources
            .iter()
            .map(|r| r.account_id.clone())
            .find(|a| organizations::is_account_id(a));
    }
    let Some(own) = event.account_id.as_deref() else {
        return;
    };
    for r in &event.resources {
        let account = r.account_id.as_str();
        // An account id, not `aws` (the account of AWS managed policies).
        if organizations::is_account_id(account)
            && account != own
            && !event.shared_with.iter().any(|a| a == account)
        {
            event.shared_with.push(account.to_owned());
        }
    }
}

/// One authenticated request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Principal,
    /// The region from the request's SigV4 credential scope.
    pub region: String,
    pub request_id: String,
    /// Set when the request was signed with temporary (STS) credentials.
    pub session: Option<Session>,
    /// When the caller of a request without temporary credentials proved an MFA code: a console
    /// sign-in with MFA, or the code an STS request carries, checked before it is authorized.
    /// Temporary credentials carry theirs in `session`.
    pub mfa_authenticated: Option<kinko_core::Timestamp>,
    /// The client's address (`aws:SourceIp`).
    pub source_ip: Option<std::net::IpAddr>,
    /// The access key the request was signed with (the audit record's `accessKeyId`).
    pub access_key_id: String,
    /// KMS calls another service made as the caller while serving this request, for the audit log.
    pub kms_calls: KmsCalls,
    /// The request's `User-Agent` header, for the audit log.
    pub user_agent: Option<String>,
    /// The TLS session the request came over, for the audit log; none over plain HTTP.
    pub tls_details: Option<audit::TlsDetails>,
    /// What the operation contract noted about the call for its audit record.
    pub audit_notes: AuditNotes,
    /// The status and headers of a REST answer.
    pub reply: operation::ReplyHead,
    /// The policy denials of the request's checks and what decided each, for the console to
    /// explain an AccessDenied to the principal who got it; never sent on the wire.
    pub denials: authz::DenialNote,
}

impl RequestContext {
    pub fn new(principal: Principal, region: &str, request_id: &str) -> Self {
        RequestContext {
            principal,
            region: region.to_owned(),
            request_id: request_id.to_owned(),
            session: None,
            mfa_authenticated: None,
            source_ip: None,
            access_key_id: String::new(),
            kms_calls: KmsCalls::default(),
            user_agent: None,
            tls_details: None,
            audit_notes: AuditNotes::default(),
            reply: operation::ReplyHead::default(),
            denials: authz::DenialNote::default(),
        }
    }
}

/// What [`operation::execute`] notes about the call it runs, for [`call`] to describe it in the
/// audit record: whether the action reads only, whether its answer is recorded, the members its
/// input has, and the resources it was authorized on. Only the task serving the request touches
/// it; a clone starts with a copy of the notes so far.
#[derive(Debug, Default)]
pub struct AuditNotes(std::sync::Mutex<Option<AuditNote>>);

/// The notes of one call.
#[derive(Debug, Clone)]
pub struct AuditNote {
    pub read_only: bool,
    pub response_elements: bool,
    /// The members of a JSON 1.1 input (only those are recorded); none for Query inputs.
    pub members: Option<&'static [&'static str]>,
    /// Members recorded with their default when the request leaves them out.
    pub defaults: &'static [(&'static str, &'static str)],
    /// The ARNs the authorization checks named, in order.
    pub resources: Vec<String>,
    /// Who the caller is, when the operation itself established it (the holder of the web
    /// identity token `AssumeRoleWithWebIdentity` verified).
    pub caller: Option<audit::Caller>,
}

impl AuditNotes {
    fn with<R>(&self, f: impl FnOnce(&mut Option<AuditNote>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    pub(crate) fn start(&self, note: AuditNote) {
        self.with(|n| *n = Some(note));
    }

    /// The resources of the latest authorization (a retried attempt replaces them).
    pub(crate) fn resources<'a>(&self, arns: impl Iterator<Item = &'a str>) {
        self.with(|n| {
            if let Some(n) = n {
                n.resources.clear();
                n.resources.extend(arns.map(str::to_owned));
            }
        });
    }

    /// The caller as the operation established it.
    pub(crate) fn caller(&self, caller: audit::Caller) {
        self.with(|n| {
            if let Some(n) = n {
                n.caller = Some(caller);
            }
        });
    }

    /// The notes so far, leaving none.
    pub fn take(&self) -> Option<AuditNote> {
        self.with(Option::take)
    }
}

impl Clone for AuditNotes {
    fn clone(&self) -> Self {
        AuditNotes(std::sync::Mutex::new(self.with(|n| n.clone())))
    }
}

/// The KMS calls [`kms::Via`] made while serving one request, oldest first. In AWS each is a
/// CloudTrail event of its own (`kms.amazonaws.com`, `invokedBy` the service), so the server writes
/// each as an audit record after the request's own.
///
/// Only the task serving the request touches the list, so its lock is never contended; an empty
/// list allocates nothing. A clone starts with a copy of the calls so far.
#[derive(Debug, Default)]
pub struct KmsCalls(std::sync::Mutex<Vec<KmsCall>>);

impl KmsCalls {
    pub(crate) fn push(&self, call: KmsCall) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(call);
    }

    /// The calls so far, leaving none.
    pub fn take(&self) -> Vec<KmsCall> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl Clone for KmsCalls {
    fn clone(&self) -> Self {
        let calls = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        KmsCalls(std::sync::Mutex::new(calls))
    }
}

/// What the audit record of one KMS call made for the caller says: the operation, the key, the
/// encryption context and how it ended. Never plaintext, data keys or ciphertext blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsCall {
    pub event_time: kinko_core::Timestamp,
    pub operation: KmsOperation,
    /// The service that called KMS for the caller (`userIdentity.invokedBy`), e.g.
    /// `secretsmanager.amazonaws.com`.
    pub invoked_by: &'static str,
    pub key_arn: String,
    pub encryption_context: kinko_crypto::blob::EncryptionContext,
    /// KMS's error code (`AccessDeniedException`, `DisabledException`, ...) when the call failed.
    pub error_code: Option<&'static str>,
    /// KMS's error message; none for internal failures, whose detail is only logged.
    pub error_message: Option<String>,
}

/// The KMS operations another service calls for its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsOperation {
    GenerateDataKey,
    Decrypt,
    Encrypt,
}

impl KmsOperation {
    /// The operation's name (the audit `eventName`).
    pub fn name(self) -> &'static str {
        match self {
            KmsOperation::GenerateDataKey => "GenerateDataKey",
            KmsOperation::Decrypt => "Decrypt",
            KmsOperation::Encrypt => "Encrypt",
        }
    }
}

/// What temporary credentials carry besides the principal: the claims of their session token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Credentials from `AssumeRole` (role session) or `GetSessionToken` (the user's own session).
    pub kind: SessionKind,
    /// Inline session policy documents; the session can do at most what these allow.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Session tags (`aws:PrincipalTag/*` for role sessions): the ones the session was given and
    /// the transitive ones it inherited from the session that assumed it.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The keys of `tags` that are transitive: the sessions this one assumes inherit those tags
    /// (IAM User Guide, "Chaining roles with session tags").
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// When the credentials were issued: `aws:TokenIssueTime`. A token sealed before the issue
    /// time was part of its claims reads as issued at the epoch, so a policy revoking the sessions
    /// issued before some time ends it too.
    #[serde(default = "issued_before_claimed")]
    pub issued: kinko_core::Timestamp,
    pub expiration: kinko_core::Timestamp,
    /// The source identity, set once along a role chain (`aws:SourceIdentity`).
    #[serde(default)]
    pub source_identity: Option<String>,
    /// When the caller proved an MFA device's code for these credentials (GetSessionToken or
    /// AssumeRole with `SerialNumber` and `TokenCode`): `aws:MultiFactorAuthPresent` is then
    /// `true` and `aws:MultiFactorAuthAge` counts from it.
    #[serde(default)]
    pub mfa_authenticated: Option<kinko_core::Timestamp>,
}

fn issued_before_claimed() -> kinko_core::Timestamp {
    kinko_core::Timestamp(0)
}

impl Session {
    /// Whether these credentials were issued with MFA.
    pub fn with_mfa(&self) -> bool {
        self.mfa_authenticated.is_some()
    }

    /// The session's tags that the sessions it assumes inherit.
    pub fn transitive_tags(&self) -> impl Iterator<Item = &(String, String)> {
        self.tags
            .iter()
            .filter(|(k, _)| self.transitive_tag_keys.iter().any(|t| same_tag_key(t, k)))
    }
}

/// Whether two tag keys are the same: STS and IAM compare tag keys case-insensitively.
pub fn same_tag_key(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionKind {
    AssumedRole,
    SessionToken,
    /// A federated user's (GetFederationToken): limited by its session policies, and with none
    /// it has no permissions.
    FederationToken,
}
