//! CloudWatch Embedded Metric Format: metrics written as one JSON log line each invocation,
//! so they cost no API call and no latency.

use serde_json::{Map, Value, json};

/// Where and under which dimension the metrics go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `METRICS_NAMESPACE` (default `Lookout`).
    pub namespace: String,
    /// The `Function` dimension: which Lookout function emitted the metrics.
    pub function: String,
    /// `METRICS_ENABLED` (default true): off writes no EMF line.
    pub enabled: bool,
}

impl MetricsConfig {
    /// `METRICS_NAMESPACE` and `METRICS_ENABLED`, for the function named `function`.
    pub fn from_env(env: &crate::config::Env, function: &str) -> Result<Self, crate::config::ConfigError> {
        let namespace = env.get("METRICS_NAMESPACE").unwrap_or("Lookout").to_string();
        if namespace.len() > 255 || namespace.starts_with(':') {
            return Err(crate::config::ConfigError::new(
                "METRICS_NAMESPACE",
                "must be 1-255 characters",
            ));
        }
        Ok(Self {
            namespace,
            function: function.to_string(),
            enabled: env.flag("METRICS_ENABLED", true)?,
        })
    }
}

/// A CloudWatch unit, declared with the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things (alerts, events, failures).
    Count,
    /// A size in bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
        }
    }
}

/// A metric's name and unit; functions declare theirs as constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The CloudWatch metric name, e.g. `AlertsPublished`.
    pub name: &'static str,
    /// Declared with the metric so CloudWatch graphs it in the right unit.
    pub unit: Unit,
}

impl Metric {
    /// A metric counted in [`Unit::Count`].
    pub const fn count(name: &'static str) -> Self {
        Self {
            name,
            unit: Unit::Count,
        }
    }

    /// A metric measured in [`Unit::Bytes`].
    pub const fn bytes(name: &'static str) -> Self {
        Self {
            name,
            unit: Unit::Bytes,
        }
    }
}

/// Counters for one invocation, flushed as one EMF line.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Vec<(Metric, u64)>,
}

impl Metrics {
    /// Adds `value` to `metric` (saturating); the first add declares it.
    pub fn add(&mut self, metric: Metric, value: u64) {
        match self.counts.iter_mut().find(|(m, _)| m.name == metric.name) {
            Some((_, v)) => *v = v.saturating_add(value),
            None => self.counts.push((metric, value)),
        }
    }

    /// An alert confirmed by SNS: `AlertsPublished` and its request's `PublishedBytes`.
    pub fn alert_published(&mut self, request_bytes: usize) {
        self.add(Metric::count("AlertsPublished"), 1);
        self.add_len(Metric::bytes("PublishedBytes"), request_bytes);
    }

    /// Adds a count of items (a `usize` length).
    pub fn add_len(&mut self, metric: Metric, len: usize) {
        self.add(metric, u64::try_from(len).unwrap_or(u64::MAX));
    }

    /// Adds every count of `other`: the metrics of work done side by side within this
    /// invocation, each part with its own counters.
    pub fn absorb(&mut self, other: &Metrics) {
        for (metric, value) in &other.counts {
            self.add(*metric, *value);
        }
    }

    /// The EMF document (one JSON object), or `None` when there is nothing to record.
    pub fn to_emf(&self, config: &MetricsConfig, timestamp_ms: i64) -> Option<Value> {
        if self.counts.is_empty() {
            return None;
        }
        let definitions: Vec<Value> = self
            .counts
            .iter()
            .map(|(m, _)| json!({"Name": m.name, "Unit": m.unit.as_str()}))
            .collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": config.namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": definitions,
                }],
            }),
        );
        doc.insert("FunctionName".into(), Value::String(config.function.clone()));
        for (m, value) in &self.counts {
            doc.insert(m.name.to_string(), Value::from(*value));
        }
        Some(Value::Object(doc))
    }

    /// Writes the EMF line to stdout, where the Lambda log agent picks it up. It bypasses
    /// `tracing` on purpose: EMF must be the whole log line, not a field inside one.
    pub fn flush(&self, config: &MetricsConfig) {
        if !config.enabled {
            return;
        }
        if let Some(doc) = self.to_emf(config, crate::time::now_epoch_ms()) {
            println!("{doc}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_shape() {
        let mut m = Metrics::default();
        m.add(Metric::count("EventsDecoded"), 3);
        m.add(Metric::count("EventsDecoded"), 2);
        m.add(Metric::bytes("PublishedBytes"), 1200);
        let cfg = MetricsConfig {
            namespace: "Lookout".into(),
            function: "log-alert".into(),
            enabled: true,
        };
        let doc = m.to_emf(&cfg, 42).unwrap();
        assert_eq!(doc["EventsDecoded"], 5);
        assert_eq!(doc["FunctionName"], "log-alert");
        let def = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(def["Namespace"], "Lookout");
        assert_eq!(def["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(
            def["Metrics"][1],
            json!({"Name": "PublishedBytes", "Unit": "Bytes"})
        );
        assert_eq!(doc["_aws"]["Timestamp"], 42);
        assert!(Metrics::default().to_emf(&cfg, 0).is_none());
        let mut part = Metrics::default();
        part.add(Metric::count("EventsDecoded"), 1);
        part.add(Metric::count("RecordsFailed"), 2);
        m.absorb(&part);
        let doc = m.to_emf(&cfg, 42).unwrap();
        assert_eq!(
            (&doc["EventsDecoded"], &doc["RecordsFailed"]),
            (&json!(6), &json!(2))
        );
    }
}
