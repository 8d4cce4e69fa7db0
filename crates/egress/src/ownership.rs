//! Proof that an asset is its owner's before it is scanned in earnest: a token published in a
//! file under `/.well-known/` or in a meta tag of the site's page. (The DNS TXT method lives
//! with the DNS client.)
//!
//! Redirects are followed, a few hops at most, because sites commonly move `http://` to
//! `https://` or to `www.`; every hop's address is approved by the egress policy and the
//! connection pinned to it, so a redirect cannot lead the verifier into internal networks.

use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::ReachError;
use crate::http::{self, Fetched, Pinned, Request};
use crate::policy::EgressPolicy;

/// Where the file method looks, from the site's root.
pub const WELL_KNOWN_PATH: &str = "/.well-known/s4e-verification.txt";
/// The `name` of the meta tag, and the prefix of the TXT record.
pub const TOKEN_NAME: &str = "s4e-verification";
const MAX_REDIRECTS: usize = 3;
/// A verification file or page is small; more is not read.
const BODY_LIMIT: usize = 256 * 1024;

/// What a method found: whether the token was there, and where it looked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub proven: bool,
    pub detail: String,
}

/// Looks for `token` alone on a line of `{site}/.well-known/s4e-verification.txt`.
pub async fn http_file(
    site: &str,
    token: &str,
    policy: &EgressPolicy,
    timeout: Duration,
) -> Result<Proof, ReachError> {
    let mut url = Url::parse(site)
        .map_err(|err| ReachError::InvalidTarget(format!("{site:?} is not a URL ({err})")))?;
    url.set_path(WELL_KNOWN_PATH);
    url.set_query(None);
    let (final_url, fetched) = get_following(url, policy, timeout).await?;
    if fetched.raw.status != 200 {
        return Ok(Proof {
            proven: false,
            detail: format!("{final_url} answered {}", fetched.raw.status),
        });
    }
    let body = String::from_utf8_lossy(&fetched.body);
    let proven = body.lines().any(|line| line.trim() == token);
    Ok(Proof {
        proven,
        detail: if proven {
            format!("the token is in {final_url}")
        } else {
            format!("{final_url} does not hold the token")
        },
    })
}

/// Looks for `<meta name="s4e-verification" content="TOKEN">` on the page at `site`.
pub async fn meta_tag(
    site: &str,
    token: &str,
    policy: &EgressPolicy,
    timeout: Duration,
) -> Result<Proof, ReachError> {
    let url = Url::parse(site)
        .map_err(|err| ReachError::InvalidTarget(format!("{site:?} is not a URL ({err})")))?;
    let (final_url, fetched) = get_following(url, policy, timeout).await?;
    let body = String::from_utf8_lossy(&fetched.body);
    let proven = meta_contents(&body, TOKEN_NAME)
        .iter()
        .any(|content| content == token);
    Ok(Proof {
        proven,
        detail: if proven {
            format!("the meta tag of {final_url} holds the token")
        } else {
            format!("{final_url} has no {TOKEN_NAME} meta tag with the token")
        },
    })
}

/// Whether a TXT record (its strings already joined) carries the token.
pub fn txt_proves(record: &str, token: &str) -> bool {
    record
        .trim()
        .strip_prefix(TOKEN_NAME)
        .and_then(|rest| rest.strip_prefix('='))
        .is_some_and(|value| value.trim() == token)
}

/// GETs `url`, following up to [`MAX_REDIRECTS`] redirects, each hop approved and pinned.
async fn get_following(
    mut url: Url,
    policy: &EgressPolicy,
    timeout: Duration,
) -> Result<(Url, Fetched), ReachError> {
    let deadline = Instant::now() + timeout;
    for _ in 0..=MAX_REDIRECTS {
        let (approved, addr) = http::approve(url.as_str(), policy, deadline, timeout).await?;
        let fetched = Pinned::new(&approved, addr)?
            .send(
                &approved,
                &Request::new(reqwest::Method::GET, BODY_LIMIT),
                deadline,
                timeout,
            )
            .await?;
        let location = fetched
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok());
        let redirect = (300..400).contains(&fetched.raw.status);
        match location.filter(|_| redirect) {
            Some(location) => {
                url = approved.join(location).map_err(|err| {
                    ReachError::InvalidTarget(format!("redirect to {location:?}: {err}"))
                })?;
            }
            None => return Ok((approved, fetched)),
        }
    }
    Err(ReachError::InvalidTarget(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

/// The `content` of every `<meta name="{name}" content="…">` in `html`, in any attribute
/// order, quoted either way, names compared without case.
fn meta_contents(html: &str, name: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(start) = lower[rest..].find("<meta") {
        let start = rest + start;
        let Some(end) = lower[start..].find('>') else {
            break;
        };
        let tag = &html[start..start + end];
        rest = start + end;
        let named = attribute(tag, "name").is_some_and(|value| value.eq_ignore_ascii_case(name));
        if let Some(content) = attribute(tag, "content").filter(|_| named) {
            found.push(content.trim().to_owned());
        }
    }
    found
}

/// The value of `attribute` in one tag's text.
fn attribute<'a>(tag: &'a str, attribute: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(attribute) {
        let at = from + found;
        from = at + attribute.len();
        // A whole attribute name: preceded by whitespace, followed by `=`.
        let before = lower[..at].chars().last();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let after = lower[from..].trim_start();
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let offset = tag.len() - value.len();
        let value = tag[offset..].trim_start();
        return match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].split(quote).next(),
            Some(_) => value.split(|c: char| c.is_whitespace() || c == '/').next(),
            None => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_tags_are_found_in_any_form() {
        let token = "0123abcd";
        for html in [
            r#"<head><meta name="s4e-verification" content="0123abcd"></head>"#,
            r#"<META CONTENT='0123abcd' NAME='S4E-Verification' />"#,
            "<meta\n  name=s4e-verification\n  content=0123abcd>",
        ] {
            assert_eq!(meta_contents(html, TOKEN_NAME), [token], "{html}");
        }
        for html in [
            r#"<meta name="description" content="0123abcd">"#,
            r#"<meta data-name="s4e-verification" content="0123abcd">"#,
            "<p>s4e-verification 0123abcd</p>",
        ] {
            assert!(meta_contents(html, TOKEN_NAME).is_empty(), "{html}");
        }
    }

    #[test]
    fn txt_records_carry_the_token_after_the_name() {
        assert!(txt_proves("s4e-verification=abc", "abc"));
        assert!(txt_proves(" s4e-verification= abc ", "abc"));
        assert!(!txt_proves("s4e-verification=abcd", "abc"));
        assert!(!txt_proves("v=spf1 -all", "abc"));
        assert!(!txt_proves("x-s4e-verification=abc", "abc"));
    }
}
