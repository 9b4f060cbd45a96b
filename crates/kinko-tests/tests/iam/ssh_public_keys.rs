//! IAM users' SSH public keys: upload in OpenSSH or PEM form, the MD5 fingerprint, both encodings,
//! status changes, the per-user quota and the errors of bad bodies, and DeleteUser refusing a user
//! who still has keys.

use aws_sdk_iam::types::{EncodingType, StatusType};
use kinko_tests::*;

use crate::*;

/// Six different 2048-bit RSA keys (`ssh-keygen -t rsa -b 2048`); the first also in PEM form
/// (`ssh-keygen -e -m PKCS8`) with its fingerprint as `ssh-keygen -E md5 -l` shows it.
const KEYS: [&str; 6] = [
    include_str!("../../testdata/ssh/rsa2048-1.pub"),
    include_str!("../../testdata/ssh/rsa2048-2.pub"),
    include_str!("../../testdata/ssh/rsa2048-3.pub"),
    include_str!("../../testdata/ssh/rsa2048-4.pub"),
    include_str!("../../testdata/ssh/rsa2048-5.pub"),
    include_str!("../../testdata/ssh/rsa2048-6.pub"),
];
const PEM: &str = include_str!("../../testdata/ssh/rsa2048-1.pem");
const FINGERPRINT: &str = "75:52:be:36:42:cd:1d:fd:63:19:6b:71:c3:28:c6:dd";
const SHORT: &str = include_str!("../../testdata/ssh/rsa1024.pub");
const ED25519: &str = include_str!("../../testdata/ssh/ed25519.pub");

/// `ssh-rsa AAAA...` without the comment.
fn without_comment(key: &str) -> String {
    key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

async fn upload(user: &str, body: &str) -> Result<aws_sdk_iam::types::SshPublicKey, Failure> {
    let iam = server().iam_client();
    let req = iam
        .upload_ssh_public_key()
        .user_name(user)
        .ssh_public_key_body(body);
    match req.send().await {
        Ok(out) => Ok(out.ssh_public_key.expect("SSHPublicKey")),
        Err(e) => outcome(Err::<(), _>(e)).map(|()| unreachable!("an error")),
    }
}

#[tokio::test]
async fn ssh_public_key_lifecycle() {
    let iam = server().iam_client();
    let user = server().user("ssh", None).await;
    let key = upload(&user.name, KEYS[0]).await.expect("uploaded");
    assert!(key.ssh_public_key_id.starts_with("APKA"), "{key:?}");
    assert_eq!(key.ssh_public_key_id.len(), 20);
    assert_eq!(key.fingerprint, FINGERPRINT);
    assert_eq!(key.ssh_public_key_body, KEYS[0]);
    assert_eq!(key.status, StatusType::Active);
    assert_eq!(key.user_name, user.name);
    let id = key.ssh_public_key_id.clone();

    let get = |encoding: EncodingType| {
        iam.get_ssh_public_key()
            .user_name(&user.name)
            .ssh_public_key_id(&id)
            .encoding(encoding)
            .send()
    };
    let as_ssh = ok(get(EncodingType::Ssh).await).ssh_public_key.expect("key");
    assert_eq!(as_ssh.ssh_public_key_body, KEYS[0], "as uploaded");
    assert_eq!(as_ssh.upload_date, key.upload_date);
    let as_pem = ok(get(EncodingType::Pem).await).ssh_public_key.expect("key");
    assert_eq!(as_pem.ssh_public_key_body.trim(), PEM.trim());
    assert_eq!(as_pem.fingerprint, FINGERPRINT);

    let list = ok(iam.list_ssh_public_keys().user_name(&user.name).send().await);
    let listed = list.ssh_public_keys.unwrap_or_default();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].ssh_public_key_id.as_str(), &listed[0].status),
        (id.as_str(), &StatusType::Active)
    );

    let req = iam
        .update_ssh_public_key()
        .user_name(&user.name)
        .ssh_public_key_id(&id);
    ok(req.status(StatusType::Inactive).send().await);
    let got = ok(get(EncodingType::Ssh).await).ssh_public_key.expect("key");
    assert_eq!(got.status, StatusType::Inactive);

    // A user who still has keys can't be deleted.
    let req = iam.delete_access_key().user_name(&user.name);
    ok(req.access_key_id(&user.access_key_id).send().await);
    assert_eq!(
        outcome(iam.delete_user().user_name(&user.name).send().await),
        failed(
            "DeleteConflict",
            "Cannot delete entity, must delete SSH public keys first."
        )
    );
    let req = iam
        .delete_ssh_public_key()
        .user_name(&user.name)
        .ssh_public_key_id(&id);
    ok(req.send().await);
    assert_eq!(
        outcome(get(EncodingType::Ssh).await),
        failed(
            "NoSuchEntity",
            &format!("The SSH public key with id {id} cannot be found.")
        )
    );
    let list = ok(iam.list_ssh_public_keys().user_name(&user.name).send().await);
    assert!(list.ssh_public_keys.unwrap_or_default().is_empty());
    ok(iam.delete_user().user_name(&user.name).send().await);
}

#[tokio::test]
async fn a_pem_key_is_given_back_in_either_form() {
    let iam = server().iam_client();
    let user = server().user("ssh-pem", None).await;
    let key = upload(&user.name, PEM).await.expect("uploaded");
    assert_eq!(key.fingerprint, FINGERPRINT, "the same key as its OpenSSH form");
    let get = |encoding: EncodingType| {
        iam.get_ssh_public_key()
            .user_name(&user.name)
            .ssh_public_key_id(&key.ssh_public_key_id)
            .encoding(encoding)
            .send()
    };
    let as_ssh = ok(get(EncodingType::Ssh).await).ssh_public_key.expect("key");
    assert_eq!(as_ssh.ssh_public_key_body, without_comment(KEYS[0]));
    let as_pem = ok(get(EncodingType::Pem).await).ssh_public_key.expect("key");
    assert_eq!(as_pem.ssh_public_key_body, PEM);
    // The same key in its other form is the same key.
    assert_eq!(
        upload(&user.name, KEYS[0]).await.map(|_| ()),
        failed(
            "DuplicateSSHPublicKey",
            "The SSH public key is already associated with this user."
        )
    );
}

#[tokio::test]
async fn five_keys_per_user() {
    let user = server().user("ssh-quota", None).await;
    for key in &KEYS[..5] {
        upload(&user.name, key).await.expect("uploaded");
    }
    assert_eq!(
        upload(&user.name, KEYS[5]).await.map(|_| ()),
        failed("LimitExceeded", "Cannot exceed quota for SSHPublicKeysPerUser: 5")
    );
    // Another user may upload the same keys.
    let other = server().user("ssh-quota", None).await;
    upload(&other.name, KEYS[0]).await.expect("uploaded");
}

#[tokio::test]
async fn bad_bodies_and_unknown_names() {
    let user = server().user("ssh-bad", None).await;
    let code = |r: Result<aws_sdk_iam::types::SshPublicKey, Failure>| match r {
        Ok(_) => "uploaded".to_owned(),
        Err(e) => e.code,
    };
    assert_eq!(
        code(upload(&user.name, SHORT).await),
        "InvalidPublicKey",
        "1024 bits"
    );
    assert_eq!(
        code(upload(&user.name, "ssh-rsa AAAAB3Nza!!").await),
        "InvalidPublicKey"
    );
    assert_eq!(
        code(upload(&user.name, ED25519).await),
        "UnrecognizedPublicKeyEncoding"
    );
    let certificate = "-----BEGIN CERTIFICATE-----\nMIIBpzCCARACCQCY5yOdxCTrGjANBgkqhkiG9w0BAQsFADAXMRUwEwYDVQQKDAxt\n-----END CERTIFICATE-----";
    assert_eq!(
        code(upload(&user.name, certificate).await),
        "UnrecognizedPublicKeyEncoding"
    );
    assert_eq!(
        upload("nobody-ssh", KEYS[0]).await.map(|_| ()),
        failed("NoSuchEntity", "The user with name nobody-ssh cannot be found.")
    );
    let iam = server().iam_client();
    let req = iam
        .update_ssh_public_key()
        .user_name(&user.name)
        .ssh_public_key_id("APKAAAAAAAAAAAAAAAAA")
        .status(StatusType::Active);
    assert_eq!(
        outcome(req.send().await),
        failed(
            "NoSuchEntity",
            "The SSH public key with id APKAAAAAAAAAAAAAAAAA cannot be found."
        )
    );
}

#[tokio::test]
async fn ssh_keys_are_authorized_on_their_user() {
    let owner = server().user("ssh-owner", None).await;
    let caller = server().user("ssh-caller", None).await;
    let req = caller
        .iam()
        .upload_ssh_public_key()
        .user_name(&owner.name)
        .ssh_public_key_body(KEYS[0]);
    assert_eq!(
        outcome(req.send().await),
        denied(
            &caller.arn,
            "iam:UploadSSHPublicKey",
            Some(&owner.arn),
            Denial::NoIdentityPolicy
        )
    );
    let allowed = server()
        .user(
            "ssh-manager",
            Some(&allow(
                &["iam:UploadSSHPublicKey", "iam:ListSSHPublicKeys"],
                &[&owner.arn],
            )),
        )
        .await;
    let req = allowed
        .iam()
        .upload_ssh_public_key()
        .user_name(&owner.name)
        .ssh_public_key_body(KEYS[1]);
    ok(req.send().await);
    let list = ok(allowed
        .iam()
        .list_ssh_public_keys()
        .user_name(&owner.name)
        .send()
        .await);
    assert_eq!(list.ssh_public_keys.unwrap_or_default().len(), 1);
}
