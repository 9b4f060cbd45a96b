//! The web console in a real browser (headless Chromium through ChromeDriver): the guides' flows
//! end to end, and what the console refuses (requests from other origins, being framed), with no
//! Content Security Policy violation in the browser's log. Screenshots are kept in
//! `target/console-screenshots/`. Plain HTTP checks of the same rules (headers, CSRF) need no
//! browser.

mod iam;
mod kms;
mod manage;
mod mfa;
mod secrets;
mod security;
mod store;
mod users;
mod why;

use std::sync::OnceLock;

use kinko_tests::browser::Browser;
use kinko_tests::*;

/// The root user's console password on the tests' server.
const ROOT_PASSWORD: &str = "correct horse battery staple";

static CONSOLE: OnceLock<TestServer> = OnceLock::new();

/// The server of these tests: a dev server whose root user has a console password.
fn server() -> &'static TestServer {
    TestServer::start_shared_with(&CONSOLE, |c| {
        c.console.root_password_hash = Some(kinko_console::hash_password(ROOT_PASSWORD).expect("a hash"));
        // An audit trail, for the console's activity and audit pages; kept for the test run.
        let dir = Box::leak(Box::new(tempfile::tempdir().expect("a temp dir")));
        c.audit_log = Some(dir.path().join("audit.log"));
    })
}

/// The console's URL for `path` on the tests' server.
fn url(path: &str) -> String {
    format!("http://{}{path}", server().addr())
}

/// Signs in as the root user.
async fn sign_in_as_root(b: &Browser) {
    b.client.goto(&url("/console/")).await.expect("goto");
    b.click("input[name=kind][value=root]").await;
    b.fill("#account", server().account_id()).await;
    b.fill("#password", ROOT_PASSWORD).await;
    b.click_to_next_page("form button.primary").await;
    let at = b.client.current_url().await.expect("url");
    assert_eq!(at.path(), "/console/secrets", "signed in: {}", b.source().await);
}

/// Fails unless the browser's log since the last look has no Content Security Policy violation,
/// refused frame or script error.
async fn assert_clean_log(b: &Browser) {
    let problems: Vec<String> = b
        .log()
        .await
        .into_iter()
        .filter(|l| {
            l.contains("Content Security Policy") || l.contains("Refused to") || l.contains("Uncaught")
        })
        .collect();
    assert_eq!(problems, Vec::<String>::new());
}
