//! What a response references: every way HTML, CSS, scripts, headers, robots.txt and
//! sitemaps point at another URL, the page's forms and its title. Pure functions over a
//! response already read (and capped), so a hostile page costs at most its body limit.
//!
//! HTML goes through lol_html, a streaming parser that never builds a tree: memory stays flat
//! whatever the markup, and broken markup is read the way browsers read it. Scripts are read
//! by oxc's JavaScript parser (string literals, the literal start of templates, strings joined
//! with `+`); one it cannot read at all falls back to a lexer of its string literals.

use std::cell::RefCell;
use std::rc::Rc;

use lol_html::html_content::{Element, TextChunk};
use lol_html::{HtmlRewriter, Settings, element, text};
use oxc_allocator::Allocator;
use oxc_ast::ast::{BinaryExpression, BinaryOperator, Expression, StringLiteral, TemplateLiteral};
use oxc_ast_visit::{Visit, walk};
use oxc_parser::Parser;
use oxc_span::SourceType;
use s4e_types::crawl::{LinkSource, SiteForm};
use url::Url;

/// What one response references.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extracted {
    /// Absolute URLs in document order, repeats included (the caller normalises and dedups).
    pub links: Vec<(Url, LinkSource)>,
    pub forms: Vec<SiteForm>,
    pub title: Option<String>,
}

/// The longest title kept.
const TITLE_LIMIT: usize = 512;
/// The most inline script or style text read from one page.
const INLINE_TEXT_LIMIT: usize = 512 * 1024;
/// The most links taken from one response (a site's index of everything has tens of
/// thousands; the body limit bounds them anyway).
const LINK_LIMIT: usize = 50_000;

/// What `body`, the response to `url` with `headers`, references.
pub fn response(url: &Url, headers: &[(String, String)], body: &[u8]) -> Extracted {
    let content_type = header(headers, "content-type")
        .map(|value| value.to_ascii_lowercase())
        .unwrap_or_default();
    let mut extracted = if url.path() == "/robots.txt" && !content_type.contains("html") {
        robots(url, &String::from_utf8_lossy(body))
    } else if content_type.contains("html") {
        html(url, body)
    } else if content_type.contains("css") {
        let mut links = Vec::new();
        css(url, &String::from_utf8_lossy(body), &mut links);
        Extracted {
            links,
            ..Extracted::default()
        }
    } else if content_type.contains("javascript") || content_type.contains("ecmascript") {
        let mut links = Vec::new();
        script(url, &String::from_utf8_lossy(body), &mut links);
        Extracted {
            links,
            ..Extracted::default()
        }
    } else if content_type.contains("xml") || looks_like_sitemap(body) {
        sitemap(url, &String::from_utf8_lossy(body))
    } else {
        Extracted::default()
    };
    let mut from_headers = header_links(url, headers);
    from_headers.append(&mut extracted.links);
    extracted.links = from_headers;
    extracted.links.truncate(LINK_LIMIT);
    extracted
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn looks_like_sitemap(body: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    start.contains("<urlset") || start.contains("<sitemapindex")
}

/// `Location`, `Content-Location`, `Refresh` and every `Link` target.
fn header_links(url: &Url, headers: &[(String, String)]) -> Vec<(Url, LinkSource)> {
    let mut links = Vec::new();
    for (name, value) in headers {
        let reference = match name.to_ascii_lowercase().as_str() {
            "location" | "content-location" => Some(value.trim().to_string()),
            "refresh" => refresh_target(value),
            "link" => {
                for part in value.split(',') {
                    let part = part.trim();
                    if let (Some(open), Some(close)) = (part.find('<'), part.find('>'))
                        && open < close
                        && let Ok(target) = url.join(&part[open + 1..close])
                    {
                        links.push((target, LinkSource::Redirect));
                    }
                }
                None
            }
            _ => None,
        };
        if let Some(reference) = reference
            && let Ok(target) = url.join(&reference)
        {
            links.push((target, LinkSource::Redirect));
        }
    }
    links
}

/// The URL of a refresh (`5; url=/next`), header or meta tag.
fn refresh_target(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let at = lower.find("url")?;
    let rest = value[at + 3..].trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    let target = rest.trim_matches(|c| c == '\'' || c == '"');
    (!target.is_empty()).then(|| target.to_string())
}

/// What an HTML document collects while it streams by; resolved against the base at the end.
#[derive(Default)]
struct Collected {
    references: Vec<(String, LinkSource)>,
    base: Option<String>,
    title: String,
    forms: Vec<RawForm>,
    open_form: Option<usize>,
    inline_script: String,
    inline_style: String,
    srcdocs: Vec<String>,
}

struct RawForm {
    action: Option<String>,
    method: String,
    fields: Vec<String>,
    has_password: bool,
}

/// Attributes holding one URL, by element (as a CSS selector) and source.
const URL_ATTRIBUTES: &[(&str, &str, LinkSource)] = &[
    ("a[href]", "href", LinkSource::Html),
    ("area[href]", "href", LinkSource::Html),
    ("link[href]", "href", LinkSource::Html),
    ("iframe[src]", "src", LinkSource::Html),
    ("frame[src]", "src", LinkSource::Html),
    ("img[src]", "src", LinkSource::Html),
    ("source[src]", "src", LinkSource::Html),
    ("video[src]", "src", LinkSource::Html),
    ("video[poster]", "poster", LinkSource::Html),
    ("audio[src]", "src", LinkSource::Html),
    ("track[src]", "src", LinkSource::Html),
    ("embed[src]", "src", LinkSource::Html),
    ("object[data]", "data", LinkSource::Html),
    ("applet[code]", "code", LinkSource::Html),
    ("applet[archive]", "archive", LinkSource::Html),
    ("input[src]", "src", LinkSource::Html),
    ("blockquote[cite]", "cite", LinkSource::Html),
    ("q[cite]", "cite", LinkSource::Html),
    ("ins[cite]", "cite", LinkSource::Html),
    ("del[cite]", "cite", LinkSource::Html),
    ("body[background]", "background", LinkSource::Html),
    ("html[manifest]", "manifest", LinkSource::Html),
    ("script[src]", "src", LinkSource::Script),
    ("button[formaction]", "formaction", LinkSource::Form),
    ("input[formaction]", "formaction", LinkSource::Form),
];

fn html(url: &Url, body: &[u8]) -> Extracted {
    let collected = Rc::new(RefCell::new(Collected::default()));
    parse_html(body, &collected);
    // An iframe's inline document references URLs relative to its parent.
    let srcdocs = std::mem::take(&mut collected.borrow_mut().srcdocs);
    for srcdoc in srcdocs {
        parse_html(srcdoc.as_bytes(), &collected);
    }
    let collected = Rc::try_unwrap(collected)
        .map(RefCell::into_inner)
        .unwrap_or_default();
    let base = collected
        .base
        .as_deref()
        .and_then(|base| url.join(base).ok())
        .unwrap_or_else(|| url.clone());
    let mut links = Vec::new();
    for (reference, source) in &collected.references {
        if let Some(target) = resolve(&base, reference) {
            links.push((target, *source));
        }
    }
    css(&base, &collected.inline_style, &mut links);
    script(&base, &collected.inline_script, &mut links);
    let forms = collected
        .forms
        .into_iter()
        .filter_map(|form| {
            let action = match form.action.as_deref().map(str::trim) {
                None | Some("") => base.clone(),
                Some(action) => resolve(&base, action)?,
            };
            links.push((action.clone(), LinkSource::Form));
            Some(SiteForm {
                action: action.to_string(),
                method: form.method,
                fields: form.fields,
                has_password: form.has_password,
            })
        })
        .collect();
    let title = collected
        .title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Extracted {
        links,
        forms,
        title: (!title.is_empty()).then_some(title),
    }
}

/// Streams `body` through the handlers, adding to `collected`. Malformed markup never fails:
/// the parser recovers like a browser; an error of the parser itself ends the document there.
fn parse_html(body: &[u8], collected: &Rc<RefCell<Collected>>) {
    let mut handlers = Vec::new();
    for (selector, attribute, source) in URL_ATTRIBUTES {
        let collected = collected.clone();
        handlers.push(element!(*selector, move |el| {
            if let Some(value) = el.get_attribute(attribute) {
                collected.borrow_mut().references.push((value, *source));
            }
            Ok(())
        }));
    }
    let srcset = {
        let collected = collected.clone();
        element!("img[srcset], source[srcset]", move |el| {
            if let Some(value) = el.get_attribute("srcset") {
                let mut collected = collected.borrow_mut();
                for candidate in value.split(',') {
                    if let Some(reference) = candidate.split_whitespace().next() {
                        collected
                            .references
                            .push((reference.to_string(), LinkSource::Html));
                    }
                }
            }
            Ok(())
        })
    };
    handlers.push(srcset);
    let base = {
        let collected = collected.clone();
        element!("base[href]", move |el| {
            let mut collected = collected.borrow_mut();
            if collected.base.is_none() {
                collected.base = el.get_attribute("href");
            }
            Ok(())
        })
    };
    handlers.push(base);
    let refresh = {
        let collected = collected.clone();
        element!("meta[http-equiv][content]", move |el| {
            let equiv = el.get_attribute("http-equiv").unwrap_or_default();
            if equiv.eq_ignore_ascii_case("refresh")
                && let Some(target) = el
                    .get_attribute("content")
                    .as_deref()
                    .and_then(refresh_target)
            {
                collected
                    .borrow_mut()
                    .references
                    .push((target, LinkSource::Redirect));
            }
            Ok(())
        })
    };
    handlers.push(refresh);
    let srcdoc = {
        let collected = collected.clone();
        element!("iframe[srcdoc]", move |el| {
            if let Some(document) = el.get_attribute("srcdoc") {
                collected.borrow_mut().srcdocs.push(document);
            }
            Ok(())
        })
    };
    handlers.push(srcdoc);
    let style_attribute = {
        let collected = collected.clone();
        element!("*[style]", move |el| {
            if let Some(style) = el.get_attribute("style") {
                append_capped(&mut collected.borrow_mut().inline_style, &style);
            }
            Ok(())
        })
    };
    handlers.push(style_attribute);
    let form = {
        let collected = collected.clone();
        element!("form", move |el| form_started(el, &collected))
    };
    handlers.push(form);
    let field = {
        let collected = collected.clone();
        element!("input, select, textarea, button", move |el| {
            let mut collected = collected.borrow_mut();
            let Some(index) = collected.open_form else {
                return Ok(());
            };
            let kind = el.get_attribute("type").unwrap_or_default();
            let form = &mut collected.forms[index];
            if kind.eq_ignore_ascii_case("password") {
                form.has_password = true;
            }
            if let Some(name) = el.get_attribute("name")
                && !name.is_empty()
                && !form.fields.contains(&name)
            {
                form.fields.push(name);
            }
            Ok(())
        })
    };
    handlers.push(field);
    let title_text = {
        let collected = collected.clone();
        text!("title", move |chunk: &mut TextChunk| {
            let mut collected = collected.borrow_mut();
            if collected.title.len() < TITLE_LIMIT {
                collected.title.push_str(chunk.as_str());
            }
            Ok(())
        })
    };
    handlers.push(title_text);
    let script_text = {
        let collected = collected.clone();
        text!("script", move |chunk: &mut TextChunk| {
            append_capped(&mut collected.borrow_mut().inline_script, chunk.as_str());
            Ok(())
        })
    };
    handlers.push(script_text);
    let style_text = {
        let collected = collected.clone();
        text!("style", move |chunk: &mut TextChunk| {
            append_capped(&mut collected.borrow_mut().inline_style, chunk.as_str());
            Ok(())
        })
    };
    handlers.push(style_text);
    let settings = handlers
        .into_iter()
        .fold(Settings::new(), Settings::append_element_content_handler);
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    if rewriter.write(body).is_ok() {
        let _ = rewriter.end();
    }
}

fn form_started(
    el: &mut Element<'_, '_>,
    collected: &Rc<RefCell<Collected>>,
) -> lol_html::HandlerResult {
    let method = el
        .get_attribute("method")
        .map(|method| method.trim().to_ascii_uppercase())
        .filter(|method| method == "POST")
        .unwrap_or_else(|| "GET".to_string());
    {
        let mut state = collected.borrow_mut();
        state.forms.push(RawForm {
            action: el.get_attribute("action"),
            method,
            fields: Vec::new(),
            has_password: false,
        });
        state.open_form = Some(state.forms.len() - 1);
    }
    let collected = collected.clone();
    // A form without an end tag stays open to the end of the document, as in a browser.
    let _ = el.on_end_tag(Box::new(move |_| {
        collected.borrow_mut().open_form = None;
        Ok(())
    }));
    Ok(())
}

fn append_capped(buffer: &mut String, text: &str) {
    if buffer.len() + text.len() <= INLINE_TEXT_LIMIT {
        buffer.push_str(text);
        buffer.push('\n');
    }
}

/// A reference resolved against `base`, or `None` for what is not a fetchable URL
/// (`javascript:`, `mailto:`, `data:`, fragments alone).
fn resolve(base: &Url, reference: &str) -> Option<Url> {
    let reference = reference.trim();
    if reference.is_empty() || reference.starts_with('#') {
        return None;
    }
    let target = base.join(reference).ok()?;
    matches!(target.scheme(), "http" | "https").then_some(target)
}

/// CSS `url(…)` and `@import "…"`.
fn css(base: &Url, text: &str, links: &mut Vec<(Url, LinkSource)>) {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("url(") {
        let start = from + at + 4;
        let Some(length) = lower[start..].find(')') else {
            break;
        };
        let reference = text[start..start + length]
            .trim()
            .trim_matches(|c| c == '\'' || c == '"');
        if !reference.starts_with("data:")
            && let Some(target) = resolve(base, reference)
        {
            links.push((target, LinkSource::Css));
        }
        from = start + length;
    }
    from = 0;
    while let Some(at) = lower[from..].find("@import") {
        let start = from + at + 7;
        let rest = text[start..].trim_start();
        if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'')
            && let Some(end) = rest[1..].find(quote)
            && let Some(target) = resolve(base, &rest[1..=end])
        {
            links.push((target, LinkSource::Css));
        }
        from = start;
    }
}

/// Paths and URLs in a script, from oxc's syntax tree: every string that looks like one
/// ([`looks_like_path`]). A script the parser gives up on is read by [`quoted_strings`].
fn script(base: &Url, text: &str, links: &mut Vec<(Url, LinkSource)>) {
    // The parser descends once per level of nesting: a hostile script nested deeply enough
    // would exhaust the stack, so such a script is only lexed.
    if bracket_depth(text) > MAX_SCRIPT_NESTING {
        return quoted_strings(base, text, links);
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, text, SourceType::unambiguous()).parse();
    if parsed.panicked {
        return quoted_strings(base, text, links);
    }
    let mut strings = ScriptStrings::default();
    strings.visit_program(&parsed.program);
    for literal in strings.0 {
        if looks_like_path(&literal)
            && let Some(target) = resolve(base, &literal)
        {
            links.push((target, LinkSource::Script));
        }
    }
}

/// The deepest nesting of brackets the parser is given; real code stays far below it.
const MAX_SCRIPT_NESTING: usize = 256;

/// How deeply a script's brackets nest, counting every bracket (those in strings and comments
/// too, which can only make a script look deeper than it is).
fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for byte in text.bytes() {
        match byte {
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The strings a script spells out: its string literals, a template without holes whole and
/// one with holes up to the first when that is a directory (`/api/items/${id}` gives
/// `/api/items/`), and two string literals joined with `+`.
#[derive(Default)]
struct ScriptStrings(Vec<String>);

impl<'a> Visit<'a> for ScriptStrings {
    fn visit_string_literal(&mut self, literal: &StringLiteral<'a>) {
        self.0.push(literal.value.to_string());
    }

    fn visit_template_literal(&mut self, template: &TemplateLiteral<'a>) {
        if let Some(head) = template.quasis.first() {
            let text = head.value.cooked.unwrap_or(head.value.raw);
            if template.expressions.is_empty() || text.ends_with('/') {
                self.0.push(text.to_string());
            }
        }
        walk::walk_template_literal(self, template);
    }

    fn visit_binary_expression(&mut self, expression: &BinaryExpression<'a>) {
        if expression.operator == BinaryOperator::Addition
            && let (Expression::StringLiteral(left), Expression::StringLiteral(right)) =
                (&expression.left, &expression.right)
        {
            self.0.push(format!("{}{}", left.value, right.value));
        }
        walk::walk_binary_expression(self, expression);
    }
}

/// Paths and URLs quoted in a script, for one the parser cannot read: every string literal
/// that looks like one (no template holes).
fn quoted_strings(base: &Url, text: &str, links: &mut Vec<(Url, LinkSource)>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let quote = bytes[at];
        if !matches!(quote, b'"' | b'\'' | b'`') {
            at += 1;
            continue;
        }
        let start = at + 1;
        let mut end = start;
        while end < bytes.len() && bytes[end] != quote && bytes[end] != b'\n' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(bytes.len());
        if let Some(literal) = text.get(start..end)
            && looks_like_path(literal)
            && let Some(target) = resolve(base, literal)
        {
            links.push((target, LinkSource::Script));
        }
        at = end + 1;
    }
}

fn looks_like_path(literal: &str) -> bool {
    let starts = literal.starts_with("http://")
        || literal.starts_with("https://")
        || literal.starts_with("./")
        || literal.starts_with("../")
        || (literal.starts_with('/') && !literal.starts_with("//") && literal.len() > 1);
    starts
        && literal.len() <= 512
        && !literal.contains("${")
        && !literal.contains('\\')
        && !literal
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
}

/// robots.txt: the paths its rules name (prefixes up to the first wildcard) and its sitemaps.
/// The crawl fetches disallowed paths too: on an asset its owner scans, what robots.txt hides
/// is what the owner most needs to see.
fn robots(url: &Url, text: &str) -> Extracted {
    let mut links = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match field.trim().to_ascii_lowercase().as_str() {
            "allow" | "disallow" => {
                let prefix = value.split(['*', '$']).next().unwrap_or_default();
                if prefix.starts_with('/')
                    && prefix.len() > 1
                    && let Some(target) = resolve(url, prefix)
                {
                    links.push((target, LinkSource::Robots));
                }
            }
            "sitemap" => {
                if let Some(target) = resolve(url, value) {
                    links.push((target, LinkSource::Sitemap));
                }
            }
            _ => {}
        }
    }
    Extracted {
        links,
        ..Extracted::default()
    }
}

/// A sitemap or sitemap index: every `<loc>`.
fn sitemap(url: &Url, text: &str) -> Extracted {
    let lower = text.to_ascii_lowercase();
    let mut links = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<loc>") {
        let start = from + at + 5;
        let Some(length) = lower[start..].find("</loc>") else {
            break;
        };
        let value = unescape_xml(text[start..start + length].trim());
        let value = value
            .strip_prefix("<![CDATA[")
            .and_then(|inner| inner.strip_suffix("]]>"))
            .unwrap_or(&value);
        if let Some(target) = resolve(url, value) {
            links.push((target, LinkSource::Sitemap));
        }
        from = start + length;
    }
    Extracted {
        links,
        ..Extracted::default()
    }
}

fn unescape_xml(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(extracted: &Extracted) -> Vec<(String, LinkSource)> {
        extracted
            .links
            .iter()
            .map(|(url, source)| (url.path().to_string(), *source))
            .collect()
    }

    fn html_headers() -> Vec<(String, String)> {
        vec![("Content-Type".into(), "text/html; charset=utf-8".into())]
    }

    #[test]
    fn html_references_of_every_kind_resolve_against_the_base() {
        let page = r#"<!doctype html><html manifest="/app.manifest"><head>
            <title> The
              Shop </title>
            <base href="/base/">
            <link rel="stylesheet" href="css/site.css">
            <meta http-equiv="Refresh" content="30; URL='/refreshed'">
            <style>body { background: url("/img/bg.png") } @import 'print.css';</style>
            <script src="/js/app.js"></script>
            <script>fetch("/api/v1/items?limit=5"); var s = 'not a path'; go(`/tpl/${id}`);</script>
            </head><body background="/body.png">
            <a href="page.html#part">p</a><a href="javascript:void(0)">x</a><a href="mailto:a@b.test">m</a>
            <area href="/area"><iframe src="/frame"></iframe><frame src="/frame2">
            <img src="/img/a.png" srcset="/img/a-2x.png 2x, /img/a-3x.png 3x">
            <picture><source srcset="/img/b.webp"></picture>
            <video src="/v.mp4" poster="/poster.jpg"><track src="/sub.vtt"></video><audio src="/a.mp3"></audio>
            <embed src="/e.swf"><object data="/o.pdf"></object><applet code="/Applet.class"></applet>
            <blockquote cite="/quote"></blockquote><q cite="/q"></q><ins cite="/ins"></ins><del cite="/del"></del>
            <div style="background-image: url(/styled.png)"></div>
            <iframe srcdoc="<a href='/from-srcdoc'>s</a>"></iframe>
            <form action="/login" method="post"><input name="user"><input type="password" name="pass">
              <button formaction="/alt" name="go">Go</button></form>
            <form><input name="q"></form>
            <input name="orphan">
            </body></html>"#;
        let url = Url::parse("http://shop.test/dir/index.html").unwrap();
        let extracted = response(&url, &html_headers(), page.as_bytes());
        assert_eq!(extracted.title.as_deref(), Some("The Shop"));
        let found = targets(&extracted);
        let expected = [
            ("/app.manifest", LinkSource::Html),
            ("/base/css/site.css", LinkSource::Html),
            ("/refreshed", LinkSource::Redirect),
            ("/js/app.js", LinkSource::Script),
            ("/body.png", LinkSource::Html),
            ("/base/page.html", LinkSource::Html),
            ("/area", LinkSource::Html),
            ("/frame", LinkSource::Html),
            ("/frame2", LinkSource::Html),
            ("/img/a.png", LinkSource::Html),
            ("/img/a-2x.png", LinkSource::Html),
            ("/img/a-3x.png", LinkSource::Html),
            ("/img/b.webp", LinkSource::Html),
            ("/v.mp4", LinkSource::Html),
            ("/poster.jpg", LinkSource::Html),
            ("/sub.vtt", LinkSource::Html),
            ("/a.mp3", LinkSource::Html),
            ("/e.swf", LinkSource::Html),
            ("/o.pdf", LinkSource::Html),
            ("/Applet.class", LinkSource::Html),
            ("/quote", LinkSource::Html),
            ("/q", LinkSource::Html),
            ("/ins", LinkSource::Html),
            ("/del", LinkSource::Html),
            ("/alt", LinkSource::Form),
            ("/from-srcdoc", LinkSource::Html),
            ("/img/bg.png", LinkSource::Css),
            ("/styled.png", LinkSource::Css),
            ("/base/print.css", LinkSource::Css),
            ("/api/v1/items", LinkSource::Script),
            // The literal start of a template with a hole, a directory.
            ("/tpl/", LinkSource::Script),
            ("/login", LinkSource::Form),
            ("/base/", LinkSource::Form),
        ];
        for (path, source) in expected {
            assert!(
                found.contains(&(path.to_string(), source)),
                "{path} ({source:?}) not found in {found:?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:?}");
        assert_eq!(
            extracted.forms,
            vec![
                SiteForm {
                    action: "http://shop.test/login".into(),
                    method: "POST".into(),
                    fields: vec!["user".into(), "pass".into(), "go".into()],
                    has_password: true,
                },
                SiteForm {
                    action: "http://shop.test/base/".into(),
                    method: "GET".into(),
                    fields: vec!["q".into()],
                    has_password: false,
                },
            ]
        );
    }

    #[test]
    fn headers_css_scripts_robots_and_sitemaps_reference_urls() {
        let url = Url::parse("http://shop.test/").unwrap();
        let headers = vec![
            ("Location".into(), "/moved".into()),
            ("Content-Location".into(), "/content".into()),
            (
                "Link".into(),
                "</preload.js>; rel=preload, </next>; rel=next".into(),
            ),
            ("Refresh".into(), "0; url=/later".into()),
        ];
        let found = targets(&response(&url, &headers, b""));
        assert_eq!(
            found,
            vec![
                ("/moved".into(), LinkSource::Redirect),
                ("/content".into(), LinkSource::Redirect),
                ("/preload.js".into(), LinkSource::Redirect),
                ("/next".into(), LinkSource::Redirect),
                ("/later".into(), LinkSource::Redirect),
            ]
        );
        let robots_txt = "User-agent: *\nDisallow: /admin/ # hidden\nDisallow: /private*.php\nAllow: /\nDisallow:\nSitemap: http://shop.test/sm.xml\n";
        let robots_url = Url::parse("http://shop.test/robots.txt").unwrap();
        let plain = vec![("Content-Type".into(), "text/plain".into())];
        assert_eq!(
            targets(&response(&robots_url, &plain, robots_txt.as_bytes())),
            vec![
                ("/admin/".into(), LinkSource::Robots),
                ("/private".into(), LinkSource::Robots),
                ("/sm.xml".into(), LinkSource::Sitemap),
            ]
        );
        let sitemap_xml = "<?xml version=\"1.0\"?><urlset><url><loc> http://shop.test/a?x=1&amp;y=2 </loc></url>\
            <url><loc><![CDATA[http://shop.test/b]]></loc></url><url><loc>http://shop.test/c</url></urlset>";
        let xml = vec![("Content-Type".into(), "application/xml".into())];
        let extracted = response(&url, &xml, sitemap_xml.as_bytes());
        assert_eq!(
            extracted
                .links
                .iter()
                .map(|(url, _)| url.as_str())
                .collect::<Vec<_>>(),
            vec!["http://shop.test/a?x=1&y=2", "http://shop.test/b"]
        );
        let js = vec![("Content-Type".into(), "application/javascript".into())];
        let code = r#"const api = "/api/users"; const re = /x/; const u = 'https://shop.test/x.json'; const n = "//cdn.test/lib.js"; const t = "./rel/path"; const e = "unterminated"#;
        assert_eq!(
            targets(&response(&url, &js, code.as_bytes())),
            vec![
                ("/api/users".into(), LinkSource::Script),
                ("/x.json".into(), LinkSource::Script),
                ("/rel/path".into(), LinkSource::Script),
            ]
        );
    }

    #[test]
    fn scripts_are_read_by_their_syntax() {
        let url = Url::parse("http://shop.test/app/").unwrap();
        let js = vec![("Content-Type".into(), "application/javascript".into())];
        // A quote in a comment and one in a regular expression would throw a lexer of string
        // literals off; templates and joined strings name paths a literal alone does not.
        let code = r#"// don't stop reading here
            const quote = /'/g;
            fetch("/api/v2/orders");
            const item = `/api/items/${id}/detail`;
            const plain = `/api/plain`;
            const joined = "/api/" + "joined";
            const text = `Hello ${name}`;"#;
        assert_eq!(
            targets(&response(&url, &js, code.as_bytes())),
            vec![
                ("/api/v2/orders".into(), LinkSource::Script),
                ("/api/items/".into(), LinkSource::Script),
                ("/api/plain".into(), LinkSource::Script),
                ("/api/joined".into(), LinkSource::Script),
                ("/api/".into(), LinkSource::Script),
            ]
        );
    }

    #[test]
    fn broken_and_hostile_markup_never_fails() {
        let url = Url::parse("http://shop.test/").unwrap();
        let cases: Vec<Vec<u8>> = vec![
            b"<a href='/a'><a href=\"/b\"<<<>>><form action=/f><input name=x".to_vec(),
            vec![
                0xff, 0xfe, b'<', b'a', b' ', b'h', b'r', b'e', b'f', b'=', b'/', b'z', b'>',
            ],
            "<div>".repeat(100_000).into_bytes(),
            b"<title>".repeat(10_000),
        ];
        for body in cases {
            let extracted = response(&url, &html_headers(), &body);
            assert!(extracted.links.len() <= LINK_LIMIT);
            assert!(extracted.title.as_deref().unwrap_or_default().len() <= 2 * TITLE_LIMIT);
        }
        let js = vec![("Content-Type".into(), "application/javascript".into())];
        // As deep as the parser is given, in a test's debug build on a thread's default stack.
        let deepest = format!(
            "{}\"/deep/ok\"{}",
            "[{(".repeat(MAX_SCRIPT_NESTING / 3),
            ")}]".repeat(MAX_SCRIPT_NESTING / 3)
        );
        assert_eq!(
            targets(&response(&url, &js, deepest.as_bytes())),
            vec![("/deep/ok".into(), LinkSource::Script)]
        );
        // A script nested beyond any parser's stack is lexed instead, and still read.
        let deep = format!(
            "{}\"/deep/path\"{}",
            "(".repeat(200_000),
            ")".repeat(200_000)
        );
        assert_eq!(
            targets(&response(&url, &js, deep.as_bytes())),
            vec![("/deep/path".into(), LinkSource::Script)]
        );
        let first = response(&url, &html_headers(), b"<a href='/a'><a href=\"/b\"<<<>>>");
        assert!(targets(&first).contains(&("/a".into(), LinkSource::Html)));
    }
}
