//! KMS keys and Organizations accounts: the keys (create with an alias and a description, a
//! key's details with its key policy editor, enable/disable, automatic rotation, schedule and
//! cancel deletion) and the organization's accounts (list, create). Each action is the
//! operation of the same name, run as the signed-in principal.

use futures_util::StreamExt;
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
use serde_json::{Value, json};

use super::{Page, date, error_box, layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, call};

mod aliases;

pub(crate) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/kms", get(keys).post(create_key))
        .route("/kms/key", get(key).post(key_action))
        .route("/kms/aliases", get(aliases::list).post(aliases::submit))
        .route("/kms/aliases/delete", get(aliases::confirm_delete))
        .route("/kms/key/untag", get(confirm_untag))
        .route("/organizations", get(accounts).post(create_account))
}

async fn kms(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    op: &str,
    input: Value,
) -> Result<Value, WireError> {
    call(console, ctx, who, ServiceName::Kms, op, &input).await
}

fn key_url(id: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/console/kms/key?id={q}")
}

fn failed(e: &WireError) -> (bool, String) {
    (true, format!("{}: {}", e.code, e.message))
}

/// KMS's own sections.
fn kms_nav(lang: crate::Lang) -> maud::Markup {
    html! {
        nav.sub aria-label="KMS" {
            a href="/console/kms" { (lang.t("kms_keys")) }
            a href="/console/kms/aliases" { (lang.t("aliases")) }
        }
    }
}

/// The caller's keys (customer managed: AWS managed keys are listed by the console's other
/// tab), each as DescribeKey's `KeyMetadata`, with the account's aliases (ListAliases, read at
/// the same time as ListKeys).
async fn customer_keys(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
) -> (Result<Vec<Value>, WireError>, Result<Value, WireError>) {
    let (listed, aliases) = futures_util::join!(
        kms(console, ctx, who, "ListKeys", json!({"Limit": 100})),
        kms(console, ctx, who, "ListAliases", json!({"Limit": 100})),
    );
    let listed = match listed {
        Ok(listed) => listed,
        Err(e) => return (Err(e), aliases),
    };
    // A key with an `alias/aws/...` alias is AWS managed (no one else may take such a name):
    // not shown here, so not described.
    let aws_managed: Vec<&str> = aliases
        .as_ref()
        .ok()
        .and_then(|a| a["Aliases"].as_array())
        .into_iter()
        .flatten()
        .filter(|a| {
            a["AliasName"]
                .as_str()
                .is_some_and(|n| n.starts_with("alias/aws/"))
        })
        .filter_map(|a| a["TargetKeyId"].as_str())
        .collect();
    let ids: Vec<Value> = listed["Keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| !k["KeyId"].as_str().is_some_and(|id| aws_managed.contains(&id)))
        .cloned()
        .collect();
    // One DescribeKey per key, a few at a time: each call is audited on its own and the audit
    // trail commits concurrent records together, so the page waits for a handful of commits,
    // not one per key. `buffered` keeps ListKeys' order.
    let described: Vec<Value> = futures_util::stream::iter(ids)
        .map(|k| async move {
            kms(console, ctx, who, "DescribeKey", json!({"KeyId": k["KeyId"]}))
                .await
                .map(|d| d["KeyMetadata"].clone())
                .unwrap_or(Value::Null)
        })
        .buffered(crate::CONCURRENT_CALLS)
        .collect()
        .await;
    let keys = described
        .into_iter()
        .filter(|meta| meta["KeyManager"] != "AWS")
        .collect();
    (Ok(keys), aliases)
}

async fn keys(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let (listed, aliases) = customer_keys(&console, &ctx, who).await;
    let aliases = aliases.unwrap_or(Value::Null);
    let mut rows = Vec::new();
    if let Ok(keys) = &listed {
        for meta in keys {
            let key_id = meta["KeyId"].as_str().unwrap_or_default().to_owned();
            let alias: Vec<String> = aliases["Aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["TargetKeyId"] == key_id.as_str())
                .filter_map(|a| a["AliasName"].as_str().map(str::to_owned))
                .collect();
            rows.push((key_id, alias.join(", "), meta.clone()));
        }
    }
    let page = Page {
        lang: ctx.lang,
        title: t("kms_keys"),
        who: Some(who),
        csrf: &session.csrf,
        back: "/console/kms",
        flash: console.sessions.take_flash(id),
    };
    let content = html! {
        (kms_nav(ctx.lang))
        h1 { (t("kms_keys")) }
        @if let Err(e) = &listed { (error_box(e)) }
        @if rows.is_empty() { p.empty { (t("none")) } } @else {
            table.list.keys {
                thead { tr { th scope="col" { (t("aliases")) } th scope="col" { (t("key_id")) } th scope="col" { (t("status")) } th scope="col" { (t("description")) } } }
                tbody { @for (key_id, alias, meta) in &rows {
                    tr {
                        td { a href=(key_url(key_id)) { @if alias.is_empty() { "-" } @else { (alias) } } }
                        td { code { (key_id) } }
                        td { (meta["KeyState"].as_str().unwrap_or_default()) }
                        td { (meta["Description"].as_str().unwrap_or_default()) }
                    }
                } }
            }
        }
        form.card method="post" action="/console/kms" {
            h2 { (t("create_key")) }
            input type="hidden" name="csrf" value=(session.csrf);
            label for="alias" { (t("alias")) }
            input #alias type="text" name="alias" placeholder="alias/my-key";
            label for="description" { (t("description")) }
            input #description type="text" name="description";
            div.buttons { button.primary type="submit" { (t("create_key")) } }
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}

async fn create_key(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut input = json!({});
    let description = form.get("description").unwrap_or_default();
    if !description.is_empty() {
        input["Description"] = json!(description);
    }
    let created = match kms(&console, &ctx, who, "CreateKey", input).await {
        Ok(out) => out,
        Err(e) => {
            console.sessions.update(id, |s| s.flash = Some(failed(&e)));
            return Redirect::to("/console/kms").into_response();
        }
    };
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let alias = form.get("alias").unwrap_or_default().trim();
    let mut flash = (false, ctx.lang.t("done").to_owned());
    if !alias.is_empty() {
        let alias = aliases::full_name(alias);
        if let Err(e) = kms(
            &console,
            &ctx,
            who,
            "CreateAlias",
            json!({"AliasName": alias, "TargetKeyId": key_id}),
        )
        .await
        {
            flash = failed(&e);
        }
    }
    console.redirect_with(id, flash, &key_url(&key_id))
}

#[derive(serde::Deserialize)]
struct KeyQuery {
    id: String,
}

async fn key(State(console): State<Arc<Console>>, ctx: Ctx, Query(q): Query<KeyQuery>) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let described = kms(&console, &ctx, who, "DescribeKey", json!({"KeyId": q.id})).await;
    let policy = kms(
        &console,
        &ctx,
        who,
        "GetKeyPolicy",
        json!({"KeyId": q.id, "PolicyName": "default"}),
    )
    .await;
    let rotation = kms(
        &console,
        &ctx,
        who,
        "GetKeyRotationStatus",
        json!({"KeyId": q.id}),
    )
    .await;
    let tags = kms(&console, &ctx, who, "ListResourceTags", json!({"KeyId": q.id})).await;
    let back = key_url(&q.id);
    let page = Page {
        lang: ctx.lang,
        title: &q.id,
        who: Some(who),
        csrf: &session.csrf,
        back: &back,
        flash: console.sessions.take_flash(id),
    };
    let csrf = &session.csrf;
    let action = |op: &'static str, label: &'static str, class: &'static str| {
        html! {
            form.inline method="post" action=(back) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="op" value=(op);
                button class=(class) type="submit" { (t(label)) }
            }
        }
    };
    let content = html! {
        h1 { (q.id) }
        @match &described {
            Err(e) => (error_box(e)),
            Ok(d) => {
                @let m = &d["KeyMetadata"];
                @let state = m["KeyState"].as_str().unwrap_or_default();
                @if state == "PendingDeletion" {
                    div.alert.warning role="status" {
                        span { (t("key_pending_deletion")) " " strong { (date(&m["DeletionDate"])) } "." }
                        (action("cancel_deletion", "cancel_deletion", ""))
                    }
                }
                section.card {
                    dl.props {
                        dt { "ARN" } dd { code #key-arn { (m["Arn"].as_str().unwrap_or_default()) } }
                        dt { (t("status")) } dd #key-state { (state) }
                        dt { (t("description")) } dd {
                            form.inline method="post" action=(back) {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="op" value="description";
                                input #key-description type="text" name="description" maxlength="8192" aria-label=(t("description")) value=(m["Description"].as_str().unwrap_or_default());
                                " " button.small type="submit" { (t("save")) }
                            }
                        }
                        dt { (t("created")) } dd { (date(&m["CreationDate"])) }
                        dt { (t("rotation")) } dd {
                            @match &rotation {
                                Ok(r) => { @if r["KeyRotationEnabled"].as_bool() == Some(true) { (t("rotation_on")) } @else { (t("rotation_off")) } }
                                Err(e) => (e.code),
                            }
                        }
                    }
                    div.buttons {
                        @if state == "Enabled" { (action("disable", "disable_key", "")) }
                        @if state == "Disabled" { (action("enable", "enable_key", "")) }
                        @if rotation.as_ref().is_ok_and(|r| r["KeyRotationEnabled"].as_bool() == Some(true)) {
                            (action("rotation_off", "rotation_disable", ""))
                        } @else if state == "Enabled" && rotation.is_ok() {
                            (action("rotation_on", "rotation_enable", ""))
                        }
                    }
                }
                section.card {
                    h2 { (t("key_policy")) }
                    @match &policy {
                        Err(e) => (error_box(e)),
                        Ok(p) => {
                            form method="post" action=(back) {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="op" value="policy";
                                textarea #key-policy name="policy" rows="16" spellcheck="false" aria-label=(t("key_policy")) {
                                    (super::secrets::pretty(p["Policy"].as_str().unwrap_or_default()))
                                }
                                div.buttons { button type="submit" { (t("save")) } }
                            }
                        }
                    }
                }
                section.card #tags {
                    h2 { (t("tags")) }
                    @match &tags {
                        Err(e) => (error_box(e)),
                        Ok(out) => {
                            @let list = out["Tags"].as_array().cloned().unwrap_or_default();
                            @if list.is_empty() { p.empty { (t("none")) } } @else {
                                table.list.tags {
                                    thead { tr { th scope="col" { (t("key")) } th scope="col" { (t("value")) } th scope="col" { span.visually-hidden { (t("actions")) } } } }
                                    tbody { @for tag in &list {
                                        @let k = tag["TagKey"].as_str().unwrap_or_default();
                                        tr {
                                            td { (k) }
                                            td { (tag["TagValue"].as_str().unwrap_or_default()) }
                                            td { a.button.small.danger href=(untag_url(&q.id, k)) aria-label={ (t("remove")) ": " (k) } { (t("remove")) } }
                                        }
                                    } }
                                }
                            }
                        }
                    }
                    form method="post" action=(back) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="op" value="tag";
                        label for="tag_key" { (t("key")) }
                        input #tag_key type="text" name="tag_key" required maxlength="128";
                        label for="tag_value" { (t("value")) }
                        input #tag_value type="text" name="tag_value" maxlength="256";
                        div.buttons { button type="submit" { (t("add_tag_button")) } }
                    }
                }
                @if state != "PendingDeletion" {
                    section.card.danger {
                        h2 { (t("schedule_key_deletion")) }
                        form method="post" action=(back) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="op" value="schedule_deletion";
                            label for="days" { (t("waiting_period")) }
                            input #days type="number" name="days" min="7" max="30" value="30" required;
                            button.danger type="submit" { (t("schedule_deletion")) }
                        }
                    }
                }
            }
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}

async fn key_action(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<KeyQuery>,
    body: Bytes,
) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let key_id = q.id.as_str();
    let (op, input) = match form.get("op").unwrap_or_default() {
        "enable" => ("EnableKey", json!({"KeyId": key_id})),
        "disable" => ("DisableKey", json!({"KeyId": key_id})),
        "rotation_on" => ("EnableKeyRotation", json!({"KeyId": key_id})),
        "rotation_off" => ("DisableKeyRotation", json!({"KeyId": key_id})),
        "cancel_deletion" => ("CancelKeyDeletion", json!({"KeyId": key_id})),
        "description" => (
            "UpdateKeyDescription",
            json!({"KeyId": key_id, "Description": form.get("description").unwrap_or_default()}),
        ),
        "tag" => (
            "TagResource",
            json!({"KeyId": key_id, "Tags": [{"TagKey": form.get("tag_key").unwrap_or_default(), "TagValue": form.get("tag_value").unwrap_or_default()}]}),
        ),
        "untag" => (
            "UntagResource",
            json!({"KeyId": key_id, "TagKeys": [form.get("tag_key").unwrap_or_default()]}),
        ),
        "policy" => (
            "PutKeyPolicy",
            json!({"KeyId": key_id, "PolicyName": "default", "Policy": form.get("policy").unwrap_or_default()}),
        ),
        "schedule_deletion" => {
            let days = form.get("days").and_then(|d| d.trim().parse::<i64>().ok());
            (
                "ScheduleKeyDeletion",
                json!({"KeyId": key_id, "PendingWindowInDays": days}),
            )
        }
        _ => return Redirect::to(&key_url(key_id)).into_response(),
    };
    let flash = match kms(&console, &ctx, who, op, input).await {
        Ok(_) => (false, ctx.lang.t("done").to_owned()),
        Err(e) => failed(&e),
    };
    console.redirect_with(id, flash, &key_url(key_id))
}

fn untag_url(key_id: &str, tag_key: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("id", key_id)
        .append_pair("tag", tag_key)
        .finish();
    format!("/console/kms/key/untag?{q}")
}

#[derive(serde::Deserialize)]
struct UntagQuery {
    id: String,
    tag: String,
}

/// Asks before a key's tag is removed.
async fn confirm_untag(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    Query(q): Query<UntagQuery>,
) -> Response {
    let _ = &console;
    let (_, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let back = key_url(&q.id);
    let about = html! { p { code { "kms:UntagResource" } } dl.props { dt { (ctx.lang.t("key")) } dd { code { (q.tag) } } } };
    super::iam::act::confirm_page(
        &ctx,
        who,
        ctx.lang.t("confirm_remove_tag"),
        about,
        &back,
        &[("op", "untag"), ("tag_key", &q.tag)],
        &back,
        html! {},
    )
}

async fn accounts(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let listed = call(
        &console,
        &ctx,
        who,
        ServiceName::Organizations,
        "ListAccounts",
        &json!({}),
    )
    .await;
    let page = Page {
        lang: ctx.lang,
        title: t("organization"),
        who: Some(who),
        csrf: &session.csrf,
        back: "/console/organizations",
        flash: console.sessions.take_flash(id),
    };
    let content = html! {
        h1 { (t("organization")) }
        @match &listed {
            Err(e) => (error_box(e)),
            Ok(out) => {
                table.list.accounts {
                    thead { tr { th scope="col" { (t("account_name")) } th scope="col" { (t("account_id")) } th scope="col" { (t("email")) } th scope="col" { (t("status")) } } }
                    tbody { @for a in out["Accounts"].as_array().cloned().unwrap_or_default() {
                        tr {
                            td { (a["Name"].as_str().unwrap_or_default()) }
                            td { code { (a["Id"].as_str().unwrap_or_default()) } }
                            td { (a["Email"].as_str().unwrap_or_default()) }
                            td { (a["Status"].as_str().unwrap_or_default()) }
                        }
                    } }
                }
            }
        }
        form.card method="post" action="/console/organizations" {
            h2 { (t("create_account")) }
            input type="hidden" name="csrf" value=(session.csrf);
            label for="account_name" { (t("account_name")) }
            input #account_name type="text" name="name" required;
            label for="email" { (t("email")) }
            input #email type="email" name="email" required;
            div.buttons { button.primary type="submit" { (t("create_account")) } }
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}

async fn create_account(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let input = json!({"AccountName": form.get("name").unwrap_or_default(), "Email": form.get("email").unwrap_or_default()});
    let flash = match call(
        &console,
        &ctx,
        who,
        ServiceName::Organizations,
        "CreateAccount",
        &input,
    )
    .await
    {
        Ok(out) => (
            false,
            format!(
                "{} {}",
                ctx.lang.t("account_requested"),
                out["CreateAccountStatus"]["State"].as_str().unwrap_or_default()
            ),
        ),
        Err(e) => failed(&e),
    };
    console.redirect_with(id, flash, "/console/organizations")
}
