//! The crawler through the fleet: a `crawl_only` scan of the test shop (every kind of link,
//! robots.txt and a sitemap, a redirect, forms, two traps) finds exactly the shop's pages,
//! requests each once and nothing outside the asset's scope, and reports what the pages show
//! (a password form over plain HTTP, a directory listing, another host of the site's domain).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use s4e_e2e::{Fleet, Receiver};
use s4e_test_support::site::{self, Page, Pages, SHOP_PAGES, TestSite};
use s4e_test_support::wait_for;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(120);

/// A crawl-only scan of `asset_id`, started: its run id.
async fn start_crawl(fleet: &Fleet, asset_id: &str) -> String {
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset_id, "profile": "crawl_only"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let run: Value = response.json().await.unwrap();
    run["id"].as_str().unwrap().to_string()
}

/// A crawl-only scan of `asset_id`, completed.
async fn crawl(fleet: &Fleet, asset_id: &str) -> String {
    let run_id = start_crawl(fleet, asset_id).await;
    let view = fleet.wait_for_scan(&run_id, DEADLINE).await.unwrap();
    assert_eq!(view.run.status, s4e_types::RunStatus::Completed, "{view:?}");
    assert_eq!(view.run.jobs_total, 1);
    run_id
}

/// Every page of a run's site map, read `limit` at a time.
async fn site_map(fleet: &Fleet, run_id: &str, limit: u32) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut path = format!("/scans/{run_id}/site-map?limit={limit}");
    loop {
        let body = fleet.get_json(&path).await;
        let items = body["items"].as_array().unwrap_or_else(|| panic!("{body}"));
        assert!(items.len() <= limit as usize);
        pages.extend(items.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(cursor) => {
                let cursor: String =
                    url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
                path = format!("/scans/{run_id}/site-map?limit={limit}&after={cursor}");
            }
            None => return pages,
        }
    }
}

/// A page's path and query.
fn target(page: &Value) -> String {
    let url = url::Url::parse(page["url"].as_str().unwrap()).unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

/// A name the fuzzer's calibration made up in `directory` (12 or 20 lowercase hex characters).
fn is_calibration(request: &str, directory: &str) -> bool {
    request.strip_prefix(directory).is_some_and(|name| {
        matches!(name.len(), 12 | 20) && name.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn page<'a>(pages: &'a [Value], wanted: &str) -> &'a Value {
    pages
        .iter()
        .find(|page| target(page) == wanted)
        .unwrap_or_else(|| panic!("{wanted} not in the site map"))
}

#[tokio::test]
async fn a_crawl_finds_the_whole_site_once_and_reports_what_it_shows() {
    let fleet = Fleet::start().await.unwrap();
    // A name, so that the site's other hosts (`api.localhost`) are its domain's.
    let shop = TestSite::start(site::shop("localhost"), Duration::ZERO).await;
    let origin = format!("http://localhost:{}", shop.port);
    let asset_id = fleet.create_url_asset(&format!("{origin}/")).await.unwrap();
    let receiver = Receiver::start().await;
    let response = fleet
        .request(Method::POST, "/webhooks")
        .json(&json!({"url": receiver.url, "event_types": ["crawl.completed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let run_id = crawl(&fleet, &asset_id).await;

    // The exact set, read a few at a time in URL order.
    let pages = site_map(&fleet, &run_id, 7).await;
    let urls: Vec<&str> = pages.iter().map(|p| p["url"].as_str().unwrap()).collect();
    assert!(urls.windows(2).all(|pair| pair[0] < pair[1]), "{urls:?}");
    let found: BTreeSet<String> = pages.iter().map(target).collect();
    let (calendar, others): (BTreeSet<String>, BTreeSet<String>) = found
        .iter()
        .cloned()
        .partition(|target| target.starts_with("/calendar?"));
    let expected: BTreeSet<String> = SHOP_PAGES.iter().map(|p| p.to_string()).collect();
    assert_eq!(others, expected);
    // The endless calendar is cut at its template's share (25 days), the self-nesting link at
    // its fourth repeat.
    assert_eq!(calendar.len(), 25, "{calendar:?}");
    assert!(!found.contains("/loop/loop/loop/loop/"));
    // Every page was fetched once, and nothing else was asked but the fuzzer's words in the
    // start directory and the exposure check's file names in every directory: no other host,
    // no fragment, no `mailto:` or `javascript:`. A page whose name is one of those was asked
    // by the fuzzer too.
    let words: BTreeSet<String> = s4e_crawler::fuzz::bundled_words()
        .iter()
        .map(|word| format!("/{word}"))
        .collect();
    let directories: Vec<&String> = found.iter().filter(|t| t.ends_with('/')).collect();
    let probes: BTreeSet<String> = directories
        .iter()
        .flat_map(|directory| {
            s4e_checks::exposure::file_names()
                .into_iter()
                .map(move |name| format!("{directory}{name}"))
        })
        .collect();
    let requests = shop.requests();
    for page in &found {
        let asked = requests.iter().filter(|r| *r == page).count();
        let expected = 1 + usize::from(words.contains(page) || probes.contains(page));
        assert_eq!(asked, expected, "{page}");
    }
    let others: Vec<&String> = requests
        .iter()
        .filter(|r| {
            !found.contains(*r)
                && !words.contains(*r)
                && !probes.contains(*r)
                && !directories
                    .iter()
                    .any(|directory| is_calibration(r, directory))
        })
        .collect();
    assert!(others.is_empty(), "{others:?}");
    // The crawl was announced once, with what it mapped.
    let received = wait_for("crawl.completed delivered", DEADLINE, || async {
        let received = receiver.received();
        (!received.is_empty()).then_some(received)
    })
    .await
    .unwrap();
    let announced: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(announced["type"], "crawl.completed");
    let crawled = &announced["data"];
    assert_eq!(crawled["run_id"], run_id.as_str());
    assert_eq!(crawled["asset_id"], asset_id.as_str());
    assert_eq!(crawled["status"], "completed");
    assert_eq!(crawled["pages"], found.len());
    assert_eq!(crawled["api_documents"], 2);
    let endpoints = crawled["endpoints"].as_u64().unwrap();
    assert!(endpoints > 0 && endpoints < found.len() as u64, "{crawled}");
    assert_eq!(crawled["truncated"], Value::Null);

    // The fuzzer found what nothing links to.
    assert_eq!(page(&pages, "/backup")["found_by"], "fuzz");

    // How each was found, and what it answered.
    let found_by = |wanted: &str| page(&pages, wanted)["found_by"].clone();
    assert_eq!(found_by("/"), "seed");
    assert_eq!(found_by("/hidden/"), "robots");
    assert_eq!(found_by("/from-sitemap"), "sitemap");
    assert_eq!(found_by("/js/app.js"), "script");
    // Quoted in a script and an operation of the API document: whichever was read first.
    assert!(["script", "api"].contains(&found_by("/api/v1/status").as_str().unwrap()));
    assert_eq!(found_by("/img/bg.png"), "css");
    assert_eq!(found_by("/moved-here"), "redirect");
    assert_eq!(found_by("/session"), "form");
    // An operation of the API document, and the documents as the site map keeps them.
    assert_eq!(found_by("/api/v1/health"), "api");
    let document = &page(&pages, "/docs/shop-api.yaml")["api_document"];
    assert_eq!(document["version"], "3.0.3");
    assert_eq!(document["operations"].as_array().unwrap().len(), 4);
    assert_eq!(document["operations"][2]["secured"], true);
    let broken = &page(&pages, "/docs/broken.json")["api_document"];
    assert_eq!(broken["version"], Value::Null);
    assert!(
        broken["error"].as_str().unwrap().contains("paths"),
        "{broken}"
    );
    assert_eq!(page(&pages, "/about")["api_document"], Value::Null);
    assert_eq!(page(&pages, "/old")["status"], 301);
    assert_eq!(page(&pages, "/session")["status"], 404);
    assert_eq!(page(&pages, "/api/v1/orders")["status"], 401);
    assert_eq!(page(&pages, "/")["title"], "Test Shop");
    assert_eq!(page(&pages, "/calendar?day=1")["depth"], 1);
    let login = page(&pages, "/login");
    assert_eq!(
        login["forms"],
        json!([{
            "action": format!("{origin}/session"),
            "method": "POST",
            "fields": ["user", "password"],
            "has_password": true
        }])
    );

    // Filters.
    let missing = fleet
        .get_json(&format!("/scans/{run_id}/site-map?status=404"))
        .await;
    let missing: Vec<String> = missing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(target)
        .collect();
    assert_eq!(missing, vec!["/session".to_string()]);
    let from_sitemaps = fleet
        .get_json(&format!("/scans/{run_id}/site-map?found_by=sitemap"))
        .await;
    let from_sitemaps: Vec<String> = from_sitemaps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(target)
        .collect();
    assert!(
        from_sitemaps.contains(&"/from-sitemap".to_string()),
        "{from_sitemaps:?}"
    );
    assert!(from_sitemaps.iter().all(|t| !t.starts_with("/calendar")));

    // What the pages show, as findings of the crawl.
    let findings = fleet.findings(&run_id).await.unwrap();
    let mut raised: Vec<(String, String)> = findings
        .iter()
        .map(|finding| {
            assert_eq!(finding["check"], "crawl");
            (
                finding["rule"].as_str().unwrap().to_string(),
                finding["location"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    raised.sort();
    assert_eq!(
        raised,
        vec![
            (
                "api_documentation_exposed".to_string(),
                format!("{origin}/docs/shop-api.yaml")
            ),
            ("contact_data_exposed".to_string(), format!("{origin}/")),
            ("cookie_without_httponly".to_string(), format!("{origin}/")),
            ("cookie_without_samesite".to_string(), format!("{origin}/")),
            ("directory_listing".to_string(), format!("{origin}/files/")),
            (
                "env_file_exposed".to_string(),
                format!("{origin}/files/.env")
            ),
            (
                "missing_clickjacking_protection".to_string(),
                format!("{origin}/")
            ),
            ("missing_csp".to_string(), format!("{origin}/")),
            ("missing_referrer_policy".to_string(), format!("{origin}/")),
            (
                "missing_x_content_type_options".to_string(),
                format!("{origin}/")
            ),
            (
                "password_form_over_http".to_string(),
                format!("{origin}/session")
            ),
            ("pii_exposed".to_string(), format!("{origin}/statement")),
            (
                "secret_exposed".to_string(),
                format!("{origin}/config.json#aws_access_key")
            ),
        ]
    );
    // Masked: the kinds and enough to recognise them, never the values; the look-alikes
    // (a number failing Luhn, an identity number without context) are not there.
    let evidence = |rule: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule)
            .map(|f| f["evidence"].clone())
            .unwrap()
    };
    let personal = evidence("pii_exposed").to_string();
    assert!(
        personal.contains("payment_card") && personal.contains("iban"),
        "{personal}"
    );
    assert!(
        !personal.contains("0343") && !personal.contains("6468"),
        "{personal}"
    );
    assert!(!personal.contains("turkish_identity_number"), "{personal}");
    let contacts = evidence("contact_data_exposed").to_string();
    assert!(
        contacts.contains("@shop.example") && contacts.contains("phone"),
        "{contacts}"
    );
    assert!(!contacts.contains("team@2x"), "{contacts}");
    assert!(!evidence("secret_exposed").to_string().contains("IOSFODNN7"));
    // The headers check's rules across the site, one finding each: every HTML page but the
    // start (which the headers check judges) lacks the headers; one page sets a weak cookie,
    // named without its value.
    // `/loop/` answers every name below it with the same page: what its calibration saw, so
    // the deeper loop pages are soft-404s, not pages of the site.
    let soft: Vec<String> = pages
        .iter()
        .filter(|page| page["soft_404"] == true)
        .map(target)
        .collect();
    assert_eq!(soft, ["/loop/loop/", "/loop/loop/loop/"]);
    let html_pages = pages
        .iter()
        .filter(|page| {
            page["found_by"] != "seed"
                && page["soft_404"] == false
                && page["content_type"]
                    .as_str()
                    .is_some_and(|kind| kind.contains("html"))
        })
        .count();
    let csp = evidence("missing_csp");
    assert_eq!(csp["pages"], html_pages);
    assert_eq!(csp["examples"].as_array().unwrap().len(), 10);
    assert!(
        !csp["examples"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("{origin}/")))
    );
    let cookie = evidence("cookie_without_httponly");
    assert_eq!(cookie["pages"], 1);
    assert_eq!(cookie["examples"], json!([format!("{origin}/login")]));
    assert!(
        cookie["first"].to_string().contains("shop_session"),
        "{cookie}"
    );
    assert!(!cookie.to_string().contains("s3cr3t"), "{cookie}");
    // The other host of the site's domain is a candidate asset; the other domain is not.
    let candidates = fleet.get_json("/candidates?limit=100").await;
    let names: Vec<(String, Value)> = candidates["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["sources"].clone(),
            )
        })
        .collect();
    assert_eq!(names, vec![("api.localhost".to_string(), json!(["crawl"]))]);

    // A second crawl finds the same and changes no finding: seen again, not new.
    let again = crawl(&fleet, &asset_id).await;
    let second: BTreeSet<String> = site_map(&fleet, &again, 1000)
        .await
        .iter()
        .map(target)
        .collect();
    assert_eq!(
        second
            .iter()
            .filter(|t| !t.starts_with("/calendar?"))
            .count(),
        SHOP_PAGES.len()
    );
    let findings_again = fleet.findings(&again).await.unwrap();
    assert_eq!(findings_again.len(), 13);
    assert!(
        findings_again.iter().all(|f| f["occurrences"] == 2),
        "{findings_again:?}"
    );

    // Bad queries are refused saying why; unknown scans are not found.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("found_by=guess", "found_by"),
        ("status=abc", "status"),
    ] {
        let response = fleet
            .request(Method::GET, &format!("/scans/{run_id}/site-map?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    let unknown = fleet
        .request(
            Method::GET,
            "/scans/00000000-0000-7000-8000-000000000000/site-map",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // A scan without a crawl has an empty site map.
    let headers = fleet
        .create_url_asset(&format!("{origin}/about"))
        .await
        .unwrap();
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": headers, "checks": ["http_headers"]}))
        .send()
        .await
        .unwrap();
    let run: Value = response.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap();
    fleet.wait_for_scan(run_id, DEADLINE).await.unwrap();
    assert_eq!(
        fleet.get_json(&format!("/scans/{run_id}/site-map")).await,
        json!({"items": [], "next_cursor": null})
    );
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn a_crawl_of_a_directory_never_requests_anything_outside_it() {
    let fleet = Fleet::start().await.unwrap();
    // Slow answers, so that the crawl lasts several of its event stream's reads: the fuzzer's
    // 265 words at 32 at a time take a second at least.
    let shop = TestSite::start(site::shop("127.0.0.1"), Duration::from_millis(100)).await;
    let start = format!("http://127.0.0.1:{}/products/", shop.port);
    let asset_id = fleet.create_url_asset(&start).await.unwrap();
    let run_id = start_crawl(&fleet, &asset_id).await;

    // The run's event stream says where the crawl stands while it runs, forwards only.
    let events = fleet.scan_events(&run_id, DEADLINE).await.unwrap();
    let (end, progress) = events.split_last().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(end.data["status"], "completed");
    let crawled: Vec<(String, i64)> = progress
        .iter()
        .filter_map(|event| {
            let crawl = event.data.get("crawl")?;
            Some((
                crawl["stage"].as_str().unwrap().to_string(),
                crawl["done"].as_i64().unwrap(),
            ))
        })
        .collect();
    assert!(
        crawled
            .iter()
            .any(|(stage, done)| stage == "fetch" && *done > 0),
        "{events:?}"
    );
    assert!(
        crawled
            .windows(2)
            .all(|pair| pair[0].0 == "fetch" && pair[0].1 <= pair[1].1 || pair[1].0 == "finish"),
        "{crawled:?}"
    );
    let found: BTreeSet<String> = site_map(&fleet, &run_id, 1000)
        .await
        .iter()
        .map(target)
        .collect();
    let mut expected: BTreeSet<String> = ["/products/", "/robots.txt", "/sitemap.xml"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    for id in 1..=5 {
        expected.insert(format!("/products/item/{id}"));
        expected.insert(format!("/products/item/{id}?color=red"));
    }
    assert_eq!(found, expected);
    // The site's own robots.txt and sitemap are read; their links outside the directory
    // (/hidden/, /from-sitemap, /about) and the pages' links back to / are not followed.
    // The fuzzer worked in the directory only.
    let words: BTreeSet<String> = s4e_crawler::fuzz::bundled_words()
        .into_iter()
        .chain(s4e_checks::exposure::file_names())
        .map(|word| format!("/products/{word}"))
        .collect();
    let requests = shop.requests();
    for request in &requests {
        assert!(
            expected.contains(request)
                || words.contains(request)
                || is_calibration(request, "/products/"),
            "{request}"
        );
    }
    for page in &expected {
        assert_eq!(requests.iter().filter(|r| *r == page).count(), 1, "{page}");
    }
    // An address has no domain: no candidates.
    let candidates = fleet.get_json("/candidates").await;
    assert_eq!(candidates["items"], json!([]));
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_site_fails_the_crawl_with_the_reason() {
    let fleet = Fleet::start().await.unwrap();
    // A port nothing listens on.
    let closed = {
        let listener = s4e_test_support::listener().await;
        listener.local_addr().unwrap().port()
    };
    let asset_id = fleet
        .create_url_asset(&format!("http://127.0.0.1:{closed}/"))
        .await
        .unwrap();
    let response = fleet
        .request(Method::POST, "/scans")
        .json(&json!({"asset_id": asset_id, "profile": "crawl_only"}))
        .send()
        .await
        .unwrap();
    let run: Value = response.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap();
    let view = fleet.wait_for_scan(run_id, DEADLINE).await.unwrap();
    assert_eq!(view.run.status, s4e_types::RunStatus::Failed, "{view:?}");
    let error = view.run.error.unwrap();
    assert!(
        error.contains("target unreachable: connection refused"),
        "{error}"
    );
    // The site map still says what was tried.
    let pages = site_map(&fleet, run_id, 100).await;
    let found: BTreeSet<String> = pages.iter().map(target).collect();
    assert_eq!(
        found,
        ["/", "/robots.txt", "/sitemap.xml"]
            .iter()
            .map(|t| t.to_string())
            .collect()
    );
    for page in &pages {
        assert_eq!(page["status"], Value::Null);
        assert!(
            page["error"].as_str().unwrap().contains("refused"),
            "{page}"
        );
    }
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn an_organizations_own_words_are_fuzzed_beside_the_bundled_ones_or_instead() {
    let fleet = Fleet::start().await.unwrap();
    let shop = TestSite::start(site::shop("127.0.0.1"), Duration::ZERO).await;
    let asset_id = fleet
        .create_url_asset(&format!("http://127.0.0.1:{}/", shop.port))
        .await
        .unwrap();
    let put = |body: Value| {
        fleet
            .request(Method::PUT, "/scan-settings/wordlist")
            .json(&body)
            .send()
    };
    // A list with something that is not a name, or too many, is refused naming why; nothing
    // is stored.
    let refused = put(json!({"words": ["ok", "../etc/passwd"]}))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert!(body.to_string().contains("words[1]"), "{body}");
    let many: Vec<String> = (0..10_001).map(|n| format!("w{n}")).collect();
    let refused = put(json!({"words": many})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        fleet.get_json("/scan-settings/wordlist").await,
        json!({"words": [], "replaces_bundled": false})
    );

    // Beside the bundled words: what only the organization's list names is found too.
    let stored = put(json!({"words": ["staff-only", "staff-only", "admin"]}))
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(
        stored.json::<Value>().await.unwrap(),
        json!({"words": ["staff-only", "admin"], "replaces_bundled": false})
    );
    let run_id = crawl(&fleet, &asset_id).await;
    let pages = site_map(&fleet, &run_id, 1000).await;
    assert_eq!(page(&pages, "/staff-only")["found_by"], "fuzz");
    assert_eq!(page(&pages, "/backup")["found_by"], "fuzz");

    // Instead of them: the bundled words are not asked.
    let stored = put(json!({"words": ["staff-only"], "replaces_bundled": true}))
        .await
        .unwrap();
    assert_eq!(stored.status(), StatusCode::OK);
    let before = shop.requests().len();
    let run_id = crawl(&fleet, &asset_id).await;
    let asked = shop.requests()[before..].to_vec();
    assert!(asked.contains(&"/staff-only".to_string()), "{asked:?}");
    assert!(!asked.contains(&"/backup".to_string()), "{asked:?}");
    let pages = site_map(&fleet, &run_id, 1000).await;
    assert_eq!(page(&pages, "/staff-only")["found_by"], "fuzz");
    assert!(pages.iter().all(|page| target(page) != "/backup"));

    // Each change is in the audit log.
    let changes = fleet
        .get_json("/audit-log?action=scan_settings.wordlist_update&failed=false")
        .await;
    assert_eq!(changes["items"].as_array().unwrap().len(), 2, "{changes}");
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn pages_that_answer_like_their_directorys_not_found_are_marked_soft_404() {
    let fleet = Fleet::start().await.unwrap();
    // 200 for everything, echoing the path, but the home page and /about; the home page
    // links to /about and to a page that is gone.
    let pages: Pages = Arc::new(|target: &str| {
        Some(match target {
            "/" => Page::html(
                r#"<html><title>Home</title><a href="/about">About</a> <a href="/gone">Old news</a></html>"#,
            )
            .header("content-security-policy", "default-src 'self'"),
            "/about" => Page::html(
                "<html><title>About us</title><p>We have made things since 1999.</p></html>",
            ),
            _ => Page::html(format!(
                "<html><body><p>Sorry, {target} was not found on this server.</p></body></html>"
            )),
        })
    });
    let site = TestSite::start(pages, Duration::ZERO).await;
    let asset_id = fleet
        .create_url_asset(&format!("http://127.0.0.1:{}/", site.port))
        .await
        .unwrap();
    let run_id = crawl(&fleet, &asset_id).await;
    let pages = site_map(&fleet, &run_id, 1000).await;
    let soft: BTreeSet<String> = pages
        .iter()
        .filter(|page| page["soft_404"] == true)
        .map(target)
        .collect();
    let expected: BTreeSet<String> = ["/gone", "/robots.txt", "/sitemap.xml"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(soft, expected);
    assert_eq!(page(&pages, "/about")["soft_404"], false);
    // Listed apart, or without them.
    let only = fleet
        .get_json(&format!("/scans/{run_id}/site-map?soft_404=true"))
        .await;
    let only: BTreeSet<String> = only["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(target)
        .collect();
    assert_eq!(only, expected);
    let without = fleet
        .get_json(&format!("/scans/{run_id}/site-map?soft_404=false"))
        .await;
    let without: Vec<String> = without["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(target)
        .collect();
    assert_eq!(without.len(), pages.len() - expected.len(), "{without:?}");
    assert!(without.iter().all(|t| !expected.contains(t)));
    assert_eq!(page(&pages, "/")["soft_404"], false);
    // The fuzzer took none of the echoes for a page.
    assert!(
        pages.iter().all(|page| page["found_by"] != "fuzz"),
        "{pages:?}"
    );
    // A soft-404 is not a page of the site: the finding of the policy the home page has and
    // the others lack counts /about alone.
    let findings = fleet.findings(&run_id).await.unwrap();
    let csp = findings
        .iter()
        .find(|finding| finding["rule"] == "missing_csp")
        .unwrap();
    assert_eq!(csp["evidence"]["pages"], 1, "{csp}");
    assert_eq!(
        csp["evidence"]["examples"],
        json!([format!("http://127.0.0.1:{}/about", site.port)])
    );
    fleet.stop().await.unwrap();
}
