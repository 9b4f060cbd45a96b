//! IAM operations, one file per family; helpers shared by several of them.

mod access_keys;
mod account_authorization_details;
mod attachments;
mod boundaries;
mod groups;
mod inline_policies;
mod managed_policies;
mod policy_versions;
mod roles;
mod tags;
mod users;

use kinko_core::iam::{self, IamState, ManagedPolicy};
use kinko_core::principal::PrincipalKind;
use kinko_core::secret::Tag;

use super::error::IamError;
use super::{Cx, Target};

pub(crate) use access_keys::{
    CreateAccessKey, DeleteAccessKey, GetAccessKeyLastUsed, ListAccessKeys, UpdateAccessKey,
};
pub(crate) use account_authorization_details::GetAccountAuthorizationDetails;
pub(crate) use attachments::{AttachPolicy, DetachPolicy, ListAttachedPolicies, ListEntitiesForPolicy};
pub(crate) use boundaries::{DeletePermissionsBoundary, PutPermissionsBoundary};
pub(crate) use groups::{
    AddUserToGroup, CreateGroup, DeleteGroup, GetGroup, ListGroups, ListGroupsForUser, RemoveUserFromGroup,
    UpdateGroup,
};
pub(crate) use inline_policies::{DeleteInlinePolicy, GetInlinePolicy, ListInlinePolicies, PutInlinePolicy};
pub(crate) use managed_policies::{CreatePolicy, DeletePolicy, GetPolicy, ListPolicies};
pub(crate) use policy_versions::{
    CreatePolicyVersion, DeletePolicyVersion, GetPolicyVersion, ListPolicyVersions, SetDefaultPolicyVersion,
};
pub(crate) use roles::{
    CreateRole, DeleteRole, GetRole, ListRoles, UpdateAssumeRolePolicy, UpdateRole, UpdateRoleDescription,
};
pub(crate) use tags::{AddTags, ListTags, RemoveTags, Tagged};
pub(crate) use users::{CreateUser, DeleteUser, GetUser, ListUsers, UpdateUser};

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
}

/// An entity that has inline and attached policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    User,
    Group,
    Role,
}

impl Entity {
    /// The parameter naming the entity: `UserName`, `GroupName`, `RoleName`.
    pub fn param(self) -> &'static str {
        match self {
            Entity::User => "UserName",
            Entity::Group => "GroupName",
            Entity::Role => "RoleName",
        }
    }

    /// The longest name the entity's operations accept.
    pub fn max_name(self) -> usize {
        match self {
            Entity::User | Entity::Group => 128,
            Entity::Role => 64,
        }
    }

    /// `user`, `group`, `role`: in ARNs and messages.
    pub fn label(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Group => "group",
            Entity::Role => "role",
        }
    }

    pub fn not_found(self, name: &str) -> IamError {
        match self {
            Entity::User => IamError::user_not_found(name),
            Entity::Group => IamError::group_not_found(name),
            Entity::Role => IamError::role_not_found(name),
        }
    }

    /// The entity's ARN (with its path) and tags if it exists; otherwise the ARN it would have at `/`.
    pub fn target(self, cx: &Cx<'_>, state: &IamState, name: &str) -> Target {
        let (arn, tags) = match self {
            Entity::User => state
                .user(name)
                .map(|u| (u.arn.clone(), tag_pairs(&u.tags)))
                .unwrap_or_else(|| (iam::entity_arn(cx.account(), "user", "/", name), vec![])),
            Entity::Group => state
                .group(name)
                .map(|g| (g.arn.clone(), vec![]))
                .unwrap_or_else(|| (iam::entity_arn(cx.account(), "group", "/", name), vec![])),
            Entity::Role => state
                .role(name)
                .map(|r| (r.arn.clone(), tag_pairs(&r.tags)))
                .unwrap_or_else(|| (iam::entity_arn(cx.account(), "role", "/", name), vec![])),
        };
        Target::Arn {
            arn,
            account: cx.account().to_owned(),
            tags,
        }
    }

    /// Whether the entity exists.
    pub fn exists(self, state: &IamState, name: &str) -> bool {
        match self {
            Entity::User => state.user(name).is_some(),
            Entity::Group => state.group(name).is_some(),
            Entity::Role => state.role(name).is_some(),
        }
    }

    /// The entity's inline policies.
    pub fn inline_policies_mut<'s>(
        self,
        state: &'s mut IamState,
        name: &str,
    ) -> Result<&'s mut Vec<iam::InlinePolicy>, IamError> {
        match self {
            Entity::User => state.user_mut(name).map(|u| &mut u.inline_policies),
            Entity::Group => state.group_mut(name).map(|g| &mut g.inline_policies),
            Entity::Role => state.role_mut(name).map(|r| &mut r.inline_policies),
        }
        .ok_or_else(|| self.not_found(name))
    }

    /// The ARNs of the entity's attached managed policies.
    pub fn attached_mut<'s>(
        self,
        state: &'s mut IamState,
        name: &str,
    ) -> Result<&'s mut Vec<String>, IamError> {
        match self {
            Entity::User => state.user_mut(name).map(|u| &mut u.attached_policies),
            Entity::Group => state.group_mut(name).map(|g| &mut g.attached_policies),
            Entity::Role => state.role_mut(name).map(|r| &mut r.attached_policies),
        }
        .ok_or_else(|| self.not_found(name))
    }

    /// The entity's name as stored (the request may differ in case).
    pub fn canonical_name(self, state: &IamState, name: &str) -> Result<String, IamError> {
        match self {
            Entity::User => state.user(name).map(|u| u.name.clone()),
            Entity::Group => state.group(name).map(|g| g.name.clone()),
            Entity::Role => state.role(name).map(|r| r.name.clone()),
        }
        .ok_or_else(|| self.not_found(name))
    }
}

pub(crate) fn tag_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect()
}

/// Authorization target for a managed policy ARN. AWS managed policies belong to no account: anyone
/// may read them (their account is taken as the caller's), nobody may change them (their account
/// stays `aws`, which no caller's policies reach).
pub(crate) fn policy_target(cx: &Cx<'_>, state: &IamState, arn: &str, read_only: bool) -> Target {
    match iam::parse_policy_arn(arn) {
        Some((account, _, _)) => {
            let account = if account == "aws" && read_only {
                cx.account()
            } else {
                account
            };
            let tags = state.policy(arn).map(|p| tag_pairs(&p.tags)).unwrap_or_default();
            Target::Arn {
                arn: arn.to_owned(),
                account: account.to_owned(),
                tags,
            }
        }
        None => Target::Unresolved(arn.to_owned()),
    }
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
    pub fn resolve(cx: &Cx<'_>, state: &IamState, user_name: Option<&str>) -> Result<KeyOwner, IamError> {
        let name = match (user_name, &cx.rc.principal.kind) {
            (Some(name), _) => name,
            (None, PrincipalKind::User { name, .. }) => name.as_str(),
            (None, PrincipalKind::Root) => return Ok(KeyOwner::Root),
            (None, PrincipalKind::AssumedRole { .. }) => return Err(non_user_credentials()),
        };
        state
            .user(name)
            .map(|u| KeyOwner::User(u.name.clone()))
            .ok_or_else(|| IamError::user_not_found(name))
    }

    /// The authorization target: the user (or root) the keys belong to.
    pub fn target(cx: &Cx<'_>, state: &IamState, user_name: Option<&str>) -> Result<Target, IamError> {
        match (user_name, &cx.rc.principal.kind) {
            (Some(name), _) => Ok(Entity::User.target(cx, state, name)),
            (None, PrincipalKind::User { name, .. }) => Ok(Entity::User.target(cx, state, name)),
            (None, PrincipalKind::Root) => Ok(Target::Arn {
                arn: cx.rc.principal.arn.clone(),
                account: cx.account().to_owned(),
                tags: vec![],
            }),
            (None, PrincipalKind::AssumedRole { .. }) => Err(non_user_credentials()),
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
    if existing.len() > super::input::MAX_TAGS {
        return Err(IamError::quota(quota, super::input::MAX_TAGS));
    }
    Ok(())
}
