//! Put/Get/Delete/ValidateResourcePolicy: the secret's resource policy document.

use kinko_core::store::SecretWrite;
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use super::ArnName;
use crate::secretsmanager::model;
use crate::secretsmanager::public_access::grants_public_access;
use crate::secretsmanager::replication;
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

const MAX_POLICY_CHARS: usize = 20_480;

/// Checks the document's JSON and grammar as a resource-based policy; returns the problems found.
fn policy_problems(doc: &str) -> Vec<String> {
    match kinko_policy::Policy::parse(doc, kinko_policy::PolicyKind::Resource) {
        Ok(_) => vec![],
        Err(e) => vec![e.to_string()],
    }
}

/// What Secrets Manager answers a resource policy naming an IAM user or role that doesn't exist
/// (as reported by AWS users; AWS's API reference doesn't list the text).
const UNSUPPORTED_PRINCIPAL: &str = "This resource policy contains an unsupported principal.";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutInput {
    secret_id: Option<String>,
    resource_policy: Option<String>,
    block_public_policy: Option<bool>,
}

pub(crate) struct PutResourcePolicy;

impl Operation for PutResourcePolicy {
    type Service = SecretsManager;
    const NAME: &'static str = "PutResourcePolicy";
    type Input = PutInput;
    type Output = ArnName;
    type Resolved = Found;

    fn validate(i: &PutInput) -> Result<(), SmError> {
        let mut v = Violations::new();
        model::check_secret_id(&mut v, &i.secret_id);
        v.required("resourcePolicy", &i.resource_policy);
        v.length(
            "resourcePolicy",
            i.resource_policy.as_deref(),
            1,
            MAX_POLICY_CHARS,
            false,
        );
        model::violations(v)?;
        model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())
    }

    async fn resolve(cx: &Cx<'_>, i: &PutInput) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a PutInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(
            crate::secretsmanager::check(
                cx,
                Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
                found,
            )
            .condition_opt(
                "secretsmanager:BlockPublicPolicy",
                i.block_public_policy.map(|b| b.to_string()),
            ),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &PutInput, found: Found) -> Result<ArnName, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        let doc = i.resource_policy.clone().unwrap_or_default();
        // A document that is no policy (moto's `test_delete_resource_policy` saves the text
        // `some policy`, which moto accepts) is a MalformedPolicyDocumentException, as AWS
        // answers it.
        if let Some(problem) = policy_problems(&doc).into_iter().next() {
            return Err(SmError::MalformedPolicyDocument(format!(
                "This resource policy contains a syntax error. {problem}"
            )));
        }
        if i.block_public_policy.unwrap_or(false) && grants_public_access(&doc) {
            return Err(SmError::PublicPolicy(
                "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret."
                    .into(),
            ));
        }
        // IAM users and roles the policy names are bound to their unique ids; a principal that
        // doesn't exist is refused (AWS's text, as AWS answers such a policy). moto's
        // `test_put_resource_policy` names a role its account doesn't have and expects success;
        // AWS refuses it until the role exists (terraform-provider-aws retries on this text).
        let bound = crate::authz::bind_principals(cx.services, &doc)
            .await?
            .map_err(|_| SmError::MalformedPolicyDocument(UNSUPPORTED_PRINCIPAL.into()))?;
        secret.resource_policy = Some(doc);
        secret.resource_policy_principals = bound;
        secret.last_changed_date = cx.services.clock.now();
        let out = ArnName::from(&secret);
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SecretIdInput {
    secret_id: Option<String>,
}

/// `SecretId` of Get/Put/DeleteResourcePolicy: its length, then the name's characters, as for
/// every operation taking a `SecretId`. moto's `test_policies_for_unknown_secrets` uses the id
/// `unknown secret` and expects ResourceNotFoundException; the space makes it an invalid name,
/// which AWS answers with ValidationException before looking the secret up.
fn check_secret_id_input(i: &SecretIdInput) -> Result<(), SmError> {
    let mut v = Violations::new();
    model::check_secret_id(&mut v, &i.secret_id);
    model::violations(v)?;
    model::check_name_chars(i.secret_id.as_deref().unwrap_or_default())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_policy: Option<String>,
}

pub(crate) struct GetResourcePolicy;

impl Operation for GetResourcePolicy {
    type Service = SecretsManager;
    const NAME: &'static str = "GetResourcePolicy";
    type Input = SecretIdInput;
    type Output = GetOutput;
    type Resolved = Found;

    fn validate(i: &SecretIdInput) -> Result<(), SmError> {
        check_secret_id_input(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &SecretIdInput) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a SecretIdInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
            found,
        )))
    }

    async fn run(cx: &Cx<'_>, _: &SecretIdInput, found: Found) -> Result<GetOutput, SmError> {
        let s = model::found(found.secret)?;
        // A read, so a replica answers it too: it holds the primary's policy, as it holds its
        // values (DescribeSecret and GetSecretValue work on replicas). AWS documents only writes
        // as refused on a replica ("can't be updated independently from its primary"); moto's
        // `test_update_replica` also refuses this read, which no AWS source shows. The choice
        // is what a client reading a replica's settings expects.
        // A named user or role that no longer exists shows as its unique id, as in AWS.
        let resource_policy = match &s.resource_policy {
            Some(doc) => {
                Some(crate::authz::shown_policy(cx.services, doc, &s.resource_policy_principals).await?)
            }
            None => None,
        };
        Ok(GetOutput {
            arn: s.arn.clone(),
            name: s.name.clone(),
            resource_policy,
        })
    }
}

pub(crate) struct DeleteResourcePolicy;

impl Operation for DeleteResourcePolicy {
    type Service = SecretsManager;
    const NAME: &'static str = "DeleteResourcePolicy";
    type Input = SecretIdInput;
    type Output = ArnName;
    type Resolved = Found;

    fn validate(i: &SecretIdInput) -> Result<(), SmError> {
        check_secret_id_input(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &SecretIdInput) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::Secret(i.secret_id.as_deref().unwrap_or_default())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a SecretIdInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            Target::Secret(i.secret_id.as_deref().unwrap_or_default()),
            found,
        )))
    }

    async fn run(cx: &Cx<'_>, _: &SecretIdInput, found: Found) -> Result<ArnName, SmError> {
        let mut secret = model::found(found.secret)?;
        replication::not_replica(&secret)?;
        let out = ArnName::from(&secret);
        secret.resource_policy_principals.clear();
        if secret.resource_policy.take().is_some() {
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
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ValidateInput {
    secret_id: Option<String>,
    resource_policy: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ValidationError {
    check_name: String,
    error_message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ValidateOutput {
    policy_validation_passed: bool,
    validation_errors: Vec<ValidationError>,
}

pub(crate) struct ValidateResourcePolicy;

impl Operation for ValidateResourcePolicy {
    type Service = SecretsManager;
    const NAME: &'static str = "ValidateResourcePolicy";
    // Checks a policy and changes nothing.
    const READ_ONLY: bool = true;
    type Input = ValidateInput;
    type Output = ValidateOutput;
    type Resolved = Found;

    fn validate(i: &ValidateInput) -> Result<(), SmError> {
        let mut v = Violations::new();
        v.length("secretId", i.secret_id.as_deref(), 1, 2048, false);
        v.required("resourcePolicy", &i.resource_policy);
        v.length(
            "resourcePolicy",
            i.resource_policy.as_deref(),
            1,
            MAX_POLICY_CHARS,
            false,
        );
        model::violations(v)?;
        if let Some(id) = &i.secret_id {
            model::check_name_chars(id)?;
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &ValidateInput) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(
            cx,
            match i.secret_id.as_deref() {
                Some(id) => Target::Secret(id),
                None => Target::None,
            },
        )
        .await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a ValidateInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            match i.secret_id.as_deref() {
                Some(id) => Target::Secret(id),
                None => Target::None,
            },
            found,
        )))
    }

    async fn run(_: &Cx<'_>, i: &ValidateInput, found: Found) -> Result<ValidateOutput, SmError> {
        if i.secret_id.is_some() {
            model::found(found.secret)?;
        }
        let doc = i.resource_policy.as_deref().unwrap_or_default();
        let mut errors: Vec<ValidationError> = policy_problems(doc)
            .into_iter()
            .map(|m| ValidationError {
                check_name: "SYNTAX_CHECK".into(),
                error_message: m,
            })
            .collect();
        if errors.is_empty() && grants_public_access(doc) {
            errors.push(ValidationError {
                check_name: "PUBLIC_ACCESS_CHECK".into(),
                error_message: "The resource policy grants broad access to the secret.".into(),
            });
        }
        Ok(ValidateOutput {
            policy_validation_passed: errors.is_empty(),
            validation_errors: errors,
        })
    }
}
