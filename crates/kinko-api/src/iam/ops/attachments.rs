//! Attach/Detach User|Group|RolePolicy, ListAttached User|Group|RolePolicies, ListEntitiesForPolicy.
//!
//! Attaching and detaching are authorized on the entity with the policy's ARN as `iam:PolicyARN`
//! (and a user's or role's permissions boundary as `iam:PermissionsBoundary`), so a policy can let
//! someone attach some managed policies but not others.

use std::marker::PhantomData;

use kinko_core::iam::{Group, Role, User};
use kinko_wire::query::Params;

use super::{Entity, attachable, by_name, find_policy, policy_target, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::{Found, Iam, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// An entity managed policies are attached to: its actions and limits.
pub(crate) trait Attachments: Entity {
    const ATTACH: &'static str;
    const DETACH: &'static str;
    const LIST_ATTACHED: &'static str;
    /// The longest entity name these actions accept.
    const MAX_NAME: usize;
    /// The quota AWS names when an entity would get too many managed policies.
    const QUOTA: &'static str;
}

impl Attachments for User {
    const ATTACH: &'static str = "AttachUserPolicy";
    const DETACH: &'static str = "DetachUserPolicy";
    const LIST_ATTACHED: &'static str = "ListAttachedUserPolicies";
    const MAX_NAME: usize = 64;
    const QUOTA: &'static str = "PoliciesPerUser";
}

impl Attachments for Group {
    const ATTACH: &'static str = "AttachGroupPolicy";
    const DETACH: &'static str = "DetachGroupPolicy";
    const LIST_ATTACHED: &'static str = "ListAttachedGroupPolicies";
    const MAX_NAME: usize = 128;
    const QUOTA: &'static str = "PoliciesPerGroup";
}

impl Attachments for Role {
    const ATTACH: &'static str = "AttachRolePolicy";
    const DETACH: &'static str = "DetachRolePolicy";
    const LIST_ATTACHED: &'static str = "ListAttachedRolePolicies";
    const MAX_NAME: usize = 64;
    const QUOTA: &'static str = "PoliciesPerRole";
}

/// An entity and a managed policy's ARN.
pub(crate) struct Attachment<E> {
    entity: String,
    arn: String,
    _entity: PhantomData<E>,
}

impl<E: Attachments> FromRequest<Iam> for Attachment<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, E::MAX_NAME);
        let arn = r.req_arn("PolicyArn");
        r.finish()?;
        Ok(Attachment {
            entity,
            arn,
            _entity: PhantomData,
        })
    }
}

/// The entity, with the policy as `iam:PolicyARN` and the entity's boundary as
/// `iam:PermissionsBoundary`.
fn attachment_check<'a, E>(cx: &'a Cx<'_>, i: &'a Attachment<E>, found: &'a Found) -> Authorization<'a> {
    Authorization::of(
        found
            .check(cx)
            .condition("iam:PolicyARN", i.arn.as_str())
            .condition_opt("iam:PermissionsBoundary", found.target.boundary()),
    )
}

/// AttachUserPolicy, AttachGroupPolicy, AttachRolePolicy.
pub(crate) struct AttachPolicy<E>(PhantomData<E>);

impl<E: Attachments> Operation for AttachPolicy<E> {
    type Service = Iam;
    const NAME: &'static str = E::ATTACH;
    type Input = Attachment<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &Attachment<E>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(E::target(cx, state, &i.entity))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Attachment<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(attachment_check(cx, i, found))
    }

    async fn run(cx: &Cx<'_>, i: &Attachment<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        E::get(&state, &i.entity)?;
        let arn = attachable(&state, &i.arn, IamError::not_attachable)?;
        let attached = E::get_modifiable_mut(&mut state, &i.entity)?.attached_mut();
        if attached.contains(&arn) {
            return Ok(QueryReply::Empty);
        }
        if attached.len() >= quota::MANAGED_POLICIES_PER_ENTITY {
            return Err(IamError::quota(E::QUOTA, quota::MANAGED_POLICIES_PER_ENTITY));
        }
        attached.push(arn);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// DetachUserPolicy, DetachGroupPolicy, DetachRolePolicy.
pub(crate) struct DetachPolicy<E>(PhantomData<E>);

impl<E: Attachments> Operation for DetachPolicy<E> {
    type Service = Iam;
    const NAME: &'static str = E::DETACH;
    type Input = Attachment<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &Attachment<E>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(E::target(cx, state, &i.entity))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a Attachment<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(attachment_check(cx, i, found))
    }

    async fn run(cx: &Cx<'_>, i: &Attachment<E>, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let attached = E::get_modifiable_mut(&mut state, &i.entity)?.attached_mut();
        let before = attached.len();
        attached.retain(|a| *a != i.arn);
        if attached.len() == before {
            return Err(IamError::policy_not_found(&i.arn));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// ListAttachedUserPolicies, ListAttachedGroupPolicies, ListAttachedRolePolicies.
pub(crate) struct ListAttachedPolicies<E>(PhantomData<E>);

pub(crate) struct ListAttachedInput<E> {
    entity: String,
    prefix: Option<String>,
    page: Page,
    _entity: PhantomData<E>,
}

impl<E: Attachments> FromRequest<Iam> for ListAttachedInput<E> {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(E::PARAM, E::MAX_NAME);
        let prefix = r.policy_path_prefix();
        let page = r.page();
        r.finish()?;
        Ok(ListAttachedInput {
            entity,
            prefix,
            page,
            _entity: PhantomData,
        })
    }
}

impl<E: Attachments> Operation for ListAttachedPolicies<E> {
    type Service = Iam;
    const NAME: &'static str = E::LIST_ATTACHED;
    type Input = ListAttachedInput<E>;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListAttachedInput<E>) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(E::target(cx, state, &i.entity))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListAttachedInput<E>,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListAttachedInput<E>, found: Found) -> Result<QueryReply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let mut arns: Vec<String> = E::get(&found.state, &i.entity)?
            .attached()
            .iter()
            .filter(|arn| {
                kinko_core::iam::parse_policy_arn(arn).is_some_and(|(_, path, _)| path.starts_with(prefix))
            })
            .cloned()
            .collect();
        by_name(&mut arns, |a| output::policy_name(a));
        let (page, next) = i.page.apply(arns)?;
        let mut x = cx.xml::<Iam>();
        output::attached_policies(&mut x, "AttachedPolicies", &page);
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListEntitiesForPolicy;

pub(crate) struct ListEntitiesInput {
    arn: String,
    filter: Option<String>,
    prefix: Option<String>,
    usage: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListEntitiesInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let arn = r.req_arn("PolicyArn");
        let filter = r.one_of(
            "EntityFilter",
            &["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"],
            false,
        );
        let prefix = r.entity_path_prefix();
        let usage = r.one_of(
            "PolicyUsageFilter",
            &["PermissionsPolicy", "PermissionsBoundary"],
            false,
        );
        let page = r.page();
        r.finish()?;
        Ok(ListEntitiesInput {
            arn,
            filter,
            prefix,
            usage,
            page,
        })
    }
}

/// One entity a policy is attached to (or is the permissions boundary of).
enum Using {
    Group { name: String, id: String },
    User { name: String, id: String },
    Role { name: String, id: String },
}

impl Operation for ListEntitiesForPolicy {
    type Service = Iam;
    const NAME: &'static str = "ListEntitiesForPolicy";
    type Input = ListEntitiesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListEntitiesInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(policy_target(cx, state, &i.arn, true))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListEntitiesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListEntitiesInput, found: Found) -> Result<QueryReply, IamError> {
        let state = found.state;
        let policy = find_policy(&state, &i.arn)?;
        let arn = policy.arn.as_str();
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let wants = |kind: &str| i.filter.as_deref().is_none_or(|f| f == kind);
        let permissions = i.usage.as_deref() != Some("PermissionsBoundary");
        let boundaries = i.usage.as_deref() != Some("PermissionsPolicy");
        let uses = |attached: &[String], boundary: Option<&str>| {
            (permissions && attached.iter().any(|a| a == arn)) || (boundaries && boundary == Some(arn))
        };
        let mut found = Vec::new();
        if wants("Group") {
            for g in state.groups.iter().filter(|g| g.path.starts_with(prefix)) {
                if uses(&g.attached_policies, None) {
                    found.push(Using::Group {
                        name: g.name.clone(),
                        id: g.group_id.clone(),
                    });
                }
            }
        }
        if wants("User") {
            for u in state.users.iter().filter(|u| u.path.starts_with(prefix)) {
                if uses(&u.attached_policies, u.permissions_boundary.as_deref()) {
                    found.push(Using::User {
                        name: u.name.clone(),
                        id: u.user_id.clone(),
                    });
                }
            }
        }
        if wants("Role") {
            for r in state.roles.iter().filter(|r| r.path.starts_with(prefix)) {
                if uses(&r.attached_policies, r.permissions_boundary.as_deref()) {
                    found.push(Using::Role {
                        name: r.name.clone(),
                        id: r.role_id.clone(),
                    });
                }
            }
        }
        let (page, next) = i.page.apply(found)?;
        let mut x = cx.xml::<Iam>();
        let groups = page.iter().filter_map(|u| match u {
            Using::Group { name, id } => Some((name, id)),
            _ => None,
        });
        members(&mut x, "PolicyGroups", groups, |x, (name, id)| {
            x.elem("GroupName", name).elem("GroupId", id);
        });
        let users = page.iter().filter_map(|u| match u {
            Using::User { name, id } => Some((name, id)),
            _ => None,
        });
        members(&mut x, "PolicyUsers", users, |x, (name, id)| {
            x.elem("UserName", name).elem("UserId", id);
        });
        let roles = page.iter().filter_map(|u| match u {
            Using::Role { name, id } => Some((name, id)),
            _ => None,
        });
        members(&mut x, "PolicyRoles", roles, |x, (name, id)| {
            x.elem("RoleName", name).elem("RoleId", id);
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}
