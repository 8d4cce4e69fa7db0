//! Findings exports: JSON, CSV (for spreadsheets) and SARIF 2.1.0 (for code-scanning tools),
//! written a page of findings at a time so that an export of any size holds one page in
//! memory. Pure functions over findings; the handler fetches the pages and sets the headers.

use std::collections::HashMap;

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
}

/// Writes one export: [`start`](Self::start), then [`page`](Self::page) for each page of
/// findings in order, then [`finish`](Self::finish); the pieces joined are the file.
///
/// SARIF numbers its rules and each result names its rule's index, so the rules can only be
/// complete after the last result: a SARIF log is written with its results before its tool
/// (JSON objects are unordered), and the rules are numbered in the order they are first met.
pub struct ExportWriter {
    format: Format,
    written: usize,
    rule_index: HashMap<String, usize>,
    rules: Vec<Value>,
}

impl ExportWriter {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            written: 0,
            rule_index: HashMap::new(),
            rules: Vec::new(),
        }
    }

    pub fn start(&self) -> Vec<u8> {
        match self.format {
            Format::Json => b"[".to_vec(),
            Format::Csv => {
                let mut out = String::new();
                push_row(&mut out, CSV_HEADER.iter().map(|name| name.to_string()));
                out.into_bytes()
            }
            Format::Sarif => format!(
                r#"{{"$schema":{},"version":"2.1.0","runs":[{{"results":["#,
                json!(SARIF_SCHEMA)
            )
            .into_bytes(),
        }
    }

    pub fn page(&mut self, findings: &[Finding]) -> Vec<u8> {
        let mut out = Vec::new();
        for finding in findings {
            match self.format {
                Format::Json => {
                    if self.written > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut out, finding).expect("findings serialize");
                }
                Format::Csv => {
                    let mut row = String::new();
                    push_row(&mut row, csv_cells(finding));
                    out.extend_from_slice(row.as_bytes());
                }
                Format::Sarif => {
                    if self.written > 0 {
                        out.push(b',');
                    }
                    let result = self.sarif_result(finding);
                    serde_json::to_writer(&mut out, &result).expect("sarif serializes");
                }
            }
            self.written += 1;
        }
        out
    }

    pub fn finish(&mut self) -> Vec<u8> {
        match self.format {
            Format::Json => b"]".to_vec(),
            Format::Csv => Vec::new(),
            Format::Sarif => {
                let tool = json!({"driver": {
                    "name": "S4E",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": std::mem::take(&mut self.rules),
                }});
                format!(r#"],"tool":{tool}}}]}}"#).into_bytes()
            }
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// How many findings the pages held.
    pub fn written(&self) -> usize {
        self.written
    }

    /// A finding as a SARIF result; a decision people made (accepted risk, false positive) is a
    /// suppression with its reason, so code-scanning tools do not raise it again.
    fn sarif_result(&mut self, finding: &Finding) -> Value {
        let id = rule_id(finding);
        let index = match self.rule_index.get(&id) {
            Some(index) => *index,
            None => {
                self.rules.push(sarif_rule(finding));
                self.rule_index.insert(id.clone(), self.rules.len() - 1);
                self.rules.len() - 1
            }
        };
        let mut result = json!({
            "ruleId": id,
            "ruleIndex": index,
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

/// A finding's cells, in [`CSV_HEADER`]'s order.
fn csv_cells(finding: &Finding) -> impl Iterator<Item = String> {
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
    .into_iter()
}

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

/// One CSV line of `cells` (RFC 4180: CRLF line ends), each through [`csv_cell`].
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

/// The SARIF rule of a finding's check and rule, described by the first finding met.
fn sarif_rule(finding: &Finding) -> Value {
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

    /// The whole file of an export of `pages`.
    fn export(format: Format, pages: &[&[Finding]]) -> Vec<u8> {
        let mut writer = ExportWriter::new(format);
        let mut out = writer.start();
        for page in pages {
            out.extend(writer.page(page));
        }
        out.extend(writer.finish());
        out
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
        let text = String::from_utf8(export(Format::Csv, &[&findings])).unwrap();
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
        let log: Value = serde_json::from_slice(&export(Format::Sarif, &[&findings])).unwrap();
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SARIF_SCHEMA);
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "S4E");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        // Numbered as first met.
        assert_eq!(
            ids,
            [
                "http_headers/missing_csp",
                "http_headers/trace_enabled",
                "http_headers/server_version_disclosure",
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
    }

    #[test]
    fn an_export_written_in_pages_is_the_export_written_at_once() {
        let findings = [
            finding("missing_csp", "No CSP", Severity::Critical),
            finding("trace_enabled", "TRACE", Severity::Medium),
            finding("missing_csp", "No CSP", Severity::High),
            finding("server_version_disclosure", "Server", Severity::Info),
            finding("trace_enabled", "TRACE", Severity::Low),
        ];
        for format in [Format::Json, Format::Csv, Format::Sarif] {
            let whole = export(format, &[&findings]);
            let paged = export(
                format,
                &[&findings[..2], &[], &findings[2..3], &findings[3..]],
            );
            assert_eq!(paged, whole, "{format:?}");
        }
        let json: Vec<Value> = serde_json::from_slice(&export(Format::Json, &[&findings])).unwrap();
        assert_eq!(json.len(), findings.len());
        assert_eq!(json[2]["rule"], "missing_csp");
        let sarif: Value = serde_json::from_slice(&export(Format::Sarif, &[&findings])).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), findings.len());
        assert_eq!(results[2]["ruleIndex"], 0);
        assert_eq!(results[4]["ruleIndex"], 1);
        assert_eq!(
            sarif["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn an_empty_export_is_a_valid_file() {
        let json: Value = serde_json::from_slice(&export(Format::Json, &[])).unwrap();
        assert_eq!(json, json!([]));
        let sarif: Value = serde_json::from_slice(&export(Format::Sarif, &[&[]])).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"], json!([]));
        assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"], json!([]));
        let csv = String::from_utf8(export(Format::Csv, &[])).unwrap();
        assert_eq!(read_csv(&csv), [CSV_HEADER]);
    }
}
