//! The authorizer: combines every policy that applies to a request into one [`Decision`].
//!
//! Owns [`evaluate`], [`Request`], [`PolicySet`] and the decision types. Pure and total: no I/O,
//! no clock, no panics; the same inputs always give the same decision.
//!
//! The logic is the IAM User Guide's "Policy evaluation logic" and "Cross-account policy
//! evaluation logic", in this order:
//!
//! 1. An applicable `Deny` in any policy is final. Types are searched in the order of AWS's flow
//!    chart — service control policies, the resource-based policy, identity-based policies, the
//!    permissions boundary, session policies — and the first deny found is the one reported
//!    (AWS names only one type when several deny).
//! 2. Every SCP passed must allow (each entry stands for one level of the organization); if one
//!    doesn't, the request is implicitly denied ("no service control policy allows").
//! 3. The account's root user may do anything to its own account's resources, except where the
//!    resource policy is required (KMS key policies, role trust policies): there it needs an
//!    allow in that policy like everyone else.
//! 4. Same account: an `Allow` in the resource-based policy that names the caller itself (user,
//!    role session, federated-user session, or `*`) is enough on its own; one that names the
//!    caller's role (or the user who federated) is still limited by the permissions boundary and
//!    session policies; one that names the account only delegates to identity-based policies.
//!    Otherwise identity-based policies must allow, then the boundary (if any), then the session
//!    policies (if any; a federated-user session without one has no permissions).
//! 5. Resource policy required ([`PolicySet::resource_policy_required`], implied for key and
//!    trust policies): as 4, but an identity-based allow counts only if the resource policy
//!    allows the caller's account (the `arn:aws:iam::ACCOUNT:root` delegation that "enables IAM
//!    policies").
//! 6. Cross account (caller's account ≠ resource's account): the resource policy must allow the
//!    caller (by any kind of principal match) *and* the identity side (identity policies, capped
//!    by boundary and session policies) must allow.

use crate::context::ConditionContext;
use crate::policy::{Effect, Policy, PolicyKind, PrincipalElement, Statement};
use crate::principal::{Grant, PrincipalCtx, PrincipalKind, arn_account, best_grant, not_principal_applies};

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The authenticated caller.
    pub principal: &'a PrincipalCtx,
    /// `service:Action`, e.g. `secretsmanager:GetSecretValue` (compared case-insensitively).
    pub action: &'a str,
    /// The resource ARN, or `*` for actions without a resource (e.g. `ListSecrets`).
    pub resource: &'a str,
    /// The account owning the resource. `None` means "the account in the resource ARN", or the
    /// caller's own account when the ARN has none (or the resource is `*`).
    pub resource_account: Option<&'a str>,
    /// Condition keys; see [`ConditionContext::for_request`] for the global ones.
    pub context: &'a ConditionContext,
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySet<'a> {
    /// Identity-based policies of the caller (user inline + managed + groups', or the role's).
    pub identity: &'a [&'a Policy],
    /// The resource's policy (secret resource policy, key policy, role trust policy).
    pub resource: Option<&'a Policy>,
    /// The caller's permissions boundary.
    pub boundary: Option<&'a Policy>,
    /// Session policies of the caller's session (inline and managed; any one must allow). Empty
    /// means the session was created without session policies.
    pub session: &'a [&'a Policy],
    /// Service control policies of the caller's account, one per organization level; each must
    /// allow. Empty means no SCPs apply.
    pub scp: &'a [&'a Policy],
    /// KMS key-policy mode: identity-based policies grant nothing unless the resource policy
    /// allows the caller's account. Always on when `resource` is a [`PolicyKind::KeyPolicy`] or
    /// [`PolicyKind::Trust`] policy.
    pub resource_policy_required: bool,
}

/// A type of policy, as AWS names it in `AccessDenied` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// Identity-based policy.
    Identity,
    /// Resource-based policy (including KMS key policies).
    Resource,
    /// Role trust policy (the resource policy of `sts:AssumeRole*`).
    RoleTrust,
    /// Permissions boundary.
    PermissionsBoundary,
    /// Session policy.
    Session,
    /// Service control policy.
    ServiceControl,
}

/// Which statement decided: its policy type, the policy's index in its [`PolicySet`] slice
/// (0 for the resource policy and boundary), the statement's index, and its `Sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// The type of the policy holding the statement.
    pub policy_type: PolicyType,
    /// Index of the policy in its slice of the [`PolicySet`].
    pub policy_index: usize,
    /// Index of the statement in the policy.
    pub statement_index: usize,
    /// The statement's `Sid`.
    pub sid: Option<String>,
}

/// Why a request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowBasis {
    /// The account's root user acting on its own account.
    RootUser,
    /// An identity-based policy (within the boundary and session policies).
    IdentityPolicy,
    /// The resource-based policy on its own.
    ResourcePolicy,
    /// Cross-account: both the resource policy and the caller's identity-based policies.
    IdentityAndResourcePolicy,
}

/// Why a request was implicitly denied: the type of policy that had no applicable `Allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImplicitDenyReason {
    /// No identity-based policy allows.
    NoIdentityPolicy,
    /// No resource-based policy allows (cross-account, key policy, or non-IAM caller).
    NoResourcePolicy,
    /// The role trust policy doesn't allow.
    NoRoleTrustPolicy,
    /// The permissions boundary doesn't allow.
    NoPermissionsBoundary,
    /// No session policy allows.
    NoSessionPolicy,
    /// A service control policy doesn't allow.
    NoServiceControlPolicy,
}

impl ImplicitDenyReason {
    /// The policy type the reason is about.
    pub fn policy_type(self) -> PolicyType {
        match self {
            ImplicitDenyReason::NoIdentityPolicy => PolicyType::Identity,
            ImplicitDenyReason::NoResourcePolicy => PolicyType::Resource,
            ImplicitDenyReason::NoRoleTrustPolicy => PolicyType::RoleTrust,
            ImplicitDenyReason::NoPermissionsBoundary => PolicyType::PermissionsBoundary,
            ImplicitDenyReason::NoSessionPolicy => PolicyType::Session,
            ImplicitDenyReason::NoServiceControlPolicy => PolicyType::ServiceControl,
        }
    }
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow {
        /// Which kind of grant allowed it.
        basis: AllowBasis,
        /// The allowing statement (`None` for the root user's implicit access).
        statement: Option<StatementRef>,
    },
    /// An applicable `Deny` statement.
    ExplicitDeny {
        /// The first applicable `Deny` (see the module docs for the search order).
        statement: StatementRef,
    },
    /// No applicable `Allow` where one was needed.
    ImplicitDeny {
        /// The policy type that lacked the allow.
        reason: ImplicitDenyReason,
    },
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// Where a statement sits; decides how a missing `Principal` element reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Identity, boundary, session, SCP: the principal is implicit.
    Principal,
    /// The resource policy: statements name their principals.
    Resource,
}

/// Conditions taken as decided rather than evaluated: those on a key for which `varies` is true
/// hold for `Allow` statements and fail for `Deny` statements when `favourable`, and the other
/// way round when not.
#[derive(Clone, Copy)]
struct Assume<'f> {
    varies: &'f dyn Fn(&str) -> bool,
    favourable: bool,
}

/// The grant a statement gives for this request, if it applies at all.
fn applies(
    st: &Statement,
    req: &Request<'_>,
    slot: Slot,
    has_boundary: bool,
    assume: Option<Assume<'_>>,
) -> Option<Grant> {
    if !st.action.matches(req.action) {
        return None;
    }
    let grant = match &st.principal {
        None => match (slot, st.effect()) {
            (Slot::Principal, _) => Grant::Direct,
            // Validation rejects this for resource policies; fail closed if it happens anyway.
            (Slot::Resource, Effect::Deny) => Grant::Direct,
            (Slot::Resource, Effect::Allow) => return None,
        },
        Some(PrincipalElement::Principal(patterns)) => best_grant(patterns, req.principal)?,
        Some(PrincipalElement::NotPrincipal(patterns)) => {
            // "The NotPrincipal element with a Deny effect will always deny any IAM principal that
            // has a permissions boundary policy attached, regardless of the values specified in
            // the NotPrincipal element." (IAM User Guide, Permissions boundaries)
            let boundary_quirk = slot == Slot::Resource
                && st.effect() == Effect::Deny
                && has_boundary
                && matches!(
                    req.principal.kind,
                    PrincipalKind::User | PrincipalKind::AssumedRole
                );
            if !boundary_quirk && !not_principal_applies(patterns, req.principal) {
                return None;
            }
            Grant::Direct
        }
    };
    if st
        .resource
        .as_ref()
        .is_some_and(|r| !r.matches(req.resource, req.context))
    {
        return None;
    }
    let holds = |c: &crate::condition::Condition| match assume {
        Some(a) if (a.varies)(c.key()) => (st.effect() == Effect::Allow) == a.favourable,
        _ => c.eval(req.context),
    };
    if !st.conditions.iter().all(holds) {
        return None;
    }
    Some(grant)
}

/// First applicable `Deny` and first applicable `Allow` statement indexes of one policy.
#[derive(Debug, Default)]
struct Scan {
    deny: Option<usize>,
    allow: Option<usize>,
}

fn scan(policy: &Policy, req: &Request<'_>, has_boundary: bool, assume: Option<Assume<'_>>) -> Scan {
    let mut out = Scan::default();
    for (i, st) in policy.statements().iter().enumerate() {
        if applies(st, req, Slot::Principal, has_boundary, assume).is_some() {
            match st.effect() {
                Effect::Deny => {
                    out.deny = Some(i);
                    return out;
                }
                Effect::Allow if out.allow.is_none() => out.allow = Some(i),
                Effect::Allow => {}
            }
        }
    }
    out
}

fn stmt_ref(
    policy_type: PolicyType,
    policy: &Policy,
    policy_index: usize,
    statement_index: usize,
) -> StatementRef {
    StatementRef {
        policy_type,
        policy_index,
        statement_index,
        sid: policy
            .statements()
            .get(statement_index)
            .and_then(|s| s.sid())
            .map(str::to_owned),
    }
}

/// Stages of the identity path, in the order AWS checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Identity,
    Boundary,
    Session,
}

impl Stage {
    fn reason(self) -> ImplicitDenyReason {
        match self {
            Stage::Identity => ImplicitDenyReason::NoIdentityPolicy,
            Stage::Boundary => ImplicitDenyReason::NoPermissionsBoundary,
            Stage::Session => ImplicitDenyReason::NoSessionPolicy,
        }
    }
}

/// Evaluates `req` against `set`. See the module documentation for the rules.
///
/// ```
/// use kinko_policy::*;
///
/// let alice = PrincipalCtx::user("arn:aws:iam::111122223333:user/alice", "AIDAEXAMPLE");
/// let ctx = ConditionContext::for_request(&alice, time::OffsetDateTime::UNIX_EPOCH);
/// let policy = Policy::parse(
///     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:Get*",
///         "Resource":"arn:aws:secretsmanager:*:111122223333:secret:app/*"}}"#,
///     PolicyKind::Identity,
/// )?;
/// let req = Request {
///     principal: &alice,
///     action: "secretsmanager:GetSecretValue",
///     resource: "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf",
///     resource_account: None,
///     context: &ctx,
/// };
/// let set = PolicySet { identity: &[&policy], ..PolicySet::default() };
/// assert!(evaluate(&req, &set).is_allowed());
/// # Ok::<(), PolicyError>(())
/// ```
pub fn evaluate(req: &Request<'_>, set: &PolicySet<'_>) -> Decision {
    decide(req, set, None)
}

/// Evaluates `req` against `set` with every condition on a key for which `varies` is true (keys
/// whose value depends on the request itself: its source address, time, MFA, ...) taken as
/// decided rather than evaluated: in the caller's favour (such conditions of `Allow` statements
/// hold, those of `Deny` statements fail) when `favourable`, against them otherwise.
///
/// Together the two answer for every request of this principal, action and resource whatever
/// those keys are: allowed in the unfavourable case means always allowed, denied in the
/// favourable case means never allowed, and anything else depends on the request.
pub fn evaluate_assuming(
    req: &Request<'_>,
    set: &PolicySet<'_>,
    varies: &dyn Fn(&str) -> bool,
    favourable: bool,
) -> Decision {
    decide(req, set, Some(Assume { varies, favourable }))
}

fn decide(req: &Request<'_>, set: &PolicySet<'_>, assume: Option<Assume<'_>>) -> Decision {
    let p = req.principal;
    let has_boundary = set.boundary.is_some();
    let resource_kind = set.resource.map(Policy::kind);
    let (resource_type, no_resource_reason) = if resource_kind == Some(PolicyKind::Trust) {
        (PolicyType::RoleTrust, ImplicitDenyReason::NoRoleTrustPolicy)
    } else {
        (PolicyType::Resource, ImplicitDenyReason::NoResourcePolicy)
    };
    let required = set.resource_policy_required
        || matches!(resource_kind, Some(PolicyKind::KeyPolicy | PolicyKind::Trust));

    // 1. Explicit denies, and the allows of each policy type on the way.
    let mut scp_all_allow = true;
    for (i, policy) in set.scp.iter().enumerate() {
        let s = scan(policy, req, has_boundary, assume);
        if let Some(si) = s.deny {
            return Decision::ExplicitDeny {
                statement: stmt_ref(PolicyType::ServiceControl, policy, i, si),
            };
        }
        scp_all_allow &= s.allow.is_some();
    }

    // First allowing statement per grant strength: [Account, Issuer, Direct].
    let mut resource_allow: [Option<usize>; 3] = [None; 3];
    if let Some(policy) = set.resource {
        for (si, st) in policy.statements().iter().enumerate() {
            let Some(grant) = applies(st, req, Slot::Resource, has_boundary, assume) else {
                continue;
            };
            match st.effect() {
                Effect::Deny => {
                    return Decision::ExplicitDeny {
                        statement: stmt_ref(resource_type, policy, 0, si),
                    };
                }
                Effect::Allow => {
                    let slot = &mut resource_allow[grant as usize];
                    slot.get_or_insert(si);
                }
            }
        }
    }

    let mut identity_allow: Option<(usize, usize)> = None;
    for (pi, policy) in set.identity.iter().enumerate() {
        let s = scan(policy, req, has_boundary, assume);
        if let Some(si) = s.deny {
            return Decision::ExplicitDeny {
                statement: stmt_ref(PolicyType::Identity, policy, pi, si),
            };
        }
        if identity_allow.is_none() {
            identity_allow = s.allow.map(|si| (pi, si));
        }
    }

    let mut boundary_ok = true;
    if let Some(policy) = set.boundary {
        let s = scan(policy, req, has_boundary, assume);
        if let Some(si) = s.deny {
            return Decision::ExplicitDeny {
                statement: stmt_ref(PolicyType::PermissionsBoundary, policy, 0, si),
            };
        }
        boundary_ok = s.allow.is_some();
    }

    let mut session_allow = false;
    for (pi, policy) in set.session.iter().enumerate() {
        let s = scan(policy, req, has_boundary, assume);
        if let Some(si) = s.deny {
            return Decision::ExplicitDeny {
                statement: stmt_ref(PolicyType::Session, policy, pi, si),
            };
        }
        session_allow |= s.allow.is_some();
    }
    // A federated-user session created without a session policy has no permissions; a role
    // session without one has its role's.
    let session_ok = if set.session.is_empty() {
        p.kind != PrincipalKind::FederatedUser
    } else {
        session_allow
    };

    // 2. Service control policies.
    if !scp_all_allow {
        return Decision::ImplicitDeny {
            reason: ImplicitDenyReason::NoServiceControlPolicy,
        };
    }

    let resource_ref = |si: usize| set.resource.map(|policy| stmt_ref(resource_type, policy, 0, si));
    let allow_resource = |si: usize| Decision::Allow {
        basis: AllowBasis::ResourcePolicy,
        statement: resource_ref(si),
    };
    let identity_ref = identity_allow.and_then(|(pi, si)| {
        set.identity
            .get(pi)
            .map(|policy| stmt_ref(PolicyType::Identity, policy, pi, si))
    });
    let [by_account, by_issuer, direct] = resource_allow;
    let any_resource_allow = resource_allow.iter().find_map(|s| *s);
    let deny = |reason| Decision::ImplicitDeny { reason };

    let resource_account = req
        .resource_account
        .or_else(|| arn_account(req.resource).filter(|a| !a.is_empty()))
        .unwrap_or(&p.account_id);
    let same_account = resource_account == p.account_id;

    // 3. The root user, and callers that have no identity-based policies.
    match p.kind {
        PrincipalKind::Root if same_account && !required => {
            return Decision::Allow {
                basis: AllowBasis::RootUser,
                statement: None,
            };
        }
        PrincipalKind::Root => {
            // For the root user an account principal is a direct grant; cross-account, root's
            // own side is implicitly allowed.
            return match any_resource_allow {
                Some(si) => allow_resource(si),
                None => deny(no_resource_reason),
            };
        }
        PrincipalKind::Service | PrincipalKind::IdentityProvider | PrincipalKind::Anonymous => {
            return match direct {
                Some(si) => allow_resource(si),
                None => deny(no_resource_reason),
            };
        }
        PrincipalKind::User | PrincipalKind::AssumedRole | PrincipalKind::FederatedUser => {}
    }

    // The identity path: identity policies, then the boundary, then session policies.
    let identity_path = if identity_allow.is_none() {
        Err(Stage::Identity)
    } else if !boundary_ok {
        Err(Stage::Boundary)
    } else if !session_ok {
        Err(Stage::Session)
    } else {
        Ok(())
    };
    // A resource grant to the caller's role (or federating user): boundary and session still apply.
    let issuer_path = by_issuer.map(|si| {
        if !boundary_ok {
            Err(Stage::Boundary)
        } else if !session_ok {
            Err(Stage::Session)
        } else {
            Ok(si)
        }
    });
    let allow_identity = |basis| Decision::Allow {
        basis,
        statement: identity_ref.clone(),
    };

    if !same_account {
        // 6. Cross-account: both sides must allow.
        if any_resource_allow.is_none() {
            return deny(no_resource_reason);
        }
        return match identity_path {
            Ok(()) => allow_identity(AllowBasis::IdentityAndResourcePolicy),
            Err(stage) => deny(stage.reason()),
        };
    }

    // 4./5. Same account.
    if let Some(si) = direct {
        return allow_resource(si);
    }
    if let Some(Ok(si)) = issuer_path {
        return allow_resource(si);
    }
    let issuer_failure = issuer_path.and_then(Result::err);
    if required {
        if any_resource_allow.is_none() {
            return deny(no_resource_reason);
        }
        // Only an account grant enables identity-based policies.
        let delegated = by_account.map(|_| identity_path);
        if let Some(Ok(())) = delegated {
            return allow_identity(AllowBasis::IdentityPolicy);
        }
        let failure = delegated
            .and_then(Result::err)
            .max(issuer_failure)
            .unwrap_or(Stage::Identity);
        return deny(failure.reason());
    }
    match identity_path {
        Ok(()) => allow_identity(AllowBasis::IdentityPolicy),
        Err(stage) => deny(issuer_failure.map_or(stage, |f| f.max(stage)).reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app-AbCdEf";

    fn policy(doc: &str, kind: PolicyKind) -> Policy {
        Policy::parse(doc, kind).expect("parses")
    }

    /// (unfavourable, favourable) answers: whether the request is allowed in each case.
    fn range(set: &PolicySet<'_>) -> (bool, bool) {
        let alice = PrincipalCtx::user("arn:aws:iam::111122223333:user/alice", "AIDAALICE");
        let ctx = ConditionContext::for_request(&alice, time::OffsetDateTime::UNIX_EPOCH);
        let req = Request {
            principal: &alice,
            action: "secretsmanager:GetSecretValue",
            resource: SECRET,
            resource_account: None,
            context: &ctx,
        };
        let varies = |k: &str| k == "aws:sourceip";
        (
            evaluate_assuming(&req, set, &varies, false).is_allowed(),
            evaluate_assuming(&req, set, &varies, true).is_allowed(),
        )
    }

    #[test]
    fn request_dependent_conditions_give_a_range() {
        let by_ip = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*",
                "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
            PolicyKind::Identity,
        );
        let plain = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        let deny_by_ip = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"secretsmanager:*","Resource":"*",
                "Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
            PolicyKind::Identity,
        );
        let deny_for_bob = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},
                "Action":"secretsmanager:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
            PolicyKind::Resource,
        );
        let identity = |identity: &[&Policy]| {
            range(&PolicySet {
                identity,
                ..PolicySet::default()
            })
        };
        assert_eq!(identity(&[&plain]), (true, true), "always");
        assert_eq!(identity(&[&by_ip]), (false, true), "conditionally");
        assert_eq!(identity(&[]), (false, false), "never");
        assert_eq!(
            identity(&[&plain, &deny_by_ip]),
            (false, true),
            "unless denied by address"
        );
        // A statement naming someone else changes nothing for alice.
        let set = PolicySet {
            identity: &[&plain],
            resource: Some(&deny_for_bob),
            ..PolicySet::default()
        };
        assert_eq!(range(&set), (true, true));
        let bounded = PolicySet {
            identity: &[&plain],
            boundary: Some(&by_ip),
            ..PolicySet::default()
        };
        assert_eq!(range(&bounded), (false, true), "the boundary's condition counts");
    }
}
