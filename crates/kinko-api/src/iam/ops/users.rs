//! CreateUser, GetUser, UpdateUser, DeleteUser (ListUsers is in `listing`).

use kinko_core::iam::{self, User};
use kinko_core::mfa::Holder;
use kinko_core::principal::{AccessKeyRecord, Principal, PrincipalKind};
use kinko_core::secret::Tag;
use kinko_wire::query::Params;

use super::{Entity, Renaming, attachable, delete_conflict, non_user_credentials, quota};
use crate::iam::error::IamError;
use crate::iam::input::{Reader, check_tags};
use crate::iam::output::{self, Detail};
use crate::iam::{Found, Iam, Target, request_tags, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

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

impl FromRequest<Iam> for CreateUserInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
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
}

impl Operation for CreateUser {
    type Service = Iam;
    const NAME: &'static str = "CreateUser";
    type Input = CreateUserInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateUserInput) -> Result<Found, IamError> {
        Found::read(cx, |_| {
            Ok(Target::new_arn(
                cx,
                iam::entity_arn(cx.account(), "user", &i.path, &i.name),
            ))
        })
        .await
    }

    /// The new user's ARN, with its tags and permissions boundary.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateUserInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found
                .check(cx)
                .request_tags(request_tags(&i.tags))
                .condition_opt("iam:PermissionsBoundary", i.boundary.as_deref()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &CreateUserInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
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
            login_profile: None,
            ssh_public_keys: Vec::new(),
            signing_certificates: Vec::new(),
        };
        let mut x = cx.xml::<Iam>();
        output::user(&mut x, &user, Detail::Full);
        state.users.push(user);
        save(cx, state).await?;
        Ok(QueryReply::Result(x))
    }
}

/// GetUser: the named user, or without a name the caller.
pub(crate) struct GetUser;

pub(crate) struct GetUserInput {
    name: Option<String>,
}

impl FromRequest<Iam> for GetUserInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.name("UserName", EXISTING_USER_NAME);
        r.finish()?;
        Ok(GetUserInput { name })
    }
}

impl Operation for GetUser {
    type Service = Iam;
    const NAME: &'static str = "GetUser";
    type Input = GetUserInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &GetUserInput) -> Result<Found, IamError> {
        Found::read(cx, |state| match (&i.name, &cx.rc.principal.kind) {
            (Some(name), _) | (None, PrincipalKind::User { name, .. }) => Ok(User::target(cx, state, name)),
            (None, PrincipalKind::Root) => Ok(Target::new_arn(cx, cx.rc.principal.arn.clone())),
            (
                None,
                PrincipalKind::AssumedRole { .. }
                | PrincipalKind::FederatedUser { .. }
                | PrincipalKind::Anonymous,
            ) => Err(non_user_credentials()),
        })
        .await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a GetUserInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &GetUserInput, found: Found) -> Result<QueryReply, IamError> {
        let name = match (&i.name, &cx.rc.principal.kind) {
            (Some(name), _) | (None, PrincipalKind::User { name, .. }) => name,
            (None, PrincipalKind::Root) => return root_user(cx).await,
            (
                None,
                PrincipalKind::AssumedRole { .. }
                | PrincipalKind::FederatedUser { .. }
                | PrincipalKind::Anonymous,
            ) => {
                return Err(non_user_credentials());
            }
        };
        let mut x = cx.xml::<Iam>();
        output::user(&mut x, User::get(&found.state, name)?, Detail::Full);
        Ok(QueryReply::Result(x))
    }
}

/// GetUser by the root user without a name: AWS describes the root user by its account id and ARN
/// (no name or path).
async fn root_user(cx: &Cx<'_>) -> Result<QueryReply, IamError> {
    let created = root_created(cx).await?;
    let mut x = cx.xml::<Iam>();
    output::root_user(&mut x, cx.account(), created);
    Ok(QueryReply::Result(x))
}

/// When the caller's account (and so its root user) was created.
pub(crate) async fn root_created(cx: &Cx<'_>) -> Result<kinko_core::Timestamp, IamError> {
    Ok(cx
        .services
        .store
        .account(cx.account())
        .await?
        .map(|a| a.created_date)
        .unwrap_or_else(|| cx.now()))
}

pub(crate) struct UpdateUser;

pub(crate) struct UpdateUserInput {
    name: String,
    new_name: Option<String>,
    new_path: Option<String>,
}

impl FromRequest<Iam> for UpdateUserInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
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
}

impl Operation for UpdateUser {
    type Service = Iam;
    const NAME: &'static str = "UpdateUser";
    type Input = UpdateUserInput;
    type Output = QueryReply;
    type Resolved = Renaming;

    async fn resolve(cx: &Cx<'_>, i: &UpdateUserInput) -> Result<Renaming, IamError> {
        Renaming::read::<User>(cx, &i.name, i.new_name.as_deref(), i.new_path.as_deref()).await
    }

    /// The user, and the user under its new name or path.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateUserInput,
        r: &'a Renaming,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(r.authorization(cx))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateUserInput, r: Renaming) -> Result<QueryReply, IamError> {
        let mut state = r.found.state;
        let old = User::get(&state, &i.name)?;
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
        let user = User::get_mut(&mut state, &old_name)?;
        user.name = new_name.clone();
        user.path = new_path.clone();
        user.arn = iam::entity_arn(cx.account(), "user", &new_path, &new_name);
        let (arn, user_id) = (user.arn.clone(), user.user_id.clone());
        save(cx, state).await?;
        if arn != old_arn {
            rekey_access_keys(cx, &old_name, &new_name, &arn, &user_id).await?;
        }
        Ok(QueryReply::Empty)
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

pub(crate) struct DeleteUserInput {
    name: String,
}

impl FromRequest<Iam> for DeleteUserInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("UserName", EXISTING_USER_NAME);
        r.finish()?;
        Ok(DeleteUserInput { name })
    }
}

impl Operation for DeleteUser {
    type Service = Iam;
    const NAME: &'static str = "DeleteUser";
    type Input = DeleteUserInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeleteUserInput) -> Result<Found, IamError> {
        Found::read(cx, |state| Ok(User::target(cx, state, &i.name))).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeleteUserInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DeleteUserInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let user = User::get(&state, &i.name)?;
        // The order AWS checks a user's dependents in (DeleteUser lists the password first).
        if user.login_profile.is_some() {
            return Err(delete_conflict("must delete login profile first"));
        }
        if !cx
            .services
            .store
            .list_access_keys(cx.account(), Some(&user.name))
            .await?
            .is_empty()
        {
            return Err(delete_conflict("must delete access keys first"));
        }
        if !user.signing_certificates.is_empty() {
            return Err(delete_conflict("must delete signing certificates first"));
        }
        let has_mfa = cx
            .services
            .store
            .list_mfa_devices(cx.account())
            .await?
            .iter()
            .any(|d| d.assigned_to(Holder::User(&user.name)));
        if has_mfa {
            return Err(delete_conflict("must delete MFA device first"));
        }
        if !user.ssh_public_keys.is_empty() {
            return Err(delete_conflict("must delete SSH public keys first"));
        }
        if !user.inline_policies.is_empty() {
            return Err(delete_conflict("must delete policies first"));
        }
        if !user.attached_policies.is_empty() {
            return Err(delete_conflict("must detach all policies first"));
        }
        if !user.groups.is_empty() {
            return Err(delete_conflict("must remove users from group first"));
        }
        let canonical = user.name.clone();
        state.users.retain(|u| u.name != canonical);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
