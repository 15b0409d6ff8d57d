//! The sweeper Lambda's handler: every 15 minutes (an EventBridge schedule), one `Services::sweep` pass over
//! the due index: long-tail touches, deferral re-opens and newsletter handoffs are enqueued, lost timers and
//! stale send claims repaired.
//!
//! The event's content is not used (a Scheduler or rule event, whatever its input): only its arrival matters.
//! A retryable failure returns an error, so Lambda's asynchronous retries try again; otherwise the next tick
//! picks up whatever this one left, since the due index still holds it.
//!
//! # Layout
//! - [`handle_tick`]: one pass, testable without the runtime; [`sweep_limit`] reads the batch size.
#![deny(clippy::unwrap_used)]

use cadence_core::service::{ServiceError, Services, SweepReport};

/// Environment variable bounding the leads examined per pass.
pub const SWEEP_LIMIT_ENV: &str = "CADENCE_SWEEP_LIMIT";
/// Default leads per pass: well inside one invocation's time at a few store reads per lead.
pub const DEFAULT_SWEEP_LIMIT: usize = 500;

/// The per-pass limit from `CADENCE_SWEEP_LIMIT` (default 500). A value that is not a positive number fails
/// init, naming the variable.
pub fn sweep_limit(value: Option<String>) -> Result<usize, String> {
    match value {
        None => Ok(DEFAULT_SWEEP_LIMIT),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{SWEEP_LIMIT_ENV} must be a positive number")),
    }
}

/// One sweeper pass, logged.
pub async fn handle_tick(
    services: &Services,
    event: &serde_json::Value,
    limit: usize,
) -> Result<SweepReport, ServiceError> {
    let id = event.get("id").and_then(|v| v.as_str()).unwrap_or("");
    match services.sweep(limit).await {
        Ok(report) => {
            tracing::info!(
                event_id = id,
                examined = report.examined,
                enqueued = report.enqueued,
                repaired = report.repaired,
                limit,
                "sweep done"
            );
            Ok(report)
        }
        Err(e) => {
            tracing::error!(event_id = id, error = %e, retryable = e.is_retryable(), "sweep failed");
            Err(e)
        }
    }
}
