//! CreateInstanceProfile, GetInstanceProfile, DeleteInstanceProfile, AddRoleToInstanceProfile,
//! RemoveRoleFromInstanceProfile, ListInstanceProfiles, ListInstanceProfilesForRole (tags are in
//! `tags`).
//!
//! An instance profile holds at most one role (IAM's `InstanceSessionsPerInstanceProfile` quota);
//! it is what kinko's instance metadata endpoint serves credentials of. Adding a role to one is a
//! way of passing the role, so AddRoleToInstanceProfile also needs `iam:PassRole` on the role (IAM
//! API Reference, AddRoleToInstanceProfile: "The caller of this operation must be granted the
//! PassRole permission on the IAM role by a permissions policy"). A profile that still has a role
//! can't be deleted, nor can a role that is in a profile (DeleteRole).

use kinko_core::iam::{self, IamState, InstanceProfile, Role};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{Entity, by_name, path_target, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output::{self, Detail, members};
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// Roles per instance profile.
const ROLES_PER_PROFILE: usize = 1;
const PROFILE_NAME: usize = 128;
const ROLE_NAME: usize = 64;

/// The resource type of instance profiles in ARNs.
pub(crate) const LABEL: &str = "instance-profile";

fn read_profile(r: &mut Reader<'_>) -> String {
    r.req_name("InstanceProfileName", PROFILE_NAME)
}

/// The instance profile as the request names it, or IAM's not-found error.
pub(crate) fn get<'s>(state: &'s IamState, name: &str) -> Result<&'s InstanceProfile, IamError> {
    state
        .instance_profile(name)
        .ok_or_else(|| IamError::instance_profile_not_found(name))
}

fn get_mut<'s>(state: &'s mut IamState, name: &str) -> Result<&'s mut InstanceProfile, IamError> {
    state
        .instance_profile_mut(name)
        .ok_or_else(|| IamError::instance_profile_not_found(name))
}

/// What an action on the named instance profile is authorized on: its ARN (with its path) and
/// tags if it exists, otherwise the ARN it would have at `/`.
pub(crate) fn target(cx: &Cx<'_>, state: &IamState, name: &str) -> Target {
    match state.instance_profile(name) {
        Some(p) => Target::Arn {
            arn: p.arn.clone(),
            account: cx.account().to_owned(),
            tags: p.tags.clone(),
            boundary: None,
        },
        None => Target::new_arn(cx, iam::entity_arn(cx.account(), LABEL, "/", name)),
    }
}

pub(crate) struct CreateInstanceProfile;

pub(crate) struct CreateInput {
    name: String,
    path: String,
    tags: Vec<Tag>,
}

impl FromRequest<Iam> for CreateInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_profile(&mut r);
        let path = r.path("Path");
        let tags = r.tags("Tags", false);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(CreateInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
            tags,
        })
    }
}

impl Operation for CreateInstanceProfile {
    type Service = Iam;
    const NAME: &'static str = "CreateInstanceProfile";
    type Input = CreateInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(
                cx,
                iam::entity_arn(cx.account(), LABEL, &i.path, &i.name),
            ))
        })
        .await
    }

    /// The new profile's ARN, with the tags it is created with.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found.check(cx).request_tags(request_tags(&i.tags)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &CreateInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if state.instance_profile(&i.name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Instance Profile {} already exists.",
                i.name
            )));
        }
        if state.instance_profiles.len() >= quota::INSTANCE_PROFILES {
            return Err(IamError::quota(
                "InstanceProfilesPerAccount",
                quota::INSTANCE_PROFILES,
            ));
        }
        let profile = InstanceProfile {
            name: i.name.clone(),
            path: i.path.clone(),
            instance_profile_id: output::unique_id("AIPA"),
            arn: iam::entity_arn(cx.account(), LABEL, &i.path, &i.name),
            create_date: cx.now(),
            roles: vec![],
            tags: i.tags.clone(),
        };
        let mut x = cx.xml::<Iam>();
        output::instance_profile(&mut x, &profile, &state, Detail::Full);
        state.instance_profiles.push(profile);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

/// An instance profile by name: the input of GetInstanceProfile and DeleteInstanceProfile.
pub(crate) struct ProfileInput {
    name: String,
}

impl FromRequest<Iam> for ProfileInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_profile(&mut r);
        r.finish()?;
        Ok(ProfileInput { name })
    }
}

async fn resolve_profile(cx: &Cx<'_>, name: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(target(cx, state, name))).await
}

pub(crate) struct GetInstanceProfile;

impl Operation for GetInstanceProfile {
    type Service = Iam;
    const NAME: &'static str = "GetInstanceProfile";
    type Input = ProfileInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ProfileInput) -> Result<Found, IamError> {
        resolve_profile(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ProfileInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ProfileInput, found: Found) -> Result<QueryReply, IamError> {
        let profile = get(&found.state, &i.name)?;
        let mut x = cx.xml::<Iam>();
        output::instance_profile(&mut x, profile, &found.state, Detail::Full);
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct DeleteInstanceProfile;

impl Operation for DeleteInstanceProfile {
    type Service = Iam;
    const NAME: &'static str = "DeleteInstanceProfile";
    type Input = ProfileInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ProfileInput) -> Result<Found, IamError> {
        resolve_profile(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ProfileInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ProfileInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let profile = get(&state, &i.name)?;
        if !profile.roles.is_empty() {
            return Err(super::delete_conflict(
                "must remove roles from instance profile first",
            ));
        }
        let canonical = profile.name.clone();
        state.instance_profiles.retain(|p| p.name != canonical);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// An instance profile and a role: the input of AddRoleToInstanceProfile and
/// RemoveRoleFromInstanceProfile.
pub(crate) struct ProfileRoleInput {
    name: String,
    role: String,
}

impl FromRequest<Iam> for ProfileRoleInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_profile(&mut r);
        let role = r.req_name("RoleName", ROLE_NAME);
        r.finish()?;
        Ok(ProfileRoleInput { name, role })
    }
}

/// What AddRoleToInstanceProfile and RemoveRoleFromInstanceProfile resolve: the state, the
/// profile, and the role.
pub(crate) struct ProfileAndRole {
    found: Found,
    role: Target,
}

async fn resolve_profile_and_role(cx: &Cx<'_>, i: &ProfileRoleInput) -> Result<ProfileAndRole, IamError> {
    let found = resolve_profile(cx, &i.name).await?;
    let role = Role::target(cx, &found.state, &i.role);
    Ok(ProfileAndRole { found, role })
}

pub(crate) struct AddRoleToInstanceProfile;

impl Operation for AddRoleToInstanceProfile {
    type Service = Iam;
    const NAME: &'static str = "AddRoleToInstanceProfile";
    type Input = ProfileRoleInput;
    type Output = QueryReply;
    type Resolved = ProfileAndRole;

    async fn resolve(cx: &Cx<'_>, i: &ProfileRoleInput) -> Result<ProfileAndRole, IamError> {
        resolve_profile_and_role(cx, i).await
    }

    /// The instance profile, and `iam:PassRole` on the role it is given.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ProfileRoleInput,
        r: &'a ProfileAndRole,
    ) -> Result<Authorization<'a>, IamError> {
        let mut pass = r.role.check(cx);
        pass.action = "iam:PassRole";
        Ok(Authorization::of(r.found.check(cx)).and(pass))
    }

    async fn run(cx: &Cx<'_>, i: &ProfileRoleInput, r: ProfileAndRole) -> Result<QueryReply, IamError> {
        let mut state = r.found.state;
        get(&state, &i.name)?;
        let role = Role::get(&state, &i.role)?.name.clone();
        let profile = get_mut(&mut state, &i.name)?;
        // The same role again counts against the quota too, as in IAM.
        if profile.roles.len() >= ROLES_PER_PROFILE {
            return Err(IamError::quota(
                "InstanceSessionsPerInstanceProfile",
                ROLES_PER_PROFILE,
            ));
        }
        profile.roles.push(role);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct RemoveRoleFromInstanceProfile;

impl Operation for RemoveRoleFromInstanceProfile {
    type Service = Iam;
    const NAME: &'static str = "RemoveRoleFromInstanceProfile";
    type Input = ProfileRoleInput;
    type Output = QueryReply;
    type Resolved = ProfileAndRole;

    async fn resolve(cx: &Cx<'_>, i: &ProfileRoleInput) -> Result<ProfileAndRole, IamError> {
        resolve_profile_and_role(cx, i).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ProfileRoleInput,
        r: &'a ProfileAndRole,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(r.found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ProfileRoleInput, r: ProfileAndRole) -> Result<QueryReply, IamError> {
        let mut state = r.found.state;
        get(&state, &i.name)?;
        Role::get(&state, &i.role)?;
        let profile = get_mut(&mut state, &i.name)?;
        let before = profile.roles.len();
        profile.roles.retain(|role| !role.eq_ignore_ascii_case(&i.role));
        if profile.roles.len() == before {
            return Err(IamError::role_not_found(&i.role));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// `PathPrefix`, `Marker`, `MaxItems`.
pub(crate) struct ListInput {
    prefix: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let prefix = r.path_prefix();
        let page = r.page();
        r.finish()?;
        Ok(ListInput { prefix, page })
    }
}

/// `InstanceProfiles` and the truncation of one page of `profiles`, sorted by name.
fn list_page(
    cx: &Cx<'_>,
    state: &IamState,
    mut profiles: Vec<&InstanceProfile>,
    page: &Page,
) -> Result<QueryReply, IamError> {
    by_name(&mut profiles, |p| &p.name);
    let (page, next) = page.apply(profiles)?;
    let mut x = cx.xml::<Iam>();
    members(&mut x, "InstanceProfiles", page, |x, p| {
        output::instance_profile_fields(x, p, state, Detail::Listed);
    });
    output::truncation(&mut x, next.as_deref());
    Ok(QueryReply::Result(x))
}

pub(crate) struct ListInstanceProfiles;

impl Operation for ListInstanceProfiles {
    type Service = Iam;
    const NAME: &'static str = "ListInstanceProfiles";
    type Input = ListInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// Authorized on the path prefix, as the other List actions without a resource type.
    async fn resolve(cx: &Cx<'_>, i: &ListInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(path_target(cx, LABEL, i.prefix.as_deref()))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListInput, found: Found) -> Result<QueryReply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let profiles = found
            .state
            .instance_profiles
            .iter()
            .filter(|p| p.path.starts_with(prefix))
            .collect();
        list_page(cx, &found.state, profiles, &i.page)
    }
}

pub(crate) struct ListInstanceProfilesForRole;

/// `RoleName`, `Marker`, `MaxItems`.
pub(crate) struct ForRoleInput {
    role: String,
    page: Page,
}

impl FromRequest<Iam> for ForRoleInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let role = r.req_name("RoleName", ROLE_NAME);
        let page = r.page();
        r.finish()?;
        Ok(ForRoleInput { role, page })
    }
}

impl Operation for ListInstanceProfilesForRole {
    type Service = Iam;
    const NAME: &'static str = "ListInstanceProfilesForRole";
    type Input = ForRoleInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// Authorized on the role (Service Authorization Reference).
    async fn resolve(cx: &Cx<'_>, i: &ForRoleInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(Role::target(cx, state, &i.role))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ForRoleInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ForRoleInput, found: Found) -> Result<QueryReply, IamError> {
        let role = Role::get(&found.state, &i.role)?;
        let profiles = found.state.instance_profiles_for_role(&role.name).collect();
        list_page(cx, &found.state, profiles, &i.page)
    }
}
