//! Consistency across nodes: three `kinko server` processes on one PostgreSQL schema, an AWS SDK
//! client per node. A change acknowledged by one node is seen by every request that starts later,
//! on any node, with no waiting: secret values and stages, deletions and restores, resource
//! policies, access keys, IAM policies, KMS key states, STS sessions. Concurrent writes to one
//! secret through different nodes keep Secrets Manager's invariants.
//!
//! Each check writes through one node and reads through every node right after the write returns;
//! the writing node rotates, so every pair of nodes is exercised. Skipped (with the reason printed)
//! when `KINKO_TEST_POSTGRES_URL` is unset.

mod harness;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_kms::primitives::Blob;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use harness::{Clients, Cluster, Creds};

const NODES: usize = 3;

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("").to_owned()
}

fn cluster(what: &str) -> Option<Cluster> {
    let url = harness::postgres_url(what)?;
    Some(Cluster::start(&url, NODES, &[]))
}

async fn current(c: &Clients, name: &str) -> Result<(String, String), String> {
    let out =
        c.sm.get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| code(&e))?;
    Ok((
        out.secret_string().unwrap_or_default().to_owned(),
        out.version_id().unwrap_or_default().to_owned(),
    ))
}

/// Version id → its stages, deprecated versions included.
async fn stages(c: &Clients, name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let out =
        c.sm.list_secret_version_ids()
            .secret_id(name)
            .include_deprecated(true)
            .max_results(100)
            .send()
            .await
            .expect("ListSecretVersionIds");
    out.versions()
        .iter()
        .map(|v| {
            (
                v.version_id().unwrap_or_default().to_owned(),
                v.version_stages().iter().cloned().collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_values_stages_deletions_and_restores_are_seen_by_every_node_at_once() {
    let Some(cluster) = cluster("cross-node secret consistency") else {
        return;
    };
    let c = cluster.root_clients();
    let name = "cross-node/values";
    let created = c[0]
        .sm
        .create_secret()
        .name(name)
        .secret_string("v0")
        .send()
        .await
        .expect("CreateSecret");
    let mut versions = vec![created.version_id().expect("version").to_owned()];
    for n in &c {
        assert_eq!(current(n, name).await, Ok(("v0".into(), versions[0].clone())));
    }
    // Values: every node reads the new AWSCURRENT right after the put returns.
    for round in 1..=12 {
        let writer = &c[round % NODES];
        let value = format!("v{round}");
        let out = writer
            .sm
            .put_secret_value()
            .secret_id(name)
            .secret_string(&value)
            .send()
            .await
            .expect("PutSecretValue");
        let v = out.version_id().expect("version").to_owned();
        for (i, n) in c.iter().enumerate() {
            assert_eq!(
                current(n, name).await,
                Ok((value.clone(), v.clone())),
                "node {i} after a put through node {}",
                round % NODES
            );
        }
        versions.push(v);
    }
    // Stages: move AWSCURRENT back to an older version through one node, read it on every node.
    for round in 0..6 {
        let writer = &c[round % NODES];
        let before = stages(writer, name).await;
        let cur = before
            .iter()
            .find(|(_, s)| s.contains("AWSCURRENT"))
            .map(|(v, _)| v.clone())
            .expect("a current version");
        let target = versions[versions.len() - 2 - (round % 2)].clone();
        if target == cur {
            continue;
        }
        writer
            .sm
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage("AWSCURRENT")
            .move_to_version_id(&target)
            .remove_from_version_id(&cur)
            .send()
            .await
            .expect("UpdateSecretVersionStage");
        for (i, n) in c.iter().enumerate() {
            let (_, v) = current(n, name).await.expect("GetSecretValue");
            assert_eq!(
                v,
                target,
                "node {i} after a stage move through node {}",
                round % NODES
            );
            let s = stages(n, name).await;
            assert!(s[&cur].contains("AWSPREVIOUS"), "node {i}: {s:?}");
        }
    }
    // Deletion and restore: a secret marked for deletion is refused on every node at once, and
    // readable on every node once restored.
    for round in 0..4 {
        let writer = &c[round % NODES];
        writer
            .sm
            .delete_secret()
            .secret_id(name)
            .recovery_window_in_days(7)
            .send()
            .await
            .expect("DeleteSecret");
        for (i, n) in c.iter().enumerate() {
            assert_eq!(
                current(n, name).await.map(|_| ()),
                Err("InvalidRequestException".into()),
                "node {i} after a delete through node {}",
                round % NODES
            );
        }
        c[(round + 1) % NODES]
            .sm
            .restore_secret()
            .secret_id(name)
            .send()
            .await
            .expect("RestoreSecret");
        for (i, n) in c.iter().enumerate() {
            assert!(current(n, name).await.is_ok(), "node {i} after a restore");
        }
    }
    // A forced delete is gone on every node, and the name can be used again at once.
    c[1].sm
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("DeleteSecret (forced)");
    for (i, n) in c.iter().enumerate() {
        assert_eq!(
            current(n, name).await.map(|_| ()),
            Err("ResourceNotFoundException".into()),
            "node {i} after a forced delete"
        );
    }
    c[2].sm
        .create_secret()
        .name(name)
        .secret_string("again")
        .send()
        .await
        .expect("CreateSecret after the forced delete");
    for n in &c {
        assert_eq!(current(n, name).await.map(|(s, _)| s), Ok("again".to_owned()));
    }
}

/// An IAM user with an access key, allowed everything on Secrets Manager and KMS by an inline
/// policy.
async fn user(c: &Clients, name: &str) -> Creds {
    c.iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .expect("CreateUser");
    c.iam
        .put_user_policy()
        .user_name(name)
        .policy_name("all")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:*","kms:*","sts:GetSessionToken"],"Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    let key = c
        .iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key = key.access_key().expect("access key");
    Creds::new(key.access_key_id(), key.secret_access_key())
}

const DENY_GET: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

/// What the user's GetSecretValue gets on every node: `""` for success, the error code otherwise.
async fn reads(users: &[Clients], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for u in users {
        out.push(match current(u, name).await {
            Ok(_) => String::new(),
            Err(code) => code,
        });
    }
    out
}

fn all(code: &str) -> Vec<String> {
    vec![code.to_owned(); NODES]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn access_keys_and_policies_changed_on_one_node_apply_on_every_node_at_once() {
    let Some(cluster) = cluster("cross-node authorization consistency") else {
        return;
    };
    let root = cluster.root_clients();
    let name = "cross-node/authz";
    root[0]
        .sm
        .create_secret()
        .name(name)
        .secret_string("s")
        .send()
        .await
        .expect("CreateSecret");
    let creds = user(&root[1], "alice").await;
    let alice = cluster.clients(&creds);
    assert_eq!(reads(&alice, name).await, all(""));

    for round in 0..3 {
        let w = &root[round % NODES];
        // Access key deactivated and activated again.
        w.iam
            .update_access_key()
            .user_name("alice")
            .access_key_id(&creds.access_key_id)
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send()
            .await
            .expect("UpdateAccessKey Inactive");
        assert_eq!(
            reads(&alice, name).await,
            all("UnrecognizedClientException"),
            "round {round}"
        );
        root[(round + 1) % NODES]
            .iam
            .update_access_key()
            .user_name("alice")
            .access_key_id(&creds.access_key_id)
            .status(aws_sdk_iam::types::StatusType::Active)
            .send()
            .await
            .expect("UpdateAccessKey Active");
        assert_eq!(reads(&alice, name).await, all(""), "round {round}");

        // A resource policy that denies, then removed.
        w.sm.put_resource_policy()
            .secret_id(name)
            .resource_policy(DENY_GET.replace(
                r#""Action""#,
                &format!(
                    r#""Principal":{{"AWS":"arn:aws:iam::{}:user/alice"}},"Action""#,
                    cluster.account_id
                ),
            ))
            .send()
            .await
            .expect("PutResourcePolicy");
        assert_eq!(
            reads(&alice, name).await,
            all("AccessDeniedException"),
            "round {round}"
        );
        root[(round + 2) % NODES]
            .sm
            .delete_resource_policy()
            .secret_id(name)
            .send()
            .await
            .expect("DeleteResourcePolicy");
        assert_eq!(reads(&alice, name).await, all(""), "round {round}");

        // A managed policy that denies: attached, changed to a version that allows, detached.
        let policy_arn = w
            .iam
            .create_policy()
            .policy_name(format!("deny-{round}"))
            .policy_document(DENY_GET)
            .send()
            .await
            .expect("CreatePolicy")
            .policy()
            .and_then(|p| p.arn())
            .expect("policy arn")
            .to_owned();
        w.iam
            .attach_user_policy()
            .user_name("alice")
            .policy_arn(&policy_arn)
            .send()
            .await
            .expect("AttachUserPolicy");
        assert_eq!(
            reads(&alice, name).await,
            all("AccessDeniedException"),
            "round {round}"
        );
        root[(round + 1) % NODES]
            .iam
            .create_policy_version()
            .policy_arn(&policy_arn)
            .policy_document(DENY_GET.replace("Deny", "Allow"))
            .set_as_default(true)
            .send()
            .await
            .expect("CreatePolicyVersion");
        assert_eq!(reads(&alice, name).await, all(""), "round {round}");
        root[(round + 2) % NODES]
            .iam
            .set_default_policy_version()
            .policy_arn(&policy_arn)
            .version_id("v1")
            .send()
            .await
            .expect("SetDefaultPolicyVersion");
        assert_eq!(
            reads(&alice, name).await,
            all("AccessDeniedException"),
            "round {round}"
        );
        root[round % NODES]
            .iam
            .detach_user_policy()
            .user_name("alice")
            .policy_arn(&policy_arn)
            .send()
            .await
            .expect("DetachUserPolicy");
        assert_eq!(reads(&alice, name).await, all(""), "round {round}");

        // The inline policy removed: nothing allows any more; put back.
        root[(round + 1) % NODES]
            .iam
            .delete_user_policy()
            .user_name("alice")
            .policy_name("all")
            .send()
            .await
            .expect("DeleteUserPolicy");
        assert_eq!(
            reads(&alice, name).await,
            all("AccessDeniedException"),
            "round {round}"
        );
        root[(round + 2) % NODES]
            .iam
            .put_user_policy()
            .user_name("alice")
            .policy_name("all")
            .policy_document(DENY_GET.replace("Deny", "Allow"))
            .send()
            .await
            .expect("PutUserPolicy");
        assert_eq!(reads(&alice, name).await, all(""), "round {round}");
    }

    // STS: a session token issued by one node works on every node; a deleted access key is
    // refused everywhere at once (its sessions keep working until they expire, as in AWS).
    let session = alice[0]
        .sts
        .get_session_token()
        .send()
        .await
        .expect("GetSessionToken")
        .credentials()
        .cloned()
        .expect("credentials");
    let temp = Creds {
        access_key_id: session.access_key_id().to_owned(),
        secret_access_key: session.secret_access_key().to_owned(),
        session_token: Some(session.session_token().to_owned()),
    };
    assert_eq!(reads(&cluster.clients(&temp), name).await, all(""));
    root[2]
        .iam
        .delete_access_key()
        .user_name("alice")
        .access_key_id(&creds.access_key_id)
        .send()
        .await
        .expect("DeleteAccessKey");
    assert_eq!(reads(&alice, name).await, all("UnrecognizedClientException"));
    // A policy change applies to the session on every node too.
    root[0]
        .iam
        .put_user_policy()
        .user_name("alice")
        .policy_name("deny")
        .policy_document(DENY_GET)
        .send()
        .await
        .expect("PutUserPolicy deny");
    assert_eq!(
        reads(&cluster.clients(&temp), name).await,
        all("AccessDeniedException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kms_key_states_changed_on_one_node_apply_on_every_node_at_once() {
    let Some(cluster) = cluster("cross-node KMS consistency") else {
        return;
    };
    let c = cluster.root_clients();
    let key_id = c[0]
        .kms
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .expect("key id");
    let blob = c[1]
        .kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new("p"))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .cloned()
        .expect("ciphertext");
    let encrypt_everywhere = || async {
        let mut out = Vec::new();
        for n in &c {
            out.push(
                match n
                    .kms
                    .encrypt()
                    .key_id(&key_id)
                    .plaintext(Blob::new("p"))
                    .send()
                    .await
                {
                    Ok(_) => String::new(),
                    Err(e) => code(&e),
                },
            );
            out.push(match n.kms.decrypt().ciphertext_blob(blob.clone()).send().await {
                Ok(d) => {
                    assert_eq!(d.plaintext().map(|p| p.as_ref()), Some(&b"p"[..]));
                    String::new()
                }
                Err(e) => code(&e),
            });
        }
        out
    };
    assert_eq!(encrypt_everywhere().await, vec![String::new(); 2 * NODES]);
    for round in 0..4 {
        c[round % NODES]
            .kms
            .disable_key()
            .key_id(&key_id)
            .send()
            .await
            .expect("DisableKey");
        assert_eq!(
            encrypt_everywhere().await,
            vec!["DisabledException".to_owned(); 2 * NODES],
            "round {round}"
        );
        c[(round + 1) % NODES]
            .kms
            .enable_key()
            .key_id(&key_id)
            .send()
            .await
            .expect("EnableKey");
        assert_eq!(
            encrypt_everywhere().await,
            vec![String::new(); 2 * NODES],
            "round {round}"
        );
    }
    // Scheduled for deletion: refused everywhere (KMSInvalidStateException); cancelled: disabled
    // everywhere, as AWS leaves a key whose deletion was cancelled.
    c[2].kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(
        encrypt_everywhere().await,
        vec!["KMSInvalidStateException".to_owned(); 2 * NODES]
    );
    c[0].kms
        .cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .expect("CancelKeyDeletion");
    assert_eq!(
        encrypt_everywhere().await,
        vec!["DisabledException".to_owned(); 2 * NODES]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_to_one_secret_through_different_nodes_keep_the_invariants() {
    let Some(cluster) = cluster("concurrent cross-node writes") else {
        return;
    };
    let c = cluster.root_clients();
    let name = "cross-node/concurrent";
    c[0].sm
        .create_secret()
        .name(name)
        .secret_string("v0")
        .send()
        .await
        .expect("CreateSecret");

    // PutSecretValue from 6 writers spread over the nodes; each token is also sent a second time
    // through another node (a client retrying elsewhere), which must answer the same version.
    const WRITERS: usize = 6;
    const PUTS: usize = 8;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failed = Vec::new();
            for p in 0..PUTS {
                let token = format!("{w:04}-{p:04}-0000-0000-000000000000{w:02}{p:02}");
                let value = format!("w{w}p{p}");
                for attempt in 0..2 {
                    let node = &c[(w + p + attempt) % NODES];
                    match node
                        .sm
                        .put_secret_value()
                        .secret_id(name)
                        .secret_string(&value)
                        .client_request_token(&token)
                        .send()
                        .await
                    {
                        Ok(out) => {
                            assert_eq!(out.version_id(), Some(token.as_str()));
                            acked.push((token.clone(), value.clone()));
                        }
                        Err(e) => failed.push((token.clone(), code(&e))),
                    }
                }
            }
            (acked, failed)
        }));
    }
    let mut acked = BTreeMap::new();
    let mut failed = Vec::new();
    for t in tasks {
        let (a, f) = t.await.expect("writer");
        acked.extend(a);
        failed.extend(f);
    }
    // Every call is answered; none fails (a conflict between nodes is retried by the server).
    assert!(failed.is_empty(), "failed puts: {failed:?}\n{}", cluster.stderr());
    assert_eq!(acked.len(), WRITERS * PUTS);
    for n in &c {
        let s = stages(n, name).await;
        let currents: Vec<_> = s.iter().filter(|(_, st)| st.contains("AWSCURRENT")).collect();
        assert_eq!(currents.len(), 1, "exactly one AWSCURRENT: {s:?}");
        assert_eq!(
            s.iter().filter(|(_, st)| st.contains("AWSPREVIOUS")).count(),
            1,
            "exactly one AWSPREVIOUS: {s:?}"
        );
        for (token, value) in &acked {
            assert!(s.contains_key(token), "acknowledged version {token} lost: {s:?}");
            let got =
                n.sm.get_secret_value()
                    .secret_id(name)
                    .version_id(token)
                    .send()
                    .await
                    .expect("GetSecretValue by version");
            assert_eq!(got.secret_string(), Some(value.as_str()));
        }
    }

    // UpdateSecretVersionStage: concurrent moves of AWSCURRENT between versions, each based on
    // what its node reads as current. Whatever wins, one AWSCURRENT remains.
    let tokens: Vec<String> = acked.keys().cloned().collect();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let c = c.clone();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            let mut moved = 0;
            for p in 0..PUTS {
                let node = &c[(w + p) % NODES];
                let Ok((_, cur)) = current(node, name).await else {
                    continue;
                };
                let target = &tokens[(w * 7 + p * 3) % tokens.len()];
                if *target == cur {
                    continue;
                }
                match node
                    .sm
                    .update_secret_version_stage()
                    .secret_id(name)
                    .version_stage("AWSCURRENT")
                    .move_to_version_id(target)
                    .remove_from_version_id(&cur)
                    .send()
                    .await
                {
                    Ok(_) => moved += 1,
                    // Another node moved it first: AWSCURRENT is no longer on `cur`.
                    Err(e) => assert_eq!(code(&e), "InvalidParameterException", "{e:?}"),
                }
            }
            moved
        }));
    }
    let mut moved = 0;
    for t in tasks {
        moved += t.await.expect("mover");
    }
    assert!(moved > 0);
    for n in &c {
        let s = stages(n, name).await;
        assert_eq!(
            s.values().filter(|st| st.contains("AWSCURRENT")).count(),
            1,
            "exactly one AWSCURRENT after concurrent moves: {s:?}"
        );
        assert_eq!(s.len(), tokens.len() + 1, "no version lost: {s:?}");
    }

    // DeleteSecret through every node at once: exactly one schedules the deletion, the others are
    // told the secret is already marked for deletion.
    let mut tasks = Vec::new();
    for n in c.clone() {
        tasks.push(tokio::spawn(async move {
            n.sm.delete_secret()
                .secret_id(name)
                .recovery_window_in_days(7)
                .send()
                .await
                .map(|o| o.deletion_date().cloned())
                .map_err(|e| code(&e))
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("deleter"));
    }
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| e == "InvalidRequestException"),
        "{results:?}"
    );
    for n in &c {
        let d =
            n.sm.describe_secret()
                .secret_id(name)
                .send()
                .await
                .expect("DescribeSecret");
        assert!(d.deleted_date().is_some(), "{d:?}");
        assert_eq!(stages(n, name).await.len(), tokens.len() + 1, "no version lost");
    }
}
