//! CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup, AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser.
//!
//! Membership is kept on the user (`User::groups`, group names as stored).

use kinko_core::iam::{self, Group, IamState, User};
use kinko_wire::query::Params;

use super::users::{ListInput, conflict, decode_list};
use super::{Entity, by_name, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader};
use crate::iam::output::{self, Detail, members};
use crate::iam::{Cx, Operation, Reply, Target};

const GROUP_NAME: usize = 128;

fn read_group(r: &mut Reader<'_>) -> String {
    r.req_name("GroupName", GROUP_NAME)
}

pub(crate) struct CreateGroup;

pub(crate) struct CreateGroupInput {
    name: String,
    path: String,
}

impl Operation for CreateGroup {
    type Input = CreateGroupInput;

    fn decode(&self, p: &Params) -> Result<CreateGroupInput, IamError> {
        let mut r = Reader::new(p);
        let path = r.path("Path");
        let name = read_group(&mut r);
        r.finish()?;
        Ok(CreateGroupInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
        })
    }

    fn target(&self, cx: &Cx<'_>, i: &CreateGroupInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Arn {
            arn: iam::entity_arn(cx.account(), "group", &i.path, &i.name),
            account: cx.account().to_owned(),
            tags: vec![],
        })
    }

    async fn run(&self, cx: &Cx<'_>, i: &CreateGroupInput, mut state: IamState) -> Result<Reply, IamError> {
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
        let mut x = cx.xml();
        output::group(&mut x, &group);
        state.groups.push(group);
        cx.write(state).await?;
        Ok(Reply::Result(x))
    }
}

pub(crate) struct GetGroup;

pub(crate) struct GetGroupInput {
    name: String,
    page: Page,
}

impl Operation for GetGroup {
    type Input = GetGroupInput;

    fn decode(&self, p: &Params) -> Result<GetGroupInput, IamError> {
        let mut r = Reader::new(p);
        let name = read_group(&mut r);
        let page = r.page();
        r.finish()?;
        Ok(GetGroupInput { name, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &GetGroupInput, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Group.target(cx, state, &i.name))
    }

    async fn run(&self, cx: &Cx<'_>, i: &GetGroupInput, state: IamState) -> Result<Reply, IamError> {
        let group = state
            .group(&i.name)
            .ok_or_else(|| IamError::group_not_found(&i.name))?;
        let mut users: Vec<&User> = state.group_members(&group.name).collect();
        by_name(&mut users, |u| &u.name);
        let (page, next) = i.page.apply(users)?;
        let mut x = cx.xml();
        output::group(&mut x, group);
        members(&mut x, "Users", page, |x, u| {
            output::user_fields(x, u, Detail::Listed)
        });
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct ListGroups;

impl Operation for ListGroups {
    type Input = ListInput;

    fn decode(&self, p: &Params) -> Result<ListInput, IamError> {
        decode_list(p)
    }

    fn target(&self, _: &Cx<'_>, _: &ListInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Any)
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListInput, state: IamState) -> Result<Reply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let mut groups: Vec<&Group> = state
            .groups
            .iter()
            .filter(|g| g.path.starts_with(prefix))
            .collect();
        by_name(&mut groups, |g| &g.name);
        let (page, next) = i.page.apply(groups)?;
        let mut x = cx.xml();
        members(&mut x, "Groups", page, output::group_fields);
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct UpdateGroup;

pub(crate) struct UpdateGroupInput {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

impl Operation for UpdateGroup {
    type Input = UpdateGroupInput;

    fn decode(&self, p: &Params) -> Result<UpdateGroupInput, IamError> {
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

    fn target(&self, cx: &Cx<'_>, i: &UpdateGroupInput, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Group.target(cx, state, &i.name))
    }

    async fn run(&self, cx: &Cx<'_>, i: &UpdateGroupInput, mut state: IamState) -> Result<Reply, IamError> {
        let old = state
            .group(&i.name)
            .ok_or_else(|| IamError::group_not_found(&i.name))?;
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
        let account = cx.account().to_owned();
        let group = state
            .group_mut(&old_name)
            .ok_or_else(|| IamError::group_not_found(&i.name))?;
        group.name = new_name.clone();
        group.path = new_path.clone();
        group.arn = iam::entity_arn(&account, "group", &new_path, &new_name);
        for user in &mut state.users {
            for g in &mut user.groups {
                if g.eq_ignore_ascii_case(&old_name) {
                    g.clone_from(&new_name);
                }
            }
        }
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct DeleteGroup;

impl Operation for DeleteGroup {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        let mut r = Reader::new(p);
        let name = read_group(&mut r);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Group.target(cx, state, name))
    }

    async fn run(&self, cx: &Cx<'_>, name: &String, mut state: IamState) -> Result<Reply, IamError> {
        let group = state.group(name).ok_or_else(|| IamError::group_not_found(name))?;
        if state.group_members(&group.name).next().is_some() {
            return Err(conflict("must remove users from group first"));
        }
        if !group.inline_policies.is_empty() {
            return Err(conflict("must delete policies first"));
        }
        if !group.attached_policies.is_empty() {
            return Err(conflict("must detach all policies first"));
        }
        let canonical = group.name.clone();
        state.groups.retain(|g| g.name != canonical);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct Membership {
    group: String,
    user: String,
}

fn decode_membership(p: &Params) -> Result<Membership, IamError> {
    let mut r = Reader::new(p);
    let group = read_group(&mut r);
    let user = r.req_name("UserName", 128);
    r.finish()?;
    Ok(Membership { group, user })
}

/// Both entities must exist; returns their names as stored.
fn resolve(state: &IamState, m: &Membership) -> Result<(String, String), IamError> {
    let group = state
        .group(&m.group)
        .ok_or_else(|| IamError::group_not_found(&m.group))?;
    let user = state
        .user(&m.user)
        .ok_or_else(|| IamError::user_not_found(&m.user))?;
    Ok((group.name.clone(), user.name.clone()))
}

pub(crate) struct AddUserToGroup;

impl Operation for AddUserToGroup {
    type Input = Membership;

    fn decode(&self, p: &Params) -> Result<Membership, IamError> {
        decode_membership(p)
    }

    /// AWS authorizes membership changes on the group.
    fn target(&self, cx: &Cx<'_>, m: &Membership, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Group.target(cx, state, &m.group))
    }

    async fn run(&self, cx: &Cx<'_>, m: &Membership, mut state: IamState) -> Result<Reply, IamError> {
        let (group, user) = resolve(&state, m)?;
        let user = state
            .user_mut(&user)
            .ok_or_else(|| IamError::user_not_found(&m.user))?;
        if user.groups.iter().any(|g| g.eq_ignore_ascii_case(&group)) {
            return Ok(Reply::Empty);
        }
        if user.groups.len() >= quota::GROUPS_PER_USER {
            return Err(IamError::quota("GroupsPerUser", quota::GROUPS_PER_USER));
        }
        user.groups.push(group);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct RemoveUserFromGroup;

impl Operation for RemoveUserFromGroup {
    type Input = Membership;

    fn decode(&self, p: &Params) -> Result<Membership, IamError> {
        decode_membership(p)
    }

    fn target(&self, cx: &Cx<'_>, m: &Membership, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::Group.target(cx, state, &m.group))
    }

    async fn run(&self, cx: &Cx<'_>, m: &Membership, mut state: IamState) -> Result<Reply, IamError> {
        let (group, user_name) = resolve(&state, m)?;
        let user = state
            .user_mut(&user_name)
            .ok_or_else(|| IamError::user_not_found(&m.user))?;
        let before = user.groups.len();
        user.groups.retain(|g| !g.eq_ignore_ascii_case(&group));
        if user.groups.len() == before {
            return Err(IamError::NoSuchEntity(format!(
                "User {user_name} is not in group {group}."
            )));
        }
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

pub(crate) struct ListGroupsForUser;

pub(crate) struct ListGroupsForUserInput {
    name: String,
    page: Page,
}

impl Operation for ListGroupsForUser {
    type Input = ListGroupsForUserInput;

    fn decode(&self, p: &Params) -> Result<ListGroupsForUserInput, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("UserName", 128);
        let page = r.page();
        r.finish()?;
        Ok(ListGroupsForUserInput { name, page })
    }

    fn target(&self, cx: &Cx<'_>, i: &ListGroupsForUserInput, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::User.target(cx, state, &i.name))
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListGroupsForUserInput, state: IamState) -> Result<Reply, IamError> {
        let user = state
            .user(&i.name)
            .ok_or_else(|| IamError::user_not_found(&i.name))?;
        let mut groups: Vec<&Group> = user.groups.iter().filter_map(|g| state.group(g)).collect();
        by_name(&mut groups, |g| &g.name);
        let (page, next) = i.page.apply(groups)?;
        let mut x = cx.xml();
        members(&mut x, "Groups", page, output::group_fields);
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}
