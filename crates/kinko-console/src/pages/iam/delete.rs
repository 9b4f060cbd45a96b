//! Deleting a user, role, group or policy as the AWS console does: what the API would refuse
//! the deletion for (DeleteConflict) is removed first, each as its own operation run as the
//! signed-in principal, stopping at the first refusal with its message. The confirmation page
//! lists every step; deleting a user asks for the signed-in identity's password again, as
//! deleting an access key does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use kinko_wire::WireError;
use maud::html;

use super::{iam, members, policy_url, reauthenticate, role_url, strings, user_url};
use crate::session::SignedIn;
use crate::{Console, Ctx};

/// What is deleted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Role,
    Group,
    Policy,
}

impl Kind {
    fn of(kind: &str) -> Option<Kind> {
        match kind {
            "user" => Some(Kind::User),
            "role" => Some(Kind::Role),
            "group" => Some(Kind::Group),
            "policy" => Some(Kind::Policy),
            _ => None,
        }
    }

    /// Its details page (where a refusal is shown) and its list (after the deletion).
    fn pages(self, name: &str) -> (String, &'static str) {
        match self {
            Kind::User => (user_url(name), "/console/iam/users"),
            Kind::Role => (role_url(name), "/console/iam/roles"),
            Kind::Group => ("/console/iam/groups".to_owned(), "/console/iam/groups"),
            Kind::Policy => (policy_url(name), "/console/iam/policies"),
        }
    }

    /// The text keys of its confirmation question and of its "deleted" message.
    fn texts(self) -> (&'static str, &'static str) {
        match self {
            Kind::User => ("delete_user", "user_deleted"),
            Kind::Role => ("delete_role", "role_deleted"),
            Kind::Group => ("delete_group", "group_deleted"),
            Kind::Policy => ("delete_policy", "policy_deleted"),
        }
    }
}

/// One operation of a deletion.
struct Step {
    action: &'static str,
    params: Vec<(&'static str, String)>,
}

fn step(action: &'static str, params: &[(&'static str, &str)]) -> Step {
    Step {
        action,
        params: params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    }
}

/// The operations that delete `name` of `kind` and what depends on it, in the order the AWS
/// console takes them, read (as the signed-in principal) from the entity as it is now.
async fn plan(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    kind: Kind,
    name: &str,
) -> Result<Vec<Step>, WireError> {
    let list = |action: &'static str, param: &'static str| async move {
        iam(console, ctx, who, action, &[(param, name), ("MaxItems", "1000")]).await
    };
    let mut steps = Vec::new();
    match kind {
        Kind::User => {
            let u = ("UserName", name);
            for k in members(&list("ListAccessKeys", "UserName").await?, "AccessKeyMetadata") {
                steps.push(step(
                    "DeleteAccessKey",
                    &[u, ("AccessKeyId", k["AccessKeyId"].as_str())],
                ));
            }
            match iam(console, ctx, who, "GetLoginProfile", &[u]).await {
                Ok(_) => steps.push(step("DeleteLoginProfile", &[u])),
                Err(e) if e.code == "NoSuchEntity" => {}
                Err(e) => return Err(e),
            }
            // MFA devices: deactivated, and deleted (a virtual device has no other use once its
            // user is gone), as IAM's guide to deleting a user lists them.
            for d in members(&list("ListMFADevices", "UserName").await?, "MFADevices") {
                let serial = d["SerialNumber"].as_str();
                steps.push(step("DeactivateMFADevice", &[u, ("SerialNumber", serial)]));
                steps.push(step("DeleteVirtualMFADevice", &[("SerialNumber", serial)]));
            }
            for p in strings(&list("ListUserPolicies", "UserName").await?, "PolicyNames") {
                steps.push(step("DeleteUserPolicy", &[u, ("PolicyName", p.as_str())]));
            }
            for p in members(
                &list("ListAttachedUserPolicies", "UserName").await?,
                "AttachedPolicies",
            ) {
                steps.push(step(
                    "DetachUserPolicy",
                    &[u, ("PolicyArn", p["PolicyArn"].as_str())],
                ));
            }
            for g in members(&list("ListGroupsForUser", "UserName").await?, "Groups") {
                steps.push(step(
                    "RemoveUserFromGroup",
                    &[u, ("GroupName", g["GroupName"].as_str())],
                ));
            }
            steps.push(step("DeleteUser", &[u]));
        }
        Kind::Role => {
            let r = ("RoleName", name);
            for p in members(
                &list("ListInstanceProfilesForRole", "RoleName").await?,
                "InstanceProfiles",
            ) {
                steps.push(step(
                    "RemoveRoleFromInstanceProfile",
                    &[("InstanceProfileName", p["InstanceProfileName"].as_str()), r],
                ));
            }
            for p in strings(&list("ListRolePolicies", "RoleName").await?, "PolicyNames") {
                steps.push(step("DeleteRolePolicy", &[r, ("PolicyName", p.as_str())]));
            }
            for p in members(
                &list("ListAttachedRolePolicies", "RoleName").await?,
                "AttachedPolicies",
            ) {
                steps.push(step(
                    "DetachRolePolicy",
                    &[r, ("PolicyArn", p["PolicyArn"].as_str())],
                ));
            }
            steps.push(step("DeleteRole", &[r]));
        }
        Kind::Group => {
            let g = ("GroupName", name);
            for u in members(&list("GetGroup", "GroupName").await?, "Users") {
                steps.push(step(
                    "RemoveUserFromGroup",
                    &[g, ("UserName", u["UserName"].as_str())],
                ));
            }
            for p in strings(&list("ListGroupPolicies", "GroupName").await?, "PolicyNames") {
                steps.push(step("DeleteGroupPolicy", &[g, ("PolicyName", p.as_str())]));
            }
            for p in members(
                &list("ListAttachedGroupPolicies", "GroupName").await?,
                "AttachedPolicies",
            ) {
                steps.push(step(
                    "DetachGroupPolicy",
                    &[g, ("PolicyArn", p["PolicyArn"].as_str())],
                ));
            }
            steps.push(step("DeleteGroup", &[g]));
        }
        Kind::Policy => {
            // The console detaches the policy from every user, group and role, and deletes its
            // versions but the default one; a policy used as a permissions boundary stays
            // refused (DeletePolicy's DeleteConflict), as IAM has it.
            let p = ("PolicyArn", name);
            let entities = list("ListEntitiesForPolicy", "PolicyArn").await?;
            for u in members(&entities, "PolicyUsers") {
                steps.push(step(
                    "DetachUserPolicy",
                    &[("UserName", u["UserName"].as_str()), p],
                ));
            }
            for g in members(&entities, "PolicyGroups") {
                steps.push(step(
                    "DetachGroupPolicy",
                    &[("GroupName", g["GroupName"].as_str()), p],
                ));
            }
            for r in members(&entities, "PolicyRoles") {
                steps.push(step(
                    "DetachRolePolicy",
                    &[("RoleName", r["RoleName"].as_str()), p],
                ));
            }
            for v in members(&list("ListPolicyVersions", "PolicyArn").await?, "Versions") {
                if v.get("IsDefaultVersion").map(String::as_str) != Some("true") {
                    steps.push(step(
                        "DeletePolicyVersion",
                        &[p, ("VersionId", v["VersionId"].as_str())],
                    ));
                }
            }
            steps.push(step("DeletePolicy", &[p]));
        }
    }
    Ok(steps)
}

#[derive(serde::Deserialize)]
pub(super) struct DeleteQuery {
    kind: String,
    name: String,
}

/// The confirmation page: every operation the deletion takes.
pub(super) async fn confirm(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<DeleteQuery>,
) -> Response {
    let (id, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(kind) = Kind::of(&q.kind) else {
        return Redirect::to("/console/iam/users").into_response();
    };
    let t = |k| ctx.lang.t(k);
    let (details, _) = kind.pages(&q.name);
    let steps = match plan(&console, &ctx, who, kind, &q.name).await {
        Ok(steps) => steps,
        Err(e) => return console.redirect_with(id, crate::outcome::<()>(ctx.lang, &Err(e)), &details),
    };
    let about = html! {
        p { code.name { (q.name) } }
        p { (t("delete_steps")) }
        ol.steps {
            @for s in &steps {
                li { code { "iam:" (s.action) } @for (_, v) in &s.params { " " code { (v) } } }
            }
        }
    };
    let extra = if kind == Kind::User {
        html! {
            label for="confirm_password" { (t("confirm_with_password")) }
            input #confirm_password type="password" name="confirm_password" required autocomplete="current-password";
            p.hint { (t("delete_user_password_help")) }
        }
    } else {
        html! {}
    };
    let action = format!(
        "/console/iam/delete?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", &q.kind)
            .append_pair("name", &q.name)
            .finish()
    );
    super::act::confirm_page(&ctx, who, t(kind.texts().0), about, &action, &[], &details, extra)
}

/// The deletion: its operations in order, stopping at the first refusal.
pub(super) async fn submit(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<DeleteQuery>,
    body: Bytes,
) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(kind) = Kind::of(&q.kind) else {
        return Redirect::to("/console/iam/users").into_response();
    };
    let (details, list) = kind.pages(&q.name);
    let failed = |e: WireError| crate::outcome::<()>(ctx.lang, &Err(e));
    if kind == Kind::User
        && !reauthenticate(&console, who, form.get("confirm_password").unwrap_or_default()).await
    {
        return console.redirect_with(id, (true, ctx.lang.t("reauth_failed").to_owned()), &details);
    }
    let steps = match plan(&console, &ctx, who, kind, &q.name).await {
        Ok(steps) => steps,
        Err(e) => return console.redirect_with(id, failed(e), &details),
    };
    for s in &steps {
        let params: Vec<(&str, &str)> = s.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Err(e) = iam(&console, &ctx, who, s.action, &params).await {
            return console.redirect_with(id, failed(e), &details);
        }
    }
    let done = ctx.lang.t(kind.texts().1).to_owned();
    console.redirect_with(id, (false, done), list)
}
