//! CancelRotateSecret: turns rotation off. The function and rules stay (DescribeSecret still
//! shows them); a rotation in progress stops before its next step; labels are left as they are —
//! the caller removes `AWSPENDING` from the unfinished version, else the next RotateSecret is
//! refused.

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model;
use crate::secretsmanager::replication;
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    /// The version of the rotation in progress, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
}

/// A secret whose rotation was never configured (AWS's text is not recorded; this is kinko's).
const NOT_CONFIGURED: &str = "You can't cancel rotation because rotation isn't configured for this secret.";

pub(crate) struct CancelRotateSecret;

impl Operation for CancelRotateSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "CancelRotateSecret";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
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

    async fn run(cx: &Cx<'_>, _: &Input, found: Found) -> Result<Output, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        let Some(rotation) = secret.rotation.as_mut() else {
            return Err(SmError::InvalidRequest(NOT_CONFIGURED.into()));
        };
        rotation.enabled = false;
        secret.last_changed_date = cx.now();
        let out = Output {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id: secret.pending_rotation().map(|v| v.id.clone()),
        };
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values: vec![],
                removed_versions: vec![],
            },
        )
        .await?;
        Ok(out)
    }
}
