//! A real browser for the dashboard test: Debian's Chromium, headless, driven through
//! ChromeDriver's W3C WebDriver protocol (JSON over HTTP), both installed by
//! `scripts/install-test-deps.sh` (`LKA_CHROMIUM`, `LKA_CHROMEDRIVER`).

use super::ports::free_port;
use super::servers::installed_path;
use super::wait_until;
use base64::Engine as _;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver process with one headless Chromium session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver on a free port and opens a session `width` × `height` pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new(installed_path("LKA_CHROMEDRIVER"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _profile: profile,
        };
        let status = format!("{}/status", browser.base);
        let http = browser.http.clone();
        wait_until("chromedriver answers", Duration::from_secs(20), || {
            let (http, status) = (http.clone(), status.clone());
            async move {
                let Ok(answer) = http.get(&status).send().await else {
                    return false;
                };
                let body: Value = answer.json().await.unwrap_or_default();
                body["value"]["ready"] == true
            }
        })
        .await;
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": installed_path("LKA_CHROMIUM"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        } } });
        let session = browser.call("POST", "/session", capabilities).await;
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
            .to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let answer = request
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let value: Value = answer.json().await.expect("WebDriver answers JSON");
        if value["value"]["error"].is_string() {
            panic!("WebDriver {method} {path}: {}", value["value"]);
        }
        value["value"].clone()
    }

    /// Opens `url` (waits for the page's load event).
    pub async fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` as usual) and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// How many elements match the CSS `selector`.
    pub async fn count(&self, selector: &str) -> usize {
        let found = self
            .call(
                "POST",
                "/elements",
                json!({ "using": "css selector", "value": selector }),
            )
            .await;
        found
            .as_array()
            .map_or(0, |a| a.iter().filter(|e| e.get(ELEMENT).is_some()).count())
    }

    /// Waits until at least `n` elements match `selector`; returns how many do. Panics
    /// after 20 s with the page's text and console.
    pub async fn wait_for(&self, selector: &str, n: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.count(selector).await;
            if found >= n {
                return found;
            }
            if std::time::Instant::now() > deadline {
                let text = self.eval("return document.body.innerText;").await;
                let url = self.eval("return location.href;").await;
                panic!(
                    "{n} × `{selector}` not on the page ({found} found) at {url}\n{}\nconsole: {:?}",
                    text.as_str().unwrap_or_default(),
                    self.console().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of every element matching `selector`.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let script = format!(
            "return [...document.querySelectorAll({})].map(e => e.textContent);",
            json!(selector)
        );
        let value = self.eval(&script).await;
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| t.as_str().unwrap_or_default().into())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resizes the window to `width` × `height` pixels.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// Ends the session (Chromium quits) and ChromeDriver.
    pub async fn quit(mut self) {
        self.call("DELETE", "", Value::Null).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let data = self.call("GET", "/screenshot", Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 PNG"))
            .expect("a PNG")
    }

    /// The browser console's entries since the last call (ChromeDriver's log endpoint):
    /// `(level, message)`.
    pub async fn console(&self) -> Vec<(String, String)> {
        let entries = self
            .call("POST", "/se/log", json!({ "type": "browser" }))
            .await;
        entries
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
