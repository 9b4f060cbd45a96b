//! The pages: one layout, the sign-in page, and each service's pages.

pub(crate) mod audit;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod mfa;
pub(crate) mod password;
pub(crate) mod readers;
pub(crate) mod secrets;
pub(crate) mod switch;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kinko_wire::WireError;
use maud::{DOCTYPE, Markup, html};

use crate::Lang;
use crate::session::SignedIn;

/// An HTML answer.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut resp = (status, markup.into_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// What the layout needs.
pub(crate) struct Page<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub who: Option<&'a SignedIn>,
    pub csrf: &'a str,
    /// The page's own path and query, for the language switch to come back to.
    pub back: &'a str,
    pub flash: Option<(bool, String)>,
}

/// The page shell: header (who is signed in, language switch, sign-out), the message left by
/// the previous action, and the content.
pub(crate) fn layout(p: &Page<'_>, content: Markup) -> Markup {
    let t = |k| p.lang.t(k);
    let other = p.lang.other();
    let back: String = form_urlencoded::byte_serialize(p.back.as_bytes()).collect();
    html! {
        (DOCTYPE)
        html lang=(p.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (p.title) " | " (t("console")) }
                link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { (t("skip_to_content")) }
                header.top.switched[p.who.is_some_and(|w| w.session.is_some())] {
                    a.brand href="/console/" { span.mark { "金庫" } " kinko" }
                    @if p.who.is_some() {
                        nav aria-label="Services" {
                            a href="/console/secrets" { (t("secrets_manager")) }
                            a href="/console/iam/users" { "IAM" }
                            a href="/console/kms" { "KMS" }
                            a href="/console/organizations" { (t("organization")) }
                            a href="/console/audit" { (t("audit")) }
                        }
                    }
                    div.spacer {}
                    a.lang href={ "/console/lang?to=" (other.code()) "&back=" (back) } lang=(other.code()) { (t("language")) }
                    @if let Some(who) = p.who {
                        span.who title=(who.principal.arn) {
                            (t("signed_in_as")) " " strong { (display_name(who)) } " @ " (who.account_label)
                        }
                        @if who.session.is_some() {
                            form.inline method="post" action="/console/switch-back" {
                                input type="hidden" name="csrf" value=(p.csrf);
                                button.link type="submit" { (t("switch_back")) }
                            }
                        } @else if !who.signed_in_as.is_root() {
                            a href="/console/switch-role" { (t("switch_role")) }
                        } @else {
                            a #security-credentials href=(iam::ROOT_SECURITY_URL) { (t("security_credentials")) }
                        }
                        form.inline method="post" action="/console/signout" {
                            input type="hidden" name="csrf" value=(p.csrf);
                            button.link type="submit" { (t("sign_out")) }
                        }
                    }
                }
                main #main {
                    @if let Some((is_error, text)) = &p.flash {
                        // An action's error may carry its "why denied?" lines (crate::outcome).
                        @let (text, why) = text.split_once('\n').unwrap_or((text.as_str(), ""));
                        div class=(if *is_error { "alert error" } else { "alert ok" }) role=(if *is_error { "alert" } else { "status" }) { (text) }
                        (crate::why::block(why.lines()))
                    }
                    (content)
                }
            }
        }
    }
}

/// How the signed-in principal is shown: `root`, the user's name, or `role/session`.
fn display_name(who: &SignedIn) -> String {
    use kinko_core::principal::PrincipalKind;
    match &who.principal.kind {
        PrincipalKind::Root => "root".to_owned(),
        PrincipalKind::User { name, .. } => name.clone(),
        PrincipalKind::AssumedRole {
            role_name,
            session_name,
            ..
        } => format!("{role_name}/{session_name}"),
        _ => who.principal.arn.clone(),
    }
}

/// An error of an operation, as the API gives it: its code and message.
pub(crate) fn error_box(e: &WireError) -> Markup {
    html! {
        div.alert.error role="alert" {
            strong { (e.code) } ": " (e.message)
        }
        (crate::why::markup(e))
    }
}

/// A page that only says why the request could not be served.
pub(crate) fn refused(lang: Lang, status: StatusCode, text: &str) -> Response {
    let page = Page {
        lang,
        title: lang.t("error"),
        who: None,
        csrf: "",
        back: "/console/",
        flash: Some((true, text.to_owned())),
    };
    respond(
        status,
        layout(&page, html! { p { a href="/console/" { (lang.t("console")) } } }),
    )
}

/// The sign-in page.
pub(crate) fn signin_page(
    lang: Lang,
    csrf: &str,
    flash: Option<&(bool, String)>,
    account: Option<&str>,
) -> Markup {
    let t = |k| lang.t(k);
    let page = Page {
        lang,
        title: t("sign_in"),
        who: None,
        csrf,
        back: "/console/signin",
        flash: flash.cloned(),
    };
    layout(
        &page,
        html! {
            section.card.signin {
                h1 { (t("sign_in")) }
                form method="post" action="/console/signin" {
                    input type="hidden" name="csrf" value=(csrf);
                    fieldset.choice {
                        legend.visually-hidden { (t("sign_in")) }
                        label { input type="radio" name="kind" value="iam" checked; " " (t("iam_user")) }
                        label { input type="radio" name="kind" value="root"; " " (t("root_user")) }
                    }
                    label for="account" { (t("account")) }
                    input #account type="text" name="account" required autocomplete="username" value=(account.unwrap_or_default());
                    label for="user_name" { (t("user_name")) }
                    input #user_name type="text" name="user_name" autocomplete="username";
                    label for="password" { (t("password")) }
                    input #password type="password" name="password" required autocomplete="current-password";
                    button.primary type="submit" { (t("sign_in")) }
                }
            }
        },
    )
}

/// The sign-in's second step, for a user with an MFA device: the code.
pub(crate) fn mfa_page(lang: Lang, csrf: &str, flash: Option<&(bool, String)>) -> Markup {
    let t = |k| lang.t(k);
    let page = Page {
        lang,
        title: t("mfa_title"),
        who: None,
        csrf,
        back: "/console/signin",
        flash: flash.cloned(),
    };
    layout(
        &page,
        html! {
            section.card.signin {
                h1 { (t("mfa_title")) }
                p { (t("mfa_prompt")) }
                form method="post" action="/console/signin/mfa" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="mfa_code" { (t("mfa_code")) }
                    input #mfa_code type="text" name="mfa_code" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code";
                    button.primary type="submit" { (t("submit")) }
                }
                p { a href="/console/signin" { (t("mfa_cancel")) } }
            }
        },
    )
}

/// A timestamp of the API (epoch seconds) as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn date(value: &serde_json::Value) -> String {
    let Some(secs) = value.as_f64() else {
        return String::new();
    };
    #[allow(clippy::cast_possible_truncation, reason = "epoch seconds fit an i64")]
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs as i64) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A day of the API (epoch seconds at midnight UTC, as `LastAccessedDate`) as `YYYY-MM-DD`.
pub(crate) fn day(value: &serde_json::Value) -> String {
    date(value).chars().take(10).collect()
}
