//! Federated users (GetFederationToken): who may issue them, their identity, their permissions
//! (the issuing user's policies intersected with the session policies; none without a session
//! policy), what they may not call; and DecodeAuthorizationMessage.

use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
use kinko_tests::*;
use serde_json::json;

use crate::*;

/// `arn:aws:sts::<account>:federated-user/<name>`.
fn federated_arn(name: &str) -> String {
    format!("arn:aws:sts::{DEV_ACCOUNT}:federated-user/{name}")
}

/// A federated user `name` that `issuer` issues, with `policy` as its session policy when given.
async fn federate<'s>(issuer: &Principal<'s>, name: &str, policy: Option<&str>) -> Principal<'s> {
    let req = issuer.sts().get_federation_token().name(name);
    let out = ok(req.set_policy(policy.map(str::to_owned)).send().await);
    let user = out.federated_user.expect("FederatedUser");
    assert_eq!(user.arn, federated_arn(name));
    assert_eq!(user.federated_user_id, format!("{DEV_ACCOUNT}:{name}"));
    let creds = out.credentials.expect("Credentials");
    assert!(creds.access_key_id.starts_with("ASIA"), "{}", creds.access_key_id);
    Principal {
        server: issuer.server,
        arn: user.arn,
        name: name.to_owned(),
        creds: TestCredentials::from(&creds),
    }
}

/// A user allowed to issue federated users and to read `secrets`.
async fn issuer(secrets: &[&str]) -> Principal<'static> {
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Action": "sts:GetFederationToken",
        "Resource": format!("arn:aws:sts::{DEV_ACCOUNT}:federated-user/*"),
    })];
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": secrets,
    }));
    server()
        .user("federator", Some(&policy_document(&statements)))
        .await
}

/// A federated user has the issuing user's permissions that its session policy also allows;
/// without a session policy it has none; GetCallerIdentity names it.
#[tokio::test]
async fn a_federated_user_has_what_both_its_issuer_and_its_session_policy_allow() {
    let (p, _, first) = scoped_secret("first", "1").await;
    let second = secret(&format!("{p}/second"), "2").await;
    let third = secret(&format!("{p}/third"), "3").await;
    let user = issuer(&[&first, &second]).await;
    let name = format!("fed-{p}");
    let session_policy = allow(&["secretsmanager:GetSecretValue"], &[&first, &third]);
    let fed = federate(&user, &name, Some(&session_policy)).await;

    let who = ok(fed.sts().get_caller_identity().send().await);
    assert_eq!(who.arn.as_deref(), Some(fed.arn.as_str()));
    assert_eq!(who.user_id, Some(format!("{DEV_ACCOUNT}:{name}")));
    assert_eq!(who.account.as_deref(), Some(DEV_ACCOUNT));

    assert_reads(&fed, &first, "both allow it").await;
    // The user may, the session policy doesn't.
    assert_read_denied(&fed, &second, Denial::NoSessionPolicy).await;
    // The session policy may, the user doesn't.
    assert_read_denied(&fed, &third, Denial::NoIdentityPolicy).await;

    // Without a session policy: nothing at all.
    let bare = federate(&user, &format!("bare-{p}"), None).await;
    assert_read_denied(&bare, &first, Denial::NoSessionPolicy).await;
    let who = ok(bare.sts().get_caller_identity().send().await);
    assert_eq!(who.arn.as_deref(), Some(bare.arn.as_str()));

    // A managed policy as the session policy.
    let iam = server().iam_client();
    let req = iam.create_policy().policy_name(format!("fed-session-{p}"));
    let managed = ok(req.policy_document(&session_policy).send().await).policy;
    let managed = managed.and_then(|m| m.arn).expect("policy ARN");
    let arns = PolicyDescriptorType::builder().arn(&managed).build();
    let req = user.sts().get_federation_token().name(format!("arns-{p}"));
    let out = ok(req.policy_arns(arns).send().await);
    let by_arn = TestCredentials::from(&out.credentials.expect("Credentials"));
    let read_as = server()
        .client_as(&by_arn)
        .get_secret_value()
        .secret_id(&first)
        .send()
        .await;
    assert_eq!(outcome(read_as), Ok(()));
}

/// The root user's federated users have what their session policy allows; the root user's
/// sessions last at most an hour.
#[tokio::test]
async fn the_root_users_federated_users_have_their_session_policy() {
    let (p, _, arn) = scoped_secret("root-fed", "v").await;
    let other = secret(&format!("{p}/other"), "w").await;
    let root = server().root();
    let fed = federate(&root, &format!("r-{p}"), Some(&read_policy(&arn))).await;
    assert_reads(&fed, &arn, "the session policy allows it").await;
    assert_read_denied(&fed, &other, Denial::NoSessionPolicy).await;
    let req = root.sts().get_federation_token().name(format!("long-{p}"));
    let out = ok(req.duration_seconds(7200).send().await);
    let expiration = out.credentials.expect("Credentials").expiration.secs();
    let left = expiration - now_secs();
    assert!((3500..=3600).contains(&left), "{left} s");
}

/// A federated user may call neither IAM nor STS, GetCallerIdentity aside.
#[tokio::test]
async fn a_federated_user_calls_no_iam_and_no_sts_but_get_caller_identity() {
    let user = issuer(&["*"]).await;
    let everything = allow(&["*"], &["*"]);
    let fed = federate(&user, &format!("limited-{}", short_id()), Some(&everything)).await;
    let iam = outcome(fed.iam().list_users().send().await);
    assert_eq!(iam, failed("InvalidClientTokenId", BAD_SESSION_TOKEN));
    let again = fed.sts().get_federation_token().name("again").send().await;
    let message = "Cannot call GetFederationToken with session credentials";
    assert_eq!(outcome(again), failed("AccessDenied", message));
    let session = fed.sts().get_session_token().send().await;
    let message = "Cannot call GetSessionToken with session credentials";
    assert_eq!(outcome(session), failed("AccessDenied", message));
    ok(fed.sts().get_caller_identity().send().await);
}

/// GetFederationToken needs `sts:GetFederationToken` (and `sts:TagSession` for tags) and
/// long-term credentials; its input is checked as AWS's model says.
#[tokio::test]
async fn get_federation_token_needs_permission_and_long_term_credentials() {
    let nobody = server().user("no-federation", None).await;
    let name = format!("n-{}", short_id());
    let out = nobody.sts().get_federation_token().name(&name).send().await;
    let expected = denied(
        &nobody.arn,
        "sts:GetFederationToken",
        Some(&federated_arn(&name)),
        Denial::NoIdentityPolicy,
    );
    assert_eq!(outcome(out), expected);

    let user = issuer(&["*"]).await;
    let tag = Tag::builder().key("team").value("blue").build().expect("tag");
    let out = user
        .sts()
        .get_federation_token()
        .name(&name)
        .tags(tag)
        .send()
        .await;
    let expected = denied(
        &user.arn,
        "sts:TagSession",
        Some(&federated_arn(&name)),
        Denial::NoIdentityPolicy,
    );
    assert_eq!(outcome(out), expected);

    let session = ok(user.sts().get_session_token().send().await);
    let session = TestCredentials::from(&session.credentials.expect("Credentials"));
    let out = server()
        .sts_client_as(&session)
        .get_federation_token()
        .name(&name)
        .send()
        .await;
    let message = "Cannot call GetFederationToken with session credentials";
    assert_eq!(outcome(out), failed("AccessDenied", message));
    let role = bare_role("fed-role").await;
    let role_session = server().assumer(&role).await.assume(&role, "s1").await;
    let out = role_session.sts().get_federation_token().name(&name).send().await;
    assert_eq!(outcome(out), failed("AccessDenied", message));

    let call = |name: &str, seconds: Option<i32>| {
        let req = user.sts().get_federation_token().name(name);
        req.set_duration_seconds(seconds).send()
    };
    assert_eq!(
        outcome(call("a", None).await),
        failed(
            "ValidationError",
            "1 validation error detected: Value 'a' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 2"
        )
    );
    assert_eq!(
        outcome(call("bad:name", None).await),
        failed(
            "ValidationError",
            r"1 validation error detected: Value 'bad:name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        )
    );
    assert_eq!(
        outcome(call("ok-name", Some(899)).await),
        failed(
            "ValidationError",
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )
    );
    let long = call(&name, Some(129_600)).await;
    let expiration = ok(long).credentials.expect("Credentials").expiration.secs();
    assert!((expiration - now_secs() - 129_600).abs() < 100);
}

/// DecodeAuthorizationMessage needs its permission, and answers
/// InvalidAuthorizationMessageException for a message kinko did not issue (kinko's denials carry
/// none: AWS's Secrets Manager, KMS, IAM and STS denials carry none).
#[tokio::test]
async fn decode_authorization_message_refuses_messages_kinko_did_not_issue() {
    let nobody = server().user("no-decode", None).await;
    let out = nobody
        .sts()
        .decode_authorization_message()
        .encoded_message("abc")
        .send()
        .await;
    let expected = denied(
        &nobody.arn,
        "sts:DecodeAuthorizationMessage",
        None,
        Denial::NoIdentityPolicy,
    );
    assert_eq!(outcome(out), expected);
    let decoder = server()
        .user(
            "decoder",
            Some(&allow(&["sts:DecodeAuthorizationMessage"], &["*"])),
        )
        .await;
    // An encoded message of AWS's (aws/aws-sdk-go#1536), and garbage.
    for message in [
        "0oaZLrVVIxb8lmPCpj7S11qdDzu_uNi_mBsUZwMj5aWOqnj1VzrfzlQTk1sFa3k",
        "not base64!",
    ] {
        let out = decoder
            .sts()
            .decode_authorization_message()
            .encoded_message(message)
            .send()
            .await;
        assert_eq!(
            outcome(out),
            failed(
                "InvalidAuthorizationMessageException",
                "The message passed to DecodeAuthorizationMessage is not valid."
            )
        );
    }
}
