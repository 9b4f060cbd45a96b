//! Access keys: deactivated, reactivated, deleted, or used with the wrong secret.

use aws_sdk_iam::types::StatusType;
use kinko_tests::*;

use crate::*;

/// Sets the status of `user`'s access key.
async fn set_status(user: &Principal<'_>, status: StatusType) {
    let req = server().iam_client().update_access_key().user_name(&user.name);
    ok(req.access_key_id(&user.access_key_id).status(status).send().await);
}

#[tokio::test]
async fn inactive_access_key_is_refused_until_reactivated() {
    let name = format!("{}/key-status", short_id());
    let arn = secret(&name, "v").await;
    let user = server().user("keyed", Some(&read_policy(&arn))).await;
    assert_reads(&user, &name, "active key works").await;
    set_status(&user, StatusType::Inactive).await;
    assert_eq!(
        read(&user, &name).await,
        failed("UnrecognizedClientException", UNKNOWN_ACCESS_KEY)
    );
    let who = outcome(user.sts().get_caller_identity().send().await);
    assert_eq!(who, failed("InvalidClientTokenId", UNKNOWN_ACCESS_KEY));
    let req = server().iam_client().list_access_keys();
    let keys = req.user_name(&user.name).send().await;
    let keys = ok(keys).access_key_metadata;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].status, Some(StatusType::Inactive));
    set_status(&user, StatusType::Active).await;
    assert_reads(&user, &name, "reactivated key works again").await;
    ok(user.sts().get_caller_identity().send().await);
}

#[tokio::test]
async fn deleted_access_key_is_refused() {
    let iam = server().iam_client();
    let name = format!("{}/key-deleted", short_id());
    let arn = secret(&name, "v").await;
    let user = server().user("deleted-key", Some(&read_policy(&arn))).await;
    assert_reads(&user, &name, "key works").await;
    let req = iam.delete_access_key().user_name(&user.name);
    ok(req.access_key_id(&user.access_key_id).send().await);
    assert_eq!(
        read(&user, &name).await,
        failed("UnrecognizedClientException", UNKNOWN_ACCESS_KEY)
    );
    let invalid = failed("InvalidClientTokenId", UNKNOWN_ACCESS_KEY);
    assert_eq!(outcome(user.sts().get_caller_identity().send().await), invalid);
    assert_eq!(outcome(user.iam().get_user().send().await), invalid);
    let keys = ok(iam.list_access_keys().user_name(&user.name).send().await).access_key_metadata;
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn wrong_secret_key_is_a_signature_mismatch() {
    let server = server();
    let user = server.user("sig", None).await;
    let wrong = TestCredentials::long_term(&user.access_key_id, &"x".repeat(40));
    let list = server.client_as(&wrong).list_secrets().send().await;
    assert_eq!(error_code(list), "InvalidSignatureException");
    let who = server.sts_client_as(&wrong).get_caller_identity().send().await;
    assert_eq!(error_code(who), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn access_key_last_used_shows_the_service_and_region_it_signed_for() {
    let iam = server().iam_client();
    let name = format!("{}/key-last-used", short_id());
    let arn = secret(&name, "v").await;
    let user = server().user("last-used", Some(&read_policy(&arn))).await;
    let last = |id: String| iam.get_access_key_last_used().access_key_id(id).send();

    // Never used: `N/A` and no date, with the key's user.
    let never = ok(last(user.access_key_id.clone()).await);
    assert_eq!(never.user_name.as_deref(), Some(user.name.as_str()));
    let used = never.access_key_last_used.expect("AccessKeyLastUsed");
    assert_eq!((used.service_name.as_str(), used.region.as_str()), ("N/A", "N/A"));
    assert_eq!(used.last_used_date, None);

    let before = std::time::SystemTime::now();
    // Allowed or not, the request was signed with the key: it counts.
    let other = server().client_in("eu-west-1", &user.creds);
    let _refused = other.list_secrets().send().await;
    let used = ok(last(user.access_key_id.clone()).await)
        .access_key_last_used
        .expect("AccessKeyLastUsed");
    assert_eq!(
        (used.service_name.as_str(), used.region.as_str()),
        ("secretsmanager", "eu-west-1")
    );
    let date = used.last_used_date.expect("LastUsedDate");
    // To the minute, as IAM reports it.
    assert_eq!(date.secs() % 60, 0, "{date}");
    assert_eq!(date.subsec_nanos(), 0, "{date}");
    let before = aws_smithy_types::DateTime::from(before);
    assert!(
        date.secs() > before.secs() - 60 && date.secs() <= before.secs() + 60,
        "{date}"
    );

    // The latest use wins.
    ok(user.sts().get_caller_identity().send().await);
    let used = ok(last(user.access_key_id.clone()).await)
        .access_key_last_used
        .expect("AccessKeyLastUsed");
    assert_eq!(
        (used.service_name.as_str(), used.region.as_str()),
        ("sts", REGION)
    );
}

#[tokio::test]
async fn access_key_last_used_of_an_unknown_key_is_not_found() {
    let got = server()
        .iam_client()
        .get_access_key_last_used()
        .access_key_id("AKIAUNKNOWNKEY000000")
        .send()
        .await;
    assert_eq!(
        outcome(got),
        failed(
            "NoSuchEntity",
            "The Access Key with id AKIAUNKNOWNKEY000000 cannot be found."
        )
    );
}
