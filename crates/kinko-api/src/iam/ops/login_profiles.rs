//! CreateLoginProfile, GetLoginProfile, UpdateLoginProfile, DeleteLoginProfile and ChangePassword:
//! the console passwords of IAM users.
//!
//! A password is hashed (Argon2id, `kinko_crypto::password`, bounded by `passwords`), after the
//! request is authorized, and only its hash is kept; audit records show that one was given, never
//! what it is (`Password`, `OldPassword`, `NewPassword` are hidden in the `Iam` CloudTrail shape).
//! A new password must satisfy the account password policy (or AWS's default policy when none is
//! set); PasswordReusePrevention counts the current password and those before it.

use kinko_core::iam::{IamState, User};
use kinko_core::login::{self, LoginProfile, PasswordHash};
use kinko_core::principal::PrincipalKind;
use kinko_wire::query::Params;
use zeroize::Zeroizing;

use super::Entity;
use crate::iam::error::IamError;
use crate::iam::input::Reader;
use crate::iam::output::{self, XmlExt};
use crate::iam::{Found, Iam, passwords, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// Operations on existing users accept names up to 128 characters.
const USER_NAME: usize = 128;

/// The hash of a new password.
async fn hash(password: &str) -> Result<PasswordHash, IamError> {
    passwords::hash(password)
        .await
        .map_err(|e| IamError::Internal(e.to_string()))
}

/// Whether `password` is one of `hashes`.
async fn matches_any(password: &str, hashes: Vec<PasswordHash>) -> Result<bool, IamError> {
    let hashes = hashes.into_iter().map(|h| h.0).collect();
    passwords::matches_any(password, hashes)
        .await
        .map_err(|e| IamError::Internal(e.to_string()))
}

/// The account password policy's verdict on a new password.
fn check_policy(state: &IamState, password: &str) -> Result<(), IamError> {
    match login::violation(state.password_policy.as_ref(), password) {
        Some(message) => Err(IamError::PasswordPolicyViolation(message)),
        None => Ok(()),
    }
}

/// PasswordReusePrevention: the new password may not be the current one or one of the `n - 1`
/// before it. AWS documents no message for it; this one follows the policy's other messages.
async fn check_reuse(state: &IamState, profile: &LoginProfile, password: &str) -> Result<(), IamError> {
    let Some(n) = state
        .password_policy
        .as_ref()
        .and_then(|p| p.password_reuse_prevention)
    else {
        return Ok(());
    };
    let recent: Vec<PasswordHash> = profile.recent_hashes(n as usize).cloned().collect();
    if matches_any(password, recent).await? {
        return Err(IamError::PasswordPolicyViolation(format!(
            "Password should not be one of the previous {n} passwords"
        )));
    }
    Ok(())
}

fn login_profile_xml(cx: &Cx<'_>, user: &User, profile: &LoginProfile) -> QueryReply {
    let mut x = cx.xml::<Iam>();
    x.open("LoginProfile")
        .elem("UserName", &user.name)
        .elem("CreateDate", &output::ts(profile.create_date))
        .bool("PasswordResetRequired", profile.password_reset_required)
        .close("LoginProfile");
    QueryReply::Result(x)
}

/// The named user's ARN (with its tags), whether or not it exists.
async fn read_user(cx: &Cx<'_>, name: &str) -> Result<Found, IamError> {
    Found::read(cx, |state| Ok(User::target(cx, state, name))).await
}

pub(crate) struct CreateLoginProfile;

/// Passwords are wiped from memory once the request is done with them.
pub(crate) struct CreateLoginProfileInput {
    user_name: String,
    password: Zeroizing<String>,
    reset_required: bool,
}

impl FromRequest<Iam> for CreateLoginProfileInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        let password = r.password("Password", true);
        let reset_required = r.bool("PasswordResetRequired");
        r.finish()?;
        Ok(CreateLoginProfileInput {
            user_name,
            password: Zeroizing::new(password.unwrap_or_default()),
            reset_required: reset_required.unwrap_or(false),
        })
    }
}

impl Operation for CreateLoginProfile {
    type Service = Iam;
    const NAME: &'static str = "CreateLoginProfile";
    type Input = CreateLoginProfileInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateLoginProfileInput) -> Result<Found, IamError> {
        read_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a CreateLoginProfileInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &CreateLoginProfileInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let user = User::get(&state, &i.user_name)?;
        if user.login_profile.is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "Login Profile for user {} already exists.",
                user.name
            )));
        }
        check_policy(&state, &i.password)?;
        let profile = LoginProfile::new(hash(&i.password).await?, i.reset_required, cx.now());
        let user = User::get_mut(&mut state, &i.user_name)?;
        user.login_profile = Some(profile.clone());
        let reply = login_profile_xml(cx, user, &profile);
        save(cx, state).await?;
        Ok(reply)
    }
}

pub(crate) struct GetLoginProfile;

pub(crate) struct UserNameInput {
    user_name: String,
}

impl FromRequest<Iam> for UserNameInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        r.finish()?;
        Ok(UserNameInput { user_name })
    }
}

impl Operation for GetLoginProfile {
    type Service = Iam;
    const NAME: &'static str = "GetLoginProfile";
    type Input = UserNameInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UserNameInput) -> Result<Found, IamError> {
        read_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UserNameInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UserNameInput, found: Found) -> Result<QueryReply, IamError> {
        let user = User::get(&found.state, &i.user_name)?;
        let profile = user
            .login_profile
            .as_ref()
            .ok_or_else(|| IamError::login_profile_not_found(&user.name))?;
        Ok(login_profile_xml(cx, user, profile))
    }
}

pub(crate) struct UpdateLoginProfile;

pub(crate) struct UpdateLoginProfileInput {
    user_name: String,
    password: Option<Zeroizing<String>>,
    reset_required: Option<bool>,
}

impl FromRequest<Iam> for UpdateLoginProfileInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.req_name("UserName", USER_NAME);
        let password = r.password("Password", false);
        let reset_required = r.bool("PasswordResetRequired");
        r.finish()?;
        Ok(UpdateLoginProfileInput {
            user_name,
            password: password.map(Zeroizing::new),
            reset_required,
        })
    }
}

impl Operation for UpdateLoginProfile {
    type Service = Iam;
    const NAME: &'static str = "UpdateLoginProfile";
    type Input = UpdateLoginProfileInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UpdateLoginProfileInput) -> Result<Found, IamError> {
        read_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UpdateLoginProfileInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateLoginProfileInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let user = User::get(&state, &i.user_name)?;
        let mut profile = user
            .login_profile
            .clone()
            .ok_or_else(|| IamError::login_profile_not_found(&user.name))?;
        if let Some(password) = &i.password {
            // An administrator's new password obeys the policy too, PasswordReusePrevention
            // included: AWS says the policy applies to every IAM user password, and names no
            // exception for UpdateLoginProfile.
            check_policy(&state, password)?;
            check_reuse(&state, &profile, password).await?;
            profile.set_password(hash(password).await?, cx.now());
        }
        if let Some(required) = i.reset_required {
            profile.password_reset_required = required;
        }
        User::get_mut(&mut state, &i.user_name)?.login_profile = Some(profile);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct DeleteLoginProfile;

impl Operation for DeleteLoginProfile {
    type Service = Iam;
    const NAME: &'static str = "DeleteLoginProfile";
    type Input = UserNameInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &UserNameInput) -> Result<Found, IamError> {
        read_user(cx, &i.user_name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a UserNameInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &UserNameInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let user = User::get_mut(&mut state, &i.user_name)?;
        if user.login_profile.take().is_none() {
            return Err(IamError::login_profile_not_found(&user.name));
        }
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}

/// ChangePassword: an IAM user changes their own password. It is authorized on the caller's user
/// like any action; the account password policy's `AllowUsersToChangePassword` grants it to every
/// user on themselves (see `authz`), as IAM does.
pub(crate) struct ChangePassword;

pub(crate) struct ChangePasswordInput {
    old_password: Zeroizing<String>,
    new_password: Zeroizing<String>,
}

impl FromRequest<Iam> for ChangePasswordInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let old_password = r.password("OldPassword", true);
        let new_password = r.password("NewPassword", true);
        r.finish()?;
        Ok(ChangePasswordInput {
            old_password: Zeroizing::new(old_password.unwrap_or_default()),
            new_password: Zeroizing::new(new_password.unwrap_or_default()),
        })
    }
}

/// The calling IAM user's name; other callers (root, role sessions) can't change a password this
/// way: IAM answers them InvalidUserType (the IAM API Reference's ChangePassword errors; the AWS
/// CLI's example says root credentials get it). AWS documents no message; this one says why.
fn caller_user(cx: &Cx<'_>) -> Result<String, IamError> {
    match &cx.rc.principal.kind {
        PrincipalKind::User { name, .. } => Ok(name.clone()),
        PrincipalKind::Root
        | PrincipalKind::AssumedRole { .. }
        | PrincipalKind::FederatedUser { .. }
        | PrincipalKind::Anonymous => Err(IamError::InvalidUserType(
            "Only IAM users can change their own password.".into(),
        )),
    }
}

impl Operation for ChangePassword {
    type Service = Iam;
    const NAME: &'static str = "ChangePassword";
    type Input = ChangePasswordInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &ChangePasswordInput) -> Result<Found, IamError> {
        let name = caller_user(cx)?;
        read_user(cx, &name).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ChangePasswordInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ChangePasswordInput, found: Found) -> Result<QueryReply, IamError> {
        let name = caller_user(cx)?;
        let mut state = found.state;
        let user = User::get(&state, &name)?;
        let mut profile = user
            .login_profile
            .clone()
            .ok_or_else(|| IamError::login_profile_not_found(&user.name))?;
        // A wrong old password: AWS's documented errors name none for it, and its answer is not
        // documented; an AccessDenied is what an SDK user expects of a failed credential check.
        if !matches_any(&i.old_password, vec![profile.password_hash.clone()]).await? {
            return Err(IamError::AccessDenied(
                "The old password you specified is incorrect.".into(),
            ));
        }
        check_policy(&state, &i.new_password)?;
        check_reuse(&state, &profile, &i.new_password).await?;
        profile.set_password(hash(&i.new_password).await?, cx.now());
        profile.password_reset_required = false;
        User::get_mut(&mut state, &name)?.login_profile = Some(profile);
        save(cx, state).await?;
        Ok(QueryReply::Empty)
    }
}
