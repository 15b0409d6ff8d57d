//! The lead: everything Cadence remembers about one person on one channel of one account.

use crate::ids::{Channel, LeadId, UserRef};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a lead is in its life. `Booked`, `OptedOut`, `Finished` and `Newsletter` are terminal for the current
/// cadence run: nothing automated is sent in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    /// Asked for later ("send me something in October"); `paused_until` says when to re-open.
    Paused,
    /// A human has the thread; automation waits.
    HandedOff,
    Booked,
    OptedOut,
    /// The cadence ran out or the person cannot be reached.
    Finished,
    /// Handed to the quarterly newsletter.
    Newsletter,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Booked | Status::OptedOut | Status::Finished | Status::Newsletter
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Paused => "paused",
            Status::HandedOff => "handed_off",
            Status::Booked => "booked",
            Status::OptedOut => "opted_out",
            Status::Finished => "finished",
            Status::Newsletter => "newsletter",
        }
    }
}

/// What kind of touch a planned touch is; decides timing rules and who fires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    /// An answer to something the lead just did (steps 1–4, opt-out confirmation, deferral acknowledgement).
    /// Sent at once, never held for quiet hours.
    Direct,
    /// A follow-up when the lead went quiet (+4 h, +23 h). Quiet hours and the 4-hour spacing apply.
    NoReply,
    /// A long-tail touch (+7/+14/+30 days), fired through the sweeper.
    LongTail,
    /// The one touch that re-opens a paused lead, fired through the sweeper.
    Reopen,
    /// The end action (newsletter handoff), fired through the sweeper.
    End,
}

impl TouchKind {
    /// Touches the sweeper fires (from the due index) rather than a one-off timer.
    pub fn via_sweeper(self) -> bool {
        matches!(
            self,
            TouchKind::LongTail | TouchKind::Reopen | TouchKind::End
        )
    }

    /// Touches that reach out unprompted: counted against the cadence's touch limit and spaced ≥ 4 h.
    pub fn is_proactive(self) -> bool {
        !matches!(self, TouchKind::Direct)
    }
}

/// Progress of a planned touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TouchState {
    Planned,
    /// Claimed by a send worker at `since`; a second worker or a redelivery finds it claimed and drops it.
    Sending {
        since: DateTime<Utc>,
    },
}

/// The one touch a lead is waiting on. There is at most one at a time: every touch plans its successor when it
/// is done, and every inbound message replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTouch {
    /// The plan generation; bumped whenever the pending touch is cancelled, so old timers are recognised.
    pub plan: u32,
    /// Step id from the cadence file (`qualify`, `follow_up_1`, `day_7`, `newsletter` …).
    pub step: String,
    pub kind: TouchKind,
    pub due: DateTime<Utc>,
    /// For follow-ups: the main step the lead stalled after; picks the follow-up's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<String>,
    #[serde(flatten)]
    pub state: TouchState,
    /// The delivery path chosen when the touch was claimed (`dm`, `template`, `email`, `task`, `newsletter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Retryable send failures so far; the engine gives the touch up after
    /// [`MAX_SEND_ATTEMPTS`](crate::engine::MAX_SEND_ATTEMPTS) tries, however often transports redeliver it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Provider ids of the parts of a multi-part touch (text, then a file) that already went out before a
    /// retryable failure: a retry sends only the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The message a queue or timer carries: enough to find the touch, nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TouchRef {
    /// Payload format version.
    pub v: u8,
    pub lead_id: LeadId,
    pub plan: u32,
    pub step: String,
}

impl TouchRef {
    pub fn new(lead_id: LeadId, plan: u32, step: impl Into<String>) -> Self {
        Self {
            v: 1,
            lead_id,
            plan,
            step: step.into(),
        }
    }

    /// A deterministic name (≤ 64 characters of `[0-9A-Za-z_.-]`) for the touch's timer: the same touch always
    /// gets the same name, so creating it twice is harmless.
    pub fn schedule_name(&self) -> String {
        let step: String = self
            .step
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        format!("{}-p{}-{}", self.lead_id, self.plan, step)
    }
}

/// One touch that went out (or was decided and skipped), kept for de-duplication and echo recognition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentTouch {
    /// The plan generation the touch belonged to (0 in records written before it was kept).
    #[serde(default)]
    pub plan: u32,
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<String>,
    pub at: DateTime<Utc>,
    /// `dm`, `template`, `email`, `task`, `newsletter`, or `skipped`.
    pub path: String,
    /// Provider message ids (Meta `message_id`/`wamid`), to recognise our own echoes and read receipts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_ids: Vec<String>,
}

/// A lead's touch history: shared between copies of the lead until one of them changes it, so the copy the
/// engine makes of every lead it decides about does not copy the history (it only grows when a touch is done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History(std::sync::Arc<Vec<SentTouch>>);

// As a plain list (serde's `rc` feature would do the same for every crate in the build).
impl Serialize for History {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::deserialize(d).map(History::from)
    }
}

impl History {
    pub fn push(&mut self, t: SentTouch) {
        std::sync::Arc::make_mut(&mut self.0).push(t);
    }

    pub fn clear(&mut self) {
        if !self.0.is_empty() {
            self.0 = Default::default();
        }
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, SentTouch> {
        std::sync::Arc::make_mut(&mut self.0).iter_mut()
    }
}

impl std::ops::Deref for History {
    type Target = [SentTouch];
    fn deref(&self) -> &[SentTouch] {
        &self.0
    }
}

impl From<Vec<SentTouch>> for History {
    fn from(v: Vec<SentTouch>) -> Self {
        History(std::sync::Arc::new(v))
    }
}

impl<'h> IntoIterator for &'h History {
    type Item = &'h SentTouch;
    type IntoIter = std::slice::Iter<'h, SentTouch>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'h> IntoIterator for &'h mut History {
    type Item = &'h mut SentTouch;
    type IntoIter = std::slice::IterMut<'h, SentTouch>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// How the lead first reached us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    /// A DM, story reply, postback or link into the thread.
    Message,
    /// A keyword comment; the opener goes out as the comment's one private reply.
    Comment { comment_id: String },
    /// A message from an ad (Click-to-Direct, Click-to-WhatsApp).
    Ad,
}

/// Everything we keep about a lead. Personal fields (`name`, `email`, `user`) never go to logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub id: LeadId,
    /// Account key from the accounts config.
    pub account: String,
    pub channel: Channel,
    /// Business-side id we send from (IG account id, Page id, WhatsApp phone number id).
    pub business_id: String,
    pub user: UserRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The lead's time zone: quiet hours and slot labels use it.
    pub tz: Tz,
    /// Cadence id from the cadence files.
    pub cadence: String,
    pub status: Status,
    pub origin: Origin,
    /// What the lead reached out about (ad headline, keyword), for `{topic}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The last main step sent (`opener` … `call_ask`); `None` before the opener goes out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Answers by step id (`qualify` → `b`).
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// A/B arm by step id (`opener` → `b`) for steps under test in this run: sticky once chosen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ab: BTreeMap<String, String>,
    /// Call slots offered, in order (1-based in what the lead sees).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered_slots: Vec<DateTime<Utc>>,
    /// Start of the current cadence run (long-tail touches count from here).
    pub first_contact_at: DateTime<Utc>,
    /// Last user-initiated event of any kind (Instagram/Messenger window anchor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Last message the lead wrote (WhatsApp window anchor; replies end "unanswered" streaks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<DateTime<Utc>>,
    /// Last touch that reached out unprompted (spacing rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_proactive_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// Proactive touches sent in this run (capped by the cadence's `max_touches`).
    #[serde(default)]
    pub proactive_count: u32,
    /// Plan generation (see [`PlannedTouch::plan`]).
    pub plan: u32,
    /// The touch the lead is waiting on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<PlannedTouch>,
    /// Touches done in this run, oldest first.
    #[serde(default)]
    pub sent: History,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// What the lead asked to be contacted after ("October"), for `{deferral}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferral_label: Option<String>,
    /// Meta reported the window closed at this instant (authoritative over our own computation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_closed_at: Option<DateTime<Utc>>,
    /// The slot the lead booked, when booked in the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked_slot: Option<DateTime<Utc>>,
    /// Why the lead is in its status (`slot_picked`, `stop_keyword`, `human_echo` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at: Option<DateTime<Utc>>,
    /// Cadence runs started for this lead (a newsletter lead who writes again starts another).
    #[serde(default)]
    pub run: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Lead {
    /// The touch reference for the pending touch, if any.
    pub fn next_ref(&self) -> Option<TouchRef> {
        self.next
            .as_ref()
            .map(|t| TouchRef::new(self.id.clone(), t.plan, t.step.clone()))
    }

    /// Was this provider message id one of ours?
    pub fn sent_provider_id(&self, id: &str) -> bool {
        self.sent
            .iter()
            .any(|s| s.provider_ids.iter().any(|p| p == id))
    }
}

/// One line of a lead's audit trail: what came in, what was decided and why, what went out. Holds reasons and
/// step ids, never message text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    /// `inbound`, `planned`, `cancelled`, `sent`, `skipped`, `dropped`, `failed`, `status`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Machine-readable reason or detail (`reply`, `quiet_hours`, `window_closed`, `slot_picked` …).
    pub detail: String,
}

impl AuditRecord {
    pub fn new(
        at: DateTime<Utc>,
        kind: &str,
        step: Option<&str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            at,
            kind: kind.to_string(),
            step: step.map(str::to_string),
            detail: detail.into(),
        }
    }
}
