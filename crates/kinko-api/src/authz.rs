//! The single authorization entry point every operation goes through.
//!
//! Today's rule: a principal may act on resources of its own account; everything that crosses
//! accounts is denied, with the message AWS gives when no resource-based policy allows it. IAM policy
//! evaluation plugs in here, behind the same call, so no operation decides access on its own.

use kinko_core::principal::Principal;

/// Why a request was denied; rendered as AWS's AccessDenied message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub message: String,
}

/// The resource a request acts on: an ARN, the identifier as the caller passed it when it resolves
/// to nothing, or no resource (`"*"`) for actions like ListSecrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource<'a> {
    Arn { arn: &'a str, account_id: &'a str },
    Unresolved(&'a str),
    Any,
}

pub fn authorize(principal: &Principal, action: &str, resource: &Resource<'_>) -> Result<(), Denied> {
    match resource {
        Resource::Arn { account_id, .. } if *account_id != principal.account_id => Err(Denied {
            message: denied_message(
                principal,
                action,
                resource,
                "because no resource-based policy allows",
            ),
        }),
        _ => Ok(()),
    }
}

/// `User: <arn> is not authorized to perform: <action> on resource: <res> because ...`.
pub fn denied_message(principal: &Principal, action: &str, resource: &Resource<'_>, why: &str) -> String {
    let on = match resource {
        Resource::Arn { arn, .. } => format!(" on resource: {arn}"),
        Resource::Unresolved(id) => format!(" on resource: {id}"),
        Resource::Any => String::new(),
    };
    format!(
        "User: {} is not authorized to perform: {action}{on} {why} the {action} action",
        principal.arn
    )
}
