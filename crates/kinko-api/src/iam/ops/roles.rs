//! CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy,
//! DeleteRole.

use kinko_core::iam::{self, IamState, Role};
use kinko_core::principal::BoundPrincipal;
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::users::{ListInput, conflict, decode_list};
use super::{Entity, attachable, by_name, quota, tag_pairs};
use crate::iam::error::IamError;
use crate::iam::input::{Reader, check_tags};
use crate::iam::output::{self, Detail, members};
use crate::iam::policy_document::check_trust;
use crate::iam::{Cx, Operation, Reply, Target};

const ROLE_NAME: usize = 64;
/// Default and bounds of `MaxSessionDuration`, in seconds.
const DEFAULT_MAX_SESSION: i64 = 3600;
const MIN_SESSION: i64 = 3600;
const MAX_SESSION: i64 = 43_200;

fn read_role(r: &mut Reader<'_>) -> String {
    r.req_name("RoleName", ROLE_NAME)
}

/// Binds the users and roles a trust policy names to their unique ids, as IAM does when it saves
/// the policy; one that doesn't exist is refused with IAM's text.
async fn bind_trust(cx: &Cx<'_>, doc: &str) -> Result<Vec<BoundPrincipal>, IamError> {
    crate::authz::bind_principals(cx.services, doc)
        .await?
        .map_err(|arn| {
            IamError::MalformedPolicyDocument(format!("Invalid principal in policy: \"AWS\":\"{arn}\""))
        })
}

/// The role as IAM shows it: a user or role its trust policy named that no longer exists appears
/// as its unique id.
async fn shown(cx: &Cx<'_>, role: &Role) -> Result<Role, IamError> {
    let mut r = role.clone();
    r.assume_role_policy_document = crate::authz::shown_policy(
        cx.services,
        &role.assume_role_policy_document,
        &role.trust_principals,
    )
    .await?;
    Ok(r)
}

fn find<'s>(state: &'s IamState, name: &str) -> Result<&'s Role, IamError> {
    state.role(name).ok_or_else(|| IamError::role_not_found(name))
}

fn find_mut<'s>(state: &'s mut IamState, name: &str) -> Result<&'s mut Role, IamError> {
    state.role_mut(name).ok_or_else(|| IamError::role_not_found(name))
}

pub(crate) struct CreateRole;

pub(crate) struct CreateRoleInput {
    name: String,
    path: String,
    trust: String,
    description: Option<String>,
    max_session: i64,
    boundary: Option<String>,
    tags: Vec<Tag>,
}

impl Operation for CreateRole {
    type Input = CreateRoleInput;

    fn decode(&self, p: &Params) -> Result<CreateRoleInput, IamError> {
        let mut r = Reader::new(p);
        let path = r.path("Path");
        let name = read_role(&mut r);
        let trust = r.document("AssumeRolePolicyDocument");
        let description = r.role_description("Description", false);
        let max_session = r.int("MaxSessionDuration", MIN_SESSION, MAX_SESSION);
        let boundary = r.arn("PermissionsBoundary");
        let tags = r.tags("Tags", false);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        check_trust(&trust)?;
        Ok(CreateRoleInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
            trust,
            description,
            max_session: max_session.unwrap_or(DEFAULT_MAX_SESSION),
            boundary,
            tags,
        })
    }

    fn target(&self, cx: &Cx<'_>, i: &CreateRoleInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Arn {
            arn: iam::entity_arn(cx.account(), "role", &i.path, &i.name),
            account: cx.account().to_owned(),
            tags: vec![],
        })
    }

    fn request_tags(&self, i: &CreateRoleInput) -> Vec<(String, String)> {
        tag_pairs(&i.tags)
    }

    async fn run(&self, cx: &Cx<'_>, i: &CreateRoleInput, mut state: IamState) -> Result<Reply, IamError> {
        if state.role(&i.name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role with name {} already exists.",
                i.name
            )));
        }
        if state.roles.len() >= quota::ROLES {
            return Err(IamError::quota("RolesPerAccount", quota::ROLES));
        }
        let boundary = i
            .boundary
            .as_deref()
            .map(|b| attachable(&state, b, IamError::boundary_not_attachable))
            .transpose()?;
        let trust_principals = bind_trust(cx, &i.trust).await?;
        let role = Role {
            name: i.name.clone(),
            path: i.path.clone(),
            role_id: output::unique_id("AROA"),
            arn: iam::entity_arn(cx.account(), "role", &i.path, &i.name),
            create_date: cx.now(),
            assume_role_policy_document: i.trust.clone(),
            assume_role_policy_updated: None,
            trust_principals,
            description: i.description.clone(),
            max_session_duration: i.max_session,
            tags: i.tags.clone(),
            inline_policies: vec![],
            attached_policies: vec![],
            permissions_boundary: boundary,
        };
        let mut x = cx.xml();
        output::role(&mut x, &role, Detail::Full);
        state.roles.push(role);
        cx.write(state).await?;
        Ok(Reply::Result(x))
    }
}

pub(crate) struct GetRole;

impl Operation for GetRole {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Role.target(cx, state, name))
    }

    async fn run(&self, cx: &Cx<'_>, name: &String, state: IamState) -> Result<Reply, IamError> {
        let role = shown(cx, find(&state, name)?).await?;
        let mut x = cx.xml();
        output::role(&mut x, &role, Detail::Full);
        Ok(Reply::Result(x))
    }
}

pub(crate) struct ListRoles;

impl Operation for ListRoles {
    type Input = ListInput;

    fn decode(&self, p: &Params) -> Result<ListInput, IamError> {
        decode_list(p)
    }

    fn target(&self, _: &Cx<'_>, _: &ListInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Any)
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListInput, state: IamState) -> Result<Reply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let mut roles: Vec<&Role> = state
            .roles
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect();
        by_name(&mut roles, |r| &r.name);
        let (page, next) = i.page.apply(roles)?;
        let mut shown_page = Vec::with_capacity(page.len());
        for r in page {
            shown_page.push(shown(cx, r).await?);
        }
        let mut x = cx.xml();
        members(&mut x, "Roles", shown_page.iter(), |x, r| {
            output::role_fields(x, r, Detail::Listed)
        });
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct UpdateRole;

pub(crate) struct UpdateRoleInput {
    name: String,
    description: Option<String>,
    max_session: Option<i64>,
}

impl Operation for UpdateRole {
    type Input = UpdateRoleInput;

    fn decode(&self, p: &Params) -> Result<UpdateRoleInput, IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        let description = r.role_description("Description", false);
        let max_session = r.int("MaxSessionDuration", MIN_SESSION, MAX_SESSION);
        r.finish()?;
        Ok(UpdateRoleInput {
            name,
            description,
            max_session,
        })
    }

    fn target(&self, cx: &Cx<'_>, i: &UpdateRoleInput, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Role.target(cx, state, &i.name))
    }

    async fn run(&self, cx: &Cx<'_>, i: &UpdateRoleInput, mut state: IamState) -> Result<Reply, IamError> {
        let role = find_mut(&mut state, &i.name)?;
        if let Some(d) = &i.description {
            role.description = Some(d.clone());
        }
        if let Some(m) = i.max_session {
            role.max_session_duration = m;
        }
        cx.write(state).await?;
        // UpdateRole has an empty result element.
        Ok(Reply::Result(cx.xml()))
    }
}

pub(crate) struct UpdateRoleDescription;

impl Operation for UpdateRoleDescription {
    type Input = (String, String);

    fn decode(&self, p: &Params) -> Result<(String, String), IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        let description = r.role_description("Description", true);
        r.finish()?;
        Ok((name, description.unwrap_or_default()))
    }

    fn target(&self, cx: &Cx<'_>, i: &(String, String), state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Role.target(cx, state, &i.0))
    }

    async fn run(&self, cx: &Cx<'_>, i: &(String, String), mut state: IamState) -> Result<Reply, IamError> {
        let role = find_mut(&mut state, &i.0)?;
        role.description = Some(i.1.clone());
        let mut x = cx.xml();
        output::role(&mut x, role, Detail::Full);
        cx.write(state).await?;
        Ok(Reply::Result(x))
    }
}

pub(crate) struct UpdateAssumeRolePolicy;

impl Operation for UpdateAssumeRolePolicy {
    type Input = (String, String);

    fn decode(&self, p: &Params) -> Result<(String, String), IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        let doc = r.document("PolicyDocument");
        r.finish()?;
        check_trust(&doc)?;
        Ok((name, doc))
    }

    fn target(&self, cx: &Cx<'_>, i: &(String, String), state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Role.target(cx, state, &i.0))
    }

    async fn run(&self, cx: &Cx<'_>, i: &(String, String), mut state: IamState) -> Result<Reply, IamError> {
        let trust_principals = bind_trust(cx, &i.1).await?;
        let role = find_mut(&mut state, &i.0)?;
        role.assume_role_policy_document.clone_from(&i.1);
        role.assume_role_policy_updated = Some(cx.services.clock.now());
        role.trust_principals = trust_principals;
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct DeleteRole;

impl Operation for DeleteRole {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Role.target(cx, state, name))
    }

    async fn run(&self, cx: &Cx<'_>, name: &String, mut state: IamState) -> Result<Reply, IamError> {
        let role = find(&state, name)?;
        if !role.inline_policies.is_empty() {
            return Err(conflict("must delete policies first"));
        }
        if !role.attached_policies.is_empty() {
            return Err(conflict("must detach all policies first"));
        }
        let canonical = role.name.clone();
        state.roles.retain(|r| r.name != canonical);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}
