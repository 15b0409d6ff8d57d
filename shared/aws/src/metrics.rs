//! CloudWatch metrics as Embedded Metric Format (EMF) log lines: no API calls, no extra latency; CloudWatch Logs
//! turns each line into metrics in namespace `Cadence` with dimensions `cadence` and `step`.
//!
//! Metric names (all `Count`): `sent`, `skipped`, `replied`, `booked`, `opted_out`. They come from the audit
//! records of every lead write ([`cadence_core::report::metric_events`]), so the webhook, send and sweeper
//! functions all publish through [`MeteredLeadStore`] without a line in their handlers. A reply, booking or
//! opt-out counts for the step of the last touch that reached the lead: the funnel per step, against that
//! step's own sends.

use async_trait::async_trait;
use cadence_core::chrono::{DateTime, Utc};
use cadence_core::ids::LeadId;
use cadence_core::lead::{AuditRecord, Lead};
use cadence_core::ports::{LeadStore, LeadWrite, StoreError, Versioned};
use cadence_core::report::{metric_events, MetricEvent};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;

/// The CloudWatch namespace.
pub const NAMESPACE: &str = "Cadence";
/// Every metric name this crate emits.
pub const METRIC_NAMES: &[&str] = &["sent", "skipped", "replied", "booked", "opted_out"];

/// EMF lines for metric events: one line per (cadence, step) with a count per metric name.
pub fn emf_lines(events: &[MetricEvent], at: DateTime<Utc>) -> Vec<String> {
    let mut by: BTreeMap<(&str, &str), BTreeMap<&str, u64>> = BTreeMap::new();
    for e in events {
        *by.entry((e.cadence.as_str(), e.step.as_str()))
            .or_default()
            .entry(e.name)
            .or_default() += 1;
    }
    by.into_iter()
        .map(|((cadence, step), counts)| {
            let metrics: Vec<Value> = counts
                .keys()
                .map(|n| json!({ "Name": n, "Unit": "Count" }))
                .collect();
            let mut root = Map::new();
            root.insert(
                "_aws".into(),
                json!({
                    "Timestamp": at.timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["cadence", "step"]],
                        "Metrics": metrics,
                    }]
                }),
            );
            root.insert("cadence".into(), json!(cadence));
            root.insert("step".into(), json!(step));
            for (n, c) in counts {
                root.insert(n.into(), json!(c));
            }
            Value::Object(root).to_string()
        })
        .collect()
}

/// Writes the EMF lines of one lead write to stdout (each line whole: EMF needs the raw JSON as the log event).
pub fn emit(lead: &Lead, audit: &[AuditRecord]) {
    let events = metric_events(lead, audit);
    if events.is_empty() {
        return;
    }
    let lines = emf_lines(&events, lead.updated_at);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
}

/// A [`LeadStore`] that publishes the funnel metrics of every successful write.
pub struct MeteredLeadStore<S> {
    inner: S,
}

impl<S> MeteredLeadStore<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl<S: LeadStore> LeadStore for MeteredLeadStore<S> {
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError> {
        self.inner.load(id).await
    }

    async fn save(&self, write: LeadWrite<'_>) -> Result<u64, StoreError> {
        let (lead, audit) = (write.lead, write.audit);
        let v = self.inner.save(write).await?;
        // Only after the write happened: a conflict or duplicate is re-decided and counted once.
        emit(lead, audit);
        Ok(v)
    }

    async fn claim_inbound(&self, key: &str) -> Result<(), StoreError> {
        self.inner.claim_inbound(key).await
    }

    async fn due_for_sweep(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadId>, StoreError> {
        self.inner.due_for_sweep(until, limit).await
    }

    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(id).await
    }

    async fn list(&self) -> Result<Vec<LeadId>, StoreError> {
        self.inner.list().await
    }

    async fn delete(&self, id: &LeadId) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_events_become_one_emf_line_per_cadence_and_step() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let ev = |name, step: &str| MetricEvent {
            name,
            cadence: "coach-ig".into(),
            step: step.into(),
            at,
        };
        let lines = emf_lines(
            &[
                ev("sent", "opener"),
                ev("replied", "opener"),
                ev("replied", "opener"),
                ev("booked", "call_ask"),
            ],
            at,
        );
        assert_eq!(lines.len(), 2);
        let v: Value = serde_json::from_str(&lines[1]).unwrap_or_default();
        assert_eq!(v["step"], "opener");
        assert_eq!(
            (v["sent"].as_u64(), v["replied"].as_u64()),
            (Some(1), Some(2))
        );
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Cadence");
        assert_eq!(cw["Dimensions"], json!([["cadence", "step"]]));
        assert_eq!(v["_aws"]["Timestamp"], 1_800_000_000_000i64);
        assert!(cw["Metrics"].as_array().is_some_and(|m| m
            .iter()
            .all(|m| METRIC_NAMES.contains(&m["Name"].as_str().unwrap_or("")))));
    }
}
