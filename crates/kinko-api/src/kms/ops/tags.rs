//! TagResource, UntagResource, ListResourceTags (tags are `TagKey`/`TagValue` pairs).

use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::Empty;
use crate::kms::model::{self, TagShape};
use crate::kms::{Accepts, Cx, KmsError, customer_managed, decode, encode, not_pending_deletion, update_key};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagInput {
    key_id: Option<String>,
    tags: Option<Vec<TagShape>>,
}

pub(crate) async fn tag_resource(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: TagInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.required("tags", &i.tags);
    model::violations(v)?;
    model::check_tags(i.tags.as_deref())?;
    let request_tags = model::request_tags(i.tags.as_deref());
    let tags = i.tags.as_deref().unwrap_or_default();
    let key_id = i.key_id.as_deref().unwrap_or_default();
    for _ in 0..crate::kms::MAX_ATTEMPTS {
        let mut key = cx.key(key_id, Accepts::KeyOnly, "kms:TagResource", &[]).await?;
        // Request tags feed `aws:RequestTag/*` and `aws:TagKeys`.
        if !request_tags.is_empty() {
            cx.authorize_key("kms:TagResource", &key, &[], &request_tags)
                .await?;
        }
        customer_managed(&key, "kms:TagResource", cx)?;
        not_pending_deletion(&key)?;
        model::apply_tags(&mut key, tags)?;
        match cx.services.store.update_kms_key(key).await {
            Ok(()) => return encode(&Empty {}),
            Err(kinko_core::store::StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KmsError::Internal(
        "too many conflicting concurrent changes".into(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagInput {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(crate) async fn untag_resource(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: UntagInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    v.required("tagKeys", &i.tag_keys);
    for (n, k) in i.tag_keys.iter().flatten().enumerate() {
        v.length(&format!("tagKeys.{}.member", n + 1), Some(k), 1, 128, false);
    }
    model::violations(v)?;
    let keys = i.tag_keys.clone().unwrap_or_default();
    let conditions: Vec<(String, String)> = keys
        .iter()
        .map(|k| ("aws:TagKeys".to_owned(), k.clone()))
        .collect();
    update_key(
        cx,
        i.key_id.as_deref().unwrap_or_default(),
        "kms:UntagResource",
        &conditions,
        |k| {
            customer_managed(k, "kms:UntagResource", cx)?;
            not_pending_deletion(k)?;
            k.tags.retain(|t| !keys.contains(&t.key));
            Ok(())
        },
    )
    .await?;
    encode(&Empty {})
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
struct ListTagsOutput {
    tags: Vec<TagShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(crate) async fn list_resource_tags(cx: &Cx<'_>, body: &[u8]) -> Result<Vec<u8>, KmsError> {
    let i: ListTagsInput = decode(body)?;
    let mut v = Violations::new();
    model::check_key_id(&mut v, "keyId", &i.key_id);
    model::violations(v)?;
    let key = cx
        .key(
            i.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            "kms:ListResourceTags",
            &[],
        )
        .await?;
    let tags: Vec<TagShape> = key
        .tags
        .into_iter()
        .map(|t| TagShape {
            key: Some(t.key),
            value: Some(t.value),
        })
        .collect();
    let (page, next) = model::page(tags, i.limit, 50, 50, i.marker.as_deref())?;
    encode(&ListTagsOutput {
        tags: page,
        truncated: next.is_some(),
        next_marker: next,
    })
}
