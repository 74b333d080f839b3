//! End-to-end test of Reconstruct and Share on the project page in headless Chromium (WebGPU on
//! SwiftShader, a phone's viewport) against the real server: the page follows a `reconstruct`
//! job's stage and percent to the end and shows the scene; the Reconstruct button starts a job
//! at the chosen quality; a share link made there carries the server's QR code and an `<iframe>`
//! snippet whose `/embed/{token}` page draws the scene without the app's header; Revoke ends it;
//! the project list shows the project's thumbnail.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::api::{typed, Api, Backend};
use common::fixtures::photo;
use common::project_page::{assert_seen_in, follow_reconstruct, listed_share_token};
use common::viewer::{attr, wait_drawn};
use common::{Browser, BrowserOptions};
use fantoccini::Locator;
use serde_json::{json, Value};
use splatpod::api;

async fn local_item(browser: &Browser, key: &str) -> Value {
    browser
        .client
        .execute(
            "return localStorage.getItem(arguments[0]);",
            vec![json!(key)],
        )
        .await
        .expect("localStorage")
}

#[tokio::test]
async fn the_project_page_reconstructs_and_shares_the_scene() {
    let api = Api::start(
        &Backend::Sqlite,
        &[("SPLATPOD_TRAIN_CHECKPOINT_EVERY", "10")],
    )
    .await;
    let project = api.project("fountain").await;
    let files = (3..8).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    // Started through the API with CI-sized settings (the page's presets train for minutes);
    // the page follows it as it follows a job it started itself.
    let job = api
        .run(
            json!({"task": "reconstruct", "project_id": project, "quality": "low",
                    "max_side": 512, "iterations": 30}),
        )
        .await;

    let browser = Browser::start_with(BrowserOptions {
        webgpu: true,
        phone: true,
    })
    .await;
    browser
        .client
        .goto(&api.server.url("/status"))
        .await
        .expect("goto");
    browser
        .client
        .execute(
            "localStorage.setItem('splatpod-api-key', arguments[0]); \
             localStorage.setItem('splatpod-reconstruct-' + arguments[1], arguments[2]);",
            vec![json!(api.key), json!(project), json!(job)],
        )
        .await
        .expect("save the key and the job");
    browser
        .client
        .goto(&api.server.url(&format!("/project/{project}")))
        .await
        .expect("project page");

    // Stage and percent as the job moves on, never going back, to the end; seen in the SfM and
    // training parts of the one timeline. (Features and matching of eight small photos on the
    // native CPU path end within one of the page's 1 s status polls, so that part may not show.)
    let seen = follow_reconstruct(&browser, 600).await;
    assert_seen_in(&seen, &[(20.0, 40.0), (40.0, 95.0)]);
    assert_eq!(
        browser.text_of("#reconstruct-progress", 20).await,
        "done · 100 %"
    );
    let done = api.status(&job).await;
    let out: api::ReconstructOutput = typed(&done["output"]);
    // The scene in the page's viewer (the sparse cloud's viewer is gone).
    wait_drawn(&browser, "#reconstruct", out.train.splats).await;
    assert!(browser.client.find(Locator::Css("#sparse")).await.is_err());
    assert_eq!(
        local_item(&browser, &format!("splatpod-reconstruct-{project}")).await,
        Value::Null
    );

    // Reconstruct with the quality chosen on the page: a new job on this project.
    browser
        .client
        .find(Locator::Css("#reconstruct-quality option[value=high]"))
        .await
        .expect("high")
        .click()
        .await
        .expect("choose high");
    browser
        .client
        .find(Locator::Css("#reconstruct-start"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let deadline = Instant::now() + Duration::from_secs(30);
    let started = loop {
        if let Value::String(id) =
            local_item(&browser, &format!("splatpod-reconstruct-{project}")).await
        {
            break id;
        }
        assert!(Instant::now() < deadline, "no job started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(started, job);
    let body = api.status(&started).await;
    assert_eq!(
        (body["task"].as_str(), body["projectId"].as_str()),
        (Some("reconstruct"), Some(project.as_str()))
    );
    let (s, _) = api
        .post(&format!("/v2/{{ep}}/cancel/{started}"), json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        browser
            .text_of(
                "#reconstruct[data-state=failed] #reconstruct-error .problem-plain",
                30
            )
            .await,
        "The job was cancelled on the server. Start it again when you are ready."
    );

    // Share: a link for one day, its QR code and embed snippet.
    browser
        .client
        .find(Locator::Css("#share-expiry option[value='1 day']"))
        .await
        .expect("1 day")
        .click()
        .await
        .expect("choose");
    browser
        .client
        .find(Locator::Css("#share-create"))
        .await
        .expect("create")
        .click()
        .await
        .expect("click");
    let token = listed_share_token(&browser).await;
    let (_, listed) = api.get(&format!("/api/projects/{project}/shares")).await;
    let share = typed::<api::ShareList>(&listed)
        .shares
        .into_iter()
        .find(|s| s.token == token)
        .expect("the listed share");
    let day = share.expires_at.expect("expires") - share.created_at;
    assert!((86_399_000..=86_401_000).contains(&day), "{day} ms");
    let link = attr(&browser, ".share-item .share-link", "href").await;
    assert_eq!(link.as_deref(), Some(share.url.as_str()));
    let qr = browser
        .client
        .find(Locator::Css(".share-item .share-qr"))
        .await
        .expect("QR")
        .html(true)
        .await
        .expect("QR html");
    assert!(qr.contains("<svg"), "{qr}");
    let snippet = browser
        .client
        .find(Locator::Css(".share-item .share-embed"))
        .await
        .expect("snippet")
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert!(
        snippet.starts_with("<iframe ")
            && snippet.contains(&format!("src=\"{}\"", share.embed_url)),
        "{snippet}"
    );
    assert!(share.embed_url.ends_with(&format!("/embed/{token}")));

    // The embed page: the scene alone, no app header.
    browser
        .client
        .goto(&share.embed_url)
        .await
        .expect("embed page");
    wait_drawn(&browser, "main.embed", out.train.splats).await;
    assert!(browser
        .client
        .find(Locator::Css("header.top"))
        .await
        .is_err());

    // Revoke from the project page: the link stops working.
    browser
        .client
        .goto(&api.server.url(&format!("/project/{project}")))
        .await
        .expect("project page");
    // The page lists the project's active links once it has loaded them.
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(&format!(
            ".share-item[data-token='{token}'] .share-revoke"
        )))
        .await
        .expect("the link listed with Revoke")
        .click()
        .await
        .expect("click");
    let deadline = Instant::now() + Duration::from_secs(30);
    while attr(&browser, "#share-list", "data-count").await.as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let anon = reqwest::Client::new();
    let s = anon
        .get(api.server.url(&format!("/api/s/{token}")))
        .send()
        .await
        .expect("get")
        .status();
    assert_eq!(s, 404, "revoked");

    // The project list shows the project with its thumbnail (the server's PNG, fetched with
    // the key: a blob: URL).
    browser
        .client
        .goto(&api.server.url("/projects"))
        .await
        .expect("projects");
    let card = format!(".project-card[data-id='{project}'] img.project-thumb");
    let img = browser
        .client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(&card))
        .await
        .expect("thumbnail shown");
    let src = img.attr("src").await.expect("src").unwrap_or_default();
    assert!(src.starts_with("blob:"), "{src}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let width = loop {
        let w: Value = browser
            .client
            .execute(
                "const i = document.querySelector(arguments[0]); \
                 return i.complete ? i.naturalWidth : -1;",
                vec![json!(card)],
            )
            .await
            .expect("width");
        if w != json!(-1) || Instant::now() > deadline {
            break w;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(width, json!(512), "the 512 × 512 thumbnail.png");
    browser.close().await;
}
