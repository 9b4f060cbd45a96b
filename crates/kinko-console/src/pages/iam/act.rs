//! IAM's smaller actions, each one operation with the form's fields as its parameters: detach a
//! policy, remove a user from a group, set or remove a permissions boundary, add or remove a
//! tag, policy versions, the account alias. Forms post `op` and the operation's own parameter
//! names to `/console/iam/act`; a removal is first a link to the same URL (GET), whose page asks
//! for confirmation and posts the same fields.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{iam, page, policy_url, role_url, syntax_error, user_url};
use crate::pages::{layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, Lang};

/// Where an action's page is.
#[derive(Clone, Copy)]
enum Back {
    User,
    Role,
    Groups,
    Policy,
    Account,
}

/// One action: the form's `op`, the IAM action, the fields passed on (IAM parameter names), the
/// question asked first (a text key) for a removal, and the page to go back to.
struct Act {
    op: &'static str,
    action: &'static str,
    params: &'static [&'static str],
    confirm: Option<&'static str>,
    back: Back,
}

const fn act(
    op: &'static str,
    action: &'static str,
    params: &'static [&'static str],
    confirm: Option<&'static str>,
    back: Back,
) -> Act {
    Act {
        op,
        action,
        params,
        confirm,
        back,
    }
}

const USER_POLICY: &[&str] = &["UserName", "PolicyArn"];
const ROLE_POLICY: &[&str] = &["RoleName", "PolicyArn"];
const GROUP_USER: &[&str] = &["GroupName", "UserName"];
const VERSION: &[&str] = &["PolicyArn", "VersionId"];
const TAG: [&str; 2] = ["Tags.member.1.Key", "Tags.member.1.Value"];

const ACTS: &[Act] = &[
    act(
        "detach_user_policy",
        "DetachUserPolicy",
        USER_POLICY,
        Some("confirm_detach"),
        Back::User,
    ),
    act(
        "remove_from_group",
        "RemoveUserFromGroup",
        GROUP_USER,
        Some("confirm_remove_from_group"),
        Back::User,
    ),
    act(
        "put_user_boundary",
        "PutUserPermissionsBoundary",
        &["UserName", "PermissionsBoundary"],
        None,
        Back::User,
    ),
    act(
        "delete_user_boundary",
        "DeleteUserPermissionsBoundary",
        &["UserName"],
        Some("confirm_remove_boundary"),
        Back::User,
    ),
    act(
        "tag_user",
        "TagUser",
        &["UserName", TAG[0], TAG[1]],
        None,
        Back::User,
    ),
    act(
        "untag_user",
        "UntagUser",
        &["UserName", "TagKeys.member.1"],
        Some("confirm_remove_tag"),
        Back::User,
    ),
    act(
        "attach_role_policy",
        "AttachRolePolicy",
        ROLE_POLICY,
        None,
        Back::Role,
    ),
    act(
        "detach_role_policy",
        "DetachRolePolicy",
        ROLE_POLICY,
        Some("confirm_detach"),
        Back::Role,
    ),
    act(
        "put_role_boundary",
        "PutRolePermissionsBoundary",
        &["RoleName", "PermissionsBoundary"],
        None,
        Back::Role,
    ),
    act(
        "delete_role_boundary",
        "DeleteRolePermissionsBoundary",
        &["RoleName"],
        Some("confirm_remove_boundary"),
        Back::Role,
    ),
    act(
        "tag_role",
        "TagRole",
        &["RoleName", TAG[0], TAG[1]],
        None,
        Back::Role,
    ),
    act(
        "untag_role",
        "UntagRole",
        &["RoleName", "TagKeys.member.1"],
        Some("confirm_remove_tag"),
        Back::Role,
    ),
    act(
        "remove_group_user",
        "RemoveUserFromGroup",
        GROUP_USER,
        Some("confirm_remove_from_group"),
        Back::Groups,
    ),
    act(
        "detach_group_policy",
        "DetachGroupPolicy",
        &["GroupName", "PolicyArn"],
        Some("confirm_detach"),
        Back::Groups,
    ),
    act(
        "create_policy_version",
        "CreatePolicyVersion",
        &["PolicyArn", "PolicyDocument", "SetAsDefault"],
        None,
        Back::Policy,
    ),
    act(
        "set_default_version",
        "SetDefaultPolicyVersion",
        VERSION,
        None,
        Back::Policy,
    ),
    act(
        "delete_policy_version",
        "DeletePolicyVersion",
        VERSION,
        Some("confirm_delete_version"),
        Back::Policy,
    ),
    act(
        "create_account_alias",
        "CreateAccountAlias",
        &["AccountAlias"],
        None,
        Back::Account,
    ),
    act(
        "delete_account_alias",
        "DeleteAccountAlias",
        &["AccountAlias"],
        Some("confirm_delete_alias"),
        Back::Account,
    ),
];

fn find(op: &str) -> Option<&'static Act> {
    ACTS.iter().find(|a| a.op == op)
}

/// Whether `op` is one of the actions.
#[cfg(test)]
pub(super) fn is_op(op: &str) -> bool {
    find(op).is_some()
}

/// The page an action comes from and goes back to.
fn back(a: &Act, field: impl Fn(&str) -> String) -> String {
    match a.back {
        Back::User => user_url(&field("UserName")),
        Back::Role => role_url(&field("RoleName")),
        Back::Groups => "/console/iam/groups".to_owned(),
        Back::Policy => policy_url(&field("PolicyArn")),
        Back::Account => "/console/iam/password-policy".to_owned(),
    }
}

/// A link to the confirmation page of removal `op` with `fields` (its text: `label`, read out
/// as `label` and what it removes).
pub(crate) fn confirm_link(lang: Lang, op: &str, fields: &[(&str, &str)], what: &str) -> Markup {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("op", op);
    for (k, v) in fields {
        q.append_pair(k, v);
    }
    let label = lang.t(
        if op.starts_with("delete_") && op != "delete_user_boundary" && op != "delete_role_boundary" {
            "delete"
        } else {
            "remove"
        },
    );
    html! {
        a.button.small.danger href={ "/console/iam/act?" (q.finish()) } aria-label={ (label) ": " (what) } { (label) }
    }
}

/// A confirmation page: `question`, what it is about, and the form that does it (posting
/// `fields` to `action`), or going back to `cancel`.
#[allow(clippy::too_many_arguments, reason = "the page's parts")]
pub(crate) fn confirm_page(
    ctx: &Ctx,
    who: &SignedIn,
    question: &str,
    about: Markup,
    action: &str,
    fields: &[(&str, &str)],
    cancel: &str,
    extra: Markup,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let p = page(ctx, who, &csrf, question, cancel, None);
    let content = html! {
        h1 { (question) }
        form.card.danger.confirm method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            (about)
            (extra)
            div.buttons {
                a.button href=(cancel) { (t("cancel")) }
                button.danger type="submit" { (t("confirm")) }
            }
        }
    };
    respond(StatusCode::OK, layout(&p, content))
}

/// The fields of the request, as the action takes them.
fn fields<'a>(a: &Act, get: impl Fn(&str) -> Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    a.params.iter().filter_map(|k| get(k).map(|v| (*k, v))).collect()
}

/// The confirmation page of a removal.
pub(super) async fn confirm(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let _ = &console;
    let (_, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(a) = get("op").and_then(find) else {
        return Redirect::to("/console/iam/users").into_response();
    };
    let fields = fields(a, get);
    let to = back(a, |k| get(k).unwrap_or_default().to_owned());
    let Some(question) = a.confirm else {
        return Redirect::to(&to).into_response();
    };
    let mut posted = vec![("op", a.op)];
    posted.extend(fields.iter().copied());
    let about = html! {
        p { code { "iam:" (a.action) } }
        dl.props { @for (k, v) in &fields { dt { (k) } dd { code { (v) } } } }
    };
    confirm_page(
        &ctx,
        who,
        ctx.lang.t(question),
        about,
        "/console/iam/act",
        &posted,
        &to,
        html! {},
    )
}

/// Does an action, then back to its page with its outcome.
pub(super) async fn submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(a) = form.get("op").and_then(find) else {
        return Redirect::to("/console/iam/users").into_response();
    };
    let params = fields(a, |k| form.get(k));
    let to = back(a, |k| form.get(k).unwrap_or_default().to_owned());
    // A new policy version refused (a JSON syntax error, named by line and column before IAM
    // sees the document, or IAM's own refusal) is shown again in the editor as typed.
    if let Some(typed) = form.get("PolicyDocument") {
        let arn = form.get("PolicyArn").unwrap_or_default();
        let refused = match syntax_error(typed) {
            Some(e) => Some(e),
            None => iam(&console, &ctx, who, a.action, &params)
                .await
                .err()
                .map(|e| format!("{}: {}", e.code, e.message)),
        };
        return match refused {
            Some(e) => {
                super::details::policy_page(&console, &ctx, who, arn, Some((true, e)), Some(typed)).await
            }
            None => console.redirect_with(id, (false, ctx.lang.t("done").to_owned()), &to),
        };
    }
    let result = iam(&console, &ctx, who, a.action, &params).await;
    console.redirect_with(id, crate::outcome(ctx.lang, &result), &to)
}

/// The account alias (a name for the account ID in sign-in): shown, created, deleted.
pub(super) async fn account_alias(console: &Console, ctx: &Ctx, who: &SignedIn, csrf: &str) -> Markup {
    let t = |k| ctx.lang.t(k);
    let listed = iam(console, ctx, who, "ListAccountAliases", &[]).await;
    html! {
        section.card #account-alias {
            h2 { (t("account_alias")) }
            @match &listed {
                Err(e) => (crate::pages::error_box(e)),
                Ok(xml) => {
                    @let aliases = super::strings(xml, "AccountAliases");
                    @if aliases.is_empty() {
                        p.empty { (t("none")) }
                        form method="post" action="/console/iam/act" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="op" value="create_account_alias";
                            label for="account_alias" { (t("account_alias")) }
                            input #account_alias type="text" name="AccountAlias" required minlength="3" maxlength="63";
                            div.buttons { button.primary type="submit" { (t("create_alias")) } }
                        }
                    }
                    @for alias in &aliases {
                        p { code #account-alias-name { (alias) } " " (confirm_link(ctx.lang, "delete_account_alias", &[("AccountAlias", alias)], alias)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_op_is_one_action_and_each_question_has_its_texts() {
        let mut ops = std::collections::BTreeSet::new();
        for a in ACTS {
            assert!(ops.insert(a.op), "{} twice", a.op);
            if let Some(q) = a.confirm {
                assert_ne!(Lang::En.t(q), "?");
                assert_ne!(Lang::Ja.t(q), "?");
            }
        }
    }
}
