//! Who may do what, end to end through the official SDKs: IAM users and roles made with the IAM
//! API, temporary credentials from STS, member accounts made with Organizations, and Secrets
//! Manager requests signed with all of them. Every denial is checked against AWS's exact
//! message. A module per feature: roles and trust policies, users and managed policies, explicit
//! denies and permission limits (boundaries, session policies), secret resource policies,
//! attribute-based access and request conditions, access keys, grants changing, temporary
//! credentials, and several accounts.
//!
//! Tests share one server (per test binary) and make users, roles and secrets with unique names;
//! the test of expiring credentials runs a server of its own on a manual clock.

mod abac;
mod access_keys;
mod account_summary;
mod accounts;
mod batch;
mod certificates;
mod condition_keys;
mod credential_report;
mod denies;
mod federation;
mod grant_changes;
mod instance_profiles;
mod login_profiles;
mod mfa;
mod recreated_principals;
mod resource_policies;
mod roles;
mod saml;
mod saml_providers;
mod service_linked_roles;
mod session_tags;
mod sessions;
mod ssh_public_keys;
mod users;
mod web_identity;

use kinko_tests::*;

/// The shared server.
fn server() -> &'static TestServer {
    TestServer::start()
}

/// The ARN of the shared server's account root.
fn root() -> String {
    root_arn(DEV_ACCOUNT)
}

/// The trust policy of a role any principal of the shared server's account may assume (given an
/// identity policy allowing it).
fn trust_account() -> String {
    trust_policy(&[&root()])
}

/// The ARN pattern of the shared server's secrets named `name_pattern`.
fn secret_pattern(name_pattern: &str) -> String {
    secret_arn_pattern(DEV_ACCOUNT, name_pattern)
}

/// A new secret `name` of the shared server's account holding `value`; returns its ARN.
async fn secret(name: &str, value: &str) -> String {
    server().client().create_string(name, value).await.0
}

/// GetSecretValue of `id` as `caller`.
async fn read(caller: &Principal<'_>, id: &str) -> Outcome {
    outcome(caller.sm().get_secret_value().secret_id(id).send().await)
}

/// AccessDeniedException for `caller` on `action` (a Secrets Manager action) and `resource`.
fn sm_denied(caller: &str, action: &str, resource: Option<&str>, why: Denial) -> Outcome {
    failed(
        "AccessDeniedException",
        &access_denied(caller, action, resource, why),
    )
}

/// AccessDeniedException for `caller` reading the secret it named `id`, for the reason `why`.
fn read_denied(caller: &str, id: &str, why: Denial) -> Outcome {
    sm_denied(caller, "secretsmanager:GetSecretValue", Some(id), why)
}

/// AccessDenied (STS, IAM) for `caller` on `action` and `resource`.
fn denied(caller: &str, action: &str, resource: Option<&str>, why: Denial) -> Outcome {
    failed("AccessDenied", &access_denied(caller, action, resource, why))
}

/// AssumeRole of `role` as `caller`, session `session`.
async fn try_assume(caller: &Principal<'_>, role: &str, session: &str) -> Outcome {
    let req = caller.sts().assume_role().role_arn(role);
    outcome(req.role_session_name(session).send().await)
}

/// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
fn session_arn(account: &str, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
}

/// A role allowed `secretsmanager:*` but capped by a permissions boundary allowing
/// only DescribeSecret; returns the role's ARN and a session of it (`bounded`).
async fn bounded_role_session(p: &str) -> (String, Principal<'static>) {
    let (server, iam) = (server(), server().iam_client());
    let describe_only = allow(&["secretsmanager:DescribeSecret"], &["*"]);
    let req = iam.create_policy().policy_name(format!("role-boundary-{p}"));
    let boundary = ok(req.policy_document(describe_only).send().await).policy;
    let boundary = boundary.and_then(|p| p.arn).expect("policy ARN");
    let role_name = format!("bounded-role-{p}");
    let everything = allow(&["secretsmanager:*"], &["*"]);
    let role = server.role(&role_name, &trust_account(), Some(&everything)).await;
    let req = iam.put_role_permissions_boundary().role_name(&role_name);
    ok(req.permissions_boundary(&boundary).send().await);
    let session = server.assumer(&role).await.assume(&role, "bounded").await;
    (role, session)
}

// AWS words an unknown access key id with a final period in both protocols (STS:
// hashicorp/terraform-provider-aws#13695; DynamoDB in mhart/dynalite's recorded answers), and a
// session token it can't use without one (dynalite; raw STS XML in aws-azure-login#251; IAM
// refusing GetSessionToken credentials in 99designs/aws-vault#328).
/// The message of an unknown access key id, in every service.
const UNKNOWN_ACCESS_KEY: &str = "The security token included in the request is invalid.";
/// The message of a session token that can't be used, in every service.
const BAD_SESSION_TOKEN: &str = "The security token included in the request is invalid";

/// An IAM user allowed to read (GetSecretValue, DescribeSecret) `resource`.
fn read_policy(resource: &str) -> String {
    allow(
        &["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        &[resource],
    )
}

/// A unique prefix `p` for a test's names and a new secret `<p>/<suffix>` holding `value`:
/// `(p, name, ARN)`.
async fn scoped_secret(suffix: &str, value: &str) -> (String, String, String) {
    let p = short_id();
    let name = format!("{p}/{suffix}");
    let arn = secret(&name, value).await;
    (p, name, arn)
}

/// A new role `<prefix>-<short id>` trusting the account, without a policy; returns its ARN.
async fn bare_role(prefix: &str) -> String {
    let name = format!("{prefix}-{}", short_id());
    server().role(&name, &trust_account(), None).await
}

/// Fails unless `caller` reading `id` is denied for the reason `why` (the message names `id` as
/// passed, whether or not a secret has that name).
async fn assert_read_denied(caller: &Principal<'_>, id: &str, why: Denial) {
    assert_eq!(read(caller, id).await, read_denied(&caller.arn, id, why));
}

/// Fails unless `caller` may read `id`; `why` says why it should.
async fn assert_reads(caller: &Principal<'_>, id: &str, why: &str) {
    assert_eq!(read(caller, id).await, Ok(()), "{why}");
}
