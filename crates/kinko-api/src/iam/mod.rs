//! AWS IAM (Query protocol, version `2010-05-08`, namespace `https://iam.amazonaws.com/doc/2010-05-08/`).
//!
//! Every operation in `ops/` implements the one [`Operation`] contract; [`handle`] dispatches to
//! [`execute`] and answers through [`finish`]. IAM is per account: an operation resolves the
//! caller's account's [`IamState`] whole, with the `Target` it is authorized on (`Found`),
//! changes the state and writes it back with an optimistic revision check (`save`): a lost race
//! makes `execute` run it again from a fresh read. Access keys live in their own store table.
//!
//! What an action is authorized on follows AWS's Service Authorization Reference for IAM: the
//! user, group, role or managed policy it names (which need not exist yet, so callers without
//! permission can't probe for names), with `iam:ResourceTag/*` and the condition keys the action
//! takes (`iam:PolicyARN`, `iam:PermissionsBoundary`, `aws:RequestTag/*`, `aws:TagKeys`). The
//! List actions without a resource type are authorized on their path prefix
//! (`arn:aws:iam::<account>:user/<prefix>`), as AWS names it in their AccessDenied.

mod certificates;
mod error;
mod input;
mod key_usage;
mod ops;
mod output;
mod passwords;
mod policy_document;
mod qr;
pub mod sign_in;

use std::borrow::Cow;

use kinko_core::iam::{IamState, ManagedPolicy};
use kinko_core::secret::Tag;
use kinko_wire::WireError;
use kinko_wire::query::Params;

use crate::authz::{Check, Resource};
use crate::operation::{Cx, Operation, Query, QueryService, Service, execute, finish};
use crate::{RequestContext, Services};

pub use error::IamError;
pub use key_usage::{KeyUsage, LastUsed};
pub(crate) use output::unique_id;
pub use policy_document::{DocumentKind, validate_policy_document};

/// The XML namespace of IAM responses.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The API version IAM speaks.
pub const VERSION: &str = "2010-05-08";

/// IAM, as the one operation contract sees it.
pub struct Iam;

impl Service for Iam {
    const PREFIX: &'static str = "iam";
    const EVENT_SOURCE: &'static str = "iam.amazonaws.com";
    const CLOUDTRAIL: &'static crate::cloudtrail::Shape = &crate::cloudtrail::Shape {
        // CreateAccessKey's answer is recorded with the access key id, never the secret access
        // key; likewise a server certificate's private key and a service credential's password.
        // Policy documents are kept, as CloudTrail keeps them.
        // A new virtual MFA device's seed and its QR code are left out likewise, and so are the
        // codes that enable or resynchronize a device.
        omitted: &[
            "SecretAccessKey",
            "PrivateKey",
            "ServicePassword",
            "Base32StringSeed",
            "QRCodePNG",
            "AuthenticationCode1",
            "AuthenticationCode2",
        ],
        // Login profile passwords (CreateLoginProfile, UpdateLoginProfile, ChangePassword): the
        // record shows one was set, as CloudTrail does, and never what it is.
        hidden: &["Password", "OldPassword", "NewPassword"],
        verbatim: &[],
        numbers: &[
            "MaxItems",
            "MaxSessionDuration",
            "MinimumPasswordLength",
            "MaxPasswordAge",
            "PasswordReusePrevention",
            "AttachmentCount",
            "PermissionsBoundaryUsageCount",
        ],
        booleans: &[
            "OnlyAttached",
            "SetAsDefault",
            "PasswordResetRequired",
            "RequireSymbols",
            "RequireNumbers",
            "RequireUppercaseCharacters",
            "RequireLowercaseCharacters",
            "AllowUsersToChangePassword",
            "HardExpiry",
            "IsAttachable",
            "IsDefaultVersion",
            "IsTruncated",
        ],
    };
    type Protocol = Query;
    type Error = IamError;
}

impl QueryService for Iam {
    const XMLNS: &'static str = XMLNS;
}

/// What an IAM request is authorized on.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// No resource (`"*"`): GetAccountAuthorizationDetails, an access key that names nothing.
    Any,
    /// An IAM resource's ARN (existing or not), the account it belongs to, and what it brings to
    /// the request: its tags (`iam:ResourceTag/*`) and its permissions boundary.
    Arn {
        arn: String,
        account: String,
        tags: Vec<Tag>,
        boundary: Option<String>,
    },
    /// An identifier that names nothing IAM can place in an account (a malformed policy ARN).
    Unresolved(String),
}

impl Target {
    /// The ARN of something of the caller's account that brings no tags (a new entity, a path).
    pub fn new_arn(cx: &Cx<'_>, arn: String) -> Target {
        Target::Arn {
            arn,
            account: cx.account().to_owned(),
            tags: Vec::new(),
            boundary: None,
        }
    }

    /// The check of the operation's action on this target, with the target's tags.
    pub fn check<'a>(&'a self, cx: &'a Cx<'_>) -> Check<'a> {
        match self {
            Target::Any => Check::new(cx.action, Resource::Any),
            Target::Arn {
                arn, account, tags, ..
            } => Check::new(
                cx.action,
                Resource::Arn {
                    arn,
                    account_id: account,
                },
            )
            .tags(Some("iam"), tags),
            Target::Unresolved(id) => Check::new(cx.action, Resource::Unresolved(id)),
        }
    }

    /// The permissions boundary the target user or role has (`iam:PermissionsBoundary` of the
    /// actions on an existing entity that take it).
    pub fn boundary(&self) -> Option<&str> {
        match self {
            Target::Arn { boundary, .. } => boundary.as_deref(),
            Target::Any | Target::Unresolved(_) => None,
        }
    }
}

/// What an IAM operation resolves: the account's IAM state, and what the request is authorized on.
pub(crate) struct Found {
    pub state: IamState,
    pub target: Target,
}

impl Found {
    /// Reads the caller's account's IAM state and the target `target` finds in it.
    pub async fn read(
        cx: &Cx<'_>,
        target: impl FnOnce(&IamState) -> Result<Target, IamError>,
    ) -> Result<Found, IamError> {
        let state = cx.services.store.iam_state(cx.account()).await?;
        let target = target(&state)?;
        Ok(Found { state, target })
    }

    /// The check of the operation's action on the target.
    pub fn check<'a>(&'a self, cx: &'a Cx<'_>) -> Check<'a> {
        self.target.check(cx)
    }
}

/// Writes the account's IAM state; a lost race makes [`execute`] run the operation again.
pub(crate) async fn save(cx: &Cx<'_>, state: IamState) -> Result<(), IamError> {
    Ok(cx.services.store.write_iam_state(state).await?)
}

/// Tags as `aws:RequestTag/*` pairs.
pub(crate) fn request_tags(tags: &[Tag]) -> Cow<'static, [(String, String)]> {
    Cow::Owned(tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect())
}

/// Runs one IAM action and returns the XML response body.
pub async fn handle(services: &Services, rc: &RequestContext, params: &Params) -> Result<String, WireError> {
    let Some(action) = params.action() else {
        return Err(IamError::MissingAction("Missing Action".into()).to_wire());
    };
    if let Some(version) = params.get("Version")
        && version != VERSION
    {
        return Err(IamError::InvalidAction(format!(
            "Could not find operation {action} for version {version}"
        ))
        .to_wire());
    }
    let body = finish(rc, action, dispatch(services, rc, action, params).await)?;
    String::from_utf8(body).map_err(|_| IamError::Internal("a response that is not UTF-8".into()).to_wire())
}

/// Runs the operation whose [`Operation::NAME`] is `$action`, among `$op`s.
macro_rules! dispatch {
    ($services:expr, $rc:expr, $action:expr, $params:expr; $($op:ty),+ $(,)?) => {
        $(
            if $action == <$op as Operation>::NAME {
                return execute::<$op>($services, $rc, $params).await;
            }
        )+
    };
}

async fn dispatch(
    services: &Services,
    rc: &RequestContext,
    action: &str,
    params: &Params,
) -> Result<Vec<u8>, IamError> {
    use kinko_core::iam::{
        Group, InstanceProfile, OpenIdConnectProvider, Role, SamlProvider, ServerCertificate, User,
    };
    use ops::*;
    dispatch!(services, rc, action, params;
        CreateUser, GetUser, ListEntities<User>, UpdateUser, DeleteUser,
        AddTags<User>, RemoveTags<User>, ListTags<User>,
        CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey, GetAccessKeyLastUsed,
        CreateGroup, GetGroup, ListEntities<Group>, UpdateGroup, DeleteGroup,
        AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser,
        CreateRole, GetRole, ListEntities<Role>, UpdateRole, UpdateRoleDescription,
        UpdateAssumeRolePolicy, DeleteRole,
        CreateServiceLinkedRole, DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus,
        AddTags<Role>, RemoveTags<Role>, ListTags<Role>,
        PutInlinePolicy<User>, GetInlinePolicy<User>, ListInlinePolicies<User>, DeleteInlinePolicy<User>,
        PutInlinePolicy<Group>, GetInlinePolicy<Group>, ListInlinePolicies<Group>, DeleteInlinePolicy<Group>,
        PutInlinePolicy<Role>, GetInlinePolicy<Role>, ListInlinePolicies<Role>, DeleteInlinePolicy<Role>,
        CreatePolicy, GetPolicy, ListPolicies, DeletePolicy,
        AddTags<ManagedPolicy>, RemoveTags<ManagedPolicy>, ListTags<ManagedPolicy>,
        CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, DeletePolicyVersion,
        SetDefaultPolicyVersion,
        AttachPolicy<User>, DetachPolicy<User>, ListAttachedPolicies<User>,
        AttachPolicy<Group>, DetachPolicy<Group>, ListAttachedPolicies<Group>,
        AttachPolicy<Role>, DetachPolicy<Role>, ListAttachedPolicies<Role>,
        ListEntitiesForPolicy,
        PutPermissionsBoundary<User>, DeletePermissionsBoundary<User>,
        PutPermissionsBoundary<Role>, DeletePermissionsBoundary<Role>,
        GetAccountAuthorizationDetails, GenerateCredentialReport, GetCredentialReport,
        CreateInstanceProfile, GetInstanceProfile, ListInstanceProfiles, ListInstanceProfilesForRole,
        AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile, DeleteInstanceProfile,
        AddTags<InstanceProfile>, RemoveTags<InstanceProfile>, ListTags<InstanceProfile>,
        CreateOpenIDConnectProvider, GetOpenIDConnectProvider, ListOpenIDConnectProviders,
        DeleteOpenIDConnectProvider, UpdateOpenIDConnectProviderThumbprint,
        AddClientIDToOpenIDConnectProvider, RemoveClientIDFromOpenIDConnectProvider,
        AddTags<OpenIdConnectProvider>, RemoveTags<OpenIdConnectProvider>, ListTags<OpenIdConnectProvider>,
        CreateLoginProfile, GetLoginProfile, UpdateLoginProfile, DeleteLoginProfile, ChangePassword,
        GetAccountPasswordPolicy, UpdateAccountPasswordPolicy, DeleteAccountPasswordPolicy,
        GetAccountSummary,
        CreateAccountAlias, DeleteAccountAlias, ListAccountAliases,
        CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice, DeactivateMFADevice,
        DeleteVirtualMFADevice, GetMFADevice, ListMFADevices, ListVirtualMFADevices,
        CreateSAMLProvider, GetSAMLProvider, ListSAMLProviders, UpdateSAMLProvider, DeleteSAMLProvider,
        AddTags<SamlProvider>, RemoveTags<SamlProvider>, ListTags<SamlProvider>,
        UploadSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys, UpdateSSHPublicKey, DeleteSSHPublicKey,
        UploadServerCertificate, GetServerCertificate, ListServerCertificates, UpdateServerCertificate,
        DeleteServerCertificate,
        AddTags<ServerCertificate>, RemoveTags<ServerCertificate>, ListTags<ServerCertificate>,
        UploadSigningCertificate, ListSigningCertificates, UpdateSigningCertificate,
        DeleteSigningCertificate,
    );
    Err(IamError::InvalidAction(format!(
        "Could not find operation {action} for version {VERSION}"
    )))
}
