//! The send Lambda's handler: one SQS batch of touch references from the touches queue, each delivered
//! through `Services::handle_touch`, with partial batch failures (`ReportBatchItemFailures`).
//!
//! Per record:
//! - a body that is not a touch reference is reported as failed: SQS redelivers it up to the queue's
//!   `maxReceiveCount` and then moves it to the DLQ, where it is alarmed and can be inspected (silently
//!   dropping it would hide a producer bug);
//! - a retryable error (throttling, a Graph API rate limit or 5xx, a store hiccup) is reported as failed, so
//!   SQS makes the message visible again after the queue's visibility timeout: that timeout is the backoff;
//! - anything else (sent, skipped, dropped as no longer current, a permanent failure the engine recorded) is
//!   done and the message is deleted. Redelivery of a done touch is harmless: the lead no longer plans it.
//!
//! # Layout
//! - [`handle_batch`]: the batch handler, testable without the runtime.
#![deny(clippy::unwrap_used)]

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use cadence_aws::parse_touch_ref;
use cadence_core::service::Services;

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Delete the message.
    Done,
    /// Report it as a batch item failure (SQS redelivers it, then the DLQ takes it).
    Retry,
}

/// Handles one record.
pub async fn handle_record(services: &Services, record: &SqsMessage) -> RecordOutcome {
    let touch = match parse_touch_ref(record.body.as_deref().unwrap_or_default()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(message_id = record.message_id.as_deref().unwrap_or(""), error = %e, "unreadable touch message");
            return RecordOutcome::Retry;
        }
    };
    match services.handle_touch(&touch).await {
        Ok(outcome) => {
            tracing::info!(lead = %touch.lead_id, step = %touch.step, plan = touch.plan, ?outcome, "touch handled");
            RecordOutcome::Done
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(lead = %touch.lead_id, step = %touch.step, error = %e, "touch will be retried");
            RecordOutcome::Retry
        }
        Err(e) => {
            tracing::error!(lead = %touch.lead_id, step = %touch.step, error = %e, "touch failed for good");
            RecordOutcome::Done
        }
    }
}

/// Handles a batch; the response names exactly the messages to redeliver.
pub async fn handle_batch(services: &Services, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        if handle_record(services, record).await == RecordOutcome::Done {
            continue;
        }
        match &record.message_id {
            Some(id) => {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                response.batch_item_failures.push(failure);
            }
            // Without an id a failure cannot be reported; SQS always sends one.
            None => tracing::error!("failed record without a message id"),
        }
    }
    response
}
