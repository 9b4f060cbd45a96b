//! Users and roles deleted and created again under the same name: IAM binds principals by unique
//! id, so the new one inherits nothing of the old one's (IAM User Guide, "IAM identifiers", unique
//! identifiers; "AWS JSON policy elements: Principal", the note on re-created roles and users).
//! Sessions of the old role and the new one share an ARN, so neither may be mistaken for the
//! other whatever order they make requests in; trust policies are bound as they parse, whatever
//! JSON escapes spell the ARN, and condition values are never rewritten.

use kinko_tests::*;
use serde_json::json;

use crate::*;

/// A role `name` trusting the account and allowed `policy`, and a session `session` of it.
async fn role_and_session(name: &str, policy: &str, session: &str) -> Principal<'static> {
    let role = server().role(name, &trust_account(), Some(policy)).await;
    server().assumer(&role).await.assume(&role, session).await
}

/// Deletes the role `name` and its inline policy `inline`.
async fn delete_role(name: &str) {
    let iam = server().iam_client();
    let req = iam.delete_role_policy().role_name(name).policy_name("inline");
    ok(req.send().await);
    ok(iam.delete_role().role_name(name).send().await);
}

/// A session of a deleted role gets nothing once a role of the same name is created again, even
/// after a session of the new role with the same session name — the same ARN — made its requests.
#[tokio::test]
async fn old_session_gets_nothing_after_the_new_role_session_made_a_request() {
    let (_, name, arn) = scoped_secret("recreated-role", "v").await;
    let role_name = format!("recreated-{}", short_id());
    let old = role_and_session(&role_name, &read_policy(&arn), "same").await;
    assert_reads(&old, &name, "granted by the first role").await;
    delete_role(&role_name).await;
    let new = role_and_session(&role_name, &read_policy(&arn), "same").await;
    assert_eq!(new.arn, old.arn);
    assert_reads(&new, &name, "granted by the new role").await;
    assert_read_denied(&old, &name, Denial::NoIdentityPolicy).await;
    assert_reads(&new, &name, "still granted by the new role").await;
    assert_read_denied(&old, &name, Denial::NoIdentityPolicy).await;
}

/// The other order: the old session's refused requests don't lock the new role's session (same
/// ARN) out.
#[tokio::test]
async fn old_session_refused_first_does_not_lock_the_new_role_session_out() {
    let (_, name, arn) = scoped_secret("recreated-role-first", "v").await;
    let role_name = format!("recreated-{}", short_id());
    let old = role_and_session(&role_name, &read_policy(&arn), "same").await;
    assert_reads(&old, &name, "granted by the first role").await;
    delete_role(&role_name).await;
    assert_read_denied(&old, &name, Denial::NoIdentityPolicy).await;
    let new = role_and_session(&role_name, &read_policy(&arn), "same").await;
    assert_eq!(new.arn, old.arn);
    assert_read_denied(&old, &name, Denial::NoIdentityPolicy).await;
    assert_reads(&new, &name, "granted by the new role").await;
    assert_read_denied(&old, &name, Denial::NoIdentityPolicy).await;
}

/// Deletes the user `user` and its access key.
async fn delete_user(user: &Principal<'_>) {
    let iam = server().iam_client();
    let req = iam.delete_access_key().user_name(&user.name);
    ok(req.access_key_id(&user.access_key_id).send().await);
    ok(iam.delete_user().user_name(&user.name).send().await);
}

/// A trust policy naming a user through JSON escapes (`user\/bob`, `\u0061rn:`) names that user,
/// bound to its unique id when saved: it trusts the user, and not a user created again under the
/// same name.
#[tokio::test]
async fn escaped_principal_arns_in_trust_policies_are_bound_to_the_user() {
    let server = server();
    for spelling in ["slash", "unicode"] {
        let user_name = format!("escaped-{spelling}-{}", short_id());
        let first = server.user_named(&user_name, None).await;
        let escaped = match spelling {
            "slash" => format!(r"arn:aws:iam::{DEV_ACCOUNT}:user\/{user_name}"),
            _ => format!(r"\u0061rn:aws:iam::{DEV_ACCOUNT}:user/{user_name}"),
        };
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{escaped}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let role = server
            .role(&format!("escaped-{}", short_id()), &trust, None)
            .await;
        first.assume(&role, "original").await;
        delete_user(&first).await;
        let second = server.user_named(&user_name, None).await;
        assert_eq!(second.arn, first.arn);
        let Err(Failure { code, message }) = try_assume(&second, &role, "impostor").await else {
            panic!("{spelling}: a re-created user assumed the role");
        };
        assert_eq!(code, "AccessDenied", "{spelling}");
        let start = format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role}",
            second.arn
        );
        let message = message.unwrap_or_default();
        assert!(message.starts_with(&start), "{spelling}: {message}");
    }
}

/// A Deny whose Condition compares `aws:PrincipalArn` with a user's ARN keeps denying that user:
/// binding the principals a trust policy names touches only its `Principal`, never condition
/// values, and GetRole shows the condition with the ARN — after the user is re-created too, when
/// the Principal shows the old user's unique id.
#[tokio::test]
async fn a_condition_on_principal_arn_is_never_rewritten() {
    let (server, iam) = (server(), server().iam_client());
    let user_name = format!("conditioned-{}", short_id());
    let actions = ["sts:AssumeRole"];
    let first = server.user_named(&user_name, None).await;
    let trust = policy_document(&[
        json!({"Effect": "Allow", "Principal": {"AWS": [&first.arn, root()]}, "Action": actions}),
        json!({
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": actions,
            "Condition": {"StringEquals": {"aws:PrincipalArn": &first.arn}}
        }),
    ]);
    let role_name = format!("conditioned-{}", short_id());
    let role = server.role(&role_name, &trust, None).await;
    let why = Denial::ExplicitTrust;
    let out = try_assume(&first, &role, "denied").await;
    assert_eq!(out, denied(&first.arn, "sts:AssumeRole", Some(&role), why));
    let shown = |doc: Option<String>| -> serde_json::Value {
        let doc = doc.expect("AssumeRolePolicyDocument");
        let doc = percent_encoding::percent_decode_str(&doc)
            .decode_utf8()
            .expect("UTF-8");
        serde_json::from_str(&doc).expect("JSON")
    };
    let got = ok(iam.get_role().role_name(&role_name).send().await)
        .role
        .expect("Role");
    let doc = shown(got.assume_role_policy_document);
    assert_eq!(
        doc["Statement"][1]["Condition"]["StringEquals"]["aws:PrincipalArn"],
        json!(first.arn)
    );
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"][0], json!(first.arn));
    let old_id = ok(iam.get_user().user_name(&user_name).send().await)
        .user
        .expect("User")
        .user_id;
    delete_user(&first).await;
    let allowed = allow(&actions, &[&role]);
    let second = server.user_named(&user_name, Some(&allowed)).await;
    let out = try_assume(&second, &role, "denied").await;
    assert_eq!(out, denied(&second.arn, "sts:AssumeRole", Some(&role), why));
    let got = ok(iam.get_role().role_name(&role_name).send().await)
        .role
        .expect("Role");
    let doc = shown(got.assume_role_policy_document);
    assert_eq!(
        doc["Statement"][1]["Condition"]["StringEquals"]["aws:PrincipalArn"],
        json!(first.arn)
    );
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"][0], json!(old_id));
}
