//! `kinko-bench console`: the web console's server time per page, against its budget of 20 ms.
//!
//! It starts `kinko server` on a fresh temporary data directory (durable SQLite, audit records
//! synced before each answer, as by default) with a root console password, whose hash
//! `kinko console hash-password` makes (KINKO_CONSOLE_ROOT_PASSWORD_HASH); creates `--secrets`
//! secrets, `--users` IAM users each with a customer managed policy attached, some roles, groups and
//! KMS keys, all through the API as root; signs in to the console as root as a browser does (the
//! sign-in page's cookie and CSRF token, then its form); then requests every page type in turn,
//! `--runs` rounds after `--warmup` unmeasured ones, on one keep-alive connection, one request at
//! a time. Each page's server time is the console's own `Server-Timing: app;dur=MS`; its wall time
//! runs from sending the request to reading the last byte of the answer. A page answering an
//! error (a status other than 200, or 303 for the home page's redirect, or an error box in the
//! page) fails the run, as does a page whose p99 server time is over `--budget-ms`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use rand::Rng;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::bench::{ACCOUNT_ID, Credentials, Outcome, start_durable_kinko_with};
use crate::cli::ConsoleArgs;
use crate::client::{Conn, Endpoint, Response};
use crate::exec::{iam, ms, percentile};
use crate::load::{self, Target};
use crate::setup::call_ok;
use crate::signing::Api;
use crate::stats::Server;

const REGION: &str = "us-east-1";
/// The root user's console password on the benchmark's server.
const PASSWORD: &str = "kinko-bench console password";

/// The name of the `index`-th secret the console benchmark makes.
fn secret_name(index: usize) -> String {
    format!("console-bench/secret-{index}")
}

fn user_name(index: usize) -> String {
    format!("console-bench-user-{index}")
}

/// A page the benchmark requests.
struct Page {
    name: &'static str,
    method: Method,
    /// The path and query, `{secret}`, `{user}` and `{key}` standing for a random one.
    target: &'static str,
    /// A POST's form fields besides the CSRF token (same placeholders).
    form: &'static [(&'static str, &'static str)],
    /// The status a working page answers.
    status: StatusCode,
}

const fn get(name: &'static str, target: &'static str) -> Page {
    Page {
        name,
        method: Method::GET,
        target,
        form: &[],
        status: StatusCode::OK,
    }
}

/// Every page type of the console, as a signed-in root user reaches them.
fn pages() -> Vec<Page> {
    vec![
        Page {
            status: StatusCode::SEE_OTHER,
            ..get("home (redirect)", "/console/")
        },
        get("secrets", "/console/secrets"),
        get("secrets, search", "/console/secrets?q=secret-7&order=desc"),
        get(
            "secrets, with deleted",
            "/console/secrets?q=&order=asc&deleted=on",
        ),
        get("store a new secret", "/console/secrets/new"),
        get("secret details", "/console/secrets/details?id={secret}"),
        Page {
            name: "retrieve secret value (POST)",
            method: Method::POST,
            target: "/console/secrets/reveal",
            form: &[("id", "{secret}")],
            status: StatusCode::OK,
        },
        get("audit trail", "/console/audit"),
        get(
            "audit trail, search",
            "/console/audit?key=EventName&value=CreateSecret",
        ),
        get("IAM users", "/console/iam/users"),
        get("IAM user details", "/console/iam/users/details?name={user}"),
        get("create user", "/console/iam/users/new"),
        get("IAM policies", "/console/iam/policies"),
        get("create policy", "/console/iam/policies/new"),
        get("IAM roles", "/console/iam/roles"),
        get("IAM groups", "/console/iam/groups"),
        get("password policy", "/console/iam/password-policy"),
        get("KMS keys", "/console/kms"),
        get("KMS key details", "/console/kms/key?id={key}"),
        get("accounts", "/console/organizations"),
        get("switch role", "/console/switch-role"),
    ]
}

/// What the benchmark made: the KMS key ids (the secrets and users are numbered).
struct Seeded {
    keys: Vec<String>,
}

pub async fn run(args: ConsoleArgs) -> Result<Outcome> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(
        args.secrets > 0 && args.users > 0,
        "--secrets and --users must be at least 1"
    );
    let hash = hash_password(&args.kinko).await?;
    let workdir =
        tempfile::TempDir::with_prefix("kinko-bench-console-").context("creating temporary directory")?;
    let root = Credentials::generate();
    let server = start_durable_kinko_with(
        &args.kinko,
        workdir.path(),
        &root,
        &[("KINKO_CONSOLE_ROOT_PASSWORD_HASH", &hash)],
    )
    .await?;
    let endpoint = server.endpoint().clone();
    let result = async {
        let target = Arc::new(Target::single(
            Server::Kinko,
            endpoint.clone(),
            root.signer(&endpoint.authority, REGION)?,
            Some(server.pid()),
        ));
        let seeded = seed(&args, &target, &endpoint, &root).await?;
        measure(&args, &endpoint, &seeded).await
    }
    .await;
    let stopped = server.stop().await;
    let outcome = result?;
    stopped?;
    Ok(outcome)
}

/// The argon2id hash of [`PASSWORD`], as `kinko console hash-password` prints it.
async fn hash_password(kinko: &std::path::Path) -> Result<String> {
    ensure!(
        kinko.exists(),
        "{} not found: build it with `cargo build --release -p kinko-cli`, or pass --kinko PATH",
        kinko.display()
    );
    let mut child = Command::new(kinko)
        .args(["console", "hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running kinko console hash-password")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    stdin.write_all(format!("{PASSWORD}\n").as_bytes()).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    ensure!(
        out.status.success(),
        "kinko console hash-password failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Makes what the pages list: the secrets, the users (each with a policy attached; a policy for
/// every two users), roles, groups and KMS keys.
async fn seed(
    args: &ConsoleArgs,
    target: &Arc<Target>,
    endpoint: &Endpoint,
    root: &Credentials,
) -> Result<Seeded> {
    load::seed_secrets(
        Arc::clone(target),
        "creating secrets",
        args.secrets,
        64,
        secret_name,
        None,
        false,
    )
    .await
    .context("creating secrets")?;
    let started = Instant::now();
    let signer = root.signer(&endpoint.authority, REGION)?;
    let read = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    for n in 0..args.users {
        let user = user_name(n);
        iam(
            endpoint,
            &signer,
            &[("Action", "CreateUser"), ("UserName", &user)],
        )
        .await?;
        let policy_name = format!("console-bench-policy-{}", n / 2);
        let policy_arn = format!("arn:aws:iam::{ACCOUNT_ID}:policy/{policy_name}");
        if n % 2 == 0 {
            iam(
                endpoint,
                &signer,
                &[
                    ("Action", "CreatePolicy"),
                    ("PolicyName", &policy_name),
                    ("PolicyDocument", read),
                ],
            )
            .await?;
        }
        iam(
            endpoint,
            &signer,
            &[
                ("Action", "AttachUserPolicy"),
                ("UserName", &user),
                ("PolicyArn", &policy_arn),
            ],
        )
        .await?;
    }
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    for n in 0..10 {
        let role = format!("console-bench-role-{n}");
        iam(
            endpoint,
            &signer,
            &[
                ("Action", "CreateRole"),
                ("RoleName", &role),
                ("AssumeRolePolicyDocument", &trust),
            ],
        )
        .await?;
        let group = format!("console-bench-group-{n}");
        iam(
            endpoint,
            &signer,
            &[("Action", "CreateGroup"), ("GroupName", &group)],
        )
        .await?;
        iam(
            endpoint,
            &signer,
            &[
                ("Action", "AddUserToGroup"),
                ("GroupName", &group),
                ("UserName", &user_name(n % args.users)),
            ],
        )
        .await?;
    }
    let mut keys = Vec::new();
    for n in 0..10 {
        let created = call_ok(
            target,
            Api::Kms,
            "CreateKey",
            &json!({"Description": format!("console benchmark key {n}")}),
        )
        .await?;
        let id = created["KeyMetadata"]["KeyId"]
            .as_str()
            .context("CreateKey answered no KeyId")?
            .to_owned();
        call_ok(
            target,
            Api::Kms,
            "CreateAlias",
            &json!({"AliasName": format!("alias/console-bench-{n}"), "TargetKeyId": id}),
        )
        .await?;
        keys.push(id);
    }
    eprintln!(
        "created {} users, {} policies, 10 roles, 10 groups, 10 KMS keys in {:.1} s",
        args.users,
        args.users.div_ceil(2),
        started.elapsed().as_secs_f64()
    );
    Ok(Seeded { keys })
}

/// A signed-in browser: its connection, session cookie and CSRF token.
struct Browser {
    conn: Conn,
    endpoint: Endpoint,
    cookie: String,
    csrf: String,
}

impl Browser {
    /// Signs in as the root user as the sign-in page's form does.
    async fn sign_in(endpoint: &Endpoint) -> Result<Browser> {
        let mut b = Browser {
            conn: Conn::connect(endpoint.addr).await?,
            endpoint: endpoint.clone(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let page = b.send(Method::GET, "/console/signin", None).await?;
        ensure!(
            page.status == StatusCode::OK,
            "the sign-in page answered {}",
            page.status
        );
        b.take_cookie(&page)?;
        b.csrf = csrf_of(&page.body).context("the sign-in page has no CSRF token")?;
        let form = form(&[
            ("csrf", &b.csrf),
            ("kind", "root"),
            ("account", ACCOUNT_ID),
            ("user_name", ""),
            ("password", PASSWORD),
        ]);
        let signed_in = b.send(Method::POST, "/console/signin", Some(form)).await?;
        let to = signed_in.headers.get(LOCATION).and_then(|v| v.to_str().ok());
        ensure!(
            signed_in.status == StatusCode::SEE_OTHER && to == Some("/console/secrets"),
            "signing in answered {} to {to:?}: {}",
            signed_in.status,
            signed_in.body_excerpt()
        );
        b.take_cookie(&signed_in)?;
        // The signed-in session's token, from its first page.
        let secrets = b.send(Method::GET, "/console/secrets", None).await?;
        b.csrf = csrf_of(&secrets.body).context("the secrets page has no CSRF token")?;
        Ok(b)
    }

    /// The session cookie a response sets.
    fn take_cookie(&mut self, response: &Response) -> Result<()> {
        let cookie = response
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("kinko-console="))
            .context("no session cookie set")?;
        self.cookie = cookie.split(';').next().unwrap_or_default().to_owned();
        Ok(())
    }

    /// One request as the browser sends it (a form POST from this origin).
    async fn send(&mut self, method: Method, target: &str, form: Option<String>) -> Result<Response> {
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(HOST, self.endpoint.authority.as_str())
            .header(ACCEPT_LANGUAGE, "en");
        if !self.cookie.is_empty() {
            request = request.header(COOKIE, self.cookie.as_str());
        }
        if form.is_some() {
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ORIGIN, format!("http://{}", self.endpoint.authority))
                .header("sec-fetch-site", "same-origin");
        }
        let request = request
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .context("building a request")?;
        if self.conn.is_closed() {
            self.conn = Conn::connect(self.endpoint.addr).await?;
        }
        self.conn.send(request).await
    }
}

/// A URL-encoded form.
fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The value of a page's first `name="csrf"` input.
fn csrf_of(html: &[u8]) -> Option<String> {
    let html = std::str::from_utf8(html).ok()?;
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')? + at;
    Some(html[at..end].to_owned())
}

/// The console's server time of an answer (`Server-Timing: app;dur=MS`), among the finer
/// entries that may follow it (`app;dur=12.5, ListGroups;desc="1 call";dur=2.0`).
fn server_time(response: &Response) -> Option<Duration> {
    let header = response.headers.get("server-timing")?.to_str().ok()?;
    let app = header
        .split(',')
        .find(|entry| entry.split(';').next().map(str::trim) == Some("app"))?;
    let ms: f64 = app
        .split(';')
        .find_map(|p| p.trim().strip_prefix("dur="))?
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

/// The times of one page type.
#[derive(Default)]
struct Times {
    server: Vec<Duration>,
    wall: Vec<Duration>,
    /// The last measured answer's `Server-Timing` header.
    timing: String,
}

async fn measure(args: &ConsoleArgs, endpoint: &Endpoint, seeded: &Seeded) -> Result<Outcome> {
    let mut browser = Browser::sign_in(endpoint).await?;
    let pages = pages();
    let mut times: BTreeMap<usize, Times> = BTreeMap::new();
    let mut rng = rand::rng();
    eprintln!(
        "requesting {} page types, {} rounds after {} unmeasured",
        pages.len(),
        args.runs,
        args.warmup
    );
    for round in 0..args.warmup + args.runs {
        for (n, page) in pages.iter().enumerate() {
            let secret = secret_name(rng.random_range(0..args.secrets));
            let user = user_name(rng.random_range(0..args.users));
            let key = &seeded.keys[rng.random_range(0..seeded.keys.len())];
            let fill = |s: &str| {
                let encode = |v: &str| -> String { form_urlencoded::byte_serialize(v.as_bytes()).collect() };
                s.replace("{secret}", &encode(&secret))
                    .replace("{user}", &encode(&user))
                    .replace("{key}", &encode(key))
            };
            let target = fill(page.target);
            let body = (page.method == Method::POST).then(|| {
                let mut fields = vec![("csrf".to_owned(), browser.csrf.clone())];
                for (k, v) in page.form {
                    let v = v
                        .replace("{secret}", &secret)
                        .replace("{user}", &user)
                        .replace("{key}", key);
                    fields.push(((*k).to_owned(), v));
                }
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                form(&pairs)
            });
            let started = Instant::now();
            let response = browser.send(page.method.clone(), &target, body).await?;
            let wall = started.elapsed();
            if response.status != page.status
                || String::from_utf8_lossy(&response.body).contains("class=\"alert error\"")
            {
                bail!(
                    "{} ({target}) answered {}: {}",
                    page.name,
                    response.status,
                    error_text(&response)
                );
            }
            let server = server_time(&response)
                .with_context(|| format!("{} ({target}) sent no Server-Timing", page.name))?;
            if round >= args.warmup {
                let t = times.entry(n).or_default();
                t.server.push(server);
                t.wall.push(wall);
                if let Some(v) = response
                    .headers
                    .get("server-timing")
                    .and_then(|v| v.to_str().ok())
                {
                    v.clone_into(&mut t.timing);
                }
            }
        }
    }
    println!(
        "Console pages, {} secrets, {} IAM users: {} requests per page, one at a time (ms)\n",
        args.secrets, args.users, args.runs
    );
    println!("| page | server p50 | server p99 | server max | wall p50 | wall p99 | wall max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let budget = Duration::from_secs_f64(args.budget_ms / 1000.0);
    let mut over = Vec::new();
    for (n, t) in &mut times {
        t.server.sort();
        t.wall.sort();
        let (s, w) = (&t.server, &t.wall);
        let max = |d: &[Duration]| d.last().copied().unwrap_or_default();
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            pages[*n].name,
            ms(percentile(s, 0.5)),
            ms(percentile(s, 0.99)),
            ms(max(s)),
            ms(percentile(w, 0.5)),
            ms(percentile(w, 0.99)),
            ms(max(w)),
        );
        if percentile(s, 0.99) > budget {
            over.push(pages[*n].name);
        }
    }
    if args.show_timing {
        println!("\nThe last answer's Server-Timing of each page:\n");
        for (n, t) in &times {
            println!("- {}: {}", pages[*n].name, t.timing);
        }
    }
    if over.is_empty() {
        println!("\nEvery page's p99 server time is within {} ms.", args.budget_ms);
        Ok(Outcome::Clean)
    } else {
        println!(
            "\nOver the {} ms budget at p99: {}",
            args.budget_ms,
            over.join(", ")
        );
        Ok(Outcome::HadErrors)
    }
}

/// The error a page shows (its alert box's text), else the start of the answer.
fn error_text(response: &Response) -> String {
    let body = String::from_utf8_lossy(&response.body);
    body.find("class=\"alert error\"")
        .map(|at| {
            let text = &body[at..];
            let end = text.find("</div>").unwrap_or(text.len());
            text[..end].to_owned()
        })
        .unwrap_or_else(|| response.body_excerpt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_csrf_token_and_the_server_time() {
        assert_eq!(
            csrf_of(
                b"<form><input type=\"hidden\" name=\"csrf\" value=\"abc\"><input name=\"csrf\" value=\"x\">"
            )
            .as_deref(),
            Some("abc")
        );
        assert_eq!(csrf_of(b"<p>none</p>"), None);
        let mut headers = http::HeaderMap::new();
        headers.insert("server-timing", http::HeaderValue::from_static("app;dur=12.5"));
        let response = Response {
            status: StatusCode::OK,
            headers,
            body: Bytes::new(),
        };
        assert_eq!(server_time(&response), Some(Duration::from_micros(12_500)));
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "server-timing",
            http::HeaderValue::from_static("GetGroup;desc=\"2 calls\";dur=3.0, app;dur=7.5"),
        );
        let response = Response {
            status: StatusCode::OK,
            headers,
            body: Bytes::new(),
        };
        assert_eq!(server_time(&response), Some(Duration::from_micros(7_500)));
    }
}
