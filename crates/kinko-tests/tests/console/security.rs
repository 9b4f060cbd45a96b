//! What the console refuses: state changes without the session's CSRF token or from another
//! origin (sign-in included), a session id kept across sign-in, being framed by another site,
//! wrong passwords (one message whatever was wrong, then a limit); and its headers. A console
//! cookie is no API credential, and an API signature no console session.

use kinko_tests::browser::Browser;
use kinko_tests::*;

use crate::*;

/// A GET of `path` with `cookie`.
async fn get(path: &str, cookie: Option<&str>) -> RawResponse {
    let s = server();
    let mut req = http::Request::get(path).header("host", s.addr().to_string());
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    send_to(s.addr(), req.body(Vec::new()).expect("request")).await
}

/// A form POST of `fields` to `path` with `cookie` and extra `headers`.
async fn post(path: &str, cookie: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> RawResponse {
    let s = server();
    let body = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut req = http::Request::post(path)
        .header("host", s.addr().to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send_to(s.addr(), req.body(body.into_bytes()).expect("request")).await
}

fn header(r: &RawResponse, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The session cookie a response sets (`name=value`).
fn set_cookie(r: &RawResponse) -> String {
    let v = header(r, "set-cookie");
    v.split(';').next().unwrap_or_default().to_owned()
}

/// A new sign-in page's session cookie and CSRF token.
async fn sign_in_page() -> (String, String) {
    let page = get("/console/signin", None).await;
    assert_eq!(page.status, 200);
    let cookie = set_cookie(&page);
    assert!(cookie.starts_with("kinko-console="), "{cookie}");
    let set = header(&page, "set-cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let html = String::from_utf8(page.body).expect("HTML");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the form")
        .to_owned();
    (cookie, csrf)
}

#[tokio::test]
async fn every_page_forbids_framing_inline_script_and_caching() {
    for path in ["/console/signin", "/console/secrets", "/console/nowhere"] {
        let r = get(path, None).await;
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
    }
}

#[tokio::test]
async fn sign_in_needs_the_pages_token_and_this_origin_and_makes_a_new_session() {
    let s = server();
    let (cookie, csrf) = sign_in_page().await;
    let origin = format!("http://{}", s.addr());
    let fields = |token: &'static str| {
        vec![
            ("kind", "root"),
            ("account", s.account_id()),
            ("password", ROOT_PASSWORD),
            ("csrf", token),
        ]
    };
    let token: &'static str = Box::leak(csrf.into_boxed_str());
    // No token, a wrong one, another origin, a cross-site request: refused, nobody signed in.
    for (fields, headers) in [
        (fields(""), vec![("origin", origin.as_str())]),
        (fields("x"), vec![("origin", origin.as_str())]),
        (fields(token), vec![("origin", "http://evil.example")]),
        (fields(token), vec![("sec-fetch-site", "cross-site")]),
    ] {
        let r = post("/console/signin", &cookie, &fields, &headers).await;
        assert_eq!(r.status, 403, "{headers:?}");
        assert_eq!(header(&r, "set-cookie"), "");
    }
    // The same, from this origin with the token: signed in, with a new session id.
    let r = post(
        "/console/signin",
        &cookie,
        &fields(token),
        &[("origin", &origin), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(header(&r, "location"), "/console/secrets");
    let signed_in = set_cookie(&r);
    assert!(signed_in.starts_with("kinko-console=") && signed_in != cookie);
    assert_eq!(get("/console/secrets", Some(&signed_in)).await.status, 200);
    // The session id from before sign-in is worth nothing now.
    let old = get("/console/secrets", Some(&cookie)).await;
    assert_eq!(old.status, 303);
    assert_eq!(header(&old, "location"), "/console/signin");
}

#[tokio::test]
async fn a_wrong_sign_in_says_the_same_whatever_was_wrong_then_is_limited() {
    let s = server();
    let message = "Your authentication information is incorrect. Please try again.";
    let attempt = |account: &'static str, kind: &'static str, user: &'static str, password: &'static str| async move {
        let (cookie, csrf) = sign_in_page().await;
        let r = post(
            "/console/signin",
            &cookie,
            &[
                ("kind", kind),
                ("account", account),
                ("user_name", user),
                ("password", password),
                ("csrf", &csrf),
            ],
            &[],
        )
        .await;
        (r.status, String::from_utf8(r.body).expect("HTML"))
    };
    let account: &'static str = Box::leak(s.account_id().to_owned().into_boxed_str());
    for (acct, kind, user, password) in [
        (account, "root", "", "not the password"),
        ("999999999999", "root", "", ROOT_PASSWORD),
        (account, "iam", "nobody", ROOT_PASSWORD),
    ] {
        let (status, html) = attempt(acct, kind, user, password).await;
        assert_eq!(status, 401, "{acct} {kind} {user}");
        assert!(html.contains(message), "{html}");
    }
    // Five failures for one account and user name: every attempt for them is refused for a
    // while, whatever the password.
    for _ in 0..4 {
        assert_eq!(attempt("111111111111", "iam", "alice", "wrong").await.0, 401);
    }
    let (status, html) = attempt("111111111111", "iam", "alice", "wrong").await;
    assert_eq!(status, 401, "{html}");
    let (status, html) = attempt("111111111111", "iam", "alice", "wrong").await;
    assert_eq!(status, 429);
    assert!(html.contains("Too many sign-in attempts"), "{html}");
    // Others are not held back by it.
    assert_eq!(attempt("111111111111", "iam", "bob", "wrong").await.0, 401);
}

#[tokio::test]
async fn a_console_cookie_is_no_api_credential() {
    let s = server();
    let (cookie, csrf) = sign_in_page().await;
    let origin = format!("http://{}", s.addr());
    let r = post(
        "/console/signin",
        &cookie,
        &[
            ("kind", "root"),
            ("account", s.account_id()),
            ("password", ROOT_PASSWORD),
            ("csrf", &csrf),
        ],
        &[("origin", &origin)],
    )
    .await;
    let signed_in = set_cookie(&r);
    let api = send_to(
        s.addr(),
        http::Request::post("/")
            .header("host", s.addr().to_string())
            .header("cookie", signed_in)
            .header("x-amz-target", "secretsmanager.ListSecrets")
            .header("content-type", "application/x-amz-json-1.1")
            .body(b"{}".to_vec())
            .expect("request"),
    )
    .await;
    assert_eq!(api.status, 400);
    assert_eq!(
        header(&api, "x-amzn-errortype").split(':').next(),
        Some("MissingAuthenticationTokenException")
    );
}

/// Serves one page at `html` on a loopback port of its own (another origin than the console's):
/// its address.
async fn other_site(html: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let html = html.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_site_can_neither_frame_the_console_nor_post_to_it() {
    let Some(b) = Browser::start().await else {
        return;
    };
    sign_in_as_root(&b).await;
    let name = format!("framed-{}", short_id());
    let arn = ok(server()
        .client()
        .create_secret()
        .name(&name)
        .secret_string("v")
        .send()
        .await)
    .arn()
    .expect("arn")
    .to_owned();
    let _ = b.log().await;
    // A page of another origin framing the console: the browser refuses to show it.
    let framing = other_site(format!(
        "<html><body><h1>elsewhere</h1><iframe src=\"{}\"></iframe></body></html>",
        url("/console/secrets")
    ))
    .await;
    b.client.goto(&format!("http://{framing}/")).await.expect("goto");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = b.log().await;
    assert!(
        log.iter()
            .any(|l| l.contains("frame-ancestors") || l.contains("X-Frame-Options")),
        "the browser did not refuse the frame: {log:?}"
    );
    b.screenshot("10-framed-elsewhere").await;
    // A page of another origin posting a deletion to the console, as the signed-in browser:
    // refused (the session cookie is not even sent cross-site), nothing deleted.
    let posting = other_site(format!(
        "<html><body><form id=f method=post action=\"{}\"><input name=id value=\"{arn}\"><input name=days value=7><input name=csrf value=guess></form><button id=go onclick=\"document.getElementById('f').submit()\">go</button></body></html>",
        url("/console/secrets/delete")
    ))
    .await;
    b.client.goto(&format!("http://{posting}/")).await.expect("goto");
    b.click_to_next_page("#go").await;
    let at = b.client.current_url().await.expect("url");
    assert_eq!(at.path(), "/console/secrets/delete");
    let page = b.source().await;
    assert!(page.contains("it did not come from this console"), "{page}");
    let described = ok(server().client().describe_secret().secret_id(&arn).send().await);
    assert!(
        described.deleted_date().is_none(),
        "deleted by another site's form"
    );
    b.quit().await;
}

/// The second step of an MFA sign-in: it can't be reached without the right password, a used
/// code is refused like a wrong one, wrong codes count towards the same limit as wrong
/// passwords (and are refused alike in Japanese), and none of it signs anyone in.
#[tokio::test]
async fn an_mfa_code_is_asked_after_the_password_used_once_and_limited() {
    let s = server();
    let iam = s.iam_client();
    let user = format!("mfa-limit-{}", short_id());
    let password = "Mfa-Limit-Passw0rd!";
    ok(iam.create_user().user_name(&user).send().await);
    ok(iam
        .create_login_profile()
        .user_name(&user)
        .password(password)
        .send()
        .await);
    let device = ok(iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(&user)
        .send()
        .await)
    .virtual_mfa_device
    .expect("VirtualMFADevice");
    let secret = String::from_utf8(device.base32_string_seed.expect("Base32StringSeed").into_inner())
        .expect("base32 text");
    ok(iam
        .enable_mfa_device()
        .user_name(&user)
        .serial_number(&device.serial_number)
        .authentication_code1(crate::mfa::code(&secret, -1))
        .authentication_code2(crate::mfa::code(&secret, 0))
        .send()
        .await);

    // The password step, from a new sign-in page: the MFA page, nobody signed in yet.
    let password_step = async || {
        let (cookie, csrf) = sign_in_page().await;
        let r = post(
            "/console/signin",
            &cookie,
            &[
                ("kind", "iam"),
                ("account", s.account_id()),
                ("user_name", &user),
                ("password", password),
                ("csrf", &csrf),
            ],
            &[],
        )
        .await;
        (cookie, csrf, r)
    };
    let code_step = async |cookie: &str, csrf: &str, code: &str, headers: &[(&str, &str)]| {
        let r = post(
            "/console/signin/mfa",
            cookie,
            &[("mfa_code", code), ("csrf", csrf)],
            headers,
        )
        .await;
        let html = String::from_utf8(r.body.clone()).expect("HTML");
        (r, html)
    };
    let refused = "The MFA code is not valid. Enter the current code from your device.";

    // No code step without the password step.
    let (cookie, csrf) = sign_in_page().await;
    let (r, _) = code_step(&cookie, &csrf, &crate::mfa::code(&secret, 0), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(header(&r, "location"), "/console/signin");
    assert_eq!(get("/console/secrets", Some(&cookie)).await.status, 303);

    let (cookie, csrf, r) = password_step().await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8(r.body).expect("HTML");
    assert!(html.contains("name=\"mfa_code\""), "{html}");
    assert_eq!(get("/console/secrets", Some(&cookie)).await.status, 303);
    // The next code signs in, with a new session id.
    let next = crate::mfa::code(&secret, 1);
    let (r, _) = code_step(&cookie, &csrf, &next, &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(header(&r, "location"), "/console/secrets");
    let signed_in = set_cookie(&r);
    assert!(signed_in.starts_with("kinko-console=") && signed_in != cookie);
    assert_eq!(get("/console/secrets", Some(&signed_in)).await.status, 200);

    // The same code again, in another sign-in: refused, not signed in.
    let (cookie, csrf, r) = password_step().await;
    assert_eq!(r.status, 200);
    let (r, html) = code_step(&cookie, &csrf, &next, &[]).await;
    assert_eq!(r.status, 401);
    assert!(html.contains(refused), "{html}");
    assert_eq!(header(&r, "set-cookie"), "");
    assert_eq!(get("/console/secrets", Some(&cookie)).await.status, 303);

    // Wrong codes (the used one counted): refused alike, in the visitor's language; the fifth
    // failure for the user holds every attempt back for a while, the code step and the password
    // step alike.
    let wrong = format!(
        "{:06}",
        (next.parse::<u32>().expect("digits") + 500_000) % 1_000_000
    );
    for _ in 0..3 {
        let (r, html) = code_step(&cookie, &csrf, &wrong, &[]).await;
        assert_eq!(r.status, 401);
        assert!(html.contains(refused), "{html}");
    }
    let (r, html) = code_step(&cookie, &csrf, "12345x", &[("accept-language", "ja")]).await;
    assert_eq!(r.status, 401);
    assert!(
        html.contains("MFA コードが無効です。デバイスに表示されている現在のコードを入力してください。"),
        "{html}"
    );
    let (r, html) = code_step(&cookie, &csrf, &crate::mfa::code(&secret, 0), &[]).await;
    assert_eq!(r.status, 429);
    assert!(html.contains("Too many sign-in attempts"), "{html}");
    assert_eq!(get("/console/secrets", Some(&cookie)).await.status, 303);
    let (_, _, r) = password_step().await;
    assert_eq!(r.status, 429);
}
