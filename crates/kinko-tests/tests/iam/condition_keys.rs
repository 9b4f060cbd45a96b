//! The global condition keys AWS puts in the request context of every request (IAM User Guide,
//! "AWS global condition context keys"), each checked by a Deny on it: `aws:TokenIssueTime`,
//! `aws:MultiFactorAuthPresent`, `aws:RequestedRegion`, `aws:ResourceAccount`,
//! `aws:ViaAWSService`, `aws:CalledVia`, `aws:CalledViaFirst`, `aws:CalledViaLast` and
//! `aws:SourceIdentity`.

use std::time::Duration;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use kinko_tests::*;
use serde_json::{Value, json};

use crate::*;

/// A Deny of `actions` on everything when `condition` holds.
fn deny_when(actions: &str, condition: Value) -> Value {
    json!({"Effect": "Deny", "Action": actions, "Resource": "*", "Condition": condition})
}

/// An Allow of GetSecretValue on the secret `arn`.
fn allow_read(arn: &str) -> Value {
    statement("Allow", &["secretsmanager:GetSecretValue"], &[arn])
}

/// The policy the IAM console's "Revoke active sessions" puts on a role (the inline policy
/// `AWSRevokeOlderSessions`) ends every session issued before it: `aws:TokenIssueTime` is the
/// time the temporary credentials were issued (IAM User Guide, "Revoking IAM role temporary
/// security credentials"; "AWS global condition context keys", aws:TokenIssueTime). A leaked
/// session issued before is denied everything; a session issued after works.
#[tokio::test]
async fn revoking_older_sessions_ends_the_sessions_issued_before() {
    let (server, manual) = TestServer::start_manual().await;
    let name = "revoked/secret";
    let (arn, _) = server.client().create_string(name, "v").await;
    let role_name = "revoked-sessions";
    let trust = trust_policy(&[&root_arn(server.account_id())]);
    let role = server.role(role_name, &trust, Some(&read_policy(&arn))).await;
    let assumer = server.assumer(&role).await;
    let leaked = assumer.assume(&role, "leaked").await;
    assert_eq!(read(&leaked, name).await, Ok(()));
    manual.advance(Duration::from_secs(60));
    let revoked_at = DateTime::from_secs(server.now_secs());
    let revoked_at = revoked_at.fmt(Format::DateTime).expect("an ISO 8601 time");
    let revoke = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": revoked_at}}
        }]
    });
    let req = server.iam_client().put_role_policy().role_name(role_name);
    let req = req.policy_name("AWSRevokeOlderSessions");
    ok(req.policy_document(revoke.to_string()).send().await);
    manual.advance(Duration::from_secs(1));
    let fresh = assumer.assume(&role, "fresh").await;
    let denied = read_denied(&leaked.arn, name, Denial::ExplicitIdentity);
    assert_eq!(read(&leaked, name).await, denied);
    assert_eq!(read(&fresh, name).await, Ok(()));
    server.shutdown().await;
}

/// `aws:MultiFactorAuthPresent` is `false` for temporary credentials issued without MFA and not
/// present at all for long-term access keys, so a Deny on `Bool` `false` stops sessions but not
/// access keys, and one on `BoolIfExists` `false` stops both (IAM User Guide, "AWS global condition
/// context keys", aws:MultiFactorAuthPresent).
#[tokio::test]
async fn multi_factor_auth_present_is_false_for_sessions_and_absent_for_access_keys() {
    let server = server();
    let (_, name, arn) = scoped_secret("mfa", "v").await;
    for (operator, access_key_denied) in [("Bool", false), ("BoolIfExists", true)] {
        let no_mfa = deny_when("*", json!({operator: {"aws:MultiFactorAuthPresent": "false"}}));
        let policy = policy_document(&[allow_read(&arn), no_mfa]);
        let user = server.user("mfa", Some(&policy)).await;
        let token = ok(user.sts().get_session_token().send().await);
        let session = Principal {
            creds: TestCredentials::from(&token.credentials.expect("Credentials")),
            ..user.clone()
        };
        let denied = read_denied(&user.arn, &name, Denial::ExplicitIdentity);
        assert_eq!(read(&session, &name).await, denied, "{operator}");
        let expected = if access_key_denied { denied } else { Ok(()) };
        assert_eq!(read(&user, &name).await, expected, "{operator}");
    }
    let role_policy = policy_document(&[
        allow_read(&arn),
        deny_when("*", json!({"Bool": {"aws:MultiFactorAuthPresent": "false"}})),
    ]);
    let role = format!("mfa-{}", short_id());
    let role = server.role(&role, &trust_account(), Some(&role_policy)).await;
    let session = server.assumer(&role).await.assume(&role, "no-mfa").await;
    assert_read_denied(&session, &name, Denial::ExplicitIdentity).await;
}

/// `aws:RequestedRegion` is the region the request is made to: the one the client signs for, and
/// `us-east-1` for IAM, whose one endpoint is there — so a Deny outside a region also stops IAM, as
/// AWS warns (IAM User Guide, "AWS global condition context keys", aws:RequestedRegion).
#[tokio::test]
async fn requested_region_is_the_region_called() {
    let server = server();
    let actions = ["secretsmanager:ListSecrets", "iam:ListUsers"];
    let outside = deny_when(
        "*",
        json!({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}),
    );
    let policy = policy_document(&[statement("Allow", &actions, &["*"]), outside]);
    let user = server.user("region", Some(&policy)).await;
    let here = outcome(user.sm().list_secrets().send().await);
    let list = "secretsmanager:ListSecrets";
    assert_eq!(here, sm_denied(&user.arn, list, None, Denial::ExplicitIdentity));
    let there = server.client_in("eu-west-1", &user).list_secrets().send().await;
    assert_eq!(outcome(there), Ok(()));
    let iam = server.iam_client_in("eu-west-1", &user).list_users().send().await;
    let users = format!("arn:aws:iam::{DEV_ACCOUNT}:user/");
    assert_eq!(
        outcome(iam),
        denied(&user.arn, "iam:ListUsers", Some(&users), Denial::ExplicitIdentity)
    );
    let in_us_east_1 = allow(&actions, &["*"]);
    let iam_user = server.user("iam-region", Some(&in_us_east_1)).await;
    let only_us_east_1 = deny_when(
        "iam:*",
        json!({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}),
    );
    let req = server.iam_client().put_user_policy().user_name(&iam_user.name);
    let req = req.policy_name("iam-in-us-east-1");
    ok(req
        .policy_document(policy_document(&[only_us_east_1]))
        .send()
        .await);
    let iam = server
        .iam_client_in("eu-west-1", &iam_user)
        .list_users()
        .send()
        .await;
    assert_eq!(outcome(iam), Ok(()));
}

/// `aws:ResourceAccount` is the account that owns the resource the request names (IAM User
/// Guide, "AWS global condition context keys", aws:ResourceAccount).
#[tokio::test]
async fn resource_account_is_the_account_owning_the_resource() {
    let server = server();
    let (_, name, arn) = scoped_secret("resource-account", "v").await;
    for (account, is_denied) in [(DEV_ACCOUNT, true), ("111122223333", false)] {
        let other = deny_when(
            "secretsmanager:GetSecretValue",
            json!({"StringEquals": {"aws:ResourceAccount": account}}),
        );
        let policy = policy_document(&[allow_read(&arn), other]);
        let user = server.user("resource-account", Some(&policy)).await;
        let expected = if is_denied {
            read_denied(&user.arn, &name, Denial::ExplicitIdentity)
        } else {
            Ok(())
        };
        assert_eq!(read(&user, &name).await, expected, "{account}");
    }
}

/// The KMS requests Secrets Manager makes with its caller's credentials are forward access
/// sessions: `aws:ViaAWSService` is `true` and `aws:CalledVia`, `aws:CalledViaFirst` and
/// `aws:CalledViaLast` name `secretsmanager.amazonaws.com`. A request made directly has
/// `aws:ViaAWSService` `false` and no `aws:CalledVia*` (IAM User Guide, "Forward access sessions";
/// "AWS global condition context keys").
#[tokio::test]
async fn kms_requests_made_through_secrets_manager_are_via_an_aws_service() {
    let server = server();
    let (_, key_arn) = server.kms_client().new_key().await;
    let name = format!("via-{}/secret", short_id());
    let req = server.client().create_secret().name(&name).kms_key_id(&key_arn);
    let arn = ok(req.secret_string("v").send().await).arn.expect("ARN");
    let blob = server.kms_client().encrypt_with(&key_arn, b"direct", &[]).await;
    let decrypt = statement("Allow", &["kms:Decrypt"], &[&key_arn]);
    let secretsmanager = "secretsmanager.amazonaws.com";
    // A Deny of kms:Decrypt when the condition holds; whether it stops the read through Secrets
    // Manager, and a direct Decrypt.
    let rows = [
        (json!({"Bool": {"aws:ViaAWSService": "true"}}), true, false),
        (json!({"Bool": {"aws:ViaAWSService": "false"}}), false, true),
        (
            json!({"ForAnyValue:StringEquals": {"aws:CalledVia": secretsmanager}}),
            true,
            false,
        ),
        (
            json!({"StringEquals": {"aws:CalledViaFirst": secretsmanager}}),
            true,
            false,
        ),
        (
            json!({"StringEquals": {"aws:CalledViaLast": secretsmanager}}),
            true,
            false,
        ),
        (json!({"Null": {"aws:CalledVia": "true"}}), false, true),
    ];
    for (condition, read_stopped, direct_stopped) in rows {
        let deny = deny_when("kms:Decrypt", condition.clone());
        let policy = policy_document(&[allow_read(&arn), decrypt.clone(), deny]);
        let user = server.user("via", Some(&policy)).await;
        let expected = if read_stopped {
            failed("AccessDeniedException", "Access to KMS is not allowed")
        } else {
            Ok(())
        };
        assert_eq!(read(&user, &name).await, expected, "{condition}");
        let expected = if direct_stopped {
            let message = access_denied(&user.arn, "kms:Decrypt", Some(&key_arn), Denial::ExplicitIdentity);
            failed("AccessDeniedException", &message)
        } else {
            Ok(())
        };
        let direct = user.kms().try_decrypt(&blob, None, &[]).await;
        assert_eq!(direct, expected, "{condition}");
    }
}

/// A session's source identity is `aws:SourceIdentity` in every request it makes (IAM User Guide,
/// "Monitor and control actions taken with assumed roles"; "AWS global condition context keys").
#[tokio::test]
async fn source_identity_is_in_every_request_of_the_session() {
    let server = server();
    let (_, name, arn) = scoped_secret("source-identity", "v").await;
    let actions = ["sts:AssumeRole", "sts:SetSourceIdentity"];
    let trust = policy_document(&[json!({
        "Effect": "Allow", "Principal": {"AWS": root()}, "Action": actions
    })]);
    let not_mallory = deny_when("*", json!({"StringEquals": {"aws:SourceIdentity": "mallory"}}));
    let policy = policy_document(&[allow_read(&arn), not_mallory]);
    let role_name = format!("source-identity-{}", short_id());
    let role = server.role(&role_name, &trust, Some(&policy)).await;
    let user = server.user("identified", Some(&allow(&actions, &[&role]))).await;
    for (source_identity, is_denied) in [("alice", false), ("mallory", true)] {
        let req = user
            .sts()
            .assume_role()
            .role_arn(&role)
            .role_session_name(source_identity);
        let out = ok(req.source_identity(source_identity).send().await);
        assert_eq!(out.source_identity.as_deref(), Some(source_identity));
        let session = Principal {
            arn: session_arn(DEV_ACCOUNT, &role_name, source_identity),
            name: source_identity.to_owned(),
            creds: TestCredentials::from(&out.credentials.expect("Credentials")),
            server,
        };
        let expected = if is_denied {
            read_denied(&session.arn, &name, Denial::ExplicitIdentity)
        } else {
            Ok(())
        };
        assert_eq!(read(&session, &name).await, expected, "{source_identity}");
    }
}
