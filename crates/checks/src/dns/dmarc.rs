//! DMARC records (RFC 7489 §6.3): recognising them among the TXT records at `_dmarc.<domain>`
//! and reading the tags the rules judge. Pure functions.

/// A DMARC policy (`p=` or `sp=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    fn parse(value: &str) -> Option<Policy> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }
}

/// A well-formed DMARC record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dmarc {
    /// `p=`: what receivers do with mail that fails DMARC.
    pub policy: Policy,
    /// `sp=`: the same for subdomains; `p=` applies when absent.
    pub subdomain_policy: Option<Policy>,
}

/// Whether a TXT record is a DMARC record: its first tag is `v=DMARC1` (spaces around the
/// `=` allowed; the tag name and value case-insensitively, as receivers read them).
pub fn is_dmarc(txt: &str) -> bool {
    let first = txt.split(';').next().unwrap_or_default();
    first.split_once('=').is_some_and(|(name, value)| {
        name.trim().eq_ignore_ascii_case("v") && value.trim().eq_ignore_ascii_case("DMARC1")
    })
}

/// The DMARC records among the TXT records at `_dmarc.<domain>`.
pub fn dmarc_records(txts: &[String]) -> Vec<&String> {
    txts.iter().filter(|txt| is_dmarc(txt)).collect()
}

/// Reads a DMARC record, or says why receivers would discard it: not a DMARC record, a tag
/// without `=`, or no valid `p=` (RFC 7489 §6.6.3: a record without a valid policy is
/// ignored, unless a valid `rua` makes receivers treat it as `p=none`; either way it does not
/// protect the domain).
pub fn parse(txt: &str) -> Result<Dmarc, String> {
    if !is_dmarc(txt) {
        return Err("the record does not start with v=DMARC1".into());
    }
    let mut policy = None;
    let mut subdomain_policy = None;
    for tag in txt.split(';').skip(1) {
        let tag = tag.trim();
        if tag.is_empty() {
            continue;
        }
        let Some((name, value)) = tag.split_once('=') else {
            return Err(format!("the tag {tag:?} has no value"));
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "p" => {
                policy = Some(Policy::parse(value).ok_or_else(|| {
                    format!("p={value} is not a policy (none, quarantine or reject)")
                })?);
            }
            "sp" => {
                subdomain_policy = Some(Policy::parse(value).ok_or_else(|| {
                    format!("sp={value} is not a policy (none, quarantine or reject)")
                })?);
            }
            _ => {}
        }
    }
    let policy = policy.ok_or_else(|| "the record has no p= tag".to_owned())?;
    Ok(Dmarc {
        policy,
        subdomain_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmarc_records_are_recognised_by_their_first_tag() {
        assert!(is_dmarc("v=DMARC1; p=reject"));
        assert!(is_dmarc("v = dmarc1 ;p=none"));
        assert!(!is_dmarc("p=reject; v=DMARC1"));
        assert!(!is_dmarc("v=spf1 -all"));
        assert!(!is_dmarc("v=DMARC2; p=reject"));
        let txts = vec!["v=DMARC1; p=none".to_owned(), "hello".to_owned()];
        assert_eq!(dmarc_records(&txts).len(), 1);
    }

    #[test]
    fn policies_are_read() {
        let record = parse("v=DMARC1; p=reject; rua=mailto:dmarc@example.com; pct=100").unwrap();
        assert_eq!(record.policy, Policy::Reject);
        assert_eq!(record.subdomain_policy, None);
        let record = parse("v=DMARC1;p=None;sp=quarantine;").unwrap();
        assert_eq!(record.policy, Policy::None);
        assert_eq!(record.subdomain_policy, Some(Policy::Quarantine));
        assert_eq!(
            parse("v=DMARC1; p=quarantine").unwrap().policy,
            Policy::Quarantine
        );
    }

    #[test]
    fn malformed_records_say_why() {
        assert_eq!(
            parse("v=DMARC1; rua=mailto:d@example.com").unwrap_err(),
            "the record has no p= tag"
        );
        assert_eq!(
            parse("v=DMARC1; p=block").unwrap_err(),
            "p=block is not a policy (none, quarantine or reject)"
        );
        assert_eq!(
            parse("v=DMARC1; p=reject; sp=maybe").unwrap_err(),
            "sp=maybe is not a policy (none, quarantine or reject)"
        );
        assert_eq!(
            parse("v=DMARC1; p reject").unwrap_err(),
            "the tag \"p reject\" has no value"
        );
        assert!(parse("v=spf1 -all").is_err());
    }
}
