//! Building findings for the checks that judge several requests (`http_probes`, `exposure`):
//! each rule's fixed facts, and evidence kept small.

use s4e_types::{CheckKind, FindingDraft, Severity};
use serde_json::Value;

/// The fixed facts of a rule; the title and the evidence vary with what was found.
pub(crate) struct Meta {
    pub rule: &'static str,
    pub severity: Severity,
    pub score: f32,
    pub cwe: u32,
    pub description: &'static str,
    pub remediation: &'static str,
}

impl Meta {
    pub fn finding(
        &self,
        check: CheckKind,
        location: &str,
        title: &str,
        evidence: Value,
    ) -> FindingDraft {
        FindingDraft {
            check,
            rule: self.rule.to_owned(),
            location: location.to_owned(),
            title: title.to_owned(),
            severity: self.severity,
            score: self.score,
            cwe: Some(self.cwe),
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
