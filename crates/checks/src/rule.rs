//! The one rule descriptor every check builds its findings from.

use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::Value;

/// The fixed facts of a rule. A finding takes them and adds where it was found, what exactly
/// (its title may name the header, protocol or service), and the evidence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// The stable `rule` name findings carry and users filter by.
    pub id: &'static str,
    /// The rule's name in a list of rules; a finding's own title may be more precise.
    pub title: &'static str,
    pub severity: Severity,
    /// CVSS-like, 0.0 to 10.0.
    pub score: f32,
    pub cwe: Option<u32>,
    pub description: &'static str,
    pub remediation: &'static str,
}

impl Rule {
    /// A finding of this rule, titled by the rule itself.
    pub fn finding(&self, check: CheckKind, location: &str, evidence: Value) -> FindingDraft {
        self.titled(check, location, self.title, evidence)
    }

    /// A finding of this rule with a title of its own.
    pub fn titled(
        &self,
        check: CheckKind,
        location: &str,
        title: &str,
        evidence: Value,
    ) -> FindingDraft {
        FindingDraft {
            check,
            rule: self.id.to_owned(),
            location: location.to_owned(),
            title: title.to_owned(),
            severity: self.severity,
            score: self.score,
            cwe: self.cwe,
            description: self.description.to_owned(),
            remediation: self.remediation.to_owned(),
            evidence,
        }
    }
}

/// Evidence keeps at most this many characters of a value: enough to show the problem, and a
/// hostile server cannot make a report too large to store.
pub(crate) const EVIDENCE_VALUE_LIMIT: usize = 1024;

pub(crate) fn excerpt(value: &str) -> String {
    if value.chars().count() <= EVIDENCE_VALUE_LIMIT {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(EVIDENCE_VALUE_LIMIT).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_capped() {
        assert_eq!(excerpt("short"), "short");
        let cut = excerpt(&"é".repeat(5000));
        assert_eq!(cut.chars().count(), EVIDENCE_VALUE_LIMIT + 1);
        assert!(cut.ends_with('…'));
    }
}
