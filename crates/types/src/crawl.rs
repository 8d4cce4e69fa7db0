//! What a crawl records: each page it fetched (its site map), how each URL was found, the
//! forms on the pages, and the query of the site map's pages.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, RunId};

/// How a URL came into a crawl: where it was referenced first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkSource {
    /// The asset's own URL.
    Seed,
    /// `robots.txt`, or a path its rules name.
    Robots,
    /// A `<loc>` of a sitemap (or of a sitemap index).
    Sitemap,
    /// An HTML attribute: `a`, `area`, `link`, `iframe`, `img`/`srcset`, `object`, `embed`, …
    Html,
    /// A form's action (or a button's `formaction`).
    Form,
    /// A script's `src`, or a path in a script's text.
    Script,
    /// A CSS `url()` or `@import`.
    Css,
    /// A header: `Location`, `Content-Location`, `Link`, `Refresh`, or a meta refresh.
    Redirect,
    /// An operation of an OpenAPI or Swagger document the crawl read (GET, no parameters).
    Api,
    /// A name of the fuzzing wordlist that answered as something other than "not found".
    Fuzz,
    /// A request a page's scripts made, or a link in the document they built, when the page
    /// was rendered in a headless browser.
    Browser,
}

impl LinkSource {
    pub const ALL: [LinkSource; 11] = [
        LinkSource::Seed,
        LinkSource::Robots,
        LinkSource::Sitemap,
        LinkSource::Html,
        LinkSource::Form,
        LinkSource::Script,
        LinkSource::Css,
        LinkSource::Redirect,
        LinkSource::Api,
        LinkSource::Fuzz,
        LinkSource::Browser,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkSource::Seed => "seed",
            LinkSource::Robots => "robots",
            LinkSource::Sitemap => "sitemap",
            LinkSource::Html => "html",
            LinkSource::Form => "form",
            LinkSource::Script => "script",
            LinkSource::Css => "css",
            LinkSource::Redirect => "redirect",
            LinkSource::Api => "api",
            LinkSource::Fuzz => "fuzz",
            LinkSource::Browser => "browser",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == value)
    }
}

/// A form as a page declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteForm {
    /// Where it is sent: the action resolved against the page (the page itself when absent).
    pub action: String,
    /// `GET` or `POST` (upper case).
    pub method: String,
    /// The names of its fields, in document order.
    pub fields: Vec<String>,
    /// Whether one of its fields is a password.
    pub has_password: bool,
}

/// One URL a crawl fetched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SitePage {
    pub run_id: RunId,
    pub job_id: JobId,
    /// The URL as fetched, normalised (the crawl's key for it).
    pub url: String,
    /// Links followed from the start URL.
    pub depth: u32,
    pub found_by: LinkSource,
    /// The HTTP status; absent when the request failed (`error` says why).
    pub status: Option<u16>,
    pub error: Option<String>,
    pub content_type: Option<String>,
    /// Bytes of body read (at most the crawler's body limit).
    pub size: u64,
    pub title: Option<String>,
    /// How many in-scope URLs it references.
    pub links: u32,
    #[serde(default)]
    pub forms: Vec<SiteForm>,
    /// What the page is as an OpenAPI or Swagger document, when it is one (or claims to be).
    #[serde(default)]
    pub api_document: Option<SiteApiDocument>,
    /// It answered like its directory's "not found" (as the fuzzer's calibration there saw
    /// it), whatever its status says: a page that does not exist. Only directories the crawl
    /// fuzzed are judged.
    #[serde(default)]
    pub soft_404: bool,
    pub fetched_at: chrono::DateTime<chrono::Utc>,
}

/// An OpenAPI 3 or Swagger 2 document the crawl read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteApiDocument {
    /// `3.0.3`, `2.0`; absent when the document could not be read.
    pub version: Option<String>,
    /// Where its operations are served.
    pub base: Option<String>,
    /// Its operations (at most 500 kept).
    pub operations: Vec<SiteApiOperation>,
    /// Why it could not be read, for a document that claims to be one but is invalid.
    pub error: Option<String>,
}

/// One operation of an API document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteApiOperation {
    pub method: String,
    pub path: String,
    /// Whether it declares a security requirement that is not optional.
    pub secured: bool,
    /// The parameters it requires.
    pub required: Vec<String>,
}

/// Which pages of a crawl's site map to list: in URL order, `limit` (1–1000, default 200)
/// at a time after the previous page's `next_cursor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SitePageQuery {
    /// Only pages answered with this HTTP status.
    pub status: Option<u16>,
    /// Only pages found this way.
    pub found_by: Option<LinkSource>,
    /// `false`: the site's pages alone, without the soft-404s; `true`: the soft-404s alone.
    pub soft_404: Option<bool>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl SitePageQuery {
    pub const DEFAULT_LIMIT: u32 = 200;
    pub const MAX_LIMIT: u32 = 1000;

    /// The page size asked for, or why it is out of range.
    pub fn limit(&self) -> Result<u32, String> {
        match self.limit.unwrap_or(Self::DEFAULT_LIMIT) {
            limit @ 1..=Self::MAX_LIMIT => Ok(limit),
            _ => Err(format!("limit: must be 1-{}", Self::MAX_LIMIT)),
        }
    }

    /// The query as pairs, for an internal call.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(status) = self.status {
            pairs.push(("status", status.to_string()));
        }
        if let Some(found_by) = self.found_by {
            pairs.push(("found_by", found_by.as_str().into()));
        }
        if let Some(soft_404) = self.soft_404 {
            pairs.push(("soft_404", soft_404.to_string()));
        }
        if let Some(after) = &self.after {
            pairs.push(("after", after.clone()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }
}

/// One page of a crawl's site map, and the cursor of the next when there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SitePageList {
    pub items: Vec<SitePage>,
    pub next_cursor: Option<String>,
}
