//! Access rules that hold whatever the policies say, each with a name and a test. Every entry
//! point inherits them: [`request`] runs for every operation before its input is read,
//! [`before_policies`] and [`after_policies`] for every [`Check`] around the policy evaluation.
//!
//! | rule | source |
//! |---|---|
//! | credentials from `GetSessionToken` can't call IAM, and of STS only `AssumeRole` and `GetCallerIdentity` | STS API Reference, GetSessionToken |
//! | a federated user (`GetFederationToken`) can't call IAM, and of STS only `GetCallerIdentity` | STS API Reference, GetFederationToken |
//! | the root user can't assume a role | IAM User Guide, "Switching to an IAM role (AWS API)" |
//! | nobody may manage an AWS managed KMS key | KMS Developer Guide, "AWS managed keys" |
//! | a secret under `aws/secretsmanager` can't be used from another account | Secrets Manager User Guide, "Access secrets from a different account" |
//! | a ciphertext whose key doesn't exist is refused like a key the caller may not use | KMS API Reference, Decrypt |
//! | only the management account may administer the organization | Organizations API Reference (`AccessDeniedException`) |
//! | an unsigned request may only call STS `AssumeRoleWithWebIdentity` or `AssumeRoleWithSAML` | STS API Reference, AssumeRoleWithWebIdentity ("Calling AssumeRoleWithWebIdentity does not require the use of AWS security credentials"), AssumeRoleWithSAML (likewise) |

use super::{Check, Resource};
use crate::{RequestContext, Session, SessionKind};

/// Why a named rule refused a request. Each service answers it with its own error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Credentials from `GetSessionToken` (without MFA), or a federated user's, can't call IAM:
    /// answered as an invalid token.
    SessionTokenCallsIam,
    /// Credentials from `GetSessionToken`, or a federated user's, can't call this STS operation.
    SessionTokenCallsSts { operation: String },
    /// The root user can't assume roles.
    RootAssumesRole,
    /// A management action on an AWS managed KMS key.
    AwsManagedKey {
        principal: String,
        action: String,
        key_arn: String,
    },
    /// Another account used a secret encrypted under the AWS managed key.
    DefaultKeyCrossAccount,
    /// A ciphertext whose key doesn't exist in this region.
    UnknownCiphertextKey,
    /// An Organizations action only the management account may call.
    NotManagementAccount,
    /// An unsigned request for anything but `AssumeRoleWithWebIdentity` or `AssumeRoleWithSAML`.
    Unsigned,
}

/// AWS's texts.
pub const SESSION_TOKEN_IAM: &str = "The security token included in the request is invalid";
pub const ROOT_ASSUMES_ROLE: &str = "Roles may not be assumed by root accounts.";
pub const DEFAULT_KEY_CROSS_ACCOUNT: &str = "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key.";
pub const UNKNOWN_CIPHERTEXT_KEY: &str = "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.";
pub const UNSIGNED: &str = "Request is missing Authentication Token";
pub const NOT_MANAGEMENT_ACCOUNT: &str = "You don't have permissions to access this resource.";

impl Refusal {
    /// The rule's message, as AWS words it.
    pub fn message(&self) -> String {
        match self {
            Refusal::SessionTokenCallsIam => SESSION_TOKEN_IAM.into(),
            Refusal::SessionTokenCallsSts { operation } => {
                format!("Cannot call {operation} with session credentials")
            }
            Refusal::RootAssumesRole => ROOT_ASSUMES_ROLE.into(),
            Refusal::AwsManagedKey {
                principal,
                action,
                key_arn,
            } => format!(
                "User: {principal} is not authorized to perform: {action} on resource: {key_arn} because no resource-based policy allows the {action} action"
            ),
            Refusal::DefaultKeyCrossAccount => DEFAULT_KEY_CROSS_ACCOUNT.into(),
            Refusal::UnknownCiphertextKey => UNKNOWN_CIPHERTEXT_KEY.into(),
            Refusal::NotManagementAccount => NOT_MANAGEMENT_ACCOUNT.into(),
            Refusal::Unsigned => UNSIGNED.into(),
        }
    }
}

fn session_token_only(rc: &RequestContext) -> bool {
    rc.session
        .as_ref()
        .is_some_and(|s| s.kind == SessionKind::SessionToken)
}

fn session_token_with_mfa(rc: &RequestContext) -> bool {
    rc.session.as_ref().is_some_and(Session::with_mfa)
}

/// Rules about the request as a whole, before its input is read: credentials from
/// `GetSessionToken` without MFA can't call IAM, and of STS only `AssumeRole` and
/// `GetCallerIdentity` (AWS's GetSessionToken documentation); a federated user's can't call IAM,
/// and of STS only `GetCallerIdentity` (AWS's GetFederationToken documentation). AWS documents no
/// texts for the federated user's refusals: kinko answers them as it answers the same calls with
/// credentials from `GetSessionToken`.
pub fn request(rc: &RequestContext, service: &str, operation: &str) -> Result<(), Refusal> {
    let unsigned_ok =
        service == "sts" && matches!(operation, "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML");
    if rc.principal.is_anonymous() && !unsigned_ok {
        return Err(Refusal::Unsigned);
    }
    if rc
        .session
        .as_ref()
        .is_some_and(|s| s.kind == SessionKind::FederationToken)
    {
        return match service {
            "iam" => Err(Refusal::SessionTokenCallsIam),
            "sts" if operation != "GetCallerIdentity" => Err(Refusal::SessionTokenCallsSts {
                operation: operation.to_owned(),
            }),
            _ => Ok(()),
        };
    }
    if !session_token_only(rc) {
        return Ok(());
    }
    match service {
        "iam" if !session_token_with_mfa(rc) => Err(Refusal::SessionTokenCallsIam),
        "sts" if !matches!(operation, "AssumeRole" | "GetCallerIdentity") => {
            Err(Refusal::SessionTokenCallsSts {
                operation: operation.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// The KMS actions customers may not perform on AWS managed keys: every management action. Their
/// key policies grant only use through the service and reads (KMS Developer Guide).
const AWS_MANAGED_KEY_REFUSED: &[&str] = &[
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:PutKeyPolicy",
];

/// The Secrets Manager actions that use a secret's value, and with it its KMS key.
const SECRET_VALUE_ACTIONS: &[&str] = &["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"];

/// The Organizations actions only the management account may call.
const MANAGEMENT_ONLY: &[&str] = &[
    "organizations:CreateAccount",
    "organizations:DescribeAccount",
    "organizations:ListAccounts",
    "organizations:ListRoots",
    "organizations:DescribeCreateAccountStatus",
    "organizations:ListCreateAccountStatus",
];

/// Rules that refuse whatever the policies say, checked first.
pub fn before_policies(rc: &RequestContext, c: &Check<'_>) -> Result<(), Refusal> {
    if c.action == "sts:AssumeRole" && rc.principal.is_root() {
        return Err(Refusal::RootAssumesRole);
    }
    if c.resource == Resource::UnknownCiphertextKey {
        return Err(Refusal::UnknownCiphertextKey);
    }
    // Organizations answers a member account this way whatever its policies say.
    if MANAGEMENT_ONLY.contains(&c.action)
        && c.facts
            .management_account
            .is_some_and(|m| m != rc.principal.account_id)
    {
        return Err(Refusal::NotManagementAccount);
    }
    Ok(())
}

/// Rules checked once the policies allow, so that a caller the policies deny learns nothing more
/// than AccessDenied.
pub fn after_policies(rc: &RequestContext, c: &Check<'_>) -> Result<(), Refusal> {
    if c.facts.aws_managed_key && AWS_MANAGED_KEY_REFUSED.contains(&c.action) {
        return Err(Refusal::AwsManagedKey {
            principal: rc.principal.arn.clone(),
            action: c.action.to_owned(),
            key_arn: c.resource.arn().unwrap_or_default().to_owned(),
        });
    }
    if c.facts.secret_under_default_key
        && SECRET_VALUE_ACTIONS.contains(&c.action)
        && let Resource::Arn { account_id, .. } = c.resource
        && account_id != rc.principal.account_id
    {
        return Err(Refusal::DefaultKeyCrossAccount);
    }
    if MANAGEMENT_ONLY.contains(&c.action)
        && c.facts.management_account != Some(rc.principal.account_id.as_str())
    {
        return Err(Refusal::NotManagementAccount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kinko_core::Timestamp;
    use kinko_core::principal::{Principal, PrincipalKind};

    use super::*;
    use crate::SessionKind;
    use crate::authz::Facts;

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    fn user(account: &str) -> RequestContext {
        RequestContext::new(
            Principal {
                account_id: account.into(),
                arn: format!("arn:aws:iam::{account}:user/u"),
                kind: PrincipalKind::User {
                    name: "u".into(),
                    user_id: "AIDAEXAMPLE000000000".into(),
                },
            },
            "us-east-1",
            "req",
        )
    }

    fn with_session(mut rc: RequestContext, kind: SessionKind) -> RequestContext {
        rc.session = Some(Session {
            kind,
            policies: vec![],
            tags: vec![],
            transitive_tag_keys: vec![],
            issued: Timestamp(0),
            expiration: Timestamp(0),
            source_identity: None,
            mfa_authenticated: None,
        });
        rc
    }

    #[test]
    fn an_unsigned_request_may_only_assume_a_role_with_a_web_identity() {
        let rc = RequestContext::new(Principal::anonymous(), "us-east-1", "req");
        assert_eq!(request(&rc, "sts", "AssumeRoleWithWebIdentity"), Ok(()));
        assert_eq!(request(&rc, "sts", "AssumeRoleWithSAML"), Ok(()));
        for (service, operation) in [
            ("sts", "AssumeRole"),
            ("sts", "GetCallerIdentity"),
            ("iam", "ListUsers"),
            ("secretsmanager", "GetSecretValue"),
            ("kms", "Decrypt"),
        ] {
            assert_eq!(
                request(&rc, service, operation),
                Err(Refusal::Unsigned),
                "{operation}"
            );
        }
    }

    #[test]
    fn session_token_credentials_cannot_call_iam_or_most_of_sts() {
        let rc = with_session(user(A), SessionKind::SessionToken);
        assert_eq!(
            request(&rc, "iam", "ListUsers"),
            Err(Refusal::SessionTokenCallsIam)
        );
        assert_eq!(
            request(&rc, "sts", "GetSessionToken"),
            Err(Refusal::SessionTokenCallsSts {
                operation: "GetSessionToken".into()
            })
        );
        assert_eq!(request(&rc, "sts", "AssumeRole"), Ok(()));
        assert_eq!(request(&rc, "sts", "GetCallerIdentity"), Ok(()));
        // With MFA, IAM may be called; the other STS operations still may not.
        let mut mfa = rc.clone();
        if let Some(s) = mfa.session.as_mut() {
            s.mfa_authenticated = Some(Timestamp(0));
        }
        assert_eq!(request(&mfa, "iam", "ListUsers"), Ok(()));
        assert!(request(&mfa, "sts", "GetSessionToken").is_err());
        assert_eq!(request(&rc, "secretsmanager", "GetSecretValue"), Ok(()));
        // Role sessions and long-term keys are not limited.
        let role = with_session(user(A), SessionKind::AssumedRole);
        assert_eq!(request(&role, "iam", "ListUsers"), Ok(()));
        assert_eq!(request(&user(A), "iam", "ListUsers"), Ok(()));
    }

    #[test]
    fn federated_users_cannot_call_iam_or_sts_but_get_caller_identity() {
        let rc = with_session(user(A), SessionKind::FederationToken);
        assert_eq!(
            request(&rc, "iam", "ListUsers"),
            Err(Refusal::SessionTokenCallsIam)
        );
        for operation in [
            "AssumeRole",
            "GetFederationToken",
            "GetSessionToken",
            "DecodeAuthorizationMessage",
        ] {
            assert_eq!(
                request(&rc, "sts", operation),
                Err(Refusal::SessionTokenCallsSts {
                    operation: operation.into()
                })
            );
        }
        assert_eq!(request(&rc, "sts", "GetCallerIdentity"), Ok(()));
        assert_eq!(request(&rc, "secretsmanager", "GetSecretValue"), Ok(()));
    }

    #[test]
    fn root_may_not_assume_a_role() {
        let root = RequestContext::new(Principal::root(A), "us-east-1", "req");
        let c = Check::new(
            "sts:AssumeRole",
            Resource::of_arn("arn:aws:iam::111111111111:role/r"),
        );
        assert_eq!(before_policies(&root, &c), Err(Refusal::RootAssumesRole));
        assert_eq!(before_policies(&user(A), &c), Ok(()));
        assert_eq!(
            Refusal::RootAssumesRole.message(),
            "Roles may not be assumed by root accounts."
        );
    }

    #[test]
    fn unknown_ciphertext_keys_are_refused() {
        let c = Check::new("kms:Decrypt", Resource::UnknownCiphertextKey);
        assert_eq!(before_policies(&user(A), &c), Err(Refusal::UnknownCiphertextKey));
    }

    #[test]
    fn aws_managed_keys_are_not_managed_by_customers() {
        let key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let facts = Facts {
            aws_managed_key: true,
            ..Facts::default()
        };
        let disable = Check::new("kms:DisableKey", Resource::of_arn(key)).facts(facts);
        let Err(Refusal::AwsManagedKey { action, .. }) = after_policies(&user(A), &disable) else {
            panic!("refused");
        };
        assert_eq!(action, "kms:DisableKey");
        let describe = Check::new("kms:DescribeKey", Resource::of_arn(key)).facts(facts);
        assert_eq!(after_policies(&user(A), &describe), Ok(()));
        let customer = Check::new("kms:DisableKey", Resource::of_arn(key));
        assert_eq!(after_policies(&user(A), &customer), Ok(()));
    }

    #[test]
    fn default_key_secrets_are_not_used_across_accounts() {
        let secret = "arn:aws:secretsmanager:us-east-1:111111111111:secret:s-AbCdEf";
        let facts = Facts {
            secret_under_default_key: true,
            ..Facts::default()
        };
        let get = Check::new("secretsmanager:GetSecretValue", Resource::of_arn(secret)).facts(facts);
        assert_eq!(
            after_policies(&user(B), &get),
            Err(Refusal::DefaultKeyCrossAccount)
        );
        assert_eq!(after_policies(&user(A), &get), Ok(()));
        let describe = Check::new("secretsmanager:DescribeSecret", Resource::of_arn(secret)).facts(facts);
        assert_eq!(after_policies(&user(B), &describe), Ok(()));
    }

    #[test]
    fn only_the_management_account_administers_the_organization() {
        let facts = Facts {
            management_account: Some(A),
            ..Facts::default()
        };
        let c = Check::new("organizations:ListAccounts", Resource::Any).facts(facts);
        assert_eq!(before_policies(&user(A), &c), Ok(()));
        assert_eq!(before_policies(&user(B), &c), Err(Refusal::NotManagementAccount));
        let describe = Check::new("organizations:DescribeOrganization", Resource::Any).facts(facts);
        assert_eq!(before_policies(&user(B), &describe), Ok(()));
        // An account in no organization learns that from the operation itself.
        let outside = Check::new("organizations:ListAccounts", Resource::Any);
        assert_eq!(before_policies(&user(B), &outside), Ok(()));
    }
}
