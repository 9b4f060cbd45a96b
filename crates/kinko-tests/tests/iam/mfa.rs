//! Virtual MFA devices through the IAM API (CreateVirtualMFADevice, EnableMFADevice,
//! ResyncMFADevice, DeactivateMFADevice, DeleteVirtualMFADevice, GetMFADevice, ListMFADevices,
//! ListVirtualMFADevices) and MFA-authenticated STS sessions (GetSessionToken and AssumeRole with
//! `SerialNumber` and `TokenCode`), with `aws:MultiFactorAuthPresent` and
//! `aws:MultiFactorAuthAge` in policies.
//!
//! Codes are computed by the `totp-rs` crate from the seed the API returned, at the time of the
//! test's manual clock: the tests check kinko against an independent RFC 6238 implementation.

use std::time::Duration;

use aws_sdk_iam::primitives::Blob;
use aws_sdk_iam::types::{AssignmentStatusType, Tag};
use kinko_tests::*;
use serde_json::json;

use crate::*;

const INVALID_AUTHENTICATION_CODE: &str = "Authentication code for device is not valid.";
const MFA_INVALID_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";
const MFA_UNKNOWN_DEVICE: &str = "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.";

/// A virtual MFA device as CreateVirtualMFADevice returned it.
struct Device {
    serial_number: String,
    /// The base32 seed, as authenticator apps take it.
    seed: String,
}

impl Device {
    /// The code of the 30-second step `steps` away from the server's time now.
    fn code(&self, server: &TestServer, steps: i64) -> String {
        let secret = totp_rs::Secret::Encoded(self.seed.clone())
            .to_bytes()
            .expect("a base32 seed");
        let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 0, 30, secret).expect("TOTP");
        let at = server.now_secs() + steps * 30;
        totp.generate(u64::try_from(at).expect("after the epoch"))
    }
}

/// CreateVirtualMFADevice `name` as root of `server`.
async fn create_device(server: &TestServer, name: &str) -> Device {
    let out = ok(server
        .iam_client()
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .send()
        .await);
    let device = out.virtual_mfa_device.expect("VirtualMFADevice");
    let seed = device.base32_string_seed.expect("Base32StringSeed").into_inner();
    Device {
        serial_number: device.serial_number,
        seed: String::from_utf8(seed).expect("base32 text"),
    }
}

/// EnableMFADevice of `device` for `user` with the codes of the previous and the current step.
async fn enable(server: &TestServer, user: &str, device: &Device) {
    ok(server
        .iam_client()
        .enable_mfa_device()
        .user_name(user)
        .serial_number(&device.serial_number)
        .authentication_code1(device.code(server, -1))
        .authentication_code2(device.code(server, 0))
        .send()
        .await);
}

/// The serial numbers ListVirtualMFADevices lists with `status`.
async fn virtual_devices(server: &TestServer, status: AssignmentStatusType) -> Vec<String> {
    let out = ok(server
        .iam_client()
        .list_virtual_mfa_devices()
        .assignment_status(status)
        .send()
        .await);
    out.virtual_mfa_devices
        .into_iter()
        .map(|d| d.serial_number)
        .collect()
}

/// The same name under two paths is two devices: a device is its serial number, path included.
#[tokio::test]
async fn the_same_device_name_under_another_path_is_another_device() {
    let server = server();
    let iam = server.iam_client();
    let name = format!("phone-{}", short_id());
    let account = server.account_id();
    let mut serials = Vec::new();
    for path in ["/", "/paths/"] {
        let req = iam.create_virtual_mfa_device().virtual_mfa_device_name(&name);
        let out = ok(req.path(path).send().await);
        serials.push(out.virtual_mfa_device.expect("VirtualMFADevice").serial_number);
    }
    assert_eq!(
        serials,
        [
            format!("arn:aws:iam::{account}:mfa/{name}"),
            format!("arn:aws:iam::{account}:mfa/paths/{name}")
        ]
    );
    let listed = virtual_devices(server, AssignmentStatusType::Any).await;
    assert!(serials.iter().all(|s| listed.contains(s)), "{listed:?}");
    for serial in serials {
        ok(iam.delete_virtual_mfa_device().serial_number(serial).send().await);
    }
}

/// A device made, assigned, listed, refused while in use, and deleted, with AWS's answers at
/// each step.
#[tokio::test]
async fn a_virtual_mfa_device_is_created_assigned_and_deleted() {
    let (server, _) = TestServer::start_manual().await;
    let iam = server.iam_client();
    let account = server.account_id().to_owned();
    let user = server.user_named("mfa-owner", None).await;
    let out = ok(iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("phone")
        .path("/team/")
        .tags(Tag::builder().key("team").value("ops").build().expect("tag"))
        .send()
        .await);
    let device = out.virtual_mfa_device.expect("VirtualMFADevice");
    let serial = format!("arn:aws:iam::{account}:mfa/team/phone");
    assert_eq!(device.serial_number, serial);
    let seed = device.base32_string_seed.clone().expect("seed").into_inner();
    assert_eq!(seed.len(), 64, "a 320-bit seed in base32");
    assert!(
        seed.iter()
            .all(|c| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(c))
    );
    let png = device.qr_code_png.clone().expect("QRCodePNG").into_inner();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(device.tags().len(), 1);
    let device = Device {
        serial_number: serial.clone(),
        seed: String::from_utf8(seed).expect("base32"),
    };

    // Names are unique within a path, whatever their case.
    let again = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("PHONE")
        .path("/team/")
        .send()
        .await;
    assert_eq!(
        outcome(again),
        failed(
            "EntityAlreadyExists",
            "MFADevice entity at the same path and name already exists."
        )
    );
    assert_eq!(
        virtual_devices(&server, AssignmentStatusType::Unassigned).await,
        std::slice::from_ref(&serial)
    );
    assert!(
        virtual_devices(&server, AssignmentStatusType::Assigned)
            .await
            .is_empty()
    );

    enable(&server, &user.name, &device).await;
    let listed = ok(iam.list_mfa_devices().user_name(&user.name).send().await);
    assert_eq!(listed.mfa_devices.len(), 1);
    assert_eq!(listed.mfa_devices[0].serial_number, serial);
    assert_eq!(listed.mfa_devices[0].user_name, user.name);
    // The user lists their own devices without naming themselves.
    let own = ok(iam_as(&server, &user, &["iam:ListMFADevices"])
        .await
        .list_mfa_devices()
        .send()
        .await);
    assert_eq!(own.mfa_devices.len(), 1);
    let got = ok(iam
        .get_mfa_device()
        .user_name(&user.name)
        .serial_number(&serial)
        .send()
        .await);
    assert_eq!(got.serial_number, serial);
    assert_eq!(got.user_name.as_deref(), Some(user.name.as_str()));
    assert!(got.enable_date.is_some());
    let assigned = ok(iam
        .list_virtual_mfa_devices()
        .assignment_status(AssignmentStatusType::Assigned)
        .send()
        .await);
    let entry = &assigned.virtual_mfa_devices[0];
    assert_eq!(entry.serial_number, serial);
    assert_eq!(
        entry.user.as_ref().map(|u| u.arn.as_str()),
        Some(user.arn.as_str())
    );
    assert!(entry.base32_string_seed.is_none() && entry.qr_code_png.is_none());

    // In use: not assignable again, not deletable, and the user can't be deleted.
    let other = server.user_named("mfa-other", None).await;
    let taken = iam
        .enable_mfa_device()
        .user_name(&other.name)
        .serial_number(&serial)
        .authentication_code1(device.code(&server, 0))
        .authentication_code2(device.code(&server, 1))
        .send()
        .await;
    assert_eq!(
        outcome(taken),
        failed("EntityAlreadyExists", "MFA Device is already in use.")
    );
    let delete = iam
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await;
    assert_eq!(outcome(delete), failed("DeleteConflict", "MFA Device is in use."));
    // Its other dependents gone, the user is still kept by the device.
    let keys = ok(iam.list_access_keys().user_name(&user.name).send().await);
    for k in keys.access_key_metadata {
        let id = k.access_key_id.expect("id");
        ok(iam
            .delete_access_key()
            .user_name(&user.name)
            .access_key_id(id)
            .send()
            .await);
    }
    ok(iam
        .delete_user_policy()
        .user_name(&user.name)
        .policy_name("mfa-actions")
        .send()
        .await);
    let delete_user = iam.delete_user().user_name(&user.name).send().await;
    assert_eq!(
        outcome(delete_user),
        failed(
            "DeleteConflict",
            "Cannot delete entity, must delete MFA device first."
        )
    );
    // Only the user it is assigned to can deactivate it.
    let wrong_user = iam
        .deactivate_mfa_device()
        .user_name(&other.name)
        .serial_number(&serial)
        .send()
        .await;
    let not_found = format!("VirtualMFADevice with serial number {serial} doesn't exist.");
    assert_eq!(outcome(wrong_user), failed("NoSuchEntity", &not_found));

    ok(iam
        .deactivate_mfa_device()
        .user_name(&user.name)
        .serial_number(&serial)
        .send()
        .await);
    let listed = ok(iam.list_mfa_devices().user_name(&user.name).send().await);
    assert!(listed.mfa_devices.is_empty());
    ok(iam
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await);
    let gone = iam
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await;
    assert_eq!(outcome(gone), failed("NoSuchEntity", &not_found));
    assert!(
        virtual_devices(&server, AssignmentStatusType::Any)
            .await
            .is_empty()
    );
    ok(iam.delete_user().user_name(&user.name).send().await);
    server.shutdown().await;
}

/// An IAM client of `user` after attaching a policy allowing `actions` on everything.
async fn iam_as(server: &TestServer, user: &Principal<'_>, actions: &[&str]) -> aws_sdk_iam::Client {
    ok(server
        .iam_client()
        .put_user_policy()
        .user_name(&user.name)
        .policy_name("mfa-actions")
        .policy_document(allow(actions, &["*"]))
        .send()
        .await);
    user.iam()
}

/// EnableMFADevice and ResyncMFADevice take two consecutive codes of the device, each once; a
/// malformed code is a validation error that does not echo it.
#[tokio::test]
async fn enabling_and_resyncing_take_two_fresh_consecutive_codes() {
    let (server, manual) = TestServer::start_manual().await;
    let iam = server.iam_client();
    let user = server.user_named("mfa-codes", None).await;
    let device = create_device(&server, "codes").await;
    let attempt = |code1: String, code2: String| {
        iam.enable_mfa_device()
            .user_name(&user.name)
            .serial_number(&device.serial_number)
            .authentication_code1(code1)
            .authentication_code2(code2)
            .send()
    };
    let refused = failed("InvalidAuthenticationCode", INVALID_AUTHENTICATION_CODE);
    let (previous, current) = (device.code(&server, -1), device.code(&server, 0));
    // Swapped, repeated, or one wrong digit: not two consecutive codes.
    assert_eq!(outcome(attempt(current.clone(), previous.clone()).await), refused);
    assert_eq!(outcome(attempt(current.clone(), current.clone()).await), refused);
    let wrong = format!("{:06}", (current.parse::<u32>().expect("digits") + 1) % 1_000_000);
    assert_eq!(outcome(attempt(previous.clone(), wrong).await), refused);
    let malformed = attempt("12ab56".into(), current.clone()).await;
    let message = validation(&format!(
        "Value at 'authenticationCode1' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
        r"[\d]+"
    ));
    assert_eq!(outcome(malformed), failed("ValidationError", &message));
    ok(attempt(previous.clone(), current.clone()).await);

    // The codes are used: resynchronizing with them again is refused, new ones are accepted.
    let resync = |code1: String, code2: String| {
        iam.resync_mfa_device()
            .user_name(&user.name)
            .serial_number(&device.serial_number)
            .authentication_code1(code1)
            .authentication_code2(code2)
            .send()
    };
    assert_eq!(outcome(resync(previous, current).await), refused);
    manual.advance(Duration::from_secs(60));
    ok(resync(device.code(&server, -1), device.code(&server, 0)).await);
    server.shutdown().await;
}

/// A user allowed to read a secret only in a session made with MFA, for five minutes after it.
fn mfa_read_policy(arn: &str) -> String {
    policy_document(&[json!({
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": arn,
        "Condition": {
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThan": {"aws:MultiFactorAuthAge": "300"},
        },
    })])
}

/// GetSessionToken with the user's device and a code: the session carries
/// `aws:MultiFactorAuthPresent` and `aws:MultiFactorAuthAge`, and may call IAM; a wrong, used or
/// foreign code is AWS's AccessDenied.
#[tokio::test]
async fn get_session_token_with_a_code_makes_an_mfa_session() {
    let (server, manual) = TestServer::start_manual().await;
    let (arn, _) = server.client().create_string("mfa/guarded", "v").await;
    let user = server
        .user_named("mfa-session", Some(&mfa_read_policy(&arn)))
        .await;
    let device = create_device(&server, "session").await;
    enable(&server, &user.name, &device).await;
    let read_as = |c: &TestCredentials| server.client_as(c).get_secret_value().secret_id(&arn).send();
    let denied = failed(
        "AccessDeniedException",
        &access_denied(
            &user.arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            Denial::NoIdentityPolicy,
        ),
    );
    // Long-term keys have no MFA; nor does a session made without a code.
    assert_eq!(outcome(read_as(&user.creds).await), denied);
    let plain = ok(user.sts().get_session_token().send().await)
        .credentials
        .expect("Credentials");
    let plain = TestCredentials::from(&plain);
    assert_eq!(outcome(read_as(&plain).await), denied);
    let iam_without_mfa = server.iam_client_as(&plain).get_user().send().await;
    assert_eq!(error_code(iam_without_mfa), "InvalidClientTokenId");

    manual.advance(Duration::from_secs(30));
    let with_code = |code: String| {
        user.sts()
            .get_session_token()
            .serial_number(&device.serial_number)
            .token_code(code)
            .send()
    };
    let mfa = ok(with_code(device.code(&server, 0)).await)
        .credentials
        .expect("Credentials");
    let mfa = TestCredentials::from(&mfa);
    ok(read_as(&mfa).await);
    // With MFA, the session may call IAM (as far as its policies allow).
    let get_user = server.iam_client_as(&mfa).get_user().send().await;
    assert_eq!(error_code(get_user), "AccessDenied");

    // The same code again, a wrong one, and a device that is not the user's.
    assert_eq!(
        outcome(with_code(device.code(&server, 0)).await),
        failed("AccessDenied", MFA_INVALID_CODE)
    );
    let wrong = format!(
        "{:06}",
        (device.code(&server, 0).parse::<u32>().expect("digits") + 7) % 1_000_000
    );
    assert_eq!(
        outcome(with_code(wrong).await),
        failed("AccessDenied", MFA_INVALID_CODE)
    );
    let unassigned = create_device(&server, "spare").await;
    let foreign = user
        .sts()
        .get_session_token()
        .serial_number(&unassigned.serial_number)
        .token_code(unassigned.code(&server, 0))
        .send()
        .await;
    assert_eq!(outcome(foreign), failed("AccessDenied", MFA_UNKNOWN_DEVICE));

    // aws:MultiFactorAuthAge counts from the code: past five minutes the condition fails.
    manual.advance(Duration::from_secs(299));
    ok(read_as(&mfa).await);
    manual.advance(Duration::from_secs(2));
    assert_eq!(outcome(read_as(&mfa).await), denied);
    server.shutdown().await;
}

/// A role whose trust policy asks for MFA can be assumed only with a code (or from an MFA
/// session); its session then carries MFA too.
#[tokio::test]
async fn assume_role_with_a_code_satisfies_a_trust_policy_asking_for_mfa() {
    let (server, manual) = TestServer::start_manual().await;
    let (arn, _) = server.client().create_string("mfa/role-guarded", "v").await;
    let account = server.account_id().to_owned();
    let trust = policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": root_arn(&account)},
        "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    })]);
    let role = server
        .role("mfa-role", &trust, Some(&mfa_read_policy(&arn)))
        .await;
    let user = server
        .user_named("mfa-assumer", Some(&allow(&["sts:AssumeRole"], &[&role])))
        .await;
    let device = create_device(&server, "assumer").await;
    enable(&server, &user.name, &device).await;
    manual.advance(Duration::from_secs(30));

    let plain = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("plain")
        .send()
        .await;
    assert_eq!(
        outcome(plain),
        failed(
            "AccessDenied",
            &access_denied(&user.arn, "sts:AssumeRole", Some(&role), Denial::NoTrustPolicy)
        )
    );
    let wrong = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("wrong")
        .serial_number(&device.serial_number)
        .token_code("000000")
        .send()
        .await;
    // One in a million: the fixed code could be the right one.
    if device.code(&server, 0) != "000000" && device.code(&server, -1) != "000000" {
        assert_eq!(outcome(wrong), failed("AccessDenied", MFA_INVALID_CODE));
    }
    let creds = ok(user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("with-mfa")
        .serial_number(&device.serial_number)
        .token_code(device.code(&server, 0))
        .send()
        .await)
    .credentials
    .expect("Credentials");
    let session = TestCredentials::from(&creds);
    ok(server
        .client_as(&session)
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await);

    // An MFA session of the user may assume it without another code.
    manual.advance(Duration::from_secs(30));
    let mfa = ok(user
        .sts()
        .get_session_token()
        .serial_number(&device.serial_number)
        .token_code(device.code(&server, 0))
        .send()
        .await)
    .credentials
    .expect("Credentials");
    let mfa = TestCredentials::from(&mfa);
    let chained = server
        .sts_client_as(&mfa)
        .assume_role()
        .role_arn(&role)
        .role_session_name("from-mfa-session")
        .send()
        .await;
    ok(chained);
    server.shutdown().await;
}

/// The MFA actions are authorized through the one path: CreateVirtualMFADevice and
/// DeleteVirtualMFADevice on the device's ARN, the others on the user.
#[tokio::test]
async fn mfa_actions_are_authorized_on_the_device_or_the_user() {
    let server = server();
    let p = short_id();
    let caller = server.user(&format!("mfa-caller-{p}"), None).await;
    let device_arn = format!("arn:aws:iam::{DEV_ACCOUNT}:mfa/dev-{p}");
    let create = caller
        .iam()
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(format!("dev-{p}"))
        .send()
        .await;
    assert_eq!(
        outcome(create),
        denied(
            &caller.arn,
            "iam:CreateVirtualMFADevice",
            Some(&device_arn),
            Denial::NoIdentityPolicy
        )
    );
    let delete = caller
        .iam()
        .delete_virtual_mfa_device()
        .serial_number(&device_arn)
        .send()
        .await;
    assert_eq!(
        outcome(delete),
        denied(
            &caller.arn,
            "iam:DeleteVirtualMFADevice",
            Some(&device_arn),
            Denial::NoIdentityPolicy
        )
    );
    let target = server.user(&format!("mfa-target-{p}"), None).await;
    let enable = caller
        .iam()
        .enable_mfa_device()
        .user_name(&target.name)
        .serial_number(&device_arn)
        .authentication_code1("123456")
        .authentication_code2("234567")
        .send()
        .await;
    assert_eq!(
        outcome(enable),
        denied(
            &caller.arn,
            "iam:EnableMFADevice",
            Some(&target.arn),
            Denial::NoIdentityPolicy
        )
    );
    let list = caller
        .iam()
        .list_mfa_devices()
        .user_name(&target.name)
        .send()
        .await;
    assert_eq!(
        outcome(list),
        denied(
            &caller.arn,
            "iam:ListMFADevices",
            Some(&target.arn),
            Denial::NoIdentityPolicy
        )
    );
    let list_virtual = caller.iam().list_virtual_mfa_devices().send().await;
    assert_eq!(
        outcome(list_virtual),
        denied(
            &caller.arn,
            "iam:ListVirtualMFADevices",
            None,
            Denial::NoIdentityPolicy
        )
    );
    // Allowed on its own devices only, a caller makes those and nothing else.
    let own = allow(
        &["iam:CreateVirtualMFADevice"],
        &[&format!("arn:aws:iam::{DEV_ACCOUNT}:mfa/own-{p}-*")],
    );
    let iam = server.iam_client();
    ok(iam
        .put_user_policy()
        .user_name(&caller.name)
        .policy_name("own-devices")
        .policy_document(own)
        .send()
        .await);
    let mine = caller
        .iam()
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(format!("own-{p}-phone"))
        .send()
        .await;
    let serial = ok(mine).virtual_mfa_device.expect("device").serial_number;
    ok(iam.delete_virtual_mfa_device().serial_number(serial).send().await);
}

/// The audit trail records the MFA calls without the seed, the QR code or any code.
#[tokio::test]
async fn audit_records_never_hold_seeds_or_codes() {
    let audited = AuditedServer::start().await;
    let server = &audited.server;
    let user = server.user_named("mfa-audited", None).await;
    let out = ok(server
        .iam_client()
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("audited")
        .send()
        .await);
    let device = out.virtual_mfa_device.expect("device");
    let seed = device.base32_string_seed.expect("seed").into_inner();
    let png = device.qr_code_png.map(Blob::into_inner).expect("png");
    let device = Device {
        serial_number: device.serial_number,
        seed: String::from_utf8(seed.clone()).expect("base32"),
    };
    let (code1, code2) = (device.code(server, -1), device.code(server, 0));
    ok(server
        .iam_client()
        .enable_mfa_device()
        .user_name(&user.name)
        .serial_number(&device.serial_number)
        .authentication_code1(&code1)
        .authentication_code2(&code2)
        .send()
        .await);
    let log = audited.stop().await;
    log.assert_absent(&seed, "the seed");
    log.assert_absent(&png[png.len() - 64..], "the QR code");
    let names: Vec<&str> = log
        .records
        .iter()
        .filter_map(|r| r["eventName"].as_str())
        .collect();
    assert!(names.contains(&"EnableMFADevice"), "{names:?}");
    for r in &log.records {
        if r["eventName"] == "EnableMFADevice" {
            let params = &r["requestParameters"];
            assert_eq!(params["serialNumber"], device.serial_number.as_str());
            assert!(params.get("authenticationCode1").is_none(), "{params}");
            assert!(params.get("authenticationCode2").is_none(), "{params}");
        }
    }
}

/// AWS's "deny unless signed in with MFA" policy (IAM User Guide, "AWS: Allows MFA-authenticated
/// IAM users to manage their own MFA device"): a Deny of everything but the MFA self-service
/// actions and GetSessionToken on `BoolIfExists` `aws:MultiFactorAuthPresent` `false`. The user's
/// access keys (no MFA key at all) may only set up their own device; a session without a code is
/// denied like them; a session made with a code of that device is let through.
#[tokio::test]
async fn a_deny_unless_mfa_policy_lets_only_mfa_sessions_through() {
    let (server, manual) = TestServer::start_manual().await;
    let (arn, _) = server.client().create_string("mfa/deny-unless", "v").await;
    let self_service = [
        "iam:CreateVirtualMFADevice",
        "iam:EnableMFADevice",
        "iam:GetUser",
        "iam:ListMFADevices",
        "iam:ListVirtualMFADevices",
        "iam:ResyncMFADevice",
        "sts:GetSessionToken",
    ];
    let policy = policy_document(&[
        statement("Allow", &self_service, &["*"]),
        statement("Allow", &["secretsmanager:GetSecretValue"], &[&arn]),
        json!({
            "Sid": "BlockMostAccessUnlessSignedInWithMFA",
            "Effect": "Deny",
            "NotAction": self_service,
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        }),
    ]);
    let user = server.user_named("mfa-deny-unless", Some(&policy)).await;
    let read_as = |c: &TestCredentials| server.client_as(c).get_secret_value().secret_id(&arn).send();
    let denied = failed(
        "AccessDeniedException",
        &access_denied(
            &user.arn,
            "secretsmanager:GetSecretValue",
            Some(&arn),
            Denial::ExplicitIdentity,
        ),
    );
    assert_eq!(outcome(read_as(&user.creds).await), denied);

    // With its access keys, the user sets up its own device (the Deny leaves these actions out).
    let iam = user.iam();
    let out = ok(iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("mfa-deny-unless")
        .send()
        .await);
    let created = out.virtual_mfa_device.expect("VirtualMFADevice");
    let device = Device {
        seed: String::from_utf8(created.base32_string_seed.expect("Base32StringSeed").into_inner())
            .expect("base32 text"),
        serial_number: created.serial_number,
    };
    ok(iam
        .enable_mfa_device()
        .user_name(&user.name)
        .serial_number(&device.serial_number)
        .authentication_code1(device.code(&server, -1))
        .authentication_code2(device.code(&server, 0))
        .send()
        .await);
    let listed = ok(iam.list_mfa_devices().send().await);
    assert_eq!(listed.mfa_devices.len(), 1);
    assert_eq!(listed.mfa_devices[0].serial_number, device.serial_number);

    // A session without a code: `false`, denied.
    let plain = ok(user.sts().get_session_token().send().await)
        .credentials
        .expect("Credentials");
    assert_eq!(outcome(read_as(&TestCredentials::from(&plain)).await), denied);

    // A session with a code: `true`, let through.
    manual.advance(Duration::from_secs(30));
    let mfa = ok(user
        .sts()
        .get_session_token()
        .serial_number(&device.serial_number)
        .token_code(device.code(&server, 0))
        .send()
        .await)
    .credentials
    .expect("Credentials");
    ok(read_as(&TestCredentials::from(&mfa)).await);
    // The access keys stay denied.
    assert_eq!(outcome(read_as(&user.creds).await), denied);
    server.shutdown().await;
}

/// EnableMFADevice of `device` for the root user itself (no `UserName`), as root.
async fn enable_for_root(server: &TestServer, device: &Device) {
    ok(server
        .iam_client()
        .enable_mfa_device()
        .serial_number(&device.serial_number)
        .authentication_code1(device.code(server, -1))
        .authentication_code2(device.code(server, 0))
        .send()
        .await);
}

/// The root user's own device: made, assigned to the root user without `UserName`, listed
/// (ListMFADevices and GetMFADevice without `UserName`, ListVirtualMFADevices showing the root user
/// by account id and ARN), kept from users while in use, and deactivated, with AWS's answers.
#[tokio::test]
async fn the_root_user_assigns_lists_and_deactivates_its_own_device() {
    let (server, _) = TestServer::start_manual().await;
    let iam = server.iam_client();
    let account = server.account_id().to_owned();
    let device = create_device(&server, "root-account-mfa-device").await;
    let serial = format!("arn:aws:iam::{account}:mfa/root-account-mfa-device");
    assert_eq!(device.serial_number, serial);

    let attempt = |code1: String, code2: String| {
        iam.enable_mfa_device()
            .serial_number(&serial)
            .authentication_code1(code1)
            .authentication_code2(code2)
            .send()
    };
    let (previous, current) = (device.code(&server, -1), device.code(&server, 0));
    assert_eq!(
        outcome(attempt(current.clone(), previous.clone()).await),
        failed("InvalidAuthenticationCode", INVALID_AUTHENTICATION_CODE)
    );
    ok(attempt(previous, current).await);

    let listed = ok(iam.list_mfa_devices().send().await);
    assert_eq!(listed.mfa_devices.len(), 1);
    assert_eq!(listed.mfa_devices[0].serial_number, serial);
    // The root user has no user name: the member is left out, which the SDK reads as empty.
    assert_eq!(listed.mfa_devices[0].user_name, "");
    let got = ok(iam.get_mfa_device().serial_number(&serial).send().await);
    assert_eq!(got.serial_number, serial);
    assert_eq!(got.user_name, None);
    assert!(got.enable_date.is_some());
    let assigned = ok(iam
        .list_virtual_mfa_devices()
        .assignment_status(AssignmentStatusType::Assigned)
        .send()
        .await);
    assert_eq!(assigned.virtual_mfa_devices.len(), 1);
    let entry = &assigned.virtual_mfa_devices[0];
    assert_eq!(entry.serial_number, serial);
    let root = entry.user.as_ref().expect("User");
    assert_eq!(root.arn, root_arn(&account));
    assert_eq!(root.user_id, account);
    assert_eq!(root.user_name, "");
    assert!(entry.enable_date.is_some());
    assert!(
        virtual_devices(&server, AssignmentStatusType::Unassigned)
            .await
            .is_empty()
    );

    // Not a user's: not in a user's list, not assignable to one, not deactivated as one's.
    let user = server.user_named("mfa-beside-root", None).await;
    let users = ok(iam.list_mfa_devices().user_name(&user.name).send().await);
    assert!(users.mfa_devices.is_empty());
    let taken = iam
        .enable_mfa_device()
        .user_name(&user.name)
        .serial_number(&serial)
        .authentication_code1(device.code(&server, 1))
        .authentication_code2(device.code(&server, 2))
        .send()
        .await;
    assert_eq!(
        outcome(taken),
        failed("EntityAlreadyExists", "MFA Device is already in use.")
    );
    let not_found = format!("VirtualMFADevice with serial number {serial} doesn't exist.");
    let as_users = iam
        .deactivate_mfa_device()
        .user_name(&user.name)
        .serial_number(&serial)
        .send()
        .await;
    assert_eq!(outcome(as_users), failed("NoSuchEntity", &not_found));
    let delete = iam
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await;
    assert_eq!(outcome(delete), failed("DeleteConflict", "MFA Device is in use."));

    ok(iam.deactivate_mfa_device().serial_number(&serial).send().await);
    assert!(ok(iam.list_mfa_devices().send().await).mfa_devices.is_empty());
    let again = iam.deactivate_mfa_device().serial_number(&serial).send().await;
    assert_eq!(outcome(again), failed("NoSuchEntity", &not_found));
    ok(iam
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await);
    server.shutdown().await;
}

/// Only the root user assigns a device to itself by naming no user: an IAM user must name the
/// user (AWS's model requires `UserName`), and a role session has no devices of its own.
#[tokio::test]
async fn only_the_root_user_may_leave_out_the_user_name_when_enabling() {
    let (server, _) = TestServer::start_manual().await;
    let user = server.user_named("mfa-unnamed", None).await;
    let device = create_device(&server, "unnamed").await;
    let client = iam_as(&server, &user, &["iam:EnableMFADevice"]).await;
    let unnamed = client
        .enable_mfa_device()
        .serial_number(&device.serial_number)
        .authentication_code1(device.code(&server, -1))
        .authentication_code2(device.code(&server, 0))
        .send()
        .await;
    assert_eq!(
        outcome(unnamed),
        failed(
            "ValidationError",
            &validation("Value null at 'userName' failed to satisfy constraint: Member must not be null")
        )
    );
    let unassigned = virtual_devices(&server, AssignmentStatusType::Unassigned).await;
    assert_eq!(unassigned, std::slice::from_ref(&device.serial_number));
    server.shutdown().await;
}

/// The root user may have eight devices, as an IAM user may.
#[tokio::test]
async fn the_root_user_may_have_eight_devices() {
    let (server, _) = TestServer::start_manual().await;
    for n in 0..8 {
        let device = create_device(&server, &format!("root-{n}")).await;
        enable_for_root(&server, &device).await;
    }
    let ninth = create_device(&server, "root-8").await;
    let refused = server
        .iam_client()
        .enable_mfa_device()
        .serial_number(&ninth.serial_number)
        .authentication_code1(ninth.code(&server, -1))
        .authentication_code2(ninth.code(&server, 0))
        .send()
        .await;
    assert_eq!(
        outcome(refused),
        failed("LimitExceeded", "Cannot exceed quota for MFADevicesPerUser: 8")
    );
    assert_eq!(
        ok(server.iam_client().list_mfa_devices().send().await)
            .mfa_devices
            .len(),
        8
    );
    server.shutdown().await;
}

/// A resource policy that denies the root user reading the secret unless in a session made with
/// MFA within five minutes (the root user's own permissions are not policies to condition).
fn root_mfa_resource_policy(account: &str) -> String {
    let deny = |condition: serde_json::Value| {
        json!({
            "Effect": "Deny",
            "Principal": {"AWS": root_arn(account)},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
            "Condition": condition,
        })
    };
    policy_document(&[
        deny(json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})),
        deny(json!({"NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "300"}})),
    ])
}

/// GetSessionToken by the root user with its device and a code makes an MFA session (which may
/// call IAM, as a session without MFA may not, and carries `aws:MultiFactorAuthPresent` and
/// `aws:MultiFactorAuthAge`); a used code, or a device that is not the root user's, is AWS's
/// AccessDenied.
#[tokio::test]
async fn get_session_token_as_root_with_a_code_makes_an_mfa_session() {
    let (server, manual) = TestServer::start_manual().await;
    let account = server.account_id().to_owned();
    let (arn, _) = server.client().create_string("mfa/root-guarded", "v").await;
    ok(server
        .client()
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(root_mfa_resource_policy(&account))
        .send()
        .await);
    let device = create_device(&server, "root-session").await;
    enable_for_root(&server, &device).await;
    let read_as = |c: &TestCredentials| server.client_as(c).get_secret_value().secret_id(&arn).send();
    let sts = server.sts_client();
    let plain = ok(sts.get_session_token().send().await)
        .credentials
        .expect("Credentials");
    let plain = TestCredentials::from(&plain);
    let iam_without_mfa = server.iam_client_as(&plain).list_mfa_devices().send().await;
    assert_eq!(error_code(iam_without_mfa), "InvalidClientTokenId");
    assert_eq!(error_code(read_as(&plain).await), "AccessDeniedException");
    assert_eq!(
        error_code(read_as(&server.root_credentials()).await),
        "AccessDeniedException"
    );

    manual.advance(Duration::from_secs(30));
    let with_code = |serial: String, code: String| {
        sts.get_session_token()
            .serial_number(serial)
            .token_code(code)
            .send()
    };
    let mfa = ok(with_code(device.serial_number.clone(), device.code(&server, 0)).await)
        .credentials
        .expect("Credentials");
    let mfa = TestCredentials::from(&mfa);
    let listed = ok(server.iam_client_as(&mfa).list_mfa_devices().send().await);
    assert_eq!(listed.mfa_devices.len(), 1);
    ok(read_as(&mfa).await);
    assert_eq!(
        outcome(with_code(device.serial_number.clone(), device.code(&server, 0)).await),
        failed("AccessDenied", MFA_INVALID_CODE)
    );
    // A device of a user is not the root user's.
    let user = server.user_named("mfa-not-root", None).await;
    let users = create_device(&server, "users-device").await;
    enable(&server, &user.name, &users).await;
    assert_eq!(
        outcome(with_code(users.serial_number.clone(), users.code(&server, 1)).await),
        failed("AccessDenied", MFA_UNKNOWN_DEVICE)
    );
    // aws:MultiFactorAuthAge counts from the code: past five minutes the deny applies.
    manual.advance(Duration::from_secs(299));
    ok(read_as(&mfa).await);
    manual.advance(Duration::from_secs(2));
    assert_eq!(error_code(read_as(&mfa).await), "AccessDeniedException");
    server.shutdown().await;
}
