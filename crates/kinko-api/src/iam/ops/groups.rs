//! CreateGroup, GetGroup, UpdateGroup, DeleteGroup, AddUserToGroup, RemoveUserFromGroup,
//! ListGroupsForUser (ListGroups is in `listing`).
//!
//! Membership is kept on the user (`User::groups`, group names as stored).

use kinko_core::iam::{self, Group, IamState, User};
use kinko_wire::query::Params;

use super::{Entity, Renaming, by_name, delete_conflict, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, Detail, members};
use crate::iam::{Found, Iam, Target, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

const GROUP_NAME: usize = 128;

fn read_group(r: &mut Reader<'_>) -> String {
    r.req_name("GroupName", GROUP_NAME)
}

/// What an action on the named group is authorized on.
async fn resolve_group(cx: &Cx<'_>, name: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(Group::target(cx, state, name))).await
}

pub(crate) struct CreateGroup;

pub(crate) struct CreateGroupInput {
    name: String,
    path: String,
}

impl FromRequest<Iam> for CreateGroupInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let path = r.path("Path");
        let name = read_group(&mut r);
        r.finish()?;
        Ok(CreateGroupInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
        })
    }
}

impl Operation for CreateGroup {
    type Service = Iam;
    const NAME: &'static str = "CreateGroup";
    type Input = CreateGroupInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateGroupInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(
                cx,
                iam::entity_arn(cx.account(), "group", &i.path, &i.name),
            ))
        })
        .await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a CreateGroupInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &CreateGroupInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        if state.group(&i.name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {} already exists.",
                i.name
            )));
        }
        if state.groups.len() >= quota::GROUPS {
            return Err(IamError::quota("GroupsPerAccount", quota::GROUPS));
        }
        let group = Group {
            name: i.name.clone(),
            path: i.path.clone(),
            group_id: output::unique_id("AGPA"),
            arn: iam::entity_arn(cx.account(), "group", &i.path, &i.name),
            create_date: cx.now(),
            inline_policies: vec![],
            attached_policies: vec![],
        };
        let mut x = cx.xml::<Iam>();
        output::group(&mut x, &group);
        state.groups.push(group);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct GetGroup;

pub(crate) struct GetGroupInput {
    name: String,
    page: Page,
}

impl FromRequest<Iam> for GetGroupInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_group(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(GetGroupInput { name, page })
    }
}

impl Operation for GetGroup {
    type Service = Iam;
    const NAME: &'static str = "GetGroup";
    type Input = GetGroupInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &GetGroupInput) -> Result<Found, IamError> {
        resolve_group(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a GetGroupInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &GetGroupInput, found: Found) -> Result<QueryReply, IamError> {
        let state = &found.state;
        let group = Group::get(state, &i.name)?;
        let mut users: Vec<&User> = state.group_members(&group.name).collect();
        by_name(&mut users, |u| &u.name);
        let (page, next) = i.page.apply(users)?;
        let mut x = cx.xml::<Iam>();
        output::group(&mut x, group);
        members(&mut x, "Users", page, |x, u| {
            output::user_fields(x, u, Detail::Listed)
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct UpdateGroup;

pub(crate) struct UpdateGroupInput {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

impl FromRequest<Iam> for UpdateGroupInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_group(&mut r);
        let new_path = r.path("NewPath");
        let new_name = r.name("NewGroupName", GROUP_NAME);
        r.finish()?;
        Ok(UpdateGroupInput {
            name,
            new_name,
            new_path,
        })
    }
}

impl Operation for UpdateGroup {
    type Service = Iam;
    const NAME: &'static str = "UpdateGroup";
    type Input = UpdateGroupInput;
    type Output = QueryReply;
    type Resolved = Renaming;

    async fn resolve(cx: &Cx<'_>, i: &UpdateGroupInput) -> Result<Renaming, IamError> {
        Renaming::read::<Group>(cx, &i.name, i.new_name.as_deref(), i.new_path.as_deref()).await
    }

    /// The group, and the group under its new name or path.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateGroupInput,
        r: &'a Renaming,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(r.authorization(cx))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateGroupInput, r: Renaming) -> Result<QueryReply, IamError> {
        let mut state = r.found.state;
        let old = Group::get(&state, &i.name)?;
        let old_name = old.name.clone();
        let new_name = i.new_name.clone().unwrap_or_else(|| old.name.clone());
        let new_path = i.new_path.clone().unwrap_or_else(|| old.path.clone());
        if let Some(other) = state.group(&new_name)
            && !other.name.eq_ignore_ascii_case(&old_name)
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {new_name} already exists."
            )));
        }
        let group = Group::get_mut(&mut state, &old_name)?;
        group.name = new_name.clone();
        group.path = new_path.clone();
        group.arn = iam::entity_arn(cx.account(), "group", &new_path, &new_name);
        for user in &mut state.users {
            for g in &mut user.groups {
                if g.eq_ignore_ascii_case(&old_name) {
                    g.clone_from(&new_name);
                }
            }
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteGroup;

pub(crate) struct GroupInput {
    name: String,
}

impl FromRequest<Iam> for GroupInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = read_group(&mut r);
        r.finish()?;
        Ok(GroupInput { name })
    }
}

impl Operation for DeleteGroup {
    type Service = Iam;
    const NAME: &'static str = "DeleteGroup";
    type Input = GroupInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &GroupInput) -> Result<Found, IamError> {
        resolve_group(cx, &i.name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a GroupInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &GroupInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let group = Group::get(&state, &i.name)?;
        if state.group_members(&group.name).next().is_some() {
            return Err(delete_conflict("must remove users from group first"));
        }
        if !group.inline_policies.is_empty() {
            return Err(delete_conflict("must delete policies first"));
        }
        if !group.attached_policies.is_empty() {
            return Err(delete_conflict("must detach all policies first"));
        }
        let canonical = group.name.clone();
        state.groups.retain(|g| g.name != canonical);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// A group and a user, for AddUserToGroup and RemoveUserFromGroup.
pub(crate) struct Membership {
    group: String,
    user: String,
}

impl FromRequest<Iam> for Membership {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let group = read_group(&mut r);
        let user = r.req_name("UserName", 128);
        r.finish()?;
        Ok(Membership { group, user })
    }
}

/// Both entities must exist; returns their names as stored.
fn members_of(state: &IamState, m: &Membership) -> Result<(String, String), IamError> {
    let group = Group::get(state, &m.group)?;
    let user = User::get(state, &m.user)?;
    Ok((group.name.clone(), user.name.clone()))
}

/// AddUserToGroup: AWS authorizes membership changes on the group.
pub(crate) struct AddUserToGroup;

impl Operation for AddUserToGroup {
    type Service = Iam;
    const NAME: &'static str = "AddUserToGroup";
    type Input = Membership;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, m: &Membership) -> Result<Found, IamError> {
        resolve_group(cx, &m.group).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a Membership,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, m: &Membership, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let (group, user) = members_of(&state, m)?;
        let user = User::get_mut(&mut state, &user)?;
        if user.groups.iter().any(|g| g.eq_ignore_ascii_case(&group)) {
            return Ok(QueryReply::Empty);
        }
        if user.groups.len() >= quota::GROUPS_PER_USER {
            return Err(IamError::quota("GroupsPerUser", quota::GROUPS_PER_USER));
        }
        user.groups.push(group);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// RemoveUserFromGroup: authorized on the group.
pub(crate) struct RemoveUserFromGroup;

impl Operation for RemoveUserFromGroup {
    type Service = Iam;
    const NAME: &'static str = "RemoveUserFromGroup";
    type Input = Membership;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, m: &Membership) -> Result<Found, IamError> {
        resolve_group(cx, &m.group).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a Membership,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, m: &Membership, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let (group, user_name) = members_of(&state, m)?;
        let user = User::get_mut(&mut state, &user_name)?;
        let before = user.groups.len();
        user.groups.retain(|g| !g.eq_ignore_ascii_case(&group));
        if user.groups.len() == before {
            return Err(IamError::NoSuchEntity(format!(
                "User {user_name} is not in group {group}."
            )));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// ListGroupsForUser: authorized on the user.
pub(crate) struct ListGroupsForUser;

pub(crate) struct ListGroupsForUserInput {
    name: String,
    page: Page,
}

impl FromRequest<Iam> for ListGroupsForUserInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("UserName", 128);
        let page = r.page();
        r.finish()?;
        Ok(ListGroupsForUserInput { name, page })
    }
}

impl Operation for ListGroupsForUser {
    type Service = Iam;
    const NAME: &'static str = "ListGroupsForUser";
    type Input = ListGroupsForUserInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListGroupsForUserInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(User::target(cx, state, &i.name))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListGroupsForUserInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListGroupsForUserInput, found: Found) -> Result<QueryReply, IamError> {
        let state = &found.state;
        let user = User::get(state, &i.name)?;
        let mut groups: Vec<&Group> = user.groups.iter().filter_map(|g| state.group(g)).collect();
        by_name(&mut groups, |g| &g.name);
        let (page, next) = i.page.apply(groups)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "Groups", page, output::group_fields);
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}
