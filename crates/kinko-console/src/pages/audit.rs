//! The audit trail in the console: who did what to which resource, from CloudTrail's
//! LookupEvents over kinko's audit log (run as the signed-in principal, so
//! `cloudtrail:LookupEvents` decides), filterable by CloudTrail's lookup attributes; and on each
//! secret's page, who read or changed it.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use kinko_api::ServiceName;
use kinko_wire::WireError;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Page, date, error_box, layout, respond};
use crate::session::SignedIn;
use crate::{Console, Ctx, Lang, call};

pub(crate) fn routes() -> Router<Arc<Console>> {
    Router::new().route("/audit", get(audit))
}

/// CloudTrail's lookup attributes, as the filter offers them.
const KEYS: [&str; 8] = [
    "ResourceName",
    "EventName",
    "Username",
    "EventSource",
    "AccessKeyId",
    "ResourceType",
    "ReadOnly",
    "EventId",
];

/// The latest events matching `key` = `value` (all of the account's when `value` is empty).
pub(crate) async fn lookup(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    key: &str,
    value: &str,
    max: u32,
) -> Result<Value, WireError> {
    let mut input = json!({"MaxResults": max});
    if !value.is_empty() {
        input["LookupAttributes"] = json!([{"AttributeKey": key, "AttributeValue": value}]);
    }
    call(console, ctx, who, ServiceName::CloudTrail, "LookupEvents", &input).await
}

/// What the events table shows of an event's CloudTrail record (`CloudTrailEvent`): read into
/// these fields only, not into a whole JSON tree per event.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Detail {
    user_identity: Option<Identity>,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    error_code: Option<String>,
}

#[derive(serde::Deserialize)]
struct Identity {
    arn: Option<String>,
}

/// A table of LookupEvents' events: when, what, who, from where, and the error if it failed.
pub(crate) fn events_table(lang: Lang, out: &Value) -> Markup {
    let t = |k| lang.t(k);
    let events: &[Value] = out["Events"].as_array().map_or(&[], Vec::as_slice);
    html! {
        @if events.is_empty() {
            p.hint { (t("no_events")) }
        } @else {
            table.list.events {
                thead { tr {
                    th scope="col" { (t("event_time")) }
                    th scope="col" { (t("event_name")) }
                    th scope="col" { (t("event_user")) }
                    th scope="col" { (t("source_ip")) }
                    th scope="col" { (t("event_error")) }
                } }
                tbody {
                    @for e in events {
                        @let detail: Detail = e["CloudTrailEvent"].as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
                        tr {
                            td { (date(&e["EventTime"])) }
                            td { (e["EventName"].as_str().unwrap_or_default()) }
                            td title=(detail.user_identity.and_then(|i| i.arn).unwrap_or_default()) {
                                (e["Username"].as_str().unwrap_or_default())
                            }
                            td { (detail.source_ip_address.unwrap_or_default()) }
                            td { (detail.error_code.unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct AuditQuery {
    key: Option<String>,
    value: Option<String>,
}

async fn audit(State(console): State<Arc<Console>>, ctx: Ctx, Query(q): Query<AuditQuery>) -> Response {
    let (id, session, who) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = |k| ctx.lang.t(k);
    let key = q
        .key
        .filter(|k| KEYS.contains(&k.as_str()))
        .unwrap_or_else(|| "ResourceName".to_owned());
    let value = q.value.unwrap_or_default();
    let found = lookup(&console, &ctx, who, &key, value.trim(), 50).await;
    let page = Page {
        lang: ctx.lang,
        title: t("audit"),
        who: Some(who),
        csrf: &session.csrf,
        back: "/console/audit",
        flash: console.sessions.take_flash(id),
    };
    let content = html! {
        h1 { (t("audit")) }
        form.filters method="get" action="/console/audit" role="search" {
            label for="key" { select #key name="key" {
                @for k in KEYS { option value=(k) selected[k == key] { (k) } }
            } }
            label.visually-hidden for="value" { (t("audit_value")) }
            input #value type="search" name="value" value=(value) placeholder=(t("audit_value"));
            button type="submit" { (t("search_button")) }
        }
        @match &found {
            Err(e) => (error_box(e)),
            Ok(out) => (events_table(ctx.lang, out)),
        }
    };
    respond(StatusCode::OK, layout(&page, content))
}
