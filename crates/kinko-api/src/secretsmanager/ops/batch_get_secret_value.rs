//! BatchGetSecretValue: AWSCURRENT values of up to 20 secrets, by id list or by filters. A secret
//! that fails (not found, denied, scheduled for deletion) lands in `Errors`, not the whole call.

use kinko_core::secret::Secret;
use kinko_core::store::{ListOrder, ListPage};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::list_secrets::{FilterShape, check_filters, matching};
use crate::authz::{Check, Resource};
use crate::secretsmanager::model::{self, SecretValueEntry, token};
use crate::secretsmanager::{
    Authorization, Cx, Found, Operation, SecretsManager, SmError, Target, lookup, secret_check,
    unresolved_check,
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id_list: Option<Vec<String>>,
    filters: Option<Vec<FilterShape>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorEntry {
    secret_id: String,
    error_code: String,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    secret_values: Vec<SecretValueEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    errors: Vec<ErrorEntry>,
}

pub(crate) struct BatchGetSecretValue;

/// The current value of `secret`; a denial names it as `named` when the caller named it by id.
async fn current_value(
    cx: &Cx<'_>,
    secret: &Secret,
    named: Option<&str>,
) -> Result<SecretValueEntry, SmError> {
    let check = secret_check("secretsmanager:GetSecretValue", secret);
    let check = match named {
        Some(id) => check.shown_as(id),
        None => check,
    };
    cx.authorize(&check).await?;
    // A secret scheduled for deletion answers GetSecretValue's InvalidRequestException text
    // (`...because it was marked for deletion.`, as AWS's replies quote it); moto's
    // `test_batch_get_secret_value_for_secret_id_list_with_deleted_secret` looks for moto's own
    // `currently marked deleted`, which no AWS reply has.
    model::not_deleted(secret)?;
    // A secret without a current value is this secret's entry in `Errors`, as every per-secret
    // failure is (API reference, `APIErrorType`); moto's `test_batch_get_secret_value_missing_value`
    // expects the whole call to fail instead.
    let version = secret.select(None, None)?;
    let out = model::value_entry(cx, secret, version).await?;
    model::touch_accessed(cx, secret, &version.id);
    Ok(out)
}

impl Operation for BatchGetSecretValue {
    type Service = SecretsManager;
    const NAME: &'static str = "BatchGetSecretValue";
    // Reads only; CloudTrail records it read-only, with a GetSecretValue event per secret.
    const READ_ONLY: bool = true;
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        v.list_length("secretIdList", i.secret_id_list.as_deref(), 1, 20);
        for (n, id) in i.secret_id_list.iter().flatten().enumerate() {
            v.length(
                &format!("secretIdList.{}.member", n + 1),
                Some(id),
                1,
                2048,
                false,
            );
        }
        v.range("maxResults", i.max_results, 1, 20);
        v.length("nextToken", i.next_token.as_deref(), 1, 4096, false);
        model::violations(v)?;
        if i.secret_id_list.is_some() == i.filters.is_some() {
            return Err(SmError::InvalidParameter(
                "Either 'SecretIdList' or 'Filters' must be provided, but not both.".into(),
            ));
        }
        if i.max_results.is_some() && i.filters.is_none() {
            return Err(SmError::InvalidParameter(
                "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided."
                    .into(),
            ));
        }
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
        let mut out = Output {
            secret_values: vec![],
            next_token: None,
            errors: vec![],
        };
        let record = |id: &str, r: Result<SecretValueEntry, SmError>, out: &mut Output| match r {
            Ok(v) => out.secret_values.push(v),
            Err(SmError::Internal(m)) => {
                tracing::error!(request_id = %cx.rc.request_id, detail = %m, "internal error in batch");
                out.errors.push(ErrorEntry {
                    secret_id: id.to_owned(),
                    error_code: "InternalServiceError".into(),
                    message: "An error occurred on the server side.".into(),
                });
            }
            Err(e) => out.errors.push(ErrorEntry {
                secret_id: id.to_owned(),
                error_code: e.code().into(),
                message: e.to_string(),
            }),
        };
        if let Some(ids) = &i.secret_id_list {
            for id in ids {
                let r = match model::check_name_chars(id) {
                    Err(e) => Err(e),
                    Ok(()) => match lookup(cx, id).await? {
                        Some(secret) => current_value(cx, &secret, Some(id)).await,
                        // Authorize before answering not-found, so callers can't probe for names.
                        None => match cx
                            .authorize(&unresolved_check("secretsmanager:GetSecretValue", id))
                            .await
                        {
                            Ok(()) => Err(SmError::not_found()),
                            Err(e) => Err(e.into()),
                        },
                    },
                };
                record(id, r, &mut out);
            }
            return Ok(out);
        }
        // Listing by filters also needs ListSecrets, as in AWS.
        cx.authorize(&Check::new("secretsmanager:ListSecrets", Resource::Any))
            .await?;
        let filters = check_filters(i.filters.as_deref())?;
        let offset = i
            .next_token
            .as_deref()
            .map(token::decode)
            .transpose()?
            .unwrap_or(0);
        let max = usize::try_from(i.max_results.unwrap_or(20)).unwrap_or(20);
        let page = ListPage {
            include_deleted: false,
            order: ListOrder::CreatedAsc,
            offset,
            limit: max,
            after: None,
        };
        let (secrets, more) = matching(cx, &filters, page).await?;
        for secret in &secrets {
            let r = current_value(cx, secret, None).await;
            record(&secret.arn, r, &mut out);
        }
        let next = offset.saturating_add(max);
        out.next_token = more.then(|| token::encode(next));
        Ok(out)
    }
}
