//! Temporary credentials: expiry, session tokens, AssumeRole durations and role chaining,
//! GetSessionToken's defaults and limits.

use std::time::Duration;

use aws_sdk_sts::types::Credentials;
use kinko_tests::*;
use serde_json::json;

use crate::*;

const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

/// Credentials from GetSessionToken as `caller`, for `seconds` when given.
async fn session_token(caller: &Principal<'_>, seconds: Option<i32>) -> Credentials {
    let req = caller.sts().get_session_token();
    let out = req.set_duration_seconds(seconds).send().await;
    ok(out).credentials.expect("Credentials")
}

/// Session credentials (GetSessionToken, AssumeRole) work until they expire, then every service
/// says so; the user's long-term key is unaffected.
#[tokio::test]
async fn session_credentials_expire() {
    let (server, manual) = TestServer::start_manual().await;
    let name = "expiring/secret";
    let (arn, _) = server.client().create_string(name, "v").await;
    let trust = trust_policy(&[&root_arn(server.account_id())]);
    let role = server.role("short-lived", &trust, Some(&read_policy(&arn))).await;
    let policy = policy_document(&[
        json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arn}),
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}),
    ]);
    let user = server.user_named("temporary", Some(&policy)).await;
    let issued_at = kinko_core::Clock::now(&*manual).millis();
    let token = session_token(&user, Some(900)).await;
    let expiration = token.expiration.secs() * 1000 + i64::from(token.expiration.subsec_nanos() / 1_000_000);
    let off = (expiration - (issued_at + 900_000)).abs();
    assert!(
        off < 2_000,
        "expiration {expiration} vs issued {issued_at} + 900 s"
    );
    assert!(token.access_key_id.starts_with("ASIA"), "{}", token.access_key_id);
    let session = TestCredentials::from(&token);
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("short");
    let role_creds = ok(req.duration_seconds(900).send().await)
        .credentials
        .expect("Credentials");
    let role_session = TestCredentials::from(&role_creds);
    // The GetSessionToken session acts as the user.
    let who = ok(server.sts_client_as(&session).get_caller_identity().send().await);
    assert_eq!(who.arn.as_deref(), Some(user.arn.as_str()));
    let read_as = |c: &TestCredentials| server.client_as(c).get_secret_value().secret_id(name).send();
    for c in [&session, &role_session] {
        ok(read_as(c).await);
    }
    manual.advance(Duration::from_secs(14 * 60));
    for c in [&session, &role_session] {
        read_as(c).await.expect("still valid after 14 minutes");
    }
    manual.advance(Duration::from_secs(2 * 60));
    for c in [&session, &role_session] {
        assert_eq!(
            outcome(read_as(c).await),
            failed("ExpiredTokenException", EXPIRED_TOKEN)
        );
        let who = server.sts_client_as(c).get_caller_identity().send().await;
        assert_eq!(outcome(who), failed("ExpiredToken", EXPIRED_TOKEN));
    }
    assert_eq!(read(&user, name).await, Ok(()), "long-term key still works");
    server.shutdown().await;
}

/// A session's key needs its own token: none, another session's, or garbage is refused; session
/// credentials can't get another session token.
#[tokio::test]
async fn session_credentials_need_their_own_token() {
    let server = server();
    let user = server
        .user("tokens", Some(&allow(&["secretsmanager:ListSecrets"], &["*"])))
        .await;
    let a = TestCredentials::from(&session_token(&user, None).await);
    let b = TestCredentials::from(&session_token(&user, None).await);
    ok(server.client_as(&a).list_secrets().send().await);
    let without_token = TestCredentials::long_term(&a.access_key_id, &a.secret_access_key);
    let list = |c: &TestCredentials| server.client_as(c).list_secrets().send();
    let unknown = failed("UnrecognizedClientException", UNKNOWN_ACCESS_KEY);
    assert_eq!(outcome(list(&without_token).await), unknown);
    let req = server.sts_client_as(&without_token);
    let who = req.get_caller_identity().send().await;
    assert_eq!(outcome(who), failed("InvalidClientTokenId", UNKNOWN_ACCESS_KEY));
    let invalid_json = failed("UnrecognizedClientException", BAD_SESSION_TOKEN);
    let swapped = TestCredentials {
        session_token: b.session_token.clone(),
        ..a.clone()
    };
    assert_eq!(outcome(list(&swapped).await), invalid_json);
    let mut garbled = a.clone();
    garbled.session_token = Some("not-a-session-token".into());
    assert_eq!(outcome(list(&garbled).await), invalid_json);
    let who = server.sts_client_as(&garbled).get_caller_identity().send().await;
    assert_eq!(outcome(who), failed("InvalidClientTokenId", BAD_SESSION_TOKEN));
    let again = server.sts_client_as(&a).get_session_token().send().await;
    let message = "Cannot call GetSessionToken with session credentials";
    assert_eq!(outcome(again), failed("AccessDenied", message));
}

/// DurationSeconds: 900 to 43200, within the role's MaxSessionDuration (one hour by default).
#[tokio::test]
async fn assume_role_duration_is_capped_by_max_session_duration() {
    let (server, iam) = (server(), server().iam_client());
    let role_name = format!("durations-{}", short_id());
    let role = server.role(&role_name, &trust_account(), None).await;
    let user = server.assumer(&role).await;
    let attempt = |seconds: i32| {
        let req = user.sts().assume_role().role_arn(&role).role_session_name("long");
        req.duration_seconds(seconds).send()
    };
    let exceeds = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";
    let exceeds = failed("ValidationError", exceeds);
    assert_eq!(outcome(attempt(7200).await), exceeds);
    let short = failed("ValidationError", &model_min_value("durationSeconds", 899, 900));
    assert_eq!(outcome(attempt(899).await), short);
    let long = failed(
        "ValidationError",
        &model_max_value("durationSeconds", 43201, 43200),
    );
    assert_eq!(outcome(attempt(43201).await), long);
    attempt(3600)
        .await
        .expect("the default MaxSessionDuration is one hour");
    let update = iam.update_role().role_name(&role_name).max_session_duration(7200);
    ok(update.send().await);
    let before = now_secs();
    let out = attempt(7200).await.expect("AssumeRole for two hours");
    let expiration = out.credentials.expect("Credentials").expiration.secs();
    let window = before + 7200 - 5..=now_secs() + 7200 + 5;
    assert!(
        window.contains(&expiration),
        "expiration {expiration}, requested at {before}"
    );
    assert_eq!(outcome(attempt(7201).await), exceeds);
}

#[tokio::test]
async fn role_chaining_is_limited_to_one_hour() {
    let (server, iam) = (server(), server().iam_client());
    let p = short_id();
    let second_name = format!("chained-second-{p}");
    let second = format!("arn:aws:iam::{DEV_ACCOUNT}:role/{second_name}");
    let hop = allow(&["sts:AssumeRole"], &[&second]);
    let first = server
        .role(&format!("chained-first-{p}"), &trust_account(), Some(&hop))
        .await;
    server.role(&second_name, &trust_account(), None).await;
    let req = iam.update_role().role_name(&second_name);
    ok(req.max_session_duration(7200).send().await);
    let first_session = server.assumer(&first).await.assume(&first, "hop-one").await;
    let chained = |seconds: i32| {
        let req = first_session.sts().assume_role().role_arn(&second);
        req.role_session_name("hop-two").duration_seconds(seconds).send()
    };
    let message =
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.";
    assert_eq!(outcome(chained(7200).await), failed("ValidationError", message));
    let out = chained(3600).await.expect("chained AssumeRole for one hour");
    let assumed = out.assumed_role_user.expect("AssumedRoleUser").arn;
    assert_eq!(assumed, session_arn(DEV_ACCOUNT, &second_name, "hop-two"));
}

/// GetSessionToken credentials can't call IAM (no MFA); STS GetCallerIdentity stays available.
#[tokio::test]
async fn get_session_token_credentials_cannot_call_iam_without_mfa() {
    let server = server();
    let user = server.user("no-mfa", Some(&allow(&["iam:*"], &["*"]))).await;
    ok(user.iam().list_users().send().await);
    let session = TestCredentials::from(&session_token(&user, None).await);
    let list = server.iam_client_as(&session).list_users().send().await;
    assert_eq!(outcome(list), failed("InvalidClientTokenId", BAD_SESSION_TOKEN));
    let who = ok(server.sts_client_as(&session).get_caller_identity().send().await);
    assert_eq!(who.arn.as_deref(), Some(user.arn.as_str()));
}

/// Seconds from now until the credentials expire.
fn seconds_left(c: &Credentials) -> i64 {
    c.expiration.secs() - now_secs()
}

/// A user's session lasts 12 hours by default, root's 1 hour (and no more), a role session 1
/// hour.
#[tokio::test]
async fn temporary_credential_default_and_capped_durations() {
    let server = server();
    let role = server
        .role(
            &format!("default-duration-{}", short_id()),
            &trust_account(),
            None,
        )
        .await;
    let user = server.assumer(&role).await;
    let near = |left: i64, want: i64| (want - 10..=want).contains(&left);
    let left = seconds_left(&session_token(&user, None).await);
    assert!(
        near(left, 43_200),
        "a user's session lasts 12 hours by default, got {left} s"
    );
    let root = server.root();
    let left = seconds_left(&session_token(&root, None).await);
    assert!(
        near(left, 3_600),
        "a root session lasts 1 hour by default, got {left} s"
    );
    let left = seconds_left(&session_token(&root, Some(7_200)).await);
    assert!(
        near(left, 3_600),
        "a root session is capped at 1 hour, got {left} s"
    );
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("default");
    let creds = ok(req.send().await).credentials.expect("Credentials");
    let left = seconds_left(&creds);
    assert!(
        near(left, 3_600),
        "a role session lasts 1 hour by default, got {left} s"
    );
}

/// GetAccessKeyInfo names the account of a long-term key kinko keeps, of temporary credentials it
/// issued, and of any other key id as AWS's key id layout encodes it; it needs
/// sts:GetAccessKeyInfo, and the key id must be one by AWS's constraints.
#[tokio::test]
async fn access_key_info() {
    let server = server();
    let policy =
        policy_document(&[json!({"Effect": "Allow", "Action": "sts:GetAccessKeyInfo", "Resource": "*"})]);
    let user = server.user_named("key-info", Some(&policy)).await;
    let account_of = |id: String| {
        let sts = user.sts();
        async move { ok(sts.get_access_key_info().access_key_id(id).send().await).account }
    };
    assert_eq!(
        account_of(user.access_key_id.clone()).await.as_deref(),
        Some(DEV_ACCOUNT)
    );
    let token = session_token(&user, Some(900)).await;
    assert_eq!(
        account_of(token.access_key_id.clone()).await.as_deref(),
        Some(DEV_ACCOUNT)
    );
    // AWS's documented example key id: the account its layout encodes.
    let example = account_of("AKIAIOSFODNN7EXAMPLE".into()).await;
    assert_eq!(example.as_deref(), Some("581039954779"));

    let short = user
        .sts()
        .get_access_key_info()
        .access_key_id("AKIA")
        .send()
        .await;
    assert_eq!(
        outcome(short),
        failed(
            "ValidationError",
            "1 validation error detected: Value 'AKIA' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16"
        )
    );
    let other = server.user_named("key-info-none", None).await;
    let denied = other
        .sts()
        .get_access_key_info()
        .access_key_id(&user.access_key_id)
        .send()
        .await;
    assert_eq!(
        outcome(denied),
        failed(
            "AccessDenied",
            &format!(
                "User: {} is not authorized to perform: sts:GetAccessKeyInfo because no identity-based policy allows the sts:GetAccessKeyInfo action",
                other.arn
            )
        )
    );
}
