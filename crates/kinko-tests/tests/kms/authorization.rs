//! Who may use a key: the key policy together with the caller's identity policies, explicit
//! denies, the lockout check for creators, and principals of another account.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use kinko_tests::*;
use serde_json::json;

use crate::{LOCKOUT, account, kms};

fn all_of_kms() -> String {
    allow(&["kms:*"], &["*"])
}

/// The default key policy delegates to the account: IAM decides.
#[tokio::test]
async fn default_key_policy_lets_identity_policies_decide() {
    let server = TestServer::start();
    let user = server.user("kms-user", Some(&all_of_kms())).await;
    let (key, _) = server.kms_client().new_key().await;
    let blob = user.kms().encrypt_with(&key, b"ok", &[]).await;
    user.kms().decrypt_with(&blob, &[]).await;
}

/// A key policy that only names root's own actions doesn't delegate use to IAM.
#[tokio::test]
async fn key_policy_without_the_root_statement_ignores_identity_policies() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = server.user("kms-user", Some(&all_of_kms())).await;
    let actions = json!([
        "kms:PutKeyPolicy",
        "kms:GetKeyPolicy",
        "kms:DescribeKey",
        "kms:Encrypt"
    ]);
    let only_admin = policy_document(&[key_statement("Allow", &server.root().arn, actions)]);
    let (key, arn) = client.key_with_policy(&only_admin, false).await;
    let req = user
        .kms()
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256);
    assert_eq!(
        outcome(req.send().await),
        no_key_policy(&user.arn, "kms:GenerateDataKey", &arn)
    );
    let blob = client.encrypt_with(&key, b"x", &[]).await;
    let decrypt = user.kms().try_decrypt(&blob, None, &[]).await;
    assert_eq!(decrypt, no_key_policy(&user.arn, "kms:Decrypt", &arn));
}

/// A user with no identity policy can't use even a delegating key, nor learn whether a key exists.
#[tokio::test]
async fn users_without_identity_policy_can_neither_use_nor_probe_keys() {
    let server = TestServer::start();
    let bare = server.user("kms-bare", None).await;
    let (key, arn) = server.kms_client().new_key().await;
    let describe = |id: &str| bare.kms().describe_key().key_id(id).send();
    assert_eq!(
        outcome(describe(&key).await),
        no_iam_policy(&bare.arn, "kms:DescribeKey", &arn)
    );
    let unknown = key_arn(&account(), UNKNOWN_KEY);
    let out = outcome(describe(UNKNOWN_KEY).await);
    assert_eq!(out, no_iam_policy(&bare.arn, "kms:DescribeKey", &unknown));
    assert_eq!(
        error_code(describe("alias/nobody-has-this").await),
        "AccessDeniedException"
    );
}

/// Encryption context conditions in an identity policy.
#[tokio::test]
async fn identity_policies_may_condition_on_the_encryption_context() {
    let server = TestServer::start();
    let doc = policy_document(&[json!({
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}
    })]);
    let user = server.user("kms-ctx", Some(&doc)).await;
    let (key, arn) = server.kms_client().new_key().await;
    let billing = user.kms().encrypt_with(&key, b"x", &[("app", "billing")]).await;
    assert_eq!(
        user.kms()
            .try_decrypt(&billing, None, &[("app", "billing")])
            .await,
        Ok(())
    );
    let other = user.kms().try_encrypt(&key, &[("app", "other")]).await;
    assert_eq!(other, no_iam_policy(&user.arn, "kms:Encrypt", &arn));
    let none = user.kms().try_decrypt(&billing, None, &[]).await;
    assert_eq!(none, no_iam_policy(&user.arn, "kms:Decrypt", &arn));
}

/// No KMS permissions at all: denied for want of an identity policy, with AWS's message; Decrypt
/// without KeyId is authorized on the key the ciphertext names.
#[tokio::test]
async fn callers_without_kms_permissions_are_denied() {
    let server = TestServer::start();
    let none = server.user("kms-none", None).await;
    let (a, a_arn) = server.kms_client().new_key().await;
    let blob = server.kms_client().encrypt_with(&a, b"a", &[]).await;
    let c = none.kms();
    let denied = |action: &str| no_iam_policy(&none.arn, action, &a_arn);
    assert_eq!(c.try_encrypt(&a, &[]).await, denied("kms:Encrypt"));
    assert_eq!(c.try_decrypt(&blob, None, &[]).await, denied("kms:Decrypt"));
    assert_eq!(c.try_data_key(&a_arn, &[]).await, denied("kms:GenerateDataKey"));
    let policy = c.get_key_policy().key_id(&a).send().await;
    assert_eq!(outcome(policy), denied("kms:GetKeyPolicy"));
    // Actions without a key resource.
    for (action, result) in [
        ("kms:ListKeys", outcome(c.list_keys().send().await)),
        ("kms:ListAliases", outcome(c.list_aliases().send().await)),
        ("kms:CreateKey", outcome(c.create_key().send().await)),
        (
            "kms:GenerateRandom",
            outcome(c.generate_random().number_of_bytes(8).send().await),
        ),
    ] {
        let message = no_identity_policy(&none.arn, action, None);
        assert_eq!(result, failed("AccessDeniedException", &message));
    }
    let encrypt = c.encrypt().key_id(&a).plaintext(Blob::new(b"x".to_vec()));
    let encrypt = encrypt.send().await;
    let (status, body) = raw_error(encrypt);
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "AccessDeniedException");
    assert_eq!(
        body["message"],
        no_identity_policy(&none.arn, "kms:Encrypt", Some(&a_arn))
    );
}

/// An identity policy grants on the keys it names (through the key policy's root statement).
#[tokio::test]
async fn identity_policies_grant_on_the_keys_they_name() {
    let server = TestServer::start();
    let client = server.kms_client();
    let (a, a_arn) = client.new_key().await;
    let (b, b_arn) = client.new_key().await;
    let (blob_a, blob_b) = (
        client.encrypt_with(&a, b"a", &[]).await,
        client.encrypt_with(&b, b"b", &[]).await,
    );
    let scoped = server
        .user(
            "kms-scoped",
            Some(&allow(&["kms:Encrypt", "kms:Decrypt"], &[&a_arn])),
        )
        .await;
    let c = scoped.kms();
    assert_eq!(c.try_encrypt(&a, &[]).await, Ok(()));
    assert_eq!(c.try_decrypt(&blob_a, None, &[]).await, Ok(()));
    assert_eq!(
        c.try_encrypt(&b, &[]).await,
        no_iam_policy(&scoped.arn, "kms:Encrypt", &b_arn)
    );
    let other = c.try_decrypt(&blob_b, None, &[]).await;
    assert_eq!(other, no_iam_policy(&scoped.arn, "kms:Decrypt", &b_arn));
    let data_key = c.try_data_key(&a, &[]).await;
    assert_eq!(
        data_key,
        no_iam_policy(&scoped.arn, "kms:GenerateDataKey", &a_arn)
    );
}

/// ReEncrypt needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination.
#[tokio::test]
async fn re_encrypt_needs_from_on_the_source_and_to_on_the_destination() {
    let server = TestServer::start();
    let client = server.kms_client();
    let (a, a_arn) = client.new_key().await;
    let (b, b_arn) = client.new_key().await;
    let (blob_a, blob_b) = (
        client.encrypt_with(&a, b"a", &[]).await,
        client.encrypt_with(&b, b"b", &[]).await,
    );
    let doc = policy_document(&[
        statement("Allow", &["kms:ReEncryptFrom"], &[&a_arn]),
        statement("Allow", &["kms:ReEncryptTo"], &[&b_arn]),
    ]);
    let user = server.user("kms-re", Some(&doc)).await;
    let c = user.kms();
    let re_encrypt = |blob: &Blob, to: &str| {
        let req = c.re_encrypt().ciphertext_blob(blob.clone());
        req.destination_key_id(to).send()
    };
    assert_eq!(outcome(re_encrypt(&blob_a, &b).await), Ok(()));
    let from = outcome(re_encrypt(&blob_b, &a).await);
    assert_eq!(from, no_iam_policy(&user.arn, "kms:ReEncryptFrom", &b_arn));
    let to = outcome(re_encrypt(&blob_a, &a).await);
    assert_eq!(to, no_iam_policy(&user.arn, "kms:ReEncryptTo", &a_arn));
}

/// kms:CreateKey alone creates keys with the default policy (which passes the lockout check); but
/// using it, tagging it at creation or giving it a policy the creator can't change later needs
/// more.
#[tokio::test]
async fn create_key_alone_makes_keys_the_creator_cannot_use() {
    let server = TestServer::start();
    let creator = server
        .user("kms-creator", Some(&allow(&["kms:CreateKey"], &["*"])))
        .await;
    let c = creator.kms();
    let made = ok(c.create_key().send().await);
    let made = made.key_metadata.expect("metadata");
    let made_arn = made.arn.expect("arn");
    let describe = c.describe_key().key_id(&made.key_id).send().await;
    assert_eq!(
        outcome(describe),
        no_iam_policy(&creator.arn, "kms:DescribeKey", &made_arn)
    );
    let tagged = c.create_key().tags(kms_tag("a", "b")).send().await;
    let message = no_identity_policy(&creator.arn, "kms:TagResource", None);
    assert_eq!(outcome(tagged), failed("AccessDeniedException", &message));
    let delegating = policy_granting(&account(), &server.root().arn, &["kms:*"], None);
    let lockout = failed("MalformedPolicyDocumentException", LOCKOUT);
    assert_eq!(outcome(c.create_key().policy(&delegating).send().await), lockout);
    let owned = policy_granting(&account(), &creator.arn, &["kms:*"], None);
    ok(c.create_key().policy(&owned).send().await);
}

/// Without the root statement, IAM policies grant nothing, not even to root; a direct grant needs
/// no IAM policy.
#[tokio::test]
async fn without_the_root_statement_only_direct_grants_count() {
    let server = TestServer::start();
    let client = server.kms_client();
    let root = server.root().arn;
    let (a, _) = client.new_key().await;
    let admin = server.user("kms-admin", Some(&all_of_kms())).await;
    let direct = server.user("kms-direct", None).await;
    let actions = json!(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]);
    let mut grant = key_statement("Allow", &direct.arn, actions);
    grant["Sid"] = json!("Direct");
    let no_root = policy_document(&[grant]);
    let lockout = failed("MalformedPolicyDocumentException", LOCKOUT);
    assert_eq!(
        outcome(client.create_key().policy(&no_root).send().await),
        lockout
    );
    let (n, n_arn) = client.key_with_policy(&no_root, true).await;
    assert_eq!(direct.kms().try_encrypt(&n, &[]).await, Ok(()));
    let blob_n = direct.kms().encrypt_with(&n, b"direct", &[]).await;
    assert_eq!(direct.kms().try_decrypt(&blob_n, None, &[]).await, Ok(()));
    let data_key = direct.kms().try_data_key(&n, &[]).await;
    assert_eq!(
        data_key,
        no_key_policy(&direct.arn, "kms:GenerateDataKey", &n_arn)
    );
    assert_eq!(admin.kms().try_encrypt(&a, &[]).await, Ok(()));
    let encrypt = admin.kms().try_encrypt(&n, &[]).await;
    assert_eq!(encrypt, no_key_policy(&admin.arn, "kms:Encrypt", &n_arn));
    let decrypt = admin.kms().try_decrypt(&blob_n, None, &[]).await;
    assert_eq!(decrypt, no_key_policy(&admin.arn, "kms:Decrypt", &n_arn));
    assert_eq!(
        client.try_encrypt(&n, &[]).await,
        no_key_policy(&root, "kms:Encrypt", &n_arn)
    );
    let delegating = policy_granting(&account(), &root, &["kms:*"], None);
    let put = client.put_key_policy().key_id(&n).policy(&delegating);
    let put = put.send().await;
    assert_eq!(outcome(put), no_key_policy(&root, "kms:PutKeyPolicy", &n_arn));
    let schedule = client.schedule_key_deletion().key_id(&n).send().await;
    assert_eq!(
        outcome(schedule),
        no_key_policy(&root, "kms:ScheduleKeyDeletion", &n_arn)
    );
}

#[tokio::test]
async fn explicit_deny_in_the_key_policy_wins() {
    let server = TestServer::start();
    let client = server.kms_client();
    let admin = server.user("kms-admin", Some(&all_of_kms())).await;
    let deny_in_key = policy_document(&[
        key_statement("Allow", &server.root().arn, json!("kms:*")),
        key_statement("Deny", &admin.arn, json!("kms:Decrypt")),
    ]);
    let (d, d_arn) = client.key_with_policy(&deny_in_key, false).await;
    let blob_d = admin.kms().encrypt_with(&d, b"deny", &[]).await;
    let message = access_denied(&admin.arn, "kms:Decrypt", Some(&d_arn), Denial::ExplicitResource);
    let decrypt = admin.kms().try_decrypt(&blob_d, None, &[]).await;
    assert_eq!(decrypt, failed("AccessDeniedException", &message));
    assert_eq!(client.try_decrypt(&blob_d, None, &[]).await, Ok(()));
}

/// An explicit deny in an identity policy wins, even against a direct key policy grant.
#[tokio::test]
async fn explicit_deny_in_an_identity_policy_wins_over_a_key_policy_grant() {
    let server = TestServer::start();
    let client = server.kms_client();
    let (a, a_arn) = client.new_key().await;
    let blob_a = client.encrypt_with(&a, b"a", &[]).await;
    let deny_doc = policy_document(&[
        statement("Allow", &["kms:*"], &["*"]),
        statement("Deny", &["kms:Encrypt"], &["*"]),
    ]);
    let denied = server.user("kms-denied", Some(&deny_doc)).await;
    let explicit = |arn: &str| {
        let message = access_denied(&denied.arn, "kms:Encrypt", Some(arn), Denial::ExplicitIdentity);
        failed("AccessDeniedException", &message)
    };
    assert_eq!(denied.kms().try_encrypt(&a, &[]).await, explicit(&a_arn));
    assert_eq!(denied.kms().try_decrypt(&blob_a, None, &[]).await, Ok(()));
    let grant = policy_granting(&account(), &denied.arn, &["kms:Encrypt"], None);
    let (g, g_arn) = client.key_with_policy(&grant, false).await;
    assert_eq!(denied.kms().try_encrypt(&g, &[]).await, explicit(&g_arn));
}

/// A key of the management account (with an alias) whose policy grants a member account's users
/// and callers, and users on both sides.
struct CrossAccount {
    member: String,
    key: String,
    arn: String,
    alias: String,
    alias_arn: String,
    /// Member user with no policy, named by the key policy.
    bare: Principal<'static>,
    /// Member user allowed to use this key, named by the key policy.
    reader: Principal<'static>,
    /// Member user allowed everything on KMS, not named by the key policy.
    wide: Principal<'static>,
    /// Management-account user allowed everything on KMS.
    local: Principal<'static>,
}

async fn cross_account() -> CrossAccount {
    let server = TestServer::start();
    let (client, account) = (server.kms_client(), account());
    let m = member(server).await;
    let (key, arn) = client.new_key().await;
    let alias = new_alias();
    client.alias_key(&alias, &key).await;
    let key_doc = allow(
        &[
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        ],
        &[&arn],
    );
    let bare = m.admin.new_user("kms-bare", None).await;
    let reader = m.admin.new_user("kms-reader", Some(&key_doc)).await;
    let wide = m.admin.new_user("kms-wide", Some(&all_of_kms())).await;
    assert!(reader.arn.starts_with(&format!("arn:aws:iam::{}:user/", m.id)));
    let local = server.user("kms-local", Some(&all_of_kms())).await;
    let for_callers_of = |account: &str, action: &str| {
        let mut s = key_statement("Allow", "*", json!(action));
        s["Condition"] = json!({"StringEquals": {"kms:CallerAccount": account}});
        s
    };
    let mut member_users_decrypt = key_statement("Allow", "", json!("kms:Decrypt"));
    member_users_decrypt["Principal"]["AWS"] = json!([bare.arn, reader.arn]);
    let policy = policy_document(&[
        administration_statement(&account),
        member_users_decrypt,
        key_statement("Allow", &m.id, json!("kms:DescribeKey")),
        for_callers_of(&m.id, "kms:Encrypt"),
        for_callers_of(&account, "kms:GenerateDataKey"),
    ]);
    client.put_policy(&key, &policy).await;
    CrossAccount {
        member: m.id,
        alias_arn: alias_arn(&account, &alias),
        key,
        arn,
        alias,
        bare,
        reader,
        wide,
        local,
    }
}

/// A data key made in the key's account decrypts for the member's user the key policy names and
/// its identity policy allows: by key ARN, by alias ARN, or with no KeyId at all. Key policy
/// without identity policy, or identity policy without key policy: denied.
#[tokio::test]
async fn other_accounts_use_a_key_when_both_policies_allow() {
    let x = cross_account().await;
    let req = kms()
        .generate_data_key()
        .key_id(&x.key)
        .key_spec(DataKeySpec::Aes256);
    let dk = ok(req.encryption_context("app", "shared").send().await);
    let (blob, plaintext) = (
        dk.ciphertext_blob.expect("blob"),
        dk.plaintext.expect("plaintext"),
    );
    let ctx = [("app", "shared")];
    for key_id in [Some(x.arn.as_str()), Some(x.alias_arn.as_str()), None] {
        let req = x.reader.kms().decrypt().ciphertext_blob(blob.clone());
        let req = req
            .set_key_id(key_id.map(str::to_owned))
            .encryption_context("app", "shared");
        let out = req.send().await;
        let out = out.unwrap_or_else(|e| panic!("cross-account Decrypt with {key_id:?}: {e:?}"));
        assert_eq!(out.plaintext.as_ref(), Some(&plaintext));
        assert_eq!(out.key_id.as_deref(), Some(x.arn.as_str()));
    }
    for key_id in [Some(x.arn.as_str()), None] {
        let bare = x.bare.kms().try_decrypt(&blob, key_id, &ctx).await;
        assert_eq!(bare, no_iam_policy(&x.bare.arn, "kms:Decrypt", &x.arn));
        let wide = x.wide.kms().try_decrypt(&blob, key_id, &ctx).await;
        assert_eq!(wide, no_key_policy(&x.wide.arn, "kms:Decrypt", &x.arn));
    }
}

/// An account principal in the key policy delegates to that account's identity policies; another
/// account's key is named by ARN, as key ids and alias names mean the caller's account.
#[tokio::test]
async fn account_principals_delegate_and_other_accounts_name_keys_by_arn() {
    let x = cross_account().await;
    let describe = |p: &Principal, id: &str| p.kms().describe_key().key_id(id).send();
    assert_eq!(outcome(describe(&x.wide, &x.arn).await), Ok(()));
    assert_eq!(outcome(describe(&x.reader, &x.alias_arn).await), Ok(()));
    let bare = outcome(describe(&x.bare, &x.arn).await);
    assert_eq!(bare, no_iam_policy(&x.bare.arn, "kms:DescribeKey", &x.arn));
    let by_id = outcome(describe(&x.wide, &x.key).await);
    assert_eq!(by_id, key_not_found(&key_arn(&x.member, &x.key)));
    let by_alias = outcome(describe(&x.wide, &x.alias).await);
    assert_eq!(by_alias, alias_not_found(&alias_arn(&x.member, &x.alias)));
}

/// kms:CallerAccount: Encrypt is for the member account's callers, data keys for the key
/// account's.
#[tokio::test]
async fn caller_account_condition_across_accounts() {
    let x = cross_account().await;
    assert_eq!(x.reader.kms().try_encrypt(&x.arn, &[]).await, Ok(()));
    let bare = x.bare.kms().try_encrypt(&x.arn, &[]).await;
    assert_eq!(bare, no_iam_policy(&x.bare.arn, "kms:Encrypt", &x.arn));
    let reader = x.reader.kms().try_data_key(&x.arn, &[]).await;
    assert_eq!(
        reader,
        no_key_policy(&x.reader.arn, "kms:GenerateDataKey", &x.arn)
    );
    let local = x.local.kms().try_encrypt(&x.arn, &[]).await;
    assert_eq!(local, no_key_policy(&x.local.arn, "kms:Encrypt", &x.arn));
    assert_eq!(x.local.kms().try_data_key(&x.arn, &[]).await, Ok(()));
}

/// What the member encrypts (by alias ARN) decrypts for it too, without naming the key.
#[tokio::test]
async fn other_accounts_decrypt_what_they_encrypted_without_naming_the_key() {
    let x = cross_account().await;
    let req = x.reader.kms().encrypt().key_id(&x.alias_arn);
    let mine = req.plaintext(Blob::new(b"from the member".to_vec())).send().await;
    let mine = mine.expect("cross-account Encrypt by alias ARN");
    assert_eq!(mine.key_id.as_deref(), Some(x.arn.as_str()));
    let out = x
        .reader
        .kms()
        .decrypt_with(&mine.ciphertext_blob.expect("blob"), &[])
        .await;
    assert_eq!(out.plaintext.expect("plaintext").as_ref(), b"from the member");
}
