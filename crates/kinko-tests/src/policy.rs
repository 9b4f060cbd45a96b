//! Policy documents to give users, roles, secrets and keys, and the `AccessDenied` messages AWS
//! answers with when they don't grant.

use serde_json::{Value, json};

/// A policy document: `{"Version": "2012-10-17", "Statement": [statements...]}`.
pub fn policy_document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A statement `{"Effect", "Action", "Resource"}` for identity-based policies.
pub fn statement(effect: &str, actions: &[&str], resources: &[&str]) -> Value {
    json!({"Effect": effect, "Action": actions, "Resource": resources})
}

/// An identity policy of one statement allowing `actions` on `resources`.
pub fn allow(actions: &[&str], resources: &[&str]) -> String {
    policy_document(&[statement("Allow", actions, resources)])
}

/// A resource-policy statement: `effect` for the AWS `principal` (an ARN, an account id or `*`)
/// on `actions`, any resource.
pub fn principal_statement(effect: &str, principal: &str, actions: &[&str]) -> Value {
    json!({"Effect": effect, "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"})
}

/// A trust policy letting the `aws` principals (ARNs or account ids) assume the role.
pub fn trust_policy(aws_principals: &[&str]) -> String {
    policy_document(&[json!({
        "Effect": "Allow",
        "Principal": {"AWS": aws_principals},
        "Action": "sts:AssumeRole"
    })])
}

/// `arn:aws:iam::<account>:root`, the account as a principal.
pub fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// Why AWS denied a request, as the end of its `AccessDenied` message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// `because no identity-based policy allows the <action> action`
    NoIdentityPolicy,
    /// `because no resource-based policy allows the <action> action`
    NoResourcePolicy,
    /// `because no permissions boundary allows the <action> action`
    NoBoundary,
    /// `because no session policy allows the <action> action`
    NoSessionPolicy,
    /// `because no role trust policy allows the <action> action`
    NoTrustPolicy,
    /// `with an explicit deny in an identity-based policy`
    ExplicitIdentity,
    /// `with an explicit deny in a resource-based policy`
    ExplicitResource,
    /// `with an explicit deny in a session policy`
    ExplicitSession,
    /// `with an explicit deny in the role trust policy`
    ExplicitTrust,
}

impl Denial {
    fn reason(self, action: &str) -> String {
        let no = |what: &str| format!("because no {what} allows the {action} action");
        match self {
            Denial::NoIdentityPolicy => no("identity-based policy"),
            Denial::NoResourcePolicy => no("resource-based policy"),
            Denial::NoBoundary => no("permissions boundary"),
            Denial::NoSessionPolicy => no("session policy"),
            Denial::NoTrustPolicy => no("role trust policy"),
            Denial::ExplicitIdentity => "with an explicit deny in an identity-based policy".to_owned(),
            Denial::ExplicitResource => "with an explicit deny in a resource-based policy".to_owned(),
            Denial::ExplicitSession => "with an explicit deny in a session policy".to_owned(),
            Denial::ExplicitTrust => "with an explicit deny in the role trust policy".to_owned(),
        }
    }
}

/// AWS's message denying `principal_arn` the `action` on `resource` (none for actions without a
/// resource) for the reason `why`.
pub fn access_denied(principal_arn: &str, action: &str, resource: Option<&str>, why: Denial) -> String {
    denied_message(principal_arn, action, resource, &why.reason(action))
}

/// The AccessDenied message AWS gives for an action with no allowing identity-based policy.
pub fn no_identity_policy(principal_arn: &str, action: &str, resource: Option<&str>) -> String {
    access_denied(principal_arn, action, resource, Denial::NoIdentityPolicy)
}

/// `User: <arn> is not authorized to perform: <action>[ on resource: <r>] <context>`.
pub fn denied_message(principal_arn: &str, action: &str, resource: Option<&str>, context: &str) -> String {
    match resource {
        Some(r) => {
            format!("User: {principal_arn} is not authorized to perform: {action} on resource: {r} {context}")
        }
        None => format!("User: {principal_arn} is not authorized to perform: {action} {context}"),
    }
}
