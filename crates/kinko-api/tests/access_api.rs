//! What decided a denial ("why denied?") and who may read a secret (`Kinko.ListSecretReaders`),
//! through `kinko_api::call` over an in-memory SQLite store: an explicit deny by `Sid` in a
//! managed policy, an implicit deny, a permissions boundary, a resource policy deny and a key
//! policy deny; the readers of a secret by identity policies, groups, roles, boundaries, resource
//! and key policies, request-dependent conditions, and who may ask.

mod common;
use common::{enc, services};

use kinko_api::authz::{Decided, ImplicitDenyReason, Owner, PolicySource, Why};
use kinko_api::{CallInput, RequestContext, ServiceName, Services};
use kinko_core::principal::{Principal, PrincipalKind};
use kinko_wire::WireError;
use kinko_wire::query::Params;
use serde_json::{Value, json};

const ACCOUNT: &str = "111111111111";
const PARTNER: &str = "444455556666";

const READ_SECRETS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],"Resource":"*"}]}"#;
/// Allows, then denies MySecret by `Sid` in its second statement.
const NO_MY_SECRET: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"},{"Sid":"DenyMySecret","Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:MySecret-*"}]}"#;
const ONLY_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
const FROM_OFFICE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;

fn root() -> RequestContext {
    RequestContext::new(Principal::root(ACCOUNT), "us-east-1", "req-root")
}

fn user(name: &str, user_id: &str) -> RequestContext {
    let principal = Principal {
        account_id: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        kind: PrincipalKind::User {
            name: name.into(),
            user_id: user_id.into(),
        },
    };
    RequestContext::new(principal, "us-east-1", "req-user")
}

async fn json_call(
    s: &Services,
    rc: &RequestContext,
    service: ServiceName,
    op: &str,
    body: Value,
) -> Result<Value, WireError> {
    let body = body.to_string();
    let out = kinko_api::call(s, rc, Some(service), op, CallInput::Json(body.as_bytes())).await?;
    Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
}

async fn iam(s: &Services, action: &str, ps: &[(&str, &str)]) -> String {
    let mut body = format!("Action={action}&Version=2010-05-08");
    for (k, v) in ps {
        body.push_str(&format!("&{k}={}", enc(v)));
    }
    let params = Params::parse(body.as_bytes());
    let out = kinko_api::call(
        s,
        &root(),
        Some(ServiceName::Iam),
        action,
        CallInput::Query(&params),
    )
    .await
    .unwrap_or_else(|e| panic!("{action}: {e:?}"));
    String::from_utf8(out).expect("utf-8")
}

fn text<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).expect("element");
    let end = xml[start..].find(&format!("</{name}>")).expect("end") + start;
    &xml[start..end]
}

/// Creates user `name` and returns their request context.
async fn new_user(s: &Services, name: &str) -> RequestContext {
    let out = iam(s, "CreateUser", &[("UserName", name)]).await;
    user(name, text(&out, "UserId"))
}

async fn managed_policy(s: &Services, name: &str, doc: &str) -> String {
    let out = iam(
        s,
        "CreatePolicy",
        &[("PolicyName", name), ("PolicyDocument", doc)],
    )
    .await;
    text(&out, "Arn").to_owned()
}

/// What the evaluation explained for an AccessDenied answer of a call made with `rc`.
fn explained(rc: &RequestContext, e: &WireError) -> Why {
    assert!(e.code.starts_with("AccessDenied"), "{e:?}");
    rc.denials.explain(&e.message).expect("an explanation")
}

struct World {
    s: Services,
    my_secret: String,
    keyed_secret: String,
    key_arn: String,
    alice: RequestContext,
    bob: RequestContext,
    carol: RequestContext,
    dave: RequestContext,
    erin: RequestContext,
    frank: RequestContext,
    gina: RequestContext,
    keyless: RequestContext,
}

/// The account: MySecret (AWS managed key) and KeyedSecret (a customer managed key), and users
/// each denied or allowed one way.
async fn world() -> World {
    let s = services();
    let read = managed_policy(&s, "ReadSecrets", READ_SECRETS).await;
    let no_my_secret = managed_policy(&s, "NoMySecret", NO_MY_SECRET).await;
    let fence = managed_policy(&s, "Fence", ONLY_S3).await;

    let alice = new_user(&s, "alice").await;
    iam(
        &s,
        "AttachUserPolicy",
        &[("UserName", "alice"), ("PolicyArn", &read)],
    )
    .await;
    let bob = new_user(&s, "bob").await;
    iam(
        &s,
        "AttachUserPolicy",
        &[("UserName", "bob"), ("PolicyArn", &no_my_secret)],
    )
    .await;
    let carol = new_user(&s, "carol").await;
    let dave = new_user(&s, "dave").await;
    iam(
        &s,
        "AttachUserPolicy",
        &[("UserName", "dave"), ("PolicyArn", &read)],
    )
    .await;
    iam(
        &s,
        "PutUserPermissionsBoundary",
        &[("UserName", "dave"), ("PermissionsBoundary", &fence)],
    )
    .await;
    let erin = new_user(&s, "erin").await;
    iam(
        &s,
        "AttachUserPolicy",
        &[("UserName", "erin"), ("PolicyArn", &read)],
    )
    .await;
    let frank = new_user(&s, "frank").await;
    iam(
        &s,
        "PutUserPolicy",
        &[
            ("UserName", "frank"),
            ("PolicyName", "FromOffice"),
            ("PolicyDocument", FROM_OFFICE),
        ],
    )
    .await;
    // gina reads through a group's inline policy.
    let gina = new_user(&s, "gina").await;
    iam(&s, "CreateGroup", &[("GroupName", "readers")]).await;
    iam(
        &s,
        "PutGroupPolicy",
        &[
            ("GroupName", "readers"),
            ("PolicyName", "Read"),
            ("PolicyDocument", READ_SECRETS),
        ],
    )
    .await;
    iam(
        &s,
        "AddUserToGroup",
        &[("GroupName", "readers"), ("UserName", "gina")],
    )
    .await;
    let keyless = new_user(&s, "keyless").await;
    iam(
        &s,
        "AttachUserPolicy",
        &[("UserName", "keyless"), ("PolicyArn", &read)],
    )
    .await;
    iam(
        &s,
        "CreateRole",
        &[("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    iam(
        &s,
        "AttachRolePolicy",
        &[("RoleName", "app"), ("PolicyArn", &read)],
    )
    .await;

    let key_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "EnableIam", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")}, "Action": "kms:Decrypt", "Resource": "*"},
        {"Sid": "NoDecryptForKeyless", "Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/keyless")}, "Action": "kms:Decrypt", "Resource": "*"}
    ]});
    let key = json_call(
        &s,
        &root(),
        ServiceName::Kms,
        "CreateKey",
        json!({"Policy": key_policy.to_string()}),
    )
    .await
    .expect("CreateKey");
    let key_arn = key["KeyMetadata"]["Arn"].as_str().expect("key ARN").to_owned();

    let my_secret = json_call(
        &s,
        &root(),
        ServiceName::SecretsManager,
        "CreateSecret",
        json!({"Name": "MySecret", "SecretString": "s3cr3t", "ClientRequestToken": "00000000-0000-0000-0000-000000000001"}),
    )
    .await
    .expect("CreateSecret")["ARN"]
        .as_str()
        .expect("ARN")
        .to_owned();
    let no_erin = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoErin", "Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/erin")}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    ]});
    json_call(
        &s,
        &root(),
        ServiceName::SecretsManager,
        "PutResourcePolicy",
        json!({"SecretId": "MySecret", "ResourcePolicy": no_erin.to_string()}),
    )
    .await
    .expect("PutResourcePolicy");

    let keyed_secret = json_call(
        &s,
        &root(),
        ServiceName::SecretsManager,
        "CreateSecret",
        json!({"Name": "KeyedSecret", "SecretString": "k3y3d", "KmsKeyId": key_arn, "ClientRequestToken": "00000000-0000-0000-0000-000000000002"}),
    )
    .await
    .expect("CreateSecret under the key")["ARN"]
        .as_str()
        .expect("ARN")
        .to_owned();
    let partner = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    ]});
    json_call(
        &s,
        &root(),
        ServiceName::SecretsManager,
        "PutResourcePolicy",
        json!({"SecretId": "KeyedSecret", "ResourcePolicy": partner.to_string()}),
    )
    .await
    .expect("PutResourcePolicy");

    World {
        s,
        my_secret,
        keyed_secret,
        key_arn,
        alice,
        bob,
        carol,
        dave,
        erin,
        frank,
        gina,
        keyless,
    }
}

async fn get_value(w: &World, rc: &RequestContext, secret: &str) -> Result<Value, WireError> {
    json_call(
        &w.s,
        rc,
        ServiceName::SecretsManager,
        "GetSecretValue",
        json!({"SecretId": secret}),
    )
    .await
}

async fn denied(w: &World, rc: &RequestContext, secret: &str) -> WireError {
    match get_value(w, rc, secret).await {
        Ok(v) => panic!("allowed: {v}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn explanations_name_the_deciding_policy_without_changing_the_answer() {
    let w = world().await;
    assert!(get_value(&w, &w.alice, "MySecret").await.is_ok());
    assert!(w.alice.denials.explain("anything").is_none(), "nothing denied");

    // An explicit deny by Sid in a managed policy: the answer is AWS's text, nothing more.
    let e = denied(&w, &w.bob, "MySecret").await;
    assert_eq!(
        (e.code, e.status, e.message.as_str()),
        (
            "AccessDeniedException",
            400,
            "User: arn:aws:iam::111111111111:user/bob is not authorized to perform: secretsmanager:GetSecretValue on resource: MySecret with an explicit deny in an identity-based policy"
        )
    );
    let why = explained(&w.bob, &e);
    assert_eq!(why.action, "secretsmanager:GetSecretValue");
    assert_eq!(why.resource.as_deref(), Some("MySecret"));
    assert_eq!(
        why.decided,
        Decided::ExplicitDeny {
            policy: PolicySource::Managed {
                arn: format!("arn:aws:iam::{ACCOUNT}:policy/NoMySecret"),
                via_group: None,
            },
            statement_index: 1,
            sid: Some("DenyMySecret".into()),
        }
    );

    // No policy at all: an implicit deny for want of an identity-based allow.
    let e = denied(&w, &w.carol, "MySecret").await;
    assert!(
        e.message
            .ends_with("because no identity-based policy allows the secretsmanager:GetSecretValue action"),
        "{}",
        e.message
    );
    assert_eq!(
        explained(&w.carol, &e).decided,
        Decided::ImplicitDeny {
            missing: ImplicitDenyReason::NoIdentityPolicy,
            policy: None,
        }
    );

    // Allowed only from 10.0.0.0/8, and this request has no source address: no allow applies.
    let e = denied(&w, &w.frank, "MySecret").await;
    assert_eq!(
        explained(&w.frank, &e).decided,
        Decided::ImplicitDeny {
            missing: ImplicitDenyReason::NoIdentityPolicy,
            policy: None,
        }
    );

    // The permissions boundary lacks the allow.
    let e = denied(&w, &w.dave, "MySecret").await;
    assert_eq!(
        explained(&w.dave, &e).decided,
        Decided::ImplicitDeny {
            missing: ImplicitDenyReason::NoPermissionsBoundary,
            policy: Some(PolicySource::PermissionsBoundary {
                arn: format!("arn:aws:iam::{ACCOUNT}:policy/Fence"),
            }),
        }
    );

    // The secret's resource policy denies by Sid.
    let e = denied(&w, &w.erin, "MySecret").await;
    assert!(
        e.message
            .ends_with("with an explicit deny in a resource-based policy"),
        "{}",
        e.message
    );
    assert_eq!(
        explained(&w.erin, &e).decided,
        Decided::ExplicitDeny {
            policy: PolicySource::ResourcePolicy,
            statement_index: 0,
            sid: Some("NoErin".into()),
        }
    );

    // The key policy denies the Decrypt Secrets Manager makes for the caller: Secrets Manager's
    // own text on the wire, the key policy's statement in the explanation.
    let e = denied(&w, &w.keyless, "KeyedSecret").await;
    assert_eq!(e.message, "Access to KMS is not allowed");
    let why = explained(&w.keyless, &e);
    assert_eq!(why.action, "kms:Decrypt");
    assert_eq!(why.resource.as_deref(), Some(w.key_arn.as_str()));
    assert_eq!(
        why.decided,
        Decided::ExplicitDeny {
            policy: PolicySource::KeyPolicy,
            statement_index: 2,
            sid: Some("NoDecryptForKeyless".into()),
        }
    );
}

#[tokio::test]
async fn a_group_inline_policy_is_named_with_its_group() {
    let w = world().await;
    iam(
        &w.s,
        "PutGroupPolicy",
        &[
            ("GroupName", "readers"),
            ("PolicyName", "NotMine"),
            (
                "PolicyDocument",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
            ),
        ],
    )
    .await;
    let e = denied(&w, &w.gina, "MySecret").await;
    assert_eq!(
        explained(&w.gina, &e).decided,
        Decided::ExplicitDeny {
            policy: PolicySource::Inline {
                owner: Owner::Group("readers".into()),
                policy_name: "NotMine".into(),
            },
            statement_index: 0,
            sid: None,
        }
    );
}

async fn readers(w: &World, rc: &RequestContext, secret: &str) -> Result<Value, WireError> {
    json_call(
        &w.s,
        rc,
        ServiceName::Kinko,
        "ListSecretReaders",
        json!({"SecretId": secret}),
    )
    .await
}

/// (ARN, access) of each reader listed.
fn listed(out: &Value) -> Vec<(String, String)> {
    out["Principals"]
        .as_array()
        .expect("Principals")
        .iter()
        .map(|p| {
            (
                p["Arn"].as_str().unwrap_or_default().to_owned(),
                p["Access"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

#[tokio::test]
async fn readers_are_who_the_evaluator_allows() {
    let w = world().await;
    let out = readers(&w, &root(), "MySecret").await.expect("root may ask");
    assert_eq!(out["ARN"], w.my_secret.as_str());
    let got = listed(&out);
    let expected: Vec<(String, String)> = vec![
        (arn("alice"), "Allowed".into()),
        // Allowed only from 10.0.0.0/8: the answer depends on the request.
        (arn("frank"), "Conditional".into()),
        (arn("gina"), "Allowed".into()),
        // MySecret is under the AWS managed key: keyless's key policy deny doesn't apply.
        (arn("keyless"), "Allowed".into()),
        (format!("arn:aws:iam::{ACCOUNT}:role/app"), "Allowed".into()),
    ];
    assert_eq!(
        got, expected,
        "bob (deny by Sid), carol (nothing), dave (boundary), erin (resource policy) are not listed"
    );
    assert_eq!(out["PrincipalCount"], 9);
    assert_eq!(out["EvaluatedCount"], 9);
    assert_eq!(out["OtherAccounts"], json!([]));
}

#[tokio::test]
async fn a_customer_managed_key_and_other_accounts_count() {
    let w = world().await;
    let out = readers(&w, &root(), "KeyedSecret").await.expect("root may ask");
    assert_eq!(out["ARN"], w.keyed_secret.as_str());
    let got: Vec<String> = listed(&out).into_iter().map(|(a, _)| a).collect();
    assert!(got.contains(&arn("alice")), "{got:?}");
    assert!(
        !got.contains(&arn("keyless")),
        "the key policy denies keyless: {got:?}"
    );
    assert_eq!(
        out["OtherAccounts"],
        json!([{"Principal": PARTNER, "AccountId": PARTNER, "Access": "Allowed"}])
    );
}

#[tokio::test]
async fn only_who_may_read_every_policy_may_ask() {
    let w = world().await;
    let e = readers(&w, &w.alice, "MySecret")
        .await
        .expect_err("alice may not read IAM");
    assert_eq!(e.code, "AccessDeniedException");
    assert!(
        e.message.contains("iam:GetAccountAuthorizationDetails"),
        "{}",
        e.message
    );
    let inspector = managed_policy(
        &w.s,
        "Inspector",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetAccountAuthorizationDetails","secretsmanager:GetResourcePolicy","kms:GetKeyPolicy"],"Resource":"*"}]}"#,
    )
    .await;
    iam(
        &w.s,
        "AttachUserPolicy",
        &[("UserName", "carol"), ("PolicyArn", &inspector)],
    )
    .await;
    assert!(readers(&w, &w.carol, "KeyedSecret").await.is_ok());
    let e = readers(&w, &w.carol, "NoSuchSecret").await.expect_err("missing");
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = readers(&w, &root(), "").await.expect_err("empty id");
    assert_eq!(e.code, "ValidationException");
}

/// DecodeAuthorizationMessage through the one STS entry point: a message in the format kinko
/// would issue, sealed for the denied principal's account, decodes to AWS's shape for a caller of
/// that account allowed to decode it, and for nobody else.
#[tokio::test]
async fn an_encoded_authorization_message_decodes_only_in_its_account() {
    use kinko_api::sts::authorization_message;
    let w = world().await;
    let e = denied(&w, &w.bob, "MySecret").await;
    let why = explained(&w.bob, &e);
    let encoded = authorization_message::encode(&w.s, &w.bob.principal, &why).expect("encoded");
    let decode = |rc: RequestContext, message: String| {
        let s = &w.s;
        async move {
            let body = format!(
                "Action=DecodeAuthorizationMessage&Version=2011-06-15&EncodedMessage={}",
                enc(&message)
            );
            let params = Params::parse(body.as_bytes());
            kinko_api::call(
                s,
                &rc,
                Some(ServiceName::Sts),
                "DecodeAuthorizationMessage",
                CallInput::Query(&params),
            )
            .await
            .map(|out| String::from_utf8(out).expect("utf-8"))
        }
    };
    let out = decode(root(), encoded.clone()).await.expect("decoded");
    let decoded: Value =
        serde_json::from_str(&text(&out, "DecodedMessage").replace("&quot;", "\"")).expect("JSON");
    assert_eq!(decoded, authorization_message::decoded(&w.bob.principal, &why));
    assert_eq!(decoded["explicitDeny"], true);
    assert_eq!(
        decoded["matchedStatements"]["items"][0]["statementId"],
        "DenyMySecret"
    );
    assert_eq!(decoded["context"]["action"], "secretsmanager:GetSecretValue");

    let invalid = |r: Result<String, WireError>| {
        let e = r.expect_err("refused");
        (e.code, e.status, e.message)
    };
    let expected = (
        "InvalidAuthorizationMessageException",
        400,
        authorization_message::INVALID_MESSAGE.to_owned(),
    );
    // Another account's caller.
    let partner = RequestContext::new(Principal::root(PARTNER), "us-east-1", "req-partner");
    assert_eq!(invalid(decode(partner, encoded.clone()).await), expected);
    // One character changed.
    let mut altered = encoded.clone().into_bytes();
    let i = altered.len() / 2;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("utf-8");
    assert_eq!(invalid(decode(root(), altered).await), expected);
    // A caller of the account without the permission.
    let e = decode(w.bob.clone(), encoded).await.expect_err("denied");
    assert_eq!(e.code, "AccessDenied");
}
