//! Listing findings: the filters, the order, and the keyset cursor of a page. Parsed from query
//! pairs (the gateway and base accept the same parameters), so repeated parameters and comma
//! lists both work.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::finding::{Finding, FindingStatus, Severity};
use crate::ids::{AssetId, RunId};
use crate::scan::CheckKind;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum FindingSort {
    /// Most severe first, then most recently seen.
    #[default]
    Severity,
    LastSeen,
    FirstSeen,
}

impl FindingSort {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingSort::Severity => "severity",
            FindingSort::LastSeen => "last_seen",
            FindingSort::FirstSeen => "first_seen",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            FindingSort::Severity,
            FindingSort::LastSeen,
            FindingSort::FirstSeen,
        ]
        .into_iter()
        .find(|sort| sort.as_str() == value)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Desc,
    Asc,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Desc => "desc",
            SortOrder::Asc => "asc",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "desc" => Some(SortOrder::Desc),
            "asc" => Some(SortOrder::Asc),
            _ => None,
        }
    }
}

/// The order position of a severity (info 0 … critical 4), as the database stores it.
pub fn severity_rank(severity: Severity) -> i16 {
    match severity {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// Where a page ended: the sort key of its last finding and that finding's id, which breaks
/// ties (many findings share a `last_seen`: one report stores them in one transaction). It
/// names the sort it belongs to, so a cursor cannot be replayed under another order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindingCursor {
    pub sort: FindingSort,
    pub order: SortOrder,
    /// Only for the severity sort.
    pub severity_rank: Option<i16>,
    /// `last_seen` or `first_seen`, to the microsecond (the database's precision).
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

const CURSOR_VERSION: &str = "f1";

impl FindingCursor {
    /// The cursor after `finding` in this order.
    pub fn after(finding: &Finding, sort: FindingSort, order: SortOrder) -> Self {
        let (severity_rank, at) = match sort {
            FindingSort::Severity => (Some(severity_rank(finding.severity)), finding.last_seen),
            FindingSort::LastSeen => (None, finding.last_seen),
            FindingSort::FirstSeen => (None, finding.first_seen),
        };
        FindingCursor {
            sort,
            order,
            severity_rank,
            at,
            id: finding.id.0,
        }
    }

    /// Opaque to clients: hex of a small versioned text, safe in a URL without escaping.
    pub fn encode(&self) -> String {
        let rank = self
            .severity_rank
            .map_or_else(|| "-".to_string(), |rank| rank.to_string());
        let text = format!(
            "{CURSOR_VERSION}|{}|{}|{rank}|{}|{}",
            self.sort.as_str(),
            self.order.as_str(),
            self.at.timestamp_micros(),
            self.id
        );
        text.bytes().map(|byte| format!("{byte:02x}")).collect()
    }

    pub fn decode(value: &str) -> Result<Self, String> {
        let invalid = || "cursor: not a cursor of this list".to_string();
        if !value.len().is_multiple_of(2) || value.len() > 512 || !value.is_ascii() {
            return Err(invalid());
        }
        let bytes = (0..value.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&value[at..at + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let parts: Vec<&str> = text.split('|').collect();
        let [version, sort, order, rank, micros, id] = parts[..] else {
            return Err(invalid());
        };
        if version != CURSOR_VERSION {
            return Err(invalid());
        }
        let sort = FindingSort::parse(sort).ok_or_else(invalid)?;
        let severity_rank = match (sort, rank) {
            (FindingSort::Severity, rank) => Some(
                rank.parse::<i16>()
                    .ok()
                    .filter(|r| (0..=4).contains(r))
                    .ok_or_else(invalid)?,
            ),
            (_, "-") => None,
            _ => return Err(invalid()),
        };
        Ok(FindingCursor {
            sort,
            order: SortOrder::parse(order).ok_or_else(invalid)?,
            severity_rank,
            at: micros
                .parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(invalid)?,
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
        })
    }
}

/// Filters, order and page of a findings list. Every filter is optional; several values of one
/// filter match any of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FindingQuery {
    pub statuses: Vec<FindingStatus>,
    pub severities: Vec<Severity>,
    pub min_severity: Option<Severity>,
    pub check: Option<CheckKind>,
    pub rule: Option<String>,
    pub asset_id: Option<AssetId>,
    /// Only findings this run saw (`scan_id` at the gateway, `run_id` in base).
    pub run_id: Option<RunId>,
    pub sort: FindingSort,
    pub order: SortOrder,
    pub limit: Option<u32>,
    pub cursor: Option<FindingCursor>,
}

impl FindingQuery {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }

    /// Reads query pairs; `run_param` is the name the run filter goes by. Unknown parameters
    /// and bad values are refused with a message naming the parameter.
    pub fn from_pairs(pairs: &[(String, String)], run_param: &str) -> Result<Self, String> {
        let mut query = FindingQuery::default();
        let mut sort = None;
        let mut order = None;
        let mut cursor = None;
        for (name, value) in pairs {
            let name = name.as_str();
            let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
            let bad = |expected: &str| format!("{name}: {value:?} is not {expected}");
            match name {
                "status" => {
                    for item in values() {
                        let status =
                            FindingStatus::parse(item).ok_or_else(|| bad("a finding status"))?;
                        if !query.statuses.contains(&status) {
                            query.statuses.push(status);
                        }
                    }
                }
                "severity" => {
                    for item in values() {
                        let severity = Severity::parse(item).ok_or_else(|| bad("a severity"))?;
                        if !query.severities.contains(&severity) {
                            query.severities.push(severity);
                        }
                    }
                }
                "min_severity" => {
                    query.min_severity =
                        Some(Severity::parse(value).ok_or_else(|| bad("a severity"))?);
                }
                "check" => {
                    query.check = Some(CheckKind::parse(value).ok_or_else(|| bad("a check"))?);
                }
                "rule" => {
                    if value.is_empty() || value.chars().count() > 200 {
                        return Err("rule: 1-200 characters".into());
                    }
                    query.rule = Some(value.clone());
                }
                "asset_id" => {
                    query.asset_id = Some(value.parse().map_err(|_| bad("an id"))?);
                }
                name if name == run_param => {
                    query.run_id = Some(value.parse().map_err(|_| bad("an id"))?);
                }
                "sort" => {
                    sort = Some(
                        FindingSort::parse(value)
                            .ok_or_else(|| bad("severity, last_seen or first_seen"))?,
                    );
                }
                "order" => {
                    order = Some(SortOrder::parse(value).ok_or_else(|| bad("asc or desc"))?);
                }
                "limit" => {
                    let limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|limit| (1..=Self::MAX_LIMIT).contains(limit))
                        .ok_or_else(|| format!("limit: must be 1-{}", Self::MAX_LIMIT))?;
                    query.limit = Some(limit);
                }
                "cursor" => cursor = Some(FindingCursor::decode(value)?),
                _ => return Err(format!("{name}: unknown query parameter")),
            }
        }
        query.sort = sort.unwrap_or_default();
        query.order = order.unwrap_or_default();
        if let Some(cursor) = cursor
            && (cursor.sort, cursor.order) != (query.sort, query.order)
        {
            return Err("cursor: it belongs to another sort or order".into());
        }
        query.cursor = cursor;
        Ok(query)
    }

    /// The query pairs [`FindingQuery::from_pairs`] reads back.
    pub fn to_pairs(&self, run_param: &'static str) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let join = |items: Vec<&str>| items.join(",");
        if !self.statuses.is_empty() {
            pairs.push((
                "status",
                join(self.statuses.iter().map(|s| s.as_str()).collect()),
            ));
        }
        if !self.severities.is_empty() {
            pairs.push((
                "severity",
                join(self.severities.iter().map(|s| s.as_str()).collect()),
            ));
        }
        if let Some(severity) = self.min_severity {
            pairs.push(("min_severity", severity.as_str().to_string()));
        }
        if let Some(check) = self.check {
            pairs.push(("check", check.as_str().to_string()));
        }
        if let Some(rule) = &self.rule {
            pairs.push(("rule", rule.clone()));
        }
        if let Some(asset_id) = self.asset_id {
            pairs.push(("asset_id", asset_id.to_string()));
        }
        if let Some(run_id) = self.run_id {
            pairs.push((run_param, run_id.to_string()));
        }
        pairs.push(("sort", self.sort.as_str().to_string()));
        pairs.push(("order", self.order.as_str().to_string()));
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.encode()));
        }
        pairs
    }
}

/// One page of findings; `next_cursor` asks for the next, absent on the last page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingPage {
    pub items: Vec<Finding>,
    pub next_cursor: Option<String>,
}

/// How many findings match a query's filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCount {
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let cursor = FindingCursor {
            sort: FindingSort::Severity,
            order: SortOrder::Desc,
            severity_rank: Some(3),
            at: DateTime::from_timestamp_micros(1_732_490_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        let encoded = cursor.encode();
        assert!(encoded.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(FindingCursor::decode(&encoded).unwrap(), cursor);
        let by_date = FindingCursor {
            sort: FindingSort::FirstSeen,
            order: SortOrder::Asc,
            severity_rank: None,
            ..cursor
        };
        assert_eq!(FindingCursor::decode(&by_date.encode()).unwrap(), by_date);
        for bad in ["", "zz", "abc", &encoded[2..], &"6".repeat(600)] {
            let error = FindingCursor::decode(bad).unwrap_err();
            assert!(error.starts_with("cursor:"), "{bad}: {error}");
        }
        // A severity cursor without a rank, or a date cursor with one, is not a cursor.
        let forged: String = "f1|severity|desc|-|0|00000000-0000-0000-0000-000000000000"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(FindingCursor::decode(&forged).is_err());
    }

    #[test]
    fn filters_take_lists_and_repeats_and_name_bad_parameters() {
        let query = FindingQuery::from_pairs(
            &pairs(&[
                ("status", "open,reopened"),
                ("status", "in_progress"),
                ("severity", "high, critical"),
                ("min_severity", "medium"),
                ("check", "http_headers"),
                ("rule", "missing_csp"),
                ("scan_id", "0190a000-0000-7000-8000-000000000000"),
                ("sort", "last_seen"),
                ("limit", "5"),
            ]),
            "scan_id",
        )
        .unwrap();
        assert_eq!(
            query.statuses,
            [
                FindingStatus::Open,
                FindingStatus::Reopened,
                FindingStatus::InProgress
            ]
        );
        assert_eq!(query.severities, [Severity::High, Severity::Critical]);
        assert_eq!(query.sort, FindingSort::LastSeen);
        assert_eq!(query.page_size(), 5);
        assert!(query.run_id.is_some());
        // What a client sends is what the server reads.
        let sent: Vec<(String, String)> = query
            .to_pairs("run_id")
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        assert_eq!(FindingQuery::from_pairs(&sent, "run_id").unwrap(), query);

        for (name, value) in [
            ("status", "closed"),
            ("severity", "urgent"),
            ("min_severity", "x"),
            ("check", "nmap"),
            ("asset_id", "1"),
            ("sort", "title"),
            ("order", "up"),
            ("limit", "0"),
            ("limit", "1001"),
            ("cursor", "xyz"),
            ("colour", "red"),
        ] {
            let error = FindingQuery::from_pairs(&pairs(&[(name, value)]), "scan_id").unwrap_err();
            assert!(error.starts_with(&format!("{name}:")), "{name}: {error}");
        }
        // The run filter goes by the name the caller gave.
        assert!(
            FindingQuery::from_pairs(&pairs(&[("run_id", "x")]), "scan_id")
                .unwrap_err()
                .contains("unknown")
        );
    }

    #[test]
    fn a_cursor_only_continues_its_own_order() {
        let cursor = FindingCursor {
            sort: FindingSort::LastSeen,
            order: SortOrder::Desc,
            severity_rank: None,
            at: Utc::now(),
            id: Uuid::now_v7(),
        }
        .encode();
        assert!(
            FindingQuery::from_pairs(
                &pairs(&[("sort", "last_seen"), ("cursor", &cursor)]),
                "run_id"
            )
            .is_ok()
        );
        let error = FindingQuery::from_pairs(&pairs(&[("cursor", &cursor)]), "run_id").unwrap_err();
        assert!(error.starts_with("cursor:"), "{error}");
    }
}
