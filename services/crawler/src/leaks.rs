//! Personal data and secrets a page gives away, in the order of Presidio's design: a
//! candidate is found by its shape, kept only if its checksum holds (payment cards by Luhn,
//! IBANs by ISO 7064 mod 97, Turkish identity numbers by their two check digits), and its
//! confidence raised by context words near it. Numbers that only look like identifiers (an
//! 11-digit order number, a 16-digit tracking id) fail the checksum or lack the context, so
//! ordinary pages report nothing. Evidence is masked before it leaves this module: a finding
//! shows the kind and enough of the value to recognise it, never the value.
//!
//! Our own rules, written for these kinds: the token shapes of secrets are those their issuers
//! document (AWS `AKIA…`, GitHub `ghp_…`, Slack `xox…`, Google `AIza…`, Stripe `sk_live_…`,
//! JWTs, PEM private keys).

use serde::{Deserialize, Serialize};

/// What a leak is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakKind {
    Email,
    Phone,
    PaymentCard,
    Iban,
    TurkishIdentityNumber,
    PrivateKey,
    AwsAccessKey,
    GithubToken,
    SlackToken,
    GoogleApiKey,
    StripeSecretKey,
    Jwt,
}

impl LeakKind {
    /// Whether it is a credential (a secret) rather than personal data.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            LeakKind::PrivateKey
                | LeakKind::AwsAccessKey
                | LeakKind::GithubToken
                | LeakKind::SlackToken
                | LeakKind::GoogleApiKey
                | LeakKind::StripeSecretKey
                | LeakKind::Jwt
        )
    }
}

/// One thing found, masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leak {
    pub kind: LeakKind,
    /// The value with all but a few characters replaced by `*`.
    pub masked: String,
    /// Context words near it made it more certain.
    pub in_context: bool,
}

/// The most leaks reported from one page.
const PAGE_LIMIT: usize = 20;
/// How far before a candidate context words are looked for (bytes).
const CONTEXT_WINDOW: usize = 64;

const CARD_CONTEXT: &[&str] = &["card", "credit", "visa", "mastercard", "amex", "kart", "cc"];
const IBAN_CONTEXT: &[&str] = &["iban", "account", "hesap", "bank"];
const TCKN_CONTEXT: &[&str] = &["kimlik", "tckn", "tc no", "t.c.", "identity", "tc kimlik"];
const PHONE_CONTEXT: &[&str] = &["tel", "phone", "mobile", "gsm", "fax", "call"];

/// Adds a leak of `kind` unless the same masked value is there or the page's limit is reached.
fn push(kind: LeakKind, value: &str, in_context: bool, leaks: &mut Vec<Leak>) {
    let masked = mask(value);
    if leaks.len() < PAGE_LIMIT
        && !leaks
            .iter()
            .any(|leak| leak.kind == kind && leak.masked == masked)
    {
        leaks.push(Leak {
            kind,
            masked,
            in_context,
        });
    }
}

/// Everything `text` gives away, each value once, at most [`PAGE_LIMIT`].
pub fn scan(text: &str) -> Vec<Leak> {
    let mut leaks: Vec<Leak> = Vec::new();
    let lower = text.to_ascii_lowercase();
    let context = |at: usize, words: &[&str]| {
        let from = floor_boundary(&lower, at.saturating_sub(CONTEXT_WINDOW));
        let window = &lower[from..at];
        words.iter().any(|word| window.contains(word))
    };
    if let Some(at) = text.find("-----BEGIN ")
        && let Some(end) = text[at..]
            .find("-----\n")
            .or_else(|| text[at..].find("-----\r"))
        && text[at..at + end].ends_with("PRIVATE KEY")
    {
        push(
            LeakKind::PrivateKey,
            &text[at..at + end + 5],
            true,
            &mut leaks,
        );
    }
    for (at, token) in tokens(text) {
        if let Some(kind) = secret_kind(token) {
            push(kind, token, true, &mut leaks);
        } else if is_email(token) {
            push(LeakKind::Email, token, true, &mut leaks);
        } else if let Some(iban) = iban(token)
            && context(at, IBAN_CONTEXT)
        {
            push(LeakKind::Iban, &iban, true, &mut leaks);
        }
    }
    for (at, digits, raw) in digit_runs(text) {
        if is_card(&digits) {
            push(
                LeakKind::PaymentCard,
                &digits,
                context(at, CARD_CONTEXT),
                &mut leaks,
            );
        } else if digits.len() == 11 && is_tckn(&digits) && context(at, TCKN_CONTEXT) {
            push(LeakKind::TurkishIdentityNumber, &digits, true, &mut leaks);
        } else if (8..=15).contains(&digits.len())
            && raw.starts_with('+')
            && context(at, PHONE_CONTEXT)
        {
            push(LeakKind::Phone, raw, true, &mut leaks);
        }
    }
    leaks
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Runs of characters that can make up an address, a key or a token, with where each starts.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_part =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '-' | '+' | '/' | '=');
    let mut start = None;
    let mut found = Vec::new();
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_part(c), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                let token = text[from..at].trim_end_matches(['.', '-', '/']);
                if token.len() >= 6 {
                    found.push((from, token));
                }
                start = None;
            }
            _ => {}
        }
    }
    found.into_iter()
}

/// Digit runs with single spaces or dashes between groups (`4111 1111-1111 1111`), and an
/// optional leading `+`: where each starts, its digits, and the run as written.
fn digit_runs(text: &str) -> Vec<(usize, String, &str)> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let plus = bytes[at] == b'+' && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
        if !(bytes[at].is_ascii_digit() || plus)
            || (at > 0 && bytes[at - 1].is_ascii_alphanumeric())
        {
            at += 1;
            continue;
        }
        let start = at;
        let mut digits = String::new();
        let mut end = at + usize::from(plus);
        while end < bytes.len() {
            let byte = bytes[end];
            if byte.is_ascii_digit() {
                digits.push(char::from(byte));
                end += 1;
            } else if matches!(byte, b' ' | b'-')
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
                && bytes
                    .get(end.wrapping_sub(1))
                    .is_some_and(u8::is_ascii_digit)
            {
                end += 1;
            } else {
                break;
            }
        }
        let attached = bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric());
        if !attached && digits.len() >= 8 {
            runs.push((start, digits, &text[start..end]));
        }
        at = end.max(at + 1);
    }
    runs
}

fn secret_kind(token: &str) -> Option<LeakKind> {
    let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    let upper_alnum = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    let url_safe = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if token.len() == 20
        && (token.starts_with("AKIA") || token.starts_with("ASIA"))
        && upper_alnum(token)
    {
        return Some(LeakKind::AwsAccessKey);
    }
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        if let Some(rest) = token.strip_prefix(prefix)
            && rest.len() == 36
            && alnum(rest)
        {
            return Some(LeakKind::GithubToken);
        }
    }
    if let Some(rest) = token.strip_prefix("github_pat_")
        && rest.len() >= 60
        && url_safe(rest)
    {
        return Some(LeakKind::GithubToken);
    }
    if ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"]
        .iter()
        .any(|prefix| token.starts_with(prefix))
        && token.len() >= 24
        && token[5..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Some(LeakKind::SlackToken);
    }
    if let Some(rest) = token.strip_prefix("AIza")
        && rest.len() == 35
        && url_safe(rest)
    {
        return Some(LeakKind::GoogleApiKey);
    }
    if let Some(rest) = token
        .strip_prefix("sk_live_")
        .or_else(|| token.strip_prefix("rk_live_"))
        && rest.len() >= 24
        && alnum(rest)
    {
        return Some(LeakKind::StripeSecretKey);
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts[2].len() >= 16
        && parts.iter().all(|part| url_safe(part))
    {
        return Some(LeakKind::Jwt);
    }
    None
}

/// File names that look like addresses (`logo@2x.png`) end in a file extension, not a domain.
const NOT_TOP_LEVEL_DOMAINS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico", "woff", "woff2",
];

fn is_email(token: &str) -> bool {
    let Some((local, domain)) = token.split_once('@') else {
        return false;
    };
    let Some((_, top)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && !domain.contains("..")
        && (2..=24).contains(&top.len())
        && top.bytes().all(|b| b.is_ascii_alphabetic())
        && !NOT_TOP_LEVEL_DOMAINS.contains(&top.to_ascii_lowercase().as_str())
}

/// Issuer prefixes of the card networks: Visa, Mastercard, American Express, Discover, JCB.
fn card_network(digits: &str) -> bool {
    let prefix = |n: usize| digits[..n].parse::<u32>().unwrap_or(0);
    match digits.len() {
        15 => matches!(prefix(2), 34 | 37),
        13..=19 => {
            digits.starts_with('4')
                || (51..=55).contains(&prefix(2))
                || (2221..=2720).contains(&prefix(4))
                || prefix(4) == 6011
                || prefix(2) == 65
                || (3528..=3589).contains(&prefix(4))
        }
        _ => false,
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(index, byte)| {
            let digit = u32::from(byte - b'0');
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_card(digits: &str) -> bool {
    (13..=19).contains(&digits.len())
        && card_network(digits)
        && luhn(digits)
        // 4111… repeated test patterns are real Luhn numbers but a whole run of one digit is not.
        && !digits.bytes().all(|b| b == digits.as_bytes()[0])
}

/// The IBAN lengths of the countries we know (a country not listed is not judged).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AT", 20),
    ("BE", 16),
    ("CH", 21),
    ("DE", 22),
    ("DK", 18),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("IE", 22),
    ("IT", 27),
    ("LU", 20),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("SE", 24),
    ("TR", 26),
];

/// An IBAN written as one token (its compact form), checked by its length and mod 97.
fn iban(token: &str) -> Option<String> {
    let compact = token.to_ascii_uppercase();
    let country = compact.get(..2)?;
    let (_, length) = IBAN_LENGTHS.iter().find(|(code, _)| *code == country)?;
    if compact.len() != *length
        || !compact[2..4].bytes().all(|b| b.is_ascii_digit())
        || !compact.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u32 = 0;
    for byte in rearranged.bytes() {
        let value = if byte.is_ascii_digit() {
            u32::from(byte - b'0')
        } else {
            u32::from(byte - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    (remainder == 1).then_some(compact)
}

/// The Turkish identity number's rules: 11 digits, not starting with 0, the tenth digit from
/// the odd and even sums, the eleventh the sum of the first ten.
fn is_tckn(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let odd = d[0] + d[2] + d[4] + d[6] + d[8];
    let even = d[1] + d[3] + d[5] + d[7];
    let tenth = (odd * 7 + 10 * 10 - even) % 10;
    let eleventh = d[..10].iter().sum::<u32>() % 10;
    d[9] == tenth && d[10] == eleventh
}

/// All but the first two and last two characters (one of each for short values) masked; an
/// e-mail keeps its domain, a key its first line.
fn mask(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        return format!("{}@{domain}", mask(local));
    }
    if value.starts_with("-----BEGIN ") {
        return value.to_string();
    }
    let chars: Vec<char> = value.chars().collect();
    let keep = if chars.len() >= 12 { 4 } else { 1 };
    chars
        .iter()
        .enumerate()
        .map(|(index, c)| {
            if index < keep || index + keep >= chars.len() || !c.is_ascii_alphanumeric() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(LeakKind, String)> {
        scan(text)
            .into_iter()
            .map(|leak| (leak.kind, leak.masked))
            .collect()
    }

    #[test]
    fn planted_personal_data_and_secrets_are_found_masked() {
        let page = "Contact jane.doe@example.com or call tel: +90 532 123 45 67.\n\
            Card on file: 4539 1488 0343 6467. IBAN: TR330006100519786457841326.\n\
            T.C. Kimlik No: 10000000146\n\
            aws_key = AKIAIOSFODNN7EXAMPLE; token ghp_0123456789abcdefghijABCDEFGHIJ012345\n\
            jwt: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n\
            -----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----\n";
        let found = kinds(page);
        let expected = vec![
            (LeakKind::PrivateKey, "-----BEGIN RSA PRIVATE KEY-----"),
            (LeakKind::Email, "j***.**e@example.com"),
            (LeakKind::Iban, "TR33******************1326"),
            (LeakKind::AwsAccessKey, "AKIA************MPLE"),
            (
                LeakKind::GithubToken,
                "ghp_********************************2345",
            ),
            (
                LeakKind::Jwt,
                "eyJh****************.***************************.**********************_****************sR8U",
            ),
            (LeakKind::Phone, "+90 *** *** *5 67"),
            (LeakKind::PaymentCard, "4539********6467"),
            (LeakKind::TurkishIdentityNumber, "1*********6"),
        ];
        let expected: Vec<(LeakKind, String)> = expected
            .into_iter()
            .map(|(kind, masked)| (kind, masked.to_string()))
            .collect();
        for leak in &expected {
            assert!(found.contains(leak), "{leak:?} not in {found:?}");
        }
        assert_eq!(found.len(), expected.len(), "{found:?}");
        // Nothing of the values themselves but what the mask keeps.
        let all = format!("{found:?}");
        assert!(!all.contains("4539 1488 0343 6467") && !all.contains("IOSFODNN7"));
    }

    #[test]
    fn look_alikes_fail_their_checksums_or_lack_context() {
        let page = "Order 4539 1488 0343 6468 shipped (tracking 1234567890123456).\n\
            Build 10000000146 of 2024-01-31; account TR330006100519786457841327.\n\
            <img src=\"logo@2x.png\"> phone 555 0100, +1 (ext. 12345678)\n\
            T.C. Kimlik No: 10000000147; kart 0000 0000 0000 0000; id 4444444444444444\n\
            AKIAlowercase0000000 eyJhbGciOiJIUzI1NiJ9 sk_test_abcdefghijklmnopqrstuvwx";
        assert_eq!(kinds(page), vec![]);
    }

    #[test]
    fn checksums_are_the_published_ones() {
        assert!(luhn("79927398713") && !luhn("79927398710"));
        assert!(is_card("378282246310005") && is_card("5555555555554444"));
        assert!(!is_card("1234567812345670"), "no network starts with 1");
        assert!(iban("GB82WEST12345698765432").is_some());
        assert!(iban("DE89370400440532013000").is_some());
        assert!(iban("GB82WEST12345698765431").is_none());
        assert!(is_tckn("10000000146") && !is_tckn("10000000147") && !is_tckn("00000000000"));
        assert!(is_email("a.b+c@mail.example.org") && !is_email("user@localhost"));
    }

    #[test]
    fn huge_and_binary_text_is_scanned_in_bounds() {
        let noise = "\u{fffd}9".repeat(200_000) + &" 4539148803436467,".repeat(100);
        let found = scan(&noise);
        assert!(found.len() <= PAGE_LIMIT);
        assert_eq!(found.len(), 1, "one card, once: {found:?}");
    }
}
