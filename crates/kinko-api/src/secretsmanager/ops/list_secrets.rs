//! ListSecrets: the caller's secrets in this region, filtered, sorted and paginated.

use kinko_core::filters::{Filter, FilterKey};
use kinko_core::secret::Secret;
use kinko_core::store::{ListOrder, ListPage};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model::{self, TagShape, token};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FilterShape {
    key: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    include_planned_deletion: Option<bool>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<FilterShape>>,
    sort_order: Option<String>,
    sort_by: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Entry {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
    last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_accessed_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<TagShape>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_versions_to_stages: Option<serde_json::Map<String, serde_json::Value>>,
    created_date: f64,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    secret_type: Option<String>,
    #[serde(flatten)]
    rotation: model::RotationFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_region: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    secret_list: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `FilterNameStringType`, in the model's order: the enum list of the ValidationException for an
/// unknown key names all seven. moto's `test_with_invalid_filter_key` expects the five keys of an
/// older model (`[all, name, tag-key, description, tag-value]`); AWS's model has seven since
/// `primary-region` and `owning-service` came (docs/compatibility.md).
const FILTER_KEYS: &[&str] = &[
    "description",
    "name",
    "tag-key",
    "tag-value",
    "primary-region",
    "owning-service",
    "all",
];

fn filter_value_ok(s: &str) -> bool {
    let rest = s.strip_prefix('!').unwrap_or(s);
    rest.chars()
        .all(|c| c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c))
}

/// Model constraints and AWS's semantic checks of a `Filters` member; returns the parsed filters.
pub(crate) fn check_filters(filters: Option<&[FilterShape]>) -> Result<Vec<Filter>, SmError> {
    let Some(filters) = filters else { return Ok(vec![]) };
    let mut v = Violations::new();
    v.list_length("filters", Some(filters), 0, 10);
    for (n, f) in filters.iter().enumerate() {
        let path = format!("filters.{}.member", n + 1);
        v.one_of(&format!("{path}.key"), f.key.as_deref(), FILTER_KEYS);
        v.list_length(&format!("{path}.values"), f.values.as_deref(), 1, 10);
        for (m, value) in f.values.iter().flatten().enumerate() {
            let vpath = format!("{path}.values.{}.member", m + 1);
            // `FilterValueStringType` has a greatest length and no least: an empty value is valid.
            v.length(&vpath, Some(value), 0, 512, false);
            v.pattern(
                &vpath,
                Some(value),
                r"^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$",
                filter_value_ok(value),
            );
        }
    }
    model::violations(v)?;
    filters
        .iter()
        .map(|f| {
            let key = f
                .key
                .as_deref()
                .and_then(FilterKey::parse)
                .ok_or_else(|| SmError::InvalidParameter("Invalid filter key".into()))?;
            let values = f.values.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
                SmError::InvalidParameter(format!("Invalid filter values for key: {}", key.as_str()))
            })?;
            Ok(Filter { key, values })
        })
        .collect()
}

/// One page of the caller's secrets in this region that pass `filters`, and whether more follow:
/// the store filters, orders and pages.
pub(crate) async fn matching(
    cx: &Cx<'_>,
    filters: &[Filter],
    page: ListPage,
) -> Result<(Vec<Secret>, bool), SmError> {
    let (mut secrets, more) = cx
        .services
        .store
        .list_secrets_page(&cx.rc.principal.account_id, &cx.rc.region, filters, page)
        .await?;
    cx.services.accessed.overlay_all(&mut secrets);
    Ok((secrets, more))
}

pub(crate) fn versions_to_stages(s: &Secret) -> Option<serde_json::Map<String, serde_json::Value>> {
    let map: serde_json::Map<_, _> = s
        .versions_to_stages()
        .into_iter()
        .map(|(id, stages)| (id.to_owned(), serde_json::json!(stages)))
        .collect();
    if map.is_empty() { None } else { Some(map) }
}

fn entry(s: &Secret) -> Entry {
    Entry {
        arn: s.arn.clone(),
        name: s.name.clone(),
        description: s.description.clone().filter(|d| !d.is_empty()),
        kms_key_id: s.kms_key_id.clone(),
        last_changed_date: s.last_changed_date.epoch_seconds(),
        last_accessed_date: s.last_accessed_date.map(|t| t.epoch_seconds()),
        deleted_date: s.deleted_date.map(|t| t.epoch_seconds()),
        tags: s.tags.as_deref().map(model::tags_out),
        secret_versions_to_stages: versions_to_stages(s),
        created_date: s.created_date.epoch_seconds(),
        secret_type: s.secret_type.clone(),
        rotation: model::RotationFields::of(s),
        primary_region: super::describe_secret::primary_region(s),
    }
}

pub(crate) struct ListSecrets;

impl Operation for ListSecrets {
    type Service = SecretsManager;
    const NAME: &'static str = "ListSecrets";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        v.range("maxResults", i.max_results, 1, 100);
        v.length("nextToken", i.next_token.as_deref(), 1, 4096, false);
        v.one_of("sortOrder", i.sort_order.as_deref(), &["asc", "desc"]);
        v.one_of(
            "sortBy",
            i.sort_by.as_deref(),
            &["created-date", "last-accessed-date", "last-changed-date", "name"],
        );
        model::violations(v)?;
        check_filters(i.filters.as_deref())?;
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, _: &Input) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::None).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            Target::None,
            found,
        )))
    }

    async fn run(cx: &Cx<'_>, i: &Input, _: Found) -> Result<Output, SmError> {
        let filters = check_filters(i.filters.as_deref())?;
        let (offset, after) = i
            .next_token
            .as_deref()
            .map(token::decode_after)
            .transpose()?
            .unwrap_or_default();
        let max = usize::try_from(i.max_results.unwrap_or(100)).unwrap_or(100);
        let include_deleted = i.include_planned_deletion.unwrap_or(false);
        let desc = i.sort_order.as_deref() == Some("desc");
        // The database filters, pages and orders by creation or name.
        let order = match (i.sort_by.as_deref(), desc) {
            (None | Some("created-date"), false) => Some(ListOrder::CreatedAsc),
            (None | Some("created-date"), true) => Some(ListOrder::CreatedDesc),
            (Some("name"), false) => Some(ListOrder::NameAsc),
            (Some("name"), true) => Some(ListOrder::NameDesc),
            _ => None,
        };
        if let Some(order) = order {
            // The next page seeks to this page's last secret in the order's index (the offset
            // stays in the token for when that secret is gone by then).
            let page = ListPage {
                include_deleted,
                order,
                offset,
                limit: max,
                after,
            };
            let (secrets, more) = matching(cx, &filters, page).await?;
            let next = offset + secrets.len();
            let next_token = match secrets.last() {
                Some(last) if more => Some(token::encode_after(next, &last.arn)),
                _ => more.then(|| token::encode(next)),
            };
            return Ok(Output {
                secret_list: secrets.iter().map(entry).collect(),
                next_token,
            });
        }
        // By a date the database does not order by: every matching secret, sorted here (stably,
        // from creation order).
        let every = ListPage {
            include_deleted,
            order: ListOrder::CreatedAsc,
            offset: 0,
            limit: usize::MAX,
            after: None,
        };
        let (mut secrets, _) = matching(cx, &filters, every).await?;
        match i.sort_by.as_deref() {
            Some("last-changed-date") => secrets.sort_by_key(|s| s.last_changed_date),
            Some("last-accessed-date") => secrets.sort_by_key(|s| s.last_accessed_date),
            _ => {}
        }
        if desc {
            secrets.reverse();
        }
        let page: Vec<Entry> = secrets.iter().skip(offset).take(max).map(entry).collect();
        let next = offset + page.len();
        Ok(Output {
            secret_list: page,
            next_token: (next < secrets.len()).then(|| token::encode(next)),
        })
    }
}
