//! The single authorization entry point every operation of every service goes through.
//!
//! [`check`] gathers what applies to a request — the caller's identity-based policies (a user's
//! inline, attached and group policies, or a role's), its permissions boundary, the session
//! policies of temporary credentials, the resource's policy (secret policy, role trust policy, key
//! policy) and the condition keys — and hands them to the pure evaluator in `kinko-policy`. No
//! operation decides access on its own.
//!
//! Parsed policies are cached per principal and IAM revision: any IAM change bumps the account's
//! revision, so a detached policy stops granting on the very next request.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kinko_core::iam::IamState;
use kinko_core::principal::{Principal, PrincipalKind};
use kinko_core::secret::Tag;
use kinko_core::store::StoreError;
use kinko_policy::{ConditionContext, PolicyKind, PolicySet, PrincipalCtx};

use crate::{RequestContext, Services, SessionKind};

/// Why a request was denied; rendered as AWS's AccessDenied message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub message: String,
}

/// The resource a request acts on: an ARN, the identifier as the caller passed it when it resolves
/// to nothing, or no resource (`"*"`) for actions like ListSecrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Arn { arn: &'a str, account_id: &'a str },
    Unresolved(&'a str),
    Any,
}

/// A policy attached to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourcePolicy<'a> {
    /// A resource-based policy (a secret's): may grant on its own within the account.
    Resource(&'a str),
    /// A role trust policy (for `sts:AssumeRole`).
    Trust(&'a str),
    /// A KMS key policy: required, IAM policies only count where it delegates to the account.
    Key(&'a str),
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub action: &'a str,
    pub resource: Resource<'a>,
    pub resource_policy: Option<ResourcePolicy<'a>>,
    /// Service condition keys (`secretsmanager:VersionStage`, `sts:ExternalId`, ...).
    pub context: &'a [(&'a str, &'a str)],
    /// Tags the request would set (`aws:RequestTag/*`, `aws:TagKeys`).
    pub request_tags: &'a [(String, String)],
}

impl<'a> Check<'a> {
    pub fn new(action: &'a str, resource: Resource<'a>) -> Self {
        Check {
            action,
            resource,
            resource_policy: None,
            context: &[],
            request_tags: &[],
        }
    }
}

/// What a secret or key contributes: its tags (`aws:ResourceTag/*`, `<service>:ResourceTag/*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceTags<'a> {
    pub service: Option<&'a str>,
    pub tags: &'a [(String, String)],
}

/// The caller's identity-based policies, parsed.
struct PrincipalPolicies {
    ctx: PrincipalCtx,
    identity: Vec<Arc<kinko_policy::Policy>>,
    boundary: Option<Arc<kinko_policy::Policy>>,
    /// False when the user or role no longer exists: nothing grants then.
    exists: bool,
}

/// A parsed document, or `None` when it doesn't parse (it then grants nothing).
type ParsedDocument = Option<Arc<kinko_policy::Policy>>;

/// Caches parsed policies: per principal (with the IAM revision they were built at) and per
/// document. Both are looked up by `&str` on every request, without allocating a key.
#[derive(Default)]
pub struct PolicyCache {
    /// Principal ARN → (IAM revision, policies); an entry of another revision is stale.
    principals: Mutex<HashMap<String, (i64, Arc<PrincipalPolicies>)>>,
    /// Document → its parse for each kind it was used as (indexed by [`PolicyKindKey::index`]).
    documents: Mutex<HashMap<Box<str>, [Option<ParsedDocument>; PolicyKindKey::COUNT]>>,
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
    fn parsed(&self, kind: PolicyKindKey, doc: &str) -> Option<Arc<kinko_policy::Policy>> {
        let i = kind.index();
        if let Some(p) = self
            .documents
            .lock()
            .ok()
            .and_then(|m| m.get(doc).and_then(|kinds| kinds[i].clone()))
        {
            return p;
        }
        let parsed = kinko_policy::Policy::parse(doc, kind.kind()).ok().map(Arc::new);
        if let Ok(mut m) = self.documents.lock() {
            if let Some(kinds) = m.get_mut(doc) {
                kinds[i] = Some(parsed.clone());
            } else {
                if m.len() >= MAX_CACHED {
                    m.clear();
                }
                let mut kinds: [Option<ParsedDocument>; PolicyKindKey::COUNT] = Default::default();
                kinds[i] = Some(parsed.clone());
                m.insert(doc.into(), kinds);
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

fn tags_of(tags: &[kinko_core::secret::Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect()
}

async fn principal_policies(
    services: &Services,
    p: &Principal,
) -> Result<Arc<PrincipalPolicies>, StoreError> {
    // The revision alone decides whether the cached policies are current: no copy of the state.
    let revision = services.store.iam_revision(&p.account_id).await?;
    if let Some(hit) = services.policies.principals.lock().ok().and_then(|m| {
        m.get(p.arn.as_str())
            .filter(|(r, _)| *r == revision)
            .map(|(_, pp)| pp.clone())
    }) {
        return Ok(hit);
    }
    let iam = services.store.iam_state(&p.account_id).await?;
    let cache = &services.policies;
    let mut docs: Vec<String> = Vec::new();
    let (ctx, boundary, exists) = match &p.kind {
        PrincipalKind::Root => (PrincipalCtx::root(&p.account_id), None, true),
        PrincipalKind::User { name, user_id } => match iam.user(name) {
            Some(u) => {
                docs.extend(u.inline_policies.iter().map(|i| i.document.clone()));
                docs.extend(u.attached_policies.iter().filter_map(|a| managed_doc(&iam, a)));
                for g in u.groups.iter().filter_map(|g| iam.group(g)) {
                    docs.extend(g.inline_policies.iter().map(|i| i.document.clone()));
                    docs.extend(g.attached_policies.iter().filter_map(|a| managed_doc(&iam, a)));
                }
                let tags = tags_of(&u.tags);
                let ctx = PrincipalCtx::user(&u.arn, &u.user_id)
                    .with_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let boundary = u
                    .permissions_boundary
                    .as_deref()
                    .and_then(|b| managed_doc(&iam, b));
                (ctx, boundary, true)
            }
            None => (PrincipalCtx::user(&p.arn, user_id), None, false),
        },
        PrincipalKind::AssumedRole {
            role_name,
            role_id,
            session_name,
        } => match iam.role(role_name) {
            Some(r) if &r.role_id == role_id => {
                docs.extend(r.inline_policies.iter().map(|i| i.document.clone()));
                docs.extend(r.attached_policies.iter().filter_map(|a| managed_doc(&iam, a)));
                let tags = tags_of(&r.tags);
                let ctx = PrincipalCtx::assumed_role(&r.arn, session_name, &r.role_id)
                    .with_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let boundary = r
                    .permissions_boundary
                    .as_deref()
                    .and_then(|b| managed_doc(&iam, b));
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
    };
    let built = Arc::new(PrincipalPolicies {
        ctx,
        identity: docs
            .iter()
            .filter_map(|d| cache.parsed(PolicyKindKey::Identity, d))
            .collect(),
        boundary: boundary.and_then(|b| cache.parsed(PolicyKindKey::Boundary, &b)),
        exists,
    });
    if let Ok(mut m) = services.policies.principals.lock() {
        if m.len() >= MAX_CACHED && !m.contains_key(p.arn.as_str()) {
            m.clear();
        }
        m.insert(p.arn.clone(), (iam.revision, built.clone()));
    }
    Ok(built)
}

fn denied_internal(e: impl std::fmt::Display, rc: &RequestContext) -> Denied {
    tracing::error!(request_id = %rc.request_id, error = %e, "authorization lookup failed");
    Denied {
        message: "An internal error occurred while authorizing the request.".into(),
    }
}

/// Decides one request. `resource_tags` feed `aws:ResourceTag/*`.
pub async fn check_with_tags(
    services: &Services,
    rc: &RequestContext,
    c: &Check<'_>,
    resource_tags: ResourceTags<'_>,
) -> Result<(), Denied> {
    decide(
        services,
        rc,
        c,
        resource_tags.service,
        resource_tags.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .await
}

/// Decides one request on a secret or key: its stored `tags` feed `aws:ResourceTag/*` (and
/// `<service>:ResourceTag/*` when `service` is given), without copying them.
pub async fn check_with_stored_tags(
    services: &Services,
    rc: &RequestContext,
    c: &Check<'_>,
    service: Option<&str>,
    tags: &[Tag],
) -> Result<(), Denied> {
    decide(
        services,
        rc,
        c,
        service,
        tags.iter().map(|t| (t.key.as_str(), t.value.as_str())),
    )
    .await
}

async fn decide<'t>(
    services: &Services,
    rc: &RequestContext,
    c: &Check<'_>,
    tag_service: Option<&str>,
    resource_tags: impl Iterator<Item = (&'t str, &'t str)>,
) -> Result<(), Denied> {
    let pp = principal_policies(services, &rc.principal)
        .await
        .map_err(|e| denied_internal(e, rc))?;
    let org_id = services
        .store
        .organization_id_of(&rc.principal.account_id)
        .await
        .map_err(|e| denied_internal(e, rc))?;
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
    let now = services.clock.now().to_offset_date_time();
    let mut ctx = ConditionContext::for_request(principal, now);
    if let Some(ip) = rc.source_ip {
        ctx.set_source_ip(ip);
    }
    ctx.set_secure_transport(false);
    let mut resource_tags = resource_tags.peekable();
    if resource_tags.peek().is_some() {
        ctx.add_resource_tags(tag_service, resource_tags);
    }
    if !c.request_tags.is_empty() {
        ctx.add_request_tags(c.request_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    for (k, v) in c.context {
        ctx.insert(k, *v);
    }
    let cache = &services.policies;
    let resource_policy = c.resource_policy.and_then(|rp| match rp {
        ResourcePolicy::Resource(d) => cache.parsed(PolicyKindKey::Resource, d),
        ResourcePolicy::Trust(d) => cache.parsed(PolicyKindKey::Trust, d),
        ResourcePolicy::Key(d) => cache.parsed(PolicyKindKey::Key, d),
    });
    let session: Vec<Arc<kinko_policy::Policy>> = rc
        .session
        .iter()
        .filter(|s| s.kind == SessionKind::AssumedRole)
        .flat_map(|s| s.policies.iter())
        .filter_map(|d| cache.parsed(PolicyKindKey::Session, d))
        .collect();
    let identity: Vec<&kinko_policy::Policy> = if pp.exists {
        pp.identity.iter().map(AsRef::as_ref).collect()
    } else {
        vec![]
    };
    let session_refs: Vec<&kinko_policy::Policy> = session.iter().map(AsRef::as_ref).collect();
    // A session created with a session policy that no longer parses grants nothing.
    let session_broken = rc
        .session
        .as_ref()
        .is_some_and(|s| s.policies.len() != session.len());
    let (resource, resource_account) = match c.resource {
        Resource::Arn { arn, account_id } => (arn, Some(account_id)),
        Resource::Unresolved(id) => (id, Some(rc.principal.account_id.as_str())),
        Resource::Any => ("*", None),
    };
    let set = PolicySet {
        identity: &identity,
        resource: resource_policy.as_deref(),
        boundary: pp.boundary.as_deref(),
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
    let decision = kinko_policy::evaluate(&req, &set);
    if decision.is_allowed() && !session_broken && (pp.exists || rc.principal.is_root()) {
        return Ok(());
    }
    let decision = if decision.is_allowed() {
        kinko_policy::Decision::ImplicitDeny {
            reason: kinko_policy::ImplicitDenyReason::NoIdentityPolicy,
        }
    } else {
        decision
    };
    let on = match c.resource {
        Resource::Any => None,
        _ => Some(resource),
    };
    Err(Denied {
        message: kinko_policy::access_denied_message(&rc.principal.arn, c.action, on, &decision),
    })
}

/// Decides one request.
pub async fn check(services: &Services, rc: &RequestContext, c: &Check<'_>) -> Result<(), Denied> {
    check_with_tags(services, rc, c, ResourceTags::default()).await
}
