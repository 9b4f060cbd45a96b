//! AssumeRoleWithWebIdentity: role credentials for the holder of an OpenID Connect token, with no
//! AWS credentials at all (the call is unsigned, as in AWS).
//!
//! The token is verified before anything is authorized, because it says who is asking:
//!
//! 1. it is a signed JWT (`alg` one of the asymmetric JWS algorithms: never `none`, never an
//!    HMAC, whose "key" would be public);
//! 2. its `iss`, without `https://`, names an OpenID Connect provider of the role's account
//!    (`arn:aws:iam::<account>:oidc-provider/<issuer>`), and one of its audiences (`aud`) is one of
//!    the provider's client ids;
//! 3. its signature verifies under the key of the issuer's key set (JWKS) that its `kid` names, of
//!    the algorithm that key declares; the key set comes from the [`JwksSource`] the server is
//!    configured with per issuer (a file or a URL), fetched again once when the `kid` is unknown
//!    (the issuer rotated its keys);
//! 4. `exp` is after and `nbf` (if any) not after the server's clock; `sub` is present.
//!
//! Then one check through the one authorization path: `sts:AssumeRoleWithWebIdentity` on the role,
//! for the provider as a `Federated` principal of the role's trust policy, with the token's claims
//! as the condition keys `<issuer>:sub`, `<issuer>:aud` and `<issuer>:amr`.
//!
//! AWS's texts where they are on record: `No OpenIDConnect provider found in your account for
//! <iss>`, `Incorrect token audience` (InvalidIdentityToken), `Token expired: current date/time
//! <now> must be before the expiration date/time<exp>` (ExpiredTokenException), `Not authorized to
//! perform sts:AssumeRoleWithWebIdentity` (AccessDenied), `Couldn't retrieve verification key from
//! your identity provider, please reference AssumeRoleWithWebIdentity documentation for
//! requirements` (InvalidIdentityToken). AWS's wording for a token that isn't a JWT, a signature that
//! doesn't verify and a token not valid yet is not on record; kinko's are below.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kinko_core::iam::{IamState, Role};
use kinko_wire::query::Params;
use kinko_wire::validate::Violations;
use serde_json::Value;

use super::{
    Sts, StsError, assumed_role_principal, duration, issue, role_account_and_name, session_policies,
    valid_session_name,
};
use crate::authz::{self, Bound, Check, Resource, ResourcePolicy};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};
use crate::{Session, SessionKind};

/// Where the key sets (JWKS) of OpenID Connect issuers come from. The server implements it from its
/// configuration (a file or URL per issuer).
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync {
    /// The JWKS document of `issuer` (the issuer URL without `https://`, as IAM names providers),
    /// `None` when none is configured for it. `refresh`: fetch it anew, the cached copy lacked the
    /// token's key.
    async fn jwks(&self, issuer: &str, refresh: bool) -> Result<Option<String>, String>;
}

/// No issuer configured: every web identity token is refused.
pub struct NoJwks;

#[async_trait::async_trait]
impl JwksSource for NoJwks {
    async fn jwks(&self, _: &str, _: bool) -> Result<Option<String>, String> {
        Ok(None)
    }
}

const NOT_A_JWT: &str =
    "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";
const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements";
const BAD_SIGNATURE: &str = "The signature of the web identity token could not be verified.";
const AUDIENCE: &str = "Incorrect token audience";
const NOT_YET_VALID: &str = "The web identity token is not valid yet (nbf).";
const NO_SUBJECT: &str = "The web identity token has no subject (sub).";
const NO_EXPIRY: &str = "The web identity token has no expiration time (exp).";

/// The asymmetric JWS algorithms a provider may sign with.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn invalid(message: &str) -> StsError {
    StsError::InvalidIdentityToken(message.to_owned())
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// `iss` as the token has it.
    pub issuer: String,
    /// The issuer without its scheme: the provider's name and the prefix of its condition keys.
    pub url: String,
    pub provider_arn: String,
    pub subject: String,
    /// The audience that matched one of the provider's client ids.
    pub audience: String,
    pub amr: Vec<String>,
}

/// A string claim or a list of strings (`aud`, `amr`).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    }
}

/// The issuer's name as IAM keeps it: without `https://` and without a trailing `/`.
pub fn issuer_name(iss: &str) -> &str {
    let bare = iss.strip_prefix("https://").unwrap_or(iss);
    bare.strip_suffix('/').unwrap_or(bare)
}

/// The claims of a JWT, unverified: only to learn which issuer (and key) to verify it with.
fn unverified_claims(token: &str) -> Result<serde_json::Map<String, Value>, StsError> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(NOT_A_JWT));
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid(NOT_A_JWT))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid(NOT_A_JWT)),
    }
}

/// The JWS name of an algorithm (`RS256`), as JWKs name theirs.
fn alg_name<T: serde::Serialize>(alg: &T) -> Option<String> {
    serde_json::to_value(alg).ok()?.as_str().map(str::to_owned)
}

/// The key of `set` the token's header names: by `kid`, or the only key when the token names none.
fn find_key<'s>(set: &'s JwkSet, kid: Option<&str>) -> Option<&'s Jwk> {
    match kid {
        Some(kid) => set.keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)),
        None if set.keys.len() == 1 => set.keys.first(),
        None => None,
    }
}

/// Verifies `token` against the providers of `iam` (the role's account) and the key sets of
/// `jwks`, at `now_secs`.
pub(crate) async fn verify(
    jwks: &dyn JwksSource,
    iam: &IamState,
    token: &str,
    now_secs: i64,
) -> Result<Verified, StsError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid(NOT_A_JWT))?;
    let claims = unverified_claims(token)?;
    let Some(iss) = claims.get("iss").and_then(Value::as_str) else {
        return Err(invalid(NOT_A_JWT));
    };
    let url = issuer_name(iss).to_owned();
    let provider_arn = format!("arn:aws:iam::{}:oidc-provider/{url}", iam.account_id);
    let Some(provider) = iam.oidc_provider(&provider_arn) else {
        return Err(invalid(&format!(
            "No OpenIDConnect provider found in your account for {iss}"
        )));
    };
    let audience = strings(claims.get("aud"))
        .into_iter()
        .find(|a| provider.client_ids.iter().any(|c| c == a))
        .ok_or_else(|| invalid(AUDIENCE))?;
    if !ASYMMETRIC.contains(&header.alg) {
        return Err(invalid(BAD_SIGNATURE));
    }
    let key = signing_key(jwks, &url, header.kid.as_deref()).await?;
    // The key's own algorithm, when it names one, is the only one it verifies (a token can't
    // pick another by its header); its type must fit the header's algorithm in any case.
    if let Some(key_alg) = key.common.key_algorithm.as_ref().and_then(alg_name)
        && alg_name(&header.alg).as_deref() != Some(key_alg.as_str())
    {
        return Err(invalid(BAD_SIGNATURE));
    }
    let decoding = DecodingKey::from_jwk(&key).map_err(|_| invalid(NO_KEY))?;
    let mut validation = Validation::new(header.alg);
    // Time is checked below against the server's clock; the audience above, against the
    // provider's client ids.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).map_err(|_| invalid(BAD_SIGNATURE))?;

    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Err(invalid(NO_EXPIRY));
    };
    if now_secs >= exp {
        return Err(StsError::ExpiredToken(format!(
            "Token expired: current date/time {now_secs} must be before the expiration date/time{exp}"
        )));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| now_secs < nbf)
    {
        return Err(invalid(NOT_YET_VALID));
    }
    let Some(subject) = claims.get("sub").and_then(Value::as_str) else {
        return Err(invalid(NO_SUBJECT));
    };
    Ok(Verified {
        issuer: iss.to_owned(),
        url,
        provider_arn,
        subject: subject.to_owned(),
        audience,
        amr: strings(claims.get("amr")),
    })
}

/// The issuer's key the token names, from its key set (fetched again once if the key isn't in it).
async fn signing_key(jwks: &dyn JwksSource, url: &str, kid: Option<&str>) -> Result<Jwk, StsError> {
    for refresh in [false, true] {
        let document = match jwks.jwks(url, refresh).await {
            Ok(Some(d)) => d,
            Ok(None) => return Err(invalid(NO_KEY)),
            Err(detail) => {
                tracing::warn!(issuer = url, detail = %detail, "fetching the issuer's keys failed");
                return Err(StsError::IdpCommunication(NO_KEY.to_owned()));
            }
        };
        let set: JwkSet = serde_json::from_str(&document).map_err(|e| {
            tracing::warn!(issuer = url, detail = %e, "the issuer's key set doesn't parse");
            StsError::IdpCommunication(NO_KEY.to_owned())
        })?;
        if let Some(key) = find_key(&set, kid) {
            return Ok(key.clone());
        }
    }
    Err(invalid(NO_KEY))
}

/// The operation's name: the one action served without a signature.
pub const OPERATION: &str = "AssumeRoleWithWebIdentity";

/// AssumeRoleWithWebIdentity.
pub(crate) struct AssumeRoleWithWebIdentity;

pub(crate) struct Input {
    role_arn: String,
    session_name: String,
    token: String,
    policy: Option<String>,
    policy_arns: Vec<String>,
    duration: Option<i64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

impl FromRequest<Sts> for Input {
    fn from_request(params: &Params) -> Result<Self, StsError> {
        let role_arn = params.get("RoleArn").map(str::to_owned);
        let session_name = params.get("RoleSessionName").map(str::to_owned);
        let token = params.get("WebIdentityToken").map(str::to_owned);
        let policy = params.get("Policy").map(str::to_owned);
        let mut v = Violations::new();
        v.required("roleArn", &role_arn);
        v.length("roleArn", role_arn.as_deref(), 20, 2048, false);
        v.required("roleSessionName", &session_name);
        v.length("roleSessionName", session_name.as_deref(), 2, 64, false);
        if let Some(n) = &session_name {
            v.pattern("roleSessionName", Some(n), r"[\w+=,.@-]*", valid_session_name(n));
        }
        v.required("webIdentityToken", &token);
        // The token itself is never quoted back.
        if token.as_ref().is_some_and(|t| t.len() < 4 || t.len() > 20_000) {
            return Err(StsError::Validation(
                "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000".into(),
            ));
        }
        v.length("policy", policy.as_deref(), 1, 2048, false);
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        let policy_arns = super::read_policy_arns(params);
        Ok(Input {
            role_arn: role_arn.unwrap_or_default(),
            session_name: session_name.unwrap_or_default(),
            token: token.unwrap_or_default(),
            policy,
            policy_arns,
            duration: duration(params, 900, 43200)?,
        })
    }
}

/// What AssumeRoleWithWebIdentity resolves: the role's account and the role (if it exists), the
/// verified token, and the names of its condition keys.
pub(crate) struct Found {
    account: String,
    role: Option<Role>,
    token: Verified,
    /// `<issuer>:sub`, `<issuer>:aud`, `<issuer>:amr`.
    keys: [String; 3],
}

impl Operation for AssumeRoleWithWebIdentity {
    type Service = Sts;
    const NAME: &'static str = OPERATION;
    // Recorded as AssumeRole is: read-only, with the session it issued (never its secrets; the
    // token is never recorded).
    const READ_ONLY: bool = true;
    const RESPONSE_ELEMENTS: bool = true;
    type Input = Input;
    type Output = QueryReply;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), StsError> {
        role_account_and_name(&i.role_arn).map(|_| ())
    }

    /// Verifies the token against the role's account's providers: it says who asks.
    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Found, StsError> {
        let (account, name) = role_account_and_name(&i.role_arn)?;
        let iam = cx.services.store.iam_state(account).await?;
        let now = cx.now().millis().div_euclid(1000);
        let token = verify(cx.services.jwks.as_ref(), &iam, &i.token, now).await?;
        // CloudTrail's `WebIdentityUser`: the provider, the audience and the subject the token
        // proved.
        cx.rc.audit_notes.caller(crate::audit::Caller::WebIdentity {
            principal_id: format!("{}:{}:{}", token.provider_arn, token.audience, token.subject),
            user_name: token.subject.clone(),
            identity_provider: token.provider_arn.clone(),
        });
        let keys = [
            format!("{}:sub", token.url),
            format!("{}:aud", token.url),
            format!("{}:amr", token.url),
        ];
        Ok(Found {
            account: account.to_owned(),
            role: iam.role(name).filter(|r| r.arn == i.role_arn).cloned(),
            token,
            keys,
        })
    }

    /// The role, for its provider, by its trust policy alone.
    fn authorization<'a>(
        _: &'a Cx<'_>,
        i: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, StsError> {
        let resource = Resource::Arn {
            arn: &i.role_arn,
            account_id: &found.account,
        };
        let [sub, aud, amr] = &found.keys;
        let mut check = Check::new("sts:AssumeRoleWithWebIdentity", resource)
            .federated(&found.token.provider_arn)
            .condition("sts:RoleSessionName", i.session_name.as_str())
            .condition(sub, found.token.subject.as_str())
            .condition(aud, found.token.audience.as_str());
        for value in &found.token.amr {
            check = check.condition(amr, value.as_str());
        }
        if let Some(role) = &found.role {
            check = check
                .policy(ResourcePolicy::Trust(Bound {
                    document: &role.assume_role_policy_document,
                    principals: &role.trust_principals,
                }))
                .tags(Some("iam"), &role.tags);
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<QueryReply, StsError> {
        let Some(role) = found.role else {
            return Err(StsError::AccessDenied(authz::WEB_IDENTITY_DENIED.to_owned()));
        };
        let duration = i.duration.unwrap_or(3600);
        if duration > role.max_session_duration {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
            ));
        }
        let policies = session_policies(cx, &found.account, i.policy.as_deref(), &i.policy_arns).await?;
        let now = cx.now();
        let session_name = &i.session_name;
        let principal = assumed_role_principal(&found.account, &role, session_name);
        let assumed_arn = principal.arn.clone();
        let session = Session {
            kind: SessionKind::AssumedRole,
            policies,
            tags: vec![],
            transitive_tag_keys: vec![],
            issued: now,
            expiration: now.plus_millis(duration * 1000),
            source_identity: None,
            mfa_authenticated: None,
        };
        let mut x = cx.xml::<Sts>();
        issue(cx, principal, session, &mut x)?;
        x.elem("SubjectFromWebIdentityToken", &found.token.subject);
        x.open("AssumedRoleUser")
            .elem("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
            .elem("Arn", &assumed_arn)
            .close("AssumedRoleUser");
        if let Some(p) = &i.policy {
            x.elem("PackedPolicySize", &super::packed_policy_size(p));
        }
        x.elem("Provider", &found.token.issuer)
            .elem("Audience", &found.token.audience);
        Ok(QueryReply::Result(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_names_drop_the_scheme_and_trailing_slash() {
        assert_eq!(
            issuer_name("https://token.actions.githubusercontent.com"),
            "token.actions.githubusercontent.com"
        );
        assert_eq!(
            issuer_name("https://oidc.example.com/k8s/"),
            "oidc.example.com/k8s"
        );
    }

    #[test]
    fn audiences_are_a_string_or_a_list() {
        assert_eq!(strings(Some(&serde_json::json!("a"))), ["a"]);
        assert_eq!(strings(Some(&serde_json::json!(["a", 1, "b"]))), ["a", "b"]);
        assert!(strings(None).is_empty());
    }

    #[test]
    fn what_is_not_a_jwt_is_refused_before_any_lookup() {
        for token in ["abcd", "a.b", "a.b.c.d", "e30.!!!.x"] {
            assert_eq!(
                unverified_claims(token).map(|_| ()),
                Err(invalid(NOT_A_JWT)),
                "{token}"
            );
        }
    }
}
