//! BatchGetSecretValue authorizes each secret on its own, and doesn't tell denied callers which
//! secrets exist.

use aws_sdk_secretsmanager::types::ApiErrorType;
use kinko_tests::*;

use crate::*;

/// The error codes of a BatchGetSecretValue answer, in order.
fn codes(
    out: &aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueOutput,
) -> Vec<&str> {
    out.errors()
        .iter()
        .map(|e| e.error_code().unwrap_or_default())
        .collect()
}

/// The allowed secret is returned, the other reported with AWS's AccessDenied message; without
/// BatchGetSecretValue itself the whole call is denied.
#[tokio::test]
async fn batch_get_secret_value_checks_each_secret() {
    let server = server();
    let p = short_id();
    let open = secret(&format!("{p}/batch/open"), "open-value").await;
    let closed = secret(&format!("{p}/batch/closed"), "closed-value").await;
    let policy = policy_document(&[
        statement("Allow", &["secretsmanager:BatchGetSecretValue"], &["*"]),
        statement("Allow", &["secretsmanager:GetSecretValue"], &[&open]),
    ]);
    let user = server.user("batch", Some(&policy)).await;
    let req = user.sm().batch_get_secret_value().secret_id_list(&open);
    let out = ok(req.secret_id_list(&closed).send().await);
    let values: Vec<_> = out
        .secret_values()
        .iter()
        .map(|v| (v.arn.as_deref(), v.secret_string.as_deref()))
        .collect();
    assert_eq!(values, [(Some(open.as_str()), Some("open-value"))]);
    let error = |e: &ApiErrorType| (e.secret_id.clone(), e.error_code.clone(), e.message.clone());
    let errors: Vec<_> = out.errors().iter().map(error).collect();
    let message = no_identity_policy(&user.arn, "secretsmanager:GetSecretValue", Some(&closed));
    let expected = (
        Some(closed.clone()),
        Some("AccessDeniedException".to_owned()),
        Some(message),
    );
    assert_eq!(errors, [expected]);
    let reader = server
        .user(
            "no-batch",
            Some(&allow(&["secretsmanager:GetSecretValue"], &["*"])),
        )
        .await;
    let req = reader.sm().batch_get_secret_value();
    let whole = req.secret_id_list(&open).send().await;
    let action = "secretsmanager:BatchGetSecretValue";
    assert_eq!(
        outcome(whole),
        sm_denied(&reader.arn, action, None, Denial::NoIdentityPolicy)
    );
}

/// A caller without GetSecretValue can't learn which names exist: a missing secret is
/// AccessDenied for them too, and ResourceNotFound only for allowed callers.
#[tokio::test]
async fn batch_get_does_not_reveal_missing_secrets_to_denied_callers() {
    let server = server();
    let (existing, missing) = (unique_name("exists"), unique_name("missing"));
    secret(&existing, "v").await;
    let batch_only = allow(&["secretsmanager:BatchGetSecretValue"], &["*"]);
    let denied = server.user("batch", Some(&batch_only)).await;
    let req = denied.sm().batch_get_secret_value().secret_id_list(&existing);
    let out = ok(req.secret_id_list(&missing).send().await);
    assert_eq!(codes(&out), ["AccessDeniedException", "AccessDeniedException"]);
    let actions = [
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:GetSecretValue",
    ];
    let allowed = server.user("reader", Some(&allow(&actions, &["*"]))).await;
    let req = allowed.sm().batch_get_secret_value().secret_id_list(&existing);
    let out = ok(req.secret_id_list(&missing).send().await);
    assert_eq!(out.secret_values().len(), 1);
    assert_eq!(codes(&out), ["ResourceNotFoundException"]);
}
