//! The single authorization path every operation of every service goes through.
//!
//! [`check`] decides one [`Check`]: first the named access rules of [`rules`] that hold whatever
//! the policies say (root may not assume roles, ...), then the policies — the caller's
//! identity-based policies (a user's inline, attached and group policies, or a role's), its
//! permissions boundary, the session policies of temporary credentials, the resource's policy
//! (secret policy, role trust policy, key policy) and the condition keys — through the pure
//! evaluator in `kinko-policy`, then the rules that only apply once the policies allow. No
//! operation decides access on its own.
//!
//! Principals are bound by unique id, as IAM binds them: a user's or role session's policies are
//! those of the user or role with the id the credentials were issued for (a user or role
//! re-created under the same name gives nothing to old credentials), and the users and roles a
//! resource policy names are bound to their ids when it is saved ([`bind_principals`]).
//!
//! Every check is evaluated in the request context AWS builds for it ([`request_context`]): the
//! principal's keys, the time, and the global keys of the request itself.
//!
//! Parsed policies are cached per principal, unique id and IAM revision: any IAM change bumps the
//! account's revision, so a detached policy stops granting on the very next request. A storage failure while
//! gathering policies is an internal error ([`AuthzError::Store`]), never a denial.

pub mod rules;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kinko_core::iam::IamState;
use kinko_core::principal::{BoundPrincipal, Principal, PrincipalKind};
use kinko_core::secret::Tag;
use kinko_core::store::StoreError;
use kinko_policy::{ConditionContext, PolicyKind, PolicySet, PrincipalCtx, RequestKeys};

pub use kinko_policy::ImplicitDenyReason;
pub use rules::Refusal;

use crate::{RequestContext, Services, SessionKind};

/// Why a request was denied: AWS's AccessDenied message, and which policy decided.
///
/// Only `message` goes on the wire. `why` names the policy and statement that decided (never its
/// document); AWS never reveals those through the API, because they may be policies the caller
/// cannot read. The console shows it to the signed-in principal about their own request (see
/// [`DenialNote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub message: String,
    /// `None` for the checks made for an identity provider or an AWS service.
    pub why: Option<Box<Why>>,
}

/// The user, group or role an inline policy is embedded in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    User(String),
    Group(String),
    Role(String),
}

/// A policy, as IAM identifies it: what a denial names as the policy that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A managed policy (customer or AWS managed) attached to the user or role, or to the user's
    /// group `via_group`.
    Managed { arn: String, via_group: Option<String> },
    /// An inline policy of a user, group or role.
    Inline { owner: Owner, policy_name: String },
    /// The permission to change one's own password the account password policy grants.
    PasswordPolicy,
    /// The resource's resource-based policy (a secret's, a function's).
    ResourcePolicy,
    /// The KMS key's key policy.
    KeyPolicy,
    /// The role's trust policy.
    TrustPolicy,
    /// The caller's permissions boundary (a managed policy).
    PermissionsBoundary { arn: String },
    /// A session policy of the caller's role session, by its position (the inline `Policy`
    /// first, then the `PolicyArns` in order).
    SessionPolicy { index: usize },
}

/// Which policy decided a denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// An applicable `Deny` statement: its policy, its index in the policy's `Statement` list
    /// (from 0) and its `Sid`.
    ExplicitDeny {
        policy: PolicySource,
        statement_index: usize,
        sid: Option<String>,
    },
    /// No applicable `Allow` in the type of policy `missing` names; `policy` is that policy when
    /// it is a single one (the boundary, the resource's policy).
    ImplicitDeny {
        missing: kinko_policy::ImplicitDenyReason,
        policy: Option<PolicySource>,
    },
}

/// The explanation of one denied check: the action and resource it was about, and what decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub action: String,
    /// The resource as the AccessDenied message names it; `None` for actions without one.
    pub resource: Option<String>,
    pub decided: Decided,
}

/// The policy denials of one request, for the console: [`check`] notes each one here; the API
/// answers only the message and never reads this. A console action runs as the signed-in
/// principal, so what it shows is always about the principal's own request.
///
/// Only the task serving the request touches it. A clone starts with a copy of the denials.
#[derive(Debug, Default)]
pub struct DenialNote(Mutex<Vec<Denied>>);

/// Denials kept per request: a batch denies at most a few dozen checks.
const DENIALS_KEPT: usize = 64;

impl DenialNote {
    fn record(&self, denied: &Denied) {
        let mut v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if v.len() < DENIALS_KEPT {
            v.push(denied.clone());
        }
    }

    /// What decided the AccessDenied answer `message`: the denial with that message, or else the
    /// last one (a service that words a denied check in its own text, as Secrets Manager words a
    /// denied `kms:Decrypt` "Access to KMS is not allowed"). `None` when no policy denied a check
    /// of the request (a named access rule refused it).
    pub fn explain(&self, message: &str) -> Option<Why> {
        let v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        v.iter()
            .rev()
            .find(|d| d.message == message)
            .or_else(|| v.last())
            .and_then(|d| d.why.as_deref().cloned())
    }
}

impl Clone for DenialNote {
    fn clone(&self) -> Self {
        let v = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        DenialNote(Mutex::new(v))
    }
}

/// How an authorization failed.
#[derive(Debug)]
pub enum AuthzError {
    /// The policies don't allow it: AWS's AccessDenied message.
    Denied(Denied),
    /// A named access rule refused it.
    Refused(Refusal),
    /// The policies could not be read: an internal error, never an AccessDenied.
    Store(StoreError),
}

impl From<StoreError> for AuthzError {
    fn from(e: StoreError) -> Self {
        AuthzError::Store(e)
    }
}

/// The resource a request acts on: an ARN, the identifier as the caller passed it when it resolves
/// to nothing, or no resource (`"*"`) for actions like ListSecrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Arn {
        arn: &'a str,
        account_id: &'a str,
    },
    Unresolved(&'a str),
    Any,
    /// A KMS ciphertext whose key doesn't exist in this region (or at all).
    UnknownCiphertextKey,
}

impl<'a> Resource<'a> {
    /// The ARN, when the resource has one.
    pub fn arn(&self) -> Option<&'a str> {
        match self {
            Resource::Arn { arn, .. } => Some(arn),
            _ => None,
        }
    }

    /// A resource named by ARN: its account is the ARN's.
    pub fn of_arn(arn: &'a str) -> Self {
        Resource::Arn {
            arn,
            account_id: kinko_core::arn::Arn::parse(arn)
                .map(|a| a.account_id)
                .unwrap_or_default(),
        }
    }
}

/// A saved resource-based policy and the principals it names, bound to their unique ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound<'a> {
    pub document: &'a str,
    pub principals: &'a [BoundPrincipal],
}

/// A policy attached to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcePolicy<'a> {
    /// A resource-based policy (a secret's): may grant on its own within the account.
    Resource(Bound<'a>),
    /// A role trust policy (for `sts:AssumeRole`).
    Trust(Bound<'a>),
    /// A KMS key policy: required, IAM policies only count where it delegates to the account.
    Key(Bound<'a>),
}

/// What a secret, key or IAM entity contributes: its tags (`aws:ResourceTag/*`, and
/// `<service>:ResourceTag/*` when `service` is set).
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceTags<'a> {
    pub service: Option<&'a str>,
    pub tags: &'a [Tag],
}

/// Facts about the resource that the named access rules of [`rules`] look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts<'a> {
    /// KMS: the key is AWS managed (customers may not manage it).
    pub aws_managed_key: bool,
    /// Secrets Manager: the secret is encrypted under the AWS managed `aws/secretsmanager` key.
    pub secret_under_default_key: bool,
    /// Organizations: the organization's management account (`None`: no organization yet).
    pub management_account: Option<&'a str>,
}

/// One authorization question.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    pub action: &'a str,
    pub resource: Resource<'a>,
    pub resource_policy: Option<ResourcePolicy<'a>>,
    pub resource_tags: ResourceTags<'a>,
    /// Service condition keys (`secretsmanager:VersionStage`, `sts:ExternalId`, ...); a key given
    /// twice has two values.
    pub context: Vec<(&'a str, Cow<'a, str>)>,
    /// Tags the request would set (`aws:RequestTag/*`, `aws:TagKeys`).
    pub request_tags: Cow<'a, [(String, String)]>,
    pub facts: Facts<'a>,
    /// The service that makes this request with the caller's credentials (a forward access
    /// session: `secretsmanager.amazonaws.com` for the KMS calls Secrets Manager makes), or `None`
    /// for the caller's own request.
    pub called_via: Option<&'a str>,
    /// How an AccessDenied message names the resource, when not by what it is evaluated on: a
    /// secret as the caller named it, so the message is the same whether or not it exists.
    pub shown_as: Option<&'a str>,
    /// `sts:AssumeRoleWithWebIdentity` and `sts:AssumeRoleWithSAML`: the ARN of the identity
    /// provider whose verified token or assertion the request carries. The check is made for that
    /// provider as the principal (a `Federated` principal of the role's trust policy), whoever
    /// signed the request, if anyone did.
    pub federated: Option<&'a str>,
    /// Asked by an AWS service principal (`ec2.amazonaws.com` assuming an instance profile's
    /// role): the check is made for that service as the principal, by the resource policy alone
    /// (a role's trust policy naming it as a `Service` principal), whoever else is involved.
    pub service_principal: Option<&'a str>,
    /// When the request itself proved an MFA code (STS `GetSessionToken` or `AssumeRole` with
    /// `SerialNumber` and `TokenCode`, checked before authorization): the check then sees
    /// `aws:MultiFactorAuthPresent` `true`, as AWS evaluates such a call.
    pub mfa_proved: Option<kinko_core::Timestamp>,
    /// KMS: the key's grants, each one more source of allow alongside the key policy.
    pub grants: KeyGrants<'a>,
}

/// The grants a KMS key check counts, read as key policy statements naming their grantees
/// ([`kinko_core::kms::KmsGrant::statements`]); `retiring` adds RetireGrant for each one's
/// retiring principal (the check of RetireGrant on that one grant).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyGrants<'a> {
    pub grants: &'a [kinko_core::kms::KmsGrant],
    pub retiring: bool,
}

impl<'a> Check<'a> {
    pub fn new(action: &'a str, resource: Resource<'a>) -> Self {
        Check {
            action,
            resource,
            resource_policy: None,
            resource_tags: ResourceTags::default(),
            context: Vec::new(),
            request_tags: Cow::Borrowed(&[]),
            facts: Facts::default(),
            called_via: None,
            shown_as: None,
            federated: None,
            service_principal: None,
            mfa_proved: None,
            grants: KeyGrants::default(),
        }
    }

    /// Counts these grants of the key (see [`KeyGrants`]).
    pub fn grants(mut self, grants: KeyGrants<'a>) -> Self {
        self.grants = grants;
        self
    }

    /// The request proved an MFA code at `at` (see [`Check::mfa_proved`]).
    pub fn mfa_proved(mut self, at: Option<kinko_core::Timestamp>) -> Self {
        self.mfa_proved = at.or(self.mfa_proved);
        self
    }

    /// Names the resource in an AccessDenied message as `shown` (see [`Check::shown_as`]).
    pub fn shown_as(mut self, shown: &'a str) -> Self {
        self.shown_as = Some(shown);
        self
    }

    pub fn policy(mut self, policy: ResourcePolicy<'a>) -> Self {
        self.resource_policy = Some(policy);
        self
    }

    pub fn tags(mut self, service: Option<&'a str>, tags: &'a [Tag]) -> Self {
        self.resource_tags = ResourceTags { service, tags };
        self
    }

    /// Adds a condition key's value.
    pub fn condition(mut self, key: &'a str, value: impl Into<Cow<'a, str>>) -> Self {
        self.context.push((key, value.into()));
        self
    }

    /// Adds a condition key's value when there is one.
    pub fn condition_opt(self, key: &'a str, value: Option<impl Into<Cow<'a, str>>>) -> Self {
        match value {
            Some(v) => self.condition(key, v),
            None => self,
        }
    }

    pub fn request_tags(mut self, tags: impl Into<Cow<'a, [(String, String)]>>) -> Self {
        self.request_tags = tags.into();
        self
    }

    pub fn facts(mut self, facts: Facts<'a>) -> Self {
        self.facts = facts;
        self
    }

    /// Made by `service` (its service principal) with the caller's credentials.
    pub fn called_via(mut self, service: &'a str) -> Self {
        self.called_via = Some(service);
        self
    }

    /// Asked by the service principal `service` (see [`Check::service_principal`]).
    pub fn service_principal(mut self, service: &'a str) -> Self {
        self.service_principal = Some(service);
        self
    }

    /// Asked for the identity provider `provider_arn`, whose token or assertion the request
    /// carries.
    pub fn federated(mut self, provider_arn: &'a str) -> Self {
        self.federated = Some(provider_arn);
        self
    }
}

/// The caller's identity-based policies, parsed, each with what it is.
pub(crate) struct PrincipalPolicies {
    ctx: PrincipalCtx,
    identity: Vec<(PolicySource, Arc<kinko_policy::Policy>)>,
    /// The permissions boundary and its ARN.
    boundary: Option<(String, Arc<kinko_policy::Policy>)>,
    /// False when the user or role the credentials were issued for no longer exists (deleted, or
    /// re-created under the same name with a new unique id): nothing grants then.
    exists: bool,
}

/// A parsed document, or `None` when it doesn't parse (it then grants nothing).
type ParsedDocument = Option<Arc<kinko_policy::Policy>>;

/// A document's parses: one per kind it was used as, and the bound parses of resource policies.
#[derive(Default)]
struct DocumentEntry {
    by_kind: [Option<ParsedDocument>; PolicyKindKey::COUNT],
    bound: Vec<(PolicyKindKey, Vec<BoundPrincipal>, ParsedDocument)>,
}

/// A principal's cached policies: the IAM revision and unique id they were built for.
type CachedPrincipal = (i64, String, Arc<PrincipalPolicies>);

/// The unique ids cached per principal ARN. Sessions of a role deleted and created again share an
/// ARN with the new role's sessions (the same role and session names); each id keeps its own
/// entry, so neither evicts the other on every request.
const IDS_PER_ARN: usize = 4;

/// Caches parsed policies: per principal (with the IAM revision and unique id they were built
/// for) and per document. Both are looked up by `&str` on every request, without allocating a key.
#[derive(Default)]
pub struct PolicyCache {
    /// Principal ARN → (IAM revision, unique id, policies) per unique id, the latest last; only
    /// the entry of the request's unique id counts, and only at the current revision.
    principals: Mutex<HashMap<String, Vec<CachedPrincipal>>>,
    documents: Mutex<HashMap<Box<str>, DocumentEntry>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PolicyKindKey {
    Identity,
    Resource,
    Trust,
    Boundary,
    Session,
    Key,
}

const MAX_CACHED: usize = 10_000;

impl PolicyKindKey {
    const COUNT: usize = 6;

    fn index(self) -> usize {
        match self {
            PolicyKindKey::Identity => 0,
            PolicyKindKey::Resource => 1,
            PolicyKindKey::Trust => 2,
            PolicyKindKey::Boundary => 3,
            PolicyKindKey::Session => 4,
            PolicyKindKey::Key => 5,
        }
    }

    fn kind(self) -> PolicyKind {
        match self {
            PolicyKindKey::Identity => PolicyKind::Identity,
            PolicyKindKey::Resource => PolicyKind::Resource,
            PolicyKindKey::Trust => PolicyKind::Trust,
            PolicyKindKey::Boundary => PolicyKind::Boundary,
            PolicyKindKey::Session => PolicyKind::Session,
            PolicyKindKey::Key => PolicyKind::KeyPolicy,
        }
    }
}

impl PolicyCache {
    /// A parsed policy; `None` when the stored document doesn't parse (it then grants nothing).
    fn parsed(&self, kind: PolicyKindKey, doc: &str) -> ParsedDocument {
        self.parsed_bound(kind, doc, &[])
    }

    /// A parsed resource policy with its principals bound to their unique ids.
    fn parsed_bound(&self, kind: PolicyKindKey, doc: &str, bound: &[BoundPrincipal]) -> ParsedDocument {
        let i = kind.index();
        if let Some(p) = self.documents.lock().ok().and_then(|m| {
            let e = m.get(doc)?;
            if bound.is_empty() {
                e.by_kind[i].clone()
            } else {
                e.bound
                    .iter()
                    .find(|(k, b, _)| *k == kind && b.as_slice() == bound)
                    .map(|(_, _, p)| p.clone())
            }
        }) {
            return p;
        }
        let parsed = kinko_policy::Policy::parse(doc, kind.kind()).ok().map(|mut p| {
            if !bound.is_empty() {
                p.bind_principals(|arn| bound.iter().find(|b| b.arn == arn).map(|b| b.id.as_str()));
            }
            Arc::new(p)
        });
        if let Ok(mut m) = self.documents.lock() {
            if m.len() >= MAX_CACHED && !m.contains_key(doc) {
                m.clear();
            }
            let e = m.entry(doc.into()).or_default();
            if bound.is_empty() {
                e.by_kind[i] = Some(parsed.clone());
            } else {
                if e.bound.len() >= 8 {
                    e.bound.clear();
                }
                e.bound.push((kind, bound.to_vec(), parsed.clone()));
            }
        }
        parsed
    }
}

/// Built-in AWS managed policies the evaluator knows (`arn:aws:iam::aws:policy/...`).
fn aws_managed_document(arn: &str) -> Option<String> {
    kinko_core::aws_managed_policies::aws_managed_policy(arn)
        .and_then(|p| p.default_document().map(str::to_owned))
}

/// The default-version document of a managed policy (customer managed in `account`, or AWS managed).
pub async fn managed_policy_document(
    services: &Services,
    account: &str,
    arn: &str,
) -> Result<Option<String>, StoreError> {
    if arn.starts_with("arn:aws:iam::aws:policy/") {
        return Ok(aws_managed_document(arn));
    }
    let iam = services.store.iam_state(account).await?;
    Ok(iam
        .policy(arn)
        .and_then(|p| p.default_document().map(str::to_owned)))
}

fn managed_doc(iam: &IamState, arn: &str) -> Option<String> {
    if arn.starts_with("arn:aws:iam::aws:policy/") {
        aws_managed_document(arn)
    } else {
        iam.policy(arn)
            .and_then(|p| p.default_document().map(str::to_owned))
    }
}

/// Checks a session policy document (STS `Policy`): MalformedPolicyDocument text on failure.
pub fn validate_session_policy(doc: &str) -> Result<(), String> {
    kinko_policy::Policy::parse(doc, PolicyKind::Session)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn tags_of(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))
}

/// The unique id credentials were issued for (the user's `AIDA…`, the role's `AROA…`; the account
/// for root).
fn unique_id(p: &Principal) -> &str {
    match &p.kind {
        PrincipalKind::Root => &p.account_id,
        PrincipalKind::User { user_id, .. } => user_id,
        PrincipalKind::AssumedRole { role_id, .. } => role_id,
        // The issuing user's `AIDA…` (the account for root): a user re-created under the same
        // name issues federated users of the same ARN that must not share the old one's policies.
        PrincipalKind::FederatedUser { user_id, .. } => user_id,
        PrincipalKind::Anonymous => "",
    }
}

/// The ARN, with its path, of the role a session was issued for, or of the IAM user who issued a
/// federated user (CloudTrail's `sessionIssuer.arn`); none for other callers, or when the role or
/// user is gone or can't be read.
pub(crate) async fn session_issuer_arn(services: &Services, p: &Principal) -> Option<String> {
    if !matches!(
        p.kind,
        PrincipalKind::AssumedRole { .. }
            | PrincipalKind::FederatedUser {
                user_name: Some(_),
                ..
            }
    ) {
        return None;
    }
    let pp = principal_policies(services, p).await.ok()?;
    pp.exists.then(|| pp.ctx.issuer_arn.clone()).flatten()
}

/// What the account password policy's `AllowUsersToChangePassword` grants: every IAM user may
/// call `iam:ChangePassword` on themselves, with no policy of their own ("Allow users to change
/// their own password", IAM User Guide, "Set an account password policy for IAM users"). It counts
/// as one more identity-based policy of the user's: an explicit deny, a permissions boundary or a
/// session policy still limit it.
fn own_password_change(iam: &IamState, user_arn: &str) -> Option<String> {
    iam.password_policy
        .as_ref()
        .filter(|p| p.allow_users_to_change_password)
        .map(|_| {
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": "iam:ChangePassword",
                    "Resource": user_arn,
                }],
            })
            .to_string()
        })
}

async fn principal_policies(
    services: &Services,
    p: &Principal,
) -> Result<Arc<PrincipalPolicies>, StoreError> {
    // The revision alone decides whether the cached policies are current: no copy of the state.
    let revision = services.store.iam_revision(&p.account_id).await?;
    let id = unique_id(p);
    if let Some(hit) = services.policies.principals.lock().ok().and_then(|m| {
        m.get(p.arn.as_str())?
            .iter()
            .find(|(r, cached_id, _)| *r == revision && cached_id == id)
            .map(|(_, _, pp)| pp.clone())
    }) {
        return Ok(hit);
    }
    let iam = services.store.iam_state(&p.account_id).await?;
    let built = Arc::new(gather(&iam, &services.policies, p));
    if let Ok(mut m) = services.policies.principals.lock() {
        if m.len() >= MAX_CACHED && !m.contains_key(p.arn.as_str()) {
            m.clear();
        }
        let ids = m.entry(p.arn.clone()).or_default();
        ids.retain(|(_, cached_id, _)| cached_id != id);
        if ids.len() >= IDS_PER_ARN {
            ids.remove(0);
        }
        ids.push((iam.revision, id.to_owned(), built.clone()));
    }
    Ok(built)
}

/// The managed policies `attached` (to a user, group or role), named for a denial.
fn managed<'i>(
    iam: &'i IamState,
    attached: &'i [String],
    via_group: Option<&'i str>,
) -> impl Iterator<Item = (PolicySource, String)> + 'i {
    attached.iter().filter_map(move |a| {
        managed_doc(iam, a).map(|d| {
            let source = PolicySource::Managed {
                arn: a.clone(),
                via_group: via_group.map(str::to_owned),
            };
            (source, d)
        })
    })
}

/// The inline policies of `owner`, named for a denial.
fn inline<'i>(
    policies: &'i [kinko_core::iam::InlinePolicy],
    owner: impl Fn() -> Owner + 'i,
) -> impl Iterator<Item = (PolicySource, String)> + 'i {
    policies.iter().map(move |i| {
        let source = PolicySource::Inline {
            owner: owner(),
            policy_name: i.name.clone(),
        };
        (source, i.document.clone())
    })
}

/// A principal of another account, for the question what a resource's own policies let it do:
/// its account's policies are taken to allow everything (they are that account's to grant).
pub(crate) fn outside(ctx: PrincipalCtx, cache: &PolicyCache) -> PrincipalPolicies {
    const ANYTHING: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    PrincipalPolicies {
        ctx,
        identity: cache
            .parsed(PolicyKindKey::Identity, ANYTHING)
            .map(|p| {
                let source = PolicySource::Managed {
                    arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
                    via_group: None,
                };
                (source, p)
            })
            .into_iter()
            .collect(),
        boundary: None,
        exists: true,
    }
}

/// Gathers the identity-based policies and permissions boundary of `p` from its account's IAM
/// state: the one place they are collected, for a request ([`principal_policies`]) and for the
/// question who may do something ([`crate::access`]).
pub(crate) fn gather(iam: &IamState, cache: &PolicyCache, p: &Principal) -> PrincipalPolicies {
    let mut docs: Vec<(PolicySource, String)> = Vec::new();
    let (ctx, boundary, exists) = match &p.kind {
        PrincipalKind::Root => (PrincipalCtx::root(&p.account_id), None, true),
        // An unsigned request has no policies: nothing grants it anything.
        PrincipalKind::Anonymous => (PrincipalCtx::anonymous(), None, false),
        PrincipalKind::User { name, user_id } => match iam.user(name) {
            // The user the credentials were issued for: same name and the same unique id.
            Some(u) if &u.user_id == user_id => {
                docs.extend(inline(&u.inline_policies, || Owner::User(u.name.clone())));
                docs.extend(managed(iam, &u.attached_policies, None));
                for g in u.groups.iter().filter_map(|g| iam.group(g)) {
                    docs.extend(inline(&g.inline_policies, || Owner::Group(g.name.clone())));
                    docs.extend(managed(iam, &g.attached_policies, Some(&g.name)));
                }
                docs.extend(own_password_change(iam, &u.arn).map(|d| (PolicySource::PasswordPolicy, d)));
                let ctx = PrincipalCtx::user(&u.arn, &u.user_id).with_tags(tags_of(&u.tags));
                let boundary = u
                    .permissions_boundary
                    .as_deref()
                    .and_then(|b| managed_doc(iam, b).map(|d| (b.to_owned(), d)));
                (ctx, boundary, true)
            }
            // Deleted, or re-created under the same name: the old credentials get nothing.
            _ => (PrincipalCtx::user(&p.arn, user_id), None, false),
        },
        PrincipalKind::AssumedRole {
            role_name,
            role_id,
            session_name,
        } => match iam.role(role_name) {
            Some(r) if &r.role_id == role_id => {
                docs.extend(inline(&r.inline_policies, || Owner::Role(r.name.clone())));
                docs.extend(managed(iam, &r.attached_policies, None));
                let ctx =
                    PrincipalCtx::assumed_role(&r.arn, session_name, &r.role_id).with_tags(tags_of(&r.tags));
                let boundary = r
                    .permissions_boundary
                    .as_deref()
                    .and_then(|b| managed_doc(iam, b).map(|d| (b.to_owned(), d)));
                (ctx, boundary, true)
            }
            // The role was deleted (or re-created: a new role id): its sessions get nothing.
            _ => {
                let role_arn = format!("arn:aws:iam::{}:role/{role_name}", p.account_id);
                (
                    PrincipalCtx::assumed_role(&role_arn, session_name, role_id),
                    None,
                    false,
                )
            }
        },
        // A federated user has the permissions of the user who called GetFederationToken (its
        // identity-based policies and its permissions boundary), which the session policies then
        // limit ([`with_policy_set`]); without a session policy it has none (STS API Reference,
        // GetFederationToken). The user's tags are not its principal tags: only its session tags
        // are.
        PrincipalKind::FederatedUser {
            name,
            user_name: Some(user_name),
            user_id,
        } => match iam.user(user_name) {
            Some(u) if &u.user_id == user_id => {
                docs.extend(inline(&u.inline_policies, || Owner::User(u.name.clone())));
                docs.extend(managed(iam, &u.attached_policies, None));
                for g in u.groups.iter().filter_map(|g| iam.group(g)) {
                    docs.extend(inline(&g.inline_policies, || Owner::Group(g.name.clone())));
                    docs.extend(managed(iam, &g.attached_policies, Some(&g.name)));
                }
                let boundary = u
                    .permissions_boundary
                    .as_deref()
                    .and_then(|b| managed_doc(iam, b).map(|d| (b.to_owned(), d)));
                (PrincipalCtx::federated_user(&u.arn, name), boundary, true)
            }
            // The user was deleted (or re-created): its federated users get nothing.
            _ => {
                let user_arn = format!("arn:aws:iam::{}:user/{user_name}", p.account_id);
                (PrincipalCtx::federated_user(&user_arn, name), None, false)
            }
        },
        // Issued by the root user, whose permissions are everything in its account: the session
        // policies alone limit it.
        PrincipalKind::FederatedUser {
            name,
            user_name: None,
            ..
        } => {
            let root_arn = format!("arn:aws:iam::{}:root", p.account_id);
            return outside(PrincipalCtx::federated_user(&root_arn, name), cache);
        }
    };
    PrincipalPolicies {
        ctx,
        identity: docs
            .into_iter()
            .filter_map(|(source, d)| cache.parsed(PolicyKindKey::Identity, &d).map(|p| (source, p)))
            .collect(),
        boundary: boundary.and_then(|(arn, b)| cache.parsed(PolicyKindKey::Boundary, &b).map(|p| (arn, p))),
        exists,
    }
}

/// Decides one request: the named rules, then the policies. A policy denial is noted in the
/// request's [`DenialNote`] with what decided it.
pub async fn check(services: &Services, rc: &RequestContext, c: &Check<'_>) -> Result<(), AuthzError> {
    let result = check_once(services, rc, c).await;
    if let Err(AuthzError::Denied(d)) = &result {
        rc.denials.record(d);
    }
    result
}

async fn check_once(services: &Services, rc: &RequestContext, c: &Check<'_>) -> Result<(), AuthzError> {
    rules::before_policies(rc, c).map_err(AuthzError::Refused)?;
    match (c.federated, c.service_principal) {
        // AWS's text names the action alone ("Not authorized to perform
        // sts:AssumeRoleWithWebIdentity", "... sts:AssumeRoleWithSAML").
        (Some(provider), _) => decide_by_resource_policy(
            services,
            rc,
            c,
            &PrincipalCtx::identity_provider(provider),
            &format!("Not authorized to perform {}", c.action),
        )?,
        (None, Some(service)) => {
            let denied = format!(
                "{service} is not authorized to perform: {} on resource: {}",
                c.action,
                c.resource.arn().unwrap_or("*")
            );
            decide_by_resource_policy(services, rc, c, &PrincipalCtx::service(service), &denied)?;
        }
        (None, None) => decide(services, rc, c).await?,
    }
    rules::after_policies(rc, c).map_err(AuthzError::Refused)
}

async fn decide(services: &Services, rc: &RequestContext, c: &Check<'_>) -> Result<(), AuthzError> {
    let pp = principal_policies(services, &rc.principal).await?;
    let org_id = services
        .store
        .organization_id_of(&rc.principal.account_id)
        .await?;
    let (decision, usable) = with_policy_set(services, rc, c, &pp, org_id, kinko_policy::evaluate);
    if decision.is_allowed() && usable {
        return Ok(());
    }
    let decision = if decision.is_allowed() {
        kinko_policy::Decision::ImplicitDeny {
            reason: kinko_policy::ImplicitDenyReason::NoIdentityPolicy,
        }
    } else {
        decision
    };
    let (resource, _) = evaluated_resource(rc, c);
    let on = match c.resource {
        Resource::Any | Resource::UnknownCiphertextKey => None,
        _ => Some(c.shown_as.unwrap_or(resource)),
    };
    Err(AuthzError::Denied(Denied {
        message: kinko_policy::access_denied_message(&rc.principal.arn, c.action, on, &decision),
        why: explain(&decision, &pp, c).map(|decided| {
            Box::new(Why {
                action: c.action.to_owned(),
                resource: on.map(str::to_owned),
                decided,
            })
        }),
    }))
}

/// Builds the [`PolicySet`] of check `c` for the principal whose policies are `pp`, in request
/// `rc` (its session, session tags and condition keys), and hands it to `f` with the request: the
/// one place a check's policies are put together. The flag is false when nothing may be allowed
/// whatever the policies say: the user or role is gone, or a session policy no longer parses.
pub(crate) fn with_policy_set<R>(
    services: &Services,
    rc: &RequestContext,
    c: &Check<'_>,
    pp: &PrincipalPolicies,
    org_id: Option<String>,
    f: impl FnOnce(&kinko_policy::Request<'_>, &PolicySet<'_>) -> R,
) -> (R, bool) {
    let session_tags = rc.session.as_ref().map_or(&[][..], |s| s.tags.as_slice());
    // The cached principal as it is, unless the request adds session tags or an organization.
    let principal: Cow<'_, PrincipalCtx> = if session_tags.is_empty() && org_id.is_none() {
        Cow::Borrowed(&pp.ctx)
    } else {
        let mut p = pp.ctx.clone();
        p.tags.extend(session_tags.iter().cloned());
        if org_id.is_some() {
            p.org_id = org_id;
        }
        Cow::Owned(p)
    };
    let principal = principal.as_ref();
    let cache = &services.policies;
    let resource_policy = c.resource_policy.and_then(|rp| match rp {
        ResourcePolicy::Resource(b) => cache.parsed_bound(PolicyKindKey::Resource, b.document, b.principals),
        ResourcePolicy::Trust(b) => cache.parsed_bound(PolicyKindKey::Trust, b.document, b.principals),
        ResourcePolicy::Key(b) => key_policy_with_grants(cache, b, c.grants),
    });
    let session: Vec<Arc<kinko_policy::Policy>> = rc
        .session
        .iter()
        .filter(|s| matches!(s.kind, SessionKind::AssumedRole | SessionKind::FederationToken))
        .flat_map(|s| s.policies.iter())
        .filter_map(|d| cache.parsed(PolicyKindKey::Session, d))
        .collect();
    let identity: Vec<&kinko_policy::Policy> = if pp.exists {
        pp.identity.iter().map(|(_, p)| p.as_ref()).collect()
    } else {
        vec![]
    };
    let session_refs: Vec<&kinko_policy::Policy> = session.iter().map(AsRef::as_ref).collect();
    // A session created with a session policy that no longer parses grants nothing.
    let session_broken = rc
        .session
        .as_ref()
        .is_some_and(|s| s.policies.len() != session.len());
    // The condition context, built only when a policy of the set can read it (a condition, a
    // policy variable in a resource): the same decision either way, without building some twenty
    // keys for the sets that don't (the root user's calls without resource policies).
    let reads_context = identity
        .iter()
        .copied()
        .chain(resource_policy.as_deref())
        .chain(pp.boundary.as_ref().map(|(_, b)| b.as_ref()))
        .chain(session_refs.iter().copied())
        .any(kinko_policy::Policy::reads_context);
    let ctx = if reads_context {
        request_context(rc, principal, c, services.clock.now())
    } else {
        ConditionContext::new()
    };
    let (resource, resource_account) = evaluated_resource(rc, c);
    let set = PolicySet {
        identity: &identity,
        resource: resource_policy.as_deref(),
        boundary: pp.boundary.as_ref().map(|(_, b)| b.as_ref()),
        session: &session_refs,
        scp: &[],
        resource_policy_required: matches!(
            c.resource_policy,
            Some(ResourcePolicy::Key(_) | ResourcePolicy::Trust(_))
        ),
    };
    let req = kinko_policy::Request {
        principal,
        action: c.action,
        resource,
        resource_account,
        context: &ctx,
    };
    let usable = !session_broken && (pp.exists || rc.principal.is_root());
    (f(&req, &set), usable)
}

/// A key policy, parsed with the statements of the key's grants added: a grant allows its grantee
/// as a key policy statement naming it would, and an explicit deny anywhere still wins. When the
/// grants' statements don't parse with it, the key policy alone counts.
fn key_policy_with_grants(cache: &PolicyCache, b: Bound<'_>, grants: KeyGrants<'_>) -> ParsedDocument {
    if grants.grants.is_empty() {
        return cache.parsed_bound(PolicyKindKey::Key, b.document, b.principals);
    }
    let merged = kinko_core::kms::policy_with_grants(b.document, grants.grants, grants.retiring);
    let mut principals = b.principals.to_vec();
    for g in grants.grants {
        principals.extend(
            g.principals
                .iter()
                .filter(|p| !b.principals.iter().any(|k| k.arn == p.arn))
                .cloned(),
        );
    }
    merged
        .and_then(|m| cache.parsed_bound(PolicyKindKey::Key, &m, &principals))
        .or_else(|| cache.parsed_bound(PolicyKindKey::Key, b.document, b.principals))
}

/// The resource's own policy in a check, as a denial names it.
fn resource_policy_source(c: &Check<'_>) -> Option<PolicySource> {
    c.resource_policy.map(|rp| match rp {
        ResourcePolicy::Resource(_) => PolicySource::ResourcePolicy,
        ResourcePolicy::Trust(_) => PolicySource::TrustPolicy,
        ResourcePolicy::Key(_) => PolicySource::KeyPolicy,
    })
}

/// What decided a denial, by the policies [`with_policy_set`] gave the evaluator: the statement's
/// position in the [`PolicySet`] mapped back to the policy's name.
fn explain(decision: &kinko_policy::Decision, pp: &PrincipalPolicies, c: &Check<'_>) -> Option<Decided> {
    use kinko_policy::{Decision, ImplicitDenyReason as R, PolicyType as T};
    match decision {
        Decision::Allow { .. } => None,
        Decision::ExplicitDeny { statement } => {
            let policy = match statement.policy_type {
                T::Identity => pp.identity.get(statement.policy_index)?.0.clone(),
                T::Resource => resource_policy_source(c)?,
                T::RoleTrust => PolicySource::TrustPolicy,
                T::PermissionsBoundary => PolicySource::PermissionsBoundary {
                    arn: pp.boundary.as_ref()?.0.clone(),
                },
                T::Session => PolicySource::SessionPolicy {
                    index: statement.policy_index,
                },
                // Organizations' service control policies are not evaluated here.
                T::ServiceControl => return None,
            };
            Some(Decided::ExplicitDeny {
                policy,
                statement_index: statement.statement_index,
                sid: statement.sid.clone(),
            })
        }
        Decision::ImplicitDeny { reason } => Some(Decided::ImplicitDeny {
            missing: *reason,
            policy: match reason {
                R::NoPermissionsBoundary => pp
                    .boundary
                    .as_ref()
                    .map(|(arn, _)| PolicySource::PermissionsBoundary { arn: arn.clone() }),
                R::NoResourcePolicy | R::NoRoleTrustPolicy => resource_policy_source(c),
                R::NoIdentityPolicy | R::NoSessionPolicy | R::NoServiceControlPolicy => None,
            },
        }),
    }
}

/// AWS's answer when a role's trust policy doesn't let a web identity assume it (STS API Reference,
/// AssumeRoleWithWebIdentity; the text as AWS sends it, without an ARN).
pub const WEB_IDENTITY_DENIED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

/// Decides a check made for an identity provider or an AWS service: only the resource's policy can
/// allow it — a role's trust policy naming the provider as a `Federated` principal (under its
/// conditions on the token's claims, `<issuer>:sub`, `<issuer>:aud`, `<issuer>:amr`, in the check's
/// context) or the service as a `Service` principal, or a resource-based policy naming the service
/// (a function's policy letting `secretsmanager.amazonaws.com` invoke it). No identity-based policy
/// applies: neither is an IAM identity.
fn decide_by_resource_policy(
    services: &Services,
    rc: &RequestContext,
    c: &Check<'_>,
    principal: &PrincipalCtx,
    denied: &str,
) -> Result<(), AuthzError> {
    let ctx = request_context(rc, principal, c, services.clock.now());
    let trust = match c.resource_policy {
        Some(ResourcePolicy::Trust(b)) => {
            services
                .policies
                .parsed_bound(PolicyKindKey::Trust, b.document, b.principals)
        }
        Some(ResourcePolicy::Resource(b)) => {
            services
                .policies
                .parsed_bound(PolicyKindKey::Resource, b.document, b.principals)
        }
        _ => None,
    };
    let (resource, resource_account) = evaluated_resource(rc, c);
    let set = PolicySet {
        identity: &[],
        resource: trust.as_deref(),
        boundary: None,
        session: &[],
        scp: &[],
        resource_policy_required: true,
    };
    let req = kinko_policy::Request {
        principal,
        action: c.action,
        resource,
        resource_account,
        context: &ctx,
    };
    if trust.is_some() && kinko_policy::evaluate(&req, &set).is_allowed() {
        return Ok(());
    }
    Err(AuthzError::Denied(Denied {
        message: denied.to_owned(),
        why: None,
    }))
}

/// The resource a check is evaluated on and the account owning it: an ARN and its account, an
/// identifier that resolved to nothing in the caller's account, or `"*"` and no account.
fn evaluated_resource<'a>(rc: &'a RequestContext, c: &Check<'a>) -> (&'a str, Option<&'a str>) {
    match c.resource {
        Resource::Arn { arn, account_id } => (arn, Some(account_id)),
        Resource::Unresolved(id) => (id, Some(rc.principal.account_id.as_str())),
        Resource::Any | Resource::UnknownCiphertextKey => ("*", None),
    }
}

/// `aws:RequestedRegion`: the region of the endpoint the request went to — the one it was signed
/// for, and `us-east-1` for IAM and Organizations, whose one endpoint is there (IAM User Guide, "AWS
/// global condition context keys", aws:RequestedRegion).
fn requested_region<'a>(rc: &'a RequestContext, action: &str) -> &'a str {
    match action.split_once(':').map(|(service, _)| service) {
        Some("iam" | "organizations") => "us-east-1",
        _ => &rc.region,
    }
}

/// The request context AWS builds for one check, every key it always sets (IAM User Guide, "AWS
/// global condition context keys"):
///
/// - of the principal, from `principal` (its tags including the session's):
///   `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`,
///   `aws:username` (users), `aws:PrincipalOrgID` (in an organization), `aws:PrincipalTag/*`,
///   `aws:PrincipalIsAWSService` (`false`: only people and workloads sign requests here);
/// - of the time: `aws:CurrentTime`, `aws:EpochTime`;
/// - of the request: `aws:SourceIp`, `aws:SecureTransport` (`true` when the request came over
///   kinko's own TLS listener), `aws:RequestedRegion`, `aws:ResourceAccount` (when the resource has an account),
///   `aws:ViaAWSService`, and `aws:CalledVia`, `aws:CalledViaFirst`, `aws:CalledViaLast` when a
///   service makes the request with the caller's credentials;
/// - of temporary credentials: `aws:TokenIssueTime`, `aws:MultiFactorAuthPresent` (`true` for
///   sessions issued with an MFA code, `false` for the others; long-term access keys have
///   neither key) and `aws:SourceIdentity` when the session has one; `aws:MultiFactorAuthPresent`
///   `true` and `aws:MultiFactorAuthAge` (seconds since the code was proved) with MFA, also for a
///   console sign-in with MFA and for the STS call that proves a code;
/// - the check's own: `aws:ResourceTag/*`, `aws:RequestTag/*` and `aws:TagKeys`, and the
///   service's keys (`secretsmanager:SecretId`, `kms:ViaService`, `sts:ExternalId`, ...).
pub fn request_context(
    rc: &RequestContext,
    principal: &PrincipalCtx,
    c: &Check<'_>,
    now: kinko_core::Timestamp,
) -> ConditionContext {
    let mut ctx = ConditionContext::for_request(principal, now.to_offset_date_time());
    if let Some(ip) = rc.source_ip {
        ctx.set_source_ip(ip);
    }
    // TLS terminated by kinko itself; a proxy terminating TLS in front of plain HTTP is not seen.
    ctx.set_secure_transport(rc.tls_details.is_some());
    let session = rc.session.as_ref();
    let mfa = c.mfa_proved.or(match session {
        Some(s) => s.mfa_authenticated,
        None => rc.mfa_authenticated,
    });
    // Present for temporary credentials (false without MFA) and whenever MFA was proved.
    let mfa_present = if mfa.is_some() {
        Some(true)
    } else {
        session.map(|_| false)
    };
    ctx.add_request_keys(&RequestKeys {
        requested_region: Some(requested_region(rc, c.action)),
        resource_account: evaluated_resource(rc, c).1,
        token_issue_time: session.map(|s| s.issued.to_offset_date_time()),
        multi_factor_auth_present: mfa_present,
        multi_factor_auth_age: mfa.map(|at| (now.millis() - at.millis()).max(0) / 1000),
        source_identity: session.and_then(|s| s.source_identity.as_deref()),
        called_via: c.called_via.as_slice(),
    });
    if !c.resource_tags.tags.is_empty() {
        ctx.add_resource_tags(c.resource_tags.service, tags_of(c.resource_tags.tags));
    }
    if !c.request_tags.is_empty() {
        ctx.add_request_tags(c.request_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    for (k, v) in &c.context {
        ctx.insert(k, v.as_ref());
    }
    ctx
}

/// The unique id of the IAM user or role `arn` names, if it exists now.
async fn current_id(services: &Services, arn: &str) -> Result<Option<String>, StoreError> {
    let Some(parsed) = kinko_core::arn::Arn::parse(arn) else {
        return Ok(None);
    };
    let name = parsed.resource.rsplit('/').next().unwrap_or_default();
    let iam = services.store.iam_state(parsed.account_id).await?;
    Ok(if parsed.resource.starts_with("user/") {
        iam.user(name).filter(|u| u.arn == arn).map(|u| u.user_id.clone())
    } else if parsed.resource.starts_with("role/") {
        iam.role(name).filter(|r| r.arn == arn).map(|r| r.role_id.clone())
    } else {
        None
    })
}

/// Binds the IAM users and roles a resource-based policy names to their unique ids, as IAM does
/// when the policy is saved. `Err(arn)` names the first one that doesn't exist: AWS refuses such a
/// policy (each service with its own error).
pub async fn bind_principals(
    services: &Services,
    doc: &str,
) -> Result<Result<Vec<BoundPrincipal>, String>, StoreError> {
    let mut out = Vec::new();
    for arn in kinko_policy::named_principals(doc) {
        match current_id(services, &arn).await? {
            Some(id) => out.push(BoundPrincipal { arn, id }),
            None => return Ok(Err(arn)),
        }
    }
    Ok(Ok(out))
}

/// A saved resource-based policy as AWS shows it: a bound principal that no longer exists (deleted,
/// or re-created with a new unique id) appears as its unique id where its ARN was.
pub async fn shown_policy(
    services: &Services,
    doc: &str,
    principals: &[BoundPrincipal],
) -> Result<String, StoreError> {
    let mut gone: Vec<&BoundPrincipal> = Vec::new();
    for b in principals {
        if current_id(services, &b.arn).await?.as_deref() != Some(b.id.as_str()) {
            gone.push(b);
        }
    }
    if gone.is_empty() {
        return Ok(doc.to_owned());
    }
    Ok(
        kinko_policy::rewrite_principals(doc, |v| gone.iter().find(|b| b.arn == v).map(|b| b.id.clone()))
            .unwrap_or_else(|| doc.to_owned()),
    )
}

#[cfg(test)]
mod tests;
