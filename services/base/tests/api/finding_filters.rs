//! Finding filters, sorts and cursor pages.

use std::collections::HashSet;

use s4e_types::{
    CheckKind, Finding, FindingDraft, FindingQuery, FindingSort, FindingStatus, OrgId, Severity,
    SortOrder,
};

use crate::support::{Harness, all_findings, change, draft_of, scan, url_asset};

/// Which findings a filter should select.
type Expected = Box<dyn Fn(&Finding) -> bool>;

/// Every page of a query, following the cursor; asserts the page size is respected.
async fn every_page(h: &Harness, org_id: OrgId, mut query: FindingQuery) -> Vec<Finding> {
    let mut all = Vec::new();
    loop {
        let page = h.client.list_findings(org_id, &query).await.unwrap();
        assert!(page.items.len() <= query.page_size() as usize);
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => {
                query.cursor = Some(s4e_types::FindingCursor::decode(&cursor).unwrap());
            }
            None => return all,
        }
    }
}

#[tokio::test]
async fn filters_sorts_and_cursor_pages_cover_every_finding_exactly_once() {
    let h = Harness::start().await;
    let org = h.client.create_organization("a").await.unwrap();
    let asset = h
        .client
        .create_asset(org.id, &url_asset("http://target.test/"))
        .await
        .unwrap();
    let second_asset = h
        .client
        .create_asset(org.id, &url_asset("http://other.test/"))
        .await
        .unwrap();
    let severities = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    // One report stores 23 findings in one transaction: they share last_seen and first_seen,
    // and several share a severity, so only the id orders them.
    let drafts: Vec<FindingDraft> = (0..23)
        .map(|n| {
            draft_of(
                CheckKind::HttpHeaders,
                &format!("rule_{n:02}"),
                severities[n % 5],
            )
        })
        .collect();
    let first = scan(
        &h,
        org.id,
        asset.id,
        vec![
            (CheckKind::HttpHeaders, Some(drafts)),
            (
                CheckKind::Exposure,
                Some(vec![draft_of(
                    CheckKind::Exposure,
                    "env_file",
                    Severity::High,
                )]),
            ),
        ],
    )
    .await;
    let later = scan(
        &h,
        org.id,
        second_asset.id,
        vec![(
            CheckKind::HttpHeaders,
            Some(vec![
                draft_of(CheckKind::HttpHeaders, "rule_00", Severity::Critical),
                draft_of(CheckKind::HttpHeaders, "late", Severity::Low),
            ]),
        )],
    )
    .await;
    let all = all_findings(&h, org.id).await;
    assert_eq!(all.len(), 26);
    // Triage a few, to filter by status.
    for finding in all.iter().filter(|f| f.rule.ends_with('3')) {
        h.client
            .change_finding_status(org.id, finding.id, &change(FindingStatus::InProgress, None))
            .await
            .unwrap();
    }
    let all = all_findings(&h, org.id).await;

    // The default order: most severe, then most recently seen, then id.
    let key = |f: &Finding| (f.severity, f.last_seen, f.id);
    assert!(
        all.windows(2).all(|w| key(&w[0]) >= key(&w[1])),
        "default order"
    );

    for sort in [
        FindingSort::Severity,
        FindingSort::LastSeen,
        FindingSort::FirstSeen,
    ] {
        for order in [SortOrder::Desc, SortOrder::Asc] {
            for limit in [1, 4, 7] {
                let query = FindingQuery {
                    sort,
                    order,
                    limit: Some(limit),
                    ..FindingQuery::default()
                };
                let paged = every_page(&h, org.id, query).await;
                let ids: HashSet<_> = paged.iter().map(|f| f.id).collect();
                assert_eq!(
                    ids.len(),
                    paged.len(),
                    "{sort:?} {order:?} {limit}: duplicates"
                );
                assert_eq!(paged.len(), all.len(), "{sort:?} {order:?} {limit}: gaps");
                let sort_key = |f: &Finding| match sort {
                    FindingSort::Severity => (Some(f.severity), f.last_seen, f.id),
                    FindingSort::LastSeen => (None, f.last_seen, f.id),
                    FindingSort::FirstSeen => (None, f.first_seen, f.id),
                };
                assert!(
                    paged.windows(2).all(|w| match order {
                        SortOrder::Desc => sort_key(&w[0]) > sort_key(&w[1]),
                        SortOrder::Asc => sort_key(&w[0]) < sort_key(&w[1]),
                    }),
                    "{sort:?} {order:?} {limit}: out of order"
                );
            }
        }
    }

    // Each filter selects exactly what it says, across pages.
    let cases: Vec<(FindingQuery, Expected)> = vec![
        (
            FindingQuery {
                statuses: vec![FindingStatus::InProgress],
                ..FindingQuery::default()
            },
            Box::new(|f| f.status == FindingStatus::InProgress),
        ),
        (
            FindingQuery {
                statuses: vec![FindingStatus::Open, FindingStatus::InProgress],
                ..FindingQuery::default()
            },
            Box::new(|_| true),
        ),
        (
            FindingQuery {
                severities: vec![Severity::Low, Severity::Critical],
                ..FindingQuery::default()
            },
            Box::new(|f| matches!(f.severity, Severity::Low | Severity::Critical)),
        ),
        (
            FindingQuery {
                min_severity: Some(Severity::High),
                ..FindingQuery::default()
            },
            Box::new(|f| f.severity >= Severity::High),
        ),
        (
            FindingQuery {
                check: Some(CheckKind::Exposure),
                ..FindingQuery::default()
            },
            Box::new(|f| f.check == CheckKind::Exposure),
        ),
        (
            FindingQuery {
                rule: Some("rule_00".into()),
                ..FindingQuery::default()
            },
            Box::new(|f| f.rule == "rule_00"),
        ),
        (
            FindingQuery {
                asset_id: Some(second_asset.id),
                ..FindingQuery::default()
            },
            Box::new(move |f| f.asset_id == second_asset.id),
        ),
        (
            FindingQuery {
                run_id: Some(first.run.id),
                min_severity: Some(Severity::Medium),
                ..FindingQuery::default()
            },
            Box::new(move |f| f.asset_id == asset.id && f.severity >= Severity::Medium),
        ),
        (
            FindingQuery {
                run_id: Some(later.run.id),
                statuses: vec![FindingStatus::Fixed],
                ..FindingQuery::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (query, expected) in cases {
        let query = FindingQuery {
            limit: Some(3),
            ..query
        };
        let got: HashSet<_> = every_page(&h, org.id, query.clone())
            .await
            .iter()
            .map(|f| f.id)
            .collect();
        let want: HashSet<_> = all.iter().filter(|f| expected(f)).map(|f| f.id).collect();
        assert_eq!(got, want, "{query:?}");
        assert_eq!(
            h.client.count_findings(org.id, &query).await.unwrap(),
            want.len() as u64
        );
    }

    // Bad parameters are refused naming the parameter; a cursor only continues its own order.
    let url = h.url(&format!("/internal/v1/orgs/{}/findings", org.id));
    let first_page = h
        .client
        .list_findings(
            org.id,
            &FindingQuery {
                limit: Some(2),
                ..FindingQuery::default()
            },
        )
        .await
        .unwrap();
    let cursor = first_page.next_cursor.unwrap();
    for (query, field) in [
        ("status=closed".to_string(), "status"),
        ("severity=urgent".to_string(), "severity"),
        ("limit=5000".to_string(), "limit"),
        ("sort=title".to_string(), "sort"),
        ("cursor=abc".to_string(), "cursor"),
        (format!("sort=first_seen&cursor={cursor}"), "cursor"),
        ("scan_id=x".to_string(), "scan_id"),
    ] {
        let response = h
            .http
            .get(format!("{url}?{query}"))
            .header("x-s4e-service-token", &h.env.service_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field}:")),
            "{query}: {message}"
        );
    }
    // Repeated parameters and comma lists are the same filter.
    let fetch = |query: &'static str| {
        let request = h
            .http
            .get(format!("{url}?{query}"))
            .header("x-s4e-service-token", &h.env.service_token);
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(
        fetch("severity=low&severity=critical").await,
        fetch("severity=low,critical").await
    );

    // Another organization sees none of it.
    let other = h.client.create_organization("b").await.unwrap();
    assert!(all_findings(&h, other.id).await.is_empty());
    let foreign_run = FindingQuery {
        run_id: Some(first.run.id),
        ..FindingQuery::default()
    };
    assert_eq!(
        h.client
            .count_findings(other.id, &foreign_run)
            .await
            .unwrap(),
        0
    );
    h.stop().await;
}
