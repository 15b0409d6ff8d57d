//! Outbound deliveries: what the engine decides to send, before a platform layer turns it into a request.

use crate::ids::{Channel, LeadId};
use serde::{Deserialize, Serialize};

/// One thing to deliver for a touch. A touch yields one or more deliveries on one channel (a value drop is a
/// text followed by its voice note).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delivery {
    /// A direct message on the lead's own channel.
    Dm(DmMessage),
    Email(EmailMessage),
    Task(HumanTask),
    Newsletter(NewsletterHandoff),
}

impl Delivery {
    /// The channel name used in `cadence replay` output and metrics.
    pub fn channel_name(&self) -> &'static str {
        match self {
            Delivery::Dm(m) => m.channel.as_str(),
            Delivery::Email(_) => "email",
            Delivery::Task(_) => "task",
            Delivery::Newsletter(_) => "newsletter",
        }
    }
}

/// Who a DM goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Recipient {
    /// IGSID or PSID.
    Id(String),
    /// WhatsApp number in international format without `+` (`wa_id`).
    Phone(String),
    /// WhatsApp business-scoped user id, for users whose number Meta withholds.
    Bsuid(String),
    /// An Instagram comment: the one private reply Meta allows per comment.
    Comment(String),
}

/// Why Meta should accept a Messenger message (its `messaging_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagingType {
    /// A reply to something the person just did.
    Response,
    /// A proactive message inside the 24-hour window.
    Update,
    /// A human agent's message, allowed up to 7 days after the person's last message. Never automated.
    HumanAgent,
}

/// A direct message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DmMessage {
    pub channel: Channel,
    /// Business-side id the message is sent from (IG account id, Page id, WhatsApp phone number id).
    pub from: String,
    pub to: Recipient,
    pub messaging_type: MessagingType,
    pub body: DmBody,
}

/// The content of a DM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DmBody {
    /// Plain text, optionally with choices (quick replies, WhatsApp buttons or list rows).
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        choices: Vec<Choice>,
        /// The title of the WhatsApp list button when choices are sent as a list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list_button: Option<String>,
    },
    /// A media file by URL.
    Media {
        kind: MediaKind,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// A pre-approved WhatsApp template, the only content allowed outside the 24-hour window.
    Template {
        name: String,
        language: String,
        /// Body parameters, in order.
        params: Vec<String>,
    },
}

/// A choice offered to the lead. `id` comes back as the quick-reply payload or button/list reply id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
    Image,
    Document,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Image => "image",
            MediaKind::Document => "document",
        }
    }
}

/// An email touch (sent through SESv2 in the cloud).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// `List-Unsubscribe` header value (a mailto: or https: URL), when the account configures one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_unsubscribe: Option<String>,
}

/// Work for a person: engage with the lead's content, call them back, confirm a booking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanTask {
    pub lead: LeadId,
    pub channel: Channel,
    pub title: String,
    pub instructions: String,
    /// Where the person can be reached (handle or number), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// The end of the cadence: the lead moves to the quarterly newsletter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsletterHandoff {
    pub lead: LeadId,
    pub list: String,
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
