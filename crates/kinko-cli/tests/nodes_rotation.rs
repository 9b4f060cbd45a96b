//! Scheduled secret rotation once across nodes: three `kinko server` processes on one PostgreSQL
//! schema, jobs every 0.2 s under 2 s leases, functions on. A secret whose rotation is configured
//! (RotateImmediately=false: a Python rotation function tested, nothing rotated) and then falls
//! due is rotated to its end exactly once: one new `AWSCURRENT` version, two versions in all,
//! `LastRotatedDate` set; the nodes' metrics count one scheduled start in all, still one some ticks
//! later, all on the `rotate_secrets` lease holder, and no other node even ran the job. After the
//! holder is SIGKILLed, another node takes its lease over and rotates the next secret due, again
//! once.
//!
//! The binary has no clock to move, so a secret is made due in the database, as if its rotation
//! had been configured 20 days ago on a 10-day schedule: the schedule's start in its stored
//! document (which the job checks again before it starts anything) and the column the job selects
//! by (`rotation_ms`), with the change recorded in the change feed as a node's write records it
//! (so no node keeps the old document in its cache).
//! Skipped (with the reason printed) when `KINKO_TEST_POSTGRES_URL` is unset.

mod harness;

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::RotationRulesType;
use harness::{Cluster, Node, metric};
use kinko_core::Timestamp;
use kinko_core::secret::Secret;
use kinko_tests::{lambda_trust, policy_document, statement, zip_of};

const JOB: &str = "rotate_secrets";
/// Bound on waiting for a rotation: a lease takes 2 s to run out, then four steps of a Python
/// function, each starting an interpreter.
const WAIT: Duration = Duration::from_secs(90);
const FIRST_VALUE: &str = "first-password";

/// A rotation function in the manner of AWS's generic template, under a role that may do no more
/// than the four steps need: createSecret puts a random password as `AWSPENDING` (unless the
/// pending version has a value already), setSecret has nothing to set, testSecret reads the
/// pending value, finishSecret moves `AWSCURRENT` to it.
const ROTATION_FUNCTION: &str = r#"import boto3

client = boto3.client('secretsmanager')


def lambda_handler(event, context):
    arn, token, step = event['SecretId'], event['ClientRequestToken'], event['Step']
    metadata = client.describe_secret(SecretId=arn)
    if not metadata['RotationEnabled']:
        raise ValueError("Secret %s is not enabled for rotation" % arn)
    versions = metadata['VersionIdsToStages']
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation of secret %s." % (token, arn))
    if 'AWSCURRENT' in versions[token]:
        return
    if 'AWSPENDING' not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn))
    if step == 'createSecret':
        client.get_secret_value(SecretId=arn, VersionStage='AWSCURRENT')
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage='AWSPENDING')
        except client.exceptions.ResourceNotFoundException:
            password = client.get_random_password(PasswordLength=24, ExcludeCharacters='/@"\'\\')
            client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                    SecretString=password['RandomPassword'], VersionStages=['AWSPENDING'])
    elif step == 'setSecret':
        pass
    elif step == 'testSecret':
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage='AWSPENDING')
    elif step == 'finishSecret':
        current = [v for v, s in versions.items() if 'AWSCURRENT' in s][0]
        client.update_secret_version_stage(SecretId=arn, VersionStage='AWSCURRENT',
                                           MoveToVersionId=token, RemoveFromVersionId=current)
    else:
        raise ValueError("Invalid step parameter")
"#;

/// What one node's metrics say about scheduled rotation.
#[derive(Debug)]
struct Figures {
    /// `kinko_secret_rotations_scheduled_total`: runs started, succeeded, failed.
    started: f64,
    succeeded: f64,
    failed: f64,
    /// Runs of the `rotate_secrets` job (ok or failed).
    runs: f64,
    /// Whether it holds the job's lease.
    held: bool,
}

fn figures(nodes: &[&Node]) -> Vec<Figures> {
    nodes
        .iter()
        .map(|n| {
            let (code, text) = n.get("/metrics").expect("GET /metrics");
            assert_eq!(code, 200);
            let scheduled = |r: &str| {
                metric(
                    &text,
                    &format!("kinko_secret_rotations_scheduled_total{{result=\"{r}\"}}"),
                )
                .unwrap_or(0.0)
            };
            let runs = |o: &str| {
                metric(
                    &text,
                    &format!("kinko_job_runs_total{{job=\"{JOB}\",outcome=\"{o}\"}}"),
                )
                .unwrap_or(0.0)
            };
            Figures {
                started: scheduled("started"),
                succeeded: scheduled("succeeded"),
                failed: scheduled("failed"),
                runs: runs("ok") + runs("failed"),
                held: text.lines().any(|l| {
                    l.starts_with(&format!("kinko_job_lease_held{{job=\"{JOB}\",")) && l.ends_with(" 1")
                }),
            }
        })
        .collect()
}

/// Through node `node`: creates the secret `name`, a rotation function whose role may rotate it
/// (and Secrets Manager invoke it), and configures its rotation every 10 days without rotating
/// now; waits until the function's test of the configuration is over (its temporary version
/// gone). Returns the secret's ARN and its one version's id.
async fn rotatable(cluster: &Cluster, node: usize, name: &str) -> (String, String) {
    let c = cluster.nodes[node].clients(&cluster.root);
    let created =
        c.sm.create_secret()
            .name(name)
            .secret_string(FIRST_VALUE)
            .send()
            .await
            .expect("CreateSecret");
    let arn = created.arn().expect("ARN").to_owned();
    let first = created.version_id().expect("VersionId").to_owned();
    let id = name.replace('/', "-");
    let role_policy = policy_document(&[
        statement(
            "Allow",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            &[&arn],
        ),
        statement("Allow", &["secretsmanager:GetRandomPassword"], &["*"]),
    ]);
    let role = c
        .iam
        .create_role()
        .role_name(format!("rotation-{id}"))
        .assume_role_policy_document(lambda_trust())
        .send()
        .await
        .expect("CreateRole")
        .role
        .expect("the role")
        .arn;
    c.iam
        .put_role_policy()
        .role_name(format!("rotation-{id}"))
        .policy_name("rotate")
        .policy_document(role_policy)
        .send()
        .await
        .expect("PutRolePolicy");
    let function = format!("rotate-{id}");
    let function_arn = c
        .lambda
        .create_function()
        .function_name(&function)
        .runtime(Runtime::Python312)
        .handler("lambda_function.lambda_handler")
        .role(role)
        .timeout(30)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip_of(&[(
                    "lambda_function.py",
                    ROTATION_FUNCTION.as_bytes(),
                )])))
                .build(),
        )
        .send()
        .await
        .expect("CreateFunction")
        .function_arn
        .expect("the function's ARN");
    c.lambda
        .add_permission()
        .function_name(&function)
        .statement_id("SecretsManagerAccess")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .source_account(&cluster.account_id)
        .source_arn(&arn)
        .send()
        .await
        .expect("AddPermission");
    c.sm.rotate_secret()
        .secret_id(name)
        .rotation_lambda_arn(function_arn)
        .rotation_rules(
            RotationRulesType::builder()
                .schedule_expression("rate(10 days)")
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .expect("RotateSecret");
    let d = wait_for(cluster, &[node], name, "the test of the rotation", |d| {
        versions(d).len() == 1
    })
    .await;
    assert!(d.rotation_enabled().unwrap_or(false), "{d:?}");
    assert_eq!(d.last_rotated_date(), None, "nothing rotated yet: {d:?}");
    assert_eq!(versions(&d), vec![(first.clone(), vec!["AWSCURRENT".to_owned()])]);
    (arn, first)
}

/// Makes the rotation of `arn` due, as if it had been configured 20 days ago: moves the
/// schedule's start back in the stored document and sets `rotation_ms` to the due date that
/// follows from it (in the past), in one transaction that records the change in the change feed.
async fn make_due(db: &mut tokio_postgres::Client, schema: &str, arn: &str) {
    let tx = db.transaction().await.expect("begin");
    let row = tx
        .query_one(
            &format!("SELECT doc, revision FROM \"{schema}\".secrets WHERE arn = $1 FOR UPDATE"),
            &[&arn],
        )
        .await
        .expect("the stored secret");
    let (doc, revision): (String, i64) = (row.get(0), row.get(1));
    let mut secret: Secret = serde_json::from_str(&doc).expect("a secret's document");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let twenty_days_ago = i64::try_from(now).expect("ms") - 20 * 86_400_000;
    secret
        .rotation
        .as_mut()
        .expect("rotation configured")
        .configured_date = Timestamp(twenty_days_ago);
    let due = secret.rotation_due_date().expect("a due date").millis();
    assert!(
        due < twenty_days_ago + 11 * 86_400_000,
        "due about 10 days ago: {due}"
    );
    let n = tx
        .execute(
            &format!(
                "UPDATE \"{schema}\".secrets SET doc = $1, rotation_ms = $2, revision = revision + 1
                 WHERE arn = $3 AND revision = $4"
            ),
            &[
                &serde_json::to_string(&secret).expect("JSON"),
                &due,
                &arn,
                &revision,
            ],
        )
        .await
        .expect("make the rotation due");
    assert_eq!(n, 1);
    tx.execute(
        &format!(
            "WITH f AS (UPDATE \"{schema}\".change_feed SET last_seq = last_seq + 1 WHERE id = 1
                        RETURNING last_seq)
             INSERT INTO \"{schema}\".changes (seq, kind, key) SELECT last_seq, 'secret', $1 FROM f"
        ),
        &[&arn],
    )
    .await
    .expect("record the change");
    tx.commit().await.expect("commit");
}

/// Each version's id and stages, in id order.
fn versions(d: &DescribeSecretOutput) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = d
        .version_ids_to_stages()
        .map(|m| m.iter().map(|(k, s)| (k.clone(), s.clone())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Describes `name` through each of the nodes `live` until `done` holds on all of them.
async fn wait_for(
    cluster: &Cluster,
    live: &[usize],
    name: &str,
    what: &str,
    done: impl Fn(&DescribeSecretOutput) -> bool,
) -> DescribeSecretOutput {
    let deadline = Instant::now() + WAIT;
    'wait: loop {
        let mut last = None;
        for &i in live {
            let c = cluster.nodes[i].clients(&cluster.root);
            let d =
                c.sm.describe_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .expect("DescribeSecret");
            if !done(&d) {
                assert!(
                    Instant::now() < deadline,
                    "{what} of {name} not seen within {WAIT:?}: {d:?}\n{}",
                    cluster.stderr()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue 'wait;
            }
            last = Some(d);
        }
        return last.expect("a live node");
    }
}

/// Waits until `name` shows one finished rotation on every live node, and checks it is one: the
/// first version `AWSPREVIOUS`, one new version `AWSCURRENT` with a new value, no other version
/// (deprecated ones included), `LastRotatedDate` set.
async fn wait_rotated(cluster: &Cluster, live: &[usize], name: &str, first: &str) -> String {
    let d = wait_for(cluster, live, name, "a scheduled rotation", |d| {
        d.last_rotated_date().is_some()
            && versions(d)
                .iter()
                .all(|(_, s)| !s.iter().any(|l| l == "AWSPENDING") || s.iter().any(|l| l == "AWSCURRENT"))
    })
    .await;
    let v = versions(&d);
    let new = v
        .iter()
        .find(|(_, s)| s.iter().any(|l| l == "AWSCURRENT"))
        .map(|(id, _)| id.clone())
        .expect("a current version");
    assert_ne!(new, first, "a new current version: {d:?}");
    let mut expected = vec![
        (first.to_owned(), vec!["AWSPREVIOUS".to_owned()]),
        (new.clone(), vec!["AWSCURRENT".to_owned()]),
    ];
    expected.sort();
    assert_eq!(v, expected, "one rotation, two versions: {d:?}");
    let c = cluster.nodes[live[0]].clients(&cluster.root);
    let all =
        c.sm.list_secret_version_ids()
            .secret_id(name)
            .include_deprecated(true)
            .send()
            .await
            .expect("ListSecretVersionIds");
    assert_eq!(all.versions().len(), 2, "no other version: {all:?}");
    let value =
        c.sm.get_secret_value()
            .secret_id(name)
            .send()
            .await
            .expect("GetSecretValue");
    assert_eq!(value.version_id(), Some(new.as_str()));
    assert_ne!(value.secret_string(), Some(FIRST_VALUE));
    new
}

/// Waits until the metrics of `nodes` show `succeeded` scheduled rotations ended in all.
async fn wait_succeeded(cluster: &Cluster, nodes: &[&Node], succeeded: f64) -> Vec<Figures> {
    let deadline = Instant::now() + WAIT;
    loop {
        let f = figures(nodes);
        if f.iter().map(|f| f.succeeded).sum::<f64>() >= succeeded {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "{succeeded} rotations not counted as succeeded within {WAIT:?}: {f:?}\n{}",
            cluster.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that the figures of the nodes show `n` scheduled rotations started and succeeded in
/// all, none failed, all of them on the one lease holder, and that no other node ran the job;
/// returns the holder's index in `figures`.
fn one_holder_ran(figures: &[Figures], n: f64) -> usize {
    let sum = |f: fn(&Figures) -> f64| figures.iter().map(f).sum::<f64>();
    assert_eq!(
        (sum(|f| f.started), sum(|f| f.succeeded), sum(|f| f.failed)),
        (n, n, 0.0),
        "started and succeeded {n} times in all: {figures:?}"
    );
    let holders: Vec<usize> = (0..figures.len()).filter(|&i| figures[i].held).collect();
    assert_eq!(holders.len(), 1, "one lease holder: {figures:?}");
    let holder = holders[0];
    for (i, f) in figures.iter().enumerate() {
        if i != holder {
            assert_eq!(
                (f.runs, f.started),
                (0.0, 0.0),
                "node {i} ran the job without the lease: {figures:?}"
            );
        }
    }
    assert!(figures[holder].runs >= 1.0, "{figures:?}");
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_rotation_starts_once_across_nodes_and_moves_on_when_its_node_dies() {
    let Some(url) = harness::postgres_url("scheduled rotation across nodes") else {
        return;
    };
    let mut cluster = Cluster::start(&url, 3, &["--job-interval", "0.2", "--job-lease", "2"]);
    let mut db = harness::connect_db(&url).await;
    let schema = cluster.schema().to_owned();

    // Both secrets are configured first, through different nodes; neither is due yet.
    let (first_arn, first_v1) = rotatable(&cluster, 0, "rotation/first").await;
    let (second_arn, second_v1) = rotatable(&cluster, 1, "rotation/second").await;
    let all: Vec<&Node> = cluster.nodes.iter().collect();
    let f = figures(&all);
    assert_eq!(
        f.iter().map(|f| f.started).sum::<f64>(),
        0.0,
        "nothing due yet: {f:?}"
    );

    make_due(&mut db, &schema, &first_arn).await;
    wait_rotated(&cluster, &[0, 1, 2], "rotation/first", &first_v1).await;
    wait_succeeded(&cluster, &all, 1.0).await;
    // Some more ticks: nothing starts again, on any node.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let current = wait_rotated(&cluster, &[0, 1, 2], "rotation/first", &first_v1).await;
    let f = figures(&all);
    let holder = one_holder_ran(&f, 1.0);
    // The second secret is untouched.
    let d = wait_for(&cluster, &[holder], "rotation/second", "no rotation", |_| true).await;
    assert_eq!(d.last_rotated_date(), None);
    assert_eq!(
        versions(&d),
        vec![(second_v1.clone(), vec!["AWSCURRENT".to_owned()])]
    );

    // The holder dies; its lease runs out and another node carries on.
    cluster.nodes[holder].kill();
    let live: Vec<usize> = (0..3).filter(|&i| i != holder).collect();
    make_due(&mut db, &schema, &second_arn).await;
    wait_rotated(&cluster, &live, "rotation/second", &second_v1).await;
    let nodes: Vec<&Node> = live.iter().map(|&i| &cluster.nodes[i]).collect();
    wait_succeeded(&cluster, &nodes, 1.0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    wait_rotated(&cluster, &live, "rotation/second", &second_v1).await;
    one_holder_ran(&figures(&nodes), 1.0);
    // The first secret's rotation is not run again by the new holder.
    let again = wait_rotated(&cluster, &live, "rotation/first", &first_v1).await;
    assert_eq!(again, current);
}
