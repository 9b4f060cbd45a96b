//! TagResource / UntagResource.

use kinko_core::secret::Tag;
use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::Deserialize;

use super::Empty;
use crate::secretsmanager::model::{self, TagShape};
use crate::secretsmanager::replication;
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

const MAX_TAGS: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    secret_id: Option<String>,
    tags: Option<Vec<TagShape>>,
}

pub(crate) struct TagResource;

fn reserved(key: &str) -> bool {
    key.to_ascii_lowercase().starts_with("aws:")
}

impl Operation for TagResource {
    type Service = SecretsManager;
    const NAME: &'static str = "TagResource";
    type Input = TagInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &TagInput) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.required("tags", &i.tags);
        model::check_tags(&mut v, "tags", i.tags.as_deref());
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())?;
        if i.tags
            .iter()
            .flatten()
            .any(|t| t.key.as_deref().is_some_and(reserved))
        {
            return Err(SmError::InvalidParameter(
                "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &TagInput) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a TagInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(
            crate::secretsmanager::check(
                cx,
                Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
                found,
            )
            .request_tags(request_tags(i)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &TagInput, found: Found) -> Result<Empty, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        let tags = secret.tags.get_or_insert_with(Vec::new);
        for t in i.tags.iter().flatten() {
            let key = t.key.clone().unwrap_or_default();
            let value = t.value.clone().unwrap_or_default();
            match tags.iter_mut().find(|x| x.key == key) {
                Some(existing) => existing.value = value,
                None => tags.push(Tag { key, value }),
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(SmError::LimitExceeded(
                "A secret can have at most 50 tags.".into(),
            ));
        }
        secret.last_changed_date = cx.services.clock.now();
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values: vec![],
                removed_versions: vec![],
            },
        )
        .await?;
        Ok(Empty {})
    }
}

fn request_tags(i: &TagInput) -> Vec<(String, String)> {
    i.tags
        .iter()
        .flatten()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    secret_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(crate) struct UntagResource;

impl Operation for UntagResource {
    type Service = SecretsManager;
    const NAME: &'static str = "UntagResource";
    type Input = UntagInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &UntagInput) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.required("tagKeys", &i.tag_keys);
        for (n, k) in i.tag_keys.iter().flatten().enumerate() {
            v.length(&format!("tagKeys.{}.member", n + 1), Some(k), 1, 128, false);
        }
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())
    }

    async fn resolve(cx: &Cx<'_>, i: &UntagInput) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a UntagInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        let mut check = crate::secretsmanager::check(
            cx,
            Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
            found,
        );
        for key in i.tag_keys.iter().flatten() {
            check = check.condition("aws:TagKeys", key.as_str());
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &UntagInput, found: Found) -> Result<Empty, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        let keys = i.tag_keys.as_deref().unwrap_or_default();
        // Untagging a secret that was never tagged leaves it never tagged; missing keys are ignored.
        if let Some(tags) = secret.tags.as_mut() {
            tags.retain(|t| !keys.contains(&t.key));
        }
        secret.last_changed_date = cx.services.clock.now();
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values: vec![],
                removed_versions: vec![],
            },
        )
        .await?;
        Ok(Empty {})
    }
}
