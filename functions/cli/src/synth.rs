//! Meta-shaped webhook bodies for the demo, `preview` and tests, in the shapes Meta documents.

use cadence_core::chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Ids used by the demo and preview account.
pub const DEMO_IG_ID: &str = "17841400000000001";
pub const DEMO_PAGE_ID: &str = "102030405060708";
pub const DEMO_WA_PHONE_ID: &str = "106540352242922";

/// What a lead does in a synthetic conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Writes a message (text, or a tapped quick reply / button when `payload` is set).
    Say {
        text: String,
        payload: Option<String>,
    },
    /// Reads our last message.
    Read,
    /// Reacts to our last message.
    React,
    /// Comments on a post (Instagram).
    Comment { text: String },
}

/// A synthetic lead on one channel.
#[derive(Debug, Clone)]
pub struct Persona {
    pub channel: cadence_core::ids::Channel,
    /// IGSID, PSID or WhatsApp number.
    pub user: String,
    pub name: String,
}

/// The webhook body for `action` by `who` at `at`; `n` makes message ids unique.
pub fn body(who: &Persona, action: &Action, at: DateTime<Utc>, n: usize) -> Value {
    use cadence_core::ids::Channel::*;
    let ms = at.timestamp_millis();
    match (who.channel, action) {
        (Whatsapp, _) => whatsapp(who, action, at, n),
        (Instagram, Action::Comment { text }) => json!({
            "object": "instagram",
            "entry": [{ "id": DEMO_IG_ID, "time": at.timestamp(), "changes": [{ "field": "comments", "value": {
                "id": format!("1789{n:011}"),
                "from": { "id": who.user, "username": who.name.to_lowercase() },
                "text": text,
                "media": { "id": "18000000000000001", "media_product_type": "REELS" }
            }}]}]
        }),
        (channel, action) => {
            let (object, business) = if channel == Instagram {
                ("instagram", DEMO_IG_ID)
            } else {
                ("page", DEMO_PAGE_ID)
            };
            let mut item = json!({ "sender": { "id": who.user }, "recipient": { "id": business }, "timestamp": ms });
            match action {
                Action::Say { text, payload } => {
                    let mut m = json!({ "mid": format!("m_demo_{n}"), "text": text });
                    if let Some(p) = payload {
                        m["quick_reply"] = json!({ "payload": p });
                    }
                    item["message"] = m;
                }
                Action::Read if channel == Instagram => {
                    item["read"] = json!({ "mid": format!("m_ours_{n}") })
                }
                Action::Read => item["read"] = json!({ "watermark": ms }),
                Action::React => {
                    item["reaction"] = json!({ "mid": format!("m_ours_{n}"), "action": "react", "reaction": "love", "emoji": "❤️" })
                }
                Action::Comment { .. } => {}
            }
            json!({ "object": object, "entry": [{ "id": business, "time": ms, "messaging": [item] }] })
        }
    }
}

fn whatsapp(who: &Persona, action: &Action, at: DateTime<Utc>, n: usize) -> Value {
    let ts = at.timestamp().to_string();
    let metadata =
        json!({ "display_phone_number": "15550783881", "phone_number_id": DEMO_WA_PHONE_ID });
    let value = match action {
        Action::Read => json!({
            "messaging_product": "whatsapp",
            "metadata": metadata,
            "statuses": [{ "id": format!("wamid.ours.{n}"), "status": "read", "timestamp": ts, "recipient_id": who.user }]
        }),
        other => {
            let mut m =
                json!({ "from": who.user, "id": format!("wamid.demo.{n}"), "timestamp": ts });
            match other {
                Action::Say {
                    text,
                    payload: Some(p),
                } => {
                    m["type"] = json!("interactive");
                    m["interactive"] = json!({ "type": "button_reply", "button_reply": { "id": p, "title": text } });
                }
                Action::Say {
                    text,
                    payload: None,
                }
                | Action::Comment { text } => {
                    m["type"] = json!("text");
                    m["text"] = json!({ "body": text });
                }
                _ => {
                    m["type"] = json!("reaction");
                    m["reaction"] =
                        json!({ "message_id": format!("wamid.ours.{n}"), "emoji": "👍" });
                }
            }
            json!({
                "messaging_product": "whatsapp",
                "metadata": metadata,
                "contacts": [{ "profile": { "name": who.name }, "wa_id": who.user }],
                "messages": [m]
            })
        }
    };
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": value }] }]
    })
}
