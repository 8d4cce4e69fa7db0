//! SPF records (RFC 7208): recognising them among a name's TXT records and reading their terms.
//! Pure functions; the lookups of included records happen in the check.

/// A mechanism's or modifier's name, lowercase, and its value as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// e.g. `-all`, `include:_spf.example.com`, `ip4:192.0.2.0/24`, `a`, `mx/24`.
    Mechanism {
        /// `+` (also when none is written), `-`, `~` or `?`.
        qualifier: char,
        name: String,
        value: Option<String>,
    },
    /// e.g. `redirect=_spf.example.com`, `exp=explain.example.com`.
    Modifier { name: String, value: String },
}

/// The mechanisms that make the receiver query DNS, counted against the limit of ten
/// (RFC 7208 §4.6.4); the `redirect` modifier counts too.
const LOOKUP_MECHANISMS: &[&str] = &["include", "a", "mx", "ptr", "exists"];

/// At most this many DNS-querying terms are allowed while evaluating a record.
pub const LOOKUP_LIMIT: usize = 10;

/// A parsed SPF record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spf {
    pub terms: Vec<Term>,
}

/// Whether a TXT record is an SPF record: `v=spf1` alone or followed by a space
/// (case-insensitively; `v=spf10` is not one).
pub fn is_spf(txt: &str) -> bool {
    let txt = txt.trim_start();
    txt.get(..6)
        .is_some_and(|version| version.eq_ignore_ascii_case("v=spf1"))
        && txt[6..].chars().next().is_none_or(|next| next == ' ')
}

/// The SPF records among a name's TXT records.
pub fn spf_records(txts: &[String]) -> Vec<&String> {
    txts.iter().filter(|txt| is_spf(txt)).collect()
}

/// Reads an SPF record's terms; `None` when `txt` is not an SPF record. Unknown terms are
/// kept as written; the rules only look at the ones they know.
pub fn parse(txt: &str) -> Option<Spf> {
    if !is_spf(txt) {
        return None;
    }
    let terms = txt.trim_start()[6..]
        .split_ascii_whitespace()
        .map(parse_term)
        .collect();
    Some(Spf { terms })
}

fn parse_term(term: &str) -> Term {
    // A modifier is `name=value` where the name is letters, digits, `-`, `_`, `.`; a `=`
    // after a `:` or `/` belongs to a mechanism's value (macros may contain one).
    let modifier = term
        .split_once('=')
        .filter(|(name, _)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(|(name, value)| Term::Modifier {
            name: name.to_ascii_lowercase(),
            value: value.to_owned(),
        });
    if let Some(modifier) = modifier {
        return modifier;
    }
    let (qualifier, rest) = match term.chars().next() {
        Some(q @ ('+' | '-' | '~' | '?')) => (q, &term[1..]),
        _ => ('+', term),
    };
    // The value follows a `:` (`include:x`) or, for a and mx, may be just a CIDR (`a/24`).
    let split = rest.find([':', '/']);
    let (name, value) = match split {
        Some(at) if rest[at..].starts_with(':') => (&rest[..at], Some(rest[at + 1..].to_owned())),
        Some(at) => (&rest[..at], Some(rest[at..].to_owned())),
        None => (rest, None),
    };
    Term::Mechanism {
        qualifier,
        name: name.to_ascii_lowercase(),
        value,
    }
}

impl Spf {
    /// The qualifier of the `all` mechanism, if the record has one.
    pub fn all(&self) -> Option<char> {
        self.terms.iter().find_map(|term| match term {
            Term::Mechanism {
                qualifier, name, ..
            } if name == "all" => Some(*qualifier),
            _ => None,
        })
    }

    /// The domain of the `redirect` modifier.
    pub fn redirect(&self) -> Option<&str> {
        self.modifier("redirect")
    }

    fn modifier(&self, wanted: &str) -> Option<&str> {
        self.terms.iter().find_map(|term| match term {
            Term::Modifier { name, value } if name == wanted => Some(value.as_str()),
            _ => None,
        })
    }

    /// The domains of the `include` mechanisms, in order.
    pub fn includes(&self) -> Vec<&str> {
        self.terms
            .iter()
            .filter_map(|term| match term {
                Term::Mechanism {
                    name,
                    value: Some(value),
                    ..
                } if name == "include" => Some(value.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The terms of this record that make a receiver query DNS: include, a, mx, ptr, exists
    /// and the redirect modifier, each counted once as written.
    pub fn lookup_terms(&self) -> usize {
        self.terms
            .iter()
            .filter(|term| match term {
                Term::Mechanism { name, .. } => LOOKUP_MECHANISMS.contains(&name.as_str()),
                Term::Modifier { name, .. } => name == "redirect",
            })
            .count()
    }

    /// Whether the record lets any host send: `+all` or `?all` (neutral is no protection),
    /// or no `all` and no `redirect`, which ends in the neutral default.
    pub fn is_permissive(&self) -> bool {
        match self.all() {
            Some(qualifier) => matches!(qualifier, '+' | '?'),
            None => self.redirect().is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spf(txt: &str) -> Spf {
        parse(txt).unwrap_or_else(|| panic!("not SPF: {txt}"))
    }

    #[test]
    fn spf_records_are_recognised_by_their_version() {
        assert!(is_spf("v=spf1 -all"));
        assert!(is_spf("V=SPF1 -all"));
        assert!(is_spf("v=spf1"));
        assert!(is_spf("  v=spf1 mx -all"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("v=spf2.0/pra -all"));
        assert!(!is_spf("google-site-verification=abc"));
        assert!(!is_spf(""));
        let txts = vec![
            "v=spf1 -all".to_owned(),
            "v=DMARC1; p=none".to_owned(),
            "v=spf1 mx ~all".to_owned(),
        ];
        assert_eq!(spf_records(&txts).len(), 2);
    }

    #[test]
    fn terms_are_read_with_their_qualifiers() {
        let record = spf(
            "v=spf1 ip4:192.0.2.0/24 a/24 mx:mail.example.com include:_spf.google.com \
             ~all exp=explain.example.com",
        );
        assert_eq!(
            record.terms,
            vec![
                Term::Mechanism {
                    qualifier: '+',
                    name: "ip4".into(),
                    value: Some("192.0.2.0/24".into())
                },
                Term::Mechanism {
                    qualifier: '+',
                    name: "a".into(),
                    value: Some("/24".into())
                },
                Term::Mechanism {
                    qualifier: '+',
                    name: "mx".into(),
                    value: Some("mail.example.com".into())
                },
                Term::Mechanism {
                    qualifier: '+',
                    name: "include".into(),
                    value: Some("_spf.google.com".into())
                },
                Term::Mechanism {
                    qualifier: '~',
                    name: "all".into(),
                    value: None
                },
                Term::Modifier {
                    name: "exp".into(),
                    value: "explain.example.com".into()
                },
            ]
        );
        assert_eq!(record.all(), Some('~'));
        assert_eq!(record.includes(), ["_spf.google.com"]);
        assert_eq!(record.lookup_terms(), 3);
        assert!(!record.is_permissive());
    }

    #[test]
    fn permissive_records_let_anyone_send() {
        assert!(spf("v=spf1 +all").is_permissive());
        assert!(spf("v=spf1 mx all").is_permissive());
        assert!(spf("v=spf1 include:_spf.example.com ?all").is_permissive());
        // No `all` and nowhere to go: the result for everyone else is neutral.
        assert!(spf("v=spf1 mx").is_permissive());
        assert!(spf("v=spf1").is_permissive());
        assert!(!spf("v=spf1 -all").is_permissive());
        assert!(!spf("v=spf1 mx ~all").is_permissive());
        assert!(!spf("v=spf1 redirect=_spf.example.com").is_permissive());
        assert_eq!(
            spf("v=spf1 redirect=_spf.example.com").redirect(),
            Some("_spf.example.com")
        );
    }

    #[test]
    fn lookups_count_include_a_mx_ptr_exists_and_redirect() {
        let record = spf(
            "v=spf1 a mx ptr exists:%{i}.spf.example.com include:a.example \
             include:b.example ip4:192.0.2.1 ip6:2001:db8::/32 redirect=c.example",
        );
        assert_eq!(record.lookup_terms(), 7);
        assert_eq!(record.includes(), ["a.example", "b.example"]);
        assert_eq!(spf("v=spf1 ip4:192.0.2.1 -all").lookup_terms(), 0);
        let many = format!("v=spf1 {} -all", "include:x.example ".repeat(11));
        assert_eq!(spf(&many).lookup_terms(), 11);
    }
}
