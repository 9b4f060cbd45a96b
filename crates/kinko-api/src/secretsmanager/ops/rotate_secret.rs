//! RotateSecret: stores the rotation configuration and starts a rotation by the rotation function.
//!
//! The configuration (RotationEnabled, RotationLambdaARN, RotationRules) is kept even when no
//! rotation runs now. With `RotateImmediately` (the default) a new version with id
//! `ClientRequestToken` is created holding only `AWSPENDING` and no value — reading it is
//! ResourceNotFoundException, which tells the function's createSecret step to generate one, and
//! PutSecretValue with the same token fills it — then the four steps run asynchronously (see
//! `secretsmanager::rotation`). With `RotateImmediately=false` the `AWSPENDING` version carries a
//! copy of the current value, only testSecret runs, and the version is removed afterwards.
//!
//! Authorization: `secretsmanager:RotateSecret` on the secret (with
//! `secretsmanager:RotationLambdaARN` as the request names it), and `lambda:InvokeFunction` on the
//! function for the caller who has Secrets Manager invoke it; then the function's resource policy
//! must let `secretsmanager.amazonaws.com` invoke it, else AccessDeniedException and nothing
//! changes.

use kinko_core::rotation::{RotationAttempt, RotationConfig};
use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::lambda::{LambdaError, Target as FunctionTarget};
use crate::secretsmanager::error::{CANNOT_INVOKE, NO_LAMBDA, PREVIOUS_ROTATION, TOKEN_REQUIRED};
use crate::secretsmanager::model::{self, RotationRulesShape};
use crate::secretsmanager::replication;
use crate::secretsmanager::rotation::{Run, SERVICE};
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    secret_id: Option<String>,
    client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    rotation_lambda_arn: Option<String>,
    rotation_rules: Option<RotationRulesShape>,
    rotate_immediately: Option<bool>,
    external_secret_rotation_metadata: Option<Vec<serde_json::Value>>,
    external_secret_rotation_role_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
}

/// What RotateSecret found: the secret, and the function it would have invoked (the one the
/// request names, else the one stored).
pub(crate) struct Resolved {
    found: Found,
    lambda_arn: Option<String>,
    function: Option<FunctionTarget>,
}

fn schedule_expression_ok(e: &str) -> bool {
    e.chars()
        .all(|c| c.is_ascii_alphanumeric() || "()#?*-/, ".contains(c))
}

fn duration_ok(d: &str) -> bool {
    d.strip_suffix('h')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

pub(crate) struct RotateSecret;

impl Operation for RotateSecret {
    type Service = SecretsManager;
    const NAME: &'static str = "RotateSecret";
    type Input = Input;
    type Output = Output;
    type Resolved = Resolved;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        model::check_token(&mut v, &i.client_request_token);
        v.length(
            "rotationLambdaARN",
            i.rotation_lambda_arn.as_deref(),
            0,
            2048,
            false,
        );
        if let Some(r) = &i.rotation_rules {
            // The model's range, as a ValidationException like every model constraint (see
            // `model::check_token`). moto's `test_rotate_secret_rotation_period_validation`
            // expects InvalidParameterException `RotationRules.AutomaticallyAfterDays must be
            // within 1-1000.`, a text only emulators use.
            v.range(
                "rotationRules.automaticallyAfterDays",
                r.automatically_after_days,
                1,
                1000,
            );
            let d = r.duration.as_deref();
            v.length("rotationRules.duration", d, 2, 3, false);
            v.pattern("rotationRules.duration", d, "[0-9]+h", d.is_none_or(duration_ok));
            let e = r.schedule_expression.as_deref();
            v.length("rotationRules.scheduleExpression", e, 1, 256, false);
            v.pattern(
                "rotationRules.scheduleExpression",
                e,
                "[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+",
                e.is_none_or(schedule_expression_ok),
            );
        }
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())?;
        // SDKs always fill the token in (an idempotency token); a raw request without one is
        // refused before the secret is looked up, as AWS does for RotateSecret.
        if i.client_request_token.is_none() {
            return Err(SmError::InvalidParameter(TOKEN_REQUIRED.into()));
        }
        if let Some(r) = &i.rotation_rules {
            r.to_rules()
                .schedule()
                .map_err(|e| SmError::InvalidParameter(e.to_string()))?;
        }
        // Managed external secrets (rotated by a partner's service) have no place on a
        // self-hosted server.
        if i.external_secret_rotation_metadata.is_some() || i.external_secret_rotation_role_arn.is_some() {
            return Err(SmError::InvalidRequest(
                "Managed external secrets are not supported by this server.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &Input) -> Result<Resolved, SmError> {
        let found =
            crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default()))
                .await?;
        let lambda_arn = i.rotation_lambda_arn.clone().or_else(|| {
            found
                .secret
                .as_ref()
                .and_then(|s| s.rotation.as_ref())
                .and_then(|r| r.lambda_arn.clone())
        });
        let function = match &lambda_arn {
            None => None,
            Some(arn) => match crate::lambda::function_target(cx, arn).await {
                Ok(t) => Some(t),
                Err(LambdaError::Internal(m)) => return Err(SmError::Internal(m)),
                Err(LambdaError::Conflict) => return Err(SmError::Conflict),
                // Not a function name or ARN: nothing Secrets Manager could invoke.
                Err(_) => None,
            },
        };
        Ok(Resolved {
            found,
            lambda_arn,
            function,
        })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Input,
        r: &'a Resolved,
    ) -> Result<Authorization<'a>, SmError> {
        let mut a = Authorization::of(
            crate::secretsmanager::check(
                cx,
                Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
                &r.found,
            )
            .condition_opt(
                "secretsmanager:RotationLambdaARN",
                i.rotation_lambda_arn.as_deref(),
            ),
        );
        if let Some(f) = &r.function {
            a = a.and(f.invoke_check());
        }
        Ok(a)
    }

    async fn run(cx: &Cx<'_>, i: &Input, r: Resolved) -> Result<Output, SmError> {
        let mut secret = model::found(r.found.secret)?;
        replication::not_replica(&secret)?;
        model::not_deleted(&secret)?;
        // Rotation needs a function, as AWS answers (recorded). moto rotates without one, and
        // `test_rotate_secret`, `test_rotate_secret_enable_rotation`,
        // `test_rotate_secret_without_secretstring` and `test_get_secret_version_stage_mismatch`
        // rely on it (the third says itself that AWS always requires a function).
        let Some(lambda_arn) = r.lambda_arn else {
            return Err(SmError::InvalidRequest(NO_LAMBDA.into()));
        };
        let token = i.client_request_token.clone().unwrap_or_default();
        if let Some(pending) = secret.pending_rotation() {
            // `ClientRequestToken` is an idempotency token: a retry of the request that started
            // this rotation answers as that request did, and starts nothing.
            if pending.id == token {
                return Ok(Output {
                    arn: secret.arn.clone(),
                    name: secret.name.clone(),
                    version_id: token,
                });
            }
            return Err(SmError::InvalidRequest(PREVIOUS_ROTATION.into()));
        }
        if secret.version(&token).is_some() {
            return Err(SmError::ResourceExists(format!(
                "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {}.",
                secret.arn
            )));
        }
        let may_invoke = match &r.function {
            Some(f) => f
                .service_may_invoke(cx.services, cx.rc, SERVICE, &secret.arn, &secret.account_id)
                .await
                .map_err(|e| SmError::Internal(e.to_string()))?,
            None => false,
        };
        let Some(function) = r.function.filter(|_| may_invoke) else {
            return Err(SmError::AccessDenied(CANNOT_INVOKE.into()));
        };
        let now = cx.now();
        let immediately = i.rotate_immediately.unwrap_or(true);
        let rules = match &i.rotation_rules {
            Some(rules) => Some(rules.to_rules()),
            None => secret.rotation.as_ref().and_then(|r| r.rules.clone()),
        };
        secret.rotation = Some(RotationConfig {
            enabled: true,
            lambda_arn: Some(lambda_arn),
            rules,
            configured_date: now,
            // A run of all four steps is recorded, for the scheduler to retry it if it ends
            // unfinished (see `secretsmanager::rotation`).
            attempt: immediately.then(|| RotationAttempt {
                token: token.clone(),
                started: now,
                count: 1,
            }),
        });
        let before: Vec<String> = secret.versions.iter().map(|v| v.id.clone()).collect();
        let mut new_values = Vec::new();
        match secret.current().cloned() {
            Some(current) if !immediately && current.kind.is_some() => {
                let plain = model::open_value(cx, &secret, &current).await?;
                let (sealed, key_arn) = model::seal_value(cx, &secret, &token, &plain).await?;
                secret.add_pending_version(&token, current.kind, Some(key_arn), now)?;
                new_values.push((token.clone(), sealed));
            }
            _ => secret.add_pending_version(&token, None, None, now)?,
        }
        secret.last_changed_date = now;
        let removed_versions: Vec<String> = before
            .into_iter()
            .filter(|id| secret.version(id).is_none())
            .collect();
        let out = Output {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id: token.clone(),
        };
        model::commit(
            cx,
            SecretWrite::Update {
                secret,
                new_values,
                removed_versions,
            },
        )
        .await?;
        Run {
            services: cx.services.clone(),
            region: cx.region().to_owned(),
            secret_arn: out.arn.clone(),
            function_arn: function.arn().to_owned(),
            token,
            rotation_token: uuid::Uuid::new_v4().to_string(),
            immediately,
        }
        .spawn();
        Ok(out)
    }
}
