//! Ports: the small capability traits the application services need, implemented by embedded adapters here
//! and by AWS and Meta adapters in their own crates.

use crate::ids::LeadId;
use crate::lead::{AuditRecord, Lead, TouchRef};
use crate::outbound::{DmMessage, EmailMessage, HumanTask, NewsletterHandoff};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::time::Duration;

/// The current instant. Injected everywhere so tests and `cadence replay` run on a virtual clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time, for production and `cadence serve`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Why a store write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The inbound event was already processed (its dedupe claim exists). Nothing was written.
    #[error("inbound event already processed")]
    Duplicate,
    /// The lead changed since it was read (version mismatch) or already exists. Nothing was written; re-read
    /// and decide again.
    #[error("lead changed concurrently")]
    Conflict,
    /// The backend is throttling; safe to retry later.
    #[error("store throttled")]
    Throttled,
    #[error("store failure: {0}")]
    Unexpected(String),
}

/// A lead as read from the store, with the version the next write must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// One write to a lead: the new state, the version it was read at (`None` to create), the inbound event it
/// consumes (claimed in the same atomic write) and audit records.
#[derive(Debug, Clone)]
pub struct LeadWrite<'a> {
    pub lead: &'a Lead,
    pub expected_version: Option<u64>,
    pub inbound_claim: Option<&'a str>,
    pub audit: &'a [AuditRecord],
}

/// Durable lead state: one item per lead plus dedupe claims and an audit trail.
#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Reads a lead. `Ok(None)` when it does not exist.
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError>;

    /// Writes a lead atomically with its inbound claim and audit records. Returns the new version.
    /// `Duplicate` when the claim exists (the event was processed: nothing to do); `Conflict` when the version
    /// moved (re-read and retry). Either way nothing was written, so the call is safe to repeat.
    async fn save(&self, write: LeadWrite<'_>) -> Result<u64, StoreError>;

    /// Claims an inbound event that changes no lead (an ignored echo, an unknown user's status), so a retry is
    /// recognised. `Duplicate` when already claimed.
    async fn claim_inbound(&self, key: &str) -> Result<(), StoreError>;

    /// Leads with sweeper work (long-tail touches, deferral resumes, stale claims) due before `until`, oldest
    /// first, at most `limit`. Reads grow with due work, not with stored leads.
    async fn due_for_sweep(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadId>, StoreError>;

    /// The lead's audit trail, oldest first.
    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError>;

    /// Every lead id (operator listing and reports). Adapters may page internally.
    async fn list(&self) -> Result<Vec<LeadId>, StoreError>;

    /// Deletes the lead and everything stored about it. Idempotent.
    async fn delete(&self, id: &LeadId) -> Result<(), StoreError>;
}

/// Why a scheduling or queueing call failed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("throttled")]
    Throttled,
    #[error("invalid schedule: {0}")]
    Invalid(String),
    #[error("scheduling failure: {0}")]
    Unexpected(String),
}

/// One-off timers for touches more than 15 minutes away (EventBridge Scheduler in the cloud).
#[async_trait]
pub trait TouchScheduler: Send + Sync {
    /// Fires `touch` into the touch queue at `due`, shown in the lead's zone. Creating a timer that exists is
    /// success (idempotent by the touch's deterministic name).
    async fn schedule(
        &self,
        touch: &TouchRef,
        due: DateTime<Utc>,
        tz: Tz,
    ) -> Result<(), ScheduleError>;

    /// Removes the timer. Removing one that does not exist (fired, deleted) is success.
    async fn cancel(&self, touch: &TouchRef) -> Result<(), ScheduleError>;
}

/// The queue the send worker drains (SQS in the cloud). Delivery is at least once.
#[async_trait]
pub trait TouchQueue: Send + Sync {
    /// Makes `touch` visible after `delay` (at most 15 minutes).
    async fn enqueue(&self, touch: &TouchRef, delay: Duration) -> Result<(), ScheduleError>;
}

/// How a send failed, as the engine needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// Throttling, 5xx, connection failures: safe to retry after the delay.
    #[error("retryable ({reason})")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The request may have reached the provider (a timeout after sending). Never repeated blindly.
    #[error("outcome unknown ({reason})")]
    Unknown { reason: String },
    /// Meta's messaging window is closed for this person.
    #[error("messaging window closed ({reason})")]
    WindowClosed { reason: String },
    /// The person cannot be reached (blocked, deactivated, not on WhatsApp).
    #[error("recipient unreachable ({reason})")]
    Unreachable { reason: String },
    /// The person opted out of these messages (WhatsApp 131050).
    #[error("recipient opted out ({reason})")]
    OptedOut { reason: String },
    /// The access token is invalid or expired: nothing will send until an operator fixes it.
    #[error("authentication failed ({reason})")]
    Auth { reason: String },
    /// Any other rejection: recorded, not retried.
    #[error("rejected ({reason})")]
    Permanent { reason: String },
}

impl SendFailure {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendFailure::Retryable { .. })
    }

    /// A short machine-readable reason for audit records and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SendFailure::Retryable { .. } => "retryable",
            SendFailure::Unknown { .. } => "unknown_outcome",
            SendFailure::WindowClosed { .. } => "window_closed",
            SendFailure::Unreachable { .. } => "unreachable",
            SendFailure::OptedOut { .. } => "opted_out",
            SendFailure::Auth { .. } => "auth",
            SendFailure::Permanent { .. } => "permanent",
        }
    }
}

/// What a provider returned for an accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// Meta `message_id` / WhatsApp `wamid` / SES message id / task or contact id.
    pub provider_id: String,
}

/// Sends DMs on Instagram, Messenger and WhatsApp (the Graph API in production).
#[async_trait]
pub trait ChannelSender: Send + Sync {
    /// One attempt; no retries inside. Meta has no idempotency key, so callers claim the touch first. `touch`
    /// identifies the send (Messenger `metadata`, WhatsApp `biz_opaque_callback_data`) so echoes and statuses
    /// can be matched to it.
    async fn send_dm(&self, touch: &TouchRef, msg: &DmMessage) -> Result<SendReceipt, SendFailure>;
}

/// Sends email touches (SESv2 in production).
#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send_email(
        &self,
        touch: &TouchRef,
        msg: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure>;
}

/// Hands work to people: human tasks (long-tail engagement, booking confirmations) and handoff notices.
#[async_trait]
pub trait TaskSink: Send + Sync {
    async fn create_task(
        &self,
        touch: &TouchRef,
        task: &HumanTask,
    ) -> Result<SendReceipt, SendFailure>;
}

/// The end of a cadence: moves a lead to the quarterly newsletter (an SESv2 contact list in production).
#[async_trait]
pub trait NewsletterSink: Send + Sync {
    async fn handoff(
        &self,
        touch: &TouchRef,
        handoff: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure>;
}

/// Tells people about handoffs and bookings (an EventBridge bus or a signed HTTP webhook in production).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Best effort: a failure is logged by the caller and does not undo the decision.
    async fn notify(&self, n: &crate::engine::Notification) -> Result<(), SendFailure>;
}
