//! "Switch role", as AWS's console does it: the signed-in user assumes a role (of their account
//! or another, `OrganizationAccountAccessRole` of a member account included) with STS's
//! AssumeRole, made as that user through the one path (so the role's trust policy and the user's
//! `sts:AssumeRole` permission decide), and every later page runs as that role session until it
//! ends or the user switches back. The root user cannot switch roles, as in AWS.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kinko_api::ServiceName;
use maud::html;

use super::{Page, layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, call_query};

pub(crate) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/switch-role", get(form).post(submit))
        .route("/switch-back", post(back))
}

fn page(
    ctx: &Ctx,
    who: &SignedIn,
    csrf: &str,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let t = |k| ctx.lang.t(k);
    let p = Page {
        lang: ctx.lang,
        title: t("switch_role"),
        who: Some(who),
        csrf,
        back: "/console/switch-role",
        flash,
    };
    respond(
        status,
        layout(
            &p,
            html! {
                section.card.signin {
                    h1 { (t("switch_role")) }
                    p.hint { (t("switch_role_help")) }
                    form method="post" action="/console/switch-role" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="account" { (t("account")) }
                        input #account type="text" name="account" required;
                        label for="role" { (t("role_name")) }
                        input #role type="text" name="role" required placeholder="OrganizationAccountAccessRole";
                        button.primary type="submit" { (t("switch_role")) }
                    }
                }
            },
        ),
    )
}

async fn form(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = console.sessions.take_flash(id);
    page(&ctx, who, &session.csrf, flash, StatusCode::OK)
}

async fn submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    use kinko_core::principal::PrincipalKind;
    let PrincipalKind::User { name, .. } = &who.signed_in_as.kind else {
        return page(
            &ctx,
            who,
            &session.csrf,
            Some((true, t("root_cannot_switch").to_owned())),
            StatusCode::BAD_REQUEST,
        );
    };
    let account = form.get("account").unwrap_or_default().trim().to_owned();
    let role = form.get("role").unwrap_or_default().trim().to_owned();
    let role_arn = format!("arn:aws:iam::{account}:role/{role}");
    // As the signed-in user (not a role switched to before): AWS's console does not chain roles.
    let user = SignedIn {
        principal: who.signed_in_as.clone(),
        session: None,
        ..who.clone()
    };
    let assumed = call_query(
        &console,
        &ctx,
        &user,
        ServiceName::Sts,
        "AssumeRole",
        &[("RoleArn", &role_arn), ("RoleSessionName", name)],
    )
    .await;
    let xml = match assumed {
        Ok(xml) => xml,
        Err(e) => {
            let flash = Some((true, format!("{}: {}", e.code, e.message)));
            return page(&ctx, who, &session.csrf, flash, StatusCode::FORBIDDEN);
        }
    };
    let field = |tag: &str| {
        roxmltree::Document::parse(&xml).ok().and_then(|d| {
            d.descendants()
                .find(|n| n.has_tag_name(tag))
                .and_then(|n| n.text().map(str::to_owned))
        })
    };
    let claims = field("AccessKeyId")
        .zip(field("SessionToken"))
        .and_then(|(key, token)| kinko_api::sts::open_session_token(&console.services, &key, &token).ok());
    let Some(claims) = claims else {
        let flash = Some((true, t("error").to_owned()));
        return page(&ctx, who, &session.csrf, flash, StatusCode::INTERNAL_SERVER_ERROR);
    };
    console.sessions.update(id, |s| {
        if let Some(w) = s.signed_in.as_mut() {
            w.principal = claims.principal.clone();
            w.session = Some(claims.session.clone());
            w.account_label.clone_from(&account);
        }
    });
    Redirect::to("/console/secrets").into_response()
}

/// Back to the identity that signed in.
async fn back(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (_, id, _, _) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    console.sessions.update(id, |s| {
        if let Some(w) = s.signed_in.as_mut() {
            w.principal = w.signed_in_as.clone();
            w.session = None;
            w.account_label.clone_from(&w.signed_in_as.account_id);
        }
    });
    Redirect::to("/console/secrets").into_response()
}
