//! ListSecretVersionIds: a secret's versions, oldest first; deprecated ones only on request.

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model::{self, token};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_deprecated: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VersionEntry {
    version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_stages: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_accessed_date: Option<f64>,
    created_date: f64,
    kms_key_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    versions: Vec<VersionEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
}

pub(crate) struct ListSecretVersionIds;

impl Operation for ListSecretVersionIds {
    type Service = SecretsManager;
    const NAME: &'static str = "ListSecretVersionIds";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.range("maxResults", i.max_results, 1, 100);
        v.length("nextToken", i.next_token.as_deref(), 1, 4096, false);
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())
    }

    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
            found,
        )))
    }

    async fn run(cx: &Cx<'_>, i: &Input, found: Found) -> Result<Output, SmError> {
        let s = model::found(found.secret)?;
        let default_key = cx
            .services
            .store
            .kms_alias_target(&s.account_id, &s.region, kinko_core::kms::SECRETSMANAGER_ALIAS)
            .await?;
        let offset = i
            .next_token
            .as_deref()
            .map(token::decode)
            .transpose()?
            .unwrap_or(0);
        let max = usize::try_from(i.max_results.unwrap_or(100)).unwrap_or(100);
        let include_deprecated = i.include_deprecated.unwrap_or(false);
        let all: Vec<_> = s
            .versions
            .iter()
            .filter(|v| include_deprecated || !v.is_deprecated())
            .collect();
        let versions: Vec<VersionEntry> = all
            .iter()
            .skip(offset)
            .take(max)
            .map(|v| VersionEntry {
                version_id: v.id.clone(),
                version_stages: (!v.is_deprecated()).then(|| v.stages.clone()),
                last_accessed_date: v.last_accessed_date.map(|t| t.epoch_seconds()),
                created_date: v.created_date.epoch_seconds(),
                kms_key_ids: model::kms_key_ids(&s, v, default_key.as_deref()),
            })
            .collect();
        let next = offset + versions.len();
        Ok(Output {
            versions,
            next_token: (next < all.len()).then(|| token::encode(next)),
            arn: s.arn.clone(),
            name: s.name.clone(),
        })
    }
}
