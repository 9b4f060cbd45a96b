//! AWS STS (Query protocol): GetCallerIdentity, AssumeRole, GetSessionToken,
//! AssumeRoleWithWebIdentity ([`web_identity`]), AssumeRoleWithSAML ([`saml`]), GetFederationToken ([`federation`]),
//! GetAccessKeyInfo ([`access_key_info`]) and DecodeAuthorizationMessage
//! ([`authorization_message`]), each an operation of the one [`Operation`] contract.
//!
//! Temporary credentials are self-contained sealed tokens ([`token`]); the HTTP pipeline opens them
//! with [`open_session_token`] to authenticate requests signed with them.

mod access_key_info;
pub mod authorization_message;
mod error;
mod federation;
pub mod saml;
pub mod token;
pub mod web_identity;

use kinko_core::iam::Role;
use kinko_core::mfa::Holder;
use kinko_core::principal::{Principal, PrincipalKind};
use kinko_wire::WireError;
use kinko_wire::query::{Params, Xml};
use kinko_wire::validate::Violations;
use rand::Rng;
use zeroize::Zeroizing;

use crate::authz::{self, Bound, Check, Resource, ResourcePolicy};
use crate::operation::{
    Authorization, Cx, FromRequest, Operation, Query, QueryReply, QueryService, Service, execute, finish,
};
use crate::{RequestContext, Services, Session, SessionKind};

pub use error::StsError;

pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The API version STS speaks.
pub const VERSION: &str = "2011-06-15";

/// STS, as the one operation contract sees it.
pub struct Sts;

impl Service for Sts {
    const PREFIX: &'static str = "sts";
    const EVENT_SOURCE: &'static str = "sts.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // Issued credentials are recorded by their access key id and expiration; the secret
        // access key and the session token never are. Nor are the proofs a caller presents: an
        // MFA code, a web identity token, a SAML assertion. Session policies are kept.
        omitted: &[
            "SecretAccessKey",
            "SessionToken",
            "TokenCode",
            "WebIdentityToken",
            "SAMLAssertion",
        ],
        hidden: &[],
        verbatim: &[],
        numbers: &["DurationSeconds", "PackedPolicySize"],
        booleans: &[],
    };
    type Protocol = Query;
    type Error = StsError;
}

impl QueryService for Sts {
    const XMLNS: &'static str = XMLNS;
}

/// Runs one STS action and returns the XML response body.
pub async fn handle(services: &Services, rc: &RequestContext, params: &Params) -> Result<String, WireError> {
    let Some(action) = params.action() else {
        return Err(StsError::MissingAction.to_wire());
    };
    let result = match action {
        "GetCallerIdentity" => execute::<GetCallerIdentity>(services, rc, params).await,
        "AssumeRole" => execute::<AssumeRole>(services, rc, params).await,
        "GetSessionToken" => execute::<GetSessionToken>(services, rc, params).await,
        "DecodeAuthorizationMessage" => {
            execute::<authorization_message::DecodeAuthorizationMessage>(services, rc, params).await
        }
        "GetFederationToken" => execute::<federation::GetFederationToken>(services, rc, params).await,
        "GetAccessKeyInfo" => execute::<access_key_info::GetAccessKeyInfo>(services, rc, params).await,
        "AssumeRoleWithWebIdentity" => {
            execute::<web_identity::AssumeRoleWithWebIdentity>(services, rc, params).await
        }
        "AssumeRoleWithSAML" => execute::<saml::AssumeRoleWithSaml>(services, rc, params).await,
        other => Err(StsError::InvalidAction(format!(
            "Could not find operation {other} for version {VERSION}"
        ))),
    };
    finish(rc, action, result).map(|body| String::from_utf8(body).unwrap_or_default())
}

/// `DurationSeconds`, if given: an integer within `min..=max`.
fn duration(params: &Params, min: i64, max: i64) -> Result<Option<i64>, StsError> {
    let Some(raw) = params.get("DurationSeconds") else {
        return Ok(None);
    };
    let d: i64 = raw.parse().map_err(|_| {
        StsError::Validation(format!("Value '{raw}' for parameter DurationSeconds is invalid."))
    })?;
    let mut v = Violations::new();
    v.range("durationSeconds", Some(d), min, max);
    match v.message() {
        Some(m) => Err(StsError::Validation(m)),
        None => Ok(Some(d)),
    }
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

/// AWS's answers when the MFA code of a GetSessionToken or AssumeRole is not accepted: the
/// serial number names no device of the caller, or the code is wrong or used. (AWS's messages, as
/// the AWS CLI shows them; kinko leaves out the trailing space of the second.)
pub const MFA_UNKNOWN_DEVICE: &str = "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.";
pub const MFA_INVALID_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";

/// `SerialNumber` and `TokenCode` of GetSessionToken and AssumeRole.
pub(crate) struct MfaInput {
    serial_number: Option<String>,
    token_code: Option<Zeroizing<String>>,
}

impl MfaInput {
    /// Reads them into `v` (`SerialNumber`: 9-256 characters of `[\w+=/:,.@-]*`; `TokenCode`:
    /// six digits, reported without its value).
    fn read(params: &Params, v: &mut Violations) -> MfaInput {
        let serial_number = params.get("SerialNumber").map(str::to_owned);
        let token_code = params.get("TokenCode").map(str::to_owned);
        v.length("serialNumber", serial_number.as_deref(), 9, 256, false);
        if let Some(sn) = &serial_number {
            let ok = sn
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || "+=/:,.@-".contains(c));
            v.pattern("serialNumber", Some(sn), r"[\w+=/:,.@-]*", ok);
        }
        v.length("tokenCode", token_code.as_deref(), 6, 6, true);
        if let Some(code) = &token_code {
            v.sensitive_pattern("tokenCode", Some(code), r"[\d]*", crate::mfa::is_code(code));
        }
        MfaInput {
            serial_number,
            token_code: token_code.map(Zeroizing::new),
        }
    }

    /// Proves the code for the calling IAM user's (or root user's) device, when the request carries one: when it
    /// was proved. Done before the request is authorized, which sees `aws:MultiFactorAuthPresent`.
    async fn prove(&self, cx: &Cx<'_>) -> Result<Option<kinko_core::Timestamp>, StsError> {
        let (serial_number, code) = match (&self.serial_number, &self.token_code) {
            (None, None) => return Ok(None),
            (Some(sn), Some(code)) => (sn, code),
            (Some(_), None) => return Err(StsError::AccessDenied(MFA_INVALID_CODE.into())),
            (None, Some(_)) => return Err(StsError::AccessDenied(MFA_UNKNOWN_DEVICE.into())),
        };
        // IAM users and the root user have devices; a role session has none of its own.
        let holder = match &cx.rc.principal.kind {
            PrincipalKind::User { name, .. } => Holder::User(name),
            PrincipalKind::Root => Holder::Root,
            PrincipalKind::AssumedRole { .. }
            | PrincipalKind::FederatedUser { .. }
            | PrincipalKind::Anonymous => {
                return Err(StsError::AccessDenied(MFA_UNKNOWN_DEVICE.into()));
            }
        };
        match crate::mfa::prove(cx.services, cx.account(), holder, serial_number, code).await {
            Ok(at) => Ok(Some(at)),
            Err(crate::mfa::MfaRefused::NoDevice) => Err(StsError::AccessDenied(MFA_UNKNOWN_DEVICE.into())),
            Err(crate::mfa::MfaRefused::InvalidCode) => Err(StsError::AccessDenied(MFA_INVALID_CODE.into())),
            Err(crate::mfa::MfaRefused::Store(e)) => Err(e.into()),
            Err(crate::mfa::MfaRefused::Internal(m)) => Err(StsError::Internal(m)),
        }
    }
}

/// Temporary credentials, as issued.
pub struct Issued {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: String,
    pub expiration: kinko_core::Timestamp,
}

/// Issues credentials for `principal`: the one place session credentials are made.
fn mint(services: &Services, principal: Principal, session: Session) -> Result<Issued, StsError> {
    let access_key_id = access_key_info::temporary_access_key_id(&principal.account_id);
    let secret = temporary_secret();
    let expiration = session.expiration;
    let claims = token::Claims {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret.clone(),
        principal,
        session,
    };
    let session_token =
        token::seal(&services.keyring.root().current(), &claims).map_err(StsError::Internal)?;
    Ok(Issued {
        access_key_id,
        secret_access_key: secret,
        session_token,
        expiration,
    })
}

/// Issues credentials for `principal` and writes the `<Credentials>` element.
fn issue(cx: &Cx<'_>, principal: Principal, session: Session, x: &mut Xml) -> Result<(), StsError> {
    let issued = mint(cx.services, principal, session)?;
    x.open("Credentials")
        .elem("AccessKeyId", &issued.access_key_id)
        .elem("SecretAccessKey", &issued.secret_access_key)
        .elem("SessionToken", &issued.session_token)
        .elem(
            "Expiration",
            &kinko_wire::query::timestamp(issued.expiration.millis()),
        )
        .close("Credentials");
    Ok(())
}

/// The session policies of an AssumeRole* call: the inline `Policy` (validated) and the documents
/// of the `PolicyArns`, as the session will carry them.
async fn session_policies(
    cx: &Cx<'_>,
    account: &str,
    policy: Option<&str>,
    policy_arns: &[String],
) -> Result<Vec<String>, StsError> {
    let mut policies = Vec::new();
    if let Some(p) = policy {
        authz::validate_session_policy(p).map_err(StsError::MalformedPolicyDocument)?;
        policies.push(p.to_owned());
    }
    for arn in policy_arns {
        let doc = authz::managed_policy_document(cx.services, account, arn)
            .await?
            .ok_or_else(|| {
                StsError::Validation(format!("Policy {arn} does not exist or is not attachable."))
            })?;
        policies.push(doc);
    }
    Ok(policies)
}

/// The principal of a session of `role` (bound to the role's unique id).
fn assumed_role_principal(account: &str, role: &Role, session_name: &str) -> Principal {
    Principal {
        account_id: account.to_owned(),
        arn: format!("arn:aws:sts::{account}:assumed-role/{}/{session_name}", role.name),
        kind: PrincipalKind::AssumedRole {
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            session_name: session_name.to_owned(),
        },
    }
}

fn valid_session_name(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
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
        PrincipalKind::FederatedUser { name, .. } => format!("{}:{name}", p.account_id),
        PrincipalKind::Anonymous => String::new(),
    }
}

/// GetCallerIdentity: who the credentials belong to. No permission is needed.
pub(crate) struct GetCallerIdentity;

pub(crate) struct NoInput;

impl FromRequest<Sts> for NoInput {
    fn from_request(_: &Params) -> Result<Self, StsError> {
        Ok(NoInput)
    }
}

impl Operation for GetCallerIdentity {
    type Service = Sts;
    const NAME: &'static str = "GetCallerIdentity";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = ();

    async fn resolve(_: &Cx<'_>, _: &NoInput) -> Result<(), StsError> {
        Ok(())
    }

    fn authorization<'a>(_: &'a Cx<'_>, _: &'a NoInput, _: &'a ()) -> Result<Authorization<'a>, StsError> {
        Ok(Authorization::no_permission_needed(
            "No permissions are required to perform this operation (STS API Reference, GetCallerIdentity).",
        ))
    }

    async fn run(cx: &Cx<'_>, _: &NoInput, _: ()) -> Result<QueryReply, StsError> {
        let mut x = cx.xml::<Sts>();
        x.elem("UserId", &user_id(&cx.rc.principal))
            .elem("Account", &cx.rc.principal.account_id)
            .elem("Arn", &cx.rc.principal.arn);
        Ok(QueryReply::Result(x))
    }
}

/// AssumeRole: credentials of a session of a role whose trust policy (and, across accounts or
/// for a user, the caller's own policies) allows the caller.
pub(crate) struct AssumeRole;

pub(crate) struct AssumeRoleInput {
    role_arn: String,
    session_name: String,
    policy: Option<String>,
    policy_arns: Vec<String>,
    external_id: Option<String>,
    source_identity: Option<String>,
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    duration: Option<i64>,
    mfa: MfaInput,
}

impl FromRequest<Sts> for AssumeRoleInput {
    fn from_request(params: &Params) -> Result<Self, StsError> {
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
        if let Some(si) = &source_identity {
            v.pattern("sourceIdentity", Some(si), r"[\w+=,.@-]*", valid_session_name(si));
        }
        let transitive_tag_keys = params.list("TransitiveTagKeys").unwrap_or_default();
        v.list_length("transitiveTagKeys", Some(&transitive_tag_keys), 0, 50);
        for (n, key) in transitive_tag_keys.iter().enumerate() {
            let path = format!("transitiveTagKeys.{}.member", n + 1);
            v.length(&path, Some(key), 1, 128, false);
            let ok = kinko_wire::validate::is_tag_text(key);
            v.pattern(&path, Some(key), r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", ok);
        }
        let mfa = MfaInput::read(params, &mut v);
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        let tags = read_tags(params);
        let policy_arns = read_policy_arns(params);
        Ok(AssumeRoleInput {
            role_arn: role_arn.unwrap_or_default(),
            session_name: session_name.unwrap_or_default(),
            policy,
            policy_arns,
            external_id,
            source_identity,
            tags,
            transitive_tag_keys,
            duration: duration(params, 900, 43200)?,
            mfa,
        })
    }
}

/// The role an `AssumeRole` names — its account, and the role if it exists — and what the new
/// session carries along a role chain.
pub(crate) struct RoleFound {
    account: String,
    role: Option<Role>,
    chain: Chained,
    /// When the request proved an MFA code (`SerialNumber`, `TokenCode`).
    mfa: Option<kinko_core::Timestamp>,
}

/// What the new session carries: what it inherits from the calling session and what the request
/// sets.
pub(crate) struct Chained {
    /// The calling session's transitive tags, then the request's tags.
    tags: Vec<(String, String)>,
    /// The keys of `tags` that stay transitive: the inherited ones and the request's.
    transitive_tag_keys: Vec<String>,
    /// The calling session's source identity, or else the request's.
    source_identity: Option<String>,
}

/// AWS's texts for session tags and source identity along a role chain.
const TRANSITIVE_KEY_NOT_A_TAG: &str =
    "The specified transitive tag key must be included in the requested tags.";
const TRANSITIVE_TAG_CONFLICT: &str = "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.";
const RESERVED_TAG_KEY: &str = "Tag keys starting with 'aws:' are reserved for AWS use.";
const SOURCE_IDENTITY_SET: &str = "The source identity is already set for this assume role session";

/// What the new session inherits from the calling one (IAM User Guide, "Chaining roles with
/// session tags"; "Monitor and control actions taken with assumed roles"): its transitive tags,
/// which the request may not set again (in any case), and its source identity, which the request
/// may not change.
fn chained(caller: Option<&Session>, i: &AssumeRoleInput) -> Result<Chained, StsError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut transitive_tag_keys: Vec<String> = Vec::new();
    let mut source_identity = i.source_identity.clone();
    if let Some(caller) = caller {
        for (k, v) in caller.transitive_tags() {
            if i.tags.iter().any(|(new, _)| crate::same_tag_key(new, k)) {
                return Err(StsError::InvalidParameterValue(TRANSITIVE_TAG_CONFLICT.into()));
            }
            tags.push((k.clone(), v.clone()));
            transitive_tag_keys.push(k.clone());
        }
        if let Some(set) = &caller.source_identity {
            if source_identity.as_ref().is_some_and(|asked| asked != set) {
                return Err(StsError::Validation(SOURCE_IDENTITY_SET.into()));
            }
            source_identity = Some(set.clone());
        }
    }
    tags.extend(i.tags.iter().cloned());
    transitive_tag_keys.extend(i.transitive_tag_keys.iter().cloned());
    Ok(Chained {
        tags,
        transitive_tag_keys,
        source_identity,
    })
}

impl Operation for AssumeRole {
    type Service = Sts;
    const NAME: &'static str = "AssumeRole";
    // CloudTrail records AssumeRole read-only, with the session it issued: the credentials'
    // access key id and expiration (never their secrets) and the assumed-role user.
    const READ_ONLY: bool = true;
    const RESPONSE_ELEMENTS: bool = true;
    type Input = AssumeRoleInput;
    type Output = QueryReply;
    type Resolved = RoleFound;

    fn validate(i: &AssumeRoleInput) -> Result<(), StsError> {
        validate_session_tags(&i.tags)?;
        if !i
            .transitive_tag_keys
            .iter()
            .all(|t| i.tags.iter().any(|(k, _)| crate::same_tag_key(k, t)))
        {
            return Err(StsError::InvalidParameterValue(TRANSITIVE_KEY_NOT_A_TAG.into()));
        }
        role_account_and_name(&i.role_arn).map(|_| ())
    }

    async fn resolve(cx: &Cx<'_>, i: &AssumeRoleInput) -> Result<RoleFound, StsError> {
        let (account, name) = role_account_and_name(&i.role_arn)?;
        let chain = chained(cx.rc.session.as_ref(), i)?;
        let mfa = i.mfa.prove(cx).await?;
        let iam = cx.services.store.iam_state(account).await?;
        Ok(RoleFound {
            account: account.to_owned(),
            role: iam.role(name).filter(|r| r.arn == i.role_arn).cloned(),
            chain,
            mfa,
        })
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        i: &'a AssumeRoleInput,
        found: &'a RoleFound,
    ) -> Result<Authorization<'a>, StsError> {
        let resource = Resource::Arn {
            arn: &i.role_arn,
            account_id: &found.account,
        };
        let mut check = Check::new("sts:AssumeRole", resource)
            .condition("sts:RoleSessionName", i.session_name.as_str())
            .condition_opt("sts:ExternalId", i.external_id.as_deref())
            .condition_opt("sts:SourceIdentity", found.chain.source_identity.as_deref())
            .request_tags(found.chain.tags.as_slice())
            .mfa_proved(found.mfa);
        for key in &i.transitive_tag_keys {
            check = check.condition("sts:TransitiveTagKeys", key.as_str());
        }
        // A role that doesn't exist is checked against the caller's policies alone; the answer is
        // then AccessDenied (in `run`), as for a role that doesn't trust the caller.
        if let Some(role) = &found.role {
            check = check
                .policy(ResourcePolicy::Trust(Bound {
                    document: &role.assume_role_policy_document,
                    principals: &role.trust_principals,
                }))
                .tags(Some("iam"), &role.tags);
        }
        let mut authorization = Authorization::of(check.clone());
        if found.role.is_some() {
            // Session tags, inherited ones too, need sts:TagSession, and a source identity, set
            // now or along the chain, sts:SetSourceIdentity: from both the trust policy and the
            // caller (IAM User Guide, "Permissions required to add session tags", "Permissions
            // required to set source identity").
            if !found.chain.tags.is_empty() {
                let mut tag = check.clone();
                tag.action = "sts:TagSession";
                authorization = authorization.and(tag);
            }
            if found.chain.source_identity.is_some() {
                check.action = "sts:SetSourceIdentity";
                authorization = authorization.and(check);
            }
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &AssumeRoleInput, found: RoleFound) -> Result<QueryReply, StsError> {
        let Some(role) = found.role else {
            return Err(StsError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                cx.rc.principal.arn, i.role_arn
            )));
        };
        let chained = matches!(cx.rc.principal.kind, PrincipalKind::AssumedRole { .. });
        let duration = i.duration.unwrap_or(3600);
        if duration > role.max_session_duration {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
            ));
        }
        if chained && duration > 3600 {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
                    .into(),
            ));
        }
        let policies = session_policies(cx, &found.account, i.policy.as_deref(), &i.policy_arns).await?;
        let now = cx.now();
        let session_name = &i.session_name;
        let principal = assumed_role_principal(&found.account, &role, session_name);
        let mut x = cx.xml::<Sts>();
        let assumed_arn = principal.arn.clone();
        let session = Session {
            kind: SessionKind::AssumedRole,
            policies,
            tags: found.chain.tags,
            transitive_tag_keys: found.chain.transitive_tag_keys,
            issued: now,
            expiration: now.plus_millis(duration * 1000),
            source_identity: found.chain.source_identity,
            // The code this request proved; else the one the caller proved before (along a role
            // chain, the calling session's; a console user's at sign-in), its age counting on. kinko's choice: AWS documents
            // the MFA-protected GetSessionToken-then-AssumeRole pattern without saying whether
            // the role session keeps the MFA context.
            mfa_authenticated: found.mfa.or(match &cx.rc.session {
                Some(s) => s.mfa_authenticated,
                None => cx.rc.mfa_authenticated,
            }),
        };
        issue(cx, principal, session, &mut x)?;
        x.open("AssumedRoleUser")
            .elem("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
            .elem("Arn", &assumed_arn)
            .close("AssumedRoleUser");
        if let Some(p) = &i.policy {
            x.elem("PackedPolicySize", &packed_policy_size(p));
        }
        x.opt("SourceIdentity", i.source_identity.as_deref());
        Ok(QueryReply::Result(x))
    }
}

/// The `Tags` of a request that sets session tags.
fn read_tags(params: &Params) -> Vec<(String, String)> {
    params
        .struct_list("Tags")
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            (
                t.get("Key").cloned().unwrap_or_default(),
                t.get("Value").cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// The `PolicyArns` of a request that sets session policies.
fn read_policy_arns(params: &Params) -> Vec<String> {
    params
        .struct_list("PolicyArns")
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.get("arn").cloned().unwrap_or_default())
        .collect()
}

/// Session tags as AssumeRole and GetFederationToken accept them: at most 50, keys and values as
/// IAM's, no key twice (in any case), none under `aws:`.
fn validate_session_tags(tags: &[(String, String)]) -> Result<(), StsError> {
    let mut v = Violations::new();
    v.tags(
        "tags",
        tags.iter().map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
        &kinko_wire::validate::IAM_TAGS,
    );
    if let Some(m) = v.message() {
        return Err(StsError::Validation(m));
    }
    if tags.len() > 50 {
        return Err(StsError::Validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
        ));
    }
    let mut lowered: Vec<String> = tags.iter().map(|(k, _)| k.to_lowercase()).collect();
    lowered.sort();
    lowered.dedup();
    if lowered.len() != tags.len() {
        return Err(StsError::InvalidParameterValue(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
        ));
    }
    // The `aws:` prefix is AWS's (IAM User Guide, "Rules for tagging in IAM and AWS STS").
    if tags
        .iter()
        .any(|(k, _)| kinko_wire::validate::is_reserved_tag_key(k))
    {
        return Err(StsError::InvalidParameterValue(RESERVED_TAG_KEY.into()));
    }
    Ok(())
}

/// `PackedPolicySize`: the percentage of the packed-policy limit the inline session policy uses,
/// as AWS reports it (an estimate: kinko does not pack policies).
fn packed_policy_size(policy: &str) -> String {
    (policy.len() * 100 / 2048).max(1).to_string()
}

/// The account and name of a role ARN (`arn:aws:iam::<account>:role/<path/>name`).
fn role_account_and_name(role_arn: &str) -> Result<(&str, &str), StsError> {
    let parsed = kinko_core::arn::Arn::parse(role_arn)
        .filter(|a| a.service == "iam" && a.resource.starts_with("role/") && a.account_id.len() == 12)
        .ok_or_else(|| StsError::Validation(format!("{role_arn} is invalid")))?;
    Ok((
        parsed.account_id,
        parsed.resource.rsplit('/').next().unwrap_or_default(),
    ))
}

/// GetSessionToken: temporary credentials of the caller's own (user or root) identity.
pub(crate) struct GetSessionToken;

pub(crate) struct GetSessionTokenInput {
    duration: Option<i64>,
    mfa: MfaInput,
}

impl FromRequest<Sts> for GetSessionTokenInput {
    fn from_request(params: &Params) -> Result<Self, StsError> {
        let mut v = Violations::new();
        let mfa = MfaInput::read(params, &mut v);
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        Ok(GetSessionTokenInput {
            duration: duration(params, 900, 129_600)?,
            mfa,
        })
    }
}

impl Operation for GetSessionToken {
    type Service = Sts;
    const NAME: &'static str = "GetSessionToken";
    // Read-only, recorded with the credentials it issued (never their secrets), as AssumeRole.
    const RESPONSE_ELEMENTS: bool = true;
    type Input = GetSessionTokenInput;
    type Output = QueryReply;
    /// When the request proved an MFA code.
    type Resolved = Option<kinko_core::Timestamp>;

    async fn resolve(
        cx: &Cx<'_>,
        i: &GetSessionTokenInput,
    ) -> Result<Option<kinko_core::Timestamp>, StsError> {
        if cx.rc.session.is_some() {
            return Err(StsError::AccessDenied(
                "Cannot call GetSessionToken with session credentials".into(),
            ));
        }
        i.mfa.prove(cx).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a GetSessionTokenInput,
        _: &'a Option<kinko_core::Timestamp>,
    ) -> Result<Authorization<'a>, StsError> {
        Ok(Authorization::no_permission_needed(
            "IAM users and the root user call GetSessionToken without any permission (IAM User Guide, \"Permissions for GetSessionToken\").",
        ))
    }

    async fn run(
        cx: &Cx<'_>,
        i: &GetSessionTokenInput,
        mfa: Option<kinko_core::Timestamp>,
    ) -> Result<QueryReply, StsError> {
        let root = cx.rc.principal.is_root();
        // Root sessions last at most an hour: a longer request is capped, not refused (AWS's docs).
        let duration = i.duration.unwrap_or(if root { 3600 } else { 43200 });
        let duration = if root { duration.min(3600) } else { duration };
        let session = Session {
            kind: SessionKind::SessionToken,
            policies: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            issued: cx.now(),
            expiration: cx.now().plus_millis(duration * 1000),
            source_identity: None,
            mfa_authenticated: mfa,
        };
        let mut x = cx.xml::<Sts>();
        issue(cx, cx.rc.principal.clone(), session, &mut x)?;
        Ok(QueryReply::Result(x))
    }
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
    // The current root key, or the next one: rotating it ends every session sealed before, and
    // on a node of several that has not switched to the new key yet, the sessions that nodes
    // which did switch issue are accepted already.
    let root = services.keyring.root();
    let claims = token::open(&root.current(), token)
        .or_else(|| root.next().and_then(|next| token::open(&next, token)))
        .ok_or(SessionRefused::Invalid)?;
    if claims.access_key_id != access_key_id {
        return Err(SessionRefused::Invalid);
    }
    if services.clock.now() >= claims.session.expiration {
        return Err(SessionRefused::Expired);
    }
    Ok(claims)
}

/// A role session an AWS service asks for on its own behalf, as EC2 does for an instance profile's
/// role and ECS for a task's role: what [`service_role_session`] needs.
pub struct ServiceSession<'a> {
    /// The service principal (`ec2.amazonaws.com`, `ecs-tasks.amazonaws.com`).
    pub service: &'static str,
    pub role_arn: &'a str,
    pub session_name: &'a str,
    /// Session tags (they need `sts:TagSession` in the trust policy too, as for ECS).
    pub tags: &'a [(String, String)],
    pub duration_secs: i64,
    /// The region the audit record names.
    pub region: &'a str,
}

/// Issues a session of a role for an AWS service principal, through the same checks and the same
/// credentials as AssumeRole: the role's trust policy must allow the service `sts:AssumeRole` (and
/// `sts:TagSession` with tags), through the one authorization path. Recorded as CloudTrail records
/// the sessions EC2 and ECS assume: an `AssumeRole` event whose `userIdentity` is the service
/// (`type` `AWSService`, `invokedBy`), with the credentials' access key id and expiration, never
/// their secrets. Fails closed: no credentials when the record can't be written.
pub async fn service_role_session(
    services: &Services,
    s: &ServiceSession<'_>,
) -> Result<(Issued, Principal), WireError> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let rc = RequestContext::new(Principal::anonymous(), s.region, &request_id);
    let event_time = services.clock.now();
    if let Err(e) = services.audit.ready() {
        tracing::error!(error = %e, "no role session while audit records cannot be written");
        return Err(StsError::Internal(e.to_string()).to_wire());
    }
    let result = service_role_session_checked(services, &rc, s).await;
    let mut event =
        crate::audit::AuditEvent::of(&rc, event_time, <Sts as Service>::EVENT_SOURCE, "AssumeRole");
    event.invoked_by = Some(s.service);
    event.source_ip = Some(s.service.to_owned());
    event.user_agent = Some(s.service.to_owned());
    event.read_only = Some(true);
    event.request_parameters = Some(serde_json::json!({
        "roleArn": s.role_arn,
        "roleSessionName": s.session_name,
        "durationSeconds": s.duration_secs,
    }));
    event.resources = crate::cloudtrail::resource(s.role_arn).into_iter().collect();
    // Recorded for the role's account.
    event.recipient_account_id = event.resources.first().map(|r| r.account_id.clone());
    match &result {
        Ok((issued, principal)) => {
            event.recipient_account_id = Some(principal.account_id.clone());
            event.response_elements = Some(serde_json::json!({
                "credentials": {
                    "accessKeyId": issued.access_key_id,
                    "expiration": kinko_wire::query::timestamp(issued.expiration.millis()),
                },
                "assumedRoleUser": {
                    "assumedRoleId": user_id(principal),
                    "arn": principal.arn,
                },
            }));
        }
        Err(e) => {
            let wire = e.to_wire();
            event.error_code = Some(wire.code.to_owned());
            if wire.status < 500 {
                event.error_message = Some(wire.message.clone());
            }
        }
    }
    if let Err(e) = services.audit.record(&event, &[]).await {
        tracing::error!(error = %e, "audit record of a role session not written");
        return Err(StsError::Internal(e.to_string()).to_wire());
    }
    result.map_err(|e| {
        use crate::operation::ServiceError as _;
        if let Some(detail) = e.internal_detail() {
            tracing::error!(request_id = %request_id, detail = %detail, "internal error");
        }
        e.to_wire()
    })
}

async fn service_role_session_checked(
    services: &Services,
    rc: &RequestContext,
    s: &ServiceSession<'_>,
) -> Result<(Issued, Principal), StsError> {
    use crate::operation::ServiceError as _;
    let (account, name) = role_account_and_name(s.role_arn)?;
    let iam = services.store.iam_state(account).await?;
    let role = iam.role(name).filter(|r| r.arn == s.role_arn);
    let resource = Resource::Arn {
        arn: s.role_arn,
        account_id: account,
    };
    let mut check = Check::new("sts:AssumeRole", resource)
        .service_principal(s.service)
        .condition("sts:RoleSessionName", s.session_name)
        .request_tags(s.tags);
    if let Some(role) = role {
        check = check
            .policy(ResourcePolicy::Trust(Bound {
                document: &role.assume_role_policy_document,
                principals: &role.trust_principals,
            }))
            .tags(Some("iam"), &role.tags);
    }
    authz::check(services, rc, &check)
        .await
        .map_err(crate::operation::authz_error::<StsError>)?;
    if !s.tags.is_empty() {
        let mut tag = check.clone();
        tag.action = "sts:TagSession";
        authz::check(services, rc, &tag)
            .await
            .map_err(crate::operation::authz_error::<StsError>)?;
    }
    let Some(role) = role else {
        return Err(StsError::access_denied(format!(
            "{} is not authorized to perform: sts:AssumeRole on resource: {}",
            s.service, s.role_arn
        )));
    };
    let duration = s.duration_secs.clamp(900, role.max_session_duration.max(900));
    let now = services.clock.now();
    let principal = assumed_role_principal(account, role, s.session_name);
    let session = Session {
        kind: SessionKind::AssumedRole,
        policies: vec![],
        tags: s.tags.to_vec(),
        transitive_tag_keys: vec![],
        issued: now,
        expiration: now.plus_millis(duration * 1000),
        source_identity: None,
        mfa_authenticated: None,
    };
    let issued = mint(services, principal.clone(), session)?;
    Ok((issued, principal))
}
