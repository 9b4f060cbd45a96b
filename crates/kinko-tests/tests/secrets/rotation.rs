//! Rotation: RotateSecret and CancelRotateSecret through the SDK, with a Python rotation function
//! (boto3, the four steps of AWS's generic template) run by the server under its execution role
//! and invoked as `secretsmanager.amazonaws.com`, which the function's policy must allow.
//!
//! Rotation runs asynchronously, as in AWS: RotateSecret answers at once and the tests wait for
//! the secret's state to show the outcome.

use std::collections::BTreeMap;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::RotationRulesType;
use kinko_tests::*;

use crate::secret;

const CANNOT_INVOKE: &str = "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.";
const PREVIOUS_ROTATION: &str = "A previous rotation isn't complete. That rotation will be reattempted.";

/// A rotation function in the manner of AWS's generic template: createSecret puts a new random
/// password as AWSPENDING (when the pending version has no value yet), setSecret does nothing,
/// testSecret reads the pending value and tags the secret `tested=<token>`, finishSecret moves
/// AWSCURRENT. `FAIL_STEP` names a step that fails (after tagging the secret `failed=<token>`);
/// `FAIL_AFTER_STEP` one that fails once it has done its work.
const ROTATION_FUNCTION: &str = r#"import os
import boto3

client = boto3.client('secretsmanager')


def lambda_handler(event, context):
    arn = event['SecretId']
    token = event['ClientRequestToken']
    step = event['Step']
    assert event['RotationToken']
    metadata = client.describe_secret(SecretId=arn)
    if not metadata['RotationEnabled']:
        raise ValueError("Secret %s is not enabled for rotation" % arn)
    versions = metadata['VersionIdsToStages']
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation of secret %s." % (token, arn))
    if "AWSCURRENT" in versions[token]:
        return
    elif "AWSPENDING" not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn))
    if step == os.environ.get('FAIL_STEP'):
        client.tag_resource(SecretId=arn, Tags=[{'Key': 'failed', 'Value': token}])
        raise RuntimeError("failing %s as configured" % step)
    if step == "createSecret":
        client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            password = client.get_random_password(ExcludeCharacters='/@"\'\\')
            client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                    SecretString=password['RandomPassword'], VersionStages=['AWSPENDING'])
    elif step == "setSecret":
        pass
    elif step == "testSecret":
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        client.tag_resource(SecretId=arn, Tags=[{'Key': 'tested', 'Value': token}])
    elif step == "finishSecret":
        current = None
        for version, stages in client.describe_secret(SecretId=arn)["VersionIdsToStages"].items():
            if "AWSCURRENT" in stages:
                if version == token:
                    return
                current = version
                break
        client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                           MoveToVersionId=token, RemoveFromVersionId=current)
    else:
        raise ValueError("Invalid step parameter")
    if step == os.environ.get('FAIL_AFTER_STEP'):
        raise RuntimeError("failing after %s as configured" % step)
"#;

fn server() -> &'static TestServer {
    TestServer::start()
}

/// The actions AWS documents for a rotation function's role, on `secret_arn`.
fn rotation_role_policy(secret_arn: &str) -> String {
    policy_document(&[
        statement(
            "Allow",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
                "secretsmanager:TagResource",
            ],
            &[secret_arn],
        ),
        statement("Allow", &["secretsmanager:GetRandomPassword"], &["*"]),
    ])
}

/// Creates the rotation function for `secret_arn` (its role may work on that secret only), with
/// `FAIL_STEP` set when given; returns its ARN and name.
async fn rotation_function(secret_arn: &str, fail_step: Option<&str>) -> (String, String) {
    rotation_function_on(server(), secret_arn, fail_step).await
}

/// [`rotation_function`] on server `s`.
async fn rotation_function_on(s: &TestServer, secret_arn: &str, fail_step: Option<&str>) -> (String, String) {
    let env: Vec<(&str, &str)> = fail_step.map(|step| ("FAIL_STEP", step)).into_iter().collect();
    rotation_function_with(s, secret_arn, &env).await
}

/// [`rotation_function`] on server `s`, with the environment variables `env`.
async fn rotation_function_with(s: &TestServer, secret_arn: &str, env: &[(&str, &str)]) -> (String, String) {
    let id = short_id();
    let role = s
        .root()
        .execution_role(&format!("rotation-{id}"), Some(&rotation_role_policy(secret_arn)))
        .await;
    let name = format!("rotate-{id}");
    let mut request = s
        .lambda_client()
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python312)
        .handler("lambda_function.lambda_handler")
        .role(&role)
        .timeout(30)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip_of(&[(
                    "lambda_function.py",
                    ROTATION_FUNCTION.as_bytes(),
                )])))
                .build(),
        );
    if !env.is_empty() {
        let mut vars = Environment::builder();
        for (k, v) in env {
            vars = vars.variables(*k, *v);
        }
        request = request.environment(vars.build());
    }
    let arn = ok(request.send().await)
        .function_arn
        .expect("CreateFunction returns the ARN");
    (arn, name)
}

/// Lets Secrets Manager invoke `function` for `secret_arn` (AWS's recommended statement).
async fn allow_secrets_manager(function: &str, secret_arn: &str) {
    allow_secrets_manager_on(server(), function, secret_arn).await
}

/// [`allow_secrets_manager`] on server `s`.
async fn allow_secrets_manager_on(s: &TestServer, function: &str, secret_arn: &str) {
    ok(s.lambda_client()
        .add_permission()
        .function_name(function)
        .statement_id("SecretsManagerAccess")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .source_account(s.account_id())
        .source_arn(secret_arn)
        .send()
        .await);
}

/// A secret with a rotation function Secrets Manager may invoke: `(client, name, ARN, first
/// version, function ARN, function name)`.
async fn rotatable(
    prefix: &str,
    fail_step: Option<&str>,
) -> (Client, String, String, String, String, String) {
    let (sm, name, arn, v1) = secret(prefix, "first-password").await;
    let (function_arn, function_name) = rotation_function(&arn, fail_step).await;
    allow_secrets_manager(&function_name, &arn).await;
    (sm, name, arn, v1, function_arn, function_name)
}

fn days(n: i32) -> RotationRulesType {
    RotationRulesType::builder()
        .automatically_after_days(i64::from(n))
        .build()
}

fn stages(d: &DescribeSecretOutput) -> BTreeMap<String, Vec<String>> {
    d.version_ids_to_stages
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn has_pending(d: &DescribeSecretOutput) -> bool {
    stages(d).values().any(|s| s.iter().any(|l| l == "AWSPENDING"))
}

fn tag(d: &DescribeSecretOutput, key: &str) -> Option<String> {
    d.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_owned))
}

/// The last second of the UTC day `days` after today, as NextRotationDate shows a day schedule.
fn end_of_day_in(days: i64) -> i64 {
    let now = now_secs();
    now - now.rem_euclid(DAY) + days * DAY + DAY - 1
}

/// Rotates `name` once, waits for the rotation to complete and checks its outcome; returns the new
/// version id.
async fn rotate_once(
    sm: &Client,
    name: &str,
    function_arn: Option<&str>,
    rules: Option<RotationRulesType>,
) -> String {
    let before = sm.describe(name).await;
    let current = stages(&before)
        .into_iter()
        .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
        .map(|(v, _)| v)
        .expect("a current version");
    let old_value = sm.value(name).await;
    let token = token();
    let out = ok(sm
        .rotate_secret()
        .secret_id(name)
        .client_request_token(&token)
        .set_rotation_lambda_arn(function_arn.map(str::to_owned))
        .set_rotation_rules(rules)
        .send()
        .await);
    assert_eq!(out.version_id(), Some(token.as_str()));
    assert_eq!(out.name(), before.name());
    assert_eq!(out.arn(), before.arn());
    let d = wait_for_secret(sm, name, "rotation", |d| {
        d.last_rotated_date() != before.last_rotated_date() && !has_pending(d)
    })
    .await;
    assert_eq!(
        stages(&d),
        stage_map(&[(&current, &["AWSPREVIOUS"]), (&token, &["AWSCURRENT"])]),
        "labels moved in finishSecret, AWSPENDING removed after it"
    );
    let new_value = sm.value(name).await;
    assert_ne!(new_value, old_value);
    assert_eq!(new_value.len(), 32, "GetRandomPassword's default length");
    assert_eq!(
        sm.get_stage(name, "AWSPREVIOUS").await.secret_string(),
        Some(old_value.as_str())
    );
    assert_eq!(tag(&d, "tested").as_deref(), Some(token.as_str()));
    token
}

#[tokio::test]
async fn a_python_function_rotates_a_secret_three_times() {
    let (sm, name, arn, v1, function_arn, _) = rotatable("rotated", None).await;
    let first = rotate_once(&sm, &name, Some(&function_arn), Some(days(30))).await;

    let d = sm.describe(&name).await;
    assert_eq!(d.rotation_enabled(), Some(true));
    assert_eq!(d.rotation_lambda_arn(), Some(function_arn.as_str()));
    assert_eq!(
        d.rotation_rules().and_then(|r| r.automatically_after_days()),
        Some(30)
    );
    let rotated = d.last_rotated_date().expect("LastRotatedDate").secs();
    assert!((rotated - now_secs()).abs() < 60, "LastRotatedDate is now");
    assert_eq!(
        d.next_rotation_date().map(|t| t.secs()),
        Some(end_of_day_in(30)),
        "NextRotationDate: the end of the day 30 days after the last rotation"
    );
    // ListSecrets shows the same rotation members.
    let listed = ok(sm.list_secrets().filters(name_filter(&name)).send().await);
    let entry = listed.secret_list().first().expect("listed");
    assert_eq!(entry.rotation_enabled(), Some(true));
    assert_eq!(entry.rotation_lambda_arn(), Some(function_arn.as_str()));
    assert_eq!(
        entry.rotation_rules().and_then(|r| r.automatically_after_days()),
        Some(30)
    );
    assert_eq!(entry.last_rotated_date(), d.last_rotated_date());
    assert_eq!(entry.next_rotation_date(), d.next_rotation_date());

    // Again with the stored function and rules, by ARN; then with a schedule expression.
    let second = rotate_once(&sm, &arn, None, None).await;
    let schedule = RotationRulesType::builder()
        .schedule_expression("rate(10 days)")
        .duration("2h")
        .build();
    let third = rotate_once(&sm, &name, None, Some(schedule)).await;
    let d = sm.describe(&name).await;
    let rules = d.rotation_rules().expect("rules");
    assert_eq!(rules.schedule_expression(), Some("rate(10 days)"));
    assert_eq!(rules.duration(), Some("2h"));
    assert_eq!(rules.automatically_after_days(), None);
    let now = now_secs();
    assert_eq!(
        d.next_rotation_date().map(|t| t.secs()),
        Some(now - now.rem_euclid(DAY) + 10 * DAY + 2 * 3600 - 1),
        "the window of the day 10 days on, two hours from midnight"
    );
    // Every version is kept: the first two without labels now.
    let versions = sm.versions(&name, true).await;
    let ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(ids, [v1.as_str(), &first, &second, &third]);
}

#[tokio::test]
async fn a_function_secrets_manager_may_not_invoke_is_access_denied() {
    let (sm, name, arn, v1) = secret("no-permission", "kept").await;
    let (function_arn, function_name) = rotation_function(&arn, None).await;
    let rotate = || {
        sm.rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn(&function_arn)
            .rotation_rules(days(7))
            .send()
    };
    // No statement for the service.
    let e = expect_err!(rotate().await);
    assert_error(&e, "AccessDeniedException", CANNOT_INVOKE);
    // A statement for the service, but for another secret.
    ok(server()
        .lambda_client()
        .add_permission()
        .function_name(&function_name)
        .statement_id("OtherSecret")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .source_arn(format!("{arn}-other"))
        .send()
        .await);
    let e = expect_err!(rotate().await);
    assert_error(&e, "AccessDeniedException", CANNOT_INVOKE);
    // A function that doesn't exist.
    let missing = format!(
        "arn:aws:lambda:{REGION}:{DEV_ACCOUNT}:function:missing-{}",
        short_id()
    );
    let e = expect_err!(
        sm.rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn(&missing)
            .send()
            .await
    );
    assert_error(&e, "AccessDeniedException", CANNOT_INVOKE);
    // Nothing changed.
    let d = sm.describe(&name).await;
    assert_eq!(d.rotation_enabled(), None);
    assert!(d.rotation_rules().is_none() && d.rotation_lambda_arn().is_none());
    assert_eq!(stages(&d), stage_map(&[(&v1, &["AWSCURRENT"])]));
    assert_eq!(sm.value(&name).await, "kept");

    // The caller must be allowed to invoke the function too.
    allow_secrets_manager(&function_name, &arn).await;
    let user = server()
        .root()
        .new_user("rotator", Some(&allow(&["secretsmanager:RotateSecret"], &[&arn])))
        .await;
    let e = expect_err!(
        user.sm()
            .rotate_secret()
            .secret_id(&arn)
            .rotation_lambda_arn(&function_arn)
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&user.arn, "lambda:InvokeFunction", Some(&function_arn)),
    );
}

#[tokio::test]
async fn a_failed_step_leaves_the_current_value_and_blocks_the_next_rotation() {
    let (sm, name, _, v1, function_arn, function_name) = rotatable("failing", Some("testSecret")).await;
    let token = token();
    ok(sm
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(&token)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(days(1))
        .send()
        .await);
    // createSecret and setSecret ran, then testSecret failed.
    wait_for_secret(&sm, &name, "the failing step", |d| {
        tag(d, "failed").as_deref() == Some(token.as_str())
    })
    .await;
    let d = sm.describe(&name).await;
    assert_eq!(
        stages(&d),
        stage_map(&[(&v1, &["AWSCURRENT"]), (&token, &["AWSPENDING"])]),
        "AWSCURRENT unchanged, AWSPENDING left on the new version"
    );
    assert_eq!(sm.value(&name).await, "first-password");
    assert!(d.last_rotated_date().is_none());
    assert_eq!(tag(&d, "tested"), None);
    assert_eq!(
        sm.get_stage(&name, "AWSPENDING").await.version_id(),
        Some(token.as_str())
    );

    // The next rotation is refused while AWSPENDING is on another version; a retry of the request
    // that started it (same ClientRequestToken) answers as it did and starts nothing.
    let e = expect_err!(sm.rotate_secret().secret_id(&name).send().await);
    assert_error(&e, "InvalidRequestException", PREVIOUS_ROTATION);
    let retried = ok(sm
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(&token)
        .send()
        .await);
    assert_eq!(retried.version_id(), Some(token.as_str()));
    assert_eq!(stages(&sm.describe(&name).await), stages(&d));

    // CancelRotateSecret turns rotation off, names the unfinished version, keeps the labels.
    let out = ok(sm.cancel_rotate_secret().secret_id(&name).send().await);
    assert_eq!(out.version_id(), Some(token.as_str()));
    assert_eq!(out.name(), Some(name.as_str()));
    let d = sm.describe(&name).await;
    assert_eq!(d.rotation_enabled(), Some(false));
    assert_eq!(d.rotation_lambda_arn(), Some(function_arn.as_str()));
    assert_eq!(
        d.rotation_rules().and_then(|r| r.automatically_after_days()),
        Some(1)
    );
    assert!(d.next_rotation_date().is_none());
    assert!(stages(&d)[&token].contains(&"AWSPENDING".to_owned()));

    // Once the label is removed and the function fixed, rotation works again.
    sm.move_stage(&name, "AWSPENDING", Some(&token), None).await;
    ok(server()
        .lambda_client()
        .update_function_configuration()
        .function_name(&function_name)
        .environment(Environment::builder().variables("FAIL_STEP", "none").build())
        .send()
        .await);
    rotate_once(&sm, &name, None, None).await;
    assert_eq!(sm.describe(&name).await.rotation_enabled(), Some(true));
}

#[tokio::test]
async fn rotate_immediately_false_only_tests_the_function() {
    let (sm, name, _, v1, function_arn, _) = rotatable("later", None).await;
    let token = token();
    let out = ok(sm
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(&token)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(days(5))
        .rotate_immediately(false)
        .send()
        .await);
    assert_eq!(out.version_id(), Some(token.as_str()));
    // testSecret ran on a pending copy of the current value, which then went.
    let d = wait_for_secret(&sm, &name, "testSecret", |d| {
        tag(d, "tested").as_deref() == Some(token.as_str()) && !has_pending(d)
    })
    .await;
    assert_eq!(stages(&d), stage_map(&[(&v1, &["AWSCURRENT"])]));
    assert_eq!(sm.value(&name).await, "first-password");
    assert_eq!(d.rotation_enabled(), Some(true));
    assert!(d.last_rotated_date().is_none());
    assert_eq!(
        d.next_rotation_date().map(|t| t.secs()),
        Some(end_of_day_in(5)),
        "counted from when rotation was configured"
    );
    let versions = sm.versions(&name, true).await;
    assert_eq!(versions.versions().len(), 1, "the test version is removed");
}

#[tokio::test]
async fn rotation_requests_are_validated() {
    let (sm, name, arn, _) = secret("validated", "v").await;
    let function = format!("arn:aws:lambda:{REGION}:{DEV_ACCOUNT}:function:never-called");
    let rotate = |rules: RotationRulesType| {
        sm.rotate_secret()
            .secret_id(&name)
            .rotation_lambda_arn(&function)
            .rotation_rules(rules)
            .send()
    };
    let e = expect_err!(rotate(days(0)).await);
    assert_error(
        &e,
        "ValidationException",
        &model_min_value("rotationRules.automaticallyAfterDays", 0, 1),
    );
    let e = expect_err!(rotate(days(1001)).await);
    assert_error(
        &e,
        "ValidationException",
        &model_max_value("rotationRules.automaticallyAfterDays", 1001, 1000),
    );
    let e = expect_err!(
        rotate(
            RotationRulesType::builder()
                .automatically_after_days(1)
                .duration("2d")
                .build()
        )
        .await
    );
    assert_error(
        &e,
        "ValidationException",
        &model_pattern("rotationRules.duration", "2d", "[0-9]+h"),
    );
    let both = RotationRulesType::builder()
        .automatically_after_days(1)
        .schedule_expression("rate(1 days)")
        .build();
    let e = expect_err!(rotate(both).await);
    assert_error(
        &e,
        "InvalidParameterException",
        "You cannot specify both rotation frequency and schedule expression together.",
    );
    for expression in [
        "rate(2 hours)",
        "rate(1001 days)",
        "rate(2 weeks)",
        "cron(30 10 * * ? *)",
        "cron(0 10 * * ? 2030)",
        "cron(0 10 * * * *)",
        "cron(0 10 ? *)",
        "daily",
    ] {
        let e = expect_err!(
            rotate(
                RotationRulesType::builder()
                    .schedule_expression(expression)
                    .build()
            )
            .await
        );
        assert_eq!(e.meta().code(), Some("InvalidParameterException"), "{expression}");
        assert!(
            e.meta()
                .message()
                .is_some_and(|m| m.starts_with(&format!("Invalid schedule expression {expression}: "))),
            "{expression}: {e:?}"
        );
    }
    // A window past the end of the day, or into the next window.
    for (expression, duration) in [
        ("cron(0 22 * * ? *)", "3h"),
        ("rate(4 hours)", "5h"),
        ("rate(1 days)", "25h"),
    ] {
        let rules = RotationRulesType::builder()
            .schedule_expression(expression)
            .duration(duration)
            .build();
        let e = expect_err!(rotate(rules).await);
        assert_eq!(
            e.meta().code(),
            Some("InvalidParameterException"),
            "{expression} {duration}"
        );
        assert!(
            e.meta()
                .message()
                .is_some_and(|m| m.starts_with(&format!("Invalid rotation window duration {duration}: "))),
            "{e:?}"
        );
    }
    // No function given or stored.
    let e = expect_err!(sm.rotate_secret().secret_id(&name).send().await);
    assert_error(
        &e,
        "InvalidRequestException",
        "No Lambda rotation function ARN is associated with this secret.",
    );
    // A secret that doesn't exist, or is scheduled for deletion.
    let e = expect_err!(
        sm.rotate_secret()
            .secret_id(unique_name("missing"))
            .rotation_lambda_arn(&function)
            .send()
            .await
    );
    assert_error(
        &e,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    );
    let e = expect_err!(
        sm.cancel_rotate_secret()
            .secret_id(unique_name("missing"))
            .send()
            .await
    );
    assert_error(
        &e,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    );
    // CancelRotateSecret on a secret whose rotation was never configured.
    let e = expect_err!(sm.cancel_rotate_secret().secret_id(&arn).send().await);
    assert_error(
        &e,
        "InvalidRequestException",
        "You can't cancel rotation because rotation isn't configured for this secret.",
    );
    sm.schedule_deletion(&name).await;
    let e = expect_err!(rotate(days(1)).await);
    assert_error(
        &e,
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    );
    // Nothing was stored by any of these.
    let d = sm.describe(&name).await;
    assert!(d.rotation_enabled().is_none() && d.rotation_rules().is_none());
}

#[tokio::test]
async fn rotation_lambda_arn_is_a_condition_key() {
    let (sm, name, arn, _, function_arn, _) = rotatable("condition", None).await;
    let policy = policy_document(&[
        serde_json::json!({
            "Effect": "Allow",
            "Action": "secretsmanager:RotateSecret",
            "Resource": arn,
            "Condition": {"ArnLike": {"secretsmanager:RotationLambdaARN": "arn:aws:lambda:*:*:function:approved-*"}}
        }),
        statement("Allow", &["lambda:InvokeFunction"], &["*"]),
    ]);
    let user = server().root().new_user("conditioned", Some(&policy)).await;
    let e = expect_err!(
        user.sm()
            .rotate_secret()
            .secret_id(&arn)
            .rotation_lambda_arn(&function_arn)
            .rotation_rules(days(3))
            .send()
            .await
    );
    assert_error(
        &e,
        "AccessDeniedException",
        &no_identity_policy(&user.arn, "secretsmanager:RotateSecret", Some(&arn)),
    );
    assert!(sm.describe(&name).await.rotation_enabled().is_none());

    // `secretsmanager:resource/AllowRotationLambdaArn`: the function the secret is configured with.
    let policy = policy_document(&[serde_json::json!({
        "Effect": "Allow",
        "Action": "secretsmanager:DescribeSecret",
        "Resource": arn,
        "Condition": {"ArnEquals": {"secretsmanager:resource/AllowRotationLambdaArn": function_arn}}
    })]);
    let auditor = server().root().new_user("auditor", Some(&policy)).await;
    let e = expect_err!(auditor.sm().describe_secret().secret_id(&arn).send().await);
    assert_eq!(e.meta().code(), Some("AccessDeniedException"));
    ok(sm
        .rotate_secret()
        .secret_id(&name)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(days(3))
        .send()
        .await);
    let d = ok(auditor.sm().describe_secret().secret_id(&arn).send().await);
    assert_eq!(d.rotation_lambda_arn(), Some(function_arn.as_str()));
}

#[tokio::test]
async fn the_pending_version_has_no_value_until_put_secret_value_fills_it() {
    let (sm, name, _, v1, function_arn, _) = rotatable("placeholder", Some("createSecret")).await;
    let token = token();
    ok(sm
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(&token)
        .rotation_lambda_arn(&function_arn)
        .send()
        .await);
    wait_for_secret(&sm, &name, "the failing step", |d| {
        tag(d, "failed").as_deref() == Some(token.as_str())
    })
    .await;
    assert_eq!(
        stages(&sm.describe(&name).await),
        stage_map(&[(&v1, &["AWSCURRENT"]), (&token, &["AWSPENDING"])])
    );
    // Reading it, by stage or by id, is ResourceNotFoundException (what createSecret relies on).
    let by_stage = sm
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSPENDING")
        .send()
        .await;
    assert!(expect_err!(by_stage).is_resource_not_found_exception());
    let by_id = sm
        .get_secret_value()
        .secret_id(&name)
        .version_id(&token)
        .version_stage("AWSPENDING")
        .send()
        .await;
    assert!(expect_err!(by_id).is_resource_not_found_exception());
    // PutSecretValue with its token fills it in place, keeping its label.
    let out = ok(sm
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&token)
        .secret_string("filled-by-hand")
        .version_stages("AWSPENDING")
        .send()
        .await);
    assert_eq!(out.version_id(), Some(token.as_str()));
    assert_eq!(
        sm.get_stage(&name, "AWSPENDING").await.secret_string(),
        Some("filled-by-hand")
    );
    assert_eq!(sm.value(&name).await, "first-password");
    // The same request again is an idempotent retry; another value under the token is refused.
    ok(sm
        .put_secret_value()
        .secret_id(&name)
        .client_request_token(&token)
        .secret_string("filled-by-hand")
        .version_stages("AWSPENDING")
        .send()
        .await);
    let e = expect_err!(
        sm.put_secret_value()
            .secret_id(&name)
            .client_request_token(&token)
            .secret_string("another")
            .send()
            .await
    );
    assert!(e.is_resource_exists_exception(), "{e:?}");
}

/// A rotation of a primary reaches its replica: the function's new value (PutSecretValue) and the
/// label moves of finishSecret, each in the transaction that makes it on the primary.
#[tokio::test]
async fn a_rotation_of_a_primary_reaches_its_replica() {
    use aws_sdk_secretsmanager::types::ReplicaRegionType;
    let (sm, name, _, _, function_arn, _) = rotatable("replicated", None).await;
    let region = ReplicaRegionType::builder().region("eu-west-1").build();
    let req = sm.replicate_secret_to_regions().secret_id(&name);
    ok(req.add_replica_regions(region).send().await);
    rotate_once(&sm, &name, Some(&function_arn), Some(days(30))).await;
    let eu = server().client_in("eu-west-1", &server().root_credentials());
    assert_eq!(eu.value(&name).await, sm.value(&name).await);
    assert_eq!(
        stages(&eu.describe(&name).await),
        stages(&sm.describe(&name).await)
    );
    let status = sm.describe(&name).await;
    let status = status.replication_status().first().expect("ReplicationStatus");
    assert_eq!(status.status().map(|s| s.as_str()), Some("InSync"));
}

// --- scheduled rotation ---
//
// The server's background job starts a rotation once its window opens. Most of these tests move
// a manual clock; the rotation function signs its own calls with the system's time, which the
// server then refuses as too far from its own once the clock moved days on, so the scheduled run
// itself ends unfinished there: what they check is that it started (a new AWSPENDING version, of
// a token the scheduler made), when, and only once. The first moves a dev server's clock instead
// (as `kinko dev clock advance` does), against which the function's signatures still hold, and
// sees the scheduled rotation through to its end.

#[tokio::test]
async fn a_scheduled_rotation_runs_the_function_to_the_end() {
    let s = TestServer::start_with(dev_config(), TestClock::System).await;
    let (sm, name) = scheduled_on(&s, days(2)).await;
    let before = sm.describe(&name).await;
    let current = stages(&before)
        .into_iter()
        .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
        .map(|(v, _)| v)
        .expect("a current version");
    s.running()
        .advance_dev_clock(std::time::Duration::from_secs(3 * 86_400))
        .expect("a dev server's clock moves");
    s.run_jobs_now().await;
    let d = wait_for_secret(&sm, &name, "scheduled rotation", |d| {
        d.last_rotated_date().is_some() && !has_pending(d)
    })
    .await;
    let new = stages(&d)
        .into_iter()
        .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
        .map(|(v, _)| v)
        .expect("a current version");
    assert_ne!(new, current);
    assert_eq!(
        stages(&d),
        stage_map(&[(&current, &["AWSPREVIOUS"]), (&new, &["AWSCURRENT"])])
    );
    assert_eq!(tag(&d, "tested").as_deref(), Some(new.as_str()));
    assert_ne!(sm.value(&name).await, "first-password");
    // The next window counts from this rotation: nothing more starts now.
    s.run_jobs_now().await;
    assert_eq!(pending_version(&sm, &name).await, None);
    let scrape = wait_scrape(&s, |sc| scheduled_count(sc, "succeeded") >= 1.0).await;
    assert_eq!(scheduled_count(&scrape, "started"), 1.0);
    assert_eq!(scheduled_count(&scrape, "failed"), 0.0);
    s.shutdown().await;
}

#[tokio::test]
async fn a_run_stopped_after_finish_secret_is_finished_by_its_retry_not_followed_by_another() {
    let s = TestServer::start_with(dev_config(), TestClock::System).await;
    // A rate: its windows count from the last rotation alone (not from the current value's
    // creation, as AutomaticallyAfterDays does), so until the rotation is recorded the window it
    // rotated for is the next one.
    let rate = RotationRulesType::builder()
        .schedule_expression("rate(2 days)")
        .build();
    let (sm, name) = scheduled_with(&s, rate, &[("FAIL_AFTER_STEP", "finishSecret")]).await;
    let current = |d: &DescribeSecretOutput| {
        stages(d)
            .into_iter()
            .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
            .map(|(v, _)| v)
            .expect("a current version")
    };
    let first = current(&sm.describe(&name).await);
    s.running()
        .advance_dev_clock(std::time::Duration::from_secs(3 * 86_400))
        .expect("a dev server's clock moves");
    s.run_jobs_now().await;
    wait_until_scheduled(&s, "failed", 1.0).await;
    // finishSecret moved AWSCURRENT, then the function failed: the run ended without recording
    // the rotation.
    let d = sm.describe(&name).await;
    let new = current(&d);
    assert_ne!(new, first);
    let mut sorted = stages(&d);
    sorted.values_mut().for_each(|s| s.sort());
    assert_eq!(
        sorted,
        stage_map(&[(&first, &["AWSPREVIOUS"]), (&new, &["AWSCURRENT", "AWSPENDING"])])
    );
    assert_eq!(d.last_rotated_date(), None);
    // The rotation the schedule asked for is under way, not due again: later runs start nothing.
    s.run_jobs_now().await;
    s.run_jobs_now().await;
    assert_eq!(scheduled_count(&Scrape::of(s.addr()).await, "started"), 1.0);
    assert_eq!(sm.versions(&name, true).await.versions().len(), 2);
    // Its retry runs the steps again with the same token; the function finds the version current
    // and does nothing; the run records the rotation.
    s.running()
        .advance_dev_clock(std::time::Duration::from_secs(3 * 3600))
        .expect("a dev server's clock moves");
    s.run_jobs_now().await;
    let scrape = wait_scrape(&s, |sc| scheduled_count(sc, "succeeded") >= 1.0).await;
    assert_eq!(scheduled_count(&scrape, "started"), 2.0);
    let d = wait_for_secret(&sm, &name, "the retry", |d| {
        d.last_rotated_date().is_some() && !has_pending(d)
    })
    .await;
    assert_eq!(
        stages(&d),
        stage_map(&[(&first, &["AWSPREVIOUS"]), (&new, &["AWSCURRENT"])])
    );
    assert_eq!(sm.versions(&name, true).await.versions().len(), 2);
    s.run_jobs_now().await;
    assert_eq!(scheduled_count(&Scrape::of(s.addr()).await, "started"), 2.0);
    s.shutdown().await;
}

/// Scrapes `s`'s metrics until `done` holds of them.
async fn wait_scrape(s: &TestServer, done: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..600 {
        let scrape = Scrape::of(s.addr()).await;
        if done(&scrape) {
            return scrape;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("metrics never reached the expected state");
}

/// On server `s`: a secret whose rotation is configured with `rules` and tested by its function
/// (RotateImmediately=false, so nothing rotates now); returns `(client, name)` once the test
/// version went.
async fn scheduled_on(s: &TestServer, rules: RotationRulesType) -> (Client, String) {
    scheduled_with(s, rules, &[]).await
}

/// [`scheduled_on`], with the rotation function's environment variables `env`.
async fn scheduled_with(s: &TestServer, rules: RotationRulesType, env: &[(&str, &str)]) -> (Client, String) {
    let sm = s.client();
    let name = unique_name("scheduled");
    let (arn, _) = sm.create_string(&name, "first-password").await;
    let (function_arn, function_name) = rotation_function_with(s, &arn, env).await;
    allow_secrets_manager_on(s, &function_name, &arn).await;
    let token = token();
    ok(sm
        .rotate_secret()
        .secret_id(&name)
        .client_request_token(&token)
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(rules)
        .rotate_immediately(false)
        .send()
        .await);
    wait_for_secret(&sm, &name, "testSecret", |d| {
        tag(d, "tested").as_deref() == Some(token.as_str()) && !has_pending(d)
    })
    .await;
    (sm, name)
}

/// The pending version's id, if a rotation is pending.
async fn pending_version(sm: &Client, name: &str) -> Option<String> {
    stages(&sm.describe(name).await)
        .into_iter()
        .find(|(_, s)| s.iter().any(|l| l == "AWSPENDING") && !s.iter().any(|l| l == "AWSCURRENT"))
        .map(|(v, _)| v)
}

fn scheduled_count(scrape: &Scrape, result: &str) -> f64 {
    scrape.value("kinko_secret_rotations_scheduled_total", &[("result", result)])
}

#[tokio::test]
async fn a_rotation_every_n_days_starts_once_its_window_opens_and_only_once() {
    let (s, manual) = TestServer::start_manual().await;
    let (sm, name) = scheduled_on(&s, days(3)).await;
    let d = sm.describe(&name).await;
    let next = d
        .next_rotation_date()
        .map(|t| t.secs())
        .expect("NextRotationDate");
    // The window is the whole UTC day of NextRotationDate.
    let window_start = next + 1 - DAY;
    // Jobs run just before the window opens: nothing starts.
    let to_start = window_start - s.now_secs();
    manual.advance(std::time::Duration::from_secs((to_start - 60) as u64));
    s.run_jobs_now().await;
    assert_eq!(pending_version(&sm, &name).await, None, "not before the window");
    assert_eq!(scheduled_count(&Scrape::of(s.addr()).await, "started"), 0.0);
    // Once it opened, the next run starts the rotation with a token of its own.
    manual.advance(std::time::Duration::from_secs(120));
    s.run_jobs_now().await;
    let pending = pending_version(&sm, &name).await.expect("a rotation started");
    assert!(
        uuid::Uuid::parse_str(&pending).is_ok(),
        "a new ClientRequestToken: {pending}"
    );
    let d = sm.describe(&name).await;
    assert_eq!(d.rotation_enabled(), Some(true));
    // Later runs within the window leave it be: one rotation at a time.
    s.run_jobs_now().await;
    s.run_jobs_now().await;
    assert_eq!(
        pending_version(&sm, &name).await.as_deref(),
        Some(pending.as_str())
    );
    let versions = sm.versions(&name, true).await;
    assert_eq!(versions.versions().len(), 2, "one new version: {versions:?}");
    let scrape = Scrape::of(s.addr()).await;
    assert_eq!(scheduled_count(&scrape, "started"), 1.0, "{}", scrape.text);
    // A RotateSecret meanwhile is refused as for any rotation in progress.
    let e = expect_err!(sm.rotate_secret().secret_id(&name).send().await);
    assert_error(&e, "InvalidRequestException", PREVIOUS_ROTATION);
    s.shutdown().await;
}

#[tokio::test]
async fn a_run_left_unfinished_is_retried_with_the_same_version_a_few_times() {
    let (s, manual) = TestServer::start_manual().await;
    let (sm, name) = scheduled_on(&s, days(1)).await;
    s.advance_days(2).await;
    let pending = pending_version(&sm, &name).await.expect("a rotation started");
    // The run ends unfinished (see above); an hour on it is not retried yet, three hours on it is,
    // with the same version.
    wait_until_scheduled(&s, "failed", 1.0).await;
    manual.advance(std::time::Duration::from_secs(3600));
    s.run_jobs_now().await;
    assert_eq!(scheduled_count(&Scrape::of(s.addr()).await, "started"), 1.0);
    for attempt in 2..=5 {
        manual.advance(std::time::Duration::from_secs(3 * 3600));
        s.run_jobs_now().await;
        assert_eq!(
            scheduled_count(&Scrape::of(s.addr()).await, "started"),
            f64::from(attempt),
            "attempt {attempt}"
        );
        assert_eq!(
            pending_version(&sm, &name).await.as_deref(),
            Some(pending.as_str())
        );
        wait_until_scheduled(&s, "failed", f64::from(attempt)).await;
    }
    // Five runs in all: then it is left for the user to see.
    s.advance_days(3).await;
    assert_eq!(scheduled_count(&Scrape::of(s.addr()).await, "started"), 5.0);
    assert_eq!(
        pending_version(&sm, &name).await.as_deref(),
        Some(pending.as_str())
    );
    s.shutdown().await;
}

/// Waits for the scheduled rotations counted as `result` to reach `n`.
async fn wait_until_scheduled(s: &TestServer, result: &str, n: f64) {
    for _ in 0..600 {
        if scheduled_count(&Scrape::of(s.addr()).await, result) >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("scheduled rotations {result} did not reach {n}");
}

#[tokio::test]
async fn rate_and_cron_schedules_start_rotations_in_their_windows() {
    let (s, manual) = TestServer::start_manual().await;
    // cron: every day at an hour two hours on (the window opens between one and two hours on).
    let hour = (s.now_secs().rem_euclid(DAY) / 3600 + 2) % 24;
    let cron = RotationRulesType::builder()
        .schedule_expression(format!("cron(0 {hour} * * ? *)"))
        .build();
    let (sm, by_cron) = scheduled_on(&s, cron).await;
    let rate = RotationRulesType::builder()
        .schedule_expression("rate(2 days)")
        .duration("3h")
        .build();
    let by_rate = scheduled_on(&s, rate).await.1;
    manual.advance(std::time::Duration::from_secs(50 * 60));
    s.run_jobs_now().await;
    assert_eq!(pending_version(&sm, &by_cron).await, None);
    assert_eq!(pending_version(&sm, &by_rate).await, None);
    manual.advance(std::time::Duration::from_secs(2 * 3600));
    s.run_jobs_now().await;
    assert!(
        pending_version(&sm, &by_cron).await.is_some(),
        "cron's window opened"
    );
    assert_eq!(pending_version(&sm, &by_rate).await, None, "rate(2 days) not yet");
    s.advance_days(2).await;
    assert!(
        pending_version(&sm, &by_rate).await.is_some(),
        "rate's window opened"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn cancelled_or_deleted_secrets_are_not_rotated() {
    let (s, _) = TestServer::start_manual().await;
    let (sm, cancelled) = scheduled_on(&s, days(1)).await;
    ok(sm.cancel_rotate_secret().secret_id(&cancelled).send().await);
    let deleted = scheduled_on(&s, days(1)).await.1;
    sm.schedule_deletion_in(&deleted, 30).await;
    s.advance_days(3).await;
    s.run_jobs_now().await;
    assert_eq!(pending_version(&sm, &cancelled).await, None);
    assert_eq!(pending_version(&sm, &deleted).await, None);
    assert_eq!(scheduled_count(&Scrape::of(s.addr()).await, "started"), 0.0);
    s.shutdown().await;
}

#[tokio::test]
async fn a_restarted_server_starts_a_rotation_that_came_due_while_it_was_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (clock, manual) = TestClock::manual();
    let s = TestServer::start_with(sqlite_config(dir.path()), clock.clone()).await;
    let (sm, name) = scheduled_on(&s, days(2)).await;
    s.run_jobs_now().await;
    s.shutdown().await;
    manual.advance(std::time::Duration::from_secs(3 * 86_400));
    let s = TestServer::start_with(sqlite_config(dir.path()), clock).await;
    let sm2 = s.client();
    // The jobs also run on their own as the server starts: started once, whichever run did it.
    s.run_jobs_now().await;
    assert!(
        pending_version(&sm2, &name).await.is_some(),
        "started from the stored state"
    );
    let versions = sm2.versions(&name, true).await;
    assert_eq!(versions.versions().len(), 2, "one new version: {versions:?}");
    drop(sm);
    s.shutdown().await;
}
