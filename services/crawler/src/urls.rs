//! URLs as the crawl keeps them: the scope a crawl may not leave, one normal form per URL (the
//! key of the seen set), the template that groups parametric duplicates, and the shapes of
//! crawler traps.

use url::Url;

/// What a crawl may fetch: the start URL's host and port (over http or https), under the start
/// URL's directory. Nothing outside it is requested, whatever links to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    host: String,
    port: u16,
    path_prefix: String,
}

impl Scope {
    /// The scope of a crawl starting at `start` (an http or https URL).
    pub fn of(start: &Url) -> Option<Scope> {
        if !matches!(start.scheme(), "http" | "https") {
            return None;
        }
        let host = start.host_str()?.to_ascii_lowercase();
        let port = start.port_or_known_default()?;
        let path = start.path();
        let path_prefix = path[..=path.rfind('/').unwrap_or(0)].to_string();
        Some(Scope {
            host,
            port,
            path_prefix,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// How many directories below the scope's own `url` is (0 for the scope's directory and
    /// what is in it); `None` outside the scope.
    pub fn level(&self, url: &Url) -> Option<usize> {
        self.contains(url)
            .then(|| url.path()[self.path_prefix.len()..].matches('/').count())
    }

    /// Whether `url` is in scope. The other scheme of the same host counts only on its own
    /// default port when the start URL used its scheme's default (a site on 80 and 443).
    pub fn contains(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        if !matches!(url.scheme(), "http" | "https") || !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        let port_matches = match url.port() {
            Some(port) => port == self.port,
            None => self.port == 80 || self.port == 443,
        };
        port_matches && url.path().starts_with(&self.path_prefix)
    }
}

/// A file of the start URL's host that describes the site (`/robots.txt`, `/sitemap.xml`):
/// fetched even when the scope is a directory below it.
pub fn site_file(start: &Url, path: &str) -> Url {
    let mut url = start.clone();
    url.set_path(path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Query parameters that carry a session, not content: dropped so one page is one URL.
const SESSION_PARAMETERS: &[&str] = &[
    "jsessionid",
    "phpsessid",
    "sid",
    "sessionid",
    "session_id",
    "aspsessionid",
    "cfid",
    "cftoken",
];

/// One form per URL: the url crate already lowercases the scheme and host, drops default
/// ports, resolves dot segments and percent-encodes; this drops the fragment, `;jsessionid=`
/// path parameters and session query parameters, and sorts the query.
pub fn normalize(mut url: Url) -> Url {
    url.set_fragment(None);
    if let Some(at) = url.path().to_ascii_lowercase().find(";jsessionid=") {
        let path = url.path()[..at].to_string();
        url.set_path(&path);
    }
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| !SESSION_PARAMETERS.contains(&key.to_ascii_lowercase().as_str()))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        pairs.sort();
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    url
}

/// The shape of a URL without its values: numbers, hex strings and UUIDs in the path become
/// `{id}`, the query keeps its keys. `/item/12?sort=asc` → `/item/{id}?sort`.
pub fn template(url: &Url) -> String {
    let mut shape = String::with_capacity(url.path().len() + 16);
    for segment in url.path().split('/').skip(1) {
        shape.push('/');
        if is_identifier(segment) {
            shape.push_str("{id}");
        } else {
            shape.push_str(segment);
        }
    }
    let mut keys: Vec<String> = url.query_pairs().map(|(key, _)| key.into_owned()).collect();
    keys.dedup();
    if !keys.is_empty() {
        shape.push('?');
        shape.push_str(&keys.join("&"));
    }
    shape
}

/// A path segment that is a value rather than a name: digits, a long hex string, a UUID, or a
/// date (`2024-01-31`).
fn is_identifier(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    let hex_or_dash = segment
        .bytes()
        .all(|byte| byte.is_ascii_hexdigit() || byte == b'-');
    segment.bytes().all(|byte| byte.is_ascii_digit())
        || (hex_or_dash && segment.len() >= 8 && digits > 0)
}

/// The longest URL a crawl follows.
const MAX_URL_LENGTH: usize = 2048;
/// The most path segments a crawled URL may have.
const MAX_SEGMENTS: usize = 16;
/// How often one segment may repeat in a path before the path is a loop (`/a/b/a/b/a/b/…`).
const MAX_REPEATS: usize = 3;

/// Whether a URL has the shape of a trap by itself: too long, too deep, or repeating its own
/// path segments (relative links resolving against themselves). Traps that are many URLs of
/// one shape (calendars, endless listings) are counted by template in the crawl's state.
pub fn is_trap(url: &Url) -> bool {
    if url.as_str().len() > MAX_URL_LENGTH {
        return true;
    }
    let segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > MAX_SEGMENTS {
        return true;
    }
    segments
        .iter()
        .any(|segment| segments.iter().filter(|other| *other == segment).count() > MAX_REPEATS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_scope_is_the_start_urls_host_port_and_directory() {
        let scope = Scope::of(&url("https://Shop.test/app/index.html")).unwrap();
        assert!(scope.contains(&url("https://shop.test/app/")));
        assert!(scope.contains(&url("http://shop.test/app/a/b")));
        assert!(!scope.contains(&url("https://shop.test/other")));
        assert!(!scope.contains(&url("https://api.shop.test/app/")));
        assert!(!scope.contains(&url("https://shop.test:8443/app/")));
        assert!(!scope.contains(&url("ftp://shop.test/app/")));
        let local = Scope::of(&url("http://127.0.0.1:8080/")).unwrap();
        assert!(local.contains(&url("http://127.0.0.1:8080/x")));
        assert!(!local.contains(&url("http://127.0.0.1:8081/x")));
        assert!(!local.contains(&url("http://127.0.0.1/x")));
        assert!(Scope::of(&url("mailto:a@b.test")).is_none());
    }

    #[test]
    fn one_page_has_one_normal_form() {
        let same = [
            "HTTP://Shop.TEST:80/a/./b/../c?z=1&a=2#top",
            "http://shop.test/a/c?a=2&z=1",
            "http://shop.test/a/c;jsessionid=ABC?a=2&z=1",
            "http://shop.test/a/c?a=2&PHPSESSID=x&z=1",
        ];
        for text in same {
            assert_eq!(
                normalize(url(text)).as_str(),
                "http://shop.test/a/c?a=2&z=1",
                "{text}"
            );
        }
        assert_eq!(
            normalize(url("http://shop.test/?sid=1")).as_str(),
            "http://shop.test/"
        );
    }

    #[test]
    fn templates_group_parametric_urls() {
        assert_eq!(template(&url("http://s.test/item/12")), "/item/{id}");
        assert_eq!(
            template(&url(
                "http://s.test/u/0f8fad5b-d9cb-469f-a165-70867728950e/edit?x=1&y=2"
            )),
            "/u/{id}/edit?x&y"
        );
        assert_eq!(template(&url("http://s.test/cal/2024-01-31")), "/cal/{id}");
        assert_eq!(template(&url("http://s.test/about")), "/about");
        assert_eq!(template(&url("http://s.test/deadbeef")), "/deadbeef");
    }

    #[test]
    fn self_repeating_and_overlong_paths_are_traps() {
        assert!(is_trap(&url("http://s.test/a/b/a/b/a/b/a/b/")));
        assert!(!is_trap(&url("http://s.test/d/d/d/")));
        assert!(is_trap(&url(&format!(
            "http://s.test/{}",
            (0..20).map(|i| format!("s{i}/")).collect::<String>()
        ))));
        assert!(is_trap(&url(&format!(
            "http://s.test/?q={}",
            "a".repeat(3000)
        ))));
        assert!(!is_trap(&url("http://s.test/docs/a/b/c.html")));
    }
}
