//! Recording delivery sinks for `cadence replay`: a simulated Graph API, SES, task list and newsletter that
//! accept everything, answer with fresh deterministic ids, and write one JSON line per outbound action.

use async_trait::async_trait;
use cadence_core::chrono::{DateTime, SecondsFormat, Utc};
use cadence_core::engine::Notification;
use cadence_core::lead::TouchRef;
use cadence_core::outbound::{DmMessage, EmailMessage, HumanTask, NewsletterHandoff};
use cadence_core::ports::{
    ChannelSender, Clock, EmailSender, NewsletterSink, Notifier, SendFailure, SendReceipt, TaskSink,
};
use cadence_meta::graph::{build_tagged_request, send_tag, GraphConfig};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One line of `cadence replay` output. Field order is part of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct OutputLine {
    pub at: String,
    pub lead: String,
    pub step: String,
    pub channel: &'static str,
    pub request: Value,
}

/// Formats an instant the way replay input and output write it (`2026-12-03T14:00:00Z`).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Accepts every delivery and records it as an [`OutputLine`].
pub struct RecordingSink {
    clock: Arc<dyn Clock>,
    graph: GraphConfig,
    seq: AtomicU64,
    lines: Mutex<Vec<OutputLine>>,
    /// Record outbound lines (off for pure timing runs that only count them).
    record: bool,
    count: AtomicU64,
}

impl RecordingSink {
    pub fn new(clock: Arc<dyn Clock>, graph: GraphConfig, record: bool) -> Self {
        Self {
            clock,
            graph,
            seq: AtomicU64::new(0),
            lines: Mutex::new(Vec::new()),
            record,
            count: AtomicU64::new(0),
        }
    }

    /// Takes the lines recorded so far.
    pub fn drain(&self) -> Vec<OutputLine> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Outbound actions recorded since start.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn next_id(&self, prefix: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{prefix}{n:08}")
    }

    fn push(&self, touch: &TouchRef, channel: &'static str, request: Value) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if !self.record {
            return;
        }
        let line = OutputLine {
            at: rfc3339(self.clock.now()),
            lead: touch.lead_id.to_string(),
            step: touch.step.clone(),
            channel,
            request,
        };
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

/// The SESv2 `SendEmail` input for an email touch (the same fields the SES adapter sets).
pub fn ses_send_email_input(touch: &TouchRef, m: &EmailMessage) -> Value {
    let mut simple = json!({
        "Subject": { "Data": m.subject, "Charset": "UTF-8" },
        "Body": { "Text": { "Data": m.text, "Charset": "UTF-8" } },
    });
    if let Some(u) = &m.list_unsubscribe {
        simple["Headers"] = json!([
            { "Name": "List-Unsubscribe", "Value": format!("<{u}>") },
            { "Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click" }
        ]);
    }
    json!({
        "FromEmailAddress": m.from,
        "Destination": { "ToAddresses": [m.to] },
        "Content": { "Simple": simple },
        "EmailTags": [
            { "Name": "lead", "Value": touch.lead_id.as_str() },
            { "Name": "step", "Value": touch.step }
        ]
    })
}

/// The JSON description of a human task.
pub fn task_description(t: &HumanTask) -> Value {
    json!({
        "type": "human_task",
        "lead": t.lead.as_str(),
        "channel": t.channel.as_str(),
        "title": t.title,
        "instructions": t.instructions,
        "contact": t.contact,
    })
}

/// The JSON description of a newsletter handoff (with the SESv2 `CreateContact` input when an address is known).
pub fn newsletter_description(n: &NewsletterHandoff) -> Value {
    let contact = n.email.as_ref().map(|e| {
        json!({
            "ContactListName": n.list,
            "EmailAddress": e,
            "TopicPreferences": [{ "TopicName": n.topic, "SubscriptionStatus": "OPT_IN" }],
            "UnsubscribeAll": false
        })
    });
    json!({
        "type": "newsletter_handoff",
        "lead": n.lead.as_str(),
        "list": n.list,
        "topic": n.topic,
        "contact": contact,
    })
}

#[async_trait]
impl ChannelSender for RecordingSink {
    async fn send_dm(&self, touch: &TouchRef, msg: &DmMessage) -> Result<SendReceipt, SendFailure> {
        let tag = send_tag(touch);
        let req = build_tagged_request(msg, &self.graph, Some(&tag)).map_err(|e| {
            SendFailure::Permanent {
                reason: e.to_string(),
            }
        })?;
        let request = serde_json::to_value(&req).map_err(|e| SendFailure::Permanent {
            reason: e.to_string(),
        })?;
        self.push(touch, msg.channel.as_str(), request);
        let prefix = match msg.channel {
            cadence_core::ids::Channel::Whatsapp => "wamid.cadence.",
            _ => "mid.cadence.",
        };
        Ok(SendReceipt {
            provider_id: self.next_id(prefix),
        })
    }
}

#[async_trait]
impl EmailSender for RecordingSink {
    async fn send_email(
        &self,
        touch: &TouchRef,
        msg: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure> {
        self.push(touch, "email", ses_send_email_input(touch, msg));
        Ok(SendReceipt {
            provider_id: self.next_id("ses.cadence."),
        })
    }
}

#[async_trait]
impl TaskSink for RecordingSink {
    async fn create_task(
        &self,
        touch: &TouchRef,
        task: &HumanTask,
    ) -> Result<SendReceipt, SendFailure> {
        self.push(touch, "task", task_description(task));
        Ok(SendReceipt {
            provider_id: self.next_id("task.cadence."),
        })
    }
}

#[async_trait]
impl NewsletterSink for RecordingSink {
    async fn handoff(
        &self,
        touch: &TouchRef,
        h: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure> {
        self.push(touch, "newsletter", newsletter_description(h));
        Ok(SendReceipt {
            provider_id: self.next_id("contact.cadence."),
        })
    }
}

/// Notifications go to the log (stderr): kind, reason and a summary without personal data.
#[derive(Default)]
pub struct LogNotifier {
    pub sent: Mutex<Vec<Notification>>,
}

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), SendFailure> {
        tracing::info!(lead = %n.lead, kind = %n.kind, reason = %n.reason, summary = %n.summary, "notification");
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(n.clone());
        Ok(())
    }
}
