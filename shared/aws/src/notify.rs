//! Handoff and booking notifications in the cloud: [`EventBridgeNotifier`] (PutEvents on a bus, for rules that
//! fan out to Slack, email or a CRM) and [`WebhookNotifier`] (a signed HTTP POST, the same contract as
//! `cadence serve`'s: `X-Cadence-Signature: sha256=<hex>` over the exact JSON body). The webhook notifier is
//! [`cadence_meta::notify`]'s, re-exported: one implementation for the CLI and the Lambdas.
//!
//! The event detail and the POST body are the [`Notification`] JSON: lead id, kind, reason, step reached,
//! answers (option keys), last inbound kind and time. Never message text or personal data.

use crate::sdk::{classify, Failure};
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use cadence_core::engine::Notification;
use cadence_core::ports::{Notifier, SendFailure};
use std::fmt;

pub use cadence_meta::notify::{signature, WebhookNotifier, SIGNATURE_HEADER};

/// `source` of every Cadence event on the bus.
pub const EVENT_SOURCE: &str = "cadence";

/// The EventBridge `detail-type` for a notification kind (rules match on it).
pub fn detail_type(kind: &str) -> &'static str {
    match kind {
        "handoff" => "Lead handed off",
        "booked" => "Lead booked",
        "booking_cancelled" => "Lead booking cancelled",
        "resumed" => "Lead resumed",
        _ => "Lead notification",
    }
}

/// Publishes notifications to an EventBridge bus (source `cadence`).
#[derive(Clone)]
pub struct EventBridgeNotifier {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl fmt::Debug for EventBridgeNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBridgeNotifier")
            .field("bus", &self.bus)
            .finish()
    }
}

impl EventBridgeNotifier {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// The PutEvents entry for a notification (pure; tested without AWS).
    pub fn entry(&self, n: &Notification) -> Result<PutEventsRequestEntry, SendFailure> {
        let detail = serde_json::to_string(n).map_err(|e| SendFailure::Permanent {
            reason: e.to_string(),
        })?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(detail_type(&n.kind))
            .detail(detail)
            .resources(n.lead.as_str())
            .build())
    }
}

#[async_trait]
impl Notifier for EventBridgeNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), SendFailure> {
        let out = self
            .client
            .put_events()
            .entries(self.entry(n)?)
            .send()
            .await
            .map_err(|e| {
                let (f, reason) = classify("PutEvents", &e);
                match f {
                    Failure::Rejected => SendFailure::Permanent { reason },
                    Failure::Throttled | Failure::Ambiguous | Failure::NotSent => {
                        SendFailure::Retryable {
                            reason,
                            retry_after: None,
                        }
                    }
                }
            })?;
        if out.failed_entry_count() > 0 {
            let code = out
                .entries()
                .iter()
                .find_map(|e| e.error_code())
                .unwrap_or("unknown");
            return Err(SendFailure::Permanent {
                reason: format!("PutEvents entry failed: {code}"),
            });
        }
        tracing::info!(lead = %n.lead, kind = %n.kind, reason = %n.reason, "notification published");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadence_core::ids::{Channel, LeadId};

    #[test]
    fn a_notification_becomes_a_cadence_event_with_its_kind_as_detail_type() {
        let conf = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .build();
        let n =
            EventBridgeNotifier::new(aws_sdk_eventbridge::Client::from_conf(conf), "cadence-bus");
        let note = Notification {
            lead: LeadId::derive("acme", Channel::Instagram, "1"),
            kind: "handoff".into(),
            reason: "human_echo".into(),
            summary: String::new(),
            at: None,
            cadence: "coach-ig".into(),
            channel: "instagram".into(),
            step: Some("qualify".into()),
            answers: Default::default(),
            last_inbound: None,
            last_inbound_at: None,
        };
        let e = n.entry(&note).expect("entry");
        assert_eq!(e.source(), Some("cadence"));
        assert_eq!(e.detail_type(), Some("Lead handed off"));
        assert_eq!(e.event_bus_name(), Some("cadence-bus"));
        let detail: Notification =
            serde_json::from_str(e.detail().unwrap_or_default()).expect("detail");
        assert_eq!(detail, note);
        assert_eq!(detail_type("booked"), "Lead booked");
    }
}
