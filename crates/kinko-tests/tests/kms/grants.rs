//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, and what a
//! grant allows its grantee alongside the key policy and IAM (constraints, explicit denies, grant
//! tokens, grants that allow CreateGrant), with AWS's errors.

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation, KeySpec, KeyUsageType};
use kinko_tests::*;
use serde_json::json;

use crate::{DRY_RUN, account, kms};

/// A user with no permission at all: only a grant lets it use a key.
async fn bare_user<'s>(server: &'s TestServer, prefix: &str) -> Principal<'s> {
    server.user(prefix, None).await
}

fn ops(names: &[&str]) -> Vec<GrantOperation> {
    names.iter().map(|n| GrantOperation::from(*n)).collect()
}

fn context(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// CreateGrant on `key` for `grantee`; returns `(GrantId, GrantToken)`.
async fn grant(client: &Client, key: &str, grantee: &str, operations: &[&str]) -> (String, String) {
    let out = client
        .create_grant()
        .key_id(key)
        .grantee_principal(grantee)
        .set_operations(Some(ops(operations)))
        .send()
        .await
        .expect("CreateGrant");
    (
        out.grant_id.expect("GrantId"),
        out.grant_token.expect("GrantToken"),
    )
}

#[tokio::test]
async fn a_grant_lets_its_grantee_decrypt_until_it_is_revoked() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "grantee").await;
    let (key, arn) = client.new_key().await;
    let blob = client.encrypt_with(&key, b"granted", &[]).await;
    let before = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(before, no_iam_policy(&user.arn, "kms:Decrypt", &arn));

    let (id, _) = grant(&client, &key, &user.arn, &["Decrypt"]).await;
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let out = user.kms().decrypt_with(&blob, &[]).await;
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"granted");
    // Only the operations the grant lists.
    let encrypt = user.kms().try_encrypt(&key, &[]).await;
    assert_eq!(encrypt, no_iam_policy(&user.arn, "kms:Encrypt", &arn));

    client
        .revoke_grant()
        .key_id(&key)
        .grant_id(&id)
        .send()
        .await
        .expect("RevokeGrant");
    let after = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(after, no_iam_policy(&user.arn, "kms:Decrypt", &arn));
}

#[tokio::test]
async fn a_grant_token_works_at_once_and_retires_the_grant() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "token-grantee").await;
    let (key, arn) = client.new_key().await;
    let (_, token) = grant(&client, &key, &user.arn, &["GenerateDataKey", "Decrypt"]).await;
    let data_key = user
        .kms()
        .generate_data_key()
        .key_id(&key)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .grant_tokens(&token)
        .send()
        .await
        .expect("GenerateDataKey with the grant token");
    let blob = data_key.ciphertext_blob.expect("blob");
    let decrypt = user
        .kms()
        .decrypt()
        .ciphertext_blob(blob.clone())
        .grant_tokens(&token)
        .send()
        .await;
    assert_eq!(outcome(decrypt), Ok(()));
    client
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .expect("RetireGrant by token");
    let after = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(after, no_iam_policy(&user.arn, "kms:Decrypt", &arn));
}

#[tokio::test]
async fn the_retiring_principal_retires_and_others_may_not() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "retire-grantee").await;
    let retirer = bare_user(server, "retirer").await;
    let stranger = bare_user(server, "stranger").await;
    let (key, arn) = client.new_key().await;
    let out = client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&user.arn)
        .retiring_principal(&retirer.arn)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .expect("CreateGrant");
    let id = out.grant_id.expect("id");
    let token = out.grant_token.expect("token");
    // Neither a stranger nor the grantee (its grant doesn't allow RetireGrant) may retire it.
    for p in [&stranger, &user] {
        let r = p.kms().retire_grant().key_id(&arn).grant_id(&id).send().await;
        assert_eq!(outcome(r), no_iam_policy(&p.arn, "kms:RetireGrant", &arn));
    }
    let listed = client
        .list_retirable_grants()
        .retiring_principal(&retirer.arn)
        .send()
        .await
        .expect("ListRetirableGrants");
    let ids: Vec<_> = listed.grants().iter().filter_map(|g| g.grant_id()).collect();
    assert_eq!(ids, [id.as_str()]);
    retirer
        .kms()
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .expect("RetireGrant by the retiring principal");
    let blob = client.encrypt_with(&key, b"x", &[]).await;
    let after = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(after, no_iam_policy(&user.arn, "kms:Decrypt", &arn));
    let again = client.retire_grant().key_id(&key).grant_id(&id).send().await;
    assert_eq!(
        outcome(again),
        failed("NotFoundException", &format!("Grant ID {id} not found"))
    );
}

#[tokio::test]
async fn a_grantee_retires_a_grant_that_allows_retire_grant() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "self-retire").await;
    let (key, _) = client.new_key().await;
    let (id, _) = grant(&client, &key, &user.arn, &["Decrypt", "RetireGrant"]).await;
    let r = user.kms().retire_grant().key_id(&key).grant_id(&id).send().await;
    assert_eq!(outcome(r), Ok(()));
    let left = client
        .list_grants()
        .key_id(&key)
        .send()
        .await
        .expect("ListGrants");
    assert!(left.grants().is_empty());
}

#[tokio::test]
async fn encryption_context_subset_needs_its_pairs_and_allows_more() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "subset").await;
    let (key, arn) = client.new_key().await;
    client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&user.arn)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(
            GrantConstraints::builder()
                .set_encryption_context_subset(Some(context(&[("Department", "IT")])))
                .build(),
        )
        .send()
        .await
        .expect("CreateGrant");
    let c = user.kms();
    assert_eq!(c.try_encrypt(&key, &[("Department", "IT")]).await, Ok(()));
    let more = [("Department", "IT"), ("Purpose", "Test")];
    assert_eq!(c.try_encrypt(&key, &more).await, Ok(()));
    let blob = c.encrypt_with(&key, b"x", &more).await;
    assert_eq!(c.try_decrypt(&blob, None, &more).await, Ok(()));
    let denied = no_iam_policy(&user.arn, "kms:Encrypt", &arn);
    assert_eq!(c.try_encrypt(&key, &[]).await, denied);
    // Values compare exactly.
    assert_eq!(c.try_encrypt(&key, &[("Department", "it")]).await, denied);
    assert_eq!(c.try_encrypt(&key, &[("Purpose", "Test")]).await, denied);
}

#[tokio::test]
async fn encryption_context_equals_needs_exactly_its_pairs() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "equals").await;
    let (key, arn) = client.new_key().await;
    client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&user.arn)
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::DescribeKey)
        .constraints(
            GrantConstraints::builder()
                .set_encryption_context_equals(Some(context(&[("Department", "IT")])))
                .build(),
        )
        .send()
        .await
        .expect("CreateGrant");
    let c = user.kms();
    assert_eq!(c.try_encrypt(&key, &[("Department", "IT")]).await, Ok(()));
    let denied = no_iam_policy(&user.arn, "kms:Encrypt", &arn);
    let more = [("Department", "IT"), ("Purpose", "Test")];
    assert_eq!(c.try_encrypt(&key, &more).await, denied);
    assert_eq!(c.try_encrypt(&key, &[]).await, denied);
    // The constraint doesn't apply to DescribeKey.
    assert_eq!(outcome(c.describe_key().key_id(&key).send().await), Ok(()));
}

#[tokio::test]
async fn an_explicit_deny_in_the_key_policy_wins_over_a_grant() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "deny-key").await;
    let doc = policy_document(&[
        key_statement("Allow", &server.root().arn, json!("kms:*")),
        key_statement("Deny", &user.arn, json!("kms:Decrypt")),
    ]);
    let (key, arn) = client.key_with_policy(&doc, false).await;
    grant(&client, &key, &user.arn, &["Decrypt", "Encrypt"]).await;
    let blob = user.kms().encrypt_with(&key, b"x", &[]).await;
    let message = access_denied(&user.arn, "kms:Decrypt", Some(&arn), Denial::ExplicitResource);
    let decrypt = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(decrypt, failed("AccessDeniedException", &message));
}

#[tokio::test]
async fn an_explicit_deny_in_an_identity_policy_wins_over_a_grant() {
    let server = TestServer::start();
    let client = server.kms_client();
    let deny = policy_document(&[statement("Deny", &["kms:Decrypt"], &["*"])]);
    let user = server.user("deny-iam", Some(&deny)).await;
    let (key, arn) = client.new_key().await;
    grant(&client, &key, &user.arn, &["Decrypt"]).await;
    let blob = client.encrypt_with(&key, b"x", &[]).await;
    let message = access_denied(&user.arn, "kms:Decrypt", Some(&arn), Denial::ExplicitIdentity);
    let decrypt = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(decrypt, failed("AccessDeniedException", &message));
}

#[tokio::test]
async fn a_grant_to_a_role_covers_its_sessions() {
    let server = TestServer::start();
    let client = server.kms_client();
    let trust = trust_policy(&[&server.root().arn]);
    let role = server
        .role(&format!("grantee-{}", short_id()), &trust, None)
        .await;
    let session = server.assumer(&role).await.assume(&role, "grants").await;
    let (key, arn) = client.new_key().await;
    let blob = client.encrypt_with(&key, b"x", &[]).await;
    let before = session.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(before, no_iam_policy(&session.arn, "kms:Decrypt", &arn));
    grant(&client, &key, &role, &["Decrypt"]).await;
    assert_eq!(session.kms().try_decrypt(&blob, None, &[]).await, Ok(()));
}

#[tokio::test]
async fn the_same_name_and_grant_is_the_same_grant() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let grantee = format!("arn:aws:iam::{}:user/named-{}", account(), short_id());
    let create = |operations: &[&str]| {
        client
            .create_grant()
            .key_id(&key)
            .grantee_principal(&grantee)
            .name("app-decrypt")
            .set_operations(Some(ops(operations)))
            .send()
    };
    let first = create(&["Decrypt"]).await.expect("first");
    let retry = create(&["Decrypt"]).await.expect("retry");
    assert_eq!(first.grant_id, retry.grant_id);
    let other = create(&["Decrypt", "Encrypt"]).await.expect("other");
    assert_ne!(first.grant_id, other.grant_id);
    let listed = client
        .list_grants()
        .key_id(&key)
        .send()
        .await
        .expect("ListGrants");
    assert_eq!(listed.grants().len(), 2);
}

#[tokio::test]
async fn list_grants_shows_each_grant_and_filters() {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let a = format!("arn:aws:iam::{}:user/list-a-{}", account(), short_id());
    let b = format!("arn:aws:iam::{}:role/list-b-{}", account(), short_id());
    let (id_a, _) = grant(&client, &arn, &a, &["Decrypt", "Encrypt"]).await;
    let (id_b, _) = grant(&client, &key, &b, &["DescribeKey"]).await;
    let all = client
        .list_grants()
        .key_id(&key)
        .send()
        .await
        .expect("ListGrants");
    assert!(!all.truncated());
    let entry = all
        .grants()
        .iter()
        .find(|g| g.grant_id() == Some(id_a.as_str()))
        .expect("grant a");
    assert_eq!(entry.key_id(), Some(arn.as_str()));
    assert_eq!(entry.grantee_principal(), Some(a.as_str()));
    assert_eq!(entry.issuing_account(), Some(root_arn(&account()).as_str()));
    assert_eq!(entry.operations(), ops(&["Decrypt", "Encrypt"]).as_slice());
    assert!(entry.creation_date().is_some());
    let by_id = client
        .list_grants()
        .key_id(&key)
        .grant_id(&id_b)
        .send()
        .await
        .expect("by id");
    assert_eq!(by_id.grants().len(), 1);
    let by_grantee = client
        .list_grants()
        .key_id(&key)
        .grantee_principal(&b)
        .send()
        .await
        .expect("by grantee");
    let ids: Vec<_> = by_grantee.grants().iter().filter_map(|g| g.grant_id()).collect();
    assert_eq!(ids, [id_b.as_str()]);
    let page = client
        .list_grants()
        .key_id(&key)
        .limit(1)
        .send()
        .await
        .expect("page");
    assert!(page.truncated());
    let rest = client
        .list_grants()
        .key_id(&key)
        .marker(page.next_marker().expect("marker"))
        .send()
        .await
        .expect("rest");
    assert_eq!(rest.grants().len(), 1);
}

#[tokio::test]
async fn grant_operations_must_suit_the_key() {
    let client = kms();
    let grantee = format!("arn:aws:iam::{}:user/ops-{}", account(), short_id());
    let (symmetric, _) = client.new_key().await;
    let signing = client
        .create_key()
        .key_usage(KeyUsageType::SignVerify)
        .key_spec(KeySpec::EccNistP256)
        .send()
        .await
        .expect("signing key")
        .key_metadata
        .expect("metadata")
        .key_id;
    let hmac = client
        .create_key()
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .key_spec(KeySpec::Hmac256)
        .send()
        .await
        .expect("HMAC key")
        .key_metadata
        .expect("metadata")
        .key_id;
    let agreement = client
        .create_key()
        .key_usage(KeyUsageType::KeyAgreement)
        .key_spec(KeySpec::EccNistP384)
        .send()
        .await
        .expect("key agreement key")
        .key_metadata
        .expect("metadata")
        .key_id;
    let try_grant = |key: String, op: &'static str| {
        let client = client.clone();
        let grantee = grantee.clone();
        async move {
            outcome(
                client
                    .create_grant()
                    .key_id(key)
                    .grantee_principal(grantee)
                    .operations(GrantOperation::from(op))
                    .send()
                    .await,
            )
        }
    };
    for (key, op, ok) in [
        (&symmetric, "Sign", false),
        (&symmetric, "GenerateMac", false),
        (&symmetric, "GenerateDataKey", true),
        (&signing, "Sign", true),
        (&signing, "Encrypt", false),
        (&signing, "GenerateDataKey", false),
        (&hmac, "GenerateMac", true),
        (&hmac, "Decrypt", false),
        (&agreement, "DeriveSharedSecret", true),
        (&agreement, "GetPublicKey", true),
        (&agreement, "Sign", false),
        (&symmetric, "DeriveSharedSecret", false),
    ] {
        let result = try_grant(key.clone(), op).await;
        if ok {
            assert_eq!(result, Ok(()), "{op}");
        } else {
            let code = result.expect_err(op).code;
            assert_eq!(code, "ValidationException", "{op}");
        }
    }
    // Constraints are for symmetric encryption keys only.
    let constrained = client
        .create_grant()
        .key_id(&signing)
        .grantee_principal(&grantee)
        .operations(GrantOperation::Sign)
        .constraints(
            GrantConstraints::builder()
                .set_encryption_context_subset(Some(context(&[("a", "b")])))
                .build(),
        )
        .send()
        .await;
    assert_eq!(error_code(constrained), "ValidationException");
}

#[tokio::test]
async fn create_grant_follows_the_key_state() {
    let client = kms();
    let grantee = format!("arn:aws:iam::{}:user/state-{}", account(), short_id());
    let (key, arn) = client.new_key().await;
    let create = || {
        client
            .create_grant()
            .key_id(&key)
            .grantee_principal(&grantee)
            .operations(GrantOperation::Decrypt)
            .send()
    };
    let dry = client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&grantee)
        .operations(GrantOperation::Decrypt)
        .dry_run(true)
        .send()
        .await;
    assert_eq!(outcome(dry), failed("DryRunOperationException", DRY_RUN));
    client.set_enabled(&key, false).await;
    let disabled = failed("DisabledException", &format!("{arn} is disabled."));
    assert_eq!(outcome(create().await), disabled);
    client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let pending = failed("KMSInvalidStateException", &format!("{arn} is pending deletion."));
    assert_eq!(outcome(create().await), pending);
    // Listing works in every state.
    let listed = client.list_grants().key_id(&key).send().await;
    assert_eq!(outcome(listed), Ok(()));
}

#[tokio::test]
async fn unknown_and_malformed_grants_are_refused() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let unknown = "a".repeat(64);
    let revoke = client.revoke_grant().key_id(&key).grant_id(&unknown).send().await;
    let not_found = failed("NotFoundException", &format!("Grant ID {unknown} not found"));
    assert_eq!(outcome(revoke), not_found);
    let retire = client.retire_grant().key_id(&key).grant_id(&unknown).send().await;
    assert_eq!(outcome(retire), not_found);
    let malformed = client
        .revoke_grant()
        .key_id(&key)
        .grant_id("not-a-grant")
        .send()
        .await;
    assert_eq!(
        outcome(malformed),
        failed("InvalidGrantIdException", "Invalid grant ID")
    );
    let token = client.retire_grant().grant_token("not a token").send().await;
    assert_eq!(
        outcome(token),
        failed("InvalidGrantTokenException", "Invalid grant token")
    );
    let missing = client
        .create_grant()
        .key_id(UNKNOWN_KEY)
        .grantee_principal(root_arn(&account()))
        .operations(GrantOperation::Decrypt)
        .send()
        .await;
    assert_eq!(outcome(missing), key_not_found(&key_arn(&account(), UNKNOWN_KEY)));
}

#[tokio::test]
async fn create_grant_condition_keys_limit_who_may_grant_what() {
    let server = TestServer::start();
    let client = server.kms_client();
    let delegate = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {
            "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "DescribeKey"]},
            "StringLike": {"kms:GranteePrincipal": "arn:aws:iam::*:role/app-*"},
            "Bool": {"kms:GrantIsForAWSResource": "false"}
        }
    })]);
    let granter = server.user("granter", Some(&delegate)).await;
    let (key, arn) = client.new_key().await;
    let role = format!("arn:aws:iam::{}:role/app-{}", account(), short_id());
    let user = format!("arn:aws:iam::{}:user/app-{}", account(), short_id());
    let c = granter.kms();
    let try_grant = |grantee: &str, operations: &[&str]| {
        c.create_grant()
            .key_id(&key)
            .grantee_principal(grantee)
            .set_operations(Some(ops(operations)))
            .send()
    };
    assert_eq!(outcome(try_grant(&role, &["Decrypt"]).await), Ok(()));
    let denied = no_iam_policy(&granter.arn, "kms:CreateGrant", &arn);
    assert_eq!(outcome(try_grant(&role, &["Decrypt", "Encrypt"]).await), denied);
    assert_eq!(outcome(try_grant(&user, &["Decrypt"]).await), denied);
}

#[tokio::test]
async fn a_grant_of_create_grant_delegates_no_more_than_it_has() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = bare_user(server, "regrant").await;
    let (key, arn) = client.new_key().await;
    client
        .create_grant()
        .key_id(&key)
        .grantee_principal(&user.arn)
        .set_operations(Some(ops(&["Decrypt", "CreateGrant"])))
        .constraints(
            GrantConstraints::builder()
                .set_encryption_context_subset(Some(context(&[("tenant", "a")])))
                .build(),
        )
        .send()
        .await
        .expect("CreateGrant");
    let other = format!("arn:aws:iam::{}:user/sub-{}", account(), short_id());
    let c = user.kms();
    let sub = |operations: &[&str], subset: Option<&[(&str, &str)]>| {
        c.create_grant()
            .key_id(&key)
            .grantee_principal(&other)
            .set_operations(Some(ops(operations)))
            .set_constraints(subset.map(|s| {
                GrantConstraints::builder()
                    .set_encryption_context_subset(Some(context(s)))
                    .build()
            }))
            .send()
    };
    let stricter: &[(&str, &str)] = &[("tenant", "a"), ("app", "x")];
    assert_eq!(outcome(sub(&["Decrypt"], Some(stricter)).await), Ok(()));
    let denied = no_iam_policy(&user.arn, "kms:CreateGrant", &arn);
    assert_eq!(outcome(sub(&["Decrypt"], None).await), denied);
    assert_eq!(outcome(sub(&["Decrypt"], Some(&[("tenant", "b")])).await), denied);
    assert_eq!(outcome(sub(&["Encrypt"], Some(&[("tenant", "a")])).await), denied);
}
