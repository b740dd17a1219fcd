//! The HTML report in a real browser: headless Chromium loads report.html from a file (no
//! network), the page's own check marks every plot that drew something, and any console
//! message fails the test. Screenshots are written beside the report.
//!
//! Skipped when Chromium is not installed, unless TRADEOFF_REQUIRE_BROWSER=1 (scripts/test
//! installs Chromium and sets it, so CI fails rather than skips).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{dir, stderr, tradeoff, QUICK, SERVE_BRIEFLY};

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("TRADEOFF_CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
        "/usr/bin/google-chrome".into(),
    ];
    let found = candidates
        .iter()
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("TRADEOFF_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "TRADEOFF_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)"
        );
        eprintln!("skipped: no Chromium (apt-get install chromium, or set TRADEOFF_CHROMIUM)");
    }
    found
}

/// What the browser made of a page: the `data-plots` verdict and the console lines.
struct Rendered {
    verdict: String,
    console: Vec<String>,
}

fn base_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

fn render(browser: &Path, html: &Path) -> Rendered {
    let profile = html.with_extension("profile");
    let out = Command::new(browser)
        .args(base_args(&profile))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium starts");
    let dom = String::from_utf8_lossy(&out.stdout);
    let verdict = dom
        .split("data-plots=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("missing: the page's check did not run")
        .to_string();
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Rendered { verdict, console }
}

fn screenshot(browser: &Path, html: &Path, png: &Path) {
    let profile = html.with_extension("profile-shot");
    let out = Command::new(browser)
        .args(base_args(&profile))
        .args([
            "--window-size=1280,2000".to_string(),
            format!("--screenshot={}", png.display()),
        ])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium starts");
    let size = std::fs::metadata(png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "screenshot {} is {size} bytes: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let head = std::fs::read(png).unwrap();
    assert_eq!(&head[1..4], b"PNG");
}

fn plots_ok(r: &Rendered, least: usize, what: &str) {
    assert!(r.console.is_empty(), "{what}: console: {:?}", r.console);
    let n: usize = r
        .verdict
        .strip_prefix("ok ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: plots did not render: {}", r.verdict));
    assert!(n >= least, "{what}: only {n} plots");
}

#[test]
fn html_reports_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let d = dir("browser");
    for (out, price) in [("a", "0.1"), ("b", "0.4")] {
        let mut args = vec!["run", "--candidates", "logistic,tree", "--out", out];
        args.extend(QUICK);
        args.extend(["--usd-per-hour", price]);
        if out == "a" {
            // Served under load too: the $/hour-against-traffic plots.
            args.extend(SERVE_BRIEFLY);
            args.extend(["--traffic", "100..5000"]);
        }
        let o = tradeoff(&d, &args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = tradeoff(
        &d,
        &["merge", "a/results.jsonl", "b/results.jsonl", "--out", "m"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let serving = std::fs::read_to_string(d.join("a/report.html")).unwrap();
    assert!(
        serving.contains("$/hour to serve the traffic"),
        "no serving plot in a's report"
    );
    // a: the seven plots of b, and one $/hour-against-traffic plot a candidate.
    for (name, least) in [("a", 9), ("m", 7)] {
        let html = d.join(name).join("report.html");
        let text = std::fs::read_to_string(&html).unwrap();
        for external in ["src=\"http", "href=\"http", "url(", "@import"] {
            assert!(!text.contains(external), "{name}: loads {external}...");
        }
        plots_ok(&render(&browser, &html), least, name);
        screenshot(&browser, &html, &d.join(format!("{name}.png")));
    }

    // The check itself can fail: a plot with nothing drawn is reported, on the page and on
    // the console.
    let html = d.join("a/report.html");
    let broken = std::fs::read_to_string(&html)
        .unwrap()
        .replacen(r#"<g class="series">"#, r#"<g class="x">"#, 1000)
        .replacen(r#"class="series band""#, r#"class="x""#, 1000);
    let bad = d.join("a/broken.html");
    std::fs::write(&bad, broken).unwrap();
    let r = render(&browser, &bad);
    assert!(r.verdict.starts_with("fail"), "{}", r.verdict);
    assert!(
        r.console.iter().any(|l| l.contains("did not render")),
        "{:?}",
        r.console
    );
}
