//! The project page's Reconstruct and Share panels, for the browser tests: following a
//! reconstruct job's stage and percent to the end, and the token of the share link the page
//! lists after Share.

use std::time::{Duration, Instant};

use super::viewer::attr;
use super::Browser;

/// Follows the page's reconstruct job until it completes (within `secs`); returns every
/// (stage, percent) shown, in order. Fails when the job fails, when the percent goes back, or
/// when it does not end at 100 % or does not say where it ran.
pub async fn follow_reconstruct(browser: &Browser, secs: u64) -> Vec<(String, f64)> {
    let mut seen: Vec<(String, f64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let state = attr(browser, "#reconstruct", "data-state").await;
        note_progress(browser, "#reconstruct-progress", &mut seen).await;
        if state.as_deref() == Some("completed") {
            break;
        }
        assert_ne!(state.as_deref(), Some("failed"), "{seen:?}");
        assert!(Instant::now() < deadline, "stuck: {seen:?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    for w in seen.windows(2) {
        assert!(w[1].1 >= w[0].1, "progress went back: {seen:?}");
    }
    assert_eq!(seen.last().map(|s| s.1), Some(100.0), "{seen:?}");
    // Where it ran: this server's own worker (its node id), not a remote backend.
    let worker = attr(browser, "#reconstruct-worker", "data-worker").await;
    assert!(
        worker.as_deref().is_some_and(|w| w.starts_with("node-")),
        "the page names the worker: {worker:?}"
    );
    seen
}

/// Appends the (stage, percent) that `selector`'s `data-stage` and `data-percent` show, when it
/// differs from the last one in `seen`.
pub async fn note_progress(browser: &Browser, selector: &str, seen: &mut Vec<(String, f64)>) {
    if let (Some(stage), Some(pct)) = (
        attr(browser, selector, "data-stage").await,
        attr(browser, selector, "data-percent").await,
    ) {
        let pct: f64 = pct.parse().expect("percent");
        if seen.last() != Some(&(stage.clone(), pct)) {
            seen.push((stage, pct));
        }
    }
}

/// Fails unless `seen` has a percent in each of `ranges` (the parts of the one timeline).
pub fn assert_seen_in(seen: &[(String, f64)], ranges: &[(f64, f64)]) {
    for &(lo, hi) in ranges {
        assert!(
            seen.iter().any(|(_, p)| (lo..hi).contains(p)),
            "nothing seen in {lo}–{hi} %: {seen:?}"
        );
    }
}

/// The token of the first share link the page lists, waiting up to 30 s for it.
pub async fn listed_share_token(browser: &Browser) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(t) = attr(browser, "#share-list .share-item", "data-token").await {
            return t;
        }
        assert!(Instant::now() < deadline, "no share link shown");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Presses the project page's Share (waiting up to a minute for it) and returns the link it lists (checked to end in its
/// token).
pub async fn share(browser: &Browser) -> String {
    browser
        .wait_for("#share-create", 60)
        .await
        .click()
        .await
        .expect("click");
    let token = listed_share_token(browser).await;
    let url = attr(browser, ".share-item .share-link", "href")
        .await
        .expect("the link");
    assert!(url.ends_with(&format!("/s/{token}")), "{url}");
    url
}
