//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//!
//! An alias needs permission on the alias itself (identity policies, on the alias ARN) and on the
//! key it points to (the key policy).

use kinko_core::kms::{self, KmsAlias, KmsKey};
use kinko_core::store::StoreError;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use crate::authz::Resource;
use crate::kms::model;
use crate::kms::{Accepts, Cx, KmsError, MAX_ATTEMPTS, decode, encode, not_pending_deletion};

/// Aliases per key (KMS quotas).
const MAX_ALIASES_PER_KEY: usize = 50;
const ALIAS_PATTERN: &str = "^[a-zA-Z0-9:/_-]+$";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AliasInput {
    alias_name: Option<String>,
    target_key_id: Option<String>,
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

fn validate(i: &AliasInput, needs_target: bool) -> Result<(&str, &str), KmsError> {
    let mut v = Violations::new();
    check_alias_name(&mut v, &i.alias_name);
    if needs_target {
        model::check_key_id(&mut v, "targetKeyId", &i.target_key_id);
    }
    model::violations(v)?;
    let name = i.alias_name.as_deref().unwrap_or_default();
    check_alias_rules(name)?;
    Ok((name, i.target_key_id.as_deref().unwrap_or_default()))
}

impl Cx<'_> {
    fn alias_arn(&self, name: &str) -> String {
        kms::alias_arn(self.region(), self.account(), name)
    }

    async fn authorize_alias(&self, action: &str, name: &str) -> Result<(), KmsError> {
        let arn = self.alias_arn(name);
        self.authorize_identity(
            action,
            Resource::Arn {
                arn: &arn,
                account_id: self.account(),
            },
            &[],
            &[],
        )
        .await
    }

    /// The alias `name` of the caller's account, if it exists.
    async fn find_alias(&self, name: &str) -> Result<Option<KmsAlias>, KmsError> {
        Ok(self
            .services
            .store
            .list_kms_aliases(self.account(), self.region())
            .await?
            .into_iter()
            .find(|a| a.alias_name == name))
    }

    fn alias_not_found(&self, name: &str) -> KmsError {
        KmsError::NotFound(format!("Alias {} is not found.", self.alias_arn(name)))
    }
}

/// The target of an alias must be a key of the caller's account and region.
fn same_account(cx: &Cx<'_>, key: &KmsKey, target: &str) -> Result<(), KmsError> {
    if key.account_id == cx.account() {
        Ok(())
    } else {
        Err(KmsError::NotFound(format!("Invalid keyId '{target}'")))
    }
}

pub(crate) async fn create_alias(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: AliasInput = decode(body)?;
    let (name, target) = validate(&i, true)?;
    cx.authorize_alias("kms:CreateAlias", name).await?;
    let key = cx.key(target, Accepts::KeyOnly, "kms:CreateAlias", &[]).await?;
    same_account(cx, &key, target)?;
    not_pending_deletion(&key)?;
    let aliases = cx
        .services
        .store
        .list_kms_aliases(cx.account(), cx.region())
        .await?;
    if aliases.iter().any(|a| a.alias_name == name) {
        return Err(already_exists(cx, name));
    }
    alias_quota(&aliases, &key)?;
    let now = cx.services.clock.now();
    let alias = KmsAlias {
        account_id: cx.account().to_owned(),
        region: cx.region().to_owned(),
        alias_name: name.to_owned(),
        target_arn: key.arn.clone(),
        creation_date: now,
        last_updated_date: now,
    };
    match cx.services.store.create_kms_alias(alias).await {
        Ok(()) => encode(&Empty {}),
        Err(StoreError::Conflict) => Err(already_exists(cx, name)),
        Err(e) => Err(e.into()),
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

fn already_exists(cx: &Cx<'_>, name: &str) -> KmsError {
    KmsError::AlreadyExists(format!(
        "An alias with the name {} already exists",
        cx.alias_arn(name)
    ))
}

pub(crate) async fn update_alias(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: AliasInput = decode(body)?;
    let (name, target) = validate(&i, true)?;
    cx.authorize_alias("kms:UpdateAlias", name).await?;
    for _ in 0..MAX_ATTEMPTS {
        let aliases = cx
            .services
            .store
            .list_kms_aliases(cx.account(), cx.region())
            .await?;
        let Some(mut alias) = aliases.iter().find(|a| a.alias_name == name).cloned() else {
            return Err(cx.alias_not_found(name));
        };
        // Permission on the key the alias points to now, and on the new target.
        if let Some(old) = cx.services.store.kms_key(&alias.target_arn).await? {
            cx.authorize_key("kms:UpdateAlias", &old, &[], &[]).await?;
        }
        let key = cx.key(target, Accepts::KeyOnly, "kms:UpdateAlias", &[]).await?;
        same_account(cx, &key, target)?;
        not_pending_deletion(&key)?;
        if alias.target_arn != key.arn {
            alias_quota(&aliases, &key)?;
        }
        alias.target_arn = key.arn.clone();
        alias.last_updated_date = cx.services.clock.now();
        match cx.services.store.update_kms_alias(alias).await {
            Ok(true) => return encode(&Empty {}),
            // Deleted meanwhile: answer from a fresh read.
            Ok(false) | Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KmsError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
}

pub(crate) async fn delete_alias(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: AliasInput = decode(body)?;
    let (name, _) = validate(&i, false)?;
    cx.authorize_alias("kms:DeleteAlias", name).await?;
    let Some(alias) = cx.find_alias(name).await? else {
        return Err(cx.alias_not_found(name));
    };
    if let Some(key) = cx.services.store.kms_key(&alias.target_arn).await? {
        cx.authorize_key("kms:DeleteAlias", &key, &[], &[]).await?;
    }
    if cx
        .services
        .store
        .delete_kms_alias(cx.account(), cx.region(), name)
        .await?
    {
        encode(&Empty {})
    } else {
        Err(cx.alias_not_found(name))
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
    target_key_id: String,
    creation_date: f64,
    last_updated_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesOutput {
    aliases: Vec<AliasListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(crate) async fn list_aliases(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: ListAliasesInput = decode(body)?;
    let mut v = Violations::new();
    v.length("keyId", i.key_id.as_deref(), 1, 2048, false);
    v.range("limit", i.limit, 1, 100);
    model::violations(v)?;
    cx.authorize_identity("kms:ListAliases", Resource::Any, &[], &[])
        .await?;
    let mut aliases = cx
        .services
        .store
        .list_kms_aliases(cx.account(), cx.region())
        .await?;
    if let Some(k) = i.key_id.as_deref() {
        let key = cx.key(k, Accepts::KeyOnly, "kms:ListAliases", &[]).await?;
        aliases.retain(|a| a.target_arn == key.arn);
    }
    let (page, next) = model::page(aliases, i.limit, 100, 50, i.marker.as_deref())?;
    encode(&ListAliasesOutput {
        aliases: page
            .into_iter()
            .map(|a| AliasListEntry {
                alias_arn: kms::alias_arn(&a.region, &a.account_id, &a.alias_name),
                target_key_id: a
                    .target_arn
                    .rsplit_once("key/")
                    .map(|(_, id)| id.to_owned())
                    .unwrap_or_default(),
                alias_name: a.alias_name,
                creation_date: a.creation_date.epoch_seconds(),
                last_updated_date: a.last_updated_date.epoch_seconds(),
            })
            .collect(),
        truncated: next.is_some(),
        next_marker: next,
    })
}
