//! Secrets Manager: the list, storing a new secret, its details, its value (only on an explicit
//! action), deleting it with a waiting period and cancelling that. Every action is the API's
//! operation of the same name, run as the signed-in principal.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
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
        .route(
            "/secrets/new",
            get(new_form)
                .post(new_submit)
                .layer(DefaultBodyLimit::max(NEW_SECRET_FORM_LIMIT)),
        )
        .route("/secrets/details", get(details))
        .route("/secrets/reveal", post(reveal))
        .route("/secrets/value", post(value_json))
        .route("/secrets/delete", post(delete))
        .route("/secrets/restore", post(restore))
        .route("/secrets/put", post(put_value))
        .route("/secrets/stage", post(move_stage))
        .route("/secrets/compare", post(compare))
        .route("/secrets/rotation", post(rotation))
        .route("/secrets/update", post(update))
        .route("/secrets/tags", post(tags))
        .route("/secrets/replication", post(replication))
        .route("/secrets/policy", post(policy))
        .route("/secrets/download", post(download))
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

/// How a new secret's value is given.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Kind {
    #[default]
    KeyValue,
    Plaintext,
    /// A file, stored as `SecretBinary`.
    Binary,
}

/// The most a new-secret form may send: a value is at most 64 KiB (`SecretString` or
/// `SecretBinary`), a resource policy 20 KiB, and an uploaded file is kept in the form (in base64)
/// when it is shown again; the rest is small. A larger body is refused before it is read whole.
const NEW_SECRET_FORM_LIMIT: usize = 512 * 1024;
/// The largest `SecretBinary` (AWS's quota); a larger upload is left to CreateSecret to refuse,
/// and is not kept in the form.
const MAX_SECRET_BYTES: usize = 65_536;

/// The new-secret form's state: what was typed so far (re-shown after "add row" or an error).
#[derive(Default)]
struct Draft {
    kind: Kind,
    rows: Vec<(String, String)>,
    plaintext: String,
    /// The file uploaded for a binary value: its name and bytes.
    binary: Option<(String, Vec<u8>)>,
    name: String,
    description: String,
    kms_key_id: String,
    tags: Vec<(String, String)>,
    /// Replica regions and, for each, a KMS key (empty: that region's `aws/secretsmanager`).
    replicas: Vec<(String, String)>,
    policy: String,
    /// Why the resource policy was refused, shown next to its editor.
    policy_problems: Vec<String>,
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
        // A file chosen now, else the one uploaded before and kept in the form.
        let binary = form
            .file("binary")
            .map(|(n, b)| (n.to_owned(), b.to_vec()))
            .or_else(|| {
                let bytes = B64.decode(form.get("binary_kept")?).ok()?;
                Some((form.get("binary_name").unwrap_or_default().to_owned(), bytes))
            });
        Draft {
            kind: match form.get("kind") {
                Some("plaintext") => Kind::Plaintext,
                Some("binary") => Kind::Binary,
                _ => Kind::KeyValue,
            },
            rows: pairs("k", "v"),
            plaintext: form.get("plaintext").unwrap_or_default().to_owned(),
            binary,
            name: form.get("name").unwrap_or_default().trim().to_owned(),
            description: form.get("description").unwrap_or_default().to_owned(),
            kms_key_id: form.get("kms_key_id").unwrap_or_default().trim().to_owned(),
            tags: pairs("tk", "tv"),
            replicas: pairs("replica_region", "replica_kms")
                .into_iter()
                .map(|(r, k)| (r.trim().to_owned(), k.trim().to_owned()))
                .collect(),
            policy: form.get("policy").unwrap_or_default().to_owned(),
            policy_problems: Vec::new(),
        }
    }

    /// The value's member of CreateSecret and its JSON: `SecretBinary` (base64, as the JSON
    /// protocol sends a blob) of the file, else `SecretString` (see [`Draft::secret_string`]).
    fn secret_value(&self, lang: crate::Lang) -> Result<(&'static str, Value), &'static str> {
        if self.kind == Kind::Binary {
            return match &self.binary {
                Some((_, bytes)) => Ok(("SecretBinary", json!(B64.encode(bytes)))),
                None => Err(lang.t("choose_file")),
            };
        }
        Ok(("SecretString", json!(self.secret_string()?)))
    }

    /// The secret string: the key/value rows as a JSON object (in their order, as the AWS console
    /// stores them), or the plaintext.
    fn secret_string(&self) -> Result<String, &'static str> {
        if self.kind == Kind::Plaintext {
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
    let mut replicas = d.replicas.clone();
    if replicas.is_empty() {
        replicas.push((String::new(), String::new()));
    }
    let content = html! {
        h1 { (t("store_new_secret")) }
        // multipart/form-data: the one way a form without a script uploads a file.
        form.card method="post" action="/console/secrets/new" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { (t("secret_type")) }
                p { strong { (t("other_type")) } }
                div.tabs role="radiogroup" {
                    label { input type="radio" name="kind" value="kv" checked[d.kind == Kind::KeyValue]; " " (t("key_value")) }
                    label { input type="radio" name="kind" value="plaintext" checked[d.kind == Kind::Plaintext]; " " (t("plaintext")) }
                    label { input type="radio" name="kind" value="binary" checked[d.kind == Kind::Binary]; " " (t("binary_file")) }
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
                label for="binary" { (t("binary_file")) }
                input #binary type="file" name="binary";
                @if let Some((file_name, bytes)) = d.binary.as_ref().filter(|(_, b)| b.len() <= MAX_SECRET_BYTES) {
                    input type="hidden" name="binary_kept" value=(B64.encode(bytes));
                    input type="hidden" name="binary_name" value=(file_name);
                    p.hint #binary-kept { (t("file_kept")) " " code { (file_name) } " (" (bytes.len()) " " (t("bytes")) ")" }
                }
                p.hint { (t("binary_help")) }
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
            fieldset #replicate {
                legend { (t("replicate_secret")) }
                p.hint { (t("replicate_help")) }
                @for (i, (region, key)) in replicas.iter().enumerate() {
                    div.tagrow {
                        input type="text" name="replica_region" value=(region) placeholder="eu-west-1" aria-label={ (t("region")) " " (i + 1) };
                        input type="text" name="replica_kms" value=(key) placeholder=(t("kms_default")) aria-label={ (t("encryption_key")) " " (i + 1) };
                    }
                }
                button type="submit" name="op" value="add_region" formnovalidate { (t("add_region")) }
            }
            fieldset {
                legend { (t("resource_permissions")) }
                (policy_editor(lang, "policy", &d.policy, &d.policy_problems))
            }
            div.buttons {
                a.button href="/console/secrets" { (t("cancel")) }
                button.primary type="submit" name="op" value="store" { (t("store")) }
            }
        }
    };
    respond(status, layout(&page, content))
}

/// The answer to a form larger than its route takes.
fn too_large(lang: crate::Lang) -> Response {
    super::refused(lang, StatusCode::PAYLOAD_TOO_LARGE, lang.t("form_too_large"))
}

async fn new_submit(
    State(console): State<Arc<Console>>,
    ctx: Ctx,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return too_large(ctx.lang);
    };
    let (form, id, session, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let lang = ctx.lang;
    let mut draft = Draft::of(&form);
    draft.tags.retain(|(k, v)| !k.is_empty() || !v.is_empty());
    draft.replicas.retain(|(r, k)| !r.is_empty() || !k.is_empty());
    match form.get("op") {
        Some("add_row") => {
            draft.rows.push((String::new(), String::new()));
            return new_page(&ctx, &session.csrf, who, &draft, None, StatusCode::OK);
        }
        Some("add_tag") => {
            draft.tags.push((String::new(), String::new()));
            return new_page(&ctx, &session.csrf, who, &draft, None, StatusCode::OK);
        }
        Some("add_region") => {
            draft.replicas.push((String::new(), String::new()));
            return new_page(&ctx, &session.csrf, who, &draft, None, StatusCode::OK);
        }
        _ => {}
    }
    let refused = |draft: &Draft, text: String| {
        new_page(
            &ctx,
            &session.csrf,
            who,
            draft,
            Some((true, text)),
            StatusCode::BAD_REQUEST,
        )
    };
    let (member, value) = match draft.secret_value(lang) {
        Ok(v) => v,
        Err(why) => return refused(&draft, why.to_owned()),
    };
    // The policy is checked before anything is stored: a refused one stores no secret.
    if !draft.policy.trim().is_empty() {
        draft.policy_problems = policy_problems(&console, &ctx, who, None, &draft.policy).await;
        if !draft.policy_problems.is_empty() {
            return refused(&draft, lang.t("policy_refused").to_owned());
        }
    }
    // As the SDKs do: a new token per request (an idempotency token the console never resends).
    let mut input = json!({
        "Name": draft.name,
        "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
    });
    input[member] = value;
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
    if !draft.replicas.is_empty() {
        input["AddReplicaRegions"] = Value::Array(
            draft
                .replicas
                .iter()
                .map(|(region, key)| replica_region(region, key))
                .collect(),
        );
    }
    let created = match sm(&console, &ctx, who, "CreateSecret", input).await {
        Ok(out) => out,
        Err(e) => return refused(&draft, format!("{}: {}", e.code, e.message)),
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

/// A member of `AddReplicaRegions`: the region and, when one is given, its KMS key.
fn replica_region(region: &str, kms_key_id: &str) -> Value {
    let mut r = json!({"Region": region});
    if !kms_key_id.is_empty() {
        r["KmsKeyId"] = json!(kms_key_id);
    }
    r
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
    details_page(&console, &ctx, who, &q.id, std::future::ready(None), flash, None).await
}

/// The secret's details; with its value when `value` holds GetSecretValue's answer.
async fn details_page(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    secret_id: &str,
    value: impl Future<Output = Option<Result<Value, WireError>>>,
    flash: Option<(bool, String)>,
    policy_draft: Option<PolicyDraft>,
) -> Response {
    let lang = ctx.lang;
    let t = |k| lang.t(k);
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    // The value to show (GetSecretValue, when asked for) is read at the same time.
    let (described, value) = futures_util::join!(
        sm(
            console,
            ctx,
            who,
            "DescribeSecret",
            json!({"SecretId": secret_id}),
        ),
        value,
    );
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
    // The page's other reads are independent of each other: made at once, so their audit
    // records are committed together. The functions are those the principal may list, for the
    // rotation form (none if it may not).
    let (policy, activity, functions) = futures_util::join!(
        sm(console, ctx, who, "GetResourcePolicy", json!({"SecretId": arn})),
        super::audit::lookup(console, ctx, who, "ResourceName", &arn, 20),
        crate::call_lambda(console, ctx, who, "GET", "/2015-03-31/functions/"),
    );
    let functions: Vec<String> = functions
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
            @if !deleted && !is_replica(&d) {
                (edit_details(lang, &csrf, &arn, &d))
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
                    (value_view(lang, &csrf, v))
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
        (tags_section(lang, &csrf, &arn, &d, deleted))
        (replication_section(lang, &csrf, &arn, &d, deleted))
        (policy_section(lang, &csrf, &arn, &policy, policy_draft.as_ref(), deleted))
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
    // A policy refused is shown in its editor with why, as an answer to the request that sent it.
    let status = if policy_draft.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut resp = respond(status, layout(&page, content));
    // The page may hold a value: never kept by the browser or a proxy (as every console page).
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A secret's value: a JSON object's keys and values as a table, and the plaintext.
fn value_view(lang: crate::Lang, csrf: &str, v: &Value) -> Markup {
    let t = |k| lang.t(k);
    let text = v["SecretString"].as_str();
    let object = text.and_then(|s| serde_json::from_str::<serde_json::Map<String, Value>>(s).ok());
    html! {
        @match text {
            None => {
                p { (t("binary")) }
                pre.code.secret-value #secret-binary { (v["SecretBinary"].as_str().unwrap_or_default()) }
                // The bytes by a POST, as the value itself: never in a URL.
                form.inline method="post" action="/console/secrets/download" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(v["ARN"].as_str().unwrap_or_default());
                    input type="hidden" name="version" value=(v["VersionId"].as_str().unwrap_or_default());
                    button type="submit" #download { (t("download")) }
                }
            },
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
    let value = async {
        Some(
            sm(
                &console,
                &ctx,
                who,
                "GetSecretValue",
                json!({"SecretId": secret_id}),
            )
            .await,
        )
    };
    details_page(&console, &ctx, who, &secret_id, value, None, None).await
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

/// A resource policy the details page's editor sent and why it was refused.
pub(crate) struct PolicyDraft {
    document: String,
    problems: Vec<String>,
}

/// Why a resource policy may not be stored, checked as the AWS console checks it before
/// PutResourcePolicy: the JSON's syntax error with its line and column (as the IAM policy editor
/// shows it), then ValidateResourcePolicy as the signed-in principal, each of its
/// `ValidationErrors` as `CheckName: ErrorMessage`. Nothing when it may be stored. When
/// ValidateResourcePolicy itself is refused (the principal may not call it), that error is the
/// problem: a policy nobody could check is not stored.
async fn policy_problems(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    secret_id: Option<&str>,
    document: &str,
) -> Vec<String> {
    let mut problems: Vec<String> = super::iam::syntax_error(document).into_iter().collect();
    let mut input = json!({"ResourcePolicy": document});
    if let Some(id) = secret_id {
        input["SecretId"] = json!(id);
    }
    match sm(console, ctx, who, "ValidateResourcePolicy", input).await {
        Ok(out) => {
            let errors = out["ValidationErrors"].as_array().cloned().unwrap_or_default();
            for e in &errors {
                problems.push(format!(
                    "{}: {}",
                    e["CheckName"].as_str().unwrap_or_default(),
                    e["ErrorMessage"].as_str().unwrap_or_default()
                ));
            }
            if errors.is_empty() && out["PolicyValidationPassed"].as_bool() != Some(true) {
                problems.push("PolicyValidationPassed: false".to_owned());
            }
        }
        Err(e) => problems.push(format!("{}: {}", e.code, e.message)),
    }
    problems
}

/// The resource policy's editor, with why it was refused next to it.
fn policy_editor(lang: crate::Lang, id: &str, document: &str, problems: &[String]) -> Markup {
    let problems_id = format!("{id}-problems");
    html! {
        label for=(id) { (lang.t("resource_policy")) " (JSON)" }
        textarea id=(id) name="policy" rows="10" spellcheck="false"
            aria-invalid=[(!problems.is_empty()).then_some("true")]
            aria-describedby=[(!problems.is_empty()).then_some(problems_id.as_str())] { (document) }
        @if !problems.is_empty() {
            ul.problems id=(problems_id) role="alert" {
                @for p in problems { li { (p) } }
            }
        }
    }
}

/// Whether the described secret is a replica (its `PrimaryRegion` is another region's).
fn is_replica(d: &Value) -> bool {
    let arn = d["ARN"].as_str().unwrap_or_default();
    d["PrimaryRegion"]
        .as_str()
        .is_some_and(|p| arn.split(':').nth(3) != Some(p))
}

/// `arn` with `region` for its region: the ARN of a secret's replica there.
fn arn_in_region(arn: &str, region: &str) -> String {
    let mut fields: Vec<&str> = arn.splitn(5, ':').collect();
    if let Some(r) = fields.get_mut(3) {
        *r = region;
    }
    fields.join(":")
}

/// Edit the description and the encryption key: UpdateSecret.
fn edit_details(lang: crate::Lang, csrf: &str, arn: &str, d: &Value) -> Markup {
    let t = |k| lang.t(k);
    let description = d["Description"].as_str().unwrap_or_default();
    let key = d["KmsKeyId"].as_str().unwrap_or_default();
    html! {
        // Not `details.edit`: the first of those on the page is the value's or rotation's editor.
        details.edit-details #edit-details {
            summary { (t("edit_details")) }
            form method="post" action="/console/secrets/update" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="id" value=(arn);
                input type="hidden" name="description_was" value=(description);
                input type="hidden" name="kms_key_id_was" value=(key);
                label for="edit-description" { (t("description")) }
                textarea #edit-description name="description" rows="2" maxlength="2048" { (description) }
                label for="edit-kms" { (t("encryption_key")) }
                input #edit-kms type="text" name="kms_key_id" value=(key) placeholder=(t("kms_default"));
                p.hint { (t("kms_change_help")) }
                div.buttons { button.primary type="submit" { (t("save")) } }
            }
        }
    }
}

/// The tags, each with a button removing it (UntagResource), and a row adding one (TagResource).
fn tags_section(lang: crate::Lang, csrf: &str, arn: &str, d: &Value, deleted: bool) -> Markup {
    let t = |k| lang.t(k);
    let editable = !deleted && !is_replica(d);
    html! {
        section.card #tags {
            h2 { (t("tags")) }
            @if let Some(tags) = d["Tags"].as_array().filter(|t| !t.is_empty()) {
                table.list {
                    thead { tr {
                        th scope="col" { (t("key")) } th scope="col" { (t("value")) }
                        @if editable { th scope="col" { span.visually-hidden { (t("actions")) } } }
                    } }
                    tbody { @for tag in tags {
                        @let key = tag["Key"].as_str().unwrap_or_default();
                        tr {
                            td { (key) } td { (tag["Value"].as_str().unwrap_or_default()) }
                            @if editable {
                                td {
                                    form.inline method="post" action="/console/secrets/tags" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="id" value=(arn);
                                        input type="hidden" name="key" value=(key);
                                        button.small type="submit" name="op" value="remove" aria-label={ (t("remove")) " " (key) } { (t("remove")) }
                                    }
                                }
                            }
                        }
                    } }
                }
            } @else {
                p { (t("none")) }
            }
            @if editable {
                form method="post" action="/console/secrets/tags" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(arn);
                    p.hint { (t("tags_warning")) }
                    div.tagrow {
                        input #tag-key type="text" name="key" required maxlength="128" aria-label=(t("key")) placeholder=(t("key"));
                        input #tag-value type="text" name="value" maxlength="256" aria-label=(t("value")) placeholder=(t("value"));
                        button type="submit" name="op" value="add" { (t("add_tag_button")) }
                    }
                }
            }
        }
    }
}

/// Replication: each replica region's `ReplicationStatus`, removing a region
/// (RemoveRegionsFromReplication) or promoting its replica to a standalone secret
/// (StopReplicationToReplica in that region), and adding regions (ReplicateSecretToRegions).
/// A replica says which region its primary is in and may be promoted.
fn replication_section(lang: crate::Lang, csrf: &str, arn: &str, d: &Value, deleted: bool) -> Markup {
    let t = |k| lang.t(k);
    let replica = is_replica(d);
    let form_start = |op: &'static str, region: &str| {
        html! {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="id" value=(arn);
            input type="hidden" name="op" value=(op);
            input type="hidden" name="region" value=(region);
        }
    };
    html! {
        section.card #replication {
            h2 { (t("replication")) }
            @if let Some(primary) = d["PrimaryRegion"].as_str() {
                p { (t("primary_region")) ": " strong { (primary) } }
            }
            @if replica {
                p { (t("is_replica")) }
                form.inline method="post" action="/console/secrets/replication" {
                    (form_start("promote", arn.split(':').nth(3).unwrap_or_default()))
                    button type="submit" { (t("promote")) }
                }
            }
            @if let Some(replicas) = d["ReplicationStatus"].as_array().filter(|r| !r.is_empty()) {
                table.list.replicas {
                    thead { tr {
                        th scope="col" { (t("region")) }
                        th scope="col" { (t("status")) }
                        th scope="col" { (t("encryption_key")) }
                        th scope="col" { (t("last_retrieved")) }
                        th scope="col" { (t("actions")) }
                    } }
                    tbody { @for r in replicas {
                        @let region = r["Region"].as_str().unwrap_or_default();
                        tr {
                            td { (region) }
                            td {
                                span.badge.danger[r["Status"] == "Failed"] { (r["Status"].as_str().unwrap_or_default()) }
                                @if let Some(m) = r["StatusMessage"].as_str() { " " (m) }
                            }
                            td { code { (r["KmsKeyId"].as_str().unwrap_or_default()) } }
                            td { (super::day(&r["LastAccessedDate"])) }
                            td {
                                @if r["Status"] == "InSync" {
                                    form.inline method="post" action="/console/secrets/replication" {
                                        (form_start("promote", region))
                                        button.small type="submit" { (t("promote")) }
                                    }
                                    " "
                                }
                                form.inline method="post" action="/console/secrets/replication" {
                                    (form_start("remove", region))
                                    button.small type="submit" { (t("remove_region")) }
                                }
                            }
                        }
                    } }
                }
            } @else if !replica {
                p { (t("no_replicas")) }
            }
            @if !deleted && !replica {
                details.edit {
                    summary { (t("add_replica_region")) }
                    form method="post" action="/console/secrets/replication" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="id" value=(arn);
                        input type="hidden" name="op" value="add";
                        label for="replica-region" { (t("region")) }
                        input #replica-region type="text" name="region" required placeholder="eu-west-1";
                        label for="replica-kms" { (t("encryption_key")) }
                        input #replica-kms type="text" name="kms_key_id" placeholder=(t("kms_default"));
                        div.buttons { button.primary type="submit" { (t("replicate")) } }
                    }
                }
            }
        }
    }
}

/// The resource policy, and "Edit permissions": its editor (checked before it is stored, see
/// [`policy_problems`]) and deleting it.
fn policy_section(
    lang: crate::Lang,
    csrf: &str,
    arn: &str,
    policy: &Result<Value, WireError>,
    draft: Option<&PolicyDraft>,
    deleted: bool,
) -> Markup {
    let t = |k| lang.t(k);
    let current = policy.as_ref().ok().and_then(|p| p["ResourcePolicy"].as_str());
    let (document, problems) = match draft {
        Some(d) => (d.document.clone(), d.problems.as_slice()),
        None => (current.map(pretty).unwrap_or_default(), &[][..]),
    };
    html! {
        section.card #permissions {
            h2 { (t("resource_policy")) }
            @match policy {
                Ok(_) => {
                    @if let Some(doc) = current {
                        pre.code #current-policy { (pretty(doc)) }
                    } @else {
                        p { (t("no_resource_policy")) }
                    }
                }
                Err(e) => (error_box(e)),
            }
            @if !deleted {
                details.edit open[draft.is_some()] {
                    summary { (t("edit_permissions")) }
                    form method="post" action="/console/secrets/policy" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="id" value=(arn);
                        (policy_editor(lang, "edit-policy", &document, problems))
                        div.buttons {
                            @if current.is_some() {
                                button.danger type="submit" name="op" value="delete" formnovalidate { (t("delete_policy")) }
                            }
                            button.primary type="submit" name="op" value="save" { (t("save")) }
                        }
                    }
                }
            }
        }
    }
}

/// Saves the description and the encryption key (UpdateSecret), each only when it changed.
async fn update(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let description = form.get("description").unwrap_or_default();
    let key = form.get("kms_key_id").unwrap_or_default().trim();
    let mut input = json!({
        "SecretId": secret_id,
        "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
    });
    if Some(description) != form.get("description_was") {
        input["Description"] = json!(description);
    }
    // An empty key is the account's `aws/secretsmanager`, as in the new-secret form.
    if Some(key) != form.get("kms_key_id_was").map(str::trim) {
        input["KmsKeyId"] = json!(if key.is_empty() {
            "alias/aws/secretsmanager"
        } else {
            key
        });
    }
    let flash = crate::outcome(ctx.lang, &sm(&console, &ctx, who, "UpdateSecret", input).await);
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Adds a tag (TagResource) or removes one (UntagResource).
async fn tags(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let key = form.get("key").unwrap_or_default();
    let result = if form.get("op") == Some("remove") {
        let input = json!({"SecretId": secret_id, "TagKeys": [key]});
        sm(&console, &ctx, who, "UntagResource", input).await
    } else {
        let value = form.get("value").unwrap_or_default();
        let input = json!({"SecretId": secret_id, "Tags": [{"Key": key, "Value": value}]});
        sm(&console, &ctx, who, "TagResource", input).await
    };
    let flash = crate::outcome(ctx.lang, &result);
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Adds a replica region (ReplicateSecretToRegions), removes one (RemoveRegionsFromReplication),
/// or promotes a replica to a standalone secret (StopReplicationToReplica, called in the
/// replica's region as AWS requires; the page then stays on the primary, or for a replica
/// promoted from its own page, on it).
async fn replication(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let region = form.get("region").unwrap_or_default().trim().to_owned();
    let result = match form.get("op") {
        Some("remove") => {
            let input = json!({"SecretId": secret_id, "RemoveReplicaRegions": [region]});
            sm(&console, &ctx, who, "RemoveRegionsFromReplication", input).await
        }
        Some("promote") => {
            let input = json!({"SecretId": arn_in_region(&secret_id, &region)});
            crate::call_in_region(
                &console,
                &ctx,
                who,
                &region,
                ServiceName::SecretsManager,
                "StopReplicationToReplica",
                &input,
            )
            .await
        }
        _ => {
            let key = form.get("kms_key_id").unwrap_or_default().trim();
            let input = json!({
                "SecretId": secret_id,
                "AddReplicaRegions": [replica_region(&region, key)],
            });
            sm(&console, &ctx, who, "ReplicateSecretToRegions", input).await
        }
    };
    // ReplicateSecretToRegions answers a region it could not replicate to in its status, not
    // as an error: say so.
    let failed = result.as_ref().ok().and_then(|out| {
        out["ReplicationStatus"].as_array().and_then(|rs| {
            rs.iter()
                .find(|r| r["Region"] == region.as_str() && r["Status"] == "Failed")
                .map(|r| format!("{region}: {}", r["StatusMessage"].as_str().unwrap_or("Failed")))
        })
    });
    let flash = match failed {
        Some(text) => (true, text),
        None => crate::outcome(ctx.lang, &result),
    };
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// Saves the resource policy once it passes [`policy_problems`] (PutResourcePolicy), or deletes
/// it (DeleteResourcePolicy). A refused policy is shown again in its editor with why.
async fn policy(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, id, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let result = if form.get("op") == Some("delete") {
        sm(
            &console,
            &ctx,
            who,
            "DeleteResourcePolicy",
            json!({"SecretId": secret_id}),
        )
        .await
    } else {
        let document = form.get("policy").unwrap_or_default().to_owned();
        let problems = policy_problems(&console, &ctx, who, Some(&secret_id), &document).await;
        if !problems.is_empty() {
            let flash = Some((true, ctx.lang.t("policy_refused").to_owned()));
            let draft = PolicyDraft { document, problems };
            return details_page(
                &console,
                &ctx,
                who,
                &secret_id,
                std::future::ready(None),
                flash,
                Some(draft),
            )
            .await;
        }
        sm(
            &console,
            &ctx,
            who,
            "PutResourcePolicy",
            json!({"SecretId": secret_id, "ResourcePolicy": document}),
        )
        .await
    };
    let flash = crate::outcome(ctx.lang, &result);
    console.redirect_with(id, flash, &details_url(&secret_id))
}

/// A binary value's bytes as a file (GetSecretValue of the version shown), by a POST as the
/// value itself: never in a URL.
async fn download(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let (form, _, _, who) = match crate::posted(&console, &ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let secret_id = form.get("id").unwrap_or_default().to_owned();
    let mut input = json!({"SecretId": secret_id});
    if let Some(version) = form.get("version").filter(|v| !v.is_empty()) {
        input["VersionId"] = json!(version);
    }
    let value = sm(&console, &ctx, who, "GetSecretValue", input).await;
    let bytes = match &value {
        Ok(v) => v["SecretBinary"].as_str().and_then(|b| B64.decode(b).ok()),
        Err(_) => None,
    };
    let (Ok(v), Some(bytes)) = (&value, bytes) else {
        // An error, or a value that is not binary: the details page says which.
        return details_page(
            &console,
            &ctx,
            who,
            &secret_id,
            std::future::ready(Some(value)),
            None,
            None,
        )
        .await;
    };
    // The secret's name, with what a file name may not hold replaced.
    let file_name: String = v["Name"]
        .as_str()
        .unwrap_or("secret")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+=@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{file_name}.bin\"");
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
