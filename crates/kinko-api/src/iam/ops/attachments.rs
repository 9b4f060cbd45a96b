//! Attach/Detach User|Group|RolePolicy, ListAttached User|Group|RolePolicies, ListEntitiesForPolicy.

use kinko_core::iam::IamState;
use kinko_wire::query::Params;

use super::{Entity, attachable, by_name, find_policy, policy_target, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, members};
use crate::iam::{Cx, Operation, Reply, Target};

pub(crate) struct Attachment {
    entity: String,
    arn: String,
}

/// Attach/Detach take names of at most 64 characters (users, roles) or 128 (groups).
fn max_name(e: Entity) -> usize {
    match e {
        Entity::Group => 128,
        Entity::User | Entity::Role => 64,
    }
}

fn decode_attachment(e: Entity, p: &Params) -> Result<Attachment, IamError> {
    let mut r = Reader::new(p);
    let entity = r.req_name(e.param(), max_name(e));
    let arn = r.req_arn("PolicyArn");
    r.finish()?;
    Ok(Attachment { entity, arn })
}

fn quota_name(e: Entity) -> &'static str {
    match e {
        Entity::User => "PoliciesPerUser",
        Entity::Group => "PoliciesPerGroup",
        Entity::Role => "PoliciesPerRole",
    }
}

pub(crate) struct AttachPolicy(pub Entity);

impl Operation for AttachPolicy {
    type Input = Attachment;

    fn decode(&self, p: &Params) -> Result<Attachment, IamError> {
        decode_attachment(self.0, p)
    }

    fn target(&self, cx: &Cx<'_>, i: &Attachment, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &Attachment, mut state: IamState) -> Result<Reply, IamError> {
        if !self.0.exists(&state, &i.entity) {
            return Err(self.0.not_found(&i.entity));
        }
        let arn = attachable(&state, &i.arn, IamError::not_attachable)?;
        let attached = self.0.attached_mut(&mut state, &i.entity)?;
        if attached.contains(&arn) {
            return Ok(Reply::Empty);
        }
        if attached.len() >= quota::MANAGED_POLICIES_PER_ENTITY {
            return Err(IamError::quota(
                quota_name(self.0),
                quota::MANAGED_POLICIES_PER_ENTITY,
            ));
        }
        attached.push(arn);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct DetachPolicy(pub Entity);

impl Operation for DetachPolicy {
    type Input = Attachment;

    fn decode(&self, p: &Params) -> Result<Attachment, IamError> {
        decode_attachment(self.0, p)
    }

    fn target(&self, cx: &Cx<'_>, i: &Attachment, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &Attachment, mut state: IamState) -> Result<Reply, IamError> {
        let attached = self.0.attached_mut(&mut state, &i.entity)?;
        let before = attached.len();
        attached.retain(|a| *a != i.arn);
        if attached.len() == before {
            return Err(IamError::policy_not_found(&i.arn));
        }
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct ListAttachedPolicies(pub Entity);

pub(crate) struct ListAttachedInput {
    entity: String,
    prefix: Option<String>,
    page: Page,
}

impl Operation for ListAttachedPolicies {
    type Input = ListAttachedInput;

    fn decode(&self, p: &Params) -> Result<ListAttachedInput, IamError> {
        let mut r = Reader::new(p);
        let entity = r.req_name(self.0.param(), max_name(self.0));
        let prefix = r.policy_path_prefix();
        let page = r.page();
        r.finish()?;
        Ok(ListAttachedInput { entity, prefix, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &ListAttachedInput, state: &IamState) -> Result<Target, IamError> {
        Ok(self.0.target(cx, state, &i.entity))
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListAttachedInput, mut state: IamState) -> Result<Reply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let attached = self.0.attached_mut(&mut state, &i.entity)?.clone();
        let mut arns: Vec<String> = attached
            .into_iter()
            .filter(|arn| {
                kinko_core::iam::parse_policy_arn(arn).is_some_and(|(_, path, _)| path.starts_with(prefix))
            })
            .collect();
        by_name(&mut arns, |a| output::policy_name(a));
        let (page, next) = i.page.apply(arns)?;
        let mut x = cx.xml();
        output::attached_policies(&mut x, "AttachedPolicies", &page);
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
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

/// One entity a policy is attached to (or is the permissions boundary of).
enum Using {
    Group { name: String, id: String },
    User { name: String, id: String },
    Role { name: String, id: String },
}

impl Operation for ListEntitiesForPolicy {
    type Input = ListEntitiesInput;

    fn decode(&self, p: &Params) -> Result<ListEntitiesInput, IamError> {
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

    fn target(&self, cx: &Cx<'_>, i: &ListEntitiesInput, state: &IamState) -> Result<Target, IamError> {
        Ok(policy_target(cx, state, &i.arn, true))
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListEntitiesInput, state: IamState) -> Result<Reply, IamError> {
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
        let mut x = cx.xml();
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
        Ok(Reply::Result(x))
    }
}
