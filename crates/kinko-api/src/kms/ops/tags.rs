//! TagResource, UntagResource, ListResourceTags (tags are `TagKey`/`TagValue` pairs).

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use crate::kms::model::{self, TagShape};
use crate::kms::{
    Accepts, Authorization, Cx, Found, Kms, KmsError, Operation, found_check, not_pending_deletion,
    resolve_key, write_key,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    key_id: Option<String>,
    tags: Option<Vec<TagShape>>,
}

/// The key, and the tags the request sets (`aws:RequestTag/*`, `aws:TagKeys`).
pub(crate) struct Tagging {
    found: Found,
    request_tags: Vec<(String, String)>,
}

pub(crate) struct TagResource;

impl Operation for TagResource {
    type Service = Kms;
    const NAME: &'static str = "TagResource";
    type Input = TagInput;
    type Output = Empty;
    type Resolved = Tagging;

    fn validate(i: &TagInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("tags", &i.tags);
        model::violations(v)?;
        model::check_tags(i.tags.as_deref())
    }

    async fn resolve(cx: &Cx<'_>, i: &TagInput) -> Result<Tagging, KmsError> {
        Ok(Tagging {
            found: resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await?,
            request_tags: model::request_tags(i.tags.as_deref()),
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a TagInput,
        t: &'a Tagging,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(
            found_check(cx, cx.action, &t.found).request_tags(t.request_tags.as_slice()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &TagInput, t: Tagging) -> Result<Empty, KmsError> {
        let mut key = t.found.into_key(cx).await?;
        not_pending_deletion(&key)?;
        model::apply_tags(&mut key, i.tags.as_deref().unwrap_or_default())?;
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(crate) struct UntagResource;

impl Operation for UntagResource {
    type Service = Kms;
    const NAME: &'static str = "UntagResource";
    type Input = UntagInput;
    type Output = Empty;
    type Resolved = Found;

    fn validate(i: &UntagInput) -> Result<(), KmsError> {
        let mut v = Violations::new();
        model::check_key_id(&mut v, "keyId", &i.key_id);
        v.required("tagKeys", &i.tag_keys);
        for (n, k) in i.tag_keys.iter().flatten().enumerate() {
            v.length(&format!("tagKeys.{}.member", n + 1), Some(k), 1, 128, false);
        }
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, i: &UntagInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    /// The key's own check, with `aws:TagKeys` for the keys removed.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a UntagInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        let mut check = found_check(cx, cx.action, found);
        for k in i.tag_keys.iter().flatten() {
            check = check.condition("aws:TagKeys", k.as_str());
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &UntagInput, found: Found) -> Result<Empty, KmsError> {
        let mut key = found.into_key(cx).await?;
        not_pending_deletion(&key)?;
        let keys = i.tag_keys.as_deref().unwrap_or_default();
        key.tags.retain(|t| !keys.contains(&t.key));
        write_key(cx, key).await?;
        Ok(Empty {})
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListTagsOutput {
    tags: Vec<TagShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(crate) struct ListResourceTags;

impl Operation for ListResourceTags {
    type Service = Kms;
    const NAME: &'static str = "ListResourceTags";
    type Input = ListTagsInput;
    type Output = ListTagsOutput;
    type Resolved = Found;

    fn validate(i: &ListTagsInput) -> Result<(), KmsError> {
        super::check_key_id_input(&i.key_id)
    }

    async fn resolve(cx: &Cx<'_>, i: &ListTagsInput) -> Result<Found, KmsError> {
        resolve_key(cx, i.key_id.as_deref(), Accepts::KeyOnly).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListTagsInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, KmsError> {
        Ok(Authorization::of(found_check(cx, cx.action, found)))
    }

    async fn run(cx: &Cx<'_>, i: &ListTagsInput, found: Found) -> Result<ListTagsOutput, KmsError> {
        let key = found.into_key(cx).await?;
        let tags: Vec<TagShape> = key
            .tags
            .into_iter()
            .map(|t| TagShape {
                key: Some(t.key),
                value: Some(t.value),
            })
            .collect();
        let (page, next) = model::page(tags, i.limit, 50, 50, i.marker.as_deref())?;
        Ok(ListTagsOutput {
            tags: page,
            truncated: next.is_some(),
            next_marker: next,
        })
    }
}
