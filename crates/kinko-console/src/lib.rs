//! The web console, served under `/console/` on the API's listener.
//!
//! Every action is an operation of the one contract ([`kinko_api::call`]), run as the signed-in
//! principal (the root user, an IAM user, or a role session after "switch role") and audited like
//! an API call, with the console's user agent: the console has no powers of its own. A page or
//! button the principal may not use shows the operation's own AccessDenied text.
//!
//! Pages are rendered on the server (maud), with one small script that only improves them
//! (copying a value without showing it); every form works without it. Assets are in the binary.
//!
//! Security:
//! - Sessions are server-side ([`session`]); the cookie (`HttpOnly`, `SameSite=Strict`, `Path=/console/`,
//!   `Secure` and the `__Host-` prefix over TLS) holds a random id only. A console cookie never
//!   authenticates an API request: the API reads only SigV4 signatures, and the console reads only
//!   its cookie (a signed API request sent to `/console/` is just a browser request without one).
//! - Every state change is a POST carrying the session's CSRF token, and is refused when the
//!   browser says it comes from elsewhere (`Origin` not this origin, or `Sec-Fetch-Site` not
//!   `same-origin`); sign-in included (its token belongs to the session made when the sign-in
//!   page was shown).
//! - `Content-Security-Policy` allows only this origin's own script and style (no `unsafe-inline`,
//!   no `unsafe-eval`), `frame-ancestors 'none'` and `X-Frame-Options: DENY`, and every page is
//!   `Cache-Control: no-store`.
//! - Secret values are fetched only by a POST (never a URL), shown only on the page that asked.

#![allow(
    clippy::result_large_err,
    reason = "a refusal is the handler's answer: a Response either way, boxing it only adds an allocation"
)]

pub mod i18n;
mod multipart;
mod pages;
pub mod session;
mod signin;
mod timing;
mod why;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kinko_api::{CallInput, RequestContext, ServiceName, Services};
use kinko_wire::WireError;
use serde_json::Value;

pub use i18n::Lang;
use session::{Session, SignedIn};

/// The console's user agent in audit records.
pub const USER_AGENT: &str = concat!("kinko-console/", env!("CARGO_PKG_VERSION"));

/// How many independent API calls a page makes at once when it reads one item per row (a KMS
/// key's DescribeKey, a group's members): enough for the audit trail to commit their records
/// together, few enough that one page never floods the server.
pub(crate) const CONCURRENT_CALLS: usize = 8;

/// How the console runs.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// A session ends after this long without a request (default 15 minutes).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in (default 8 hours).
    pub absolute_timeout: Duration,
    /// The listener speaks TLS: cookies are `Secure` (and `__Host-`), HSTS is sent.
    pub tls: bool,
    /// The region the console works in.
    pub region: String,
    /// The management account, whose root user may sign in with `root_password_hash`.
    pub root_account_id: String,
    /// The root user's console password, as an argon2id PHC string (`kinko console
    /// hash-password`); without one the root user cannot sign in to the console.
    pub root_password_hash: Option<String>,
}

impl ConsoleConfig {
    pub fn new(root_account_id: &str) -> Self {
        ConsoleConfig {
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_timeout: Duration::from_secs(8 * 3600),
            tls: false,
            region: "us-east-1".to_owned(),
            root_account_id: root_account_id.to_owned(),
            root_password_hash: None,
        }
    }
}

/// The console of one server.
pub struct Console {
    services: Services,
    config: ConsoleConfig,
    sessions: session::Sessions,
    limiter: signin::Limiter,
}

impl Console {
    pub fn new(services: Services, config: ConsoleConfig) -> Arc<Console> {
        Arc::new(Console {
            sessions: session::Sessions::new(config.idle_timeout, config.absolute_timeout),
            limiter: signin::Limiter::default(),
            services,
            config,
        })
    }

    fn cookie_name(&self) -> &'static str {
        if self.config.tls {
            "__Host-kinko-console"
        } else {
            "kinko-console"
        }
    }

    /// The `Set-Cookie` value of session `id`.
    fn session_cookie(&self, id: &str) -> String {
        // `__Host-` cookies must have `Path=/`; over plain HTTP the cookie is limited to the
        // console's paths.
        if self.config.tls {
            format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Strict; Secure",
                self.cookie_name()
            )
        } else {
            format!(
                "{}={id}; Path=/console/; HttpOnly; SameSite=Strict",
                self.cookie_name()
            )
        }
    }

    fn clear_cookie(&self) -> String {
        let path = if self.config.tls { "/" } else { "/console/" };
        let secure = if self.config.tls { "; Secure" } else { "" };
        format!(
            "{}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
            self.cookie_name()
        )
    }
}

/// The argon2id hash (a PHC string) of a console password, as `kinko console hash-password`
/// prints it for KINKO_CONSOLE_ROOT_PASSWORD_HASH.
pub fn hash_password(password: &str) -> Result<String, String> {
    kinko_crypto::password::hash_password(password).map_err(|e| e.to_string())
}

/// The console's routes, to be nested under `/console`.
pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/signin", get(signin::page).post(signin::submit))
        .route("/signin/mfa", post(signin::submit_mfa))
        .route("/signout", post(signin::sign_out))
        .route("/lang", get(switch_language))
        .route(
            "/password",
            get(pages::password::form).post(pages::password::submit),
        )
        .route("/assets/{name}", get(asset))
        .merge(pages::secrets::routes())
        .merge(pages::iam::routes())
        .merge(pages::audit::routes())
        .merge(pages::switch::routes())
        .merge(pages::kms::routes())
        .merge(pages::readers::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            security_headers,
        ))
        .with_state(console)
}

/// What every console request knows about itself.
pub(crate) struct Ctx {
    pub lang: Lang,
    /// The request's path (under `/console`, as the nested router sees it).
    pub path: String,
    pub session_id: Option<String>,
    pub session: Option<Session>,
    pub source_ip: Option<IpAddr>,
    pub headers: HeaderMap,
}

impl Ctx {
    fn of(
        console: &Console,
        path: &str,
        headers: &HeaderMap,
        connect: Option<&ConnectInfo<SocketAddr>>,
    ) -> Ctx {
        let cookies = cookies(headers);
        let lang = Lang::choose(
            cookies
                .iter()
                .find(|(k, _)| k == "kinko-lang")
                .map(|(_, v)| v.as_str()),
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
        );
        let session_id = cookies
            .iter()
            .find(|(k, _)| k == console.cookie_name())
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty());
        let session = session_id.as_deref().and_then(|id| console.sessions.get(id));
        Ctx {
            lang,
            path: path.to_owned(),
            session_id: session_id.filter(|_| session.is_some()),
            session,
            source_ip: connect.map(|c| c.0.ip()),
            headers: headers.clone(),
        }
    }

    /// Who is signed in, or the redirect to the sign-in page (or to the password page, for a
    /// user who must set a new password first).
    pub fn signed_in(&self) -> Result<(&str, &Session, &SignedIn), Response> {
        match (&self.session_id, &self.session) {
            (Some(id), Some(s)) => match &s.signed_in {
                Some(who) if who.must_change_password && self.path != "/password" => {
                    Err(Redirect::to("/console/password").into_response())
                }
                Some(who) => Ok((id, s, who)),
                None => Err(Redirect::to("/console/signin").into_response()),
            },
            _ => Err(Redirect::to("/console/signin").into_response()),
        }
    }
}

/// The request's cookies.
fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// The extractor of [`Ctx`].
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx
where
    Arc<Console>: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Ctx, Self::Rejection> {
        let console: Arc<Console> = axum::extract::FromRef::from_ref(state);
        let connect = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Ctx::of(&console, parts.uri.path(), &parts.headers, connect))
    }
}

/// A form's fields, in order (repeated names kept: key/value rows), and the files it uploaded.
pub(crate) struct Form {
    fields: Vec<(String, String)>,
    files: Vec<multipart::Upload>,
}

impl Form {
    /// A form sent as `application/x-www-form-urlencoded`.
    pub fn parse(body: &Bytes) -> Form {
        Form {
            fields: form_urlencoded::parse(body).into_owned().collect(),
            files: Vec::new(),
        }
    }

    /// A form as the request's `Content-Type` says it was sent: `multipart/form-data` (a form
    /// with a file input) or URL-encoded. A malformed multipart body is an empty form, which
    /// the CSRF check refuses.
    pub fn of(headers: &HeaderMap, body: &Bytes) -> Form {
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(multipart::boundary);
        match boundary {
            None => Form::parse(body),
            Some(b) => multipart::parse(body, &b).map_or(
                Form {
                    fields: Vec::new(),
                    files: Vec::new(),
                },
                |parts| Form {
                    fields: parts.fields,
                    files: parts.files,
                },
            ),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The file uploaded through input `name`: its file name and bytes (none when no file was
    /// chosen: browsers send an empty part without a file name).
    pub fn file(&self, name: &str) -> Option<(&str, &[u8])> {
        self.files
            .iter()
            .find(|f| f.name == name && !(f.file_name.is_empty() && f.bytes.is_empty()))
            .map(|f| (f.file_name.as_str(), f.bytes.as_slice()))
    }
}

/// Checks a state-changing request: the session's CSRF token in the form, and the browser's word
/// that the request comes from this origin.
pub(crate) fn check_post(console: &Console, ctx: &Ctx, form: &Form) -> Result<(), Response> {
    use subtle::ConstantTimeEq as _;
    let refused = || pages::refused(ctx.lang, StatusCode::FORBIDDEN, ctx.lang.t("csrf_refused"));
    let Some(session) = &ctx.session else {
        return Err(refused());
    };
    let token = form.get("csrf").unwrap_or_default();
    if !bool::from(token.as_bytes().ct_eq(session.csrf.as_bytes())) {
        return Err(refused());
    }
    if let Some(site) = ctx.headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
    {
        return Err(refused());
    }
    if let Some(origin) = ctx.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = ctx
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let scheme = if console.config.tls { "https" } else { "http" };
        if origin != format!("{scheme}://{host}") {
            return Err(refused());
        }
    }
    Ok(())
}

/// The request context of a console action: the signed-in principal (and its role session after
/// "switch role", refused once it has expired, as the API refuses expired credentials).
fn request_context(console: &Console, ctx: &Ctx, who: &SignedIn) -> Result<RequestContext, WireError> {
    let now = kinko_core::Clock::now(&*console.services.clock);
    if who.session.as_ref().is_some_and(|s| s.expiration < now) {
        return Err(WireError::new(
            "ExpiredTokenException",
            403,
            "The security token included in the request is expired",
        ));
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut rc = RequestContext::new(who.principal.clone(), &console.config.region, &request_id);
    rc.session = who.session.clone();
    rc.mfa_authenticated = who.mfa_authenticated;
    rc.source_ip = ctx.source_ip;
    rc.user_agent = Some(USER_AGENT.to_owned());
    Ok(rc)
}

/// A signed-in user's state change: the form, once its CSRF token and origin are checked, and who
/// is signed in (session id, session, identity); or the answer refusing it.
pub(crate) fn posted<'a>(
    console: &Console,
    ctx: &'a Ctx,
    body: &Bytes,
) -> Result<(Form, &'a str, &'a Session, &'a SignedIn), Response> {
    let form = Form::of(&ctx.headers, body);
    check_post(console, ctx, &form)?;
    let (id, session, who) = ctx.signed_in()?;
    Ok((form, id, session, who))
}

impl Console {
    /// Leaves `flash` for the next page of session `id` and sends the browser to `to`.
    pub(crate) fn redirect_with(&self, id: &str, flash: (bool, String), to: &str) -> Response {
        self.sessions.update(id, |s| s.flash = Some(flash));
        Redirect::to(to).into_response()
    }
}

/// The message an action leaves: "Done." or the operation's error, with the lines explaining an
/// AccessDenied under it ([`why`]).
pub(crate) fn outcome<T>(lang: Lang, result: &Result<T, WireError>) -> (bool, String) {
    match result {
        Ok(_) => (false, lang.t("done").to_owned()),
        Err(e) => {
            let mut text = format!("{}: {}", e.code, e.message);
            for line in why::lines(e) {
                text.push('\n');
                text.push_str(&line);
            }
            (true, text)
        }
    }
}

/// Runs `operation` of `service` as the signed-in principal, through the services' one entry
/// point (authorized and audited as an API call): its JSON answer, or its error.
pub(crate) async fn call(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    service: ServiceName,
    operation: &str,
    input: &Value,
) -> Result<Value, WireError> {
    let rc = request_context(console, ctx, who)?;
    call_as(console, ctx, rc, service, operation, input).await
}

/// [`call`] in `region` rather than the console's: what a client of that region would send (a
/// replica's StopReplicationToReplica is called in the replica's region).
pub(crate) async fn call_in_region(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    region: &str,
    service: ServiceName,
    operation: &str,
    input: &Value,
) -> Result<Value, WireError> {
    let mut rc = request_context(console, ctx, who)?;
    region.clone_into(&mut rc.region);
    call_as(console, ctx, rc, service, operation, input).await
}

async fn call_as(
    console: &Console,
    ctx: &Ctx,
    rc: RequestContext,
    service: ServiceName,
    operation: &str,
    input: &Value,
) -> Result<Value, WireError> {
    let body = serde_json::to_vec(input).unwrap_or_default();
    let started = std::time::Instant::now();
    let out = kinko_api::call(
        &console.services,
        &rc,
        Some(service),
        operation,
        CallInput::Json(&body),
    )
    .await;
    timing::record(operation, started.elapsed());
    let out = out.inspect_err(|e| why::note(ctx.lang, &rc, e))?;
    Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
}

/// Runs the Lambda (REST-JSON) request `method` `path` as the signed-in principal, routed as the
/// API routes it, through the services' one entry point: its JSON answer, or its error.
pub(crate) async fn call_lambda(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    method: &str,
    path: &str,
) -> Result<Value, WireError> {
    let route = kinko_api::lambda::route(method, path, None, &[])?;
    let rc = request_context(console, ctx, who)?;
    let req = kinko_api::operation::RestRequest {
        members: route.members,
        raw_body: route.raw_body,
        body: b"",
    };
    let started = std::time::Instant::now();
    let out = kinko_api::call(
        &console.services,
        &rc,
        Some(ServiceName::Lambda),
        route.operation,
        CallInput::Rest(&req),
    )
    .await;
    timing::record(route.operation, started.elapsed());
    let out = out.inspect_err(|e| why::note(ctx.lang, &rc, e))?;
    Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
}

/// Runs the Query-protocol `action` of `service` (IAM, STS) with `params` as the signed-in
/// principal, through the services' one entry point: its XML answer, or its error.
pub(crate) async fn call_query(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    service: ServiceName,
    action: &str,
    params: &[(&str, &str)],
) -> Result<String, WireError> {
    let body = {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("Action", action);
        body.append_pair("Version", kinko_api::iam::VERSION);
        for (k, v) in params {
            body.append_pair(k, v);
        }
        body.finish()
    };
    let params = kinko_wire::query::Params::parse(body.as_bytes());
    let rc = request_context(console, ctx, who)?;
    let started = std::time::Instant::now();
    let out = kinko_api::call(
        &console.services,
        &rc,
        Some(service),
        action,
        CallInput::Query(&params),
    )
    .await;
    timing::record(action, started.elapsed());
    let out = out.inspect_err(|e| why::note(ctx.lang, &rc, e))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn home(State(console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let _ = console;
    match ctx.signed_in() {
        Ok(_) => Redirect::to("/console/secrets").into_response(),
        Err(to_sign_in) => to_sign_in,
    }
}

#[derive(serde::Deserialize)]
struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

/// The language switch: a cookie, then back to the page (a console path only).
async fn switch_language(axum::extract::Query(q): axum::extract::Query<LangQuery>) -> Response {
    let lang = match q.to.as_deref() {
        Some("ja") => "ja",
        _ => "en",
    };
    let back = q
        .back
        .filter(|b| b.starts_with("/console/") && !b.starts_with("/console//") && !b.contains('\\'))
        .unwrap_or_else(|| "/console/".to_owned());
    let mut resp = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "kinko-lang={lang}; Path=/console/; SameSite=Strict; Max-Age=31536000"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");
const ICON: &str = include_str!("../assets/favicon.svg");

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn not_found(ctx: Ctx) -> Response {
    pages::refused(ctx.lang, StatusCode::NOT_FOUND, ctx.lang.t("not_found"))
}

/// The headers of every console response, and its server time (`Server-Timing`).
async fn security_headers(State(console): State<Arc<Console>>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    // Room for the "why denied?" explanations of the request's calls (see `why`).
    let (mut resp, calls) = timing::scope(why::scope(next.run(req))).await;
    let h = resp.headers_mut();
    // The page's server time, which the browser's developer tools show (Server-Timing), then
    // the time of its API calls.
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.1}{calls}")) {
        h.insert("server-timing", v);
    }
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // form posts, which the CSRF check (rightly) refuses.
    set(h, "referrer-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(h, "cache-control", "no-store");
    if console.config.tls {
        set(h, "strict-transport-security", "max-age=31536000");
    }
    resp
}
