//! CreateRole, GetRole, UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy, DeleteRole
//! (ListRoles is in `listing`).
//!
//! The actions on an existing role take its permissions boundary as `iam:PermissionsBoundary`
//! (Service Authorization Reference); CreateRole takes the one it sets.

use kinko_core::iam::{self, Role};
use kinko_core::principal::BoundPrincipal;
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{Entity, attachable, delete_conflict, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Reader, check_tags};
use crate::iam::output::{self, Detail};
use crate::iam::policy_document::check_trust;
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

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

/// The role as IAM shows it: a user or role its trust policy named that no longer exists (deleted,
/// or re-created with a new unique id) appears as its unique id.
pub(crate) async fn shown(cx: &Cx<'_>, role: &Role) -> Result<Role, IamError> {
    let mut r = role.clone();
    r.assume_role_policy_document = crate::authz::shown_policy(
        cx.services,
        &role.assume_role_policy_document,
        &role.trust_principals,
    )
    .await?;
    Ok(r)
}

/// What an action on the named role is authorized on.
async fn resolve_role(cx: &Cx<'_>, name: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(Role::target(cx, state, name))).await
}

/// The role, with its permissions boundary as `iam:PermissionsBoundary`.
fn role_check<'a>(cx: &'a Cx<'_>, found: &'a Found) -> Authorization<'a> {
    Authorization::of(
        found
            .check(cx)
            .condition_opt("iam:PermissionsBoundary", found.target.boundary()),
    )
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

impl FromRequest<Iam> for CreateRoleInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
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
}

impl Operation for CreateRole {
    type Service = Iam;
    const NAME: &'static str = "CreateRole";
    type Input = CreateRoleInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateRoleInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(
                cx,
                iam::entity_arn(cx.account(), "role", &i.path, &i.name),
            ))
        })
        .await
    }

    /// The new role's ARN, with its tags and permissions boundary.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateRoleInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found
                .check(cx)
                .request_tags(request_tags(&i.tags))
                .condition_opt("iam:PermissionsBoundary", i.boundary.as_deref()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &CreateRoleInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
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
        let mut x = cx.xml::<Iam>();
        output::role(&mut x, &role, Detail::Full);
        state.roles.push(role);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

/// A role by name: the input of GetRole and DeleteRole.
pub(crate) struct RoleInput {
    name: String,
}

impl FromRequest<Iam> for RoleInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        r.finish()?;
        Ok(RoleInput { name })
    }
}

pub(crate) struct GetRole;

impl Operation for GetRole {
    type Service = Iam;
    const NAME: &'static str = "GetRole";
    type Input = RoleInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &RoleInput) -> Result<Found, IamError> {
        resolve_role(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a RoleInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(role_check(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &RoleInput, found: Found) -> Result<QueryReply, IamError> {
        let role = shown(cx, Role::get(&found.state, &i.name)?).await?;
        let mut x = cx.xml::<Iam>();
        output::role(&mut x, &role, Detail::Full);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateRole;

pub(crate) struct UpdateRoleInput {
    name: String,
    description: Option<String>,
    max_session: Option<i64>,
}

impl FromRequest<Iam> for UpdateRoleInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
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
}

impl Operation for UpdateRole {
    type Service = Iam;
    const NAME: &'static str = "UpdateRole";
    type Input = UpdateRoleInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateRoleInput) -> Result<Found, IamError> {
        resolve_role(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateRoleInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(role_check(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateRoleInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let role = Role::get_mut(&mut state, &i.name)?;
        if let Some(d) = &i.description {
            role.description = Some(d.clone());
        }
        if let Some(m) = i.max_session {
            role.max_session_duration = m;
        }
        save(cx, state).await?;
        // UpdateRole has an empty result element.
        Ok(QueryReply::Result(cx.xml::<Iam>()))
    }
}

pub(crate) struct UpdateRoleDescription;

pub(crate) struct UpdateDescriptionInput {
    name: String,
    description: String,
}

impl FromRequest<Iam> for UpdateDescriptionInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        let description = r.role_description("Description", true);
        r.finish()?;
        Ok(UpdateDescriptionInput {
            name,
            description: description.unwrap_or_default(),
        })
    }
}

impl Operation for UpdateRoleDescription {
    type Service = Iam;
    const NAME: &'static str = "UpdateRoleDescription";
    type Input = UpdateDescriptionInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateDescriptionInput) -> Result<Found, IamError> {
        resolve_role(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateDescriptionInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(role_check(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateDescriptionInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let role = Role::get_mut(&mut state, &i.name)?;
        role.description = Some(i.description.clone());
        let role = role.clone();
        save(cx, state).await?;
        let mut x = cx.xml::<Iam>();
        output::role(&mut x, &shown(cx, &role).await?, Detail::Full);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateAssumeRolePolicy;

pub(crate) struct UpdateTrustInput {
    name: String,
    document: String,
}

impl FromRequest<Iam> for UpdateTrustInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_role(&mut r);
        let document = r.document("PolicyDocument");
        r.finish()?;
        check_trust(&document)?;
        Ok(UpdateTrustInput { name, document })
    }
}

impl Operation for UpdateAssumeRolePolicy {
    type Service = Iam;
    const NAME: &'static str = "UpdateAssumeRolePolicy";
    type Input = UpdateTrustInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateTrustInput) -> Result<Found, IamError> {
        resolve_role(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateTrustInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(role_check(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateTrustInput, found: Found) -> Result<QueryReply, IamError> {
        let trust_principals = bind_trust(cx, &i.document).await?;
        let mut state = found.state;
        let role = Role::get_modifiable_mut(&mut state, &i.name)?;
        role.assume_role_policy_document.clone_from(&i.document);
        role.assume_role_policy_updated = Some(cx.now());
        role.trust_principals = trust_principals;
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteRole;

impl Operation for DeleteRole {
    type Service = Iam;
    const NAME: &'static str = "DeleteRole";
    type Input = RoleInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &RoleInput) -> Result<Found, IamError> {
        resolve_role(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a RoleInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(role_check(cx, found))
    }

    async fn run(cx: &Cx<'_>, i: &RoleInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let role = Role::get(&state, &i.name)?;
        if super::service_linked_roles::is_service_linked(role) {
            return Err(super::service_linked_roles::protected_role(&role.name));
        }
        if !role.inline_policies.is_empty() {
            return Err(delete_conflict("must delete policies first"));
        }
        if !role.attached_policies.is_empty() {
            return Err(delete_conflict("must detach all policies first"));
        }
        if state.instance_profiles_for_role(&role.name).next().is_some() {
            return Err(delete_conflict("must remove roles from instance profile first"));
        }
        let canonical = role.name.clone();
        state.roles.retain(|r| r.name != canonical);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
