//! The details IAM's lists lead to, beyond what `iam.rs` shows: a user's groups, permissions
//! boundary and tags; a role's page (policies, boundary, tags); a policy's page (its versions,
//! a new version from the JSON editor, what it is attached to). Changes post to
//! `/console/iam/act` (see `act.rs`); deletions go through `delete.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kinko_wire::WireError;
use maud::{Markup, html};

use super::act::confirm_link;
use super::{NameQuery, attachable, iam, iam_nav, members, page, text};
use crate::pages::{error_box, layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, Lang};

/// A user or a role: the two entities with a permissions boundary and tags.
#[derive(Clone, Copy)]
enum Entity {
    User,
    Role,
}

impl Entity {
    fn param(self) -> &'static str {
        match self {
            Entity::User => "UserName",
            Entity::Role => "RoleName",
        }
    }

    /// Its actions' `op`s (see `act.rs`): `put_boundary`, `delete_boundary`, `tag` or `untag`.
    fn op(self, what: &str) -> &'static str {
        match (self, what) {
            (Entity::User, "put_boundary") => "put_user_boundary",
            (Entity::User, "delete_boundary") => "delete_user_boundary",
            (Entity::User, "tag") => "tag_user",
            (Entity::User, _) => "untag_user",
            (Entity::Role, "put_boundary") => "put_role_boundary",
            (Entity::Role, "delete_boundary") => "delete_role_boundary",
            (Entity::Role, "tag") => "tag_role",
            (Entity::Role, _) => "untag_role",
        }
    }
}

/// A link to delete `name` of `kind` (its confirmation page).
pub(super) fn delete_link(lang: Lang, kind: &str, name: &str, label: &str) -> Markup {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("kind", kind)
        .append_pair("name", name)
        .finish();
    html! { a.button.danger href={ "/console/iam/delete?" (q) } { (lang.t(label)) } }
}

/// A hidden field.
fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// The permissions boundary (set, changed or removed) and the tags of a user or role.
fn boundary_and_tags(
    lang: Lang,
    csrf: &str,
    entity: Entity,
    name: &str,
    boundary: Option<&str>,
    tags: &Result<String, WireError>,
    policies: &[BTreeMap<String, String>],
) -> Markup {
    let t = |k| lang.t(k);
    let param = entity.param();
    html! {
        section.card #boundary {
            h2 { (t("permissions_boundary")) }
            p.hint { (t("permissions_boundary_help")) }
            @if let Some(arn) = boundary {
                p { code #boundary-arn { (arn) } " " (confirm_link(lang, entity.op("delete_boundary"), &[(param, name)], arn)) }
            } @else {
                p.empty { (t("no_boundary")) }
            }
            form.inline method="post" action="/console/iam/act" {
                input type="hidden" name="csrf" value=(csrf);
                (hidden("op", entity.op("put_boundary")))
                (hidden(param, name))
                label for="boundary_policy" { (t("set_boundary")) }
                select #boundary_policy name="PermissionsBoundary" {
                    @for pol in policies { option value=(pol["Arn"]) selected[Some(pol["Arn"].as_str()) == boundary] { (pol["PolicyName"]) } }
                }
                " " button type="submit" { (t("set_boundary")) }
            }
        }
        section.card #tags {
            h2 { (t("tags")) }
            @match tags {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    @let list = members(xml, "Tags");
                    @if list.is_empty() { p.empty { (t("none")) } } @else {
                        table.list.tags {
                            thead { tr { th scope="col" { (t("key")) } th scope="col" { (t("value")) } th scope="col" { span.visually-hidden { (t("actions")) } } } }
                            tbody { @for tag in &list {
                                @let key = tag.get("Key").map_or("", String::as_str);
                                tr {
                                    td { (key) }
                                    td { (tag.get("Value").map_or("", String::as_str)) }
                                    td { (confirm_link(lang, entity.op("untag"), &[(param, name), ("TagKeys.member.1", key)], key)) }
                                }
                            } }
                        }
                    }
                }
            }
            form method="post" action="/console/iam/act" {
                input type="hidden" name="csrf" value=(csrf);
                (hidden("op", entity.op("tag")))
                (hidden(param, name))
                label for="tag_key" { (t("key")) }
                input #tag_key type="text" name="Tags.member.1.Key" required maxlength="128";
                label for="tag_value" { (t("value")) }
                input #tag_value type="text" name="Tags.member.1.Value" maxlength="256";
                div.buttons { button type="submit" { (t("add_tag_button")) } }
            }
        }
    }
}

/// What the user's page shows besides its policies and keys: its groups, permissions boundary,
/// tags, and the way to delete it.
pub(super) async fn user_sections(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    name: &str,
    csrf: &str,
    user: &Result<String, WireError>,
    policies: &[BTreeMap<String, String>],
) -> Markup {
    let t = |k| ctx.lang.t(k);
    // Independent reads, made at once (their audit records are committed together); the user
    // (GetUser) and the policies to attach are the page's own reads.
    let u = [("UserName", name)];
    let (groups, tags) = futures_util::join!(
        iam(console, ctx, who, "ListGroupsForUser", &u),
        iam(console, ctx, who, "ListUserTags", &u),
    );
    let boundary = user
        .as_ref()
        .ok()
        .and_then(|xml| text(xml, "PermissionsBoundaryArn"));
    html! {
        section.card #groups {
            h2 { (t("groups")) }
            @match &groups {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    @let list = members(xml, "Groups");
                    @if list.is_empty() { p.empty { (t("none")) } }
                    ul { @for g in &list {
                        li { (g["GroupName"]) " " (confirm_link(ctx.lang, "remove_from_group", &[("GroupName", g["GroupName"].as_str()), ("UserName", name)], &g["GroupName"])) }
                    } }
                }
            }
        }
        (boundary_and_tags(ctx.lang, csrf, Entity::User, name, boundary.as_deref(), &tags, policies))
        section.card.danger {
            h2 { (t("delete_user")) }
            p.hint { (t("delete_user_help")) }
            (delete_link(ctx.lang, "user", name, "delete_user"))
        }
    }
}

/// A role's page: its trust policy, policies (attach, detach), inline policies, permissions
/// boundary, tags, and the way to delete it.
pub(super) async fn role(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<NameQuery>,
) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let name = q.name.as_str();
    let r = [("RoleName", name)];
    // Independent reads, made at once (their audit records are committed together).
    let (role, attached, inline, tags, policies) = futures_util::join!(
        iam(&console, &ctx, who, "GetRole", &r),
        iam(&console, &ctx, who, "ListAttachedRolePolicies", &r),
        iam(&console, &ctx, who, "ListRolePolicies", &r),
        iam(&console, &ctx, who, "ListRoleTags", &r),
        attachable(&console, &ctx, who),
    );
    let csrf = &session.csrf;
    let back = super::role_url(name);
    let p = page(&ctx, who, csrf, name, &back, console.sessions.take_flash(id));
    let boundary = role
        .as_ref()
        .ok()
        .and_then(|xml| text(xml, "PermissionsBoundaryArn"));
    let content = html! {
        (iam_nav(ctx.lang))
        h1 { (name) }
        @match &role {
            Err(e) => (error_box(e)),
            Ok(xml) => {
                section.card {
                    dl.props {
                        dt { "ARN" } dd { code #role-arn { (text(xml, "Arn").unwrap_or_default()) } }
                        dt { (t("created")) } dd { (text(xml, "CreateDate").unwrap_or_default()) }
                    }
                    h2 { (t("trust_policy")) }
                    pre.code { (crate::pages::secrets::pretty(&decoded(&text(xml, "AssumeRolePolicyDocument").unwrap_or_default()))) }
                }
            }
        }
        section.card #policies {
            h2 { (t("attach_policies")) }
            @match &attached {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    ul { @for a in members(xml, "AttachedPolicies") {
                        li { (a["PolicyName"]) " " code { (a["PolicyArn"]) } " " (confirm_link(ctx.lang, "detach_role_policy", &[r[0], ("PolicyArn", a["PolicyArn"].as_str())], &a["PolicyName"])) }
                    } }
                }
            }
            @if let Ok(xml) = &inline {
                @let names = super::strings(xml, "PolicyNames");
                @if !names.is_empty() {
                    h3 { (t("inline_policies")) }
                    ul { @for n in &names { li { (n) } } }
                }
            }
            form.inline method="post" action="/console/iam/act" {
                input type="hidden" name="csrf" value=(csrf);
                (hidden("op", "attach_role_policy"))
                (hidden("RoleName", name))
                label for="attach" { (t("attach_policies")) }
                select #attach name="PolicyArn" {
                    @for pol in &policies { option value=(pol["Arn"]) { (pol["PolicyName"]) } }
                }
                " " button type="submit" { (t("attach")) }
            }
        }
        (boundary_and_tags(ctx.lang, csrf, Entity::Role, name, boundary.as_deref(), &tags, &policies))
        section.card.danger {
            h2 { (t("delete_role")) }
            p.hint { (t("delete_role_help")) }
            (delete_link(ctx.lang, "role", name, "delete_role"))
        }
    };
    respond(StatusCode::OK, layout(&p, content))
}

/// A policy document as IAM answers it (URL-encoded), as written.
fn decoded(document: &str) -> String {
    form_urlencoded::parse(document.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

#[derive(serde::Deserialize)]
pub(super) struct ArnQuery {
    arn: String,
}

/// A policy's page: its versions (set the default, delete one that is not), a new version from
/// the JSON editor, the entities it is attached to, and the way to delete it.
pub(super) async fn policy(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<ArnQuery>,
) -> Response {
    let (id, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = console.sessions.take_flash(id);
    policy_page(&console, &ctx, who, &q.arn, flash, None).await
}

/// A policy's page, with `flash`; the new version's editor holds `typed` (a document refused,
/// shown again as typed, with status 400) or else the default version.
pub(super) async fn policy_page(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    arn: &str,
    flash: Option<(bool, String)>,
    typed: Option<&str>,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let p_arn = ("PolicyArn", arn);
    let p = [p_arn];
    // Independent reads, made at once (their audit records are committed together).
    let (policy, versions, entities) = futures_util::join!(
        iam(console, ctx, who, "GetPolicy", &p),
        iam(console, ctx, who, "ListPolicyVersions", &p),
        iam(console, ctx, who, "ListEntitiesForPolicy", &p),
    );
    let default = policy.as_ref().ok().and_then(|xml| text(xml, "DefaultVersionId"));
    let document = match (typed, &default) {
        (Some(typed), _) => typed.to_owned(),
        (None, Some(v)) => iam(console, ctx, who, "GetPolicyVersion", &[p_arn, ("VersionId", v)])
            .await
            .ok()
            .and_then(|xml| text(&xml, "Document"))
            .map(|d| crate::pages::secrets::pretty(&decoded(&d)))
            .unwrap_or_default(),
        (None, None) => String::new(),
    };
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let csrf = csrf.as_str();
    let back = super::policy_url(arn);
    let name = policy
        .as_ref()
        .ok()
        .and_then(|xml| text(xml, "PolicyName"))
        .unwrap_or_else(|| arn.to_owned());
    let p = page(ctx, who, csrf, &name, &back, flash);
    let content = html! {
        (iam_nav(ctx.lang))
        h1 { (name) }
        @match &policy {
            Err(e) => (error_box(e)),
            Ok(xml) => {
                section.card {
                    dl.props {
                        dt { "ARN" } dd { code #policy-arn { (arn) } }
                        dt { (t("description")) } dd { (text(xml, "Description").unwrap_or_default()) }
                        dt { (t("default_version")) } dd #default-version { (default.clone().unwrap_or_default()) }
                        dt { (t("attachments")) } dd { (text(xml, "AttachmentCount").unwrap_or_default()) }
                    }
                }
            }
        }
        section.card #versions {
            h2 { (t("policy_versions")) }
            p.hint { (t("policy_versions_help")) }
            @match &versions {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    table.list.versions {
                        thead { tr { th scope="col" { (t("version_id")) } th scope="col" { (t("created")) } th scope="col" { (t("actions")) } } }
                        tbody { @for v in members(xml, "Versions") {
                            @let vid = v["VersionId"].as_str();
                            tr id={ "version-" (vid) } {
                                td { (vid) @if v.get("IsDefaultVersion").map(String::as_str) == Some("true") { " " span.badge { (t("default")) } } }
                                td { (v.get("CreateDate").map_or("", String::as_str)) }
                                td {
                                    @if v.get("IsDefaultVersion").map(String::as_str) != Some("true") {
                                        form.inline method="post" action="/console/iam/act" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            (hidden("op", "set_default_version"))
                                            (hidden("PolicyArn", arn))
                                            (hidden("VersionId", vid))
                                            button.small type="submit" aria-label={ (t("set_default")) ": " (vid) } { (t("set_default")) }
                                        }
                                        " " (confirm_link(ctx.lang, "delete_policy_version", &[p_arn, ("VersionId", vid)], vid))
                                    }
                                }
                            }
                        } }
                    }
                }
            }
            form method="post" action="/console/iam/act" {
                input type="hidden" name="csrf" value=(csrf);
                (hidden("op", "create_policy_version"))
                (hidden("PolicyArn", arn))
                label for="document" { (t("new_version")) " (JSON)" }
                textarea #document name="PolicyDocument" rows="14" spellcheck="false" { (document) }
                label { input #set_as_default type="checkbox" name="SetAsDefault" value="true" checked; " " (t("set_as_default")) }
                div.buttons { button.primary type="submit" { (t("create_version")) } }
            }
        }
        section.card #entities {
            h2 { (t("attached_entities")) }
            @match &entities {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    ul {
                        @for u in members(xml, "PolicyUsers") { li { (t("users")) ": " (u["UserName"]) } }
                        @for g in members(xml, "PolicyGroups") { li { (t("groups")) ": " (g["GroupName"]) } }
                        @for r in members(xml, "PolicyRoles") { li { (t("roles")) ": " (r["RoleName"]) } }
                    }
                }
            }
        }
        section.card.danger {
            h2 { (t("delete_policy")) }
            p.hint { (t("delete_policy_help")) }
            (delete_link(ctx.lang, "policy", arn, "delete_policy"))
        }
    };
    let status = if typed.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(status, layout(&p, content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entities_ops_are_actions() {
        for e in [Entity::User, Entity::Role] {
            for what in ["put_boundary", "delete_boundary", "tag", "untag"] {
                assert!(super::super::act::is_op(e.op(what)), "{what}");
            }
        }
    }

    #[test]
    fn documents_are_decoded_as_iam_encodes_them() {
        assert_eq!(decoded("%7B%22a%22%3A%20%22b%2Bc%22%7D"), "{\"a\": \"b+c\"}");
    }
}
