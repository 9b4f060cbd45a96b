//! GetFederationToken: credentials of a federated user (`arn:aws:sts::<account>:federated-user/<name>`)
//! that an IAM user, or the root user, issues for someone else (STS API Reference,
//! GetFederationToken):
//! - only long-term credentials may call it: a role session or any other temporary credentials
//!   get AWS's `Cannot call GetFederationToken with session credentials`;
//! - an IAM user needs `sts:GetFederationToken` on the federated user's ARN (and `sts:TagSession`
//!   to pass `Tags`); the root user needs no permission;
//! - the federated user's permissions are the intersection of the issuing user's identity-based
//!   policies (and permissions boundary) and the session policies (`Policy`, `PolicyArns`);
//!   without a session policy it has no permissions at all. For one the root user issued, the
//!   session policies alone. This is evaluated on the one authorization path
//!   ([`crate::authz`]: the session carries its policies as an AssumeRole session does);
//! - it can call neither IAM nor STS, except `GetCallerIdentity` ([`crate::authz::rules`]);
//! - `DurationSeconds` 900-129600, 43200 by default; the root user's sessions last at most an
//!   hour (a longer request is capped, as AWS documents).

use kinko_core::principal::{Principal, PrincipalKind};
use kinko_wire::query::Params;
use kinko_wire::validate::Violations;

use super::{Sts, StsError, issue, packed_policy_size, session_policies};
use crate::authz::{Check, Resource};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};
use crate::{Session, SessionKind};

pub(crate) struct GetFederationToken;

pub(crate) struct Input {
    name: String,
    policy: Option<String>,
    policy_arns: Vec<String>,
    tags: Vec<(String, String)>,
    duration: Option<i64>,
}

impl FromRequest<Sts> for Input {
    fn from_request(params: &Params) -> Result<Self, StsError> {
        let name = params.get("Name").map(str::to_owned);
        let policy = params.get("Policy").map(str::to_owned);
        let mut v = Violations::new();
        v.required("name", &name);
        v.length("name", name.as_deref(), 2, 32, false);
        if let Some(n) = &name {
            v.pattern("name", Some(n), r"[\w+=,.@-]*", super::valid_session_name(n));
        }
        v.length("policy", policy.as_deref(), 1, 2048, false);
        let policy_arns = super::read_policy_arns(params);
        v.list_length("policyArns", Some(&policy_arns), 0, 10);
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        Ok(Input {
            name: name.unwrap_or_default(),
            policy,
            policy_arns,
            tags: super::read_tags(params),
            duration: super::duration(params, 900, 129_600)?,
        })
    }
}

/// The federated user's ARN, which the permission is checked on.
pub(crate) struct Federated {
    arn: String,
}

impl Operation for GetFederationToken {
    type Service = Sts;
    const NAME: &'static str = "GetFederationToken";
    // Read-only, recorded with the credentials it issued (never their secrets), as AssumeRole.
    const RESPONSE_ELEMENTS: bool = true;
    type Input = Input;
    type Output = QueryReply;
    type Resolved = Federated;

    fn validate(i: &Input) -> Result<(), StsError> {
        super::validate_session_tags(&i.tags)
    }

    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Federated, StsError> {
        if cx.rc.session.is_some() {
            return Err(StsError::AccessDenied(
                "Cannot call GetFederationToken with session credentials".into(),
            ));
        }
        Ok(Federated {
            arn: federated_user_arn(cx.account(), &i.name),
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Input,
        found: &'a Federated,
    ) -> Result<Authorization<'a>, StsError> {
        let resource = Resource::Arn {
            arn: &found.arn,
            account_id: cx.account(),
        };
        let check = Check::new("sts:GetFederationToken", resource).request_tags(i.tags.as_slice());
        let mut authorization = Authorization::of(check.clone());
        // Session tags need sts:TagSession too (IAM User Guide, "Permissions required to add
        // session tags").
        if !i.tags.is_empty() {
            let mut tag = check;
            tag.action = "sts:TagSession";
            authorization = authorization.and(tag);
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Federated) -> Result<QueryReply, StsError> {
        let caller = &cx.rc.principal;
        let (user_name, user_id) = match &caller.kind {
            PrincipalKind::User { name, user_id } => (Some(name.clone()), user_id.clone()),
            PrincipalKind::Root => (None, caller.account_id.clone()),
            // Sessions were refused in `resolve`, unsigned requests before it.
            PrincipalKind::AssumedRole { .. }
            | PrincipalKind::FederatedUser { .. }
            | PrincipalKind::Anonymous => {
                return Err(StsError::AccessDenied(
                    "Cannot call GetFederationToken with session credentials".into(),
                ));
            }
        };
        let root = caller.is_root();
        let duration = i.duration.unwrap_or(43_200);
        let duration = if root { duration.min(3600) } else { duration };
        let policies = session_policies(cx, cx.account(), i.policy.as_deref(), &i.policy_arns).await?;
        let principal = Principal {
            account_id: caller.account_id.clone(),
            arn: found.arn.clone(),
            kind: PrincipalKind::FederatedUser {
                name: i.name.clone(),
                user_name,
                user_id,
            },
        };
        let now = cx.now();
        let session = Session {
            kind: SessionKind::FederationToken,
            policies,
            tags: i.tags.clone(),
            transitive_tag_keys: vec![],
            issued: now,
            expiration: now.plus_millis(duration * 1000),
            source_identity: None,
            mfa_authenticated: None,
        };
        let mut x = cx.xml::<Sts>();
        issue(cx, principal, session, &mut x)?;
        x.open("FederatedUser")
            .elem("FederatedUserId", &format!("{}:{}", caller.account_id, i.name))
            .elem("Arn", &found.arn)
            .close("FederatedUser");
        if let Some(p) = &i.policy {
            x.elem("PackedPolicySize", &packed_policy_size(p));
        }
        Ok(QueryReply::Result(x))
    }
}

/// `arn:aws:sts::<account>:federated-user/<name>`.
pub(crate) fn federated_user_arn(account: &str, name: &str) -> String {
    format!("arn:aws:sts::{account}:federated-user/{name}")
}
