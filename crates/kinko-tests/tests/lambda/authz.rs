//! Who may do what with functions: the caller's policies on `lambda:*` actions, `iam:PassRole`
//! for the execution role, the role's trust policy, and the function's resource policy for
//! callers of another account.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, InvocationType, Runtime};
use kinko_tests::*;

use crate::*;

const THE_ROLE_CANNOT_BE_ASSUMED: &str = "The role defined for the function cannot be assumed by Lambda.";

async fn create(caller: &Principal<'_>, name: &str, role: &str) -> Outcome {
    outcome(
        caller
            .lambda()
            .create_function()
            .function_name(name)
            .runtime(Runtime::Nodejs12x)
            .handler("index.handler")
            .role(role)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(zip_of(&[(
                        "index.js",
                        b"exports.handler = async () => 1;\n",
                    )])))
                    .build(),
            )
            .send()
            .await,
    )
}

#[tokio::test]
async fn lambda_actions_need_an_identity_policy() {
    let server = server();
    let role = execution_role().await;
    let name = format!("guarded-{}", short_id());
    let arn = server.root().python_function(&name, &role).await;
    let nobody = server.user("fn-nobody", None).await;
    let get = nobody.lambda().get_function().function_name(&name).send().await;
    assert_eq!(
        outcome(get),
        failed(
            "AccessDeniedException",
            &access_denied(
                &nobody.arn,
                "lambda:GetFunction",
                Some(&arn),
                Denial::NoIdentityPolicy
            )
        )
    );
    // Denied the same way whether or not the function exists.
    let absent = function_arn("no-such-function");
    let get = nobody.lambda().get_function().function_name(&absent).send().await;
    assert_eq!(
        outcome(get),
        failed(
            "AccessDeniedException",
            &access_denied(
                &nobody.arn,
                "lambda:GetFunction",
                Some(&absent),
                Denial::NoIdentityPolicy
            )
        )
    );
    let list = nobody.lambda().list_functions().send().await;
    assert_eq!(
        outcome(list),
        failed(
            "AccessDeniedException",
            &access_denied(
                &nobody.arn,
                "lambda:ListFunctions",
                None,
                Denial::NoIdentityPolicy
            )
        )
    );
    let reader = server
        .user("fn-reader", Some(&allow(&["lambda:GetFunction"], &[&arn])))
        .await;
    ok(reader.lambda().get_function().function_name(&name).send().await);
    let invoke = reader
        .lambda()
        .invoke()
        .function_name(&name)
        .invocation_type(InvocationType::DryRun)
        .send()
        .await;
    assert_eq!(
        outcome(invoke),
        failed(
            "AccessDeniedException",
            &access_denied(
                &reader.arn,
                "lambda:InvokeFunction",
                Some(&arn),
                Denial::NoIdentityPolicy
            )
        )
    );
    // A qualified request is authorized on the qualified ARN.
    let qualified = reader
        .lambda()
        .get_function()
        .function_name(&name)
        .qualifier("$LATEST")
        .send()
        .await;
    assert_eq!(
        outcome(qualified),
        failed(
            "AccessDeniedException",
            &access_denied(
                &reader.arn,
                "lambda:GetFunction",
                Some(&format!("{arn}:$LATEST")),
                Denial::NoIdentityPolicy
            )
        )
    );
}

#[tokio::test]
async fn creating_needs_pass_role_for_lambda() {
    let server = server();
    let role = execution_role().await;
    let creator = server
        .user("fn-creator", Some(&allow(&["lambda:CreateFunction"], &["*"])))
        .await;
    let name = format!("passed-{}", short_id());
    assert_eq!(
        create(&creator, &name, &role).await,
        failed(
            "AccessDeniedException",
            &access_denied(
                &creator.arn,
                "iam:PassRole",
                Some(&role),
                Denial::NoIdentityPolicy
            )
        )
    );
    // PassRole for another service does not do.
    let for_ec2 = policy_document(&[
        statement("Allow", &["lambda:CreateFunction"], &["*"]),
        serde_json::json!({
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        }),
    ]);
    let ec2_passer = server.user("fn-ec2-passer", Some(&for_ec2)).await;
    assert_eq!(
        create(&ec2_passer, &name, &role).await,
        failed(
            "AccessDeniedException",
            &access_denied(
                &ec2_passer.arn,
                "iam:PassRole",
                Some(&role),
                Denial::NoIdentityPolicy
            )
        )
    );
    let for_lambda = for_ec2.replace("ec2.amazonaws.com", "lambda.amazonaws.com");
    let passer = server.user("fn-passer", Some(&for_lambda)).await;
    assert_eq!(create(&passer, &name, &role).await, Ok(()));
}

#[tokio::test]
async fn the_role_must_trust_lambda() {
    let server = server();
    let root = server.root();
    let ec2_trust = policy_document(&[serde_json::json!({
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"
    })]);
    let ec2_role = root
        .new_role(&format!("ec2-only-{}", short_id()), &ec2_trust, None)
        .await;
    let name = format!("untrusted-{}", short_id());
    assert_eq!(
        create(&root, &name, &ec2_role).await,
        failed("InvalidParameterValueException", THE_ROLE_CANNOT_BE_ASSUMED)
    );
    let missing = format!("arn:aws:iam::{DEV_ACCOUNT}:role/no-such-role-{}", short_id());
    assert_eq!(
        create(&root, &name, &missing).await,
        failed("InvalidParameterValueException", THE_ROLE_CANNOT_BE_ASSUMED)
    );
    // Changing a function's role checks the new role the same way.
    let good = execution_role().await;
    assert_eq!(create(&root, &name, &good).await, Ok(()));
    let update = root
        .lambda()
        .update_function_configuration()
        .function_name(&name)
        .role(&ec2_role)
        .send()
        .await;
    assert_eq!(
        outcome(update),
        failed("InvalidParameterValueException", THE_ROLE_CANNOT_BE_ASSUMED)
    );
    let cross = "arn:aws:iam::123456789012:role/elsewhere";
    assert_eq!(
        create(&root, &format!("{name}-x"), cross).await,
        failed("AccessDeniedException", "Cross-account pass role is not allowed.")
    );
}

#[tokio::test]
async fn the_resource_policy_lets_another_account_invoke() {
    let server = server();
    let role = execution_role().await;
    let name = format!("shared-{}", short_id());
    let arn = server.root().python_function(&name, &role).await;
    let member = member(server).await;
    let dry_run = || {
        member
            .admin
            .lambda()
            .invoke()
            .function_name(&arn)
            .invocation_type(InvocationType::DryRun)
            .send()
    };
    let no_resource_policy = failed(
        "AccessDeniedException",
        &access_denied(
            &member.admin.arn,
            "lambda:InvokeFunction",
            Some(&arn),
            Denial::NoResourcePolicy,
        ),
    );
    assert_eq!(outcome(dry_run().await), no_resource_policy);

    let lambda = server.lambda_client();
    let added = ok(lambda
        .add_permission()
        .function_name(&name)
        .statement_id("member-invokes")
        .action("lambda:InvokeFunction")
        .principal(&member.id)
        .send()
        .await);
    let statement: serde_json::Value =
        serde_json::from_str(added.statement().expect("the statement")).expect("JSON");
    assert_eq!(
        statement,
        serde_json::json!({
            "Sid": "member-invokes",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", member.id)},
            "Action": "lambda:InvokeFunction",
            "Resource": arn,
        })
    );
    let twice = lambda
        .add_permission()
        .function_name(&name)
        .statement_id("member-invokes")
        .action("lambda:InvokeFunction")
        .principal(&member.id)
        .send()
        .await;
    assert_eq!(error_code(twice), "ResourceConflictException");
    assert_eq!(ok(dry_run().await).status_code(), 204);
    // Only the action granted.
    let get = member
        .admin
        .lambda()
        .get_function()
        .function_name(&arn)
        .send()
        .await;
    assert_eq!(error_code(get), "AccessDeniedException");

    let policy = ok(lambda.get_policy().function_name(&name).send().await);
    let doc: serde_json::Value = serde_json::from_str(policy.policy().expect("policy")).expect("JSON");
    assert_eq!(doc["Statement"][0], statement);

    ok(lambda
        .remove_permission()
        .function_name(&name)
        .statement_id("member-invokes")
        .send()
        .await);
    assert_eq!(outcome(dry_run().await), no_resource_policy);
    let gone = lambda
        .remove_permission()
        .function_name(&name)
        .statement_id("member-invokes")
        .send()
        .await;
    assert_eq!(
        outcome(gone),
        failed(
            "ResourceNotFoundException",
            "Statement member-invokes is not found in resource policy."
        )
    );
    let none = lambda.get_policy().function_name(&name).send().await;
    assert_eq!(
        outcome(none),
        failed(
            "ResourceNotFoundException",
            "The resource you requested does not exist."
        )
    );
}
