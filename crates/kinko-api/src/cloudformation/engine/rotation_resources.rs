//! `AWS::SecretsManager::RotationSchedule` (with `RotationLambdaARN`, or `HostedRotationLambda`
//! mapped to kinko's built-in rotators) and `AWS::SecretsManager::SecretTargetAttachment`.
//!
//! A hosted rotation function is what AWS's `AWS::SecretsManager` transform puts in a nested
//! stack: an execution role allowed what AWS's rotation functions need on the secret, the function
//! and a permission for Secrets Manager to invoke it. Here the three are created as the caller by
//! the rotation schedule itself (kinko has no nested stacks), and deleted with it.

use kinko_cloudformation_template::{Map, Template, Value};
use kinko_core::function::BUILTIN_ROTATORS;
use kinko_core::stack::Stack;
use serde_json::json;

use super::{
    Caller, Created, Reason, delete_principal, generated_name, ignore_missing, missing, text, xml_text,
};
use crate::ServiceName;

/// The transforms that expand `HostedRotationLambda` (AWS::SecretsManager transform docs: the
/// declaration must be one of these literal strings).
const TRANSFORMS: [&str; 2] = ["AWS::SecretsManager-2020-07-23", "AWS::SecretsManager-2024-09-16"];

/// `HostedRotationLambda.RotationType` values AWS has templates for and kinko has no rotator for.
const UNSUPPORTED_ROTATION_TYPES: [&str; 8] = [
    "OracleSingleUser",
    "OracleMultiUser",
    "SQLServerSingleUser",
    "SQLServerMultiUser",
    "RedshiftSingleUser",
    "RedshiftMultiUser",
    "MongoDBSingleUser",
    "MongoDBMultiUser",
];

/// What AWS's rotation function templates are given (`Timeout: 30` in each SAR template).
const HOSTED_TIMEOUT_SECONDS: i64 = 30;

const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The name of the hosted function's inline policy on its execution role.
const HOSTED_POLICY: &str = "SecretsManagerRotation";

/// `AWS::SecretsManager::RotationSchedule`: RotateSecret with the function (`RotationLambdaARN`,
/// or the hosted one) and `RotationRules`. Ref and Fn::GetAtt `Id` are the secret's ARN.
///
/// `RotateImmediatelyOnUpdate` is passed as RotateSecret's `RotateImmediately` when the schedule
/// is created as well as when it is updated (default true, as RotateSecret's): a schedule created
/// with it false only has its configuration tested (the `testSecret` step), which is what a
/// template author who wrote false expects of the first deployment too.
///
/// `cleanup` holds `lambda:ARN` (the function this schedule set, so that deleting it cancels the
/// rotation only while that function is still the secret's: a replacement's RotateSecret on the
/// same secret comes first), and for a hosted function `function:NAME`, `role:NAME` and
/// `inline:POLICY`.
pub(super) async fn create_rotation_schedule(
    caller: &Caller,
    stack: &Stack,
    id: &str,
    p: &Map,
) -> Result<Created, Reason> {
    let secret = text(p, "SecretId").ok_or_else(|| missing("SecretId"))?;
    let hosted = p.get("HostedRotationLambda");
    let (lambda, mut cleanup) = match (text(p, "RotationLambdaARN"), hosted) {
        // The transform's own check (its message as AWS words it, "Transform
        // AWS::SecretsManager-2020-07-23 failed with: ..."), made here when the resource is created.
        (Some(_), Some(_)) => {
            return Err("Can only specify either HostedRotationLambda or RotationLambdaARN.".into());
        }
        (Some(arn), None) => (Some(arn), Vec::new()),
        (None, Some(h)) => {
            let h = h
                .as_map()
                .ok_or_else(|| "Properties validation failed for resource with message: #/HostedRotationLambda: expected type: JSONObject".to_owned())?;
            let (arn, cleanup) = create_hosted_function(caller, stack, id, &secret, h).await?;
            (Some(arn), cleanup)
        }
        // RotateSecret without a function: the secret's configured one (or RotateSecret's error).
        (None, None) => (None, Vec::new()),
    };
    // What the SDKs fill in; the API requires it with a value.
    let mut body = json!({"SecretId": secret, "ClientRequestToken": uuid::Uuid::new_v4().to_string()});
    if let Some(l) = &lambda {
        body["RotationLambdaARN"] = json!(l);
    }
    if let Some(rules) = p.get("RotationRules").and_then(Value::as_map) {
        let mut out = json!({});
        if let Some(days) = text(rules, "AutomaticallyAfterDays") {
            out["AutomaticallyAfterDays"] = match days.parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => json!(days),
            };
        }
        for key in ["ScheduleExpression", "Duration"] {
            if let Some(v) = text(rules, key) {
                out[key] = json!(v);
            }
        }
        body["RotationRules"] = out;
    }
    if let Some(now) = text(p, "RotateImmediatelyOnUpdate") {
        body["RotateImmediately"] = json!(now == "true");
    }
    let answer = match caller
        .json(ServiceName::SecretsManager, "RotateSecret", body)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            let _ = delete_hosted_function(caller, &cleanup).await;
            return Err(e);
        }
    };
    let arn = answer["ARN"].as_str().unwrap_or(&secret).to_owned();
    if let Some(l) = lambda {
        cleanup.insert(0, format!("lambda:{l}"));
    }
    Ok(Created {
        physical_id: arn.clone(),
        attributes: vec![("Id".into(), arn)],
        cleanup,
    })
}

/// The hosted rotation function of `HostedRotationLambda` `h` for `secret`: its ARN and what to
/// delete with the schedule.
///
/// `RotationType` picks kinko's built-in rotator of that name (runtime `provided.al2023`, handler
/// `kinko:<RotationType>`); the types kinko has no rotator for are refused. `Runtime`,
/// `VpcSecurityGroupIds` and `VpcSubnetIds` have no meaning for a built-in rotator and are
/// ignored; `ExcludeCharacters` becomes the function's `EXCLUDE_CHARACTERS`, as AWS's templates
/// pass it. The execution role may do what AWS documents for rotation functions
/// (rotating-secrets-required-permissions-function) on the secret, read `MasterSecretArn` /
/// `SuperuserSecretArn`, and use the `*KmsKeyArn` keys.
async fn create_hosted_function(
    caller: &Caller,
    stack: &Stack,
    id: &str,
    secret: &str,
    h: &Map,
) -> Result<(String, Vec<String>), Reason> {
    let declared = Template::parse(&stack.template_body)
        .map(|t| t.transform)
        .unwrap_or_default();
    if !declared.iter().any(|t| TRANSFORMS.contains(&t.as_str())) {
        // [unverified wording] AWS documents the transform as required for HostedRotationLambda.
        return Err(
            "HostedRotationLambda requires the template to declare Transform: AWS::SecretsManager-2024-09-16 (or AWS::SecretsManager-2020-07-23)"
                .into(),
        );
    }
    // AWS creates the function and its role in a nested stack, which needs the stack's IAM
    // capability like any IAM resource; the change set can't see them, so it is checked here.
    if !stack
        .capabilities
        .iter()
        .any(|c| c == "CAPABILITY_IAM" || c == "CAPABILITY_NAMED_IAM")
    {
        return Err("Requires capabilities : [CAPABILITY_IAM]".into());
    }
    let rotation_type = text(h, "RotationType").ok_or_else(|| missing("RotationType"))?;
    let Some(rotator) = BUILTIN_ROTATORS.iter().find(|r| **r == rotation_type) else {
        if UNSUPPORTED_ROTATION_TYPES.contains(&rotation_type.as_str()) {
            return Err(format!(
                "HostedRotationLambda RotationType {rotation_type} is not supported: kinko has built-in rotators for {} only; give RotationLambdaARN (a function of your own) instead",
                BUILTIN_ROTATORS.join(", ")
            ));
        }
        return Err(format!(
            "Properties validation failed for resource with message: #/HostedRotationLambda/RotationType: {rotation_type} is not a valid enum value"
        ));
    };
    let secret_arn = if secret.starts_with("arn:") {
        secret.to_owned()
    } else {
        let described = caller
            .json(
                ServiceName::SecretsManager,
                "DescribeSecret",
                json!({"SecretId": secret}),
            )
            .await?;
        described["ARN"].as_str().unwrap_or(secret).to_owned()
    };

    let function = text(h, "RotationLambdaName").unwrap_or_else(|| generated_name(stack, id, 64));
    let role = generated_name(stack, &format!("{id}Role"), 64);
    let mut cleanup = vec![format!("role:{role}")];
    let created = async {
        let answer = caller
            .query(
                ServiceName::Iam,
                "CreateRole",
                &[("RoleName", &role), ("AssumeRolePolicyDocument", LAMBDA_TRUST)],
            )
            .await?;
        let role_arn = xml_text(&answer, "Arn").unwrap_or_default();
        caller
            .query(
                ServiceName::Iam,
                "PutRolePolicy",
                &[
                    ("RoleName", &role),
                    ("PolicyName", HOSTED_POLICY),
                    ("PolicyDocument", &hosted_policy(&secret_arn, h).to_string()),
                ],
            )
            .await?;
        cleanup.push(format!("inline:{HOSTED_POLICY}"));

        let mut body = json!({
            "FunctionName": function,
            "Role": role_arn,
            "Runtime": "provided.al2023",
            "Handler": format!("{}{rotator}", kinko_core::function::BUILTIN_HANDLER_PREFIX),
            "Timeout": HOSTED_TIMEOUT_SECONDS,
            "Code": {},
            "Description": format!("Rotates the secret {secret_arn} ({rotation_type})"),
        });
        if let Some(x) = text(h, "ExcludeCharacters") {
            body["Environment"] = json!({"Variables": {"EXCLUDE_CHARACTERS": x}});
        }
        let answer = caller.lambda("POST", "/2015-03-31/functions", body).await?;
        cleanup.push(format!("function:{function}"));
        let function_arn = answer["FunctionArn"].as_str().unwrap_or_default().to_owned();

        let path = format!(
            "/2015-03-31/functions/{}/policy",
            percent_encoding::utf8_percent_encode(&function, percent_encoding::NON_ALPHANUMERIC)
        );
        caller
            .lambda(
                "POST",
                &path,
                json!({
                    "StatementId": "SecretsManagerAccess",
                    "Action": "lambda:InvokeFunction",
                    "Principal": "secretsmanager.amazonaws.com",
                    "SourceAccount": stack.account_id,
                }),
            )
            .await?;
        Ok::<_, Reason>(function_arn)
    }
    .await;
    match created {
        Ok(arn) => Ok((arn, cleanup)),
        Err(e) => {
            let _ = delete_hosted_function(caller, &cleanup).await;
            Err(e)
        }
    }
}

/// The hosted function's execution role policy.
fn hosted_policy(secret_arn: &str, h: &Map) -> serde_json::Value {
    let mut statements = vec![
        json!({
            "Effect": "Allow",
            "Action": [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            "Resource": secret_arn,
        }),
        json!({"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"}),
    ];
    for key in ["MasterSecretArn", "SuperuserSecretArn"] {
        if let Some(arn) = text(h, key) {
            statements
                .push(json!({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}));
        }
    }
    if let Some(key) = text(h, "KmsKeyArn") {
        statements.push(
            json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key}),
        );
    }
    for key in ["MasterSecretKmsKeyArn", "SuperuserSecretKmsKeyArn"] {
        if let Some(arn) = text(h, key) {
            statements.push(json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": arn}));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Deletes a hosted rotation function and its execution role (what `cleanup` names of them).
async fn delete_hosted_function(caller: &Caller, cleanup: &[String]) -> Result<(), Reason> {
    for function in cleanup.iter().filter_map(|c| c.strip_prefix("function:")) {
        let path = format!(
            "/2015-03-31/functions/{}",
            percent_encoding::utf8_percent_encode(function, percent_encoding::NON_ALPHANUMERIC)
        );
        ignore_missing(caller.lambda("DELETE", &path, serde_json::Value::Null).await)?;
    }
    for role in cleanup.iter().filter_map(|c| c.strip_prefix("role:")) {
        delete_principal(caller, "Role", role, cleanup).await?;
    }
    Ok(())
}

/// Whether the function ARN `configured` (DescribeSecret's) is `ours` (as the template gave it:
/// an ARN, or a function's name).
fn same_function(configured: &str, ours: &str) -> bool {
    configured == ours
        || configured.ends_with(&format!(":function:{ours}"))
        || ours.ends_with(&format!(":function:{configured}"))
}

/// Cancels the rotation of `secret` if the secret is still rotated by this schedule's function,
/// then deletes the hosted function, if any.
pub(super) async fn delete_rotation_schedule(
    caller: &Caller,
    secret: &str,
    cleanup: &[String],
) -> Result<(), Reason> {
    let cancel = match cleanup.iter().find_map(|c| c.strip_prefix("lambda:")) {
        None => true,
        Some(ours) => {
            match caller
                .json(
                    ServiceName::SecretsManager,
                    "DescribeSecret",
                    json!({"SecretId": secret}),
                )
                .await
            {
                Ok(d) => {
                    d["RotationEnabled"].as_bool() == Some(true)
                        && d["RotationLambdaARN"]
                            .as_str()
                            .is_some_and(|c| same_function(c, ours))
                }
                Err(e) if e.contains("HandlerErrorCode: NotFound") => false,
                Err(e) => return Err(e),
            }
        }
    };
    if cancel {
        ignore_missing(
            caller
                .json(
                    ServiceName::SecretsManager,
                    "CancelRotateSecret",
                    json!({"SecretId": secret}),
                )
                .await,
        )?;
    }
    delete_hosted_function(caller, cleanup).await
}

/// The target types `AWS::SecretsManager::SecretTargetAttachment` takes, and the name AWS's
/// service gives such a target in its not-found error.
const TARGET_TYPES: [(&str, &str); 7] = [
    ("AWS::RDS::DBInstance", "DBInstance"),
    ("AWS::RDS::DBCluster", "DBCluster"),
    ("AWS::Redshift::Cluster", "Cluster"),
    ("AWS::RedshiftServerless::Namespace", "Namespace"),
    ("AWS::DocDB::DBInstance", "DBInstance"),
    ("AWS::DocDB::DBCluster", "DBCluster"),
    ("AWS::DocDBElastic::Cluster", "Cluster"),
];

/// `AWS::SecretsManager::SecretTargetAttachment` copies a database's connection details (engine,
/// host, port, dbname, its identifier) into a secret. kinko has no Amazon RDS, Redshift or
/// DocumentDB, so no target can be found: the type is accepted (templates that carry one
/// validate, and change sets list it) and the resource fails to create, with the target named,
/// as AWS's fails for a target that does not exist. Put the connection details in the secret's
/// value (`SecretString` or `GenerateSecretString.SecretStringTemplate`) instead.
pub(super) fn create_secret_target_attachment(p: &Map) -> Result<Created, Reason> {
    text(p, "SecretId").ok_or_else(|| missing("SecretId"))?;
    let target = text(p, "TargetId").ok_or_else(|| missing("TargetId"))?;
    let target_type = text(p, "TargetType").ok_or_else(|| missing("TargetType"))?;
    let Some((_, kind)) = TARGET_TYPES.iter().find(|(t, _)| *t == target_type) else {
        return Err(format!(
            "Properties validation failed for resource with message: #/TargetType: {target_type} is not a valid enum value"
        ));
    };
    // [unverified wording] after the RDS error for a missing instance, "DBInstance X not found.".
    Err(format!(
        "Resource handler returned message: \"{kind} {target} not found. kinko has no Amazon RDS, Redshift or DocumentDB, so {target_type} targets cannot be attached: put the connection details (engine, host, port, dbname) in the secret's value instead.\" (HandlerErrorCode: NotFound)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: serde_json::Value) -> Map {
        match Value::from_json(&json) {
            Value::Map(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_function_is_the_same_by_arn_or_name() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:rotate";
        assert!(same_function(arn, arn));
        assert!(same_function(arn, "rotate"));
        assert!(!same_function(arn, "other"));
        assert!(!same_function(
            "arn:aws:lambda:us-east-1:000000000000:function:rotate2",
            "rotate"
        ));
    }

    #[test]
    fn the_hosted_role_may_rotate_the_secret_and_read_the_master_secret() {
        let secret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf";
        let master = "arn:aws:secretsmanager:us-east-1:000000000000:secret:admin-AbCdEf";
        let policy = hosted_policy(
            secret,
            &map(json!({"RotationType": "PostgreSQLMultiUser", "MasterSecretArn": master})),
        );
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements[0]["Resource"], json!(secret));
        assert_eq!(statements[0]["Action"].as_array().unwrap().len(), 4);
        assert_eq!(statements[1]["Action"], json!("secretsmanager:GetRandomPassword"));
        assert_eq!(
            statements[2],
            json!({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": master})
        );
        assert_eq!(statements.len(), 3);
    }

    #[test]
    fn a_target_attachment_names_its_missing_target_or_its_bad_type() {
        let reason = |p| match create_secret_target_attachment(&map(p)) {
            Err(r) => r,
            Ok(_) => String::new(),
        };
        let base = json!({"SecretId": "s", "TargetId": "orders", "TargetType": "AWS::RDS::DBCluster"});
        assert!(
            reason(base.clone())
                .starts_with("Resource handler returned message: \"DBCluster orders not found.")
        );
        let mut bad = base.clone();
        bad["TargetType"] = json!("AWS::S3::Bucket");
        assert!(reason(bad).contains("#/TargetType: AWS::S3::Bucket is not a valid enum value"));
        let mut missing_id = base;
        missing_id.as_object_mut().unwrap().remove("TargetId");
        assert!(reason(missing_id).ends_with("required key [TargetId] not found"));
    }
}
