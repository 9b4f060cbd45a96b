//! CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant ("Grants in AWS KMS").
//!
//! Grants are stored with their key. What a grant allows is decided where every other access to
//! a key is, in the one authorization path: its statements are counted with the key policy
//! ([`crate::authz::KeyGrants`]). Grants are effective as soon as CreateGrant answers, so a grant
//! token adds nothing to a request beyond being well formed; RetireGrant takes one to name a grant.

use std::collections::BTreeMap;

use base64::Engine as _;
use kinko_core::kms::{GrantConstraints, KeySpec, KeyUsage, KmsGrant, KmsKey};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use crate::authz::{KeyGrants, Resource};
use crate::kms::model;
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, found_check, identity_check, key_check,
    resolve_key, usable, write_key,
};

/// Every grant operation the model knows (botocore's `GrantOperation`).
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// The grant operations a key supports ("Grant operations": a symmetric encryption key none that
/// sign or MAC, an asymmetric key none that generates data keys).
fn supported_operations(key: &KmsKey) -> &'static [&'static str] {
    match (key.key_usage, key.key_spec) {
        (KeyUsage::EncryptDecrypt, KeySpec::SymmetricDefault) => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (KeyUsage::EncryptDecrypt, _) => &[
            "Decrypt",
            "Encrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (KeyUsage::SignVerify, _) => &[
            "Sign",
            "Verify",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (KeyUsage::GenerateVerifyMac, _) => &[
            "GenerateMac",
            "VerifyMac",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
        (KeyUsage::KeyAgreement, _) => &[
            "DeriveSharedSecret",
            "GetPublicKey",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
        ],
    }
}

/// `^[\w+=,.@:/-]+$`: principal ARNs.
fn is_principal(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@:/-".contains(c))
}

/// `^[a-zA-Z0-9:/_-]+$`: grant names.
fn is_grant_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
}

fn check_grant_id(v: &mut Violations, id: Option<&str>) {
    v.length("grantId", id, 1, 128, false);
}

fn check_grant_tokens(v: &mut Violations, tokens: Option<&[String]>) {
    v.list_length("grantTokens", tokens, 0, 10);
    for (n, t) in tokens.iter().copied().flatten().enumerate() {
        v.length(&format!("grantTokens.{}.member", n + 1), Some(t), 1, 8192, false);
    }
}

/// A grant id: 64 hex digits.
fn new_grant_id() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const TOKEN_PREFIX: &str = "kinko-grant-1\n";

/// A grant token: names the grant and its key, so that RetireGrant can find it by token alone.
fn grant_token(key_arn: &str, grant_id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{TOKEN_PREFIX}{grant_id}\n{key_arn}"))
}

/// The grant id and key ARN a grant token names.
fn read_grant_token(token: &str) -> Result<(String, String), KmsError> {
    let invalid = || KmsError::InvalidGrantToken(INVALID_GRANT_TOKEN.into());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = text.strip_prefix(TOKEN_PREFIX).ok_or_else(invalid)?;
    let (id, arn) = rest.split_once('\n').ok_or_else(invalid)?;
    Ok((id.to_owned(), arn.to_owned()))
}

const INVALID_GRANT_TOKEN: &str = "Invalid grant token";

fn grant_not_found(grant_id: &str) -> KmsError {
    KmsError::NotFound(format!("Grant ID {grant_id} not found"))
}

/// A grant id that can't be one (64 hex digits): `InvalidGrantIdException`.
fn well_formed_grant_id(grant_id: &str) -> Result<(), KmsError> {
    if grant_id.len() == 64 && grant_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    Err(KmsError::InvalidGrantId("Invalid grant ID".into()))
}

/// `GrantConstraints`, as the wire has it.
#[derive(Deserialize, Serialize, Clone, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConstraintsShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context_equals: Option<BTreeMap<String, String>>,
}

impl ConstraintsShape {
    fn pairs(&self) -> impl Iterator<Item = (&String, &String)> {
        self.encryption_context_subset
            .iter()
            .chain(self.encryption_context_equals.iter())
            .flatten()
    }

    /// `kms:GrantConstraintType`.
    fn kind(&self) -> Option<&'static str> {
        if self.encryption_context_equals.is_some() {
            Some("EncryptionContextEquals")
        } else if self.encryption_context_subset.is_some() {
            Some("EncryptionContextSubset")
        } else {
            None
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateGrantInput {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<ConstraintsShape>,
    grant_tokens: Option<Vec<String>>,
    name: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateGrantOutput {
    grant_token: String,
    grant_id: String,
}

/// The key a grant is created on, and the `kms:EncryptionContext:<k>` names of its constraint.
pub(crate) struct Granting {
    found: Found,
    context_names: Vec<(String, String)>,
}

pub(crate) struct CreateGrant;

impl Operation for CreateGrant {
    type Service = Kms;
    const NAME: &'static str = "CreateGrant";
    type Input = CreateGrantInput;
    type Output = CreateGrantOutput;
    type Resolved = Granting;

    fn validate(i: &CreateGrantInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("granteePrincipal", &i.grantee_principal);
        v.length("granteePrincipal", i.grantee_principal.as_deref(), 1, 256, false);
        if let Some(p) = i.grantee_principal.as_deref().filter(|p| !p.is_empty()) {
            v.pattern("granteePrincipal", Some(p), r"^[\w+=,.@:/-]+$", is_principal(p));
        }
        v.length(
            "retiringPrincipal",
            i.retiring_principal.as_deref(),
            1,
            256,
            false,
        );
        if let Some(p) = i.retiring_principal.as_deref().filter(|p| !p.is_empty()) {
            v.pattern("retiringPrincipal", Some(p), r"^[\w+=,.@:/-]+$", is_principal(p));
        }
        v.required("operations", &i.operations);
        for (n, op) in i.operations.iter().flatten().enumerate() {
            v.one_of(
                &format!("operations.{}.member", n + 1),
                Some(op),
                GRANT_OPERATIONS,
            );
        }
        check_grant_tokens(&mut v, i.grant_tokens.as_deref());
        v.length("name", i.name.as_deref(), 1, 256, false);
        if let Some(n) = i.name.as_deref().filter(|n| !n.is_empty()) {
            v.pattern("name", Some(n), "^[a-zA-Z0-9:/_-]+$", is_grant_name(n));
        }
        model::violations(v)?;
        if i.operations.as_deref().is_some_and(<[String]>::is_empty) {
            return Err(KmsError::Validation("Grant operations cannot be empty".into()));
        }
        if let Some(c) = &i.constraints {
            for m in [&c.encryption_context_subset, &c.encryption_context_equals]
                .into_iter()
                .flatten()
            {
                if m.len() > 8 {
                    return Err(KmsError::Validation(
                        "Grant constraints can have at most 8 encryption context pairs".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &CreateGrantInput) -> Result<Granting, KmsError> {
        let context_names = i
            .constraints
            .iter()
            .flat_map(ConstraintsShape::pairs)
            .map(|(k, v)| (format!("kms:EncryptionContext:{k}"), v.clone()))
            .collect();
        Ok(Granting {
            found: resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await?,
            context_names,
        })
    }

    /// The key's check with CreateGrant's condition keys: `kms:GrantOperations` (each one),
    /// `kms:GranteePrincipal`, `kms:RetiringPrincipal`, `kms:GrantIsForAWSResource` (`false`: a
    /// caller's own request), `kms:GrantConstraintType`, and the constraint's pairs as
    /// `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys`.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateGrantInput,
        g: &'a Granting,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut check = found_check(cx, cx.action, &g.found)
            .condition_opt("kms:GranteePrincipal", i.grantee_principal.as_deref())
            .condition_opt("kms:RetiringPrincipal", i.retiring_principal.as_deref())
            .condition("kms:GrantIsForAWSResource", "false")
            .condition_opt(
                "kms:GrantConstraintType",
                i.constraints.as_ref().and_then(ConstraintsShape::kind),
            );
        for op in i.operations.iter().flatten() {
            check = check.condition("kms:GrantOperations", op.as_str());
        }
        for (name, value) in &g.context_names {
            let key = &name["kms:EncryptionContext:".len()..];
            check = check
                .condition(name.as_str(), value.as_str())
                .condition("kms:EncryptionContextKeys", key);
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &CreateGrantInput, g: Granting) -> Result<CreateGrantOutput, KmsError> {
        let mut key = g.found.into_key(cx).await?;
        usable(&key)?;
        let supported = supported_operations(&key);
        let mut operations: Vec<String> = Vec::new();
        for op in i.operations.iter().flatten() {
            if !supported.contains(&op.as_str()) {
                return Err(KmsError::Validation(format!(
                    "{op} is not a valid grant operation for a KMS key with KeyUsage {} and KeySpec {}",
                    key.key_usage.name(),
                    key.key_spec.name()
                )));
            }
            if !operations.contains(op) {
                operations.push(op.clone());
            }
        }
        let constraints = i.constraints.as_ref().and_then(|c| {
            (c.encryption_context_subset.is_some() || c.encryption_context_equals.is_some()).then(|| {
                GrantConstraints {
                    encryption_context_subset: c.encryption_context_subset.clone(),
                    encryption_context_equals: c.encryption_context_equals.clone(),
                }
            })
        });
        if constraints.is_some() && key.key_spec != KeySpec::SymmetricDefault {
            return Err(KmsError::Validation(format!(
                "Grant constraints are not supported for a KMS key with KeySpec {}",
                key.key_spec.name()
            )));
        }
        let grantee = i.grantee_principal.clone().unwrap_or_default();
        let name = i.name.clone().unwrap_or_default();
        // A retry: the same name and the same grant ("Creating a grant": Name).
        if !name.is_empty()
            && let Some(existing) = key.grants.iter().find(|e| {
                e.name == name
                    && e.grantee_principal == grantee
                    && e.retiring_principal == i.retiring_principal
                    && e.operations == operations
                    && e.constraints == constraints
            })
        {
            if i.dry_run {
                return Err(KmsError::DryRun);
            }
            return Ok(CreateGrantOutput {
                grant_token: grant_token(&key.arn, &existing.grant_id),
                grant_id: existing.grant_id.clone(),
            });
        }
        if key.grants.len() >= 50_000 {
            return Err(KmsError::LimitExceeded(format!(
                "The request would exceed the grant limit for {}",
                key.arn
            )));
        }
        let mut principals = Vec::new();
        for p in std::iter::once(&grantee).chain(i.retiring_principal.iter()) {
            if let Ok(Ok(bound)) = crate::authz::bind_principals(
                cx.services,
                &serde_json::json!({"Statement": [{"Principal": {"AWS": p}}]}).to_string(),
            )
            .await
            .map_err(KmsError::from)
            {
                principals.extend(bound);
            }
        }
        let grant = KmsGrant {
            grant_id: new_grant_id(),
            name,
            grantee_principal: grantee,
            retiring_principal: i.retiring_principal.clone(),
            operations,
            constraints,
            issuing_account: format!("arn:aws:iam::{}:root", cx.account()),
            creation_date: cx.now(),
            principals,
        };
        // A grantee that no key policy statement could name gets no grant that would allow nothing.
        if kinko_policy::Policy::parse(
            &kinko_core::kms::policy_with_grants(
                r#"{"Version":"2012-10-17","Statement":[]}"#,
                std::slice::from_ref(&grant),
                true,
            )
            .unwrap_or_default(),
            kinko_policy::PolicyKind::KeyPolicy,
        )
        .is_err()
        {
            return Err(KmsError::Validation(format!(
                "Invalid principal: {}",
                grant.grantee_principal
            )));
        }
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        let out = CreateGrantOutput {
            grant_token: grant_token(&key.arn, &grant.grant_id),
            grant_id: grant.grant_id.clone(),
        };
        key.grants.push(grant);
        write_key(cx, key).await?;
        Ok(out)
    }
}

/// `GrantListEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GrantListEntry {
    key_id: String,
    grant_id: String,
    name: String,
    creation_date: f64,
    grantee_principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<String>,
    issuing_account: String,
    operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<ConstraintsShape>,
}

impl GrantListEntry {
    fn of(key: &KmsKey, g: &KmsGrant) -> Self {
        GrantListEntry {
            key_id: key.arn.clone(),
            grant_id: g.grant_id.clone(),
            name: g.name.clone(),
            creation_date: g.creation_date.epoch_seconds(),
            grantee_principal: g.grantee_principal.clone(),
            retiring_principal: g.retiring_principal.clone(),
            issuing_account: g.issuing_account.clone(),
            operations: g.operations.clone(),
            constraints: g.constraints.as_ref().map(|c| ConstraintsShape {
                encryption_context_subset: c.encryption_context_subset.clone(),
                encryption_context_equals: c.encryption_context_equals.clone(),
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListGrantsInput {
    key_id: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListGrantsOutput {
    grants: Vec<GrantListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(crate) struct ListGrants;

impl Operation for ListGrants {
    type Service = Kms;
    const NAME: &'static str = "ListGrants";
    type Input = ListGrantsInput;
    type Output = ListGrantsOutput;
    type Resolved = Found;

    fn validate(i: &ListGrantsInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        check_grant_id(&mut v, i.grant_id.as_deref());
        v.length("granteePrincipal", i.grantee_principal.as_deref(), 1, 256, false);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &ListGrantsInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListGrantsInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, found).condition("kms:GrantIsForAWSResource", "false"),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &ListGrantsInput, found: Found) -> Result<ListGrantsOutput, KmsError> {
        let key = found.into_key(cx).await?;
        if let Some(id) = i.grant_id.as_deref() {
            well_formed_grant_id(id)?;
        }
        let grants: Vec<GrantListEntry> = key
            .grants
            .iter()
            .filter(|g| i.grant_id.as_deref().is_none_or(|id| g.grant_id == id))
            .filter(|g| {
                i.grantee_principal
                    .as_deref()
                    .is_none_or(|p| g.grantee_principal == p)
            })
            .map(|g| GrantListEntry::of(&key, g))
            .collect();
        let (page, next) = model::page(grants, i.limit, 100, 50, i.marker.as_deref())?;
        Ok(ListGrantsOutput {
            grants: page,
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRetirableGrantsInput {
    retiring_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

pub(crate) struct ListRetirableGrants;

impl Operation for ListRetirableGrants {
    type Service = Kms;
    const NAME: &'static str = "ListRetirableGrants";
    type Input = ListRetirableGrantsInput;
    type Output = ListGrantsOutput;
    type Resolved = ();

    fn validate(i: &ListRetirableGrantsInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        v.required("retiringPrincipal", &i.retiring_principal);
        v.length(
            "retiringPrincipal",
            i.retiring_principal.as_deref(),
            1,
            256,
            false,
        );
        if let Some(p) = i.retiring_principal.as_deref().filter(|p| !p.is_empty()) {
            v.pattern("retiringPrincipal", Some(p), r"^[\w+=,.@:/-]+$", is_principal(p));
        }
        model::violations(v)
    }

    async fn resolve(_: &Cx<'_>, _: &ListRetirableGrantsInput) -> Result<(), KmsError> {
        Ok(())
    }

    /// An IAM-only permission: no key is named ("AWS KMS permissions").
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListRetirableGrantsInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(identity_check(cx, cx.action, Resource::Any)))
    }

    async fn run(cx: &Cx<'_>, i: &ListRetirableGrantsInput, _: ()) -> Result<ListGrantsOutput, KmsError> {
        let principal = i.retiring_principal.as_deref().unwrap_or_default();
        let keys = cx.services.store.list_kms_keys(cx.account(), cx.region()).await?;
        let mut grants = Vec::new();
        for key in &keys {
            for g in &key.grants {
                if g.retiring_principal.as_deref() == Some(principal) {
                    grants.push(GrantListEntry::of(key, g));
                }
            }
        }
        let (page, next) = model::page(grants, i.limit, 100, 50, i.marker.as_deref())?;
        Ok(ListGrantsOutput {
            grants: page,
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RevokeGrantInput {
    key_id: Option<String>,
    grant_id: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

pub(crate) struct RevokeGrant;

impl Operation for RevokeGrant {
    type Service = Kms;
    const NAME: &'static str = "RevokeGrant";
    type Input = RevokeGrantInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &RevokeGrantInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("grantId", &i.grant_id);
        check_grant_id(&mut v, i.grant_id.as_deref());
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &RevokeGrantInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    /// Key policy and IAM decide, as for most operations ("Retiring and revoking grants").
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a RevokeGrantInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, found).condition("kms:GrantIsForAWSResource", "false"),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &RevokeGrantInput, found: Found) -> Result<Empty, KmsError> {
        let mut key = found.into_key(cx).await?;
        let id = i.grant_id.as_deref().unwrap_or_default();
        well_formed_grant_id(id)?;
        let before = key.grants.len();
        key.grants.retain(|g| g.grant_id != id);
        if key.grants.len() == before {
            return Err(grant_not_found(id));
        }
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RetireGrantInput {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// The grant RetireGrant names: its key (or what the `KeyId` names) and its id.
pub(crate) struct Retiring {
    found: Found,
    grant_id: String,
    /// The named grant, when the key has it: the one grant the check counts.
    grant: Option<KmsGrant>,
}

pub(crate) struct RetireGrant;

impl Operation for RetireGrant {
    type Service = Kms;
    const NAME: &'static str = "RetireGrant";
    type Input = RetireGrantInput;
    type Output = Empty;
    type Resolved = Retiring;

    fn validate(i: &RetireGrantInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        v.length("grantToken", i.grant_token.as_deref(), 1, 8192, false);
        v.length("keyId", i.key_id.as_deref(), 1, 2048, false);
        check_grant_id(&mut v, i.grant_id.as_deref());
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &RetireGrantInput) -> Result<Retiring, KmsError> {
        let (grant_id, found) = match (&i.grant_token, &i.key_id, &i.grant_id) {
            (Some(token), _, _) => {
                let (grant_id, arn) = read_grant_token(token)?;
                (grant_id, resolve_key(cx, Some(&arn), Accepts::KeyOnly).await?)
            }
            (None, Some(key_id), Some(grant_id)) => {
                well_formed_grant_id(grant_id)?;
                (
                    grant_id.clone(),
                    resolve_key(cx, Some(key_id), Accepts::KeyOnly).await?,
                )
            }
            (None, None, Some(_)) => {
                return Err(KmsError::Validation(
                    "KeyId must be specified with GrantId".into(),
                ));
            }
            (None, _, None) => {
                return Err(KmsError::Validation(
                    "Either GrantToken or both KeyId and GrantId must be specified".into(),
                ));
            }
        };
        let grant = found
            .key()
            .and_then(|k| k.grants.iter().find(|g| g.grant_id == grant_id))
            .cloned();
        Ok(Retiring {
            found,
            grant_id,
            grant,
        })
    }

    /// Who may retire a grant is decided by the grant: its retiring principal, its grantee when
    /// it allows RetireGrant, and the account (as key policy and IAM allow `kms:RetireGrant`);
    /// an explicit deny still wins ("Retiring and revoking grants"). Only the named grant counts.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a RetireGrantInput,
        r: &'a Retiring,
    ) -> Result<Authorization<'a>, KmsError> {
        let check = match r.found.key() {
            Some(key) => key_check(cx.account(), cx.action, key).grants(KeyGrants {
                grants: r.grant.as_slice(),
                retiring: true,
            }),
            None => found_check(cx, cx.action, &r.found),
        };
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &RetireGrantInput, r: Retiring) -> Result<Empty, KmsError> {
        let mut key = r.found.into_key(cx).await?;
        let before = key.grants.len();
        key.grants.retain(|g| g.grant_id != r.grant_id);
        if key.grants.len() == before {
            return Err(grant_not_found(&r.grant_id));
        }
        if i.dry_run {
            return Err(KmsError::DryRun);
        }
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}
