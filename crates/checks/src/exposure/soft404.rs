//! Soft-404s: sites that answer every unknown path with 200 and the same page.
//!
//! The check first requests paths that cannot exist (random names). An answer to a real probe
//! that looks like one of those (same status, near-identical body once each request's own path
//! is removed from it) says nothing about the probed path, and is never judged.

use std::collections::HashMap;

/// What a never-existing path got.
pub(super) struct Baseline {
    pub status: u16,
    /// The body with the requested path removed.
    pub body: String,
}

impl Baseline {
    pub fn new(status: u16, body: &[u8], path: &str) -> Self {
        Baseline {
            status,
            body: without_path(body, path),
        }
    }
}

/// Whether the answer to `path` is indistinguishable from a baseline.
pub(super) fn is_soft_404(baselines: &[Baseline], status: u16, body: &[u8], path: &str) -> bool {
    let body = without_path(body, path);
    baselines
        .iter()
        .any(|baseline| baseline.status == status && similar(&baseline.body, &body))
}

/// The body as text, without the path as the page may echo it (with or without the leading
/// slash; pages often quote "The requested URL /x was not found").
fn without_path(body: &[u8], path: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let bare = path.trim_start_matches('/');
    if bare.is_empty() {
        return text.into_owned();
    }
    text.replace(path, "").replace(bare, "")
}

/// At least this share of the words in common (Dice coefficient over the multisets of words):
/// a page with a fresh timestamp, request id or CSRF token is still the same page.
const SIMILARITY: f64 = 0.9;

fn similar(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let words_a = words(a);
    let words_b = words(b);
    let total = words_a.values().sum::<usize>() + words_b.values().sum::<usize>();
    if total == 0 {
        return true;
    }
    let common: usize = words_a
        .iter()
        .map(|(word, count)| (*count).min(words_b.get(word).copied().unwrap_or(0)))
        .sum();
    (2 * common) as f64 / total as f64 >= SIMILARITY
}

/// Words split on whitespace and markup punctuation, with their counts.
fn words(text: &str) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for word in text
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '=' | '/'))
        .filter(|word| !word.is_empty())
    {
        *counts.entry(word).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<html><head><title>Shop</title></head><body><h1>Welcome</h1>\
        <p>Our products are the best products in the whole wide world of products.</p>\
        <p>Open every day from nine to five, except on public holidays.</p></body></html>";

    #[test]
    fn the_same_page_is_a_soft_404() {
        let baselines = [Baseline::new(200, PAGE.as_bytes(), "/3f2a9c")];
        assert!(is_soft_404(&baselines, 200, PAGE.as_bytes(), "/.git/HEAD"));
        // Another status is another answer.
        assert!(!is_soft_404(&baselines, 403, PAGE.as_bytes(), "/.git/HEAD"));
        // Real content is not.
        assert!(!is_soft_404(
            &baselines,
            200,
            b"ref: refs/heads/main\n",
            "/.git/HEAD"
        ));
        // Two empty bodies are the same.
        let empty = [Baseline::new(200, b"", "/x")];
        assert!(is_soft_404(&empty, 200, b"", "/.env"));
    }

    #[test]
    fn echoed_paths_are_removed() {
        let page =
            |path: &str| format!("<html><body><p>Sorry, {path} was not found.</p></body></html>");
        let baselines = [Baseline::new(200, page("/3f2a9c").as_bytes(), "/3f2a9c")];
        assert!(is_soft_404(
            &baselines,
            200,
            page("/.git/HEAD").as_bytes(),
            "/.git/HEAD"
        ));
        // Quoted without the leading slash too.
        let bare = |path: &str| format!("<p>Sorry, {path} was not found.</p>");
        let baselines = [Baseline::new(200, bare("3f2a9c").as_bytes(), "/3f2a9c")];
        assert!(is_soft_404(
            &baselines,
            200,
            bare(".env").as_bytes(),
            "/.env"
        ));
    }

    #[test]
    fn small_dynamic_differences_are_tolerated() {
        let with_token = |token: &str| format!("{PAGE}<input name=\"csrf\" value=\"{token}\">");
        let baselines = [Baseline::new(200, with_token("aaaa1111").as_bytes(), "/x")];
        assert!(is_soft_404(
            &baselines,
            200,
            with_token("bbbb2222").as_bytes(),
            "/.env"
        ));
        // A different page is not.
        let other = "<html><head><title>Admin</title></head><body><table><tr><td>users</td>\
            <td>orders</td></tr></table></body></html>";
        assert!(!is_soft_404(&baselines, 200, other.as_bytes(), "/.env"));
    }
}
