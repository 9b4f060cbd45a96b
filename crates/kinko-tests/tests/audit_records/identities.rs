//! `userIdentity` in CloudTrail's shape for each kind of caller: the root user (`Root`), an IAM
//! user (`IAMUser`, with its own session's `sessionContext` when it signs with GetSessionToken
//! credentials), a role session (`AssumedRole`, its `sessionIssuer` the role with its path), the
//! federated user (`FederatedUser`, its `sessionIssuer` the IAM user that called
//! GetFederationToken), the caller of another account as the resource's account records it
//! (`AWSAccount`, the two records sharing a `sharedEventID`), the holder of a web identity
//! token (`WebIdentityUser`) and the subject of a SAML assertion (`SAMLUser`).

use kinko_tests::oidc::Key;
use serde_json::{Value, json};

use kinko_tests::*;

use crate::request_id;

/// The record of the call `request_id` made for `account` (its `recipientAccountId`).
#[track_caller]
fn record_for<'a>(log: &'a AuditLog, request_id: &str, account: &str) -> &'a Value {
    let found: Vec<&Value> = log
        .of_request(request_id)
        .into_iter()
        .filter(|r| r["recipientAccountId"] == account && r["eventSource"] != "kms.amazonaws.com")
        .collect();
    assert_eq!(found.len(), 1, "records of {request_id} for {account}: {found:?}");
    found[0]
}

/// `sessionContext.attributes.creationDate`: whole seconds, UTC, within a minute of `now`.
#[track_caller]
fn assert_creation_date(identity: &Value, now: i64) -> Value {
    let date = identity["sessionContext"]["attributes"]["creationDate"]
        .as_str()
        .unwrap_or_else(|| panic!("creationDate in {identity}"));
    let parsed = time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{date}: {e}"));
    assert!(date.ends_with('Z') && !date.contains('.'), "{date}");
    assert!((parsed.unix_timestamp() - now).abs() < 60, "{date} is not now");
    json!(date)
}

#[tokio::test]
async fn each_kind_of_caller_is_recorded_in_cloudtrail_shape() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let now = server.now_secs();
    let iam = server.iam_client();

    // Root.
    let root_id = request_id!(ok(server.client().list_secrets().send().await));

    // An IAM user, with its long-term key and with a session of its own.
    let user = server
        .user("audit-who", Some(&allow(&["secretsmanager:ListSecrets"], &["*"])))
        .await;
    let user_id = ok(iam.get_user().user_name(&user.name).send().await)
        .user
        .expect("User")
        .user_id;
    let user_call = request_id!(ok(user.sm().list_secrets().send().await));
    let session = ok(user.sts().get_session_token().send().await);
    let session = TestCredentials::from(session.credentials.as_ref().expect("Credentials"));
    let session_call = request_id!(ok(server.client_as(&session).list_secrets().send().await));

    // A role with a path, and a session of it.
    let role_name = format!("audit-role-{}", short_id());
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": root_arn(DEV_ACCOUNT)},
        "Action": "sts:AssumeRole",
    })]);
    let role = ok(iam
        .create_role()
        .role_name(&role_name)
        .path("/audit/team/")
        .assume_role_policy_document(trust)
        .send()
        .await)
    .role
    .expect("Role");
    let policy = allow(&["secretsmanager:ListSecrets"], &["*"]);
    ok(iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name("inline")
        .policy_document(policy)
        .send()
        .await);
    let assumer = server.assumer(&role.arn).await;
    let role_session = assumer.assume(&role.arn, "who-session").await;
    let role_call = request_id!(ok(role_session.sm().list_secrets().send().await));

    // A federated user of an IAM user.
    let federator = server
        .user(
            "audit-federator",
            Some(&allow(
                &["sts:GetFederationToken", "secretsmanager:ListSecrets"],
                &["*"],
            )),
        )
        .await;
    let federator_id = ok(iam.get_user().user_name(&federator.name).send().await)
        .user
        .expect("User")
        .user_id;
    let req = federator.sts().get_federation_token().name("who-fed");
    let fed = ok(req
        .policy(allow(&["secretsmanager:ListSecrets"], &["*"]))
        .send()
        .await);
    let fed = TestCredentials::from(fed.credentials.as_ref().expect("Credentials"));
    let fed_call = request_id!(ok(server.client_as(&fed).list_secrets().send().await));
    let (federator_arn, federator_name) = (federator.arn.clone(), federator.name.clone());
    drop(federator);
    let root_key = server.root_credentials().access_key_id;
    let (user_arn, user_key, user_name) = (user.arn.clone(), user.access_key_id.clone(), user.name.clone());
    let (session_arn, session_key) = (role_session.arn.clone(), role_session.access_key_id.clone());
    drop((user, assumer, role_session));

    let log = audited.stop().await;

    let root = record_for(&log, &root_id, DEV_ACCOUNT);
    assert_eq!(
        root["userIdentity"],
        json!({
            "type": "Root",
            "principalId": DEV_ACCOUNT,
            "arn": root_arn(DEV_ACCOUNT),
            "accountId": DEV_ACCOUNT,
            "accessKeyId": root_key,
        })
    );

    let by_user = record_for(&log, &user_call, DEV_ACCOUNT);
    let user_identity = json!({
        "type": "IAMUser",
        "principalId": user_id,
        "arn": user_arn,
        "accountId": DEV_ACCOUNT,
        "accessKeyId": user_key,
        "userName": user_name,
    });
    assert_eq!(by_user["userIdentity"], user_identity);

    // The user's own session: the user, with the session's key and a context without issuer.
    let by_session = &record_for(&log, &session_call, DEV_ACCOUNT)["userIdentity"];
    let created = assert_creation_date(by_session, now);
    let mut expected = user_identity.clone();
    expected["accessKeyId"] = json!(session.access_key_id);
    expected["sessionContext"] = json!({
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
    });
    assert_eq!(*by_session, expected);

    let by_role = &record_for(&log, &role_call, DEV_ACCOUNT)["userIdentity"];
    let created = assert_creation_date(by_role, now);
    assert_eq!(
        *by_role,
        json!({
            "type": "AssumedRole",
            "principalId": format!("{}:who-session", role.role_id),
            "arn": session_arn,
            "accountId": DEV_ACCOUNT,
            "accessKeyId": session_key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role.role_id,
                    "arn": format!("arn:aws:iam::{DEV_ACCOUNT}:role/audit/team/{role_name}"),
                    "accountId": DEV_ACCOUNT,
                    "userName": role_name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
            },
        })
    );
    assert_eq!(role.arn, by_role["sessionContext"]["sessionIssuer"]["arn"]);

    let by_fed = &record_for(&log, &fed_call, DEV_ACCOUNT)["userIdentity"];
    let created = assert_creation_date(by_fed, now);
    assert_eq!(
        *by_fed,
        json!({
            "type": "FederatedUser",
            "principalId": format!("{DEV_ACCOUNT}:who-fed"),
            "arn": format!("arn:aws:sts::{DEV_ACCOUNT}:federated-user/who-fed"),
            "accountId": DEV_ACCOUNT,
            "accessKeyId": fed.access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "IAMUser",
                    "principalId": federator_id,
                    "arn": federator_arn,
                    "accountId": DEV_ACCOUNT,
                    "userName": federator_name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
            },
        })
    );
}

/// A call on another account's resource is recorded for both accounts, as CloudTrail does: the
/// caller's account sees its caller in full; the resource's account sees the caller's account
/// (`AWSAccount`) and the caller's principal id, and not its access key. The two records share a
/// `sharedEventID`; each account's LookupEvents finds its own record only.
#[tokio::test]
async fn a_cross_account_call_is_recorded_for_both_accounts() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let member = member(server).await;
    let role = format!("arn:aws:iam::{}:role/{ACCESS_ROLE}", member.id);
    let operator = &member.operator;
    let operator_id = ok(server
        .iam_client()
        .get_user()
        .user_name(&operator.name)
        .send()
        .await)
    .user
    .expect("User")
    .user_id;
    let out = ok(operator
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("cross")
        .send()
        .await);
    let call = request_id!(out);

    // Each account finds its own record of the call.
    let lookup = |creds: &TestCredentials| {
        server
            .cloudtrail_client_as(creds)
            .lookup_events()
            .lookup_attributes(
                aws_sdk_cloudtrail::types::LookupAttribute::builder()
                    .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::ResourceName)
                    .attribute_value(&role)
                    .build()
                    .expect("attribute"),
            )
            .send()
    };
    let events_of = |out: aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput| {
        out.events()
            .iter()
            .map(|e| {
                serde_json::from_str::<Value>(e.cloud_trail_event().expect("CloudTrailEvent")).expect("JSON")
            })
            .filter(|e| e["requestID"] == call.as_str())
            .collect::<Vec<_>>()
    };
    let in_member = events_of(ok(lookup(&member.admin.creds).await));
    let in_management = events_of(ok(lookup(&server.root_credentials()).await));
    let (member_id, operator_arn) = (member.id.clone(), operator.arn.clone());
    drop(member);

    let log = audited.stop().await;
    let own = record_for(&log, &call, DEV_ACCOUNT);
    let theirs = record_for(&log, &call, &member_id);
    assert_eq!(own["userIdentity"]["type"], "IAMUser");
    assert_eq!(own["userIdentity"]["arn"], operator_arn.as_str());
    assert_eq!(
        theirs["userIdentity"],
        json!({"type": "AWSAccount", "principalId": operator_id, "accountId": DEV_ACCOUNT})
    );
    let shared = own["sharedEventID"].as_str().expect("sharedEventID");
    assert!(uuid::Uuid::parse_str(shared).is_ok(), "{shared}");
    assert_eq!(theirs["sharedEventID"], shared);
    assert_ne!(own["eventID"], theirs["eventID"]);
    // Otherwise the same event.
    for member_name in [
        "eventName",
        "eventSource",
        "requestParameters",
        "resources",
        "eventTime",
    ] {
        assert_eq!(own[member_name], theirs[member_name], "{member_name}");
    }
    // A call within one account shares nothing.
    let local = log
        .records
        .iter()
        .find(|r| r["eventName"] == "CreateUser")
        .expect("a CreateUser record");
    assert_eq!(local.get("sharedEventID"), None);

    assert_eq!(in_member.len(), 1, "{in_member:?}");
    assert_eq!(in_member[0]["eventID"], theirs["eventID"]);
    assert_eq!(in_management.len(), 1, "{in_management:?}");
    assert_eq!(in_management[0]["eventID"], own["eventID"]);
}

/// AssumeRoleWithWebIdentity is unsigned: its record names the token's holder as a
/// `WebIdentityUser` (provider, audience and subject), for the role's account.
#[tokio::test]
async fn a_web_identity_is_recorded_as_its_provider_and_subject() {
    const ISSUER: &str = "oidc.kinko-audit.example/ci";
    let key = Key::generate("audit");
    let dir = tempfile::tempdir().expect("temp dir");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk]}).to_string()).expect("write the key set");
    let audited = AuditedServer::start_configured(|c| {
        c.oidc_jwks = vec![(format!("https://{ISSUER}"), jwks.display().to_string())];
    })
    .await;
    let server = &audited.server;
    let provider = ok(server
        .iam_client()
        .create_open_id_connect_provider()
        .url(format!("https://{ISSUER}"))
        .client_id_list("sts.amazonaws.com")
        .send()
        .await)
    .open_id_connect_provider_arn
    .expect("provider ARN");
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
    })]);
    let role = server.role("audit-ci", &trust, None).await;
    let now = server.now_secs();
    let sub = "repo:org/app:ref:refs/heads/main";
    let token = key.sign(&json!({
        "iss": format!("https://{ISSUER}"), "sub": sub, "aud": "sts.amazonaws.com",
        "iat": now, "nbf": now - 5, "exp": now + 600,
    }));
    let anonymous = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint_url())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .build(),
    );
    let out = ok(anonymous
        .assume_role_with_web_identity()
        .role_arn(&role)
        .role_session_name("ci-job")
        .web_identity_token(&token)
        .send()
        .await);
    let call = request_id!(out);

    let log = audited.stop().await;
    let record = record_for(&log, &call, DEV_ACCOUNT);
    assert_eq!(record["eventName"], "AssumeRoleWithWebIdentity");
    assert_eq!(
        record["userIdentity"],
        json!({
            "type": "WebIdentityUser",
            "principalId": format!("{provider}:sts.amazonaws.com:{sub}"),
            "userName": sub,
            "identityProvider": provider,
        })
    );
    log.assert_absent(token.as_bytes(), "the identity token");
}

/// AssumeRoleWithSAML is unsigned: its record names the assertion's subject as a `SAMLUser`
/// (`principalId` `<name qualifier>:<subject>`, `identityProvider` the name qualifier), for the
/// role's account; the assertion itself is never recorded.
#[tokio::test]
async fn a_saml_user_is_recorded_as_its_name_qualifier_and_subject() {
    use base64::Engine;
    use kinko_tests::saml::{Claims, Idp, response};

    let idp = Idp::generate();
    let audited = AuditedServer::start_configured(|_| {}).await;
    let server = &audited.server;
    let entity = "https://idp.kinko-audit.example/saml";
    let provider = ok(server
        .iam_client()
        .create_saml_provider()
        .name("audit-idp")
        .saml_metadata_document(idp.metadata(entity))
        .send()
        .await)
    .saml_provider_arn
    .expect("provider ARN");
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithSAML",
    })]);
    let role = server.role("audit-saml", &trust, None).await;
    let claims = Claims::new(server, entity, &role, &provider);
    let saml = response(server, entity, &idp.sign(&claims.assertion(server, "_audit")));
    let anonymous = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint_url())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .build(),
    );
    let out = ok(anonymous
        .assume_role_with_saml()
        .role_arn(&role)
        .principal_arn(&provider)
        .saml_assertion(&saml)
        .send()
        .await);
    let call = request_id!(out);
    let qualifier = out.name_qualifier.clone().expect("NameQualifier");
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{entity}{DEV_ACCOUNT}/audit-idp").as_bytes(),
    );
    assert_eq!(
        qualifier,
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    );

    let log = audited.stop().await;
    let record = record_for(&log, &call, DEV_ACCOUNT);
    assert_eq!(record["eventName"], "AssumeRoleWithSAML");
    assert_eq!(
        record["userIdentity"],
        json!({
            "type": "SAMLUser",
            "principalId": format!("{qualifier}:{}", claims.subject),
            "userName": claims.subject,
            "identityProvider": qualifier,
        })
    );
    log.assert_absent(saml.as_bytes(), "the SAML assertion");
}
