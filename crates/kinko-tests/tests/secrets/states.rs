//! What each operation does with a secret that doesn't exist, or is scheduled for deletion
//! (reference §6): one table, [`EXPECTED`].

use aws_sdk_secretsmanager::Client;
use kinko_tests::*;

use crate::sm;

/// The calls of the table, each on the secret under test.
#[derive(Debug, Clone, Copy)]
enum Call {
    GetSecretValue,
    DescribeSecret,
    PutSecretValue,
    /// UpdateSecret with a new value.
    UpdateSecretValue,
    /// UpdateSecret of the description only.
    UpdateSecretDescription,
    UpdateSecretVersionStage,
    ListSecretVersionIds,
    TagResource,
    UntagResource,
    GetResourcePolicy,
    PutResourcePolicy,
    DeleteResourcePolicy,
    RestoreSecret,
    /// DeleteSecret with the default recovery window.
    DeleteSecret,
    /// DeleteSecret with ForceDeleteWithoutRecovery.
    ForceDeleteSecret,
}

/// What a call comes to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Works,
    /// ResourceNotFoundException: `Secrets Manager can't find the specified secret.`
    NotFound,
    /// InvalidRequestException: `You can't perform this operation on the secret because it was
    /// marked for deletion.`
    Marked,
    /// InvalidRequestException (AWS's message isn't recorded).
    InvalidRequest,
}

use Call::*;
use Expect::*;

/// Each call's outcome on a secret that doesn't exist and on one scheduled for deletion.
const EXPECTED: &[(Call, Expect, Expect)] = &[
    (GetSecretValue, NotFound, Marked),
    (DescribeSecret, NotFound, Works),
    (PutSecretValue, NotFound, Marked),
    (UpdateSecretValue, NotFound, Marked),
    (UpdateSecretDescription, NotFound, Marked),
    (UpdateSecretVersionStage, NotFound, Marked),
    (ListSecretVersionIds, NotFound, Works),
    (TagResource, NotFound, Marked),
    (UntagResource, NotFound, Marked),
    (GetResourcePolicy, NotFound, Works),
    (PutResourcePolicy, NotFound, Works),
    (DeleteResourcePolicy, NotFound, Works),
    (RestoreSecret, NotFound, Works),
    (DeleteSecret, NotFound, InvalidRequest),
    (ForceDeleteSecret, Works, Works),
];

async fn call(c: &Client, id: &str, version: &str, call: Call) -> Outcome {
    let grant = principal_statement(
        "Allow",
        &root_arn(DEV_ACCOUNT),
        &["secretsmanager:GetSecretValue"],
    );
    let policy = policy_document(&[grant]);
    match call {
        GetSecretValue => outcome(c.get_secret_value().secret_id(id).send().await),
        DescribeSecret => outcome(c.describe_secret().secret_id(id).send().await),
        PutSecretValue => {
            let req = c.put_secret_value().secret_id(id).secret_string("v2");
            outcome(req.send().await)
        }
        UpdateSecretValue => outcome(c.update_secret().secret_id(id).secret_string("new").send().await),
        UpdateSecretDescription => outcome(c.update_secret().secret_id(id).description("new").send().await),
        UpdateSecretVersionStage => {
            let req = c
                .update_secret_version_stage()
                .secret_id(id)
                .version_stage("custom");
            outcome(req.move_to_version_id(version).send().await)
        }
        ListSecretVersionIds => outcome(c.list_secret_version_ids().secret_id(id).send().await),
        TagResource => outcome(c.tag_resource().secret_id(id).tags(tag("k", "v")).send().await),
        UntagResource => outcome(c.untag_resource().secret_id(id).tag_keys("k").send().await),
        GetResourcePolicy => outcome(c.get_resource_policy().secret_id(id).send().await),
        PutResourcePolicy => {
            let req = c.put_resource_policy().secret_id(id).resource_policy(policy);
            outcome(req.send().await)
        }
        DeleteResourcePolicy => outcome(c.delete_resource_policy().secret_id(id).send().await),
        RestoreSecret => outcome(c.restore_secret().secret_id(id).send().await),
        DeleteSecret => outcome(c.delete_secret().secret_id(id).send().await),
        ForceDeleteSecret => {
            let req = c
                .delete_secret()
                .secret_id(id)
                .force_delete_without_recovery(true);
            outcome(req.send().await)
        }
    }
}

/// Runs every call of [`EXPECTED`] on a fresh secret, missing or scheduled for deletion, and
/// compares the outcome with the table's column.
async fn check(scheduled: bool) {
    let sm = sm();
    let mut wrong = Vec::new();
    for &(c, missing, marked) in EXPECTED {
        let name = unique_name("state");
        let mut version = token();
        if scheduled {
            version = sm.create_string(&name, "v").await.1;
            sm.schedule_deletion(&name).await;
        }
        let expected = if scheduled { marked } else { missing };
        let got = call(&sm, &name, &version, c).await;
        let right = match expected {
            Works => got == Ok(()),
            NotFound => got == failed("ResourceNotFoundException", NOT_FOUND),
            Marked => got == failed("InvalidRequestException", MARKED_FOR_DELETION),
            InvalidRequest => got.as_ref().is_err_and(|f| f.code == "InvalidRequestException"),
        };
        if !right {
            wrong.push(format!("{c:?}: expected {expected:?}, got {got:?}"));
        }
    }
    let state = if scheduled {
        "scheduled for deletion"
    } else {
        "missing"
    };
    assert!(wrong.is_empty(), "on a secret {state}:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn what_a_missing_secret_answers() {
    check(false).await;
}

#[tokio::test]
async fn what_a_secret_scheduled_for_deletion_answers() {
    check(true).await;
}
