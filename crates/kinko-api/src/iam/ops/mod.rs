//! IAM operations, one file per family; helpers shared by several of them.
//!
//! The operations that exist for users, groups and roles alike (inline policies, attached
//! policies, listing, tags, permissions boundaries) are one generic type each, over the entity it
//! acts on: `PutInlinePolicy<User>` is PutUserPolicy. [`Entity`] says how to find and read each
//! kind; each family's own trait (`InlinePolicies`, `Attachments`, `Bounded`, `Listed`, `Tagged`)
//! names its actions and limits for the kinds it exists for.

mod access_keys;
mod account;
mod account_authorization_details;
mod attachments;
mod boundaries;
mod credential_report;
mod groups;
mod inline_policies;
mod instance_profiles;
mod listing;
mod login_profiles;
mod managed_policies;
mod mfa_devices;
mod oidc_providers;
mod policy_versions;
mod roles;
mod saml_providers;
mod server_certificates;
mod service_linked_roles;
mod signing_certificates;
mod ssh_public_keys;
mod tags;
mod users;

use kinko_core::iam::{self, Group, IamState, InlinePolicy, ManagedPolicy, Role, User};
use kinko_core::principal::PrincipalKind;
use kinko_core::secret::Tag;

use super::error::IamError;
use super::{Found, Target, input};
use crate::operation::{Authorization, Cx};

pub(crate) use access_keys::{
    CreateAccessKey, DeleteAccessKey, GetAccessKeyLastUsed, ListAccessKeys, UpdateAccessKey,
};
pub(crate) use account::{
    CreateAccountAlias, DeleteAccountAlias, DeleteAccountPasswordPolicy, GetAccountPasswordPolicy,
    GetAccountSummary, ListAccountAliases, UpdateAccountPasswordPolicy,
};
pub(crate) use account_authorization_details::GetAccountAuthorizationDetails;
pub(crate) use attachments::{AttachPolicy, DetachPolicy, ListAttachedPolicies, ListEntitiesForPolicy};
pub(crate) use boundaries::{DeletePermissionsBoundary, PutPermissionsBoundary};
pub(crate) use credential_report::{GenerateCredentialReport, GetCredentialReport};
pub(crate) use groups::{
    AddUserToGroup, CreateGroup, DeleteGroup, GetGroup, ListGroupsForUser, RemoveUserFromGroup, UpdateGroup,
};
pub(crate) use inline_policies::{DeleteInlinePolicy, GetInlinePolicy, ListInlinePolicies, PutInlinePolicy};
pub(crate) use instance_profiles::{
    AddRoleToInstanceProfile, CreateInstanceProfile, DeleteInstanceProfile, GetInstanceProfile,
    ListInstanceProfiles, ListInstanceProfilesForRole, RemoveRoleFromInstanceProfile,
};
pub(crate) use listing::ListEntities;
pub(crate) use login_profiles::{
    ChangePassword, CreateLoginProfile, DeleteLoginProfile, GetLoginProfile, UpdateLoginProfile,
};
pub(crate) use managed_policies::{CreatePolicy, DeletePolicy, GetPolicy, ListPolicies};
pub(crate) use mfa_devices::{
    CreateVirtualMFADevice, DeactivateMFADevice, DeleteVirtualMFADevice, EnableMFADevice, GetMFADevice,
    ListMFADevices, ListVirtualMFADevices, ResyncMFADevice,
};
pub(crate) use oidc_providers::{
    AddClientIDToOpenIDConnectProvider, CreateOpenIDConnectProvider, DeleteOpenIDConnectProvider,
    GetOpenIDConnectProvider, ListOpenIDConnectProviders, RemoveClientIDFromOpenIDConnectProvider,
    UpdateOpenIDConnectProviderThumbprint,
};
pub(crate) use policy_versions::{
    CreatePolicyVersion, DeletePolicyVersion, GetPolicyVersion, ListPolicyVersions, SetDefaultPolicyVersion,
};
pub(crate) use roles::{
    CreateRole, DeleteRole, GetRole, UpdateAssumeRolePolicy, UpdateRole, UpdateRoleDescription,
};
pub(crate) use saml_providers::{
    CreateSAMLProvider, DeleteSAMLProvider, GetSAMLProvider, ListSAMLProviders, UpdateSAMLProvider,
};
pub(crate) use server_certificates::{
    DeleteServerCertificate, GetServerCertificate, ListServerCertificates, UpdateServerCertificate,
    UploadServerCertificate,
};
pub(crate) use service_linked_roles::{
    CreateServiceLinkedRole, DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus,
};
pub(crate) use signing_certificates::{
    DeleteSigningCertificate, ListSigningCertificates, UpdateSigningCertificate, UploadSigningCertificate,
};
pub(crate) use ssh_public_keys::{
    DeleteSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys, UpdateSSHPublicKey, UploadSSHPublicKey,
};
pub(crate) use tags::{AddTags, ListTags, RemoveTags};
pub(crate) use users::{CreateUser, DeleteUser, GetUser, UpdateUser};

/// Quotas IAM enforces per account and per entity (IAM User Guide, "IAM and AWS STS quotas").
pub(crate) mod quota {
    pub const USERS: usize = 5000;
    pub const GROUPS: usize = 300;
    pub const ROLES: usize = 1000;
    pub const POLICIES: usize = 1500;
    pub const GROUPS_PER_USER: usize = 10;
    pub const MANAGED_POLICIES_PER_ENTITY: usize = 10;
    pub const ACCESS_KEYS_PER_USER: usize = 2;
    pub const POLICY_VERSIONS: usize = 5;
    /// Attachments of managed policies to users, groups and roles, all counted.
    pub const POLICY_VERSIONS_IN_USE: usize = 10_000;
    /// Instance profiles per account.
    pub const INSTANCE_PROFILES: usize = 1000;
    /// Server certificates per account.
    pub const SERVER_CERTIFICATES: usize = 20;
    /// Signing certificates per user.
    pub const CERTIFICATES_PER_USER: usize = 2;
}

/// A user, group or role: an IAM identity with inline and attached policies.
pub(crate) trait Entity: Clone + Send + Sync + 'static {
    /// Its resource type in ARNs and its word in messages: `user`, `group`, `role`.
    const LABEL: &'static str;
    /// The parameter naming it: `UserName`, `GroupName`, `RoleName`.
    const PARAM: &'static str;

    fn all(state: &IamState) -> &[Self];
    fn find<'s>(state: &'s IamState, name: &str) -> Option<&'s Self>;
    fn find_mut<'s>(state: &'s mut IamState, name: &str) -> Option<&'s mut Self>;
    fn not_found(name: &str) -> IamError;

    fn name(&self) -> &str;
    fn path(&self) -> &str;
    fn arn(&self) -> &str;
    /// Its tags (groups have none).
    fn tags(&self) -> &[Tag];
    /// Its permissions boundary (groups have none).
    fn boundary(&self) -> Option<&str>;
    fn inline_policies(&self) -> &[InlinePolicy];
    fn inline_policies_mut(&mut self) -> &mut Vec<InlinePolicy>;
    /// The ARNs of its attached managed policies.
    fn attached(&self) -> &[String];
    fn attached_mut(&mut self) -> &mut Vec<String>;

    /// The entity as the request names it, or the not-found error.
    fn get<'s>(state: &'s IamState, name: &str) -> Result<&'s Self, IamError> {
        Self::find(state, name).ok_or_else(|| Self::not_found(name))
    }

    fn get_mut<'s>(state: &'s mut IamState, name: &str) -> Result<&'s mut Self, IamError> {
        Self::find_mut(state, name).ok_or_else(|| Self::not_found(name))
    }

    /// Whether its policies (inline, attached, boundary) may be changed: not those of a
    /// service-linked role, which only its service changes.
    fn modifiable(&self) -> Result<(), IamError> {
        Ok(())
    }

    /// The entity whose policies a request changes: [`Entity::get_mut`], once
    /// [`Entity::modifiable`].
    fn get_modifiable_mut<'s>(state: &'s mut IamState, name: &str) -> Result<&'s mut Self, IamError> {
        let entity = Self::get_mut(state, name)?;
        entity.modifiable()?;
        Ok(entity)
    }

    /// What an action on the named entity is authorized on: its ARN (with its path), tags and
    /// permissions boundary if it exists, otherwise the ARN it would have at `/`.
    fn target(cx: &Cx<'_>, state: &IamState, name: &str) -> Target {
        match Self::find(state, name) {
            Some(e) => Target::Arn {
                arn: e.arn().to_owned(),
                account: cx.account().to_owned(),
                tags: e.tags().to_vec(),
                boundary: e.boundary().map(str::to_owned),
            },
            None => Target::new_arn(cx, iam::entity_arn(cx.account(), Self::LABEL, "/", name)),
        }
    }
}

/// Implements the [`Entity`] accessors of a core IAM type from its fields.
macro_rules! entity_fields {
    (label: $label:literal, param: $param:literal, list: $list:ident, find: $find:ident,
     find_mut: $find_mut:ident, not_found: $not_found:path) => {
        const LABEL: &'static str = $label;
        const PARAM: &'static str = $param;

        fn all(state: &IamState) -> &[Self] {
            &state.$list
        }
        fn find<'s>(state: &'s IamState, name: &str) -> Option<&'s Self> {
            state.$find(name)
        }
        fn find_mut<'s>(state: &'s mut IamState, name: &str) -> Option<&'s mut Self> {
            state.$find_mut(name)
        }
        fn not_found(name: &str) -> IamError {
            $not_found(name)
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn path(&self) -> &str {
            &self.path
        }
        fn arn(&self) -> &str {
            &self.arn
        }
        fn inline_policies(&self) -> &[InlinePolicy] {
            &self.inline_policies
        }
        fn inline_policies_mut(&mut self) -> &mut Vec<InlinePolicy> {
            &mut self.inline_policies
        }
        fn attached(&self) -> &[String] {
            &self.attached_policies
        }
        fn attached_mut(&mut self) -> &mut Vec<String> {
            &mut self.attached_policies
        }
    };
}

impl Entity for User {
    entity_fields!(label: "user", param: "UserName", list: users, find: user,
        find_mut: user_mut, not_found: IamError::user_not_found);

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }
}

impl Entity for Group {
    entity_fields!(label: "group", param: "GroupName", list: groups, find: group,
        find_mut: group_mut, not_found: IamError::group_not_found);

    fn tags(&self) -> &[Tag] {
        &[]
    }
    fn boundary(&self) -> Option<&str> {
        None
    }
}

impl Entity for Role {
    entity_fields!(label: "role", param: "RoleName", list: roles, find: role,
        find_mut: role_mut, not_found: IamError::role_not_found);

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
    fn boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }
    fn modifiable(&self) -> Result<(), IamError> {
        if service_linked_roles::is_service_linked(self) {
            return Err(service_linked_roles::protected_role(&self.name));
        }
        Ok(())
    }
}

/// What an action on a managed policy is authorized on. AWS managed policies belong to no
/// account: anyone may read them (their account is taken as the caller's), nobody may change them
/// (their account stays `aws`, which no caller's policies reach).
pub(crate) fn policy_target(cx: &Cx<'_>, state: &IamState, arn: &str, read_only: bool) -> Target {
    match iam::parse_policy_arn(arn) {
        Some((account, _, _)) => {
            let account = if account == "aws" && read_only {
                cx.account()
            } else {
                account
            };
            Target::Arn {
                arn: arn.to_owned(),
                account: account.to_owned(),
                tags: state.policy(arn).map(|p| p.tags.clone()).unwrap_or_default(),
                boundary: None,
            }
        }
        None => Target::Unresolved(arn.to_owned()),
    }
}

/// What the List actions without a resource type are authorized on: the path prefix
/// (`arn:aws:iam::<account>:<kind>/<prefix without its leading slash>`), as AWS names it.
pub(crate) fn path_target(cx: &Cx<'_>, kind: &str, prefix: Option<&str>) -> Target {
    let prefix = prefix.unwrap_or("/");
    let path = prefix.strip_prefix('/').unwrap_or(prefix);
    Target::new_arn(cx, format!("arn:aws:iam::{}:{kind}/{path}", cx.account()))
}

/// A managed policy by ARN, for Get*/List* operations on it: the account's or AWS managed.
pub(crate) fn find_policy(state: &IamState, arn: &str) -> Result<ManagedPolicy, IamError> {
    if iam::parse_policy_arn(arn).is_none() {
        return Err(IamError::invalid_arn(arn));
    }
    state
        .managed_policy(arn)
        .ok_or_else(|| IamError::policy_not_found(arn))
}

/// A customer managed policy of this account, for operations that change it.
pub(crate) fn find_own_policy<'s>(
    state: &'s mut IamState,
    arn: &str,
) -> Result<&'s mut ManagedPolicy, IamError> {
    if iam::parse_policy_arn(arn).is_none() {
        return Err(IamError::invalid_arn(arn));
    }
    state
        .policy_mut(arn)
        .ok_or_else(|| IamError::policy_not_found(arn))
}

/// The canonical ARN of a policy that may be attached (or used as a permissions boundary).
pub(crate) fn attachable(
    state: &IamState,
    arn: &str,
    not_found: fn(&str) -> IamError,
) -> Result<String, IamError> {
    if iam::parse_policy_arn(arn).is_none() {
        return Err(IamError::invalid_arn(arn));
    }
    state
        .managed_policy(arn)
        .map(|p| p.arn)
        .ok_or_else(|| not_found(arn))
}

/// Whose access keys an access-key operation manages: the named user, or without `UserName`
/// the caller (an IAM user, or the account's root user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyOwner {
    User(String),
    Root,
}

impl KeyOwner {
    /// Whom a virtual MFA device of this owner is assigned to.
    pub fn holder(&self) -> kinko_core::mfa::Holder<'_> {
        match self {
            KeyOwner::User(name) => kinko_core::mfa::Holder::User(name),
            KeyOwner::Root => kinko_core::mfa::Holder::Root,
        }
    }

    pub fn resolve(cx: &Cx<'_>, state: &IamState, user_name: Option<&str>) -> Result<KeyOwner, IamError> {
        let name = match (user_name, &cx.rc.principal.kind) {
            (Some(name), _) => name,
            (None, PrincipalKind::User { name, .. }) => name.as_str(),
            (None, PrincipalKind::Root) => return Ok(KeyOwner::Root),
            (
                None,
                PrincipalKind::AssumedRole { .. }
                | PrincipalKind::FederatedUser { .. }
                | PrincipalKind::Anonymous,
            ) => {
                return Err(non_user_credentials());
            }
        };
        User::get(state, name).map(|u| KeyOwner::User(u.name.clone()))
    }

    /// The authorization target: the user (or root) the keys belong to.
    pub fn target(cx: &Cx<'_>, state: &IamState, user_name: Option<&str>) -> Result<Target, IamError> {
        match (user_name, &cx.rc.principal.kind) {
            (Some(name), _) => Ok(User::target(cx, state, name)),
            (None, PrincipalKind::User { name, .. }) => Ok(User::target(cx, state, name)),
            (None, PrincipalKind::Root) => Ok(Target::new_arn(cx, cx.rc.principal.arn.clone())),
            (
                None,
                PrincipalKind::AssumedRole { .. }
                | PrincipalKind::FederatedUser { .. }
                | PrincipalKind::Anonymous,
            ) => Err(non_user_credentials()),
        }
    }
}

/// Operations that default to "the calling user" reject role sessions.
pub(crate) fn non_user_credentials() -> IamError {
    IamError::Validation("Must specify userName when calling with non-User credentials".into())
}

/// Sorts by name as IAM lists entities: alphabetically, ignoring case.
pub(crate) fn by_name<T>(items: &mut [T], name: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| {
        name(a)
            .to_ascii_lowercase()
            .cmp(&name(b).to_ascii_lowercase())
            .then_with(|| name(a).cmp(name(b)))
    });
}

/// Adds or replaces tags (keys compare case-insensitively); `quota` names the limit in errors.
pub(crate) fn merge_tags(existing: &mut Vec<Tag>, new: &[Tag], quota: &str) -> Result<(), IamError> {
    for t in new {
        match existing.iter_mut().find(|e| e.key.eq_ignore_ascii_case(&t.key)) {
            Some(e) => *e = t.clone(),
            None => existing.push(t.clone()),
        }
    }
    if existing.len() > input::MAX_TAGS {
        return Err(IamError::quota(quota, input::MAX_TAGS));
    }
    Ok(())
}

/// What UpdateUser and UpdateGroup resolve: the entity, and the ARN a new name or path gives it.
/// AWS requires permission on both: "to change Bob to Robert, the entity making the request must
/// have permission on Bob and Robert, or must have permission on all (*)" (IAM API Reference,
/// UpdateUser, UpdateGroup).
pub(crate) struct Renaming {
    pub found: Found,
    /// The target under the new name or path, when they change the ARN.
    pub renamed: Option<Target>,
}

impl Renaming {
    pub async fn read<E: Entity>(
        cx: &Cx<'_>,
        name: &str,
        new_name: Option<&str>,
        new_path: Option<&str>,
    ) -> Result<Renaming, IamError> {
        let found = Found::read(cx, |state| Ok(E::target(cx, state, name))).await?;
        let renamed = E::find(&found.state, name).and_then(|e| {
            let arn = iam::entity_arn(
                cx.account(),
                E::LABEL,
                new_path.unwrap_or(e.path()),
                new_name.unwrap_or(e.name()),
            );
            (arn != e.arn()).then(|| Target::new_arn(cx, arn))
        });
        Ok(Renaming { found, renamed })
    }

    pub fn authorization<'a>(&'a self, cx: &'a Cx<'_>) -> Authorization<'a> {
        let authorization = Authorization::of(self.found.check(cx));
        match &self.renamed {
            Some(to) => authorization.and(to.check(cx)),
            None => authorization,
        }
    }
}

/// `Cannot delete entity, <what>.`
pub(crate) fn delete_conflict(what: &str) -> IamError {
    IamError::DeleteConflict(format!("Cannot delete entity, {what}."))
}
