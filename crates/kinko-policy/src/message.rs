//! `AccessDenied` message text.
//!
//! Owns [`access_denied_message`], which renders the message AWS services put in
//! `AccessDenied` / `AccessDeniedException` errors for a [`Decision`] (IAM User Guide,
//! "Troubleshooting access denied error messages"). Pure: no I/O.

use crate::eval::{Decision, PolicyType};

/// The phrase after "with an explicit deny in".
fn explicit_phrase(t: PolicyType) -> &'static str {
    match t {
        PolicyType::Identity => "an identity-based policy",
        PolicyType::Resource => "a resource-based policy",
        PolicyType::RoleTrust => "the role trust policy",
        PolicyType::PermissionsBoundary => "a permissions boundary",
        PolicyType::Session => "a session policy",
        PolicyType::ServiceControl => "a service control policy",
    }
}

/// The phrase between "because no" and "allows".
fn implicit_phrase(t: PolicyType) -> &'static str {
    match t {
        PolicyType::Identity => "identity-based policy",
        PolicyType::Resource => "resource-based policy",
        PolicyType::RoleTrust => "role trust policy",
        PolicyType::PermissionsBoundary => "permissions boundary",
        PolicyType::Session => "session policy",
        PolicyType::ServiceControl => "service control policy",
    }
}

/// The AWS `AccessDenied` message for `decision`:
///
/// `User: <arn> is not authorized to perform: <action>[ on resource: <resource>] <context>`,
/// where the context is `because no <type> allows the <action> action` for implicit denies and
/// `with an explicit deny in <a type>` for explicit ones. `resource` is `None` for actions
/// without a resource (`ListSecrets`). An [`Decision::Allow`] gets no context.
///
/// ```
/// use kinko_policy::{Decision, ImplicitDenyReason, access_denied_message};
///
/// let d = Decision::ImplicitDeny { reason: ImplicitDenyReason::NoIdentityPolicy };
/// assert_eq!(
///     access_denied_message("arn:aws:iam::111122223333:user/alice", "secretsmanager:ListSecrets", None, &d),
///     "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: secretsmanager:ListSecrets \
///      because no identity-based policy allows the secretsmanager:ListSecrets action"
/// );
/// ```
pub fn access_denied_message(
    principal_arn: &str,
    action: &str,
    resource: Option<&str>,
    decision: &Decision,
) -> String {
    let mut msg = format!("User: {principal_arn} is not authorized to perform: {action}");
    if let Some(r) = resource {
        msg.push_str(" on resource: ");
        msg.push_str(r);
    }
    match decision {
        Decision::Allow { .. } => {}
        Decision::ExplicitDeny { statement } => {
            msg.push_str(" with an explicit deny in ");
            msg.push_str(explicit_phrase(statement.policy_type));
        }
        Decision::ImplicitDeny { reason } => {
            msg.push_str(" because no ");
            msg.push_str(implicit_phrase(reason.policy_type()));
            msg.push_str(" allows the ");
            msg.push_str(action);
            msg.push_str(" action");
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{ImplicitDenyReason, StatementRef};

    const ARN: &str = "arn:aws:iam::111122223333:user/alice";
    const RES: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf";

    fn explicit(t: PolicyType) -> Decision {
        Decision::ExplicitDeny {
            statement: StatementRef {
                policy_type: t,
                policy_index: 0,
                statement_index: 0,
                sid: None,
            },
        }
    }

    #[test]
    fn variants() {
        let base = format!(
            "User: {ARN} is not authorized to perform: secretsmanager:GetSecretValue on resource: {RES}"
        );
        let m = |d: &Decision| access_denied_message(ARN, "secretsmanager:GetSecretValue", Some(RES), d);
        assert_eq!(
            m(&explicit(PolicyType::Identity)),
            format!("{base} with an explicit deny in an identity-based policy")
        );
        assert_eq!(
            m(&explicit(PolicyType::Resource)),
            format!("{base} with an explicit deny in a resource-based policy")
        );
        assert_eq!(
            m(&explicit(PolicyType::RoleTrust)),
            format!("{base} with an explicit deny in the role trust policy")
        );
        assert_eq!(
            m(&explicit(PolicyType::PermissionsBoundary)),
            format!("{base} with an explicit deny in a permissions boundary")
        );
        assert_eq!(
            m(&explicit(PolicyType::Session)),
            format!("{base} with an explicit deny in a session policy")
        );
        assert_eq!(
            m(&explicit(PolicyType::ServiceControl)),
            format!("{base} with an explicit deny in a service control policy")
        );
        let implicit = |r| m(&Decision::ImplicitDeny { reason: r });
        let tail = "allows the secretsmanager:GetSecretValue action";
        assert_eq!(
            implicit(ImplicitDenyReason::NoIdentityPolicy),
            format!("{base} because no identity-based policy {tail}")
        );
        assert_eq!(
            implicit(ImplicitDenyReason::NoResourcePolicy),
            format!("{base} because no resource-based policy {tail}")
        );
        assert_eq!(
            implicit(ImplicitDenyReason::NoRoleTrustPolicy),
            format!("{base} because no role trust policy {tail}")
        );
        assert_eq!(
            implicit(ImplicitDenyReason::NoPermissionsBoundary),
            format!("{base} because no permissions boundary {tail}")
        );
        assert_eq!(
            implicit(ImplicitDenyReason::NoSessionPolicy),
            format!("{base} because no session policy {tail}")
        );
        assert_eq!(
            implicit(ImplicitDenyReason::NoServiceControlPolicy),
            format!("{base} because no service control policy {tail}")
        );
    }
}
