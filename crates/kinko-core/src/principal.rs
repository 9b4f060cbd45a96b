//! Who is calling: the principal an access key resolves to, as policies and error messages see it.

use serde::{Deserialize, Serialize};

/// The kind of principal behind a set of credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrincipalKind {
    /// The account's root user: `arn:aws:iam::<account>:root`.
    Root,
    /// An IAM user.
    User { name: String, user_id: String },
    /// An assumed-role session: `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    AssumedRole {
        role_name: String,
        role_id: String,
        session_name: String,
    },
    /// A `GetFederationToken` session: `arn:aws:sts::<account>:federated-user/<name>`. Issued by
    /// the IAM user `user_name` (bound to its unique id `user_id`), or by the root user
    /// (`user_name` `None`, `user_id` the account id).
    FederatedUser {
        name: String,
        user_name: Option<String>,
        user_id: String,
    },
    /// The caller of an unsigned request. Only STS `AssumeRoleWithWebIdentity` accepts one (its
    /// proof is the identity token it carries); every other action refuses it.
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub account_id: String,
    /// The ARN policies and AccessDenied messages name.
    pub arn: String,
    pub kind: PrincipalKind,
}

impl Principal {
    pub fn root(account_id: &str) -> Self {
        Principal {
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            kind: PrincipalKind::Root,
        }
    }
    /// The caller of an unsigned request: no account, no ARN.
    pub fn anonymous() -> Self {
        Principal {
            account_id: String::new(),
            arn: String::new(),
            kind: PrincipalKind::Anonymous,
        }
    }
    pub fn is_anonymous(&self) -> bool {
        matches!(self.kind, PrincipalKind::Anonymous)
    }
    pub fn is_root(&self) -> bool {
        matches!(self.kind, PrincipalKind::Root)
    }
}

/// Status of an access key, as IAM names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

/// A long-term access key as the store keeps it: the secret half only sealed under the root key.
#[derive(Debug, Clone)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub principal: Principal,
    pub status: AccessKeyStatus,
    /// The secret access key sealed under the root key (aad = access key id).
    pub sealed_secret: Vec<u8>,
    pub created_date: crate::Timestamp,
}

/// An IAM user or role a saved resource-based policy names, bound to the unique id it had when the
/// policy was saved (IAM binds principals this way: a user or role re-created under the same name
/// gets a new id, and the policy no longer names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundPrincipal {
    /// The ARN as the policy names it (`arn:aws:iam::<account>:user/<path/>name`).
    pub arn: String,
    /// The principal's unique id at save time (`AIDA…`, `AROA…`).
    pub id: String,
}
