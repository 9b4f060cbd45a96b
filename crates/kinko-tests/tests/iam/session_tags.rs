//! Session tags and source identity along role chains, as STS passes them: transitive tags are
//! inherited by the sessions a session assumes and can't be overridden there, other session tags
//! are not inherited, tag keys may not use the `aws:` prefix; a source identity needs
//! `sts:SetSourceIdentity` and, once set, stays the same along the chain (IAM User Guide, "Pass
//! session tags in AWS STS", "Chaining roles with session tags"; "Monitor and control actions
//! taken with assumed roles"; STS API Reference, AssumeRole).

use aws_sdk_sts::types::Tag as StsTag;
use kinko_tests::*;
use serde_json::json;

use crate::*;

fn sts_tag(key: &str, value: &str) -> StsTag {
    StsTag::builder().key(key).value(value).build().expect("tag")
}

/// A trust statement: `principal` may perform `actions` on the role.
fn trust(principal: &str, actions: &[&str]) -> String {
    policy_document(&[json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions})])
}

const TAGGING: [&str; 2] = ["sts:AssumeRole", "sts:TagSession"];

/// Two roles in a chain: `first` trusting the account with session tags and allowed to assume
/// `second` (and tag it), `second` trusting `first` as `second_trust_actions` say and allowed
/// `second_policy`. Returns (first's ARN, second's name and ARN, a user allowed to assume and tag
/// `first`).
async fn chain(
    p: &str,
    second_trust_actions: &[&str],
    second_policy: &str,
) -> (String, String, String, Principal<'static>) {
    let server = server();
    let first_name = format!("chain-first-{p}");
    let second_name = format!("chain-second-{p}");
    let first_arn = format!("arn:aws:iam::{DEV_ACCOUNT}:role/{first_name}");
    let second_arn = format!("arn:aws:iam::{DEV_ACCOUNT}:role/{second_name}");
    let actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"];
    let first_policy = allow(&actions, &[&second_arn]);
    let first_trust = trust(&root(), &actions);
    server.role(&first_name, &first_trust, Some(&first_policy)).await;
    let second_trust = trust(&first_arn, second_trust_actions);
    server
        .role(&second_name, &second_trust, Some(second_policy))
        .await;
    let user = server
        .user("chainer", Some(&allow(&actions, &[&first_arn])))
        .await;
    (first_arn, second_name, second_arn, user)
}

/// The session of `out` (an AssumeRole answer) of role `role_name`, named `session`.
fn session_of(
    out: aws_sdk_sts::operation::assume_role::AssumeRoleOutput,
    role_name: &str,
    session: &str,
) -> Principal<'static> {
    Principal {
        server: server(),
        arn: session_arn(DEV_ACCOUNT, role_name, session),
        name: session.to_owned(),
        creds: TestCredentials::from(&out.credentials.expect("Credentials")),
    }
}

/// Reads where the secret's `team` tag is the caller's, and a Deny on the `cost` tag being present.
fn team_policy() -> String {
    policy_document(&[
        json!({
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
            "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}"}}
        }),
        json!({
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Null": {"aws:PrincipalTag/cost": "false"}}
        }),
    ])
}

/// A secret tagged `team` = `team`; returns its ARN.
async fn team_secret(p: &str, team: &str) -> String {
    let req = server().client().create_secret().name(format!("{p}/{team}"));
    let req = req.secret_string(team).tags(tag("team", team));
    ok(req.send().await).arn.expect("ARN")
}

/// The first session of a chain, tagged `team` = `blue` (transitive) and `cost` = `1` (not).
async fn first_session(user: &Principal<'_>, first_arn: &str) -> Principal<'static> {
    let req = user
        .sts()
        .assume_role()
        .role_arn(first_arn)
        .role_session_name("first");
    let req = req.tags(sts_tag("team", "blue")).tags(sts_tag("cost", "1"));
    let out = ok(req.transitive_tag_keys("team").send().await);
    let first_name = first_arn.rsplit('/').next().expect("role name");
    session_of(out, first_name, "first")
}

/// A session assumed by a session tagged with transitive tags carries them: the second session
/// reads the secret of its inherited `team` and nothing else, and the non-transitive `cost` tag
/// is not carried (a Deny on it doesn't apply).
#[tokio::test]
async fn transitive_tags_are_carried_along_the_chain() {
    let p = short_id();
    let (blue, red) = (team_secret(&p, "blue").await, team_secret(&p, "red").await);
    let (first_arn, second_name, second_arn, user) = chain(&p, &TAGGING, &team_policy()).await;
    let first = first_session(&user, &first_arn).await;
    let req = first
        .sts()
        .assume_role()
        .role_arn(&second_arn)
        .role_session_name("second");
    let second = session_of(ok(req.send().await), &second_name, "second");
    assert_eq!(read(&second, &blue).await, Ok(()));
    assert_eq!(
        read(&second, &red).await,
        read_denied(&second.arn, &red, Denial::NoIdentityPolicy)
    );
    // A tag of a new key may be added along the chain.
    let req = first
        .sts()
        .assume_role()
        .role_arn(&second_arn)
        .role_session_name("added");
    let added = ok(req.tags(sts_tag("project", "x")).send().await);
    let added = session_of(added, &second_name, "added");
    assert_eq!(read(&added, &blue).await, Ok(()));
}

/// A chained AssumeRole may not set a tag whose key (in any case) is a transitive tag of the
/// calling session (STS API Reference, AssumeRole, Tags: "If you pass a session tag with the same
/// key as an inherited tag, the operation fails").
#[tokio::test]
async fn a_chained_session_may_not_override_a_transitive_tag() {
    let p = short_id();
    let (first_arn, _, second_arn, user) = chain(&p, &TAGGING, &team_policy()).await;
    let first = first_session(&user, &first_arn).await;
    let conflict = failed(
        "InvalidParameterValue",
        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    );
    for key in ["team", "TEAM"] {
        let req = first
            .sts()
            .assume_role()
            .role_arn(&second_arn)
            .role_session_name("over");
        let out = req.tags(sts_tag(key, "red")).send().await;
        assert_eq!(outcome(out), conflict, "{key}");
    }
    // The non-transitive tag of the calling session may be set again.
    let req = first
        .sts()
        .assume_role()
        .role_arn(&second_arn)
        .role_session_name("cost");
    assert_eq!(outcome(req.tags(sts_tag("cost", "2")).send().await), Ok(()));
}

/// Inherited transitive tags are session tags of the new session: the role's trust policy must
/// allow `sts:TagSession` for them too.
#[tokio::test]
async fn inherited_transitive_tags_need_tag_session() {
    let p = short_id();
    let (first_arn, _, second_arn, user) = chain(&p, &["sts:AssumeRole"], &team_policy()).await;
    let first = first_session(&user, &first_arn).await;
    let req = first
        .sts()
        .assume_role()
        .role_arn(&second_arn)
        .role_session_name("second");
    let why = Denial::NoTrustPolicy;
    assert_eq!(
        outcome(req.send().await),
        denied(&first.arn, "sts:TagSession", Some(&second_arn), why)
    );
}

/// TransitiveTagKeys must name tags of the request; tag keys may not start with `aws:`, in any
/// case (IAM User Guide, "Rules for tagging": the prefix is reserved for AWS use).
#[tokio::test]
async fn transitive_tag_keys_and_reserved_tag_keys() {
    let p = short_id();
    let (first_arn, _, _, user) = chain(&p, &TAGGING, &team_policy()).await;
    let assume = || {
        user.sts()
            .assume_role()
            .role_arn(&first_arn)
            .role_session_name("s1")
    };
    let out = assume().tags(sts_tag("team", "blue")).transitive_tag_keys("cost");
    assert_eq!(
        outcome(out.send().await),
        failed(
            "InvalidParameterValue",
            "The specified transitive tag key must be included in the requested tags."
        )
    );
    let out = assume().tags(sts_tag("Team", "blue")).transitive_tag_keys("team");
    assert_eq!(outcome(out.send().await), Ok(()), "keys compare in any case");
    let reserved = failed(
        "InvalidParameterValue",
        "Tag keys starting with 'aws:' are reserved for AWS use.",
    );
    for key in ["aws:team", "AWS:team", "Aws:cost"] {
        let out = assume().tags(sts_tag(key, "x")).send().await;
        assert_eq!(outcome(out), reserved, "{key}");
    }
}

/// A source identity needs `sts:SetSourceIdentity` from the role's trust policy and, when the
/// trust policy names only the account, from the caller's own policies (IAM User Guide,
/// "Permissions required to set source identity").
#[tokio::test]
async fn source_identity_needs_set_source_identity() {
    let server = server();
    let role = bare_role("no-source-identity").await;
    let both = ["sts:AssumeRole", "sts:SetSourceIdentity"];
    let user = server.user("identifier", Some(&allow(&both, &[&role]))).await;
    let req = user.sts().assume_role().role_arn(&role).role_session_name("s1");
    let out = outcome(req.source_identity("alice").send().await);
    let action = "sts:SetSourceIdentity";
    assert_eq!(out, denied(&user.arn, action, Some(&role), Denial::NoTrustPolicy));
    let role_name = format!("source-identity-{}", short_id());
    let trusting = server.role(&role_name, &trust(&root(), &both), None).await;
    let assume_only = allow(&["sts:AssumeRole"], &[&trusting]);
    let user = server.user("identifier", Some(&assume_only)).await;
    let req = user
        .sts()
        .assume_role()
        .role_arn(&trusting)
        .role_session_name("s1");
    let out = outcome(req.source_identity("alice").send().await);
    let why = Denial::NoIdentityPolicy;
    assert_eq!(out, denied(&user.arn, action, Some(&trusting), why));
    let req = user
        .sts()
        .assume_role()
        .role_arn(&trusting)
        .role_session_name("s1");
    assert_eq!(
        outcome(req.send().await),
        Ok(()),
        "no source identity, no permission needed"
    );
}

/// Reads only when the session's source identity is `alice`.
fn alice_only() -> String {
    policy_document(&[json!({
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}}
    })])
}

/// Once set, the source identity can't change along the chain: a chained AssumeRole asking for
/// another is refused, one without keeps the caller's (IAM User Guide, "Monitor and control
/// actions taken with assumed roles": "The value that is set cannot be changed during the role
/// session").
#[tokio::test]
async fn source_identity_stays_the_same_along_the_chain() {
    let p = short_id();
    let arn = secret(&format!("{p}/alice"), "v").await;
    let actions = ["sts:AssumeRole", "sts:SetSourceIdentity"];
    let (first_arn, second_name, second_arn, user) = chain(&p, &actions, &alice_only()).await;
    let first_name = first_arn.rsplit('/').next().expect("role name");
    let req = user
        .sts()
        .assume_role()
        .role_arn(&first_arn)
        .role_session_name("first");
    let first = session_of(ok(req.source_identity("alice").send().await), first_name, "first");
    let assume = || {
        first
            .sts()
            .assume_role()
            .role_arn(&second_arn)
            .role_session_name("second")
    };
    let out = assume().source_identity("mallory").send().await;
    assert_eq!(
        outcome(out),
        failed(
            "ValidationError",
            "The source identity is already set for this assume role session"
        )
    );
    let second = session_of(ok(assume().send().await), &second_name, "second");
    assert_eq!(read(&second, &arn).await, Ok(()));
    let same = session_of(
        ok(assume().source_identity("alice").send().await),
        &second_name,
        "second",
    );
    assert_eq!(read(&same, &arn).await, Ok(()));
    // The second role's trust policy must allow the inherited source identity too.
    let (first_arn, _, second_arn, user) = chain(&format!("{p}-b"), &TAGGING, &alice_only()).await;
    let first_name = first_arn.rsplit('/').next().expect("role name");
    let req = user
        .sts()
        .assume_role()
        .role_arn(&first_arn)
        .role_session_name("first");
    let first = session_of(ok(req.source_identity("alice").send().await), first_name, "first");
    let req = first
        .sts()
        .assume_role()
        .role_arn(&second_arn)
        .role_session_name("second");
    let action = "sts:SetSourceIdentity";
    let why = Denial::NoTrustPolicy;
    assert_eq!(
        outcome(req.send().await),
        denied(&first.arn, action, Some(&second_arn), why)
    );
}
