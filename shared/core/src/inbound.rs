//! Inbound events: what the platform layer hands to the engine after parsing a webhook.

use crate::ids::{Channel, UserRef};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One normalised inbound event: one item of a Meta webhook body (a `messaging[]` item, a `changes[]` item, a
/// WhatsApp message, status or preference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// Idempotency key: `mid`, `wamid`, comment id, or for items without one a key derived from the item
    /// (`read:<user>:<watermark>`, `status:<wamid>:<status>` …). Two deliveries of one item share it.
    pub dedupe_key: String,
    pub channel: Channel,
    /// The business side: Instagram account id, Facebook Page id or WhatsApp phone number id.
    pub account: String,
    /// The person on the other side.
    pub user: UserRef,
    /// When it happened, by Meta's timestamp.
    pub at: DateTime<Utc>,
    /// The profile name when the platform gave one (WhatsApp `contacts[].profile.name`, comment username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    pub kind: InboundKind,
}

/// What happened. Kinds the platform layer does not understand arrive as `Unknown` and change nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundKind {
    /// A message the person wrote: text, attachments, a tapped quick reply or button, a story reply.
    Message(Message),
    /// The person tapped a postback button (Get Started, ice breaker, template or menu button).
    Postback {
        title: Option<String>,
        payload: Option<String>,
        referral: Option<Referral>,
    },
    /// The person mentioned the business in their story. Opens a window; does not start a cadence.
    StoryMention,
    /// The person unsent one of their messages.
    Deleted { mid: String },
    /// The person reacted to (or un-reacted from) one of our messages.
    Reaction {
        mid: Option<String>,
        emoji: Option<String>,
        unreact: bool,
    },
    /// The person read our messages (Instagram `read.mid`, Messenger watermark, WhatsApp `read` status).
    Read { mid: Option<String> },
    /// Our message reached the person's device (Messenger delivery, WhatsApp `delivered` status).
    Delivered { mid: Option<String> },
    /// WhatsApp `sent` / `played` statuses and other acknowledgements that carry no signal for the cadence.
    Acknowledged { mid: Option<String>, status: String },
    /// One of our sends failed after Meta accepted it (WhatsApp `failed` status).
    SendFailed {
        mid: Option<String>,
        code: Option<i64>,
        title: Option<String>,
    },
    /// An m.me / ig.me link or ad opened an existing thread without a message.
    Referral(Referral),
    /// A comment on one of the business's posts (Instagram `comments` field).
    Comment {
        comment_id: String,
        text: String,
        media_id: Option<String>,
    },
    /// A message sent from the business side. `app_id`/`metadata` tell our sends from a human in the inbox.
    Echo {
        mid: Option<String>,
        app_id: Option<String>,
        metadata: Option<String>,
    },
    /// WhatsApp `user_preferences`: the person stopped (or resumed) marketing messages.
    Preference { stop: bool },
    /// Anything else Meta sends us; logged by kind and skipped.
    Unknown { kind: String },
}

/// A message the person wrote.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Quick-reply payload, WhatsApp button/list reply id or template button payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Attachment kinds (`image`, `audio`, `share`, …); URLs are not kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// The message answers one of the person's stories.
    #[serde(default)]
    pub story_reply: bool,
    /// The message carried no usable content (`is_unsupported`, WhatsApp `unsupported`).
    #[serde(default)]
    pub unsupported: bool,
    /// Ad or link context (Click-to-Direct, Click-to-WhatsApp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

/// Where a conversation came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Referral {
    /// `ADS`, `SHORTLINK`, WhatsApp `source_type` (`ad`, `post`) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    /// Ad title or headline, used as the lead's topic when nothing better is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

impl InboundKind {
    /// A short, stable name for logs and metrics.
    pub fn name(&self) -> &str {
        match self {
            InboundKind::Message(_) => "message",
            InboundKind::Postback { .. } => "postback",
            InboundKind::StoryMention => "story_mention",
            InboundKind::Deleted { .. } => "deleted",
            InboundKind::Reaction { .. } => "reaction",
            InboundKind::Read { .. } => "read",
            InboundKind::Delivered { .. } => "delivered",
            InboundKind::Acknowledged { .. } => "acknowledged",
            InboundKind::SendFailed { .. } => "send_failed",
            InboundKind::Referral(_) => "referral",
            InboundKind::Comment { .. } => "comment",
            InboundKind::Echo { .. } => "echo",
            InboundKind::Preference { .. } => "preference",
            InboundKind::Unknown { kind } => kind,
        }
    }

    /// Events the person initiated: these open or extend Meta's 24-hour messaging window.
    pub fn opens_window(&self) -> bool {
        matches!(
            self,
            InboundKind::Message(_)
                | InboundKind::Postback { .. }
                | InboundKind::StoryMention
                | InboundKind::Reaction { unreact: false, .. }
                | InboundKind::Referral(_)
        )
    }
}
