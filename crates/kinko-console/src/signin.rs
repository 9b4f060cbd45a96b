//! Signing in, as AWS's console does it: the root user (account id + password) or an IAM user
//! (account id or alias + user name + password).
//!
//! A refusal says the same whatever was wrong (no such account, user or password, a wrong one,
//! no console password): "Your authentication information is incorrect". Every attempt costs
//! one argon2id verification (against a fixed dummy hash when there is nothing to check), so the
//! time taken does not tell either. Attempts are limited per source address and per account and
//! user name as typed ([`Limiter`]): past the limit, every attempt for them is refused for a few
//! minutes, right password or not. Each attempt is in the audit trail as CloudTrail records it:
//! `ConsoleLogin` from `signin.amazonaws.com`, `responseElements.ConsoleLogin` `Success` or
//! `Failure`.
//!
//! An IAM user or the root user with an enabled MFA device signs in in two steps, as on AWS: after the right
//! password, the page asks for an MFA code, which must follow within a few minutes; the same
//! limiter counts wrong codes, and the session is signed in (with the time of the code, for
//! `aws:MultiFactorAuthAge`) only once the code is proved. The second step appears only after the
//! right password, so it tells nothing about which users exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kinko_core::mfa::Holder;
use kinko_core::principal::{Principal, PrincipalKind};

use kinko_api::iam::sign_in::{self, SignInRefused};

use crate::session::{PENDING_MFA, PendingMfa, SignedIn};
use crate::{Console, Ctx, Form, check_post, pages};

/// Failed attempts allowed per account and user name within [`WINDOW`].
const MAX_FAILURES: u32 = 5;
/// Failed attempts allowed per source address within [`WINDOW`] (many people may share one).
const MAX_ADDRESS_FAILURES: u32 = 50;
const WINDOW: Duration = Duration::from_secs(300);
/// Most keys the limiter keeps.
const MAX_KEYS: usize = 100_000;

/// Failed sign-ins counted per key (a source address, an account and user name as typed).
#[derive(Default)]
pub(crate) struct Limiter {
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether any of `keys` is past its limit now.
    fn throttled(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let map = self.lock();
        keys.iter().any(|k| {
            let limit = if k.starts_with("ip:") {
                MAX_ADDRESS_FAILURES
            } else {
                MAX_FAILURES
            };
            map.get(k)
                .is_some_and(|(since, n)| now.duration_since(*since) < WINDOW && *n >= limit)
        })
    }

    fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= MAX_KEYS {
            map.retain(|_, (since, _)| now.duration_since(*since) < WINDOW);
        }
        for k in keys {
            let entry = map.entry(k.clone()).or_insert((now, 0));
            if now.duration_since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
    }

    fn succeeded(&self, user_key: &str) {
        self.lock().remove(user_key);
    }
}

/// The sign-in page; a session (for its CSRF token) is made when there is none.
pub(crate) async fn page(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    if ctx.session.as_ref().is_some_and(|s| s.signed_in.is_some()) {
        return Redirect::to("/console/secrets").into_response();
    }
    let (id, csrf, new) = match (&ctx.session_id, &ctx.session) {
        (Some(id), Some(s)) => (id.clone(), s.csrf.clone(), false),
        _ => {
            let (id, s) = console.sessions.create();
            (id, s.csrf, true)
        }
    };
    let flash = console.sessions.take_flash(&id);
    let mut resp = pages::respond(
        StatusCode::OK,
        pages::signin_page(ctx.lang, &csrf, flash.as_ref(), None),
    );
    if new && let Ok(v) = HeaderValue::from_str(&console.session_cookie(&id)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// A sign-in attempt.
pub(crate) async fn submit(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(refused) = check_post(&console, &ctx, &form) {
        return refused;
    }
    let root = form.get("kind") == Some("root");
    let account = form.get("account").unwrap_or_default().trim().to_owned();
    let user_name = if root {
        String::new()
    } else {
        form.get("user_name").unwrap_or_default().trim().to_owned()
    };
    let password = form.get("password").unwrap_or_default();
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let user_key = format!("user:{account}/{user_name}");
    let mut keys = vec![user_key.clone()];
    if let Some(ip) = ctx.source_ip {
        keys.push(format!("ip:{ip}"));
    }
    if console.limiter.throttled(&keys) {
        // The verification is still done, so a throttled attempt takes as long as any.
        let _ = sign_in::password_matches(password, None).await;
        audit_attempt(&console, &ctx, None, Some("Too many attempts")).await;
        let flash = (true, ctx.lang.t("sign_in_throttled").to_owned());
        return pages::respond(
            StatusCode::TOO_MANY_REQUESTS,
            pages::signin_page(ctx.lang, &csrf, Some(&flash), Some(&account)),
        );
    }
    let who = if root {
        verify_root(&console, &account, password).await
    } else {
        sign_in::verify_password(&console.services, &account, &user_name, password)
            .await
            .map(|s| (s.principal, s.password_change.is_some()))
    };
    let (principal, must_change_password) = match who {
        Ok(who) => who,
        Err(SignInRefused::Refused) => {
            console.limiter.failed(&keys);
            audit_attempt(&console, &ctx, None, Some("Failed authentication")).await;
            let flash = (true, ctx.lang.t("sign_in_failed").to_owned());
            return pages::respond(
                StatusCode::UNAUTHORIZED,
                pages::signin_page(ctx.lang, &csrf, Some(&flash), Some(&account)),
            );
        }
        Err(SignInRefused::Unavailable) => {
            let flash = (true, ctx.lang.t("sign_in_unavailable").to_owned());
            return pages::respond(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::signin_page(ctx.lang, &csrf, Some(&flash), Some(&account)),
            );
        }
    };
    let who = SignedIn {
        principal: principal.clone(),
        session: None,
        account_label: account.clone(),
        signed_in_as: principal.clone(),
        must_change_password,
        mfa_authenticated: None,
    };
    if let Some(holder) = holder(&principal) {
        match kinko_api::mfa::enabled_device_of(&console.services, &principal.account_id, holder).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                let pending = PendingMfa {
                    who,
                    user_key,
                    since: Instant::now(),
                };
                if let Some(id) = &ctx.session_id {
                    console.sessions.update(id, |s| s.pending_mfa = Some(pending));
                }
                return pages::respond(StatusCode::OK, pages::mfa_page(ctx.lang, &csrf, None));
            }
            Err(e) => {
                tracing::error!(error = %e, "console sign-in: reading MFA devices failed");
                let flash = (true, ctx.lang.t("sign_in_unavailable").to_owned());
                return pages::respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::signin_page(ctx.lang, &csrf, Some(&flash), Some(&account)),
                );
            }
        }
    }
    complete(&console, &ctx, &user_key, who).await
}

/// Whose MFA devices a sign-in of `principal` asks a code of: the IAM user's, or the root
/// user's.
fn holder(principal: &Principal) -> Option<Holder<'_>> {
    match &principal.kind {
        PrincipalKind::User { name, .. } => Some(Holder::User(name)),
        PrincipalKind::Root => Some(Holder::Root),
        PrincipalKind::AssumedRole { .. }
        | PrincipalKind::FederatedUser { .. }
        | PrincipalKind::Anonymous => None,
    }
}

/// The sign-in's second step: the MFA code of a user (or the root user) whose password was
/// right.
pub(crate) async fn submit_mfa(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(refused) = check_post(&console, &ctx, &form) {
        return refused;
    }
    let csrf = ctx.session.as_ref().map(|s| s.csrf.clone()).unwrap_or_default();
    let pending = ctx
        .session
        .as_ref()
        .and_then(|s| s.pending_mfa.clone())
        .filter(|p| p.since.elapsed() < PENDING_MFA);
    let (Some(id), Some(pending)) = (ctx.session_id.as_deref(), pending) else {
        return Redirect::to("/console/signin").into_response();
    };
    let mut keys = vec![pending.user_key.clone()];
    if let Some(ip) = ctx.source_ip {
        keys.push(format!("ip:{ip}"));
    }
    if console.limiter.throttled(&keys) {
        audit_attempt(&console, &ctx, None, Some("Too many attempts")).await;
        console.sessions.update(id, |s| s.pending_mfa = None);
        let flash = (true, ctx.lang.t("sign_in_throttled").to_owned());
        return pages::respond(
            StatusCode::TOO_MANY_REQUESTS,
            pages::signin_page(ctx.lang, &csrf, Some(&flash), Some(&pending.who.account_label)),
        );
    }
    let code = form.get("mfa_code").unwrap_or_default().trim();
    let account = &pending.who.principal.account_id;
    let Some(holder) = holder(&pending.who.principal) else {
        return Redirect::to("/console/signin").into_response();
    };
    match kinko_api::mfa::prove_any(&console.services, account, holder, code).await {
        Ok(at) => {
            let who = SignedIn {
                mfa_authenticated: Some(at),
                ..pending.who
            };
            complete(&console, &ctx, &pending.user_key, who).await
        }
        Err(kinko_api::mfa::MfaRefused::InvalidCode | kinko_api::mfa::MfaRefused::NoDevice) => {
            console.limiter.failed(&keys);
            audit_attempt(&console, &ctx, None, Some("Failed authentication")).await;
            let flash = (true, ctx.lang.t("mfa_code_refused").to_owned());
            pages::respond(
                StatusCode::UNAUTHORIZED,
                pages::mfa_page(ctx.lang, &csrf, Some(&flash)),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "console sign-in: checking the MFA code failed");
            let flash = (true, ctx.lang.t("sign_in_unavailable").to_owned());
            pages::respond(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::mfa_page(ctx.lang, &csrf, Some(&flash)),
            )
        }
    }
}

/// Signs `who` in (a new session) and sends them on.
async fn complete(console: &Console, ctx: &Ctx, user_key: &str, who: SignedIn) -> Response {
    console.limiter.succeeded(user_key);
    audit_attempt(console, ctx, Some(&who.principal), None).await;
    let must_change_password = who.must_change_password;
    let id = console.sessions.sign_in(ctx.session_id.as_deref(), who);
    let next = if must_change_password {
        "/console/password"
    } else {
        "/console/secrets"
    };
    let mut resp = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&console.session_cookie(&id)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The root user of the management account, with the console password the operator set.
async fn verify_root(
    console: &Console,
    account: &str,
    password: &str,
) -> Result<(Principal, bool), SignInRefused> {
    let hash = console
        .config
        .root_password_hash
        .as_deref()
        .filter(|_| account == console.config.root_account_id);
    if sign_in::password_matches(password, hash).await? && hash.is_some() {
        Ok((Principal::root(account), false))
    } else {
        Err(SignInRefused::Refused)
    }
}

/// The audit record of a sign-in attempt (`ConsoleLogin`).
async fn audit_attempt(console: &Console, ctx: &Ctx, who: Option<&Principal>, failure: Option<&str>) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let principal = who.cloned().unwrap_or_else(Principal::anonymous);
    let mut rc = kinko_api::RequestContext::new(principal, &console.config.region, &request_id);
    rc.source_ip = ctx.source_ip;
    rc.user_agent = ctx
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let now = kinko_core::Clock::now(&*console.services.clock);
    let mut event = kinko_api::audit::AuditEvent::of(&rc, now, "signin.amazonaws.com", "ConsoleLogin");
    event.read_only = Some(false);
    event.response_elements = Some(serde_json::json!({
        "ConsoleLogin": if failure.is_some() { "Failure" } else { "Success" }
    }));
    event.error_message = failure.map(str::to_owned);
    if let Err(e) = console.services.audit.record(&event, &[]).await {
        tracing::error!(error = %e, "the audit record of a console sign-in could not be written");
    }
}

/// Signing out: the session ends on the server, the cookie is cleared.
pub(crate) async fn sign_out(State(console): State<Arc<Console>>, ctx: Ctx, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(refused) = check_post(&console, &ctx, &form) {
        return refused;
    }
    if let Some(id) = &ctx.session_id {
        console.sessions.end(id);
    }
    let mut resp = Redirect::to("/console/signin").into_response();
    if let Ok(v) = HeaderValue::from_str(&console.clear_cookie()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_after_five_failures_per_key() {
        let limiter = Limiter::default();
        let keys = vec!["user:1/a".to_owned(), "ip:127.0.0.1".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert!(!limiter.throttled(&keys));
            limiter.failed(&keys);
        }
        assert!(limiter.throttled(&keys));
        // An address many people may share has a higher limit.
        assert!(!limiter.throttled(&["ip:127.0.0.1".to_owned()]));
        assert!(!limiter.throttled(&["user:1/b".to_owned()]));
        for _ in MAX_FAILURES..MAX_ADDRESS_FAILURES {
            limiter.failed(&["ip:127.0.0.1".to_owned()]);
        }
        assert!(limiter.throttled(&["ip:127.0.0.1".to_owned(), "user:1/b".to_owned()]));
    }
}
