//! AWS STS (Query protocol): GetCallerIdentity, AssumeRole, GetSessionToken.
//!
//! Temporary credentials are self-contained sealed tokens ([`token`]); the HTTP pipeline opens them
//! with [`open_session_token`] to authenticate requests signed with them.

pub mod token;

use kinko_core::principal::{Principal, PrincipalKind};
use kinko_wire::WireError;
use kinko_wire::query::{Params, Xml};
use kinko_wire::validate::Violations;
use rand::Rng;
use zeroize::Zeroizing;

use crate::authz::{self, Check, Resource, ResourcePolicy};
use crate::{RequestContext, Services, Session, SessionKind};

pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

fn validation(msg: impl Into<String>) -> WireError {
    WireError::new("ValidationError", 400, msg)
}

fn internal(e: impl std::fmt::Display, rc: &RequestContext) -> WireError {
    tracing::error!(request_id = %rc.request_id, error = %e, "sts internal error");
    WireError::new("InternalFailure", 500, "An internal error occurred.")
}

fn access_denied(msg: impl Into<String>) -> WireError {
    WireError::new("AccessDenied", 403, msg)
}

/// Runs one STS action and returns the XML response body.
pub async fn handle(services: &Services, rc: &RequestContext, params: &Params) -> Result<String, WireError> {
    match params.action() {
        Some("GetCallerIdentity") => Ok(get_caller_identity(rc)),
        Some("AssumeRole") => assume_role(services, rc, params).await,
        Some("GetSessionToken") => get_session_token(services, rc, params).await,
        Some(other) => Err(WireError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
        None => Err(WireError::new("MissingAction", 400, "Missing Action")),
    }
}

/// The `UserId` GetCallerIdentity reports.
pub fn user_id(p: &Principal) -> String {
    match &p.kind {
        PrincipalKind::Root => p.account_id.clone(),
        PrincipalKind::User { user_id, .. } => user_id.clone(),
        PrincipalKind::AssumedRole {
            role_id,
            session_name,
            ..
        } => format!("{role_id}:{session_name}"),
    }
}

fn get_caller_identity(rc: &RequestContext) -> String {
    let mut x = Xml::response("GetCallerIdentity", XMLNS);
    x.elem("UserId", &user_id(&rc.principal))
        .elem("Account", &rc.principal.account_id)
        .elem("Arn", &rc.principal.arn);
    x.finish("GetCallerIdentity", &rc.request_id)
}

fn duration(params: &Params, default: i64, min: i64, max: i64) -> Result<i64, WireError> {
    let Some(raw) = params.get("DurationSeconds") else {
        return Ok(default);
    };
    let d: i64 = raw
        .parse()
        .map_err(|_| validation(format!("Value '{raw}' for parameter DurationSeconds is invalid.")))?;
    let mut v = Violations::new();
    v.range("durationSeconds", Some(d), min, max);
    match v.message() {
        Some(m) => Err(validation(m)),
        None => Ok(d),
    }
}

fn temporary_access_key_id() -> String {
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let tail: String = (0..16)
        .map(|_| char::from(B32[rng.random_range(0..B32.len())]))
        .collect();
    format!("ASIA{tail}")
}

fn temporary_secret() -> Zeroizing<String> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
    let mut rng = rand::rng();
    Zeroizing::new(
        (0..40)
            .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
            .collect(),
    )
}

/// Issues credentials for `principal` and writes the `<Credentials>` element.
fn issue(
    services: &Services,
    rc: &RequestContext,
    principal: Principal,
    session: Session,
    x: &mut Xml,
) -> Result<(), WireError> {
    let access_key_id = temporary_access_key_id();
    let secret = temporary_secret();
    let expiration = session.expiration;
    let claims = token::Claims {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret.clone(),
        principal,
        session,
    };
    let token = token::seal(&services.keyring.root().current(), &claims).map_err(|e| internal(e, rc))?;
    x.open("Credentials")
        .elem("AccessKeyId", &access_key_id)
        .elem("SecretAccessKey", &secret)
        .elem("SessionToken", &token)
        .elem("Expiration", &kinko_wire::query::timestamp(expiration.millis()))
        .close("Credentials");
    Ok(())
}

fn valid_session_name(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

async fn assume_role(services: &Services, rc: &RequestContext, params: &Params) -> Result<String, WireError> {
    let role_arn = params.get("RoleArn").map(str::to_owned);
    let session_name = params.get("RoleSessionName").map(str::to_owned);
    let policy = params.get("Policy").map(str::to_owned);
    let external_id = params.get("ExternalId").map(str::to_owned);
    let source_identity = params.get("SourceIdentity").map(str::to_owned);
    let mut v = Violations::new();
    v.required("roleArn", &role_arn);
    v.length("roleArn", role_arn.as_deref(), 20, 2048, false);
    v.required("roleSessionName", &session_name);
    v.length("roleSessionName", session_name.as_deref(), 2, 64, false);
    if let Some(n) = &session_name {
        v.pattern("roleSessionName", Some(n), r"[\w+=,.@-]*", valid_session_name(n));
    }
    v.length("policy", policy.as_deref(), 1, 2048, false);
    v.length("externalId", external_id.as_deref(), 2, 1224, false);
    v.length("sourceIdentity", source_identity.as_deref(), 2, 64, false);
    if let Some(m) = v.message() {
        return Err(validation(m));
    }
    let role_arn = role_arn.unwrap_or_default();
    let session_name = session_name.unwrap_or_default();
    let tags: Vec<(String, String)> = params
        .struct_list("Tags")
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            (
                t.get("Key").cloned().unwrap_or_default(),
                t.get("Value").cloned().unwrap_or_default(),
            )
        })
        .collect();
    if tags.len() > 50 {
        return Err(validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    let mut lowered: Vec<String> = tags.iter().map(|(k, _)| k.to_lowercase()).collect();
    lowered.sort();
    lowered.dedup();
    if lowered.len() != tags.len() {
        return Err(WireError::new(
            "InvalidParameterValue",
            400,
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ));
    }
    if rc.principal.is_root() {
        return Err(access_denied("Roles may not be assumed by root accounts."));
    }
    let chained = matches!(rc.principal.kind, PrincipalKind::AssumedRole { .. });
    let duration = duration(params, 3600, 900, 43200)?;

    // arn:aws:iam::<account>:role/<path/>name
    let parsed = kinko_core::arn::Arn::parse(&role_arn)
        .filter(|a| a.service == "iam" && a.resource.starts_with("role/") && a.account_id.len() == 12)
        .ok_or_else(|| validation(format!("{role_arn} is invalid")))?;
    let role_account = parsed.account_id.to_owned();
    let role_name = parsed.resource.rsplit('/').next().unwrap_or_default().to_owned();
    let denied = || {
        access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            rc.principal.arn
        ))
    };
    let iam = services
        .store
        .iam_state(&role_account)
        .await
        .map_err(|e| internal(e, rc))?;
    let Some(role) = iam.role(&role_name).filter(|r| r.arn == role_arn).cloned() else {
        return Err(denied());
    };
    let trust = trust_as_saved(services, rc, &role)
        .await
        .map_err(|e| internal(e, rc))?;
    let mut context: Vec<(&str, &str)> = vec![("sts:RoleSessionName", &session_name)];
    if let Some(e) = &external_id {
        context.push(("sts:ExternalId", e));
    }
    if let Some(s) = &source_identity {
        context.push(("sts:SourceIdentity", s));
    }
    authz::check(
        services,
        rc,
        &Check {
            action: "sts:AssumeRole",
            resource: Resource::Arn {
                arn: &role.arn,
                account_id: &role_account,
            },
            resource_policy: Some(ResourcePolicy::Trust(&trust)),
            context: &context,
            request_tags: &tags,
        },
    )
    .await
    .map_err(|d| access_denied(d.message))?;
    if !tags.is_empty() {
        // Session tags need sts:TagSession too, from both the trust policy and the caller.
        authz::check(
            services,
            rc,
            &Check {
                action: "sts:TagSession",
                resource: Resource::Arn {
                    arn: &role.arn,
                    account_id: &role_account,
                },
                resource_policy: Some(ResourcePolicy::Trust(&trust)),
                context: &context,
                request_tags: &tags,
            },
        )
        .await
        .map_err(|d| access_denied(d.message))?;
    }
    if duration > role.max_session_duration {
        return Err(validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    if chained && duration > 3600 {
        return Err(validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    let mut policies = Vec::new();
    if let Some(p) = &policy {
        authz::validate_session_policy(p).map_err(|m| WireError::new("MalformedPolicyDocument", 400, m))?;
        policies.push(p.clone());
    }
    for arn in params.struct_list("PolicyArns").unwrap_or_default() {
        let arn = arn.get("arn").cloned().unwrap_or_default();
        let doc = authz::managed_policy_document(services, &role_account, &arn)
            .await
            .map_err(|e| internal(e, rc))?
            .ok_or_else(|| validation(format!("Policy {arn} does not exist or is not attachable.")))?;
        policies.push(doc);
    }
    let now = services.clock.now();
    let principal = Principal {
        account_id: role_account.clone(),
        arn: format!(
            "arn:aws:sts::{role_account}:assumed-role/{}/{session_name}",
            role.name
        ),
        kind: PrincipalKind::AssumedRole {
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            session_name: session_name.clone(),
        },
    };
    let mut x = Xml::response("AssumeRole", XMLNS);
    let assumed_arn = principal.arn.clone();
    let session = Session {
        kind: SessionKind::AssumedRole,
        policies,
        tags,
        expiration: now.plus_millis(duration * 1000),
        source_identity: source_identity.clone(),
    };
    issue(services, rc, principal, session, &mut x)?;
    x.open("AssumedRoleUser")
        .elem("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
        .elem("Arn", &assumed_arn)
        .close("AssumedRoleUser");
    if let Some(p) = &policy {
        // Percentage of the packed-policy limit used, as AWS reports it (an estimate).
        x.elem("PackedPolicySize", &(p.len() * 100 / 2048).max(1).to_string());
    }
    x.opt("SourceIdentity", source_identity.as_deref());
    Ok(x.finish("AssumeRole", &rc.request_id))
}

/// A principal id no entity has: what a trust policy names once the principal it named is gone.
const GONE_PRINCIPAL: &str = "AIDADELETEDPRINCIPAL0";

/// The trust policy as IAM holds it: IAM binds the users and roles a trust policy names to their
/// unique ids when the policy is saved, so a user or role re-created under the same name later is
/// not trusted. The caller's ARN is replaced when the caller was created after the policy was saved.
async fn trust_as_saved(
    services: &Services,
    rc: &RequestContext,
    role: &kinko_core::iam::Role,
) -> Result<String, kinko_core::store::StoreError> {
    let saved = role.assume_role_policy_updated.unwrap_or(role.create_date);
    let doc = role.assume_role_policy_document.clone();
    let caller_iam = services.store.iam_state(&rc.principal.account_id).await?;
    let caller = match &rc.principal.kind {
        PrincipalKind::User { name, .. } => caller_iam.user(name).map(|u| (u.arn.clone(), u.create_date)),
        PrincipalKind::AssumedRole { role_name, .. } => {
            caller_iam.role(role_name).map(|r| (r.arn.clone(), r.create_date))
        }
        PrincipalKind::Root => None,
    };
    Ok(match caller {
        Some((arn, created)) if created > saved => {
            doc.replace(&format!("\"{arn}\""), &format!("\"{GONE_PRINCIPAL}\""))
        }
        _ => doc,
    })
}

async fn get_session_token(
    services: &Services,
    rc: &RequestContext,
    params: &Params,
) -> Result<String, WireError> {
    if rc.session.is_some() {
        return Err(access_denied(
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    // Root sessions last at most an hour: a longer request is capped, not refused (AWS's docs).
    let duration = duration(
        params,
        if rc.principal.is_root() { 3600 } else { 43200 },
        900,
        129_600,
    )?;
    let duration = if rc.principal.is_root() {
        duration.min(3600)
    } else {
        duration
    };
    let now = services.clock.now();
    let session = Session {
        kind: SessionKind::SessionToken,
        policies: vec![],
        tags: vec![],
        expiration: now.plus_millis(duration * 1000),
        source_identity: None,
    };
    let mut x = Xml::response("GetSessionToken", XMLNS);
    issue(services, rc, rc.principal.clone(), session, &mut x)?;
    Ok(x.finish("GetSessionToken", &rc.request_id))
}

/// Why temporary credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefused {
    /// Not a token of this installation, or not for this access key.
    Invalid,
    Expired,
}

/// Opens the session token of a request signed with temporary credentials.
pub fn open_session_token(
    services: &Services,
    access_key_id: &str,
    token: &str,
) -> Result<token::Claims, SessionRefused> {
    // Only the current root key: rotating it ends every session sealed before.
    let claims = token::open(&services.keyring.root().current(), token).ok_or(SessionRefused::Invalid)?;
    if claims.access_key_id != access_key_id {
        return Err(SessionRefused::Invalid);
    }
    if services.clock.now() >= claims.session.expiration {
        return Err(SessionRefused::Expired);
    }
    Ok(claims)
}
