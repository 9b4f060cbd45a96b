//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//!
//! An alias needs permission on the alias itself (identity policies, on the alias ARN) and on the
//! key it points to (the key policy): CreateAlias on the alias and its target, UpdateAlias on the
//! alias, the key it points to now and the new target, DeleteAlias on the alias and its key.

use kinko_core::kms::{self, KmsAlias, KmsKey};
use kinko_core::store::StoreError;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use crate::authz::{Check, Resource};
use crate::kms::model;
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, found_check, identity_check, key_check,
    not_pending_deletion, resolve_key_later,
};

/// Aliases per key (KMS quotas).
const MAX_ALIASES_PER_KEY: usize = 50;
const ALIAS_PATTERN: &str = "^[a-zA-Z0-9:/_-]+$";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasInput {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

impl AliasInput {
    fn name(&self) -> &str {
        self.alias_name.as_deref().unwrap_or_default()
    }
}

fn check_alias_name(v: &mut Violations, name: &Option<String>) {
    v.required("aliasName", name);
    v.length("aliasName", name.as_deref(), 1, 256, false);
    if let Some(n) = name.as_deref() {
        let ok = n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'));
        v.pattern("aliasName", Some(n), ALIAS_PATTERN, ok);
    }
}

/// `alias/` prefix required; `alias/aws/` is reserved for AWS managed keys.
fn check_alias_rules(name: &str) -> Result<(), KmsError> {
    if !name.starts_with("alias/") {
        return Err(KmsError::Validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::NotAuthorized);
    }
    Ok(())
}

fn validate(i: &AliasInput, needs_target: bool) -> Result<(), KmsError> {
    let mut v = Violations::new();
    check_alias_name(&mut v, &i.alias_name);
    if needs_target {
        model::check_key_id(&mut v, "targetKeyId", &i.target_key_id);
    }
    model::violations(v)?;
    check_alias_rules(i.name())?;
    if needs_target {
        check_new_alias(i.name(), i.target_key_id.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

/// CreateAlias and UpdateAlias: the model's pattern lets a colon through, but an alias name may
/// only hold letters, digits, `/`, `_` and `-` (developer guide, "Creating an alias"); and the
/// target must name a key, not an alias. AWS's texts for both.
fn check_new_alias(name: &str, target: &str) -> Result<(), KmsError> {
    if name.contains(':') {
        return Err(KmsError::Validation(format!(
            "{name} contains invalid characters for an alias"
        )));
    }
    if target.starts_with("alias/") || (target.starts_with("arn:") && target.contains(":alias/")) {
        return Err(KmsError::Validation(
            "Aliases must refer to keys. Not aliases".into(),
        ));
    }
    Ok(())
}

/// The alias `name` of the caller's account and the account's aliases.
async fn aliases(cx: &Cx<'_>, name: &str) -> Result<(Option<KmsAlias>, Vec<KmsAlias>), KmsError> {
    let all = cx
        .services
        .store
        .list_kms_aliases(cx.account(), cx.region())
        .await?;
    Ok((all.iter().find(|a| a.alias_name == name).cloned(), all))
}

/// The check of `action` on the alias `arn` of the caller's account (identity policies).
fn alias_check<'a>(cx: &'a Cx<'_>, arn: &'a str) -> Check<'a> {
    identity_check(
        cx,
        cx.action,
        Resource::Arn {
            arn,
            account_id: cx.account(),
        },
    )
}

fn alias_not_found(alias_arn: &str) -> KmsError {
    KmsError::NotFound(format!("Alias {alias_arn} is not found."))
}

fn already_exists(alias_arn: &str) -> KmsError {
    KmsError::AlreadyExists(format!("An alias with the name {alias_arn} already exists"))
}

/// The target of an alias must be a key of the caller's account and region.
fn same_account(cx: &Cx<'_>, key: &KmsKey, target: &str) -> Result<(), KmsError> {
    if key.account_id == cx.account() {
        Ok(())
    } else {
        Err(KmsError::NotFound(format!("Invalid keyId '{target}'")))
    }
}

/// A key takes at most [`MAX_ALIASES_PER_KEY`] aliases, whether created for it or moved to it.
fn alias_quota(aliases: &[KmsAlias], key: &KmsKey) -> Result<(), KmsError> {
    if aliases.iter().filter(|a| a.target_arn == key.arn).count() >= MAX_ALIASES_PER_KEY {
        return Err(KmsError::LimitExceeded(format!(
            "Key {} has reached the maximum of {MAX_ALIASES_PER_KEY} aliases.",
            key.arn
        )));
    }
    Ok(())
}

/// What an alias operation works on.
pub(crate) struct AliasFound {
    /// The alias's ARN in the caller's account.
    arn: String,
    /// The alias, if it exists.
    alias: Option<KmsAlias>,
    /// Every alias of the caller's account and region.
    aliases: Vec<KmsAlias>,
    /// The key the alias points to now (UpdateAlias, DeleteAlias).
    current: Option<KmsKey>,
}

impl AliasFound {
    async fn resolve(cx: &Cx<'_>, i: &AliasInput, with_current: bool) -> Result<AliasFound, KmsError> {
        let name = i.name();
        let (alias, aliases) = aliases(cx, name).await?;
        let current = match &alias {
            Some(a) if with_current => cx.services.store.kms_key(&a.target_arn).await?,
            _ => None,
        };
        Ok(AliasFound {
            arn: kms::alias_arn(cx.region(), cx.account(), name),
            alias,
            aliases,
            current,
        })
    }
}

/// What CreateAlias and UpdateAlias work on: the alias and the key `TargetKeyId` names.
pub(crate) struct Retarget {
    found: AliasFound,
    /// A malformed `TargetKeyId`'s error is given after the alias's check.
    target: Result<Found, KmsError>,
}

impl Retarget {
    async fn resolve(cx: &Cx<'_>, i: &AliasInput, with_current: bool) -> Result<Retarget, KmsError> {
        Ok(Retarget {
            found: AliasFound::resolve(cx, i, with_current).await?,
            target: resolve_key_later(cx, i.target_key_id.as_deref(), Accepts::KeyOnly).await?,
        })
    }

    /// The target key, once authorized: a malformed or missing one is answered with its error, as
    /// is one of another account or pending deletion.
    async fn key(target: Result<Found, KmsError>, cx: &Cx<'_>, i: &AliasInput) -> Result<KmsKey, KmsError> {
        let key = target?.into_key(cx).await?;
        same_account(cx, &key, i.target_key_id.as_deref().unwrap_or_default())?;
        not_pending_deletion(&key)?;
        Ok(key)
    }
}

pub(crate) struct CreateAlias;

impl Operation for CreateAlias {
    type Service = Kms;
    const NAME: &'static str = "CreateAlias";
    type Input = AliasInput;
    type Output = Empty;
    type Resolved = Retarget;

    fn validate(i: &AliasInput) -> Result<(), KmsError> {
        validate(i, true)
    }

    async fn resolve(cx: &Cx<'_>, i: &AliasInput) -> Result<Retarget, KmsError> {
        Retarget::resolve(cx, i, false).await
    }

    /// The alias, and the key it is to point to.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a AliasInput,
        r: &'a Retarget,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut authorization = Authorization::of(alias_check(cx, &r.found.arn));
        if let Ok(target) = &r.target {
            authorization = authorization.and(found_check(cx, cx.action, target));
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &AliasInput, r: Retarget) -> Result<Empty, KmsError> {
        let key = Retarget::key(r.target, cx, i).await?;
        let arn = r.found.arn;
        if r.found.alias.is_some() {
            return Err(already_exists(&arn));
        }
        alias_quota(&r.found.aliases, &key)?;
        let now = cx.now();
        let alias = KmsAlias {
            account_id: cx.account().to_owned(),
            region: cx.region().to_owned(),
            alias_name: i.name().to_owned(),
            target_arn: key.arn,
            creation_date: now,
            last_updated_date: now,
        };
        match cx.services.store.create_kms_alias(alias).await {
            Ok(()) => Ok(Empty {}),
            Err(StoreError::Conflict) => Err(already_exists(&arn)),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) struct UpdateAlias;

impl Operation for UpdateAlias {
    type Service = Kms;
    const NAME: &'static str = "UpdateAlias";
    type Input = AliasInput;
    type Output = Empty;
    type Resolved = Retarget;

    fn validate(i: &AliasInput) -> Result<(), KmsError> {
        validate(i, true)
    }

    async fn resolve(cx: &Cx<'_>, i: &AliasInput) -> Result<Retarget, KmsError> {
        Retarget::resolve(cx, i, true).await
    }

    /// The alias; when it exists, the key it points to now and the new target too.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a AliasInput,
        r: &'a Retarget,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut authorization = Authorization::of(alias_check(cx, &r.found.arn));
        if r.found.alias.is_some() {
            if let Some(current) = &r.found.current {
                authorization = authorization.and(key_check(cx.account(), cx.action, current));
            }
            if let Ok(target) = &r.target {
                authorization = authorization.and(found_check(cx, cx.action, target));
            }
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &AliasInput, r: Retarget) -> Result<Empty, KmsError> {
        let Some(mut alias) = r.found.alias else {
            return Err(alias_not_found(&r.found.arn));
        };
        let key = Retarget::key(r.target, cx, i).await?;
        if alias.target_arn != key.arn {
            alias_quota(&r.found.aliases, &key)?;
        }
        alias.target_arn = key.arn;
        alias.last_updated_date = cx.now();
        match cx.services.store.update_kms_alias(alias).await? {
            true => Ok(Empty {}),
            // Deleted meanwhile: answered from a fresh read.
            false => Err(KmsError::Conflict),
        }
    }
}

pub(crate) struct DeleteAlias;

impl Operation for DeleteAlias {
    type Service = Kms;
    const NAME: &'static str = "DeleteAlias";
    type Input = AliasInput;
    type Output = Empty;
    type Resolved = AliasFound;

    fn validate(i: &AliasInput) -> Result<(), KmsError> {
        validate(i, false)
    }

    async fn resolve(cx: &Cx<'_>, i: &AliasInput) -> Result<AliasFound, KmsError> {
        AliasFound::resolve(cx, i, true).await
    }

    /// The alias, and the key it points to.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a AliasInput,
        f: &'a AliasFound,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut authorization = Authorization::of(alias_check(cx, &f.arn));
        if let Some(current) = &f.current {
            authorization = authorization.and(key_check(cx.account(), cx.action, current));
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &AliasInput, f: AliasFound) -> Result<Empty, KmsError> {
        if f.alias.is_none() {
            return Err(alias_not_found(&f.arn));
        }
        if cx
            .services
            .store
            .delete_kms_alias(cx.account(), cx.region(), i.name())
            .await?
        {
            Ok(Empty {})
        } else {
            Err(alias_not_found(&f.arn))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAliasesInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AliasListEntry {
    alias_name: String,
    alias_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated_date: Option<f64>,
}

/// The aliases of AWS managed keys that ListAliases shows in every account and region, whether
/// their key exists yet or not (the key is created the first time its service uses it). The set
/// AWS lists varies a little by region and over time; this is the common one. An alias whose key
/// does not exist yet has no `TargetKeyId` and no dates (API reference, ListAliases: "the response
/// might include aliases that have no TargetKeyId field. These are predefined aliases that AWS has
/// created but has not yet associated with a KMS key").
const PREDEFINED_ALIASES: [&str; 14] = [
    "alias/aws/acm",
    "alias/aws/dynamodb",
    "alias/aws/ebs",
    "alias/aws/elasticfilesystem",
    "alias/aws/es",
    "alias/aws/glue",
    "alias/aws/kinesisvideo",
    "alias/aws/lambda",
    "alias/aws/rds",
    "alias/aws/redshift",
    "alias/aws/s3",
    "alias/aws/secretsmanager",
    "alias/aws/ssm",
    "alias/aws/xray",
];

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAliasesOutput {
    aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

/// The account's aliases, and the key `KeyId` names, when given.
pub(crate) struct Listing {
    aliases: Vec<KmsAlias>,
    key: Option<Result<Found, KmsError>>,
}

pub(crate) struct ListAliases;

impl Operation for ListAliases {
    type Service = Kms;
    const NAME: &'static str = "ListAliases";
    type Input = ListAliasesInput;
    type Output = ListAliasesOutput;
    type Resolved = Listing;

    fn validate(i: &ListAliasesInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        v.length("keyId", i.key_id.as_deref(), 1, 2048, false);
        v.range("limit", i.limit, 1, 100);
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &ListAliasesInput) -> Result<Listing, KmsError> {
        let aliases = cx
            .services
            .store
            .list_kms_aliases(cx.account(), cx.region())
            .await?;
        let key = match i.key_id.as_deref() {
            Some(k) => Some(resolve_key_later(cx, Some(k), Accepts::KeyOnly).await?),
            None => None,
        };
        Ok(Listing { aliases, key })
    }

    /// `"*"`, and the key when `KeyId` names one.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListAliasesInput,
        l: &'a Listing,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut authorization = Authorization::of(identity_check(cx, cx.action, Resource::Any));
        if let Some(Ok(found)) = &l.key {
            authorization = authorization.and(found_check(cx, cx.action, found));
        }
        Ok(authorization)
    }

    async fn run(cx: &Cx<'_>, i: &ListAliasesInput, l: Listing) -> Result<ListAliasesOutput, KmsError> {
        let mut aliases = l.aliases;
        let filtered = l.key.is_some();
        if let Some(found) = l.key {
            let key = found?.into_key(cx).await?;
            aliases.retain(|a| a.target_arn == key.arn);
        }
        let mut entries: Vec<AliasListEntry> = aliases
            .into_iter()
            .map(|a| AliasListEntry {
                alias_arn: kms::alias_arn(&a.region, &a.account_id, &a.alias_name),
                target_key_id: a.target_arn.rsplit_once("key/").map(|(_, id)| id.to_owned()),
                alias_name: a.alias_name,
                creation_date: Some(a.creation_date.epoch_seconds()),
                last_updated_date: Some(a.last_updated_date.epoch_seconds()),
            })
            .collect();
        // The account's own aliases first (as before; clients take the first entry for theirs),
        // then the predefined ones whose key doesn't exist yet.
        if !filtered {
            for name in PREDEFINED_ALIASES {
                if !entries.iter().any(|e| e.alias_name == name) {
                    entries.push(AliasListEntry {
                        alias_arn: kms::alias_arn(cx.region(), cx.account(), name),
                        alias_name: name.to_owned(),
                        target_key_id: None,
                        creation_date: None,
                        last_updated_date: None,
                    });
                }
            }
        }
        let (page, next) = model::page(entries, i.limit, 100, 50, i.marker.as_deref())?;
        Ok(ListAliasesOutput {
            aliases: page,
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}
