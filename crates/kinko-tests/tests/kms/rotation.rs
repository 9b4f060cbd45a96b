//! Key rotation: Enable/DisableKeyRotation and its period, RotateKeyOnDemand, automatic rotation
//! by the background jobs on a manual clock, ListKeyRotations, and ciphertexts (and secrets)
//! staying readable across rotations.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{IncludeKeyMaterial, RotationsListEntry};
use kinko_tests::*;

use crate::{account, kms};

/// `(RotationType, KeyMaterialState)` of each entry, as strings.
fn kinds(entries: &[RotationsListEntry]) -> Vec<(String, String)> {
    let kind = |e: &RotationsListEntry| {
        let t = e.rotation_type.as_ref().map(|t| t.as_str().to_owned());
        let s = e.key_material_state.as_ref().map(|s| s.as_str().to_owned());
        (t.unwrap_or_default(), s.unwrap_or_default())
    };
    entries.iter().map(kind).collect()
}

/// `[(type, state)]` as owned strings.
fn expect_kinds(kinds: &[(&str, &str)]) -> Vec<(String, String)> {
    let own = |(t, s): &(&str, &str)| ((*t).to_owned(), (*s).to_owned());
    kinds.iter().map(own).collect()
}

/// The key material ids of `entries`, in order.
fn materials(entries: &[RotationsListEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.key_material_id.clone().unwrap_or_default())
        .collect()
}

async fn enable_rotation(client: &Client, key: &str, days: i32) {
    let req = client
        .enable_key_rotation()
        .key_id(key)
        .rotation_period_in_days(days);
    req.send().await.expect("EnableKeyRotation");
}

async fn rotate(client: &Client, key: &str) {
    ok(client.rotate_key_on_demand().key_id(key).send().await);
}

#[tokio::test]
async fn rotation_is_off_until_enabled_for_365_days_by_default() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let s = client.rotation_status(&key).await;
    assert!(!s.key_rotation_enabled);
    assert_eq!(s.key_id.as_deref(), Some(key.as_str()));
    assert!(s.next_rotation_date.is_none());
    ok(client.enable_key_rotation().key_id(&key).send().await);
    let s = client.rotation_status(&key).await;
    assert!(s.key_rotation_enabled);
    assert_eq!(s.rotation_period_in_days, Some(365));
    let next = s.next_rotation_date.expect("NextRotationDate").secs();
    assert!((now_secs() + 364 * DAY..=now_secs() + 366 * DAY).contains(&next));
}

#[tokio::test]
async fn rotation_period_is_90_to_2560_days() {
    let client = kms();
    let (key, _) = client.new_key().await;
    enable_rotation(&client, &key, 90).await;
    let s = client.rotation_status(&key).await;
    assert!(s.key_rotation_enabled);
    assert_eq!(s.rotation_period_in_days, Some(90));
    assert!(s.next_rotation_date.is_some());
    for (days, message) in [
        (89, model_min_value("rotationPeriodInDays", 89, 90)),
        (2561, model_max_value("rotationPeriodInDays", 2561, 2560)),
    ] {
        let req = client
            .enable_key_rotation()
            .key_id(&key)
            .rotation_period_in_days(days);
        assert_eq!(outcome(req.send().await), failed("ValidationException", &message));
    }
    enable_rotation(&client, &key, 2560).await;
}

/// Each rotation gives the key a new current material; results name the material they used, and
/// old ciphertexts decrypt with theirs.
#[tokio::test]
async fn rotated_keys_keep_decrypting_old_ciphertexts() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let first = client.material(&key).await;
    let old = client.encrypt_with(&key, b"before", &[("v", "1")]).await;
    let r = ok(client.rotate_key_on_demand().key_id(&key).send().await);
    assert_eq!(r.key_id.as_deref(), Some(key.as_str()));
    let second = client.material(&key).await;
    assert_ne!(first, second);
    let new = client.encrypt_with(&key, b"after", &[]).await;
    // The blobs name different material versions.
    assert_ne!(old.as_ref()[..44], new.as_ref()[..44]);
    let dk = client.generate_data_key().key_id(&key).number_of_bytes(16);
    let dk = dk.send().await;
    assert_eq!(
        dk.expect("GenerateDataKey").key_material_id.as_deref(),
        Some(second.as_str())
    );
    rotate(&client, &key).await;
    let third = client.material(&key).await;
    assert!(third != first && third != second);
    let d = client.decrypt_with(&old, &[("v", "1")]).await;
    assert_eq!(d.plaintext.expect("p").as_ref(), b"before");
    assert_eq!(d.key_material_id.as_deref(), Some(first.as_str()));
    let wrong = client.try_decrypt(&old, None, &[("v", "2")]).await;
    assert_eq!(wrong, failed_without_message("InvalidCiphertextException"));
    let d = client.decrypt_with(&new, &[]).await;
    assert_eq!(d.plaintext.expect("p").as_ref(), b"after");
    assert_eq!(d.key_material_id.as_deref(), Some(second.as_str()));
    let re = client
        .re_encrypt()
        .ciphertext_blob(old)
        .source_encryption_context("v", "1");
    let re = ok(re.destination_key_id(&key).send().await);
    assert_eq!(re.source_key_material_id.as_deref(), Some(first.as_str()));
    assert_eq!(re.destination_key_material_id.as_deref(), Some(third.as_str()));
    let d = client.decrypt_with(&re.ciphertext_blob.expect("blob"), &[]).await;
    assert_eq!(d.key_material_id.as_deref(), Some(third.as_str()));
}

/// DisableKeyRotation clears the next date; on-demand rotation doesn't need automatic rotation.
#[tokio::test]
async fn disabled_rotation_still_allows_rotation_on_demand() {
    let client = kms();
    let (key, _) = client.new_key().await;
    enable_rotation(&client, &key, 90).await;
    ok(client.disable_key_rotation().key_id(&key).send().await);
    let s = client.rotation_status(&key).await;
    assert!(!s.key_rotation_enabled);
    assert!(s.next_rotation_date.is_none());
    rotate(&client, &key).await;
}

#[tokio::test]
async fn rotation_of_unknown_keys_is_not_found() {
    let client = kms();
    let not_found = key_not_found(&key_arn(&account(), UNKNOWN_KEY));
    let enable = client.enable_key_rotation().key_id(UNKNOWN_KEY).send().await;
    assert_eq!(outcome(enable), not_found);
    let status = client.get_key_rotation_status().key_id(UNKNOWN_KEY).send().await;
    assert_eq!(outcome(status), not_found);
    let on_demand = client.rotate_key_on_demand().key_id(UNKNOWN_KEY).send().await;
    assert_eq!(outcome(on_demand), not_found);
}

/// A server on a manual clock with a key rotating every 90 days.
async fn rotating_key() -> (TestServer, Client, String) {
    let (server, _) = TestServer::start_manual().await;
    let client = server.kms_client();
    let (key, _) = client.new_key().await;
    enable_rotation(&client, &key, 90).await;
    (server, client, key)
}

/// A key with rotation enabled gets new material once its period passed (and only then),
/// recorded as AUTOMATIC; the next rotation counts from it; old ciphertexts keep decrypting.
#[tokio::test]
async fn keys_rotate_automatically_once_their_period_passed() {
    let (server, client, key) = rotating_key().await;
    let day0 = server.now_secs();
    let first = client.material(&key).await;
    let old_blob = client.encrypt_with(&key, b"before rotation", &[("v", "1")]).await;
    let status = client.rotation_status(&key).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(90));
    assert_eq!(status.next_rotation_date.map(|d| d.secs()), Some(day0 + 90 * DAY));
    assert!(status.on_demand_rotation_start_date.is_none());
    // No rotation yet: the list is empty; with ALL_KEY_MATERIAL it has the first material only.
    let listed = ok(client.list_key_rotations().key_id(&key).send().await);
    assert!(listed.rotations().is_empty(), "{listed:?}");
    assert!(!listed.truncated);
    assert!(listed.next_marker.is_none());
    let all = client
        .all_rotations(&key, Some(IncludeKeyMaterial::AllKeyMaterial), 100)
        .await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].key_id.as_deref(), Some(key.as_str()));
    assert_eq!(materials(&all), std::slice::from_ref(&first));
    assert_eq!(kinds(&all), expect_kinds(&[("", "CURRENT")]));
    assert!(all[0].rotation_date.is_none());

    server.advance_days(89).await;
    assert_eq!(client.material(&key).await, first, "not before the date");
    server.advance_days(2).await;
    let day91 = server.now_secs();
    let second = client.material(&key).await;
    assert_ne!(second, first);
    server.run_jobs_now().await;
    assert_eq!(client.material(&key).await, second, "one rotation per period");

    let listed = client.all_rotations(&key, None, 100).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key_id.as_deref(), Some(key.as_str()));
    assert_eq!(materials(&listed), std::slice::from_ref(&second));
    assert_eq!(listed[0].rotation_date.map(|d| d.secs()), Some(day91));
    assert_eq!(kinds(&listed), expect_kinds(&[("AUTOMATIC", "CURRENT")]));
    let next = client.rotation_status(&key).await.next_rotation_date;
    assert_eq!(next.map(|d| d.secs()), Some(day91 + 90 * DAY));

    let d = client.decrypt_with(&old_blob, &[("v", "1")]).await;
    assert_eq!(d.plaintext.expect("Plaintext").as_ref(), b"before rotation");
    assert_eq!(d.key_material_id.as_deref(), Some(first.as_str()));
    let new_blob = client.encrypt_with(&key, b"after rotation", &[]).await;
    let d = client.decrypt_with(&new_blob, &[]).await;
    assert_eq!(d.plaintext.expect("Plaintext").as_ref(), b"after rotation");
    assert_eq!(d.key_material_id.as_deref(), Some(second.as_str()));
    server.shutdown().await;
}

/// An on-demand rotation is listed as such and leaves the automatic schedule alone; periods missed
/// are made up with one rotation, not one per period.
#[tokio::test]
async fn on_demand_rotations_leave_the_automatic_schedule_alone() {
    let (server, client, key) = rotating_key().await;
    let first = client.material(&key).await;
    server.advance_days(91).await;
    let (day91, second) = (server.now_secs(), client.material(&key).await);
    server.advance_days(1).await;
    let day92 = server.now_secs();
    rotate(&client, &key).await;
    let third = client.material(&key).await;
    let listed = client
        .all_rotations(&key, Some(IncludeKeyMaterial::AllKeyMaterial), 1)
        .await;
    assert_eq!(materials(&listed), [first, second, third]);
    let expected = [
        ("", "NON_CURRENT"),
        ("AUTOMATIC", "NON_CURRENT"),
        ("ON_DEMAND", "CURRENT"),
    ];
    assert_eq!(kinds(&listed), expect_kinds(&expected));
    assert_eq!(listed[2].rotation_date.map(|d| d.secs()), Some(day92));
    let next = client.rotation_status(&key).await.next_rotation_date;
    assert_eq!(next.map(|d| d.secs()), Some(day91 + 90 * DAY));

    server.advance_days(274).await;
    let listed = client.all_rotations(&key, None, 100).await;
    let expected = [
        ("AUTOMATIC", "NON_CURRENT"),
        ("ON_DEMAND", "NON_CURRENT"),
        ("AUTOMATIC", "CURRENT"),
    ];
    assert_eq!(kinds(&listed), expect_kinds(&expected));
    server.shutdown().await;
}

/// Disabled keys keep their rotation status but have no next rotation; keys pending deletion read
/// as not rotating. Neither is rotated meanwhile; once enabled again, a passed date rotates them.
#[tokio::test]
async fn disabled_and_pending_keys_rotate_once_enabled_again() {
    let (server, client, disabled) = rotating_key().await;
    let (pending, _) = client.new_key().await;
    enable_rotation(&client, &pending, 90).await;
    client.set_enabled(&disabled, false).await;
    let status = client.rotation_status(&disabled).await;
    assert!(status.key_rotation_enabled);
    assert!(status.next_rotation_date.is_none());
    server.advance_days(89).await;
    let req = client
        .schedule_key_deletion()
        .key_id(&pending)
        .pending_window_in_days(30);
    req.send().await.expect("ScheduleKeyDeletion");
    let before = [client.material(&disabled).await, client.material(&pending).await];
    server.advance_days(2).await;
    for (k, before) in [&disabled, &pending].into_iter().zip(&before) {
        assert_eq!(&client.material(k).await, before, "{k}");
        let out = client.list_key_rotations().key_id(k).send().await;
        let listed = out.expect("ListKeyRotations of a key not rotated");
        assert!(listed.rotations().is_empty(), "{k}: {listed:?}");
    }
    let status = client.rotation_status(&pending).await;
    assert!(!status.key_rotation_enabled);
    assert!(status.next_rotation_date.is_none());

    ok(client.cancel_key_deletion().key_id(&pending).send().await);
    assert!(client.rotation_status(&pending).await.key_rotation_enabled);
    for k in [&disabled, &pending] {
        client.set_enabled(k, true).await;
    }
    server.run_jobs_now().await;
    for (k, before) in [&disabled, &pending].into_iter().zip(&before) {
        let now_current = client.material(k).await;
        assert_ne!(&now_current, before, "{k}");
        let listed = client.all_rotations(k, None, 100).await;
        assert_eq!(kinds(&listed), expect_kinds(&[("AUTOMATIC", "CURRENT")]), "{k}");
        assert_eq!(materials(&listed), [now_current]);
    }
    server.shutdown().await;
}

/// Keys without automatic rotation aren't rotated; turning it on starts a period from that day.
#[tokio::test]
async fn turning_rotation_on_starts_a_new_period() {
    let (server, _) = TestServer::start_manual().await;
    let client = server.kms_client();
    let (key, _) = client.new_key().await;
    let first = client.material(&key).await;
    server.advance_days(366).await;
    assert_eq!(client.material(&key).await, first);
    assert!(client.all_rotations(&key, None, 100).await.is_empty());
    ok(client.disable_key_rotation().key_id(&key).send().await);
    enable_rotation(&client, &key, 90).await;
    let next = client.rotation_status(&key).await.next_rotation_date;
    assert_eq!(next.map(|d| d.secs()), Some(server.now_secs() + 90 * DAY));
    server.run_jobs_now().await;
    assert_eq!(client.material(&key).await, first);
    server.shutdown().await;
}

/// The AWS managed key rotates a year after its creation, once.
#[tokio::test]
async fn aws_managed_key_rotates_yearly() {
    let (server, _) = TestServer::start_manual().await;
    let client = server.kms_client();
    let managed = client.describe("alias/aws/secretsmanager").await.key_id;
    let first = client.material(&managed).await;
    assert!(client.all_rotations(&managed, None, 100).await.is_empty());
    server.advance_days(366).await;
    let listed = client.all_rotations(&managed, None, 100).await;
    assert_eq!(kinds(&listed), expect_kinds(&[("AUTOMATIC", "CURRENT")]));
    assert_ne!(client.material(&managed).await, first);
    let next = client.rotation_status(&managed).await.next_rotation_date;
    assert_eq!(next.map(|d| d.secs()), Some(server.now_secs() + 365 * DAY));
    server.shutdown().await;
}

/// A key rotated on demand 25 times (the most it may be), its ARN, an alias, and its materials:
/// the first, then one per rotation.
async fn rotated_25_times() -> (String, String, String, Vec<String>) {
    let client = kms();
    let (key, arn) = client.new_key().await;
    let alias = new_alias();
    client.alias_key(&alias, &key).await;
    let mut materials = vec![client.material(&key).await];
    for _ in 0..25 {
        rotate(&client, &arn).await;
        materials.push(client.material(&key).await);
    }
    (key, arn, alias, materials)
}

#[tokio::test]
async fn on_demand_rotations_are_limited_to_25_per_key() {
    let client = kms();
    let (key, arn, _, materials) = rotated_25_times().await;
    let limit = format!("{arn} has reached the maximum of 25 on-demand rotations.");
    let out = client.rotate_key_on_demand().key_id(&key).send().await;
    assert_eq!(outcome(out), failed("LimitExceededException", &limit));
    assert_eq!(client.material(&key).await, materials[25]);
}

/// Every page size gives the same entries, oldest first; the default page is 100 entries.
#[tokio::test]
async fn list_key_rotations_pages_oldest_first() {
    let client = kms();
    let (key, arn, _, materials) = rotated_25_times().await;
    for limit in [1, 7, 25, 1000] {
        let listed = client.all_rotations(&arn, None, limit).await;
        assert_eq!(self::materials(&listed), materials[1..], "limit {limit}");
        let on_demand =
            |e: &RotationsListEntry| e.rotation_type.as_ref().map(|t| t.as_str()) == Some("ON_DEMAND");
        assert!(listed.iter().all(on_demand));
        assert!(
            listed
                .windows(2)
                .all(|w| w[0].rotation_date <= w[1].rotation_date)
        );
    }
    let all = client
        .all_rotations(&key, Some(IncludeKeyMaterial::AllKeyMaterial), 10)
        .await;
    assert_eq!(all.len(), 26);
    assert_eq!(all[0].key_material_id.as_deref(), Some(materials[0].as_str()));
    assert!(all[0].rotation_type.is_none());
    let only = client
        .all_rotations(&key, Some(IncludeKeyMaterial::RotationsOnly), 10)
        .await;
    assert_eq!(only.len(), 25);
    let out = ok(client.list_key_rotations().key_id(&key).send().await);
    assert_eq!(out.rotations().len(), 25);
    assert!(!out.truncated);
}

#[tokio::test]
async fn list_key_rotations_validates_marker_limit_and_material() {
    let client = kms();
    let (key, _) = client.new_key().await;
    let list = || client.list_key_rotations().key_id(&key);
    let marker = list().marker("not-a-marker").send().await;
    assert_eq!(
        outcome(marker),
        failed("InvalidMarkerException", "Invalid marker")
    );
    for (limit, message) in [
        (0, model_min_value("limit", 0, 1)),
        (1001, model_max_value("limit", 1001, 1000)),
    ] {
        assert_eq!(
            outcome(list().limit(limit).send().await),
            failed("ValidationException", &message)
        );
    }
    let material = IncludeKeyMaterial::from("SOME_MATERIAL");
    let material = list().include_key_material(material).send().await;
    let set = "[ALL_KEY_MATERIAL, ROTATIONS_ONLY]";
    let message = model_enum("includeKeyMaterial", "SOME_MATERIAL", set);
    assert_eq!(outcome(material), failed("ValidationException", &message));
}

#[tokio::test]
async fn list_key_rotations_takes_a_key_id_or_key_arn_only() {
    let (client, account) = (kms(), account());
    let (key, _) = client.new_key().await;
    let alias = new_alias();
    client.alias_key(&alias, &key).await;
    let list = |id: &str| client.list_key_rotations().key_id(id).send();
    for name in [alias.clone(), alias_arn(&account, &alias)] {
        assert_eq!(outcome(list(&name).await), invalid_key_id(&name));
    }
    let unknown = outcome(list(UNKNOWN_KEY).await);
    assert_eq!(unknown, key_not_found(&key_arn(&account, UNKNOWN_KEY)));
    assert_eq!(outcome(list("fake-key-id").await), invalid_key_id("fake-key-id"));
}

/// kms:ListKeyRotations is authorized on the key with its key policy.
#[tokio::test]
async fn list_key_rotations_needs_permission() {
    let server = TestServer::start();
    let client = server.kms_client();
    let user = server.user("rotlist", None).await;
    let (key, arn) = client.new_key().await;
    let list = |id: &str| user.kms().list_key_rotations().key_id(id).send();
    let denied = no_iam_policy(&user.arn, "kms:ListKeyRotations", &arn);
    assert_eq!(outcome(list(&key).await), denied);
    // The key policy names the user directly: no identity policy needed.
    let policy = policy_granting(&account(), &user.arn, &["kms:ListKeyRotations"], None);
    let (own, own_arn) = client.key_with_policy(&policy, true).await;
    assert_eq!(outcome(list(&own).await), Ok(()));
    assert_eq!(outcome(list(&own_arn).await), Ok(()));
}

/// A secret under a customer managed key stays readable across automatic and on-demand rotations
/// of the key (each version's data key names the material it was made with), as does a secret
/// under the AWS managed key across its yearly rotation.
#[tokio::test]
async fn secrets_stay_readable_across_key_rotations() {
    let (server, kms, key) = rotating_key().await;
    let sm = server.client();
    let name = format!("rotated-key-{}", short_id());
    let req = sm
        .create_secret()
        .name(&name)
        .kms_key_id(&key)
        .secret_string("v1");
    req.send().await.expect("CreateSecret under the key");
    let default_name = format!("default-key-{}", short_id());
    sm.create_string(&default_name, "d1").await;
    let first = kms.material(&key).await;
    let read = |id: &str, stage: &str| {
        let (sm, id, stage) = (sm.clone(), id.to_owned(), stage.to_owned());
        async move {
            sm.get_stage(&id, &stage)
                .await
                .secret_string
                .expect("SecretString")
        }
    };

    server.advance_days(91).await;
    assert_ne!(first, kms.material(&key).await);
    assert_eq!(read(&name, "AWSCURRENT").await, "v1");
    sm.put_string(&name, "v2").await;
    rotate(&kms, &key).await;
    server.advance_days(91).await;
    let listed = kms.all_rotations(&key, None, 100).await;
    let types: Vec<String> = kinds(&listed).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["AUTOMATIC", "ON_DEMAND", "AUTOMATIC"]);
    assert_eq!(read(&name, "AWSCURRENT").await, "v2");
    assert_eq!(read(&name, "AWSPREVIOUS").await, "v1");

    server.advance_days(200).await;
    let managed = kms.describe("alias/aws/secretsmanager").await.key_id;
    let listed = kms.all_rotations(&managed, None, 100).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(read(&default_name, "AWSCURRENT").await, "d1");
    sm.put_string(&default_name, "d2").await;
    assert_eq!(read(&default_name, "AWSCURRENT").await, "d2");
    assert_eq!(read(&default_name, "AWSPREVIOUS").await, "d1");
    assert_eq!(read(&name, "AWSPREVIOUS").await, "v1");
    server.shutdown().await;
}
