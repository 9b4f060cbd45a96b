//! IAM: policies (a JSON editor whose syntax errors name their line and column, then IAM's own
//! validation), users (created with a console password and access keys shown once, policies
//! attached directly), a user's details. Every action is the IAM operation of the same name, run
//! as the signed-in principal; creating or deleting access keys (and removing an MFA device,
//! [`super::mfa`]) asks for the signed-in identity's password again. The root user's own page
//! ("security credentials") holds its MFA devices.

use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kinko_api::ServiceName;
use kinko_wire::WireError;
use maud::html;

use super::{Page, error_box, layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, call_query};

pub(super) mod act;
mod delete;
mod details;

pub(crate) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/iam/users", get(users))
        .route("/iam/users/new", get(new_user_form).post(new_user_submit))
        .route("/iam/users/details", get(user_details).post(user_action))
        .route("/iam/mfa-qr", get(super::mfa::qr))
        .route("/iam/security", get(root_security).post(root_security_action))
        .route("/iam/policies", get(policies))
        .route("/iam/policies/new", get(new_policy_form).post(new_policy_submit))
        .route("/iam/roles", get(roles).post(create_role))
        .route("/iam/groups", get(groups).post(groups_action))
        .route(
            "/iam/password-policy",
            get(password_policy).post(password_policy_submit),
        )
        .route("/iam/act", get(act::confirm).post(act::submit))
        .route("/iam/delete", get(delete::confirm).post(delete::submit))
        .route("/iam/roles/details", get(details::role))
        .route("/iam/policies/details", get(details::policy))
}

pub(crate) async fn iam(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    action: &str,
    params: &[(&str, &str)],
) -> Result<String, WireError> {
    call_query(console, ctx, who, ServiceName::Iam, action, params).await
}

/// Each `member` of the first element named `list` in an IAM answer, as `read` reads it.
fn each_member<T>(xml: &str, list: &str, read: impl Fn(roxmltree::Node<'_, '_>) -> T) -> Vec<T> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    let Some(node) = doc.descendants().find(|n| n.has_tag_name(list)) else {
        return Vec::new();
    };
    node.children()
        .filter(|n| n.has_tag_name("member"))
        .map(read)
        .collect()
}

/// The `member`s of the first element named `list` in an IAM answer, each as its child
/// elements' texts.
pub(crate) fn members(xml: &str, list: &str) -> Vec<BTreeMap<String, String>> {
    each_member(xml, list, |m| {
        m.children()
            .filter(roxmltree::Node::is_element)
            .map(|c| {
                (
                    c.tag_name().name().to_owned(),
                    c.text().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    })
}

/// The text of the first element named `tag` in an IAM answer.
pub(crate) fn text(xml: &str, tag: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.has_tag_name(tag))
        .and_then(|n| n.text())
        .map(str::to_owned)
}

/// The texts of the first element named `list` in an IAM answer (a list of strings).
fn strings(xml: &str, list: &str) -> Vec<String> {
    each_member(xml, list, |m| m.text().unwrap_or_default().to_owned())
}

fn user_url(name: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/console/iam/users/details?name={q}")
}

fn role_url(name: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/console/iam/roles/details?name={q}")
}

fn policy_url(arn: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(arn.as_bytes()).collect();
    format!("/console/iam/policies/details?arn={q}")
}

/// IAM's own sections.
fn iam_nav(lang: crate::Lang) -> maud::Markup {
    html! {
        nav.sub aria-label="IAM" {
            a href="/console/iam/users" { (lang.t("users")) }
            a href="/console/iam/policies" { (lang.t("policies")) }
            a href="/console/iam/groups" { (lang.t("groups")) }
            a href="/console/iam/roles" { (lang.t("roles")) }
            a href="/console/iam/password-policy" { (lang.t("password_policy")) }
        }
    }
}

fn page<'a>(
    ctx: &'a Ctx,
    who: &'a SignedIn,
    csrf: &'a str,
    title: &'a str,
    back: &'a str,
    flash: Option<(bool, String)>,
) -> Page<'a> {
    Page {
        lang: ctx.lang,
        title,
        who: Some(who),
        csrf,
        back,
        flash,
    }
}

/// Checks the signed-in identity's own password again (before access keys are made or deleted).
pub(crate) async fn reauthenticate(console: &Console, who: &SignedIn, password: &str) -> bool {
    use kinko_core::principal::PrincipalKind;
    match &who.signed_in_as.kind {
        PrincipalKind::Root => {
            let hash = console.config.root_password_hash.as_deref();
            kinko_api::iam::sign_in::password_matches(password, hash)
                .await
                .unwrap_or(false)
                && hash.is_some()
        }
        PrincipalKind::User { name, .. } => kinko_api::iam::sign_in::verify_password(
            &console.services,
            &who.signed_in_as.account_id,
            name,
            password,
        )
        .await
        .is_ok(),
        _ => false,
    }
}

async fn users(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let listed = iam(&console, &ctx, who, "ListUsers", &[("MaxItems", "1000")]).await;
    let p = page(
        &ctx,
        who,
        &session.csrf,
        t("users"),
        "/console/iam/users",
        console.sessions.take_flash(id),
    );
    let content = html! {
        (iam_nav(ctx.lang))
        div.heading {
            h1 { (t("users")) }
            a.button.primary href="/console/iam/users/new" { (t("create_user")) }
        }
        @match &listed {
            Err(e) => (error_box(e)),
            Ok(xml) => {
                @let list = members(xml, "Users");
                @if list.is_empty() { p.empty { (t("none")) } } @else {
                    table.list {
                        thead { tr { th scope="col" { (t("user_name_short")) } th scope="col" { "ARN" } th scope="col" { (t("created")) } } }
                        tbody { @for u in &list {
                            tr {
                                td { a href=(user_url(&u["UserName"])) { (u["UserName"]) } }
                                td { code { (u.get("Arn").map_or("", String::as_str)) } }
                                td { (u.get("CreateDate").map_or("", String::as_str)) }
                            }
                        } }
                    }
                }
            }
        }
    };
    respond(StatusCode::OK, layout(&p, content))
}

/// The policies a user can be given directly: the account's and AWS's.
async fn attachable(console: &Console, ctx: &Ctx, who: &SignedIn) -> Vec<BTreeMap<String, String>> {
    match iam(
        console,
        ctx,
        who,
        "ListPolicies",
        &[("Scope", "All"), ("MaxItems", "1000")],
    )
    .await
    {
        Ok(xml) => members(&xml, "Policies"),
        Err(_) => Vec::new(),
    }
}

async fn new_user_form(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (_, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let policies = attachable(&console, &ctx, who).await;
    new_user_page(&ctx, who, &session.csrf, &policies, None, StatusCode::OK)
}

fn new_user_page(
    ctx: &Ctx,
    who: &SignedIn,
    csrf: &str,
    policies: &[BTreeMap<String, String>],
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let p = page(ctx, who, csrf, t("create_user"), "/console/iam/users/new", flash);
    let content = html! {
        h1 { (t("create_user")) }
        form.card method="post" action="/console/iam/users/new" {
            input type="hidden" name="csrf" value=(csrf);
            label for="user" { (t("user_name_short")) }
            input #user type="text" name="user" required maxlength="64" autocomplete="off";
            fieldset {
                legend { (t("console_access")) }
                label { input #console type="checkbox" name="console" value="on"; " " (t("provide_console_access")) }
                label for="password" { (t("console_password")) }
                input #password type="password" name="password" autocomplete="new-password";
                label { input #reset type="checkbox" name="reset" value="on" checked; " " (t("require_reset")) }
            }
            fieldset {
                legend { (t("access_keys")) }
                label { input #access_key type="checkbox" name="access_key" value="on"; " " (t("create_access_key")) }
            }
            fieldset {
                legend { (t("attach_policies")) }
                div.checklist {
                    @for pol in policies {
                        label { input type="checkbox" name="policy" value=(pol["Arn"]); " " (pol["PolicyName"]) }
                    }
                }
            }
            label for="confirm_password" { (t("confirm_with_password")) }
            input #confirm_password type="password" name="confirm_password" autocomplete="current-password";
            p.hint { (t("confirm_with_password_help")) }
            div.buttons {
                a.button href="/console/iam/users" { (t("cancel")) }
                button.primary type="submit" { (t("create_user")) }
            }
        }
    };
    respond(status, layout(&p, content))
}

async fn new_user_submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, _, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let user = form.get("user").unwrap_or_default().trim().to_owned();
    let wants_key = form.get("access_key") == Some("on");
    let policies = form.all("policy");
    let again = |message: String| async {
        let listed = attachable(&console, &ctx, who).await;
        new_user_page(
            &ctx,
            who,
            &session.csrf,
            &listed,
            Some((true, message)),
            StatusCode::BAD_REQUEST,
        )
    };
    if wants_key && !reauthenticate(&console, who, form.get("confirm_password").unwrap_or_default()).await {
        return again(t("reauth_failed").to_owned()).await;
    }
    if let Err(e) = iam(&console, &ctx, who, "CreateUser", &[("UserName", &user)]).await {
        return again(format!("{}: {}", e.code, e.message)).await;
    }
    // The user exists from here on; a later step that fails says so on the result page.
    let mut problems = Vec::new();
    if form.get("console") == Some("on") {
        let reset = if form.get("reset") == Some("on") {
            "true"
        } else {
            "false"
        };
        let password = form.get("password").unwrap_or_default();
        if let Err(e) = iam(
            &console,
            &ctx,
            who,
            "CreateLoginProfile",
            &[
                ("UserName", &user),
                ("Password", password),
                ("PasswordResetRequired", reset),
            ],
        )
        .await
        {
            problems.push(e);
        }
    }
    for arn in policies {
        if let Err(e) = iam(
            &console,
            &ctx,
            who,
            "AttachUserPolicy",
            &[("UserName", &user), ("PolicyArn", arn)],
        )
        .await
        {
            problems.push(e);
        }
    }
    let mut key = None;
    if wants_key {
        match iam(&console, &ctx, who, "CreateAccessKey", &[("UserName", &user)]).await {
            Ok(xml) => key = text(&xml, "AccessKeyId").zip(text(&xml, "SecretAccessKey")),
            Err(e) => problems.push(e),
        }
    }
    let p = page(
        &ctx,
        who,
        &session.csrf,
        t("user_created"),
        "/console/iam/users",
        Some((false, t("user_created").to_owned())),
    );
    let content = html! {
        h1 { (user) }
        @for e in &problems { (error_box(e)) }
        @if let Some((id, secret)) = &key {
            section.card {
                h2 { (t("access_keys")) }
                div.alert.warning role="status" { (t("key_shown_once")) }
                dl.props {
                    dt { (t("access_key_id")) } dd { code #access-key-id { (id) } }
                    dt { (t("secret_access_key")) } dd { code #secret-access-key { (secret) } " " button.small type="button" data-copy-text=(secret) data-copied=(t("copied")) { (t("copy")) } }
                }
            }
        }
        p { a.button href=(user_url(&user)) { (t("view_user")) } }
    };
    respond(StatusCode::OK, layout(&p, content))
}

#[derive(serde::Deserialize)]
pub(super) struct NameQuery {
    name: String,
}

async fn user_details(State(console): State<Arc<Console>>, ctx: Ctx, Query(q): Query<NameQuery>) -> Response {
    let (id, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = console.sessions.take_flash(id);
    user_page(&console, &ctx, who, &q.name, flash, None).await
}

async fn user_page(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    name: &str,
    flash: Option<(bool, String)>,
    new_key: Option<(String, String)>,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let back = user_url(name);
    // Independent reads, made at once (their audit records are committed together).
    let u = [("UserName", name)];
    let (user, attached, keys, policies, mfa) = futures_util::join!(
        iam(console, ctx, who, "GetUser", &u),
        iam(console, ctx, who, "ListAttachedUserPolicies", &u),
        iam(console, ctx, who, "ListAccessKeys", &u),
        attachable(console, ctx, who),
        super::mfa::section(console, ctx, who, Some(name), &csrf, &back),
    );
    let more = details::user_sections(console, ctx, who, name, &csrf, &user, &policies).await;
    let p = page(ctx, who, &csrf, name, &back, flash);
    let content = html! {
        h1 { (name) }
        @match &user {
            Err(e) => (error_box(e)),
            Ok(xml) => {
                section.card {
                    dl.props {
                        dt { "ARN" } dd { code { (text(xml, "Arn").unwrap_or_default()) } }
                        dt { (t("created")) } dd { (text(xml, "CreateDate").unwrap_or_default()) }
                    }
                }
            }
        }
        section.card {
            h2 { (t("attach_policies")) }
            @match &attached {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    ul { @for a in members(xml, "AttachedPolicies") {
                        li { (a["PolicyName"]) " " code { (a["PolicyArn"]) } " " (act::confirm_link(ctx.lang, "detach_user_policy", &[("UserName", name), ("PolicyArn", a["PolicyArn"].as_str())], &a["PolicyName"])) }
                    } }
                }
            }
            form.inline method="post" action=(back) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="op" value="attach";
                label for="attach" { (t("attach_policies")) }
                select #attach name="policy" {
                    @for pol in &policies { option value=(pol["Arn"]) { (pol["PolicyName"]) } }
                }
                " " button type="submit" { (t("attach")) }
            }
        }
        section.card {
            h2 { (t("access_keys")) }
            @if let Some((id, secret)) = &new_key {
                div.alert.warning role="status" { (t("key_shown_once")) }
                dl.props {
                    dt { (t("access_key_id")) } dd { code #access-key-id { (id) } }
                    dt { (t("secret_access_key")) } dd { code #secret-access-key { (secret) } }
                }
            }
            @match &keys {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    table.list {
                        thead { tr { th scope="col" { (t("access_key_id")) } th scope="col" { (t("status")) } th scope="col" {} } }
                        tbody { @for k in members(xml, "AccessKeyMetadata") {
                            tr {
                                td { code { (k["AccessKeyId"]) } }
                                td { (k.get("Status").map_or("", String::as_str)) }
                                td {
                                    form.inline method="post" action=(back) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="op" value="delete_key";
                                        input type="hidden" name="key" value=(k["AccessKeyId"]);
                                        input type="password" name="confirm_password" placeholder=(t("confirm_with_password")) aria-label=(t("confirm_with_password")) autocomplete="current-password";
                                        " " button.danger.small type="submit" { (t("delete")) }
                                    }
                                }
                            }
                        } }
                    }
                }
            }
            form method="post" action=(back) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="op" value="create_key";
                label for="confirm_password" { (t("confirm_with_password")) }
                input #confirm_password type="password" name="confirm_password" autocomplete="current-password";
                div.buttons { button.primary type="submit" { (t("create_access_key")) } }
            }
        }
        (more)
        (mfa)
    };
    respond(StatusCode::OK, layout(&p, content))
}

async fn user_action(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<NameQuery>,
    body: Bytes,
) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let name = q.name.as_str();
    let result = match form.get("op") {
        Some("attach") => {
            let arn = form.get("policy").unwrap_or_default();
            iam(
                &console,
                &ctx,
                who,
                "AttachUserPolicy",
                &[("UserName", name), ("PolicyArn", arn)],
            )
            .await
            .map(|_| None)
        }
        Some(op @ ("create_key" | "delete_key")) => {
            if !reauthenticate(&console, who, form.get("confirm_password").unwrap_or_default()).await {
                let flash = Some((true, t("reauth_failed").to_owned()));
                return user_page(&console, &ctx, who, name, flash, None).await;
            }
            if op == "create_key" {
                iam(&console, &ctx, who, "CreateAccessKey", &[("UserName", name)])
                    .await
                    .map(|xml| text(&xml, "AccessKeyId").zip(text(&xml, "SecretAccessKey")))
            } else {
                let key = form.get("key").unwrap_or_default();
                iam(
                    &console,
                    &ctx,
                    who,
                    "DeleteAccessKey",
                    &[("UserName", name), ("AccessKeyId", key)],
                )
                .await
                .map(|_| None)
            }
        }
        Some(op @ ("create_mfa" | "enable_mfa" | "remove_mfa")) => {
            if op == "remove_mfa"
                && !reauthenticate(&console, who, form.get("confirm_password").unwrap_or_default()).await
            {
                let flash = Some((true, t("reauth_failed").to_owned()));
                return user_page(&console, &ctx, who, name, flash, None).await;
            }
            super::mfa::action(&console, &ctx, id, who, Some(name), op, &form)
                .await
                .map(|()| None)
        }
        _ => return Redirect::to(&user_url(name)).into_response(),
    };
    match result {
        // A new key is shown on this answer only, never stored for a later page.
        Ok(Some(key)) => user_page(&console, &ctx, who, name, None, Some(key)).await,
        Ok(None) => {
            console
                .sessions
                .update(id, |s| s.flash = Some((false, t("done").to_owned())));
            Redirect::to(&user_url(name)).into_response()
        }
        Err(e) => {
            let flash = Some((true, format!("{}: {}", e.code, e.message)));
            user_page(&console, &ctx, who, name, flash, None).await
        }
    }
}

/// Where the root user's security credentials page is.
pub(crate) const ROOT_SECURITY_URL: &str = "/console/iam/security";

/// The signed-in root user's security credentials: its MFA devices, managed as a user's are on
/// the user's page. Anyone else (an IAM user, a role session, also one the root user switched
/// to) is sent to the console's start.
async fn root_security(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !who.principal.is_root() {
        return Redirect::to("/console/").into_response();
    }
    let flash = console.sessions.take_flash(id);
    root_security_page(&console, &ctx, who, flash).await
}

async fn root_security_page(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    flash: Option<(bool, String)>,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let mfa = super::mfa::section(console, ctx, who, None, &csrf, ROOT_SECURITY_URL).await;
    let title = t("security_credentials");
    let p = page(ctx, who, &csrf, title, ROOT_SECURITY_URL, flash);
    let content = html! {
        h1 { (title) }
        section.card {
            dl.props {
                dt { (t("root_user")) } dd { code { (who.principal.arn) } }
            }
        }
        (mfa)
    };
    respond(StatusCode::OK, layout(&p, content))
}

async fn root_security_action(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !who.principal.is_root() {
        return Redirect::to("/console/").into_response();
    }
    let t = |k| ctx.lang.t(k);
    let op = match form.get("op") {
        Some(op @ ("create_mfa" | "enable_mfa" | "remove_mfa")) => op,
        _ => return Redirect::to(ROOT_SECURITY_URL).into_response(),
    };
    if op == "remove_mfa"
        && !reauthenticate(&console, who, form.get("confirm_password").unwrap_or_default()).await
    {
        let flash = Some((true, t("reauth_failed").to_owned()));
        return root_security_page(&console, &ctx, who, flash).await;
    }
    match super::mfa::action(&console, &ctx, id, who, None, op, &form).await {
        Ok(()) => {
            console
                .sessions
                .update(id, |s| s.flash = Some((false, t("done").to_owned())));
            Redirect::to(ROOT_SECURITY_URL).into_response()
        }
        Err(e) => {
            let flash = Some((true, format!("{}: {}", e.code, e.message)));
            root_security_page(&console, &ctx, who, flash).await
        }
    }
}

async fn policies(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let listed = iam(
        &console,
        &ctx,
        who,
        "ListPolicies",
        &[("Scope", "Local"), ("MaxItems", "1000")],
    )
    .await;
    let p = page(
        &ctx,
        who,
        &session.csrf,
        t("policies"),
        "/console/iam/policies",
        console.sessions.take_flash(id),
    );
    let content = html! {
        (iam_nav(ctx.lang))
        div.heading {
            h1 { (t("policies")) }
            a.button.primary href="/console/iam/policies/new" { (t("create_policy")) }
        }
        @match &listed {
            Err(e) => (error_box(e)),
            Ok(xml) => {
                @let list = members(xml, "Policies");
                @if list.is_empty() { p.empty { (t("none")) } } @else {
                    table.list {
                        thead { tr { th scope="col" { (t("policy_name")) } th scope="col" { "ARN" } th scope="col" { (t("attachments")) } } }
                        tbody { @for pol in &list {
                            tr { td { a href=(policy_url(&pol["Arn"])) { (pol["PolicyName"]) } } td { code { (pol["Arn"]) } } td { (pol.get("AttachmentCount").map_or("0", String::as_str)) } }
                        } }
                    }
                }
            }
        }
    };
    respond(StatusCode::OK, layout(&p, content))
}

async fn new_policy_form(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let _ = &console;
    let (_, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let starter = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": [],\n      \"Resource\": []\n    }\n  ]\n}";
    policy_page(&ctx, who, &session.csrf, "", "", starter, None, StatusCode::OK)
}

#[allow(clippy::too_many_arguments, reason = "the form's fields, re-shown as typed")]
fn policy_page(
    ctx: &Ctx,
    who: &SignedIn,
    csrf: &str,
    name: &str,
    description: &str,
    document: &str,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let p = page(
        ctx,
        who,
        csrf,
        t("create_policy"),
        "/console/iam/policies/new",
        flash,
    );
    let content = html! {
        h1 { (t("create_policy")) }
        form.card method="post" action="/console/iam/policies/new" {
            input type="hidden" name="csrf" value=(csrf);
            label for="document" { (t("policy_editor")) " (JSON)" }
            textarea #document name="document" rows="18" spellcheck="false" { (document) }
            label for="name" { (t("policy_name")) }
            input #name type="text" name="name" value=(name) required maxlength="128";
            label for="description" { (t("description")) }
            input #description type="text" name="description" value=(description) maxlength="1000";
            div.buttons {
                a.button href="/console/iam/policies" { (t("cancel")) }
                button.primary type="submit" { (t("create_policy")) }
            }
        }
    };
    respond(status, layout(&p, content))
}

/// A JSON syntax error as the editor shows it: `Ln L, Col C: what`.
pub(crate) fn syntax_error(document: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(document)
        .err()
        .map(|e| {
            let what = e.to_string();
            let what = what.split(" at line ").next().unwrap_or(&what).to_owned();
            format!("Ln {}, Col {}: {what}", e.line(), e.column())
        })
}

async fn new_policy_submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let description = form.get("description").unwrap_or_default().to_owned();
    let document = form.get("document").unwrap_or_default().to_owned();
    let again = |message: String| {
        policy_page(
            &ctx,
            who,
            &session.csrf,
            &name,
            &description,
            &document,
            Some((true, message)),
            StatusCode::BAD_REQUEST,
        )
    };
    if let Some(e) = syntax_error(&document) {
        return again(e);
    }
    let mut params = vec![
        ("PolicyName", name.as_str()),
        ("PolicyDocument", document.as_str()),
    ];
    if !description.is_empty() {
        params.push(("Description", description.as_str()));
    }
    match iam(&console, &ctx, who, "CreatePolicy", &params).await {
        Ok(_) => {
            let done = ctx.lang.t("policy_created").to_owned();
            console.sessions.update(id, |s| s.flash = Some((false, done)));
            Redirect::to("/console/iam/policies").into_response()
        }
        Err(e) => again(format!("{}: {}", e.code, e.message)),
    }
}

/// The trust policy a new role starts with: an AWS service may assume it.
const LAMBDA_TRUST: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\"Service\": \"lambda.amazonaws.com\"},\n      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}";

/// Roles: the list, and a new role from a trust policy (the editor checks JSON syntax with line
/// and column, then IAM validates) with policies attached.
async fn roles(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = console.sessions.take_flash(id);
    roles_page(
        &console,
        &ctx,
        who,
        &session.csrf,
        "",
        LAMBDA_TRUST,
        flash,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments, reason = "the form's fields, re-shown as typed")]
async fn roles_page(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    csrf: &str,
    name: &str,
    trust: &str,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let (listed, policies) = futures_util::join!(
        iam(console, ctx, who, "ListRoles", &[("MaxItems", "1000")]),
        attachable(console, ctx, who),
    );
    let p = page(ctx, who, csrf, t("roles"), "/console/iam/roles", flash);
    let content = html! {
        (iam_nav(ctx.lang))
        h1 { (t("roles")) }
        @match &listed {
            Err(e) => (error_box(e)),
            Ok(xml) => {
                table.list.roles {
                    thead { tr { th scope="col" { (t("role_name")) } th scope="col" { "ARN" } th scope="col" { (t("created")) } } }
                    tbody { @for r in members(xml, "Roles") {
                        tr { td { a href=(role_url(&r["RoleName"])) { (r["RoleName"]) } } td { code { (r.get("Arn").map_or("", String::as_str)) } } td { (r.get("CreateDate").map_or("", String::as_str)) } }
                    } }
                }
            }
        }
        form.card method="post" action="/console/iam/roles" {
            h2 { (t("create_role")) }
            input type="hidden" name="csrf" value=(csrf);
            label for="role_name" { (t("role_name")) }
            input #role_name type="text" name="name" value=(name) required maxlength="64";
            label for="trust" { (t("trust_policy")) " (JSON)" }
            textarea #trust name="trust" rows="12" spellcheck="false" { (trust) }
            fieldset {
                legend { (t("attach_policies")) }
                div.checklist { @for pol in &policies {
                    label { input type="checkbox" name="policy" value=(pol["Arn"]); " " (pol["PolicyName"]) }
                } }
            }
            div.buttons { button.primary type="submit" { (t("create_role")) } }
        }
    };
    respond(status, layout(&p, content))
}

async fn create_role(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let trust = form.get("trust").unwrap_or_default().to_owned();
    let refuse = |message: String| {
        roles_page(
            &console,
            &ctx,
            who,
            &session.csrf,
            &name,
            &trust,
            Some((true, message)),
            StatusCode::BAD_REQUEST,
        )
    };
    if let Some(e) = syntax_error(&trust) {
        return refuse(e).await;
    }
    if let Err(e) = iam(
        &console,
        &ctx,
        who,
        "CreateRole",
        &[("RoleName", &name), ("AssumeRolePolicyDocument", &trust)],
    )
    .await
    {
        return refuse(format!("{}: {}", e.code, e.message)).await;
    }
    let mut flash = (false, ctx.lang.t("role_created").to_owned());
    for arn in form.all("policy") {
        if let Err(e) = iam(
            &console,
            &ctx,
            who,
            "AttachRolePolicy",
            &[("RoleName", &name), ("PolicyArn", arn)],
        )
        .await
        {
            flash = (true, format!("{}: {}", e.code, e.message));
        }
    }
    console.redirect_with(id, flash, "/console/iam/roles")
}

/// The account password policy's fields: (form field and IAM parameter, whether a flag).
const POLICY_FIELDS: [(&str, bool); 9] = [
    ("MinimumPasswordLength", false),
    ("RequireSymbols", true),
    ("RequireNumbers", true),
    ("RequireUppercaseCharacters", true),
    ("RequireLowercaseCharacters", true),
    ("AllowUsersToChangePassword", true),
    ("MaxPasswordAge", false),
    ("PasswordReusePrevention", false),
    ("HardExpiry", true),
];

async fn password_policy(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let current = iam(&console, &ctx, who, "GetAccountPasswordPolicy", &[]).await;
    let alias = act::account_alias(&console, &ctx, who, &session.csrf).await;
    let p = page(
        &ctx,
        who,
        &session.csrf,
        t("password_policy"),
        "/console/iam/password-policy",
        console.sessions.take_flash(id),
    );
    let value = |field: &str| current.as_ref().ok().and_then(|xml| text(xml, field));
    let content = html! {
        (iam_nav(ctx.lang))
        h1 { (t("password_policy")) }
        @if let Err(e) = &current {
            @if e.code == "NoSuchEntity" { p.hint { (t("default_password_policy")) } } @else { (error_box(e)) }
        }
        form.card method="post" action="/console/iam/password-policy" {
            input type="hidden" name="csrf" value=(session.csrf);
            @for (field, flag) in POLICY_FIELDS {
                @if flag {
                    label { input type="checkbox" name=(field) value="true" checked[value(field).as_deref() == Some("true")]; " " (field) }
                } @else {
                    label for=(field) { (field) }
                    input id=(field) type="number" name=(field) value=(value(field).unwrap_or_default());
                }
            }
            div.buttons { button.primary type="submit" { (t("save")) } }
        }
        (alias)
    };
    respond(StatusCode::OK, layout(&p, content))
}

async fn password_policy_submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // As UpdateAccountPasswordPolicy works: a field left out goes back to its default.
    let mut params: Vec<(&str, String)> = Vec::new();
    for (field, flag) in POLICY_FIELDS {
        if flag {
            params.push((field, (form.get(field) == Some("true")).to_string()));
        } else if let Some(v) = form.get(field).map(str::trim).filter(|v| !v.is_empty()) {
            params.push((field, v.to_owned()));
        }
    }
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let flash = crate::outcome(
        ctx.lang,
        &iam(&console, &ctx, who, "UpdateAccountPasswordPolicy", &params).await,
    );
    console.redirect_with(id, flash, "/console/iam/password-policy")
}

/// A group as the groups page shows it: its name, its members' user names and its attached
/// policies (name, ARN).
struct GroupRow {
    name: String,
    users: Vec<String>,
    attached: Vec<(String, String)>,
}

/// The text of `node`'s first child element named `tag`.
fn child_text(node: roxmltree::Node<'_, '_>, tag: &str) -> String {
    node.children()
        .find(|c| c.has_tag_name(tag))
        .and_then(|c| c.text())
        .unwrap_or_default()
        .to_owned()
}

/// The `member` children of `node`'s first child element named `list`.
fn list_members<'a, 'i>(node: roxmltree::Node<'a, 'i>, list: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|c| c.has_tag_name(list))
        .map(|l| l.children().filter(|m| m.has_tag_name("member")).collect())
        .unwrap_or_default()
}

/// Every group with its members and policies, and every user's name, from
/// GetAccountAuthorizationDetails (users and groups, every page): one call where the per-group
/// reads take two per group.
async fn groups_by_details(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
) -> Result<(Vec<GroupRow>, Vec<String>), WireError> {
    let mut users: Vec<(String, Vec<String>)> = Vec::new();
    let mut groups: Vec<GroupRow> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = vec![
            ("Filter.member.1", "User"),
            ("Filter.member.2", "Group"),
            ("MaxItems", "1000"),
        ];
        if let Some(m) = &marker {
            params.push(("Marker", m.as_str()));
        }
        let xml = iam(console, ctx, who, "GetAccountAuthorizationDetails", &params).await?;
        let Ok(doc) = roxmltree::Document::parse(&xml) else {
            break;
        };
        let root = doc.root_element();
        let result = root
            .descendants()
            .find(|n| n.has_tag_name("GetAccountAuthorizationDetailsResult"))
            .unwrap_or(root);
        for u in list_members(result, "UserDetailList") {
            let in_groups = list_members(u, "GroupList")
                .into_iter()
                .filter_map(|g| g.text().map(str::to_owned))
                .collect();
            users.push((child_text(u, "UserName"), in_groups));
        }
        for g in list_members(result, "GroupDetailList") {
            let attached = list_members(g, "AttachedManagedPolicies")
                .into_iter()
                .map(|a| (child_text(a, "PolicyName"), child_text(a, "PolicyArn")))
                .collect();
            groups.push(GroupRow {
                name: child_text(g, "GroupName"),
                users: Vec::new(),
                attached,
            });
        }
        marker = (child_text(result, "IsTruncated") == "true")
            .then(|| child_text(result, "Marker"))
            .filter(|m| !m.is_empty());
        if marker.is_none() {
            break;
        }
    }
    // Users come by name, so each group's members do too (as GetGroup lists them).
    for (user, in_groups) in &users {
        for g in &mut groups {
            if in_groups.contains(&g.name) {
                g.users.push(user.clone());
            }
        }
    }
    Ok((groups, users.into_iter().map(|(name, _)| name).collect()))
}

/// Every group with its members and policies, and every user's name, by ListGroups, ListUsers
/// and each group's GetGroup and ListAttachedGroupPolicies (a few groups at a time, see
/// CONCURRENT_CALLS): for a principal allowed those but not GetAccountAuthorizationDetails.
async fn groups_one_by_one(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
) -> Result<(Vec<GroupRow>, Vec<String>), WireError> {
    let (listed, users) = futures_util::join!(
        iam(console, ctx, who, "ListGroups", &[("MaxItems", "1000")]),
        iam(console, ctx, who, "ListUsers", &[("MaxItems", "1000")]),
    );
    let users = users
        .map(|x| members(&x, "Users"))
        .unwrap_or_default()
        .into_iter()
        .map(|u| u["UserName"].clone())
        .collect();
    let groups = members(&listed?, "Groups");
    let rows: Vec<GroupRow> = futures_util::stream::iter(groups)
        .map(|g| async move {
            let name = g["GroupName"].clone();
            let params = [("GroupName", name.as_str())];
            let (in_group, attached) = futures_util::join!(
                iam(console, ctx, who, "GetGroup", &params),
                iam(console, ctx, who, "ListAttachedGroupPolicies", &params),
            );
            let users = in_group
                .map(|x| members(&x, "Users"))
                .unwrap_or_default()
                .into_iter()
                .map(|u| u["UserName"].clone())
                .collect();
            let attached = attached
                .map(|x| members(&x, "AttachedPolicies"))
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a["PolicyName"].clone(), a["PolicyArn"].clone()))
                .collect();
            GroupRow {
                name,
                users,
                attached,
            }
        })
        .buffered(crate::CONCURRENT_CALLS)
        .collect()
        .await;
    Ok((rows, users))
}

/// Groups: the list with their members, a new group, a user added, a policy attached.
async fn groups(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    // One GetAccountAuthorizationDetails where the principal may call it; otherwise (its denial
    // is audited as any other) the calls a principal allowed only the group reads needs. The
    // policies to attach are read at the same time.
    let ((listed, users), policies) = futures_util::join!(
        async {
            match groups_by_details(&console, &ctx, who).await {
                Ok((rows, users)) => (Ok(rows), users),
                Err(_) => match groups_one_by_one(&console, &ctx, who).await {
                    Ok((rows, users)) => (Ok(rows), users),
                    Err(e) => (Err(e), Vec::new()),
                },
            }
        },
        attachable(&console, &ctx, who),
    );
    let no_rows = Vec::new();
    let rows = listed.as_ref().unwrap_or(&no_rows);
    let p = page(
        &ctx,
        who,
        &session.csrf,
        t("groups"),
        "/console/iam/groups",
        console.sessions.take_flash(id),
    );
    let csrf = &session.csrf;
    let content = html! {
        (iam_nav(ctx.lang))
        h1 { (t("groups")) }
        @if let Err(e) = &listed { (error_box(e)) }
        @for GroupRow { name, users: in_group, attached } in rows {
            section.card.group {
                h2 { (name) }
                dl.props {
                    dt { (t("users")) } dd { @for u in in_group {
                        span.badge { (u) } " " (act::confirm_link(ctx.lang, "remove_group_user", &[("GroupName", name), ("UserName", u.as_str())], u)) " "
                    } }
                    dt { (t("attach_policies")) } dd { @for (policy_name, policy_arn) in attached {
                        span.badge { (policy_name) } " " (act::confirm_link(ctx.lang, "detach_group_policy", &[("GroupName", name), ("PolicyArn", policy_arn.as_str())], policy_name)) " "
                    } }
                }
                form.inline method="post" action="/console/iam/groups" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="group" value=(name);
                    input type="hidden" name="op" value="add_user";
                    select name="user" aria-label=(t("users")) { @for u in &users { option value=(u) { (u) } } }
                    " " button.small type="submit" { (t("add_user")) }
                }
                " "
                form.inline method="post" action="/console/iam/groups" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="group" value=(name);
                    input type="hidden" name="op" value="attach";
                    select name="policy" aria-label=(t("attach_policies")) { @for pol in &policies { option value=(pol["Arn"]) { (pol["PolicyName"]) } } }
                    " " button.small type="submit" { (t("attach")) }
                }
                " "
                (details::delete_link(ctx.lang, "group", name, "delete_group"))
            }
        }
        form.card method="post" action="/console/iam/groups" {
            h2 { (t("create_group")) }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="op" value="create";
            label for="group_name" { (t("group_name")) }
            input #group_name type="text" name="group" required maxlength="128";
            div.buttons { button.primary type="submit" { (t("create_group")) } }
        }
    };
    respond(StatusCode::OK, layout(&p, content))
}

async fn groups_action(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let group = form.get("group").unwrap_or_default().trim();
    let result = match form.get("op").unwrap_or_default() {
        "create" => iam(&console, &ctx, who, "CreateGroup", &[("GroupName", group)]).await,
        "add_user" => {
            let user = form.get("user").unwrap_or_default();
            iam(
                &console,
                &ctx,
                who,
                "AddUserToGroup",
                &[("GroupName", group), ("UserName", user)],
            )
            .await
        }
        "attach" => {
            let arn = form.get("policy").unwrap_or_default();
            iam(
                &console,
                &ctx,
                who,
                "AttachGroupPolicy",
                &[("GroupName", group), ("PolicyArn", arn)],
            )
            .await
        }
        _ => return Redirect::to("/console/iam/groups").into_response(),
    };
    let flash = match result {
        Ok(_) => (false, ctx.lang.t("done").to_owned()),
        Err(e) => (true, format!("{}: {}", e.code, e.message)),
    };
    console.redirect_with(id, flash, "/console/iam/groups")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_their_line_and_column() {
        assert_eq!(syntax_error("{\"Version\": \"2012-10-17\"}"), None);
        let e = syntax_error("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}").expect("an error");
        assert!(e.starts_with("Ln 4, Col 1: "), "{e}");
    }

    #[test]
    fn members_reads_iam_lists() {
        let xml = "<ListUsersResponse><ListUsersResult><Users><member><UserName>a</UserName><Arn>arn:1</Arn></member><member><UserName>b</UserName></member></Users></ListUsersResult></ListUsersResponse>";
        let list = members(xml, "Users");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Arn"], "arn:1");
        assert_eq!(text(xml, "UserName").as_deref(), Some("a"));
        let names = "<ListUserPoliciesResponse><ListUserPoliciesResult><PolicyNames><member>one</member><member>two</member></PolicyNames></ListUserPoliciesResult></ListUserPoliciesResponse>";
        assert_eq!(strings(names, "PolicyNames"), ["one", "two"]);
    }
}
