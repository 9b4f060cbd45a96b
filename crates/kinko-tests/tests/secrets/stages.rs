//! UpdateSecretVersionStage: moving labels between versions, sequences recorded from real AWS
//! (reference §5).

use kinko_tests::*;

use crate::secret;

/// The rotation sequence: AWSPENDING rides along when AWSCURRENT moves onto its version.
#[tokio::test]
async fn stage_rotation_sequence_keeps_pending_on_new_current() {
    let (sm, name, _, v1) = secret("uvs-rotation", "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["AWSPENDING"]).await;
    let expected = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, expected);
    // update_stage(AWSCURRENT, remove v1, move v2): v1 [AWSPREVIOUS], v2 [AWSCURRENT, AWSPENDING].
    sm.move_stage(&name, "AWSCURRENT", Some(&v1), Some(&v2)).await;
    let expected = stage_map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT", "AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, expected);
    let got = sm.get(&name).await;
    assert_eq!(got.secret_string(), Some("v2"));
    assert_eq!(
        sorted(got.version_stages()),
        labels(&["AWSCURRENT", "AWSPENDING"])
    );
    // put(v3, [AWSPENDING]): AWSPENDING leaves v2.
    let v3 = sm.put_staged(&name, "v3", &["AWSPENDING"]).await;
    let expected = stage_map(&[
        (&v1, &["AWSPREVIOUS"]),
        (&v2, &["AWSCURRENT"]),
        (&v3, &["AWSPENDING"]),
    ]);
    assert_eq!(sm.stages(&name).await, expected);
    // update_stage(AWSCURRENT, remove v2, move v3): v1 deprecated, v2 AWSPREVIOUS,
    // v3 [AWSCURRENT, AWSPENDING].
    sm.move_stage(&name, "AWSCURRENT", Some(&v2), Some(&v3)).await;
    let expected = stage_map(&[(&v2, &["AWSPREVIOUS"]), (&v3, &["AWSCURRENT", "AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, expected);
    let all = [
        (v1, None),
        (v2, Some(labels(&["AWSPREVIOUS"]))),
        (v3, Some(labels(&["AWSCURRENT", "AWSPENDING"]))),
    ];
    assert_eq!(sm.version_list(&name, true).await, all);
}

/// put(v2, [AWSPENDING, AWSSOMETHING, PUT1]) then move AWSCURRENT to v2 [S].
#[tokio::test]
async fn stage_custom_labels_ride_along_with_current() {
    let (sm, name, _, v1) = secret("uvs-custom", "v1").await;
    let custom = ["AWSPENDING", "AWSSOMETHING", "PUT1"];
    let v2 = sm.put_staged(&name, "v2", &custom).await;
    assert_eq!(
        sm.stages(&name).await,
        stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &custom)])
    );
    sm.move_stage(&name, "AWSCURRENT", Some(&v1), Some(&v2)).await;
    let all = ["AWSCURRENT", "AWSPENDING", "AWSSOMETHING", "PUT1"];
    assert_eq!(
        sm.stages(&name).await,
        stage_map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &all)])
    );
}

#[tokio::test]
async fn stage_move_without_remove_from_is_invalid_parameter() {
    let (sm, name, _, v1) = secret("uvs-removefrom", "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["AWSPENDING"]).await;
    let req = sm
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT");
    let out = req.move_to_version_id(&v2).send().await;
    let message = format!(
        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version {v1}, so you must explicitly reference that version in RemoveFromVersionId."
    );
    assert_eq!(outcome(out), failed("InvalidParameterException", &message));
    let unmoved = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, unmoved, "nothing moved");
}

#[tokio::test]
async fn stage_remove_from_wrong_version_is_invalid_parameter() {
    let (sm, name, _, v1) = secret("uvs-wrongholder", "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["AWSPENDING"]).await;
    let req = sm
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT");
    let req = req.remove_from_version_id(&v2).move_to_version_id(&v2);
    let out = req.send().await;
    assert_eq!(error_code(out), "InvalidParameterException");
    let unmoved = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, unmoved, "nothing moved");
}

/// AWSCURRENT can be moved, never just removed: AWS refuses a call that would leave a secret with
/// no current version (InvalidParameterException).
#[tokio::test]
async fn stage_removing_awscurrent_without_moving_it_is_invalid_parameter() {
    let (sm, name, _, v1) = secret("uvs-removecurrent", "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["AWSPENDING"]).await;
    let req = sm
        .update_secret_version_stage()
        .secret_id(&name)
        .version_stage("AWSCURRENT");
    let out = req.remove_from_version_id(&v1).send().await;
    let message = "You can't remove the staging label AWSCURRENT from a version without moving it to another version with MoveToVersionId.";
    assert_eq!(outcome(out), failed("InvalidParameterException", message));
    let unmoved = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPENDING"])]);
    assert_eq!(sm.stages(&name).await, unmoved, "nothing moved");
    assert_eq!(sm.get(&name).await.secret_string(), Some("v1"));
}

/// A version without labels is hidden from VersionIdsToStages and listed only with
/// IncludeDeprecated (without VersionStages); a new custom label revives it.
#[tokio::test]
async fn stage_removing_the_only_label_deprecates_the_version() {
    let (sm, name, _, v1) = secret("uvs-deprecate", "v1").await;
    let v2 = sm.put_staged(&name, "v2", &["custom"]).await;
    sm.move_stage(&name, "custom", Some(&v2), None).await;
    assert_eq!(sm.stages(&name).await, stage_map(&[(&v1, &["AWSCURRENT"])]));
    let current = (v1.clone(), Some(labels(&["AWSCURRENT"])));
    assert_eq!(
        sm.version_list(&name, false).await,
        std::slice::from_ref(&current)
    );
    assert_eq!(sm.version_list(&name, true).await, [current, (v2.clone(), None)]);
    // A new custom label needs no RemoveFromVersionId.
    sm.move_stage(&name, "revived", None, Some(&v2)).await;
    let expected = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["revived"])]);
    assert_eq!(sm.stages(&name).await, expected);
}

#[tokio::test]
async fn stage_move_onto_current_holder_is_a_no_op() {
    let (sm, name, _, v1) = secret("uvs-noop", "v1").await;
    let v2 = sm.put_string(&name, "v2").await;
    sm.move_stage(&name, "AWSCURRENT", None, Some(&v2)).await;
    let expected = stage_map(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])]);
    assert_eq!(sm.stages(&name).await, expected);
}

#[tokio::test]
async fn stage_back_to_previous_version_swaps_current_and_previous() {
    let (sm, name, _, v1) = secret("uvs-rollback", "v1").await;
    let v2 = sm.put_string(&name, "v2").await;
    sm.move_stage(&name, "AWSCURRENT", Some(&v2), Some(&v1)).await;
    let expected = stage_map(&[(&v1, &["AWSCURRENT"]), (&v2, &["AWSPREVIOUS"])]);
    assert_eq!(sm.stages(&name).await, expected);
    assert_eq!(sm.value(&name).await, "v1");
}

/// Moving a label to a version the secret doesn't have fails (missing and scheduled secrets: see
/// `states`).
#[tokio::test]
async fn stage_move_to_an_unknown_version_fails() {
    let (sm, name, ..) = secret("uvs-errors", "v1").await;
    let req = sm.update_secret_version_stage().secret_id(&name);
    let req = req.version_stage("custom");
    let code = error_code(req.move_to_version_id(token()).send().await);
    let codes = ["InvalidParameterException", "ResourceNotFoundException"];
    assert!(codes.contains(&code.as_str()), "unknown MoveToVersionId: {code}");
}
