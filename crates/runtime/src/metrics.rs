//! A small Prometheus registry: counters and gauges with labels, rendered in the text format.
//! Small enough to own, so no metrics framework sits in every service's dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

#[derive(Default)]
struct Family {
    help: &'static str,
    kind: Option<Kind>,
    series: BTreeMap<String, f64>,
}

#[derive(Clone, Default)]
pub struct Metrics {
    families: Arc<Mutex<BTreeMap<&'static str, Family>>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], by: f64) {
        self.add_each(&[(name, help, by)], labels);
    }

    pub fn inc(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) {
        self.add(name, help, labels, 1.0);
    }

    pub fn set(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], to: f64) {
        let key = render_labels(labels);
        let mut families = self
            .families
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let family = families.entry(name).or_default();
        family.help = help;
        family.kind = Some(Kind::Gauge);
        family.series.insert(key, to);
    }

    /// Adds to several counters that share their labels, under one lock.
    pub fn add_each(
        &self,
        counters: &[(&'static str, &'static str, f64)],
        labels: &[(&str, &str)],
    ) {
        let key = render_labels(labels);
        let mut families = self
            .families
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for (name, help, by) in counters {
            let family = families.entry(name).or_default();
            family.help = help;
            family.kind = Some(Kind::Counter);
            match family.series.get_mut(&key) {
                Some(value) => *value += by,
                None => {
                    family.series.insert(key.clone(), *by);
                }
            }
        }
    }

    /// The current value of one series, for tests and readiness decisions.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let families = self
            .families
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        families
            .get(name)?
            .series
            .get(&render_labels(labels))
            .copied()
    }

    pub fn render(&self) -> String {
        let families = self
            .families
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Some(Kind::Counter) => "counter",
                Some(Kind::Gauge) | None => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in &family.series {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        out
    }
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(96);
    out.push('{');
    for (index, (key, value)) in labels.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        for character in value.chars() {
            match character {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                other => out.push(other),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// Serves the request through `next`, counting it and its duration by route template and
/// status.
pub async fn track_http<F, Fut>(metrics: &Metrics, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next(request).await;
    let status = response.status();
    let labels = [
        ("method", method.as_str()),
        (
            "route",
            route.as_ref().map_or("unmatched", MatchedPath::as_str),
        ),
        ("status", status.as_str()),
    ];
    metrics.add_each(
        &[
            (
                "s4e_http_requests_total",
                "HTTP requests served, by route and status.",
                1.0,
            ),
            (
                "s4e_http_request_duration_seconds_total",
                "Time spent serving HTTP requests, by route and status.",
                started.elapsed().as_secs_f64(),
            ),
        ],
        &labels,
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::new();
        metrics.inc("jobs_total", "Jobs.", &[("kind", "http_headers")]);
        metrics.inc("jobs_total", "Jobs.", &[("kind", "http_headers")]);
        metrics.set("up", "Up.", &[], 1.0);
        let text = metrics.render();
        assert!(text.contains("# TYPE jobs_total counter"));
        assert!(text.contains("jobs_total{kind=\"http_headers\"} 2"));
        assert!(text.contains("# TYPE up gauge\nup 1"));
        assert_eq!(
            metrics.value("jobs_total", &[("kind", "http_headers")]),
            Some(2.0)
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(render_labels(&[("a", "x\"y\n")]), "{a=\"x\\\"y\\n\"}");
    }
}
