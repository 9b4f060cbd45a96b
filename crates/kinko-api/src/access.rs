//! Who may read a secret: the one evaluator's answer for every IAM user and role of the secret's
//! account, and the principals of other accounts its resource policy names.
//!
//! `Kinko.ListSecretReaders` (`SecretId`) asks, for each principal, what a
//! `secretsmanager:GetSecretValue` of the secret's current value would decide: the check
//! GetSecretValue makes (the secret's resource policy, tags and condition keys) and, when the
//! secret is encrypted under a customer managed key, the `kms:Decrypt` Secrets Manager makes for
//! the caller (the key policy, with `kms:ViaService` and `aws:CalledVia`, as [`crate::kms::Via`]
//! checks it). Each principal's policies are gathered and put together by
//! [`crate::authz`] itself ([`authz::gather`], [`authz::with_policy_set`]), with a request of that
//! principal made from nowhere in particular (a role as a session of it without session policies).
//!
//! An answer is `Allowed` or `Conditional`; principals that may not read are left out. Conditions
//! on keys that depend on the request itself (its source address, the time, MFA, TLS, the version
//! asked for: [`varies`]) are not guessed: the evaluator decides once with them all going against
//! the principal and once with them all going for it ([`kinko_policy::evaluate_assuming`]);
//! allowed both times is `Allowed`, only the second time `Conditional`.
//!
//! Principals of other accounts are answered by what the secret's side allows: the resource
//! policy (and the key policy), their own account's policies taken to allow ("account X, if its
//! own policies allow").
//!
//! The answer reveals who holds which permissions, as reading every policy would: it is
//! authorized as `iam:GetAccountAuthorizationDetails` (the action that reads all of the account's
//! users, groups, roles and policies), `secretsmanager:GetResourcePolicy` on the secret and, for a
//! customer managed key, `kms:GetKeyPolicy` on the key. Work is bounded: at most
//! [`MAX_PRINCIPALS`] users and roles are evaluated, and the answer says how many there are.

use kinko_core::iam::IamState;
use kinko_core::kms::{KeyManager, KmsKey};
use kinko_core::principal::{Principal, PrincipalKind};
use kinko_core::secret::Secret;
use kinko_policy::PrincipalCtx;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::RequestContext;
use crate::authz::{self, Check, PrincipalPolicies, Resource};
use crate::kinko::{Kinko, KinkoError};
use crate::kms::{KmsError, Via};
use crate::operation::{Authorization, Cx, Operation};

/// How many users and roles one answer evaluates at most.
pub const MAX_PRINCIPALS: usize = 1_000;

/// The role session name a role is evaluated with.
const SESSION_NAME: &str = "kinko-access";

/// Condition keys whose value depends on the request rather than on who makes it or on what:
/// where a policy that could apply tests one, the answer is "conditionally".
pub fn varies(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:vpcsourceip",
        "aws:currenttime",
        "aws:epochtime",
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:securetransport",
        "aws:tokenissuetime",
        "aws:useragent",
        "aws:referer",
        "aws:sourceidentity",
        "aws:userid",
        "aws:requestedregion",
        "aws:viaawsservice",
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
        "aws:tagkeys",
        "secretsmanager:versionid",
        "secretsmanager:versionstage",
        "sts:rolesessionname",
    ];
    KEYS.contains(&key) || key.starts_with("aws:requesttag/")
}

/// Keys that say who the caller is: for a principal named only as "any account" (`*`), a
/// condition on one makes the answer conditional too.
fn varies_for_anyone(key: &str) -> bool {
    varies(key) || key.starts_with("aws:principal") || key == "aws:username"
}

/// One principal's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Access {
    Allowed,
    Conditional,
    Denied,
}

impl Access {
    /// From whether the request is allowed when the request-dependent conditions go against the
    /// caller (`worst`) and when they go for them (`best`).
    fn of(worst: bool, best: bool, usable: bool) -> Access {
        match (usable, worst, best) {
            (false, _, _) | (true, false, false) => Access::Denied,
            (true, true, _) => Access::Allowed,
            (true, false, true) => Access::Conditional,
        }
    }

    /// Both must allow.
    fn and(self, other: Access) -> Access {
        match (self, other) {
            (Access::Denied, _) | (_, Access::Denied) => Access::Denied,
            (Access::Allowed, Access::Allowed) => Access::Allowed,
            _ => Access::Conditional,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListSecretReadersInput {
    secret_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReaderShape {
    arn: String,
    /// `User` or `Role`.
    #[serde(rename = "Type")]
    kind: &'static str,
    access: Access,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct OutsideShape {
    /// As the resource policy names it: an account, a user or role ARN, or `*`.
    principal: String,
    /// The account; none for `*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    access: Access,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListSecretReadersOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    /// The account's users and roles that may read the value (evaluated ones only).
    principals: Vec<ReaderShape>,
    /// Principals of other accounts the resource policy lets read it, if their own policies do.
    other_accounts: Vec<OutsideShape>,
    /// How many users and roles the account has, and how many were evaluated.
    principal_count: usize,
    evaluated_count: usize,
}

/// What a ListSecretReaders request works on.
pub(crate) struct Found {
    secret: Option<Secret>,
    /// The customer managed key the current value is sealed under.
    key: Option<KmsKey>,
    /// The key named can't be found: nobody can read the value.
    key_missing: bool,
    iam: IamState,
}

pub(crate) struct ListSecretReaders;

impl Operation for ListSecretReaders {
    type Service = Kinko;
    const NAME: &'static str = "ListSecretReaders";
    type Input = ListSecretReadersInput;
    type Output = ListSecretReadersOutput;
    type Resolved = Found;
    const READ_ONLY: bool = true;

    fn validate(i: &ListSecretReadersInput) -> Result<(), KinkoError> {
        let mut v = Violations::new();
        v.required("secretId", &i.secret_id);
        v.length("secretId", i.secret_id.as_deref(), 1, 2048, false);
        match v.message() {
            Some(m) => Err(KinkoError::Validation(m)),
            None => Ok(()),
        }
    }

    async fn resolve(cx: &Cx<'_>, i: &ListSecretReadersInput) -> Result<Found, KinkoError> {
        let id = i.secret_id.as_deref().unwrap_or_default();
        let secret = crate::secretsmanager::lookup(cx, id)
            .await
            .map_err(|e| KinkoError::Internal(e.to_string()))?;
        let iam = cx.services.store.iam_state(cx.account()).await?;
        let (mut key, mut key_missing) = (None, false);
        if let Some(s) = &secret {
            let via = Via::secretsmanager_in(cx, &s.region);
            let sealed_by = s.current().and_then(|v| v.kms_key_arn.as_deref());
            let found = match (sealed_by, s.kms_key_id.as_deref()) {
                (Some(arn), _) => Some(via.key_by_arn(arn).await),
                (None, Some(key_ref)) => Some(via.key(key_ref).await),
                (None, None) => None,
            };
            match found {
                Some(Ok(k)) if k.key_manager == KeyManager::Customer => key = Some(k),
                Some(Ok(_)) | None => {}
                Some(Err(KmsError::Internal(m))) => return Err(KinkoError::Internal(m)),
                Some(Err(_)) => key_missing = true,
            }
        }
        Ok(Found {
            secret,
            key,
            key_missing,
            iam,
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a ListSecretReadersInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KinkoError> {
        let id = i.secret_id.as_deref().unwrap_or_default();
        let policy_check = match &found.secret {
            Some(s) => crate::secretsmanager::secret_check("secretsmanager:GetResourcePolicy", s),
            None => crate::secretsmanager::unresolved_check("secretsmanager:GetResourcePolicy", id),
        }
        .shown_as(id);
        let mut a = Authorization::of(Check::new("iam:GetAccountAuthorizationDetails", Resource::Any))
            .and(policy_check);
        if let Some(key) = &found.key {
            a = a.and(crate::kms::key_check(cx.account(), "kms:GetKeyPolicy", key));
        }
        Ok(a)
    }

    async fn run(
        cx: &Cx<'_>,
        _: &ListSecretReadersInput,
        found: Found,
    ) -> Result<ListSecretReadersOutput, KinkoError> {
        let Some(secret) = &found.secret else {
            return Err(KinkoError::ResourceNotFound(
                crate::secretsmanager::error::NOT_FOUND.to_owned(),
            ));
        };
        let org_id = cx.services.store.organization_id_of(&secret.account_id).await?;
        let version = secret.current().map_or("", |v| v.id.as_str());
        let context = crate::secretsmanager::model::context(&secret.arn, version);
        let names = crate::kms::context_names(&context);
        let via = Via::secretsmanager_in(cx, &secret.region);
        let read = crate::secretsmanager::secret_check("secretsmanager:GetSecretValue", secret);
        let decrypt = found
            .key
            .as_ref()
            .map(|key| via.check("kms:Decrypt", key, &context, &names));
        let checks: Vec<&Check<'_>> = std::iter::once(&read).chain(decrypt.as_ref()).collect();
        let ask = Ask {
            cx,
            checks: &checks,
            org_id: org_id.as_deref(),
            key_missing: found.key_missing,
        };

        let iam = &found.iam;
        let everyone = principals(iam);
        let mut readers = Vec::new();
        for &(kind, ref principal) in everyone.iter().take(MAX_PRINCIPALS) {
            let pp = authz::gather(iam, &cx.services.policies, principal);
            let access = ask.access(principal, &pp, varies);
            if access != Access::Denied {
                let arn = match &principal.kind {
                    PrincipalKind::AssumedRole { role_name, .. } => {
                        iam.role(role_name).map_or_else(String::new, |r| r.arn.clone())
                    }
                    _ => principal.arn.clone(),
                };
                readers.push(ReaderShape { arn, kind, access });
            }
        }

        let mut other_accounts = Vec::new();
        for named in secret
            .resource_policy
            .as_deref()
            .map(kinko_policy::allowed_principals)
            .unwrap_or_default()
        {
            let Some(outside) = Outside::of(&named, secret) else {
                continue;
            };
            let pp = authz::outside(outside.ctx.clone(), &cx.services.policies);
            let principal = Principal::root(&outside.account);
            let test: fn(&str) -> bool = if named == "*" { varies_for_anyone } else { varies };
            let access = ask.access(&principal, &pp, test);
            if access != Access::Denied {
                other_accounts.push(OutsideShape {
                    principal: named,
                    account_id: (outside.account != ANYONE).then(|| outside.account.clone()),
                    access,
                });
            }
        }

        Ok(ListSecretReadersOutput {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            principals: readers,
            other_accounts,
            principal_count: everyone.len(),
            evaluated_count: everyone.len().min(MAX_PRINCIPALS),
        })
    }
}

/// The checks one read makes, asked for one principal after another.
struct Ask<'a> {
    cx: &'a Cx<'a>,
    checks: &'a [&'a Check<'a>],
    org_id: Option<&'a str>,
    key_missing: bool,
}

impl Ask<'_> {
    /// What every check decides for `principal` (with policies `pp`), combined.
    fn access(&self, principal: &Principal, pp: &PrincipalPolicies, test: fn(&str) -> bool) -> Access {
        if self.key_missing {
            return Access::Denied;
        }
        let rc = RequestContext::new(principal.clone(), &self.cx.rc.region, &self.cx.rc.request_id);
        self.checks.iter().fold(Access::Allowed, |acc, check| {
            if authz::rules::before_policies(&rc, check).is_err()
                || authz::rules::after_policies(&rc, check).is_err()
            {
                return Access::Denied;
            }
            let ((worst, best), usable) = authz::with_policy_set(
                self.cx.services,
                &rc,
                check,
                pp,
                self.org_id.map(str::to_owned),
                |req, set| {
                    let allowed = |favourable| {
                        kinko_policy::evaluate_assuming(req, set, &test, favourable).is_allowed()
                    };
                    (allowed(false), allowed(true))
                },
            );
            acc.and(Access::of(worst, best, usable))
        })
    }
}

/// The users, then the roles, of an account, as the principals their requests are made by.
fn principals(iam: &IamState) -> Vec<(&'static str, Principal)> {
    let users = iam.users.iter().map(|u| {
        let p = Principal {
            account_id: iam.account_id.clone(),
            arn: u.arn.clone(),
            kind: PrincipalKind::User {
                name: u.name.clone(),
                user_id: u.user_id.clone(),
            },
        };
        ("User", p)
    });
    let roles = iam.roles.iter().map(|r| {
        let p = Principal {
            account_id: iam.account_id.clone(),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{SESSION_NAME}",
                iam.account_id, r.name
            ),
            kind: PrincipalKind::AssumedRole {
                role_name: r.name.clone(),
                role_id: r.role_id.clone(),
                session_name: SESSION_NAME.to_owned(),
            },
        };
        ("Role", p)
    });
    users.chain(roles).collect()
}

/// The account that stands for "any account" (`*`).
const ANYONE: &str = "*";

/// A principal of another account a resource policy names.
struct Outside {
    account: String,
    ctx: PrincipalCtx,
}

impl Outside {
    /// `named` as the evaluator sees it, when it is of another account than `secret`'s (the
    /// secret's own users and roles are evaluated with their own policies).
    fn of(named: &str, secret: &Secret) -> Option<Outside> {
        if named == ANYONE {
            return Some(Outside {
                account: ANYONE.to_owned(),
                ctx: PrincipalCtx::root("000000000000"),
            });
        }
        if named.len() == 12 && named.bytes().all(|b| b.is_ascii_digit()) {
            return (named != secret.account_id).then(|| Outside {
                account: named.to_owned(),
                ctx: PrincipalCtx::root(named),
            });
        }
        let arn = kinko_core::arn::Arn::parse(named)?;
        if arn.account_id == secret.account_id || arn.service != "iam" {
            return None;
        }
        let account = arn.account_id.to_owned();
        let id = secret
            .resource_policy_principals
            .iter()
            .find(|b| b.arn == named)
            .map_or("", |b| b.id.as_str());
        let ctx = if arn.resource == "root" {
            PrincipalCtx::root(&account)
        } else if arn.resource.starts_with("role/") {
            PrincipalCtx::assumed_role(named, SESSION_NAME, id)
        } else if arn.resource.starts_with("user/") {
            PrincipalCtx::user(named, id)
        } else {
            return None;
        };
        Some(Outside { account, ctx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keys_vary_and_identity_keys_do_not() {
        assert!(varies("aws:sourceip"));
        assert!(varies("aws:requesttag/team"));
        assert!(varies("secretsmanager:versionstage"));
        assert!(!varies("aws:principalarn"));
        assert!(!varies("secretsmanager:resourcetag/team"));
        assert!(varies_for_anyone("aws:principalorgid"));
    }

    #[test]
    fn both_checks_must_allow() {
        use Access::*;
        assert_eq!(Allowed.and(Allowed), Allowed);
        assert_eq!(Allowed.and(Conditional), Conditional);
        assert_eq!(Conditional.and(Denied), Denied);
    }
}
