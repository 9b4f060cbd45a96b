//! Multi-Region keys: CreateKey with MultiRegion, ReplicateKey, DescribeKey's
//! MultiRegionConfiguration, UpdatePrimaryRegion; ciphertexts of one related key decrypt with
//! the others, rotation of the primary reaches the replicas.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeyMetadata, MultiRegionKeyType};
use kinko_tests::*;

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const EU: &str = "eu-west-3";

fn client_in(region: &str) -> Client {
    let server = TestServer::start();
    server.kms_client_in(region, &server.root_credentials())
}

/// A multi-Region key in us-east-1 (the tests' region): its id.
async fn mrk(client: &Client) -> String {
    let out = client
        .create_key()
        .multi_region(true)
        .description("primary")
        .send()
        .await;
    ok(out).key_metadata.expect("KeyMetadata").key_id
}

fn config(m: &KeyMetadata) -> (MultiRegionKeyType, String, Vec<String>) {
    let c = m
        .multi_region_configuration
        .as_ref()
        .expect("MultiRegionConfiguration");
    let primary = c.primary_key.as_ref().expect("PrimaryKey");
    let replicas = c
        .replica_keys()
        .iter()
        .map(|r| r.region.clone().unwrap_or_default())
        .collect();
    (
        c.multi_region_key_type.clone().expect("MultiRegionKeyType"),
        primary.region.clone().unwrap_or_default(),
        replicas,
    )
}

#[tokio::test]
async fn replicas_share_the_key_id_and_material() {
    let east = client_in(EAST);
    let west = client_in(WEST);
    let id = mrk(&east).await;
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    let m = east.describe(&id).await;
    assert_eq!(m.multi_region, Some(true));
    assert_eq!(config(&m), (MultiRegionKeyType::Primary, EAST.to_owned(), vec![]));
    assert_eq!(
        outcome(west.describe_key().key_id(&id).send().await),
        key_not_found(&format!(
            "arn:aws:kms:{WEST}:{}:key/{id}",
            m.aws_account_id.clone().unwrap_or_default()
        ))
    );

    let out = east
        .replicate_key()
        .key_id(&id)
        .replica_region(WEST)
        .description("replica")
        .tags(kms_tag("site", "west"))
        .send()
        .await;
    let out = ok(out);
    assert_eq!(out.replica_tags().len(), 1);
    let replica = out.replica_key_metadata.clone().expect("ReplicaKeyMetadata");
    assert_eq!(replica.key_id, id);
    assert!(
        replica.arn.as_deref().is_some_and(|a| a.contains(WEST)),
        "{replica:?}"
    );
    assert_eq!(replica.description.as_deref(), Some("replica"));
    assert!(out.replica_policy.as_deref().is_some_and(|p| p.contains("kms:*")));
    assert_eq!(
        config(&replica),
        (
            MultiRegionKeyType::Replica,
            EAST.to_owned(),
            vec![WEST.to_owned()]
        )
    );
    let primary = east.describe(&id).await;
    assert_eq!(
        config(&primary),
        (
            MultiRegionKeyType::Primary,
            EAST.to_owned(),
            vec![WEST.to_owned()]
        )
    );
    assert_eq!(primary.description.as_deref(), Some("primary"));
    assert_eq!(primary.current_key_material_id, replica.current_key_material_id);
    // Tags are each key's own.
    let tags = ok(east.list_resource_tags().key_id(&id).send().await);
    assert!(tags.tags().is_empty());

    // A ciphertext of either decrypts with the other.
    let blob = east.encrypt_with(&id, b"from the east", &[("c", "1")]).await;
    let plain = west.decrypt_with(&blob, &[("c", "1")]).await;
    assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"from the east");
    assert!(plain.key_id.is_some_and(|k| k.contains(WEST)));
    let blob = west.encrypt_with(&id, b"from the west", &[]).await;
    let plain = east.decrypt_with(&blob, &[]).await;
    assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"from the west");

    // One key per region.
    let again = east.replicate_key().key_id(&id).replica_region(WEST).send().await;
    assert_eq!(error_code(again), "AlreadyExistsException");
    let own = east.replicate_key().key_id(&id).replica_region(EAST).send().await;
    assert_eq!(error_code(own), "AlreadyExistsException");
    // Only the primary replicates.
    let from_replica = west.replicate_key().key_id(&id).replica_region(EU).send().await;
    assert_eq!(error_code(from_replica), "UnsupportedOperationException");
}

#[tokio::test]
async fn rotation_and_the_primary_region_move_together() {
    let east = client_in(EAST);
    let west = client_in(WEST);
    let eu = client_in(EU);
    let id = mrk(&east).await;
    for region in [WEST, EU] {
        ok(east
            .replicate_key()
            .key_id(&id)
            .replica_region(region)
            .send()
            .await);
    }
    let old_blob = east.encrypt_with(&id, b"before", &[]).await;
    ok(east.rotate_key_on_demand().key_id(&id).send().await);
    let material = east.material(&id).await;
    assert_eq!(west.material(&id).await, material);
    assert_eq!(eu.material(&id).await, material);
    let new_blob = east.encrypt_with(&id, b"after", &[]).await;
    for client in [&west, &eu] {
        let plain = client.decrypt_with(&new_blob, &[]).await;
        assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"after");
        let plain = client.decrypt_with(&old_blob, &[]).await;
        assert_eq!(plain.plaintext.expect("Plaintext").as_ref(), b"before");
    }
    // A replica's rotation is its primary's.
    let on_replica = west.rotate_key_on_demand().key_id(&id).send().await;
    assert_eq!(error_code(on_replica), "UnsupportedOperationException");
    ok(east
        .enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(180)
        .send()
        .await);
    let status = west.rotation_status(&id).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(180));

    ok(east
        .update_primary_region()
        .key_id(&id)
        .primary_region(WEST)
        .send()
        .await);
    let w = west.describe(&id).await;
    assert_eq!(
        config(&w),
        (
            MultiRegionKeyType::Primary,
            WEST.to_owned(),
            vec![EU.to_owned(), EAST.to_owned()]
        )
    );
    let e = east.describe(&id).await;
    assert_eq!(config(&e).0, MultiRegionKeyType::Replica);
    assert_eq!(config(&eu.describe(&id).await).1, WEST);
    ok(west.rotate_key_on_demand().key_id(&id).send().await);
    assert_eq!(east.material(&id).await, west.material(&id).await);
    // The old primary is a replica now; a region without a related key can't be primary.
    let from_old = east
        .update_primary_region()
        .key_id(&id)
        .primary_region(EU)
        .send()
        .await;
    assert_eq!(error_code(from_old), "UnsupportedOperationException");
    let nowhere = west
        .update_primary_region()
        .key_id(&id)
        .primary_region("ap-south-1")
        .send()
        .await;
    assert_eq!(error_code(nowhere), "NotFoundException");
}

#[tokio::test]
async fn single_region_keys_have_no_multi_region_configuration() {
    let east = client_in(EAST);
    let (id, arn) = east.new_key().await;
    let m = east.describe(&id).await;
    assert_eq!(m.multi_region, Some(false));
    assert!(m.multi_region_configuration.is_none());
    let r = east.replicate_key().key_id(&id).replica_region(WEST).send().await;
    assert_eq!(
        outcome(r),
        failed(
            "UnsupportedOperationException",
            &format!("{arn} is not a multi-Region key.")
        )
    );
    let bad = east
        .replicate_key()
        .key_id(&id)
        .replica_region("West")
        .send()
        .await;
    assert_eq!(error_code(bad), "ValidationException");
}
