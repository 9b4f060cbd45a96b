//! KMS aliases: the list (the account's own; `alias/aws/...` belong to AWS managed keys and are
//! not the caller's to change), a new alias for a key (CreateAlias), pointing an alias at another
//! key (UpdateAlias), and deleting one after confirmation (DeleteAlias).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{Value, json};

use super::{customer_keys, failed, key_url, kms};
use crate::pages::{Page, error_box, layout, respond};
use crate::{Console, Ctx};

const PAGE: &str = "/console/kms/aliases";

/// An alias name as typed: `alias/` is added when left out, as the AWS console does.
pub(super) fn full_name(typed: &str) -> String {
    let typed = typed.trim();
    if typed.starts_with("alias/") {
        typed.to_owned()
    } else {
        format!("alias/{typed}")
    }
}

/// A key as the lists name it: its aliases' first, else its id.
fn key_label(meta: &Value, aliases: &[Value]) -> String {
    let id = meta["KeyId"].as_str().unwrap_or_default();
    aliases
        .iter()
        .find(|a| a["TargetKeyId"] == id)
        .and_then(|a| a["AliasName"].as_str())
        .map_or_else(|| id.to_owned(), |a| format!("{a} ({id})"))
}

pub(super) async fn list(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let (keys, listed) = customer_keys(&console, &ctx, who).await;
    let keys = keys.unwrap_or_default();
    let aliases: Vec<Value> = listed
        .as_ref()
        .ok()
        .and_then(|out| out["Aliases"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|a| {
            a["AliasName"]
                .as_str()
                .is_some_and(|n| !n.starts_with("alias/aws/"))
        })
        .collect();
    let csrf = &session.csrf;
    let page = Page {
        lang: ctx.lang,
        title: t("aliases"),
        who: Some(who),
        csrf,
        back: PAGE,
        flash: console.sessions.take_flash(id),
    };
    let key_options = |selected: &str| {
        html! {
            @for k in &keys {
                @let kid = k["KeyId"].as_str().unwrap_or_default();
                option value=(kid) selected[kid == selected] { (key_label(k, &aliases)) }
            }
        }
    };
    let content = html! {
        (super::kms_nav(ctx.lang))
        h1 { (t("aliases")) }
        @if let Err(e) = &listed { (error_box(e)) }
        @if aliases.is_empty() { p.empty { (t("none")) } } @else {
            table.list.aliases {
                thead { tr { th scope="col" { (t("alias")) } th scope="col" { (t("key_id")) } th scope="col" { (t("change_target")) } th scope="col" { (t("actions")) } } }
                tbody { @for a in &aliases {
                    @let name = a["AliasName"].as_str().unwrap_or_default();
                    @let target = a["TargetKeyId"].as_str().unwrap_or_default();
                    tr {
                        td { (name) }
                        td { a href=(key_url(target)) { code { (target) } } }
                        td {
                            form.inline method="post" action=(PAGE) {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="op" value="update";
                                input type="hidden" name="alias" value=(name);
                                select name="key" aria-label={ (t("change_target")) ": " (name) } { (key_options(target)) }
                                " " button.small type="submit" { (t("save")) }
                            }
                        }
                        td {
                            a.button.small.danger href={ "/console/kms/aliases/delete?name=" (form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()) } aria-label={ (t("delete")) ": " (name) } { (t("delete")) }
                        }
                    }
                } }
            }
        }
        form.card method="post" action=(PAGE) {
            h2 { (t("create_alias")) }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="op" value="create";
            label for="alias" { (t("alias")) }
            input #alias type="text" name="alias" required placeholder="alias/my-key";
            label for="alias_key" { (t("key_id")) }
            select #alias_key name="key" required { (key_options("")) }
            div.buttons { button.primary type="submit" { (t("create_alias")) } }
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}

#[derive(serde::Deserialize)]
pub(super) struct AliasQuery {
    name: String,
}

/// Asks before an alias is deleted.
pub(super) async fn confirm_delete(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<AliasQuery>,
) -> Response {
    let _ = &console;
    let (_, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let about = html! { p { code.name { (q.name) } } p { code { "kms:DeleteAlias" } } };
    crate::pages::iam::act::confirm_page(
        &ctx,
        who,
        ctx.lang.t("confirm_delete_alias"),
        about,
        PAGE,
        &[("op", "delete"), ("alias", &q.name)],
        PAGE,
        html! {},
    )
}

pub(super) async fn submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let alias = full_name(form.get("alias").unwrap_or_default());
    let key = form.get("key").unwrap_or_default();
    let (op, input) = match form.get("op").unwrap_or_default() {
        "create" => ("CreateAlias", json!({"AliasName": alias, "TargetKeyId": key})),
        "update" => ("UpdateAlias", json!({"AliasName": alias, "TargetKeyId": key})),
        "delete" => ("DeleteAlias", json!({"AliasName": alias})),
        _ => return Redirect::to(PAGE).into_response(),
    };
    let flash = match kms(&console, &ctx, who, op, input).await {
        Ok(_) => (false, ctx.lang.t("done").to_owned()),
        Err(e) => failed(&e),
    };
    console.redirect_with(id, flash, PAGE)
}
