//! Findings exports: JSON, CSV (for spreadsheets) and SARIF 2.1.0 (for code-scanning tools).
//! Pure functions over findings; the handler fetches them and sets the headers.

use std::collections::BTreeMap;

use s4e_types::{Finding, FindingStatus, Severity};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Sarif,
}

impl Format {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "sarif" => Some(Format::Sarif),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Sarif => "application/sarif+json",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "s4e-findings.json",
            Format::Csv => "s4e-findings.csv",
            Format::Sarif => "s4e-findings.sarif",
        }
    }

    pub fn render(self, findings: &[Finding]) -> Vec<u8> {
        match self {
            Format::Json => serde_json::to_vec(findings).expect("findings serialize"),
            Format::Csv => csv(findings).into_bytes(),
            Format::Sarif => serde_json::to_vec(&sarif(findings)).expect("sarif serializes"),
        }
    }
}

const CSV_HEADER: [&str; 17] = [
    "id",
    "asset_id",
    "check",
    "rule",
    "title",
    "severity",
    "score",
    "cwe",
    "status",
    "status_reason",
    "location",
    "first_seen",
    "last_seen",
    "occurrences",
    "description",
    "remediation",
    "fingerprint",
];

/// One CSV cell. A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or
/// carriage return before one) as a formula, and titles and locations come from scanned sites:
/// such cells get a leading `'`, which makes them text. Then RFC 4180 quoting.
pub fn csv_cell(value: &str) -> String {
    let mut cell = String::with_capacity(value.len() + 3);
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.push('\'');
    }
    cell.push_str(value);
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// RFC 4180: a header line, CRLF line ends, every cell through [`csv_cell`].
pub fn csv(findings: &[Finding]) -> String {
    let mut out = String::new();
    push_row(&mut out, CSV_HEADER.iter().map(|name| name.to_string()));
    for finding in findings {
        push_row(
            &mut out,
            [
                finding.id.to_string(),
                finding.asset_id.to_string(),
                finding.check.as_str().to_string(),
                finding.rule.clone(),
                finding.title.clone(),
                finding.severity.as_str().to_string(),
                finding.score.to_string(),
                finding.cwe.map(|cwe| cwe.to_string()).unwrap_or_default(),
                finding.status.as_str().to_string(),
                finding.status_reason.clone().unwrap_or_default(),
                finding.location.clone(),
                finding.first_seen.to_rfc3339(),
                finding.last_seen.to_rfc3339(),
                finding.occurrences.to_string(),
                finding.description.clone(),
                finding.remediation.clone(),
                finding.fingerprint.clone(),
            ]
            .into_iter(),
        );
    }
    out
}

/// One CSV line of `cells`, each through [`csv_cell`].
pub fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    let row: Vec<String> = cells.map(|cell| csv_cell(&cell)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// SARIF's three levels: what must be fixed, what should, and what to know.
pub fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The rule id of a finding: its check and rule, unique across checks.
pub fn rule_id(finding: &Finding) -> String {
    format!("{}/{}", finding.check.as_str(), finding.rule)
}

/// One SARIF 2.1.0 log with one run. Rules come from the findings (one per check/rule, in id
/// order); a decision people made (accepted risk, false positive) is a suppression with its
/// reason, so code-scanning tools do not raise it again.
pub fn sarif(findings: &[Finding]) -> Value {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    for finding in findings {
        rules.entry(rule_id(finding)).or_insert_with(|| {
            let mut tags = vec![json!("security")];
            if let Some(cwe) = finding.cwe {
                tags.push(json!(format!("external/cwe/cwe-{cwe}")));
            }
            json!({
                "id": rule_id(finding),
                "name": finding.rule,
                "shortDescription": {"text": finding.title},
                "fullDescription": {"text": finding.description},
                "help": {"text": finding.remediation},
                "defaultConfiguration": {"level": sarif_level(finding.severity)},
                "properties": {
                    "tags": tags,
                    // GitHub code scanning reads the score as a string.
                    "security-severity": format!("{:.1}", finding.score),
                },
            })
        });
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(at, id)| (id.as_str(), at))
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let id = rule_id(finding);
            let mut result = json!({
                "ruleId": id,
                "ruleIndex": index[id.as_str()],
                "level": sarif_level(finding.severity),
                "message": {"text": finding.title},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": finding.location}},
                }],
                "partialFingerprints": {"s4eFingerprint/v1": finding.fingerprint},
                "properties": {
                    "findingId": finding.id,
                    "assetId": finding.asset_id,
                    "severity": finding.severity.as_str(),
                    "status": finding.status.as_str(),
                    "firstSeen": finding.first_seen,
                    "lastSeen": finding.last_seen,
                },
            });
            if matches!(
                finding.status,
                FindingStatus::AcceptedRisk | FindingStatus::FalsePositive
            ) {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": finding.status_reason.clone().unwrap_or_default(),
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "S4E",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use s4e_types::{AssetId, CheckKind, FindingId, OrgId, RunId};

    use super::*;

    fn finding(rule: &str, title: &str, severity: Severity) -> Finding {
        Finding {
            id: FindingId::new(),
            org_id: OrgId::new(),
            asset_id: AssetId::new(),
            last_run_id: RunId::new(),
            check: CheckKind::HttpHeaders,
            rule: rule.into(),
            location: "http://shop.test/a,b".into(),
            fingerprint: format!("print-{rule}"),
            title: title.into(),
            severity,
            score: 5.3,
            cwe: Some(693),
            description: "line one\nline two".into(),
            remediation: "send the header".into(),
            evidence: json!({}),
            raw_output_id: None,
            status: FindingStatus::Open,
            status_reason: None,
            status_changed_at: None,
            status_changed_by: None,
            occurrences: 1,
            first_seen: Utc::now(),
            last_seen: Utc::now(),
        }
    }

    /// A small RFC 4180 reader, to check that what is written reads back cell for cell.
    fn read_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => cell.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut cell)),
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => cell.push(c),
            }
        }
        rows
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(
                csv_cell(formula).trim_matches('"').starts_with('\''),
                "{formula:?}"
            );
        }
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://evil\",\"x\")"),
            "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""
        );
        // Only the start of a cell matters.
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    #[test]
    fn csv_reads_back_with_a_crafted_title_kept_as_text() {
        let crafted = "=cmd|' /C calc'!A0";
        let findings = [
            finding("missing_csp", crafted, Severity::Medium),
            finding("trace_enabled", "TRACE, \"enabled\"", Severity::Low),
        ];
        let text = csv(&findings);
        assert!(text.ends_with("\r\n"));
        let rows = read_csv(&text);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], CSV_HEADER);
        let title = CSV_HEADER.iter().position(|c| *c == "title").unwrap();
        assert_eq!(rows[1][title], format!("'{crafted}"));
        assert_eq!(rows[2][title], "TRACE, \"enabled\"");
        let location = CSV_HEADER.iter().position(|c| *c == "location").unwrap();
        assert_eq!(rows[1][location], "http://shop.test/a,b");
        let description = CSV_HEADER.iter().position(|c| *c == "description").unwrap();
        assert_eq!(rows[1][description], "line one\nline two");
        assert!(rows.iter().all(|row| row.len() == CSV_HEADER.len()));
    }

    #[test]
    fn sarif_has_one_rule_per_check_rule_and_one_result_per_finding() {
        let mut accepted = finding("missing_csp", "No CSP", Severity::High);
        accepted.status = FindingStatus::AcceptedRisk;
        accepted.status_reason = Some("internal tool".into());
        let findings = [
            finding("missing_csp", "No CSP", Severity::Critical),
            accepted,
            finding("trace_enabled", "TRACE", Severity::Medium),
            finding("server_version_disclosure", "Server", Severity::Info),
        ];
        let log = sarif(&findings);
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SARIF_SCHEMA);
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "S4E");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "http_headers/missing_csp",
                "http_headers/server_version_disclosure",
                "http_headers/trace_enabled"
            ]
        );
        assert_eq!(rules[0]["help"]["text"], "send the header");
        assert_eq!(rules[0]["properties"]["security-severity"], "5.3");
        assert_eq!(rules[0]["properties"]["tags"][1], "external/cwe/cwe-693");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), findings.len());
        let levels: Vec<&str> = results
            .iter()
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["error", "error", "warning", "note"]);
        for (result, finding) in results.iter().zip(&findings) {
            let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], result["ruleId"]);
            assert_eq!(
                result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                finding.location
            );
            assert_eq!(
                result["partialFingerprints"]["s4eFingerprint/v1"],
                finding.fingerprint
            );
        }
        assert_eq!(
            results[1]["suppressions"][0]["justification"],
            "internal tool"
        );
        assert!(results[0].get("suppressions").is_none());
    }

    #[test]
    fn formats_name_their_files_and_types() {
        assert_eq!(Format::parse("sarif"), Some(Format::Sarif));
        assert_eq!(Format::parse("xml"), None);
        assert_eq!(Format::Csv.file_name(), "s4e-findings.csv");
        let json: Value = serde_json::from_slice(&Format::Json.render(&[])).unwrap();
        assert_eq!(json, json!([]));
    }
}
