//! Attribute-based access and request conditions: policy variables, session tags matched against
//! resource tags, `sts:TagSession`, and `aws:SourceIp`.

use aws_sdk_sts::types::Tag as StsTag;
use kinko_tests::*;
use serde_json::json;

use crate::*;

#[tokio::test]
async fn policy_variables_scope_each_user_to_their_own_prefix() {
    let (server, iam) = (server(), server().iam_client());
    let p = short_id();
    let (alice_name, bob_name) = (format!("alice-{p}"), format!("bob-{p}"));
    let alice_secret = secret(&format!("{alice_name}/token"), "alice").await;
    let bob_secret = secret(&format!("{bob_name}/token"), "bob").await;
    let group = format!("per-user-{p}");
    ok(iam.create_group().group_name(&group).send().await);
    let own = allow(
        &["secretsmanager:GetSecretValue"],
        &[&secret_pattern("${aws:username}/*")],
    );
    let req = iam
        .put_group_policy()
        .group_name(&group)
        .policy_name("own-prefix");
    ok(req.policy_document(own).send().await);
    let alice = server.user_named(&alice_name, None).await;
    let bob = server.user_named(&bob_name, None).await;
    for user in [&alice_name, &bob_name] {
        let req = iam.add_user_to_group().group_name(&group);
        ok(req.user_name(user).send().await);
    }
    assert_eq!(alice.sm().value(&alice_secret).await, "alice");
    assert_eq!(bob.sm().value(&bob_secret).await, "bob");
    let other = read(&alice, &bob_secret).await;
    assert_eq!(
        other,
        read_denied(&alice.arn, &bob_secret, Denial::NoIdentityPolicy)
    );
}

fn team(value: &str) -> StsTag {
    StsTag::builder().key("team").value(value).build().expect("tag")
}

/// A role allowing GetSecretValue where the secret's `team` tag is the session's.
#[tokio::test]
async fn session_tags_drive_attribute_based_access() {
    let (server, sm) = (server(), server().client());
    let p = short_id();
    let mut arns = Vec::new();
    for t in ["blue", "red"] {
        let req = sm
            .create_secret()
            .name(format!("{p}/{t}/api-key"))
            .secret_string(t);
        arns.push(ok(req.tags(tag("team", t)).send().await).arn.expect("ARN"));
    }
    let (blue, red) = (&arns[0], &arns[1]);
    let role_name = format!("abac-{p}");
    let actions = ["sts:AssumeRole", "sts:TagSession"];
    let trust =
        policy_document(&[json!({"Effect": "Allow", "Principal": {"AWS": root()}, "Action": actions})]);
    let same_team = json!({"StringEquals": {"secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}"}});
    let policy = policy_document(&[json!({
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": same_team
    })]);
    let role = server.role(&role_name, &trust, Some(&policy)).await;
    let user = server.user("abac-user", Some(&allow(&actions, &[&role]))).await;
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("blue-team");
    let out = ok(req.tags(team("blue")).send().await);
    let app = server.client_as(&TestCredentials::from(
        out.credentials.as_ref().expect("Credentials"),
    ));
    assert_eq!(app.value(blue).await, "blue");
    let session = session_arn(DEV_ACCOUNT, &role_name, "blue-team");
    let got = outcome(app.get_secret_value().secret_id(red).send().await);
    assert_eq!(got, read_denied(&session, red, Denial::NoIdentityPolicy));
}

#[tokio::test]
async fn session_tags_need_tag_session_in_the_trust_policy() {
    let server = server();
    let role = bare_role("no-tags").await;
    let actions = ["sts:AssumeRole", "sts:TagSession"];
    let user = server.user("tagger", Some(&allow(&actions, &[&role]))).await;
    let req = user
        .sts()
        .assume_role()
        .role_arn(&role)
        .role_session_name("tagged");
    let out = outcome(req.tags(team("blue")).send().await);
    assert_eq!(
        out,
        denied(&user.arn, "sts:TagSession", Some(&role), Denial::NoTrustPolicy)
    );
    user.assume(&role, "untagged").await;
}

/// `aws:SourceIp` is the client's address: the server listens on 127.0.0.1, so a policy limited
/// to 127.0.0.0/8 grants and one limited to another range doesn't.
#[tokio::test]
async fn source_ip_condition_sees_the_client_address() {
    let server = server();
    let name = unique_name("ip");
    secret(&name, "v").await;
    let from = |range: &str| {
        let mut s = statement("Allow", &["secretsmanager:GetSecretValue"], &["*"]);
        s["Condition"] = json!({"IpAddress": {"aws:SourceIp": range}});
        policy_document(&[s])
    };
    let near = server.user("near", Some(&from("127.0.0.0/8"))).await;
    let far = server.user("far", Some(&from("203.0.113.0/24"))).await;
    assert_reads(&near, &name, "a loopback caller is inside 127.0.0.0/8").await;
    let outside = read(&far, &name).await;
    assert_eq!(outside, read_denied(&far.arn, &name, Denial::NoIdentityPolicy));
}
