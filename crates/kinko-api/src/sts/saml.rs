//! AssumeRoleWithSAML: role credentials for the holder of a SAML 2.0 authentication response from
//! an identity provider the role's account trusts (an IAM SAML provider), with no AWS credentials
//! at all (the call is unsigned, as in AWS).
//!
//! The response is verified before anything is authorized, because it says who is asking:
//!
//! 1. `PrincipalArn` names a SAML provider of the role's account;
//! 2. every XML signature in the response verifies (xmlsec, through the `samael` crate) under a
//!    signing certificate of the provider's metadata, with an RSA or ECDSA SHA-2 algorithm; a
//!    response without a signature is refused. Only what the signatures cover is read afterwards:
//!    the document is reduced to its signed elements before it is parsed, so content added next to
//!    a signed element (XML signature wrapping) is never seen;
//! 3. the signed assertion's `Issuer` is the provider's `entityID`; its `Conditions` hold at the
//!    server's clock (`NotBefore`, `NotOnOrAfter`), and their audience, if any, is AWS's;
//! 4. it has exactly one bearer `SubjectConfirmation`, whose `Recipient` is AWS's sign-in endpoint
//!    and whose `NotOnOrAfter` is not past; its subject has a `NameID`;
//! 5. its `https://aws.amazon.com/SAML/Attributes/Role` attribute lists the requested role and
//!    provider, and its `RoleSessionName` attribute names the session.
//!
//! Then one check through the one authorization path: `sts:AssumeRoleWithSAML` on the role, for the
//! provider as a `Federated` principal of the role's trust policy, with the `saml:` condition keys
//! (IAM User Guide, "Available keys for SAML-based AWS STS federation"); session tags
//! (`PrincipalTag:*`) also need `sts:TagSession`, a source identity `sts:SetSourceIdentity`.
//!
//! AWS's texts where they are on record: `Specified provider doesn't exist`, `Response signature
//! invalid`, `Issuer not present in specified provider`, `RoleSessionName is required in
//! AuthnResponse`, `RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}`
//! (InvalidIdentityToken), `Not authorized to perform sts:AssumeRoleWithSAML` (AccessDenied).
//! AWS's wording for the other refusals is not on record; kinko's are below.
//!
//! The `SessionDuration` attribute is for console sessions (IAM User Guide); the credentials last
//! `DurationSeconds` (one hour by default), never past the assertion's `SessionNotOnOrAfter`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kinko_core::Timestamp;
use kinko_core::iam::{IamState, Role};
use kinko_wire::query::Params;
use kinko_wire::validate::Violations;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode};
use samael::schema::{Assertion, Response};

use super::{
    Sts, StsError, assumed_role_principal, duration, issue, role_account_and_name, session_policies,
    valid_session_name, validate_session_tags,
};
use crate::authz::{Bound, Check, Resource, ResourcePolicy};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};
use crate::{Session, SessionKind};

/// The operation's name: served without a signature, as AssumeRoleWithWebIdentity.
pub const OPERATION: &str = "AssumeRoleWithSAML";

/// AWS's answer when a role's trust policy doesn't let the provider's user assume it.
pub const DENIED: &str = "Not authorized to perform sts:AssumeRoleWithSAML";

const NO_PROVIDER: &str = "Specified provider doesn't exist";
const BAD_SIGNATURE: &str = "Response signature invalid";
const WRONG_ISSUER: &str = "Issuer not present in specified provider";
const NO_SESSION_NAME: &str = "RoleSessionName is required in AuthnResponse";
const BAD_SESSION_NAME: &str = "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}";
const NOT_BASE64: &str = "The SAML assertion is not valid base64-encoded XML.";
const NOT_A_RESPONSE: &str = "The SAML assertion is not a SAML 2.0 Response.";
const NOT_SUCCESS: &str = "The SAML response does not report success.";
const NOT_YET_VALID: &str = "The SAML assertion is not valid yet (NotBefore).";
const EXPIRED: &str = "The SAML assertion has expired (NotOnOrAfter).";
const AUDIENCE: &str = "The SAML assertion's audience is not AWS (https://signin.aws.amazon.com/saml).";
const RECIPIENT: &str = "The SAML assertion needs exactly one bearer SubjectConfirmation whose Recipient is https://signin.aws.amazon.com/saml and which has a NotOnOrAfter.";
const NO_SUBJECT: &str = "The SAML assertion has no subject (NameID).";

/// AWS's sign-in endpoint, the `Recipient` (and `saml:aud`) of the assertions it accepts.
pub const SIGN_IN: &str = "https://signin.aws.amazon.com/saml";
/// AWS's service provider name, an `Audience` assertions may name instead of the endpoint.
const SERVICE_PROVIDER: &str = "urn:amazon:webservices";

const ATTRIBUTES: &str = "https://aws.amazon.com/SAML/Attributes/";
const NAMEID_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// How far ahead of the server's clock an IdP's clock may be (`NotBefore`).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The signature algorithms accepted: RSA and ECDSA with SHA-2 (never SHA-1, never an HMAC).
const ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// The SAML attributes IAM maps to `saml:` condition keys (IAM User Guide, "Mapping SAML attributes
/// to AWS trust policy context keys"), by attribute name.
const MAPPED_ATTRIBUTES: &[(&str, &str)] = &[
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "saml:edupersonaffiliation"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.11", "saml:edupersonassurance"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.7", "saml:edupersonentitlement"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.2", "saml:edupersonnickname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.3", "saml:edupersonorgdn"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.4", "saml:edupersonorgunitdn"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.5",
        "saml:edupersonprimaryaffiliation",
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.8",
        "saml:edupersonprimaryorgunitdn",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "saml:edupersonprincipalname"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "saml:edupersonscopedaffiliation",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.10", "saml:edupersontargetedid"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.2", "saml:eduorghomepageuri"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.3",
        "saml:eduorgidentityauthnpolicyuri",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.4", "saml:eduorglegalname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.5", "saml:eduorgsuperioruri"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.6", "saml:eduorgwhitepagesuri"),
    ("urn:oid:2.5.4.3", "saml:cn"),
];

fn invalid(message: &str) -> StsError {
    StsError::InvalidIdentityToken(message.to_owned())
}

/// What a provider's metadata says that verification needs: who it is and its signing
/// certificates.
struct ProviderKeys {
    entity_id: String,
    certificates: Vec<CertificateDer>,
}

/// The `entityID` and the signing certificates of the `IDPSSODescriptor` of `metadata` (those of
/// `use="signing"` key descriptors, or else of those without a `use`). DTDs are refused.
fn provider_keys(metadata: &str) -> Option<ProviderKeys> {
    let xml = roxmltree::Document::parse(metadata).ok()?;
    let root = xml.root_element();
    let entity_id = root.attribute("entityID")?.to_owned();
    let is = |n: &roxmltree::Node<'_, '_>, ns: &str, name: &str| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns)
    };
    let descriptors: Vec<_> = root
        .children()
        .filter(|c| is(c, METADATA_NS, "IDPSSODescriptor"))
        .flat_map(|idp| idp.children().filter(|k| is(k, METADATA_NS, "KeyDescriptor")))
        .collect();
    let certificates_of = |uses: &dyn Fn(Option<&str>) -> bool| -> Vec<CertificateDer> {
        descriptors
            .iter()
            .filter(|k| uses(k.attribute("use")))
            .flat_map(|k| k.descendants().filter(|c| is(c, DSIG_NS, "X509Certificate")))
            .filter_map(|c| {
                let text: String = c.text()?.chars().filter(|ch| !ch.is_whitespace()).collect();
                STANDARD.decode(text).ok().map(CertificateDer::from)
            })
            .collect()
    };
    let mut certificates = certificates_of(&|u| u == Some("signing"));
    if certificates.is_empty() {
        certificates = certificates_of(&|u| u.is_none_or(str::is_empty));
    }
    Some(ProviderKeys {
        entity_id,
        certificates,
    })
}

/// The signed assertion of `xml` (a `Response`, or a bare `Assertion`), every signature in it
/// verified under one of `certificates`, read from nothing but what the signatures cover.
fn signed_assertion(xml: &str, certificates: &[CertificateDer]) -> Result<Assertion, StsError> {
    // roxmltree refuses DTDs (no entity is ever expanded) before libxml2 sees the document.
    let root_name = |doc: &str| -> Option<(String, String)> {
        let parsed = roxmltree::Document::parse(doc).ok()?;
        let root = parsed.root_element();
        Some((
            root.tag_name().namespace().unwrap_or_default().to_owned(),
            root.tag_name().name().to_owned(),
        ))
    };
    root_name(xml).ok_or_else(|| invalid(NOT_A_RESPONSE))?;
    if certificates.is_empty() {
        return Err(invalid(BAD_SIGNATURE));
    }
    // Every signature must verify, and the result holds only the elements they cover: the signed
    // element becomes the root.
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        certificates,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ALGORITHMS),
    )
    .map_err(|_| invalid(BAD_SIGNATURE))?;
    match root_name(&reduced) {
        Some((ns, name)) if ns == PROTOCOL_NS && name == "Response" => {
            let response: Response = reduced.parse().map_err(|_| invalid(NOT_A_RESPONSE))?;
            if response
                .status
                .as_ref()
                .and_then(|s| s.status_code.value.as_deref())
                .is_some_and(|code| code != SUCCESS)
            {
                return Err(invalid(NOT_SUCCESS));
            }
            response.assertion.ok_or_else(|| invalid(NOT_A_RESPONSE))
        }
        Some((ns, name)) if ns == ASSERTION_NS && name == "Assertion" => {
            reduced.parse().map_err(|_| invalid(NOT_A_RESPONSE))
        }
        _ => Err(invalid(NOT_A_RESPONSE)),
    }
}

/// What a verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub provider_arn: String,
    pub issuer: String,
    pub subject: String,
    /// `NameID`'s `Format`, without SAML 2.0's prefix (`persistent`, `transient`), or as given;
    /// `unspecified` when there is none.
    pub subject_type: String,
    /// The bearer confirmation's `Recipient`.
    pub audience: String,
    /// BASE64(SHA1(issuer + account + "/" + provider name)).
    pub name_qualifier: String,
    pub session_name: Option<String>,
    /// The `(role, provider)` pairs of the `Role` attribute.
    pub roles: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
    /// The earliest of the assertion's `SessionNotOnOrAfter`s, in milliseconds.
    pub session_not_on_or_after: Option<i64>,
    /// `(condition key, value)` of the mapped attributes.
    pub mapped: Vec<(&'static str, String)>,
}

/// The string values of the attribute named `name`, over all attribute statements.
fn values<'a>(assertion: &'a Assertion, name: &str) -> Vec<&'a str> {
    assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
        .filter(|a| a.name.as_deref() == Some(name))
        .flat_map(|a| &a.values)
        .filter_map(|v| v.value.as_deref().map(str::trim))
        .collect()
}

/// Verifies the base64 `encoded` response against the SAML provider `provider_arn` of `iam` (the
/// role's account), at `now_ms`.
pub(crate) fn verify(
    iam: &IamState,
    provider_arn: &str,
    encoded: &str,
    now_ms: i64,
) -> Result<Verified, StsError> {
    let Some(provider) = iam.saml_provider(provider_arn) else {
        return Err(invalid(NO_PROVIDER));
    };
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = STANDARD.decode(compact).map_err(|_| invalid(NOT_BASE64))?;
    let xml = String::from_utf8(bytes).map_err(|_| invalid(NOT_BASE64))?;
    let keys = provider_keys(&provider.metadata_document).ok_or_else(|| invalid(BAD_SIGNATURE))?;
    let assertion = signed_assertion(&xml, &keys.certificates)?;

    let issuer = assertion.issuer.value.clone().unwrap_or_default();
    if issuer.trim() != keys.entity_id {
        return Err(invalid(WRONG_ISSUER));
    }
    let issuer = keys.entity_id.clone();
    if let Some(conditions) = &assertion.conditions {
        if conditions
            .not_before
            .is_some_and(|t| now_ms + CLOCK_SKEW_MS < t.timestamp_millis())
        {
            return Err(invalid(NOT_YET_VALID));
        }
        if conditions
            .not_on_or_after
            .is_some_and(|t| now_ms >= t.timestamp_millis())
        {
            return Err(StsError::ExpiredToken(EXPIRED.into()));
        }
        if let Some(restrictions) = &conditions.audience_restrictions
            && !restrictions
                .iter()
                .all(|r| r.audience.iter().any(|a| is_aws_audience(a)))
        {
            return Err(invalid(AUDIENCE));
        }
    }
    let subject = assertion.subject.as_ref().ok_or_else(|| invalid(NO_SUBJECT))?;
    let name_id = subject.name_id.as_ref().ok_or_else(|| invalid(NO_SUBJECT))?;
    let bearer: Vec<_> = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .collect();
    let [confirmation] = bearer.as_slice() else {
        return Err(invalid(RECIPIENT));
    };
    let data = confirmation
        .subject_confirmation_data
        .as_ref()
        .ok_or_else(|| invalid(RECIPIENT))?;
    let audience = data
        .recipient
        .as_deref()
        .filter(|r| is_sign_in_endpoint(r))
        .ok_or_else(|| invalid(RECIPIENT))?
        .to_owned();
    let Some(until) = data.not_on_or_after else {
        return Err(invalid(RECIPIENT));
    };
    if now_ms >= until.timestamp_millis() {
        return Err(StsError::ExpiredToken(EXPIRED.into()));
    }
    if data
        .not_before
        .is_some_and(|t| now_ms + CLOCK_SKEW_MS < t.timestamp_millis())
    {
        return Err(invalid(NOT_YET_VALID));
    }

    let subject_type = match name_id.format.as_deref() {
        None => "unspecified".to_owned(),
        Some(f) => f.strip_prefix(NAMEID_PREFIX).unwrap_or(f).to_owned(),
    };
    let provider_name = provider_arn.rsplit('/').next().unwrap_or_default();
    let digest = openssl::sha::sha1(format!("{issuer}{}/{provider_name}", iam.account_id).as_bytes());
    let attribute = |suffix: &str| values(&assertion, &format!("{ATTRIBUTES}{suffix}"));
    let roles = attribute("Role")
        .into_iter()
        .filter_map(|pair| {
            let (a, b) = pair.split_once(',')?;
            let (a, b) = (a.trim().to_owned(), b.trim().to_owned());
            // Either order: the role and the provider are told apart by their ARNs.
            Some(if a.contains(":saml-provider/") {
                (b, a)
            } else {
                (a, b)
            })
        })
        .collect();
    let tag_prefix = format!("{ATTRIBUTES}PrincipalTag:");
    let tags = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
        .filter_map(|a| {
            let key = a.name.as_deref()?.strip_prefix(&tag_prefix)?;
            let value = a
                .values
                .first()
                .and_then(|v| v.value.as_deref())
                .unwrap_or_default();
            Some((key.to_owned(), value.trim().to_owned()))
        })
        .collect();
    let mapped = MAPPED_ATTRIBUTES
        .iter()
        .flat_map(|(name, key)| values(&assertion, name).into_iter().map(|v| (*key, v.to_owned())))
        .collect();
    let session_not_on_or_after = assertion
        .authn_statements
        .iter()
        .flatten()
        .filter_map(|s| s.session_not_on_or_after.map(|t| t.timestamp_millis()))
        .min();
    Ok(Verified {
        provider_arn: provider_arn.to_owned(),
        issuer,
        subject: name_id.value.trim().to_owned(),
        subject_type,
        audience,
        name_qualifier: STANDARD.encode(digest),
        session_name: attribute("RoleSessionName").first().map(|s| (*s).to_owned()),
        roles,
        tags,
        transitive_tag_keys: attribute("TransitiveTagKeys")
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        source_identity: attribute("SourceIdentity").first().map(|s| (*s).to_owned()),
        session_not_on_or_after,
        mapped,
    })
}

/// AWS's sign-in endpoint, global or of a region (`https://<region>.signin.aws.amazon.com/saml`).
fn is_sign_in_endpoint(url: &str) -> bool {
    url == SIGN_IN
        || url
            .strip_prefix("https://")
            .and_then(|u| u.strip_suffix(".signin.aws.amazon.com/saml"))
            .is_some_and(|region| {
                !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
}

fn is_aws_audience(a: &str) -> bool {
    let a = a.trim();
    a == SERVICE_PROVIDER || is_sign_in_endpoint(a)
}

/// AssumeRoleWithSAML.
pub(crate) struct AssumeRoleWithSaml;

pub(crate) struct Input {
    role_arn: String,
    principal_arn: String,
    assertion: String,
    policy: Option<String>,
    policy_arns: Vec<String>,
    duration: Option<i64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("role_arn", &self.role_arn)
            .field("principal_arn", &self.principal_arn)
            .finish_non_exhaustive()
    }
}

impl FromRequest<Sts> for Input {
    fn from_request(params: &Params) -> Result<Self, StsError> {
        let role_arn = params.get("RoleArn").map(str::to_owned);
        let principal_arn = params.get("PrincipalArn").map(str::to_owned);
        let assertion = params.get("SAMLAssertion").map(str::to_owned);
        let policy = params.get("Policy").map(str::to_owned);
        let mut v = Violations::new();
        v.required("roleArn", &role_arn);
        v.length("roleArn", role_arn.as_deref(), 20, 2048, false);
        v.required("principalArn", &principal_arn);
        v.length("principalArn", principal_arn.as_deref(), 20, 2048, false);
        v.required("sAMLAssertion", &assertion);
        // The assertion itself is never quoted back.
        if assertion
            .as_ref()
            .is_some_and(|t| t.len() < 4 || t.len() > 100_000)
        {
            return Err(StsError::Validation(
                "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy constraint: Member must have length between 4 and 100000".into(),
            ));
        }
        v.length("policy", policy.as_deref(), 1, 2048, false);
        if let Some(m) = v.message() {
            return Err(StsError::Validation(m));
        }
        Ok(Input {
            role_arn: role_arn.unwrap_or_default(),
            principal_arn: principal_arn.unwrap_or_default(),
            assertion: assertion.unwrap_or_default(),
            policy,
            policy_arns: super::read_policy_arns(params),
            duration: duration(params, 900, 43200)?,
        })
    }
}

/// What AssumeRoleWithSAML resolves: the role's account and the role (if it exists), the verified
/// assertion and the session's name.
pub(crate) struct Found {
    account: String,
    role: Option<Role>,
    saml: Verified,
    session_name: String,
    /// `saml:doc`: `<account>/<provider name>`.
    doc: String,
}

impl Operation for AssumeRoleWithSaml {
    type Service = Sts;
    const NAME: &'static str = OPERATION;
    // Recorded as AssumeRole is: read-only, with the session it issued (never its secrets; the
    // assertion is never recorded).
    const READ_ONLY: bool = true;
    const RESPONSE_ELEMENTS: bool = true;
    type Input = Input;
    type Output = QueryReply;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), StsError> {
        role_account_and_name(&i.role_arn).map(|_| ())
    }

    /// Verifies the assertion against the role's account's provider: it says who asks.
    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Found, StsError> {
        let (account, name) = role_account_and_name(&i.role_arn)?;
        let iam = cx.services.store.iam_state(account).await?;
        let saml = verify(&iam, &i.principal_arn, &i.assertion, cx.now().millis())?;
        // CloudTrail's `SAMLUser`: the name qualifier and the subject the assertion proved.
        cx.rc.audit_notes.caller(crate::audit::Caller::Saml {
            principal_id: format!("{}:{}", saml.name_qualifier, saml.subject),
            user_name: saml.subject.clone(),
            identity_provider: saml.name_qualifier.clone(),
        });
        let session_name = match &saml.session_name {
            None => return Err(invalid(NO_SESSION_NAME)),
            Some(n) if n.len() < 2 || n.len() > 64 || !valid_session_name(n) => {
                return Err(invalid(BAD_SESSION_NAME));
            }
            Some(n) => n.clone(),
        };
        // The role and provider asked for must be a pair the assertion grants.
        if !saml
            .roles
            .iter()
            .any(|(role, provider)| *role == i.role_arn && *provider == i.principal_arn)
        {
            return Err(StsError::AccessDenied(DENIED.into()));
        }
        validate_session_tags(&saml.tags)?;
        if !saml
            .transitive_tag_keys
            .iter()
            .all(|t| saml.tags.iter().any(|(k, _)| crate::same_tag_key(k, t)))
        {
            return Err(StsError::InvalidParameterValue(
                super::TRANSITIVE_KEY_NOT_A_TAG.into(),
            ));
        }
        if let Some(si) = &saml.source_identity
            && (si.len() < 2 || si.len() > 64 || !valid_session_name(si))
        {
            return Err(invalid(
                "SourceIdentity in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
            ));
        }
        let provider_name = i.principal_arn.rsplit('/').next().unwrap_or_default();
        Ok(Found {
            account: account.to_owned(),
            role: iam.role(name).filter(|r| r.arn == i.role_arn).cloned(),
            doc: format!("{account}/{provider_name}"),
            saml,
            session_name,
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
        let saml = &found.saml;
        let mut check = Check::new("sts:AssumeRoleWithSAML", resource)
            .federated(&saml.provider_arn)
            .condition("sts:RoleSessionName", found.session_name.as_str())
            .condition("saml:aud", saml.audience.as_str())
            .condition("saml:iss", saml.issuer.as_str())
            .condition("saml:sub", saml.subject.as_str())
            .condition("saml:sub_type", saml.subject_type.as_str())
            .condition("saml:namequalifier", saml.name_qualifier.as_str())
            .condition("saml:doc", found.doc.as_str())
            .condition_opt("sts:SourceIdentity", saml.source_identity.as_deref())
            .request_tags(saml.tags.as_slice());
        for (key, value) in &saml.mapped {
            check = check.condition(key, value.as_str());
        }
        for key in &saml.transitive_tag_keys {
            check = check.condition("sts:TransitiveTagKeys", key.as_str());
        }
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
            // Session tags need sts:TagSession, a source identity sts:SetSourceIdentity, both
            // from the trust policy (IAM User Guide, "Passing session tags using
            // AssumeRoleWithSAML").
            if !saml.tags.is_empty() {
                let mut tag = check.clone();
                tag.action = "sts:TagSession";
                authorization = authorization.and(tag);
            }
            if saml.source_identity.is_some() {
                check.action = "sts:SetSourceIdentity";
                authorization = authorization.and(check);
            }
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<QueryReply, StsError> {
        let Some(role) = found.role else {
            return Err(StsError::AccessDenied(DENIED.to_owned()));
        };
        let duration = i.duration.unwrap_or(3600);
        if duration > role.max_session_duration {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
            ));
        }
        let policies = session_policies(cx, &found.account, i.policy.as_deref(), &i.policy_arns).await?;
        let now = cx.now();
        let saml = found.saml;
        // The session ends after DurationSeconds, or at the assertion's SessionNotOnOrAfter if
        // that is sooner.
        let mut expiration = now.plus_millis(duration * 1000);
        if let Some(until) = saml.session_not_on_or_after {
            expiration = expiration.min(Timestamp::from_millis(until));
        }
        let session_name = &found.session_name;
        let principal = assumed_role_principal(&found.account, &role, session_name);
        let assumed_arn = principal.arn.clone();
        let session = Session {
            kind: SessionKind::AssumedRole,
            policies,
            tags: saml.tags.clone(),
            transitive_tag_keys: saml.transitive_tag_keys.clone(),
            issued: now,
            expiration,
            source_identity: saml.source_identity.clone(),
            mfa_authenticated: None,
        };
        let mut x = cx.xml::<Sts>();
        issue(cx, principal, session, &mut x)?;
        x.elem("Audience", &saml.audience);
        x.open("AssumedRoleUser")
            .elem("AssumedRoleId", &format!("{}:{session_name}", role.role_id))
            .elem("Arn", &assumed_arn)
            .close("AssumedRoleUser");
        if let Some(p) = &i.policy {
            x.elem("PackedPolicySize", &super::packed_policy_size(p));
        }
        x.elem("Subject", &saml.subject)
            .elem("SubjectType", &saml.subject_type)
            .elem("Issuer", &saml.issuer)
            .elem("NameQualifier", &saml.name_qualifier);
        x.opt("SourceIdentity", saml.source_identity.as_deref());
        Ok(QueryReply::Result(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_endpoints_are_global_or_regional() {
        assert!(is_sign_in_endpoint("https://signin.aws.amazon.com/saml"));
        assert!(is_sign_in_endpoint(
            "https://eu-west-1.signin.aws.amazon.com/saml"
        ));
        assert!(!is_sign_in_endpoint("https://evil.example/saml"));
        assert!(!is_sign_in_endpoint("https://.signin.aws.amazon.com/saml"));
        assert!(is_aws_audience("urn:amazon:webservices"));
        assert!(!is_aws_audience("urn:example"));
    }

    #[test]
    fn a_provider_without_keys_has_no_certificates() {
        let doc = r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>"#;
        let keys = provider_keys(doc).unwrap();
        assert_eq!(keys.entity_id, "https://idp.example/");
        assert!(keys.certificates.is_empty());
        assert!(provider_keys("<!DOCTYPE x []><x/>").is_none());
    }

    #[test]
    fn what_is_not_signed_xml_is_refused() {
        assert_eq!(
            signed_assertion("not xml", &[]).map(|_| ()),
            Err(invalid(NOT_A_RESPONSE))
        );
        let unsigned = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"/>"#;
        assert_eq!(
            signed_assertion(unsigned, &[CertificateDer::from(vec![1, 2, 3])]).map(|_| ()),
            Err(invalid(BAD_SIGNATURE))
        );
    }
}
