//! Technology fingerprints of a web response: the server software, languages, frameworks, CMS
//! and JavaScript libraries its headers, cookies and page give away, with the version where it
//! shows. Our own rules, a few dozen of the most common tells; each technology once, with the
//! evidence that named it.

use s4e_types::inventory::{ObservedTechnology, TechnologyCategory};

use TechnologyCategory::{Cms, Framework, JavascriptLibrary, Language, WebServer};

/// Product names that are languages wherever they appear (lowercase).
const LANGUAGES: &[(&str, &str)] = &[
    ("php", "PHP"),
    ("python", "Python"),
    ("perl", "Perl"),
    ("ruby", "Ruby"),
];

/// Cookies that name what set them: (name, whether it is a prefix, technology, category).
const COOKIES: &[(&str, bool, &str, TechnologyCategory)] = &[
    ("PHPSESSID", false, "PHP", Language),
    ("JSESSIONID", false, "Java", Language),
    ("ASP.NET_SessionId", false, "ASP.NET", Framework),
    ("ASPSESSIONID", true, "ASP", Framework),
    ("laravel_session", false, "Laravel", Framework),
    ("ci_session", false, "CodeIgniter", Framework),
    ("connect.sid", false, "Express", Framework),
    ("wordpress_", true, "WordPress", Cms),
    ("wp-settings-", true, "WordPress", Cms),
];

/// JavaScript libraries recognised by their file names in the page, with the version in the
/// name or path (`jquery-3.5.1.min.js`, `/jquery/3.6.0/`, `bootstrap.min.js?ver=5.3.2`).
const SCRIPTS: &[(&str, &str)] = &[("jquery", "jQuery"), ("bootstrap", "Bootstrap")];

/// What the response's headers (as received) and the start of its body tell.
pub fn identify(headers: &[(String, String)], body: &str) -> Vec<ObservedTechnology> {
    let mut found = Found::default();
    for (name, value) in headers {
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "server" => server(&mut found, value),
            "x-powered-by" => powered_by(&mut found, value),
            "x-aspnet-version" => found.add("ASP.NET", Some(value), Framework, name, value),
            "x-aspnetmvc-version" => found.add("ASP.NET MVC", Some(value), Framework, name, value),
            "x-generator" => generator(&mut found, value, &format!("header {name}")),
            "x-drupal-cache" | "x-drupal-dynamic-cache" => {
                found.add("Drupal", None, Cms, name, value);
            }
            "set-cookie" => cookie(&mut found, value),
            _ => {}
        }
    }
    page(&mut found, body);
    found.0
}

#[derive(Default)]
struct Found(Vec<ObservedTechnology>);

impl Found {
    /// Adds a technology, or gives a version to one found without.
    fn add(
        &mut self,
        name: &str,
        version: Option<&str>,
        category: TechnologyCategory,
        header: &str,
        value: &str,
    ) {
        self.add_with(name, version, category, format!("header {header}: {value}"));
    }

    fn add_with(
        &mut self,
        name: &str,
        version: Option<&str>,
        category: TechnologyCategory,
        evidence: String,
    ) {
        let version = version
            .map(|version| version.trim().to_string())
            .filter(|version| looks_like_version(version));
        let evidence: String = evidence.chars().take(200).collect();
        match self.0.iter_mut().find(|known| known.name == name) {
            Some(known) if known.version.is_none() && version.is_some() => {
                known.version = version;
                known.evidence = evidence;
            }
            Some(_) => {}
            None => self.0.push(ObservedTechnology {
                name: name.to_string(),
                version,
                category,
                evidence,
            }),
        }
    }
}

/// `1.18.0`, `7.4`, `10`, `4.0.30319`: starts with a digit, digits and dots, at most 32.
fn looks_like_version(text: &str) -> bool {
    text.len() <= 32
        && text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// `name/version` product tokens, leaving out comments in parentheses.
fn products(value: &str) -> Vec<(&str, Option<&str>)> {
    let mut depth = 0usize;
    let mut tokens = Vec::new();
    for token in value.split_whitespace() {
        if token.starts_with('(') {
            depth += 1;
        }
        if depth == 0 {
            let token = token.trim_matches(',');
            match token.split_once('/') {
                Some((name, version)) => tokens.push((name, Some(version))),
                None if !token.is_empty() => tokens.push((token, None)),
                None => {}
            }
        }
        if token.ends_with(')') {
            depth = depth.saturating_sub(1);
        }
    }
    tokens
}

fn language(name: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .find(|(key, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, proper)| *proper)
}

/// The first product is the server; languages among the modules it lists are recorded too
/// (`Apache/2.4.41 (Ubuntu) PHP/7.4.3`).
fn server(found: &mut Found, value: &str) {
    for (index, (name, version)) in products(value).into_iter().enumerate() {
        if let Some(language) = language(name) {
            found.add(language, version, Language, "Server", value);
        } else if index == 0 {
            found.add(name, version, WebServer, "Server", value);
        }
    }
}

fn powered_by(found: &mut Found, value: &str) {
    for (name, version) in products(value) {
        match language(name) {
            Some(language) => found.add(language, version, Language, "X-Powered-By", value),
            None => found.add(name, version, Framework, "X-Powered-By", value),
        }
    }
}

/// `WordPress 6.4.2`, `Drupal 10 (https://www.drupal.org)`, `Joomla! - Open Source …`: the
/// words before the first version-like one, and that version.
fn generator(found: &mut Found, value: &str, source: &str) {
    let words: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|word| !word.is_empty())
        .collect();
    let version_at = words.iter().position(|word| looks_like_version(word));
    let name_words = &words[..version_at.unwrap_or(words.len()).min(2)];
    let name = name_words
        .iter()
        .take_while(|word| **word != "-")
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        return;
    }
    let version = version_at.map(|at| words[at]);
    found.add_with(&name, version, Cms, format!("{source}: {value}"));
}

fn cookie(found: &mut Found, value: &str) {
    let name = value.split('=').next().unwrap_or_default().trim();
    for (cookie, prefix, technology, category) in COOKIES {
        let matches = if *prefix {
            name.starts_with(cookie)
        } else {
            name == *cookie
        };
        if matches {
            found.add_with(technology, None, *category, format!("cookie {name}"));
        }
    }
}

fn page(found: &mut Found, body: &str) {
    let lower = body.to_ascii_lowercase();
    for content in meta_generators(body, &lower) {
        generator(found, &content, "meta generator");
    }
    if lower.contains("/wp-content/") || lower.contains("/wp-includes/") {
        found.add_with("WordPress", None, Cms, "page links /wp-content/".into());
    }
    if let Some(at) = lower.find("ng-version=\"") {
        let rest = &body[at + "ng-version=\"".len()..];
        let version = rest.split('"').next();
        found.add_with(
            "Angular",
            version,
            Framework,
            "page attribute ng-version".into(),
        );
    }
    for (key, name) in SCRIPTS {
        if let Some((version, evidence)) = script_version(&lower, key) {
            found.add_with(name, version.as_deref(), JavascriptLibrary, evidence);
        }
    }
}

/// The `content` of every `<meta name="generator" …>` tag (either quote, any attribute
/// order).
fn meta_generators(body: &str, lower: &str) -> Vec<String> {
    let mut contents = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<meta") {
        let start = from + start;
        let end = lower[start..]
            .find('>')
            .map_or(lower.len(), |end| start + end);
        let tag = &lower[start..end];
        let is_generator = tag.contains("name=\"generator\"") || tag.contains("name='generator'");
        if is_generator && let Some(at) = tag.find("content=") {
            // Lowercasing ASCII keeps byte offsets: the content is read from the original.
            let value = &body[start + at + "content=".len()..end];
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
            if let Some(quote) = quote
                && let Some(content) = value[1..].split(quote).next()
            {
                contents.push(content.to_string());
            }
        }
        from = end;
    }
    contents
}

/// A script file of the library named `key` in a `src`: its version from the file name
/// (`jquery-3.5.1.min.js`), its directory (`/jquery/3.6.0/`) or a `ver=` parameter.
fn script_version(lower: &str, key: &str) -> Option<(Option<String>, String)> {
    let mut from = 0;
    let mut seen: Option<String> = None;
    while let Some(at) = lower[from..].find(key) {
        let at = from + at;
        from = at + key.len();
        // Inside a src or href of a script or a link: the path up to the closing quote.
        let before = &lower[..at];
        let Some(opening) = before.rfind(['"', '\'']) else {
            continue;
        };
        if !before[..opening].trim_end().ends_with("src=") {
            continue;
        }
        let quote = lower.as_bytes()[opening] as char;
        let url = &lower[opening + 1..];
        let url = &url[..url.find(quote).unwrap_or(url.len())];
        if !url.contains(".js") {
            continue;
        }
        let evidence = format!("script {}", url.chars().take(150).collect::<String>());
        let after = &lower[from..];
        let version = [after.strip_prefix('-'), after.strip_prefix('/')]
            .into_iter()
            .flatten()
            .map(leading_version)
            .find(|version| !version.is_empty())
            .or_else(|| {
                url.split_once("ver=")
                    .map(|(_, rest)| leading_version(rest))
                    .filter(|version| !version.is_empty())
            });
        match version {
            Some(version) => return Some((Some(version.to_string()), evidence)),
            None => seen = seen.or(Some(evidence)),
        }
    }
    seen.map(|evidence| (None, evidence))
}

/// The `1.2.3` at the start of `text` (digits and dots, not ending in a dot).
fn leading_version(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text[..end].trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string()))
            .collect()
    }

    fn named(found: &[ObservedTechnology]) -> Vec<(String, Option<String>, TechnologyCategory)> {
        found
            .iter()
            .map(|t| (t.name.clone(), t.version.clone(), t.category))
            .collect()
    }

    fn t(
        name: &str,
        version: Option<&str>,
        category: TechnologyCategory,
    ) -> (String, Option<String>, TechnologyCategory) {
        (name.to_string(), version.map(str::to_string), category)
    }

    #[test]
    fn headers_name_the_server_language_and_framework() {
        let found = identify(
            &headers(&[
                ("Server", "Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f PHP/7.4.3"),
                ("X-Powered-By", "PHP/7.4.3"),
                ("Set-Cookie", "PHPSESSID=abc; path=/"),
                ("X-AspNet-Version", "4.0.30319"),
            ]),
            "",
        );
        assert_eq!(
            named(&found),
            [
                t("Apache", Some("2.4.41"), WebServer),
                t("PHP", Some("7.4.3"), Language),
                t("ASP.NET", Some("4.0.30319"), Framework),
            ]
        );
        assert_eq!(
            found[0].evidence,
            "header Server: Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f PHP/7.4.3"
        );
        let bare = identify(
            &headers(&[("server", "nginx"), ("x-powered-by", "Express")]),
            "",
        );
        assert_eq!(
            named(&bare),
            [t("nginx", None, WebServer), t("Express", None, Framework)]
        );
    }

    #[test]
    fn the_page_names_its_cms_and_libraries() {
        let body = r#"<html><head><meta content="WordPress 6.4.2" name="generator">
            <link rel="stylesheet" href="/wp-content/themes/x/style.css">
            <script src="https://cdn.example.com/jquery-3.5.1.min.js"></script>
            <script src='/static/js/bootstrap.bundle.min.js?ver=5.3.2'></script>
            </head><body>jquery is mentioned in text</body></html>"#;
        let found = identify(&[], body);
        assert_eq!(
            named(&found),
            [
                t("WordPress", Some("6.4.2"), Cms),
                t("jQuery", Some("3.5.1"), JavascriptLibrary),
                t("Bootstrap", Some("5.3.2"), JavascriptLibrary),
            ]
        );
        let drupal = identify(
            &[],
            r#"<meta name="Generator" content="Drupal 10 (https://www.drupal.org)" />"#,
        );
        assert_eq!(named(&drupal), [t("Drupal", Some("10"), Cms)]);
        let joomla = identify(
            &[],
            r#"<meta name='generator' content='Joomla! - Open Source Content Management'>"#,
        );
        assert_eq!(named(&joomla), [t("Joomla!", None, Cms)]);
        let angular = identify(&[], r#"<app-root ng-version="17.0.1"></app-root>"#);
        assert_eq!(named(&angular), [t("Angular", Some("17.0.1"), Framework)]);
    }

    #[test]
    fn an_ordinary_page_names_nothing() {
        let body = "<html><head><title>jQuery tips</title></head><body>Bootstrap your \
                    business. Version 2.0 of our plan.</body></html>";
        assert!(identify(&headers(&[("Content-Type", "text/html")]), body).is_empty());
    }
}
