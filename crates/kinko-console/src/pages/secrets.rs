//! Secrets Manager: the list, storing a new secret, its details, its value (only on an explicit
//! action), deleting it with a waiting period and cancelling that. Every action is the API's
//! operation of the same name, run as the signed-in principal.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kinko_api::ServiceName;
use kinko_wire::WireError;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Page, date, error_box, layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, Form, call, check_post};

pub(crate) fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/secrets", get(list))
        .route("/secrets/new", get(new_form).post(new_submit))
        .route("/secrets/details", get(details))
        .route("/secrets/reveal", post(reveal))
        .route("/secrets/value", post(value_json))
        .route("/secrets/delete", post(delete))
        .route("/secrets/restore", post(restore))
        .route("/secrets/put", post(put_value))
        .route("/secrets/stage", post(move_stage))
        .route("/secrets/compare", post(compare))
        .route("/secrets/rotation", post(rotation))
}

async fn sm(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    op: &str,
    input: Value,
) -> Result<Value, WireError> {
    call(console, ctx, who, ServiceName::SecretsManager, op, &input).await
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn details_url(id: &str) -> String {
    format!("/console/secrets/details?{}", query_string(&[("id", id)]))
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct ListQuery {
    q: Option<String>,
    deleted: Option<String>,
    order: Option<String>,
    next: Option<String>,
}

async fn list(State(console): State<Arc<Console>>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let search = q.q.clone().unwrap_or_default();
    let show_deleted = q.deleted.as_deref() == Some("on");
    let order = if q.order.as_deref() == Some("asc") {
        "asc"
    } else {
        "desc"
    };
    let mut input = json!({"MaxResults": 25, "SortOrder": order, "IncludePlannedDeletion": show_deleted});
    if !search.trim().is_empty() {
        input["Filters"] = json!([{"Key": "all", "Values": [search.trim()]}]);
    }
    if let Some(next) = &q.next {
        input["NextToken"] = json!(next);
    }
    let result = sm(&console, &ctx, who, "ListSecrets", input).await;
    let mut back = format!(
        "/console/secrets?{}",
        query_string(&[("q", &search), ("order", order)])
    );
    if show_deleted {
        back.push_str("&deleted=on");
    }
    let page = Page {
        lang,
        title: t("secrets"),
        who: Some(who),
        csrf: &session.csrf,
        back: &back,
        flash: console.sessions.take_flash(id),
    };
    let content = html! {
        div.heading {
            h1 { (t("secrets")) }
            a.button.primary href="/console/secrets/new" { (t("store_new_secret")) }
        }
        form.filters method="get" action="/console/secrets" role="search" {
            label.visually-hidden for="q" { (t("search")) }
            input #q type="search" name="q" value=(search) placeholder=(t("search"));
            label for="order" { select #order name="order" {
                option value="desc" selected[order == "desc"] { (t("newest_first")) }
                option value="asc" selected[order == "asc"] { (t("oldest_first")) }
            } }
            label { input type="checkbox" name="deleted" value="on" checked[show_deleted]; " " (t("show_deleted")) }
            button type="submit" { (t("search_button")) }
        }
        @match &result {
            Err(e) => (error_box(e)),
            Ok(out) => {
                @let secrets = out["SecretList"].as_array().cloned().unwrap_or_default();
                @if secrets.is_empty() {
                    p.empty { (t("no_secrets")) }
                } @else {
                    table.list {
                        thead { tr {
                            th scope="col" { (t("secret_name")) }
                            th scope="col" { (t("description")) }
                            th scope="col" { (t("last_retrieved")) }
                            th scope="col" { (t("created")) }
                        } }
                        tbody {
                            @for s in &secrets {
                                tr {
                                    td {
                                        a href=(details_url(s["ARN"].as_str().unwrap_or_default())) { (s["Name"].as_str().unwrap_or_default()) }
                                        @if !s["DeletedDate"].is_null() {
                                            " " span.badge.danger { (t("pending_deletion")) }
                                        }
                                    }
                                    td { (s["Description"].as_str().unwrap_or_default()) }
                                    td { (super::day(&s["LastAccessedDate"])) }
                                    td { (date(&s["CreatedDate"])) }
                                }
                            }
                        }
                    }
                }
                nav.pager {
                    @if q.next.is_some() {
                        a href=(back) { (t("first_page")) }
                    }
                    @if let Some(next) = out["NextToken"].as_str() {
                        a href={ (back) "&" (query_string(&[("next", next)])) } { (t("next_page")) }
                    }
                }
            }
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}

/// The new-secret form's state: what was typed so far (re-shown after "add row" or an error).
#[derive(Default)]
struct Draft {
    plaintext_kind: bool,
    rows: Vec<(String, String)>,
    plaintext: String,
    name: String,
    description: String,
    kms_key_id: String,
    tags: Vec<(String, String)>,
    policy: String,
}

impl Draft {
    fn of(form: &Form) -> Draft {
        let pairs = |a: &str, b: &str| -> Vec<(String, String)> {
            form.all(a)
                .into_iter()
                .zip(form.all(b))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        Draft {
            plaintext_kind: form.get("kind") == Some("plaintext"),
            rows: pairs("k", "v"),
            plaintext: form.get("plaintext").unwrap_or_default().to_owned(),
            name: form.get("name").unwrap_or_default().trim().to_owned(),
            description: form.get("description").unwrap_or_default().to_owned(),
            kms_key_id: form.get("kms_key_id").unwrap_or_default().trim().to_owned(),
            tags: pairs("tk", "tv"),
            policy: form.get("policy").unwrap_or_default().to_owned(),
        }
    }

    /// The secret string: the key/value rows as a JSON object (in their order, as the AWS console
    /// stores them), or the plaintext.
    fn secret_string(&self) -> Result<String, &'static str> {
        if self.plaintext_kind {
            return Ok(self.plaintext.clone());
        }
        let rows: Vec<&(String, String)> = self
            .rows
            .iter()
            .filter(|(k, v)| !k.is_empty() || !v.is_empty())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut out = String::from("{");
        for (i, (k, v)) in rows.iter().enumerate() {
            if k.is_empty() {
                return Err("Every row needs a key.");
            }
            if !seen.insert(k.as_str()) {
                return Err("Each key can be used only once.");
            }
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(k.clone()).to_string());
            out.push(':');
            out.push_str(&Value::String(v.clone()).to_string());
        }
        out.push('}');
        Ok(out)
    }
}

async fn new_form(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = console.sessions.take_flash(id);
    new_page(&ctx, &session.csrf, who, &Draft::default(), flash, StatusCode::OK)
}

fn new_page(
    ctx: &Ctx,
    csrf: &str,
    who: &SignedIn,
    d: &Draft,
    flash: Option<(bool, String)>,
    status: StatusCode,
) -> Response {
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let page = Page {
        lang,
        title: t("store_new_secret"),
        who: Some(who),
        csrf,
        back: "/console/secrets/new",
        flash,
    };
    let mut rows = d.rows.clone();
    if rows.is_empty() {
        rows.push((String::new(), String::new()));
    }
    let content = html! {
        h1 { (t("store_new_secret")) }
        form.card method="post" action="/console/secrets/new" {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { (t("secret_type")) }
                p { strong { (t("other_type")) } }
                div.tabs role="radiogroup" {
                    label { input type="radio" name="kind" value="kv" checked[!d.plaintext_kind]; " " (t("key_value")) }
                    label { input type="radio" name="kind" value="plaintext" checked[d.plaintext_kind]; " " (t("plaintext")) }
                }
                table.rows #kv-rows {
                    thead { tr { th scope="col" { (t("key")) } th scope="col" { (t("value")) } } }
                    tbody {
                        @for (i, (k, v)) in rows.iter().enumerate() {
                            tr {
                                td { input type="text" name="k" value=(k) aria-label={ (t("key")) " " (i + 1) }; }
                                td { input type="password" name="v" value=(v) autocomplete="off" aria-label={ (t("value")) " " (i + 1) }; }
                            }
                        }
                    }
                }
                button type="submit" name="op" value="add_row" formnovalidate { (t("add_row")) }
                label for="plaintext" { (t("plaintext")) }
                textarea #plaintext name="plaintext" rows="6" spellcheck="false" { (d.plaintext) }
            }
            fieldset {
                legend { (t("encryption_key")) }
                label for="kms_key_id" { (t("encryption_key")) }
                input #kms_key_id type="text" name="kms_key_id" value=(d.kms_key_id) placeholder=(t("kms_default"));
            }
            fieldset {
                legend { (t("secret_name")) }
                label for="name" { (t("secret_name")) }
                input #name type="text" name="name" value=(d.name) required maxlength="512";
                label for="description" { (t("description")) }
                textarea #description name="description" rows="2" { (d.description) }
            }
            fieldset {
                legend { (t("tags")) }
                p.hint { (t("tags_warning")) }
                @for (k, v) in &d.tags {
                    div.tagrow {
                        input type="text" name="tk" value=(k) aria-label=(t("key"));
                        input type="text" name="tv" value=(v) aria-label=(t("value"));
                    }
                }
                div.tagrow {
                    input type="text" name="tk" aria-label=(t("key"));
                    input type="text" name="tv" aria-label=(t("value"));
                }
                button type="submit" name="op" value="add_tag" formnovalidate { (t("add_tag")) }
            }
            fieldset {
                legend { (t("resource_permissions")) }
                label for="policy" { (t("resource_policy")) }
                textarea #policy name="policy" rows="6" spellcheck="false" { (d.policy) }
            }
            div.buttons {
                a.button href="/console/secrets" { (t("cancel")) }
                button.primary type="submit" name="op" value="store" { (t("store")) }
            }
        }
    };
    respond(status, layout(&page, content))
}

async fn new_submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut draft = Draft::of(&form);
    draft.tags.retain(|(k, v)| !k.is_empty() || !v.is_empty());
    match form.get("op") {
        Some("add_row") => {
            draft.rows.push((String::new(), String::new()));
            return new_page(&ctx, &session.csrf, who, &draft, None, StatusCode::OK);
        }
        Some("add_tag") => {
            draft.tags.push((String::new(), String::new()));
            return new_page(&ctx, &session.csrf, who, &draft, None, StatusCode::OK);
        }
        _ => {}
    }
    let secret_string = match draft.secret_string() {
        Ok(s) => s,
        Err(why) => {
            return new_page(
                &ctx,
                &session.csrf,
                who,
                &draft,
                Some((true, why.to_owned())),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    // As the SDKs do: a new token per request (an idempotency token the console never resends).
    let mut input = json!({
        "Name": draft.name,
        "SecretString": secret_string,
        "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
    });
    if !draft.description.is_empty() {
        input["Description"] = json!(draft.description);
    }
    if !draft.kms_key_id.is_empty() {
        input["KmsKeyId"] = json!(draft.kms_key_id);
    }
    if !draft.tags.is_empty() {
        input["Tags"] = Value::Array(
            draft
                .tags
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect(),
        );
    }
    let created = match sm(&console, &ctx, who, "CreateSecret", input).await {
        Ok(out) => out,
        Err(e) => {
            let text = format!("{}: {}", e.code, e.message);
            return new_page(
                &ctx,
                &session.csrf,
                who,
                &draft,
                Some((true, text)),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let arn = created["ARN"].as_str().unwrap_or_default().to_owned();
    if !draft.policy.trim().is_empty() {
        let put = sm(
            &console,
            &ctx,
            who,
            "PutResourcePolicy",
            json!({"SecretId": arn, "ResourcePolicy": draft.policy}),
        )
        .await;
        if let Err(e) = put {
            // The secret is stored; its policy is not: say so on its page.
            console.sessions.update(id, |s| {
                s.flash = Some((true, format!("{}: {}", e.code, e.message)))
            });
            return Redirect::to(&details_url(&arn)).into_response();
        }
    }
    let stored = ctx.lang.t("secret_stored").to_owned();
    console.sessions.update(id, |s| s.flash = Some((false, stored)));
    Redirect::to("/console/secrets").into_response()
}

#[derive(serde::Deserialize)]
struct IdQuery {
    id: String,
}

async fn details(State(console): State<Arc<Console>>, ctx: Ctx, Query(q): Query<IdQuery>) -> Response {
    let (id, _, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let flash = console.sessions.take_flash(id);
    details_page(&console, &ctx, who, &q.id, None, flash).await
}

/// The secret's details; with its value when `value` holds GetSecretValue's answer.
async fn details_page(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    secret_id: &str,
    value: Option<Result<Value, WireError>>,
    flash: Option<(bool, String)>,
) -> Response {
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let described = sm(
        console,
        ctx,
        who,
        "DescribeSecret",
        json!({"SecretId": secret_id}),
    )
    .await;
    let back = details_url(secret_id);
    let title = described
        .as_ref()
        .ok()
        .and_then(|d| d["Name"].as_str())
        .unwrap_or(secret_id)
        .to_owned();
    let page = Page {
        lang,
        title: &title,
        who: Some(who),
        csrf: &csrf,
        back: &back,
        flash,
    };
    let d = match described {
        Ok(d) => d,
        Err(e) => {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            let content = html! { h1 { (secret_id) } (error_box(&e)) p { a href="/console/secrets" { (t("secrets")) } } };
            return respond(status, layout(&page, content));
        }
    };
    let arn = d["ARN"].as_str().unwrap_or_default().to_owned();
    let policy = sm(console, ctx, who, "GetResourcePolicy", json!({"SecretId": arn})).await;
    let activity = super::audit::lookup(console, ctx, who, "ResourceName", &arn, 20).await;
    // The functions the principal may list, for the rotation form (none if it may not).
    let functions: Vec<String> = crate::call_lambda(console, ctx, who, "GET", "/2015-03-31/functions/")
        .await
        .ok()
        .and_then(|out| {
            out["Functions"].as_array().map(|fs| {
                fs.iter()
                    .filter_map(|f| f["FunctionArn"].as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default();
    let deleted = !d["DeletedDate"].is_null();
    // When it will be deleted: after its waiting period (see `deletion_date`'s note).
    let deletion_date = if deleted {
        kinko_api::secretsmanager::deletion_date(&console.services, &arn)
            .await
            .ok()
            .flatten()
            .map(|t| Value::from(t.epoch_seconds()))
    } else {
        None
    };
    let content = html! {
        div.heading {
            h1 { (title) }
        }
        @if deleted {
            div.alert.warning role="status" {
                span { (t("scheduled_for_deletion")) " " strong { (date(deletion_date.as_ref().unwrap_or(&d["DeletedDate"]))) } "." }
                form.inline method="post" action="/console/secrets/restore" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(arn);
                    button type="submit" { (t("cancel_deletion")) }
                }
            }
        }
        section.card {
            h2 { (t("secret_details")) }
            dl.props {
                dt { (t("encryption_key")) } dd { (d["KmsKeyId"].as_str().unwrap_or("aws/secretsmanager")) }
                dt { (t("secret_name")) } dd { (title) }
                dt { (t("secret_arn")) }
                dd.copyable {
                    code #secret-arn { (arn) }
                    " " button.small type="button" data-copy-text=(arn) data-copied=(t("copied")) { (t("copy")) }
                }
                dt { (t("description")) } dd { (d["Description"].as_str().unwrap_or("-")) }
                dt { (t("created")) } dd { (date(&d["CreatedDate"])) }
                dt { (t("last_changed")) } dd { (date(&d["LastChangedDate"])) }
                dt { (t("last_retrieved")) } dd { (super::day(&d["LastAccessedDate"])) }
            }
        }
        section.card #value {
            h2 { (t("secret_value")) }
            @match &value {
                None => {
                    @if deleted {
                        p.hint { (t("value_while_deleted")) }
                    } @else {
                        div.buttons {
                            form.inline method="post" action="/console/secrets/reveal" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="id" value=(arn);
                                button.primary type="submit" { (t("retrieve_secret_value")) }
                            }
                            button type="button" data-copy-secret=(arn) data-csrf=(csrf) data-copied=(t("copied")) { (t("copy_value")) }
                        }
                    }
                }
                Some(Err(e)) => (error_box(e)),
                Some(Ok(v)) => {
                    (value_view(lang, v))
                    @if let Some(text) = v["SecretString"].as_str() {
                        details.edit {
                            summary { (t("edit_value")) }
                            form method="post" action="/console/secrets/put" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="id" value=(arn);
                                label for="new-value" { (t("plaintext")) }
                                textarea #new-value name="value" rows="6" spellcheck="false" { (text) }
                                div.buttons { button.primary type="submit" { (t("save")) } }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (t("rotation")) }
            @if d["RotationEnabled"].as_bool() == Some(true) {
                p { (t("rotation_on")) }
                dl.props {
                    dt { (t("rotation_function")) } dd { code { (d["RotationLambdaARN"].as_str().unwrap_or_default()) } }
                    dt { (t("last_rotated")) } dd { (date(&d["LastRotatedDate"])) }
                    dt { (t("next_rotation")) } dd { (date(&d["NextRotationDate"])) }
                }
            } @else {
                p { (t("rotation_off")) }
            }
            @if !deleted {
                details.edit {
                    summary { (t("edit_rotation")) }
                    form method="post" action="/console/secrets/rotation" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="id" value=(arn);
                        label for="rotation-function" { (t("rotation_function")) }
                        select #rotation-function name="function" {
                            @for f in &functions {
                                option value=(f) selected[d["RotationLambdaARN"].as_str() == Some(f.as_str())] { (f) }
                            }
                        }
                        label for="schedule" { (t("rotation_schedule")) }
                        input #schedule type="text" name="schedule" value=(schedule_of(&d)) placeholder="rate(30 days)";
                        p.hint { (t("rotation_schedule_help")) }
                        label { input type="checkbox" name="immediately" value="true" checked; " " (t("rotate_immediately")) }
                        div.buttons {
                            @if d["RotationEnabled"].as_bool() == Some(true) {
                                button type="submit" name="op" value="cancel" { (t("cancel_rotation")) }
                            }
                            button.primary type="submit" name="op" value="rotate" { (t("save")) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (t("versions")) }
            @let versions = d["VersionIdsToStages"].as_object().cloned().unwrap_or_default();
            table.list.versions {
                thead { tr { th scope="col" { (t("version_id")) } th scope="col" { (t("staging_labels")) } th scope="col" { (t("move_label")) } } }
                tbody {
                    @for (version, stages) in &versions {
                        tr {
                            td { code { (version) } }
                            td {
                                @for stage in stages.as_array().cloned().unwrap_or_default() {
                                    span.badge { (stage.as_str().unwrap_or_default()) } " "
                                }
                            }
                            td {
                                form.inline method="post" action="/console/secrets/stage" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="id" value=(arn);
                                    input type="hidden" name="version" value=(version);
                                    input.short type="text" name="stage" value="AWSCURRENT" aria-label=(t("staging_labels"));
                                    " " button.small type="submit" { (t("move_here")) }
                                }
                            }
                        }
                    }
                }
            }
            @if versions.len() > 1 && !deleted {
                form.compare method="post" action="/console/secrets/compare" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(arn);
                    label for="cmp-a" { (t("compare_versions")) }
                    select #cmp-a name="a" { @for (v, _) in &versions { option value=(v) { (v) } } }
                    select #cmp-b name="b" aria-label=(t("compare_versions")) { @for (i, (v, _)) in versions.iter().enumerate() { option value=(v) selected[i == 1] { (v) } } }
                    " " button type="submit" { (t("compare")) }
                }
            }
        }
        section.card {
            h2 { (t("tags")) }
            @if let Some(tags) = d["Tags"].as_array().filter(|t| !t.is_empty()) {
                table.list {
                    thead { tr { th scope="col" { (t("key")) } th scope="col" { (t("value")) } } }
                    tbody { @for tag in tags { tr { td { (tag["Key"].as_str().unwrap_or_default()) } td { (tag["Value"].as_str().unwrap_or_default()) } } } }
                }
            } @else {
                p { (t("none")) }
            }
        }
        section.card {
            h2 { (t("replication")) }
            @if let Some(primary) = d["PrimaryRegion"].as_str() {
                p { (t("primary_region")) ": " (primary) }
            }
            @if let Some(replicas) = d["ReplicationStatus"].as_array().filter(|r| !r.is_empty()) {
                ul { @for r in replicas { li { (r["Region"].as_str().unwrap_or_default()) " — " (r["Status"].as_str().unwrap_or_default()) } } }
            } @else {
                p { (t("no_replicas")) }
            }
        }
        section.card {
            h2 { (t("resource_policy")) }
            @match &policy {
                Ok(p) => {
                    @if let Some(doc) = p["ResourcePolicy"].as_str() {
                        pre.code { (pretty(doc)) }
                    } @else {
                        p { (t("no_resource_policy")) }
                    }
                }
                Err(e) => (error_box(e)),
            }
        }
        (super::readers::section(lang, &arn))
        section.card #activity {
            h2 { (t("activity")) }
            p.hint { (t("activity_help")) }
            @match &activity {
                Ok(out) => (super::audit::events_table(lang, out)),
                Err(e) => (error_box(e)),
            }
        }
        @if !deleted {
            section.card.danger {
                h2 { (t("delete_secret")) }
                form method="post" action="/console/secrets/delete" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(arn);
                    label for="days" { (t("waiting_period")) }
                    input #days type="number" name="days" min="7" max="30" value="7" required;
                    p.hint { (t("waiting_period_help")) }
                    button.danger type="submit" { (t("schedule_deletion")) }
                }
            }
        }
    };
    let mut resp = respond(StatusCode::OK, layout(&page, content));
    // The page may hold a value: never kept by the browser or a proxy (as every console page).
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A secret's value: a JSON object's keys and values as a table, and the plaintext.
fn value_view(lang: crate::Lang, v: &Value) -> Markup {
    let t = |k| lang.t(k);
    let text = v["SecretString"].as_str();
    let object = text.and_then(|s| serde_json::from_str::<serde_json::Map<String, Value>>(s).ok());
    html! {
        @match text {
            None => p { (t("binary")) },
            Some(text) => {
                @if let Some(object) = &object {
                    h3 { (t("key_value")) }
                    table.list.secret-value {
                        thead { tr { th scope="col" { (t("key")) } th scope="col" { (t("value")) } } }
                        tbody {
                            @for (k, val) in object {
                                tr { td { (k) } td { code { @match val { Value::String(s) => (s), other => (other.to_string()) } } } }
                            }
                        }
                    }
                }
                h3 { (t("plaintext")) }
                pre.code.secret-value #secret-plaintext { (text) }
            }
        }
    }
}

/// A policy document indented, when it is JSON.
pub(crate) fn pretty(doc: &str) -> String {
    serde_json::from_str::<Value>(doc)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| doc.to_owned())
}

/// Shows the value: GetSecretValue as the principal, on the details page.
async fn reveal(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, _, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let value = sm(
        &console,
        &ctx,
        who,
        "GetSecretValue",
        json!({"SecretId": secret_id}),
    )
    .await;
    details_page(&console, &ctx, who, &secret_id, Some(value), None).await
}

/// The value for "copy secret value": GetSecretValue's `SecretString` as JSON, read by the
/// page's script and put on the clipboard without being shown.
async fn value_json(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(refused) = check_post(&console, &ctx, &form) {
        return refused;
    }
    let Ok((_, _, who)) = ctx.signed_in() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let (status, doc) = match sm(
        &console,
        &ctx,
        who,
        "GetSecretValue",
        json!({"SecretId": secret_id}),
    )
    .await
    {
        Ok(v) => (StatusCode::OK, json!({"SecretString": v["SecretString"]})),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"code": e.code, "message": e.message}),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}

/// Schedules the deletion, with the waiting period given.
async fn delete(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let days: Value = form
        .get("days")
        .and_then(|d| d.trim().parse::<i64>().ok())
        .map_or(Value::Null, Value::from);
    let mut input = json!({"SecretId": secret_id});
    if !days.is_null() {
        input["RecoveryWindowInDays"] = days;
    }
    let flash = match sm(&console, &ctx, who, "DeleteSecret", input).await {
        Ok(_) => (false, ctx.lang.t("deletion_scheduled").to_owned()),
        Err(e) => (true, format!("{}: {}", e.code, e.message)),
    };
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Cancels a scheduled deletion (RestoreSecret).
async fn restore(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let flash = match sm(
        &console,
        &ctx,
        who,
        "RestoreSecret",
        json!({"SecretId": secret_id}),
    )
    .await
    {
        Ok(_) => (false, ctx.lang.t("deletion_cancelled").to_owned()),
        Err(e) => (true, format!("{}: {}", e.code, e.message)),
    };
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Stores a new version (PutSecretValue), which becomes `AWSCURRENT`.
async fn put_value(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let input = json!({
        "SecretId": secret_id,
        "SecretString": form.get("value").unwrap_or_default(),
        "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
    });
    let flash = match sm(&console, &ctx, who, "PutSecretValue", input).await {
        Ok(_) => (false, ctx.lang.t("value_saved").to_owned()),
        Err(e) => (true, format!("{}: {}", e.code, e.message)),
    };
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Moves a staging label to a version (UpdateSecretVersionStage), from the version that has it.
async fn move_stage(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let stage = form.get("stage").unwrap_or_default().trim().to_owned();
    let version = form.get("version").unwrap_or_default().to_owned();
    let described = sm(
        &console,
        &ctx,
        who,
        "DescribeSecret",
        json!({"SecretId": secret_id}),
    )
    .await;
    let holder = described.as_ref().ok().and_then(|d| {
        d["VersionIdsToStages"].as_object().and_then(|m| {
            m.iter()
                .find(|(_, stages)| {
                    stages
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == stage.as_str()))
                })
                .map(|(v, _)| v.clone())
        })
    });
    let mut input = json!({"SecretId": secret_id, "VersionStage": stage, "MoveToVersionId": version});
    if let Some(from) = holder {
        input["RemoveFromVersionId"] = json!(from);
    }
    let flash = crate::outcome(
        ctx.lang,
        &sm(&console, &ctx, who, "UpdateSecretVersionStage", input).await,
    );
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Two versions side by side: for JSON objects, the keys added, removed and changed.
async fn compare(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, _, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let mut values = Vec::new();
    for side in ["a", "b"] {
        let version = form.get(side).unwrap_or_default().to_owned();
        let got = sm(
            &console,
            &ctx,
            who,
            "GetSecretValue",
            json!({"SecretId": secret_id, "VersionId": version}),
        )
        .await;
        values.push((version, got));
    }
    let back = details_url(&secret_id);
    let page = Page {
        lang,
        title: t("compare_versions"),
        who: Some(who),
        csrf: &session.csrf,
        back: &back,
        flash: None,
    };
    let text = |r: &Result<Value, WireError>| {
        r.as_ref()
            .ok()
            .and_then(|v| v["SecretString"].as_str().map(str::to_owned))
    };
    let (a, b) = (text(&values[0].1), text(&values[1].1));
    let objects = a
        .as_deref()
        .and_then(|a| serde_json::from_str::<serde_json::Map<String, Value>>(a).ok())
        .zip(
            b.as_deref()
                .and_then(|b| serde_json::from_str::<serde_json::Map<String, Value>>(b).ok()),
        );
    let content = html! {
        h1 { (t("compare_versions")) }
        p { a href=(back) { (t("secret_details")) } }
        @for (_, got) in &values { @if let Err(e) = got { (error_box(e)) } }
        @if let Some((old, new)) = &objects {
            table.list.diff {
                thead { tr { th scope="col" { (t("key")) } th scope="col" { code { (values[0].0) } } th scope="col" { code { (values[1].0) } } } }
                tbody {
                    @for key in old.keys().chain(new.keys().filter(|k| !old.contains_key(*k))) {
                        @let (x, y) = (old.get(key), new.get(key));
                        tr class=(if x == y { "same" } else { "changed" }) {
                            td { (key) }
                            td { code { (x.map(show).unwrap_or_default()) } }
                            td { code { (y.map(show).unwrap_or_default()) } }
                        }
                    }
                }
            }
        } @else {
            div.sidebyside {
                div { h3 { code { (values[0].0) } } pre.code { (a.unwrap_or_default()) } }
                div { h3 { code { (values[1].0) } } pre.code { (b.unwrap_or_default()) } }
            }
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}

/// A JSON value as the comparison shows it: a string as itself, anything else as JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The schedule of a secret's rotation rules as the form shows it: its expression, or
/// `rate(N days)` for `AutomaticallyAfterDays`.
fn schedule_of(d: &Value) -> String {
    let rules = &d["RotationRules"];
    if let Some(e) = rules["ScheduleExpression"].as_str() {
        return e.to_owned();
    }
    rules["AutomaticallyAfterDays"]
        .as_i64()
        .map(|n| format!("rate({n} days)"))
        .unwrap_or_default()
}

/// Turns rotation on with a function and a schedule (RotateSecret), or off (CancelRotateSecret).
async fn rotation(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let result = if form.get("op") == Some("cancel") {
        sm(
            &console,
            &ctx,
            who,
            "CancelRotateSecret",
            json!({"SecretId": secret_id}),
        )
        .await
    } else {
        let mut input = json!({
            "SecretId": secret_id,
            "RotationLambdaARN": form.get("function").unwrap_or_default(),
            "RotateImmediately": form.get("immediately") == Some("true"),
            "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
        });
        let schedule = form.get("schedule").unwrap_or_default().trim();
        if !schedule.is_empty() {
            input["RotationRules"] = json!({"ScheduleExpression": schedule});
        }
        sm(&console, &ctx, who, "RotateSecret", input).await
    };
    let flash = match result {
        Ok(_) => (false, ctx.lang.t("done").to_owned()),
        Err(e) => (true, format!("{}: {}", e.code, e.message)),
    };
    console.redirect_with(id, flash, &details_url(&secret_id))
}
