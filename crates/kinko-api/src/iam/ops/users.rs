//! CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser.

use kinko_core::iam::{self, IamState, User};
use kinko_core::principal::{AccessKeyRecord, Principal, PrincipalKind};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{Entity, attachable, by_name, non_user_credentials, quota, tag_pairs};
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output::{self, Detail, members};
use crate::iam::{Cx, Operation, Reply, Target};

/// User names are at most 64 characters; operations on existing users accept up to 128.
const NEW_USER_NAME: usize = 64;
const EXISTING_USER_NAME: usize = 128;

pub(crate) struct CreateUser;

pub(crate) struct CreateUserInput {
    name: String,
    path: String,
    boundary: Option<String>,
    tags: Vec<Tag>,
}

impl Operation for CreateUser {
    type Input = CreateUserInput;

    fn decode(&self, p: &Params) -> Result<CreateUserInput, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("UserName", NEW_USER_NAME);
        let path = r.path("Path");
        let boundary = r.arn("PermissionsBoundary");
        let tags = r.tags("Tags", false);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(CreateUserInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
            boundary,
            tags,
        })
    }

    fn target(&self, cx: &Cx<'_>, i: &CreateUserInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Arn {
            arn: iam::entity_arn(cx.account(), "user", &i.path, &i.name),
            account: cx.account().to_owned(),
            tags: vec![],
        })
    }

    fn request_tags(&self, i: &CreateUserInput) -> Vec<(String, String)> {
        tag_pairs(&i.tags)
    }

    async fn run(&self, cx: &Cx<'_>, i: &CreateUserInput, mut state: IamState) -> Result<Reply, IamError> {
        if state.user(&i.name).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {} already exists.",
                i.name
            )));
        }
        if state.users.len() >= quota::USERS {
            return Err(IamError::quota("UsersPerAccount", quota::USERS));
        }
        let boundary = i
            .boundary
            .as_deref()
            .map(|b| attachable(&state, b, IamError::boundary_not_attachable))
            .transpose()?;
        let user = User {
            name: i.name.clone(),
            path: i.path.clone(),
            user_id: output::unique_id("AIDA"),
            arn: iam::entity_arn(cx.account(), "user", &i.path, &i.name),
            create_date: cx.now(),
            tags: i.tags.clone(),
            inline_policies: vec![],
            attached_policies: vec![],
            permissions_boundary: boundary,
            groups: vec![],
        };
        let mut x = cx.xml();
        output::user(&mut x, &user, Detail::Full);
        state.users.push(user);
        cx.write(state).await?;
        Ok(Reply::Result(x))
    }
}

pub(crate) struct GetUser;

impl Operation for GetUser {
    type Input = Option<String>;

    fn decode(&self, p: &Params) -> Result<Option<String>, IamError> {
        let mut r = Reader::new(p);
        let name = r.name("UserName", EXISTING_USER_NAME);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &Option<String>, state: &IamState) -> Result<Target, IamError> {
        match (name, &cx.rc.principal.kind) {
            (Some(name), _) | (None, PrincipalKind::User { name, .. }) => {
                Ok(Entity::User.target(cx, state, name))
            }
            (None, PrincipalKind::Root) => Ok(Target::Arn {
                arn: cx.rc.principal.arn.clone(),
                account: cx.account().to_owned(),
                tags: vec![],
            }),
            (None, PrincipalKind::AssumedRole { .. }) => Err(non_user_credentials()),
        }
    }

    async fn run(&self, cx: &Cx<'_>, name: &Option<String>, state: IamState) -> Result<Reply, IamError> {
        let name = match (name, &cx.rc.principal.kind) {
            (Some(name), _) | (None, PrincipalKind::User { name, .. }) => name,
            (None, PrincipalKind::Root) => return root_user(cx).await,
            (None, PrincipalKind::AssumedRole { .. }) => return Err(non_user_credentials()),
        };
        let user = state.user(name).ok_or_else(|| IamError::user_not_found(name))?;
        let mut x = cx.xml();
        output::user(&mut x, user, Detail::Full);
        Ok(Reply::Result(x))
    }
}

/// GetUser by the root user without a name: AWS describes the root user by its account id and ARN
/// (no name or path).
async fn root_user(cx: &Cx<'_>) -> Result<Reply, IamError> {
    let created = cx
        .services
        .store
        .account(cx.account())
        .await?
        .map(|a| a.created_date)
        .unwrap_or_else(|| cx.now());
    let mut x = cx.xml();
    x.open("User")
        .elem("UserId", cx.account())
        .elem("Arn", &cx.rc.principal.arn)
        .elem("CreateDate", &output::ts(created))
        .close("User");
    Ok(Reply::Result(x))
}

pub(crate) struct ListUsers;

pub(crate) struct ListInput {
    pub prefix: Option<String>,
    pub page: Page,
}

/// `PathPrefix`, `Marker`, `MaxItems`: the input of ListUsers, ListGroups and ListRoles.
pub(crate) fn decode_list(p: &Params) -> Result<ListInput, IamError> {
    let mut r = Reader::new(p);
    let prefix = r.path_prefix();
    let page = r.page();
    r.finish()?;
    Ok(ListInput { prefix, page })
}

impl Operation for ListUsers {
    type Input = ListInput;

    fn decode(&self, p: &Params) -> Result<ListInput, IamError> {
        decode_list(p)
    }

    fn target(&self, _: &Cx<'_>, _: &ListInput, _: &IamState) -> Result<Target, IamError> {
        Ok(Target::Any)
    }

    async fn run(&self, cx: &Cx<'_>, i: &ListInput, state: IamState) -> Result<Reply, IamError> {
        let prefix = i.prefix.as_deref().unwrap_or("/");
        let mut users: Vec<&User> = state
            .users
            .iter()
            .filter(|u| u.path.starts_with(prefix))
            .collect();
        by_name(&mut users, |u| &u.name);
        let (page, next) = i.page.apply(users)?;
        let mut x = cx.xml();
        members(&mut x, "Users", page, |x, u| {
            output::user_fields(x, u, Detail::Listed)
        });
        output::truncation(&mut x, next.as_deref());
        Ok(Reply::Result(x))
    }
}

pub(crate) struct UpdateUser;

pub(crate) struct UpdateUserInput {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

impl Operation for UpdateUser {
    type Input = UpdateUserInput;

    fn decode(&self, p: &Params) -> Result<UpdateUserInput, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("UserName", EXISTING_USER_NAME);
        let new_path = r.path("NewPath");
        let new_name = r.name("NewUserName", NEW_USER_NAME);
        r.finish()?;
        Ok(UpdateUserInput {
            name,
            new_name,
            new_path,
        })
    }

    fn target(&self, cx: &Cx<'_>, i: &UpdateUserInput, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::User.target(cx, state, &i.name))
    }

    async fn run(&self, cx: &Cx<'_>, i: &UpdateUserInput, mut state: IamState) -> Result<Reply, IamError> {
        let old = state
            .user(&i.name)
            .ok_or_else(|| IamError::user_not_found(&i.name))?;
        let old_name = old.name.clone();
        let old_arn = old.arn.clone();
        let new_name = i.new_name.clone().unwrap_or_else(|| old.name.clone());
        let new_path = i.new_path.clone().unwrap_or_else(|| old.path.clone());
        if let Some(other) = state.user(&new_name)
            && !other.name.eq_ignore_ascii_case(&old_name)
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {new_name} already exists."
            )));
        }
        let account = cx.account().to_owned();
        let user = state
            .user_mut(&old_name)
            .ok_or_else(|| IamError::user_not_found(&i.name))?;
        user.name = new_name.clone();
        user.path = new_path.clone();
        user.arn = iam::entity_arn(&account, "user", &new_path, &new_name);
        let (arn, user_id) = (user.arn.clone(), user.user_id.clone());
        cx.write(state).await?;
        if arn != old_arn {
            rekey_access_keys(cx, &old_name, &new_name, &arn, &user_id).await?;
        }
        Ok(Reply::Empty)
    }
}

/// Access keys name their user: after a rename or a new path they must resolve to the new name
/// and ARN. The store keys them by user name, so each is written again under the new principal.
async fn rekey_access_keys(
    cx: &Cx<'_>,
    old_name: &str,
    new_name: &str,
    arn: &str,
    user_id: &str,
) -> Result<(), IamError> {
    let store = &cx.services.store;
    for key in store.list_access_keys(cx.account(), Some(old_name)).await? {
        let moved = AccessKeyRecord {
            principal: Principal {
                account_id: cx.account().to_owned(),
                arn: arn.to_owned(),
                kind: PrincipalKind::User {
                    name: new_name.to_owned(),
                    user_id: user_id.to_owned(),
                },
            },
            ..key.clone()
        };
        store.delete_access_key(&key.access_key_id).await?;
        store.put_access_key(moved).await?;
    }
    Ok(())
}

pub(crate) struct DeleteUser;

impl Operation for DeleteUser {
    type Input = String;

    fn decode(&self, p: &Params) -> Result<String, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("UserName", EXISTING_USER_NAME);
        r.finish()?;
        Ok(name)
    }

    fn target(&self, cx: &Cx<'_>, name: &String, state: &IamState) -> Result<Target, IamError> {
        Ok(Entity::User.target(cx, state, name))
    }

    async fn run(&self, cx: &Cx<'_>, name: &String, mut state: IamState) -> Result<Reply, IamError> {
        let user = state.user(name).ok_or_else(|| IamError::user_not_found(name))?;
        // The order AWS checks a user's dependents in.
        if !cx
            .services
            .store
            .list_access_keys(cx.account(), Some(&user.name))
            .await?
            .is_empty()
        {
            return Err(conflict("must delete access keys first"));
        }
        if !user.inline_policies.is_empty() {
            return Err(conflict("must delete policies first"));
        }
        if !user.attached_policies.is_empty() {
            return Err(conflict("must detach all policies first"));
        }
        if !user.groups.is_empty() {
            return Err(conflict("must remove users from group first"));
        }
        let canonical = user.name.clone();
        state.users.retain(|u| u.name != canonical);
        cx.write(state).await?;
        Ok(Reply::Empty)
    }
}

/// `Cannot delete entity, <what>.`
pub(crate) fn conflict(what: &str) -> IamError {
    IamError::DeleteConflict(format!("Cannot delete entity, {what}."))
}
