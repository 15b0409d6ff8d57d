//! Human tasks and notifications.
//!
//! [`DynamoTaskSink`] puts a human task where operators already look for a lead: a `TASK#p<plan>#<step>` item
//! in the lead's partition of the table (so `delete` removes it with the lead, and it expires with the audit
//! trail), and logs that a task exists (lead, step, channel; never its text or contact). The key is
//! deterministic, so a retried touch finds its task and does not create a second one. Pushing tasks to people
//! (SNS, EventBridge, a CRM) is a later adapter on the same port.
//!
//! [`LogNotifier`] logs handoff and booking notifications: kind and reason, no summary (it may hold answers).

use crate::store::{attr, key, lead_pk, sort_instant, AUDIT_TTL};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use cadence_core::engine::Notification;
use cadence_core::lead::TouchRef;
use cadence_core::outbound::HumanTask;
use cadence_core::ports::{Clock, Notifier, SendFailure, SendReceipt, TaskSink};
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;
use std::fmt;
use std::sync::Arc;

/// `TASK#p<plan>#<step>`: one task per touch.
pub fn task_sk(touch: &TouchRef) -> String {
    format!("{}p{:010}#{}", key::TASK_PREFIX, touch.plan, touch.step)
}

/// Human tasks as items in the lead table.
#[derive(Clone)]
pub struct DynamoTaskSink {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for DynamoTaskSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoTaskSink")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoTaskSink {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }
}

#[async_trait]
impl TaskSink for DynamoTaskSink {
    async fn create_task(
        &self,
        touch: &TouchRef,
        task: &HumanTask,
    ) -> Result<SendReceipt, SendFailure> {
        let now = self.clock.now();
        let sk = task_sk(touch);
        let value = to_attribute_value(task).map_err(|e| SendFailure::Permanent {
            reason: format!("task: {e}"),
        })?;
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, AttributeValue::S(lead_pk(&touch.lead_id)))
            .item(attr::SK, AttributeValue::S(sk.clone()))
            .item(attr::TASK, value)
            .item(attr::AT, AttributeValue::S(sort_instant(now)))
            .item(
                attr::TTL,
                AttributeValue::N((now + AUDIT_TTL).timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match r {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => {
                let (kind, reason) = crate::sdk::classify("PutItem", &e);
                return Err(match kind {
                    crate::sdk::Failure::Throttled | crate::sdk::Failure::NotSent => {
                        SendFailure::Retryable {
                            reason,
                            retry_after: None,
                        }
                    }
                    // The put is idempotent (conditional on a deterministic key), so even an ambiguous
                    // outcome is safe to retry.
                    crate::sdk::Failure::Ambiguous => SendFailure::Retryable {
                        reason,
                        retry_after: None,
                    },
                    crate::sdk::Failure::Rejected => SendFailure::Permanent { reason },
                });
            }
        }
        tracing::info!(lead = %touch.lead_id, step = %touch.step, channel = %task.channel, "human task created");
        Ok(SendReceipt {
            provider_id: format!("task:{}:{sk}", touch.lead_id),
        })
    }
}

/// Notifications to the log: lead, kind and reason.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), SendFailure> {
        tracing::info!(lead = %n.lead, kind = %n.kind, reason = %n.reason, "notification");
        Ok(())
    }
}
