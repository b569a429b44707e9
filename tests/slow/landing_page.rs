//! Issue #16: the landing page `/` as an on-call status page: per store the API health,
//! intents by status, the latest outcomes (failures first) and the longest waits, each
//! linked to its JSON; escaped, without scripts or external assets, and fitting a
//! 1280-pixel screen in a real browser (headless Chromium, Debian package `chromium`).

use crate::common;

use std::process::Command;
use std::time::Duration;

use allscale_exporter::config::IntentConfig;
use common::sim::{Harness, id, intent, scenario};

/// A headless Chromium, when installed (in CI it must be: see `common::tools`).
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| common::tools::on_path(b));
    found.or_else(|| {
        common::tools::available(&["chromium"], "the layout check in a browser");
        None
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_landing_page_shows_what_went_wrong_and_fits_a_laptop_screen() {
    let sc = scenario(vec![
        intent(1, &[1, 20], 100),
        intent(2, &[1, -1], 100),
        intent(3, &[10], 100),
        intent(4, &[1, -3], 100),
    ]);
    let h = Harness::start(sc, |config, ids| {
        config.stores[0].intents[1] = IntentConfig {
            id: allscale_exporter::config::IntentId::parse(&ids[1]).unwrap(),
            order_id: Some("<b>order & \"co\"</b>".into()),
        };
    })
    .await;
    h.wait_metrics("three outcomes", |m| {
        ["confirmed", "failed", "underpaid"]
            .iter()
            .all(|o| m.outcome(o) == 1.0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = h.exporter.local_addr();
    let (status, page) = common::get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("API up"), "{page}");
    assert!(
        page.contains("&lt;b&gt;order &amp; &quot;co&quot;&lt;/b&gt;"),
        "the order id is escaped"
    );
    assert!(!page.contains("<b>order"), "no untrusted markup");
    assert!(!page.to_lowercase().contains("<script"), "no script");
    assert!(
        !page.contains("src=") && !page.contains("href=\"http"),
        "no external assets"
    );
    // Failures first, then confirmations; the one on chain waits longest.
    let (failed, underpaid, confirmed) = (page.find(&id(2)), page.find(&id(4)), page.find(&id(1)));
    assert!(
        failed.is_some() && underpaid.is_some() && confirmed.is_some(),
        "{page}"
    );
    assert!(
        failed.max(underpaid) < confirmed,
        "failures before confirmations"
    );
    let waiting = page.find("Waiting longest").unwrap();
    assert!(
        page[waiting..].contains(&id(3)),
        "the on-chain intent waits"
    );
    assert!(page.contains("<b>1</b>on_chain"), "counts by status");
    // Every intent links to its JSON.
    let link = format!("/intents/main/{}", id(2));
    assert!(page.contains(&format!("href=\"{link}\"")));
    let (status, json) = common::get(addr, &link).await;
    assert_eq!(status, 200, "{json}");
    let view: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(view["outcome"], "failed");
    assert_eq!(view["order_id"], "<b>order & \"co\"</b>");
    assert_eq!(common::get(addr, "/intents/main/not-an-id").await.0, 400);

    if let Some(browser) = chromium() {
        let dir = tempfile::tempdir().unwrap();
        // The test's own measuring script, appended to a copy: the page itself has none.
        let measured = page.replace(
            "</body>",
            "<script>document.body.insertAdjacentHTML('beforeend','<pre id=\"w\">WIDTH='+document.documentElement.scrollWidth+'</pre>')</script></body>",
        );
        let file = dir.path().join("landing.html");
        std::fs::write(&file, measured).unwrap();
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg("--window-size=1280,900")
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg("--dump-dom")
            .arg(format!("file://{}", file.display()))
            .output()
            .expect("run chromium");
        let dom = String::from_utf8_lossy(&out.stdout);
        let width: u32 = dom
            .rsplit("WIDTH=")
            .next()
            .and_then(|w| w.split('<').next())
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no measurement in the DOM: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(
            width <= 1280,
            "the page is {width} px wide at a 1280 px window"
        );
    }
    h.stop().await;
}
