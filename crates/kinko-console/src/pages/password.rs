//! Changing one's own password (IAM's ChangePassword, as the signed-in user): required before
//! anything else when an administrator asked for it or the password has expired.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kinko_api::ServiceName;
use maud::html;

use super::{Page, layout, respond};
use crate::{Console, Ctx, call_query};

pub(crate) async fn form(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut flash = console.sessions.take_flash(id);
    if flash.is_none() && who.must_change_password {
        flash = Some((true, ctx.lang.t("must_change_password").to_owned()));
    }
    page(&ctx, &session.csrf, who, flash, StatusCode::OK)
}

fn page(
    ctx: &Ctx,
    csrf: &str,
    who: &crate::session::SignedIn,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let page = Page {
        lang,
        title: t("change_password"),
        who: Some(who),
        csrf,
        back: "/console/password",
        flash,
    };
    respond(
        status,
        layout(
            &page,
            html! {
                section.card.signin {
                    h1 { (t("change_password")) }
                    form method="post" action="/console/password" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="old" { (t("old_password")) }
                        input #old type="password" name="old" required autocomplete="current-password";
                        label for="new" { (t("new_password")) }
                        input #new type="password" name="new" required autocomplete="new-password";
                        label for="confirm" { (t("confirm_password")) }
                        input #confirm type="password" name="confirm" required autocomplete="new-password";
                        button.primary type="submit" { (t("change_password")) }
                    }
                }
            },
        ),
    )
}

pub(crate) async fn submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let old = form.get("old").unwrap_or_default();
    let new = form.get("new").unwrap_or_default();
    if form.get("confirm").unwrap_or_default() != new {
        let flash = Some((true, ctx.lang.t("passwords_differ").to_owned()));
        return page(&ctx, &session.csrf, who, flash, StatusCode::BAD_REQUEST);
    }
    let changed = call_query(
        &console,
        &ctx,
        who,
        ServiceName::Iam,
        "ChangePassword",
        &[("OldPassword", old), ("NewPassword", new)],
    )
    .await;
    match changed {
        Ok(_) => {
            let done = ctx.lang.t("password_changed").to_owned();
            console.sessions.update(id, |s| {
                if let Some(w) = s.signed_in.as_mut() {
                    w.must_change_password = false;
                }
                s.flash = Some((false, done));
            });
            Redirect::to("/console/secrets").into_response()
        }
        Err(e) => {
            let flash = Some((true, format!("{}: {}", e.code, e.message)));
            page(&ctx, &session.csrf, who, flash, StatusCode::BAD_REQUEST)
        }
    }
}
