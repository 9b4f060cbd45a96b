//! The one operation contract every service implements, and the one [`execute`] that runs it.
//!
//! An operation of any service (Secrets Manager, KMS, IAM, STS, Organizations) says:
//!
//! - its name ([`Operation::NAME`], the `X-Amz-Target` suffix or the Query `Action`, and with the
//!   service's prefix its IAM action `<service>:<NAME>`);
//! - its typed input, read from the request by the service's protocol ([`FromRequest`]: JSON 1.1
//!   through serde, Query through the service's parameter reader), and its model checks
//!   ([`Operation::validate`]);
//! - what it works on ([`Operation::resolve`]: the secret, key, IAM state or role it names);
//! - what it is authorized on ([`Operation::authorization`]): the action(s), resource(s), resource
//!   policy, tags and condition keys. It has no default, so an operation that does not declare it
//!   does not compile, and [`Authorization`] can't be built empty;
//! - its work ([`Operation::run`]), and its output ([`IntoResponse`]).
//!
//! [`execute`] owns everything else, in this order, for every operation of every service: the
//! request-level access rules, decode, validate, then — in one attempt per optimistic-concurrency
//! retry — resolve, authorize and run; then encode. A lost race ([`ServiceError::is_conflict`])
//! re-runs the attempt from a fresh read. [`finish`] is the one tail that logs internal failures
//! and turns a service error into its wire form, and [`crate::call`] adds the audit record.
//!
//! Each service is a marker type implementing [`Service`]: its action prefix, audit event source,
//! protocol and error type. The error type knows its AWS code and HTTP status ([`ServiceError`]).

use std::future::Future;

use kinko_core::store::StoreError;
use kinko_wire::WireError;
use kinko_wire::query::{Params, Xml, xml_escape};

use crate::authz::{self, AuthzError, Check, Refusal};
use crate::{RequestContext, Services};

/// How long an operation whose write keeps losing optimistic-concurrency races is retried before
/// it fails with the service's internal error. A count of attempts is not a bound that holds: with
/// several writers on one secret through several nodes, a loaded machine makes each read-compute-write
/// window long and a writer can lose many rounds in a row; a time budget lets it keep its turn in the
/// draw (each round it wins with a fair share) while a request still ends in bounded time.
pub const CONFLICT_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// A wire protocol: what a request's input is read from.
pub trait Protocol: Send + Sync + 'static {
    /// The request as the protocol hands it to an input decoder.
    type Raw<'a>: Copy + Send + Sync;
}

/// AWS JSON 1.1: the body is a JSON object.
pub struct Json;

impl Protocol for Json {
    type Raw<'a> = &'a [u8];
}

/// The Query protocol: form-encoded parameters, XML answers.
pub struct Query;

impl Protocol for Query {
    type Raw<'a> = &'a Params;
}

/// REST-JSON (Lambda): the operation and its path labels come from the method and path, members
/// from the path, the query string, headers and the JSON body (or the raw body, for a payload).
pub struct RestJson;

impl Protocol for RestJson {
    type Raw<'a> = &'a RestRequest<'a>;
}

/// One REST-JSON request, as its service's router read it.
#[derive(Debug, Clone)]
pub struct RestRequest<'a> {
    /// The members the path, query string and headers carry, by model name, as the router read
    /// them (percent-decoded; a repeated query parameter is a list).
    pub members: Vec<(&'static str, serde_json::Value)>,
    /// Whether the body is the operation's raw payload (Invoke) rather than a JSON object of
    /// members; it is then the `Payload` member.
    pub raw_body: bool,
    pub body: &'a [u8],
}

/// What a REST answer puts besides its body: the status and headers, which the HTTP layer takes
/// from the request's context once the operation has answered.
#[derive(Debug, Default)]
pub struct ReplyHead(std::sync::Mutex<Option<Head>>);

/// A REST answer's status and headers.
pub type Head = (u16, Vec<(&'static str, String)>);

impl ReplyHead {
    pub fn set(&self, status: u16, headers: Vec<(&'static str, String)>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((status, headers));
    }

    /// The status and headers set, leaving none.
    pub fn take(&self) -> Option<Head> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl Clone for ReplyHead {
    fn clone(&self) -> Self {
        ReplyHead(std::sync::Mutex::new(
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        ))
    }
}

/// The raw request of a service's protocol.
pub type Raw<'a, S> = <<S as Service>::Protocol as Protocol>::Raw<'a>;

/// The error type of an operation's service.
pub type Err<O> = <<O as Operation>::Service as Service>::Error;

/// One AWS service.
pub trait Service: Send + Sync + 'static {
    /// The IAM action prefix (`secretsmanager`, `kms`, `iam`, `sts`, `organizations`).
    const PREFIX: &'static str;
    /// The audit records' `eventSource`.
    const EVENT_SOURCE: &'static str;
    /// What of the service's requests and answers its audit records leave out or mask.
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape;
    type Protocol: Protocol;
    type Error: ServiceError;
}

/// A service's error: it knows its AWS code, HTTP status and message.
pub trait ServiceError:
    std::fmt::Debug + Send + Sync + Sized + From<StoreError> + From<AuthzError> + 'static
{
    /// The service's AccessDenied, with AWS's message.
    fn access_denied(message: String) -> Self;
    /// A request refused by a named access rule of [`crate::authz::rules`].
    fn refused(refusal: Refusal) -> Self;
    /// An internal failure: `detail` is logged, never sent.
    fn internal(detail: String) -> Self;
    /// The input could not be read at all (not JSON, a member of the wrong type).
    fn serialization(message: String) -> Self;
    /// A concurrent change won: [`execute`] retries the attempt.
    fn is_conflict(&self) -> bool;
    /// The detail of an internal failure, for the log.
    fn internal_detail(&self) -> Option<&str>;
    fn to_wire(&self) -> WireError;
}

/// Converts an [`AuthzError`] into a service error: a denial into its AccessDenied, a rule's
/// refusal into the error the service answers it with, and a storage failure into an internal
/// error (never an AccessDenied).
pub fn authz_error<E: ServiceError>(e: AuthzError) -> E {
    match e {
        AuthzError::Denied(d) => E::access_denied(d.message),
        AuthzError::Refused(r) => E::refused(r),
        AuthzError::Store(e) => E::internal(format!("authorization lookup failed: {e}")),
    }
}

/// Reads an operation's typed input from the request, as its service's protocol encodes it.
pub trait FromRequest<S: Service>: Sized + Send + Sync {
    fn from_request(raw: Raw<'_, S>) -> Result<Self, S::Error>;

    /// The members the input reads from a JSON 1.1 body (the audit record's `requestParameters`
    /// keep only those); none when every parameter is kept (Query inputs).
    fn members() -> Option<&'static [&'static str]> {
        None
    }
}

/// Writes an operation's output as its service's protocol encodes it.
pub trait IntoResponse<S: Service>: Send {
    fn into_response(self, cx: &Cx<'_>) -> Result<Vec<u8>, S::Error>;
}

/// Implements [`FromRequest`] and [`IntoResponse`] through serde for a JSON 1.1 service.
macro_rules! json_service {
    ($service:ty) => {
        impl<T: serde::de::DeserializeOwned + Send + Sync> $crate::operation::FromRequest<$service> for T {
            fn from_request(raw: &[u8]) -> Result<Self, <$service as $crate::operation::Service>::Error> {
                $crate::operation::decode_json(raw).map_err(
                    <<$service as $crate::operation::Service>::Error as $crate::operation::ServiceError>::serialization,
                )
            }

            fn members() -> Option<&'static [&'static str]> {
                $crate::cloudtrail::struct_members::<T>()
            }
        }

        impl<T: serde::Serialize + Send> $crate::operation::IntoResponse<$service> for T {
            fn into_response(
                self,
                _: &$crate::operation::Cx<'_>,
            ) -> Result<Vec<u8>, <$service as $crate::operation::Service>::Error> {
                serde_json::to_vec(&self).map_err(|e| {
                    <<$service as $crate::operation::Service>::Error as $crate::operation::ServiceError>::internal(
                        e.to_string(),
                    )
                })
            }
        }
    };
}
pub(crate) use json_service;

/// A Query-protocol service (IAM, STS): its XML namespace.
pub trait QueryService: Service<Protocol = Query> {
    const XMLNS: &'static str;
}

/// A Query-protocol answer: the content of the `<ActionResult>` element, or no result element.
pub enum QueryReply {
    Result(Xml),
    Empty,
}

impl<S: QueryService> IntoResponse<S> for QueryReply {
    fn into_response(self, cx: &Cx<'_>) -> Result<Vec<u8>, S::Error> {
        Ok(match self {
            QueryReply::Result(x) => x.finish(cx.operation, &cx.rc.request_id),
            QueryReply::Empty => format!(
                "<{a}Response xmlns=\"{xmlns}\"><ResponseMetadata><RequestId>{id}</RequestId></ResponseMetadata></{a}Response>",
                a = cx.operation,
                xmlns = S::XMLNS,
                id = xml_escape(&cx.rc.request_id)
            ),
        }
        .into_bytes())
    }
}

/// Reads a JSON 1.1 body (an empty body is `{}`), with the message AWS's JSON services answer a
/// body that doesn't parse or doesn't match the model.
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            "Failed to deserialize the request: a member has the wrong type or an invalid value.".into()
        } else {
            "Failed to parse the request body as a JSON object.".into()
        }
    })
}

/// What an operation runs with: the services, the authenticated request, and which operation and
/// action this is. The one context of every service.
pub struct Cx<'a> {
    pub services: &'a Services,
    pub rc: &'a RequestContext,
    /// The operation's name (`GetSecretValue`, `CreateUser`).
    pub operation: &'a str,
    /// Its IAM action (`secretsmanager:GetSecretValue`).
    pub action: &'a str,
}

impl<'a> Cx<'a> {
    pub fn new(services: &'a Services, rc: &'a RequestContext, operation: &'a str, action: &'a str) -> Self {
        Cx {
            services,
            rc,
            operation,
            action,
        }
    }

    /// The caller's account.
    pub fn account(&self) -> &'a str {
        &self.rc.principal.account_id
    }

    /// The request's region.
    pub fn region(&self) -> &'a str {
        &self.rc.region
    }

    pub fn now(&self) -> kinko_core::Timestamp {
        self.services.clock.now()
    }

    /// The `<ActionResponse>` of this operation, for a Query-protocol service.
    pub fn xml<S: QueryService>(&self) -> Xml {
        Xml::response(self.operation, S::XMLNS)
    }

    /// Authorizes one more check through the one authorization path (a batch's per-item checks,
    /// the tags a create sets, the KMS calls a service makes for its caller).
    pub async fn authorize(&self, check: &Check<'_>) -> Result<(), AuthzError> {
        authz::check(self.services, self.rc, check).await
    }
}

/// What a request is authorized on: one or more checks, all of which must allow. Never empty.
#[derive(Debug)]
pub struct Authorization<'a> {
    checks: Vec<Check<'a>>,
    /// Set by [`Authorization::no_permission_needed`]: the documented reason.
    unchecked: Option<&'static str>,
}

impl<'a> Authorization<'a> {
    /// One check.
    pub fn of(check: Check<'a>) -> Self {
        Authorization {
            checks: vec![check],
            unchecked: None,
        }
    }

    /// Another check that must allow too.
    pub fn and(mut self, check: Check<'a>) -> Self {
        self.checks.push(check);
        self
    }

    /// An action AWS lets every authenticated caller perform (STS `GetCallerIdentity`): `why`
    /// names the AWS documentation that says so.
    pub fn no_permission_needed(why: &'static str) -> Self {
        Authorization {
            checks: Vec::new(),
            unchecked: Some(why),
        }
    }

    pub fn checks(&self) -> &[Check<'a>] {
        &self.checks
    }

    /// The resource ARNs the checks name (the audit record's `resources`).
    pub fn resources(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().filter_map(|c| c.resource.arn())
    }

    /// Whether this authorization checks nothing, and why.
    pub fn unchecked(&self) -> Option<&'static str> {
        self.unchecked
    }
}

/// One operation of one service.
pub trait Operation: Send + Sync + 'static {
    type Service: Service;
    /// The operation name (`GetSecretValue`); the action is `<Service::PREFIX>:<NAME>`.
    const NAME: &'static str;
    type Input: FromRequest<Self::Service>;
    type Output: IntoResponse<Self::Service>;
    /// What [`Operation::resolve`] found, handed to [`Operation::authorization`] and
    /// [`Operation::run`].
    type Resolved: Send + Sync;
    /// Whether the action only reads (the audit record's `readOnly`, as CloudTrail marks it): by
    /// default the actions named `Get*`, `List*` and `Describe*`; an operation that reads under
    /// another name (KMS `Decrypt`, STS `AssumeRole`) says so.
    const READ_ONLY: bool = crate::cloudtrail::read_only(Self::NAME);
    /// Whether the audit record holds the answer (`responseElements`). CloudTrail records the
    /// answer of the actions that change something, and of a read-only one only where it says
    /// so (the credentials STS issues, without their secrets): never a value read (a secret's,
    /// a plaintext) or a listing.
    const RESPONSE_ELEMENTS: bool = !Self::READ_ONLY;
    /// Members the audit record's `requestParameters` show with the value the operation uses
    /// when the request leaves them out, as CloudTrail does (KMS's `EncryptionAlgorithm`).
    const DEFAULT_PARAMETERS: &'static [(&'static str, &'static str)] = &[];

    /// Model constraints and the checks AWS makes before looking anything up.
    fn validate(_input: &Self::Input) -> Result<(), Err<Self>> {
        Ok(())
    }

    /// Looks up what the request names (reads only: nothing is changed before authorization).
    fn resolve(
        cx: &Cx<'_>,
        input: &Self::Input,
    ) -> impl Future<Output = Result<Self::Resolved, Err<Self>>> + Send;

    /// What the request is authorized on. Authorization comes before any not-found, so a
    /// caller without permission can't probe for names.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        input: &'a Self::Input,
        resolved: &'a Self::Resolved,
    ) -> Result<Authorization<'a>, Err<Self>>;

    /// The work, in one store transaction; a `Conflict` makes [`execute`] retry from `resolve`.
    fn run(
        cx: &Cx<'_>,
        input: &Self::Input,
        resolved: Self::Resolved,
    ) -> impl Future<Output = Result<Self::Output, Err<Self>>> + Send;
}

/// Runs one operation: request rules, decode, validate, then resolve → authorize → run (retried on
/// conflict), then encode. Returns the response body.
pub async fn execute<O: Operation>(
    services: &Services,
    rc: &RequestContext,
    raw: Raw<'_, O::Service>,
) -> Result<Vec<u8>, Err<O>> {
    let action = format!("{}:{}", <O::Service as Service>::PREFIX, O::NAME);
    let cx = Cx::new(services, rc, O::NAME, &action);
    rc.audit_notes.start(crate::AuditNote {
        read_only: O::READ_ONLY,
        response_elements: O::RESPONSE_ELEMENTS,
        members: <O::Input as FromRequest<O::Service>>::members(),
        defaults: O::DEFAULT_PARAMETERS,
        resources: Vec::new(),
        caller: None,
    });
    authz::rules::request(rc, <O::Service as Service>::PREFIX, O::NAME).map_err(Err::<O>::refused)?;
    let input = <O::Input as FromRequest<O::Service>>::from_request(raw)?;
    O::validate(&input)?;
    let started = std::time::Instant::now();
    for attempt in 0.. {
        if attempt > 0 {
            if started.elapsed() >= CONFLICT_RETRY_BUDGET {
                break;
            }
            conflict_backoff(attempt).await;
        }
        let resolved = O::resolve(&cx, &input).await?;
        {
            let authorization = O::authorization(&cx, &input, &resolved)?;
            rc.audit_notes.resources(authorization.resources());
            for check in authorization.checks() {
                cx.authorize(check).await?;
            }
        }
        match O::run(&cx, &input, resolved).await {
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
            Ok(out) => return out.into_response(&cx),
        }
    }
    Err(Err::<O>::internal(
        "too many conflicting concurrent changes".into(),
    ))
}

/// Waits before retry number `attempt` after a conflict: a random time up to 1 ms, doubling with
/// each attempt up to 128 ms. Writers that collided (on several nodes, each read, compute and write
/// take a database round trip or more) then retry at different moments instead of colliding again
/// in lockstep until their attempts run out.
async fn conflict_backoff(attempt: usize) {
    let cap_us: u64 = 1_000u64 << attempt.min(7);
    let wait = rand::random_range(0..=cap_us);
    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
}

/// The one tail: logs an internal failure with the request id and turns the error into its wire
/// form (internal failures carry only the service's generic message).
pub fn finish<E: ServiceError>(
    rc: &RequestContext,
    operation: &str,
    result: Result<Vec<u8>, E>,
) -> Result<Vec<u8>, WireError> {
    result.map_err(|e| {
        if let Some(detail) = e.internal_detail() {
            tracing::error!(request_id = %rc.request_id, operation, detail = %detail, "internal error");
        }
        e.to_wire()
    })
}
