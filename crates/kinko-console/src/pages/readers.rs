//! "Who can read this secret?": the answer of `Kinko.ListSecretReaders` ([`kinko_api::access`]),
//! asked as the signed-in principal like every console action. It is computed only when asked
//! (a link on the secret's details page), and shown only to a principal the operation allows:
//! `iam:GetAccountAuthorizationDetails`, `secretsmanager:GetResourcePolicy` on the secret and,
//! for a customer managed key, `kms:GetKeyPolicy`. Anyone else gets its AccessDenied.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use kinko_api::ServiceName;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Page, error_box, layout, respond};
use crate::{Console, Ctx, Lang, call};

pub(crate) fn routes() -> Router<Arc<Console>> {
    Router::new().route("/secrets/readers", get(readers))
}

fn readers_url(id: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/console/secrets/readers?id={q}")
}

/// The details page's entry to the answer.
pub(crate) fn section(lang: Lang, secret_id: &str) -> Markup {
    let t = |k| lang.t(k);
    html! {
        section.card #readers {
            h2 { (t("who_can_read")) }
            p.hint { (t("who_can_read_help")) }
            p { a href=(readers_url(secret_id)) { (t("who_can_read_show")) } }
        }
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct IdQuery {
    id: String,
}

async fn readers(State(console): State<Arc<Console>>, ctx: Ctx, Query(q): Query<IdQuery>) -> Response {
    let (_, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let answer = call(
        &console,
        &ctx,
        who,
        ServiceName::Kinko,
        "ListSecretReaders",
        &json!({"SecretId": q.id}),
    )
    .await;
    let back = readers_url(&q.id);
    let details: String = form_urlencoded::byte_serialize(q.id.as_bytes()).collect();
    let page = Page {
        lang,
        title: t("who_can_read"),
        who: Some(who),
        csrf: &session.csrf,
        back: &back,
        flash: None,
    };
    let (status, body) = match &answer {
        Ok(out) => (StatusCode::OK, table(lang, out)),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            error_box(e),
        ),
    };
    let name = answer
        .as_ref()
        .ok()
        .and_then(|o| o["Name"].as_str())
        .unwrap_or(&q.id)
        .to_owned();
    let content = html! {
        p { a href={ "/console/secrets/details?id=" (details) } { (name) } }
        h1 { (t("who_can_read")) }
        (body)
    };
    respond(status, layout(&page, content))
}

fn access_text(lang: Lang, access: &Value) -> &'static str {
    match access.as_str() {
        Some("Allowed") => lang.t("access_allowed"),
        _ => lang.t("access_conditional"),
    }
}

/// The answer: the account's users and roles, then the other accounts.
fn table(lang: Lang, out: &Value) -> Markup {
    let t = |k| lang.t(k);
    let principals = out["Principals"].as_array().cloned().unwrap_or_default();
    let others = out["OtherAccounts"].as_array().cloned().unwrap_or_default();
    let count = |k: &str| out[k].as_u64().unwrap_or_default().to_string();
    html! {
        section.card {
            p.hint {
                (t("evaluated_count")
                    .replace("{evaluated}", &count("EvaluatedCount"))
                    .replace("{total}", &count("PrincipalCount"))
                    .replace("{max}", &kinko_api::access::MAX_PRINCIPALS.to_string()))
            }
            @if principals.is_empty() {
                p { (t("nobody_can_read")) }
            } @else {
                table.list #readers-table {
                    thead { tr { th scope="col" { (t("principal")) } th scope="col" { (t("principal_type")) } th scope="col" { (t("access")) } } }
                    tbody {
                        @for p in &principals {
                            tr {
                                td { code { (p["Arn"].as_str().unwrap_or_default()) } }
                                td { (p["Type"].as_str().unwrap_or_default()) }
                                td { (access_text(lang, &p["Access"])) }
                            }
                        }
                    }
                }
            }
            @if !others.is_empty() {
                h2 { (t("other_accounts")) }
                table.list #other-accounts {
                    thead { tr { th scope="col" { (t("principal")) } th scope="col" { (t("account")) } th scope="col" { (t("access")) } } }
                    tbody {
                        @for o in &others {
                            tr {
                                td { code { (o["Principal"].as_str().unwrap_or_default()) } }
                                td { (o["AccountId"].as_str().unwrap_or(t("any_account"))) }
                                td { (access_text(lang, &o["Access"])) }
                            }
                        }
                    }
                }
            }
        }
    }
}
