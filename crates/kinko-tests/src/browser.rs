//! A real browser for the console's tests: Debian's headless Chromium driven through its
//! ChromeDriver (W3C WebDriver, with `fantoccini`). Each [`Browser`] is its own ChromeDriver
//! process on a free loopback port, with a new empty profile; dropping it ends both.
//!
//! Tests skip (saying why) where ChromeDriver is not installed, unless `KINKO_TEST_CHROMEDRIVER`
//! names it: then a missing one fails them (CI sets it, so nothing is skipped there).
//! Screenshots go to `target/console-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

/// A headless Chromium session.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// Where ChromeDriver is: `KINKO_TEST_CHROMEDRIVER`, else `/usr/bin/chromedriver` when present.
fn chromedriver() -> Option<PathBuf> {
    match std::env::var_os("KINKO_TEST_CHROMEDRIVER").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "KINKO_TEST_CHROMEDRIVER={} is not a file (scripts/setup.sh installs Debian's chromium-driver)",
                path.display()
            );
            Some(path)
        }
        None => {
            let path = PathBuf::from("/usr/bin/chromedriver");
            if path.is_file() {
                Some(path)
            } else {
                eprintln!(
                    "skipped: no /usr/bin/chromedriver (Debian's chromium-driver; scripts/setup.sh installs it)"
                );
                None
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// A new browser session, or `None` (skipped) where ChromeDriver is not installed.
    pub async fn start() -> Option<Browser> {
        let driver_path = chromedriver()?;
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        caps.insert(
            "goog:loggingPrefs".to_owned(),
            serde_json::json!({"browser": "ALL"}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("rustls")
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session from {}: {e}", driver_path.display()),
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Saves a screenshot of the page as `target/console-screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
    }

    /// The text of the first element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element.text().await.expect("its text"),
            Err(e) => {
                let url = self
                    .client
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let page = self.client.find(Locator::Css("main")).await;
                let main = match page {
                    Ok(m) => m.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("no {css} on {url}: {e}\n--- the page says ---\n{main}")
            }
        }
    }

    /// Types `text` into the field `css` selects (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("typed");
    }

    /// Clicks the first element `css` selects.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the first element `css` selects and waits until the page it was on is gone (a link
    /// followed, a form submitted) and the next one is loaded.
    pub async fn click_to_next_page(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} left the page as it was"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.find("body").await;
    }

    /// The first element `css` selects, waiting a while for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    /// The browser's console log since the last call (ChromeDriver's log endpoint): where
    /// Chromium reports Content Security Policy violations, refused frames and script errors.
    pub async fn log(&self) -> Vec<String> {
        let out = self.client.issue_cmd(BrowserLog).await.expect("the browser log");
        out.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or_default(),
                            e["message"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends the session (Chromium exits) and its ChromeDriver.
    pub async fn quit(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// The page's HTML source.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }
}

/// ChromeDriver's `POST /session/{id}/se/log` for the `browser` log.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Where screenshots are kept: `target/console-screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots")
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session ends with its driver (which stops the browser it started).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
