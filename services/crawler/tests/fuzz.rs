//! The fuzzing engine against local sites: a plain one (404 for what is not there), a soft-404
//! one (200 for everything, echoing the path), and one that throttles; the hits are exactly the
//! hidden names every time. And Debian's ffuf, run the way the crawler runs it, on the same
//! sites: the same hits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::path::Path;

use s4e_crawler::fuzz::{FfufRun, FuzzOptions, fuzz_directory};
use s4e_egress::http::Pinned;
use s4e_test_support::site::{Page, Pages, TestSite, read_request_head};
use tokio::time::Instant;
use url::Url;

const WORDS: &[&str] = &[
    "admin", "backup", "config", "secret", "uploads", "api", "old", "test",
];

/// What is hidden on every site: a directory that redirects, a file, a forbidden one, and
/// a page only with its extension.
fn hidden(target: &str) -> Option<Page> {
    Some(match target {
        "/admin" => Page::html("").status(301).header("location", "/admin/"),
        "/backup" => Page::of("application/zip", "PK\u{3}\u{4} an archive of the site"),
        "/secret" => Page::html("<html><h1>Forbidden</h1></html>").status(403),
        "/config.php" => Page::html("<?php // configuration of the whole application ?>"),
        _ => return None,
    })
}

async fn fuzz(
    site: &TestSite,
    options: &FuzzOptions,
) -> (Vec<String>, s4e_crawler::fuzz::FuzzOutcome) {
    let directory = Url::parse(&format!("http://127.0.0.1:{}/", site.port)).unwrap();
    let client = Pinned::new(
        &directory,
        format!("127.0.0.1:{}", site.port).parse().unwrap(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = fuzz_directory(&client, &directory, WORDS, options, deadline, || async {}).await;
    let hits = outcome
        .hits
        .iter()
        .map(|hit| Url::parse(&hit.url).unwrap().path().to_string())
        .collect();
    (hits, outcome)
}

fn with_php() -> FuzzOptions {
    FuzzOptions {
        extensions: vec!["php".into()],
        ..FuzzOptions::default()
    }
}

#[tokio::test]
async fn a_plain_site_gives_exactly_its_hidden_names() {
    let site = TestSite::start(Arc::new(hidden), Duration::ZERO).await;
    let (hits, outcome) = fuzz(&site, &with_php()).await;
    assert_eq!(hits, vec!["/admin", "/backup", "/config.php", "/secret"]);
    // Every word with and without the extension, and two calibration names for each.
    assert_eq!(outcome.requests, WORDS.len() * 2 + 4);
    assert_eq!(site.requests().len(), outcome.requests);
    assert_eq!(outcome.failed, 0);
}

/// Answers 200 for everything, echoing the path, but what [`hidden`] holds.
fn soft_404() -> Pages {
    Arc::new(|target: &str| {
        hidden(target).or_else(|| {
            Some(Page::html(format!(
                "<html><body><p>Sorry, {target} was not found on this server.</p></body></html>"
            )))
        })
    })
}

#[tokio::test]
async fn a_soft_404_site_echoing_the_path_gives_no_false_hits() {
    let site = TestSite::start(soft_404(), Duration::ZERO).await;
    let (hits, _) = fuzz(&site, &with_php()).await;
    assert_eq!(hits, vec!["/admin", "/backup", "/config.php", "/secret"]);
}

#[tokio::test]
async fn a_throttling_site_is_asked_again_and_nothing_is_lost() {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let pages: Pages = Arc::new(move |target: &str| {
        // Every third request is refused for a moment.
        if counter.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
            return Some(
                Page::html("slow down")
                    .status(429)
                    .header("retry-after", "0"),
            );
        }
        hidden(target)
    });
    let site = TestSite::start(pages, Duration::ZERO).await;
    let (hits, outcome) = fuzz(&site, &with_php()).await;
    assert_eq!(hits, vec!["/admin", "/backup", "/config.php", "/secret"]);
    assert!(outcome.throttled > 0);
    assert_eq!(outcome.requests, WORDS.len() * 2 + 4 + outcome.throttled);
}

/// A server that copes with `limit` requests at once (each takes 20 ms) and
/// answers 429 to any beyond them; `/word-NNN` exists for every NNN divisible by 50.
async fn overloaded_server(limit: usize) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncWriteExt;
    let listener = s4e_test_support::listener().await;
    let address = listener.local_addr().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let Some(request) = read_request_head(&mut stream).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&request);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let status = if in_flight.fetch_add(1, Ordering::SeqCst) >= limit {
                    429
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let hidden = path
                        .strip_prefix("/word-")
                        .and_then(|n| n.parse::<u32>().ok())
                        .is_some_and(|n| n % 50 == 0);
                    if hidden { 200 } else { 404 }
                };
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let answer = format!(
                    "HTTP/1.1 {status} S\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (address, task)
}

#[tokio::test]
async fn a_server_that_copes_with_fewer_requests_gets_fewer_and_nothing_is_lost() {
    let (address, server) = overloaded_server(4).await;
    let directory = Url::parse(&format!("http://{address}/")).unwrap();
    let client = Pinned::new(&directory, address).unwrap();
    let names: Vec<String> = (0..300).map(|n| format!("word-{n:03}")).collect();
    let words: Vec<&str> = names.iter().map(String::as_str).collect();
    // Retries enough that a busy machine's timing cannot run a word out of them.
    let options = FuzzOptions {
        concurrency: 32,
        retries: 8,
        ..FuzzOptions::default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome =
        fuzz_directory(&client, &directory, &words, &options, deadline, || async {}).await;
    let hits: Vec<String> = outcome
        .hits
        .iter()
        .map(|hit| Url::parse(&hit.url).unwrap().path().to_string())
        .collect();
    // Every word judged, every hidden one found, though 32 at once is eight times too many.
    assert_eq!(
        hits,
        vec![
            "/word-000",
            "/word-050",
            "/word-100",
            "/word-150",
            "/word-200",
            "/word-250"
        ]
    );
    assert_eq!(outcome.failed, 0, "{outcome:?}");
    // The server pushed back, and the window came down from 32: at least halved once (how far
    // it goes depends on the machine's timing; 4 to 11 were seen).
    assert!(outcome.throttled > 0);
    assert!(outcome.least_concurrency <= 16, "{outcome:?}");
    server.abort();
}

#[tokio::test]
async fn an_unreachable_directory_fails_every_word_without_hits() {
    let closed = s4e_test_support::listener().await.local_addr().unwrap();
    let directory = Url::parse(&format!("http://{closed}/")).unwrap();
    let client = Pinned::new(&directory, closed).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcome = fuzz_directory(
        &client,
        &directory,
        WORDS,
        &FuzzOptions::default(),
        deadline,
        || async {},
    )
    .await;
    assert!(outcome.hits.is_empty());
    // The calibration names failed: no word was asked.
    assert_eq!((outcome.failed, outcome.requests), (2, 2));
}

#[tokio::test]
async fn ffuf_run_as_the_crawler_runs_it_finds_what_ours_finds_or_less() {
    // On the soft-404 site ffuf's calibration filters by the not-found page's word count (8),
    // which `/config.php` happens to share: a hit ours keeps and ffuf drops. No false hits.
    let sites = [
        (
            Arc::new(hidden) as Pages,
            vec!["/admin", "/backup", "/config.php", "/secret"],
        ),
        (soft_404(), vec!["/admin", "/backup", "/secret"]),
    ];
    for (pages, expected) in sites {
        let site = TestSite::start(pages, Duration::ZERO).await;
        let (ours, _) = fuzz(&site, &with_php()).await;
        // Named by host, reached at the address: ffuf never resolves a name itself.
        let directory = Url::parse(&format!("http://localhost:{}/", site.port)).unwrap();
        let run = FfufRun {
            program: Path::new("ffuf"),
            directory: &directory,
            addr: format!("127.0.0.1:{}", site.port).parse().unwrap(),
            words: WORDS,
            options: &with_php(),
            time_limit: Duration::from_secs(60),
        };
        let hits = run
            .hits()
            .await
            .expect("Debian's ffuf on PATH (scripts/test.sh installs it)");
        assert!(
            hits.iter().all(|hit| hit.host_str() == Some("localhost")),
            "{hits:?}"
        );
        let mut paths: Vec<String> = hits.iter().map(|hit| hit.path().to_string()).collect();
        paths.sort();
        assert_eq!(paths, expected);
        assert_eq!(ours, ["/admin", "/backup", "/config.php", "/secret"]);
    }
}

#[tokio::test]
async fn ffuf_that_cannot_reach_the_directory_or_be_run_says_why() {
    let closed = s4e_test_support::listener().await.local_addr().unwrap();
    let directory = Url::parse(&format!("http://{closed}/")).unwrap();
    let run = FfufRun {
        program: Path::new("ffuf"),
        directory: &directory,
        addr: closed,
        words: WORDS,
        options: &FuzzOptions::default(),
        time_limit: Duration::from_secs(30),
    };
    // ffuf gives up when its calibration cannot connect: an error the stage logs, no hits.
    let error = run.hits().await.unwrap_err();
    assert!(error.contains("connection refused"), "{error}");
    let missing = FfufRun {
        program: Path::new("/nonexistent/ffuf"),
        ..run
    };
    let error = missing.hits().await.unwrap_err();
    assert!(error.contains("cannot run /nonexistent/ffuf"), "{error}");
}
