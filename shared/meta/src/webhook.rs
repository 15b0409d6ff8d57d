//! Webhook bodies → [`InboundEvent`]s.
//!
//! Parsing is lenient on purpose. Meta batches up to 1000 updates per POST and retries a failed POST for hours
//! (days on WhatsApp), so one item we cannot read must not cost the valid items beside it, and must not turn
//! into an error that makes Meta redeliver the whole batch. Each item is read from a generic JSON tree on its
//! own; an unreadable one becomes a [`Skipped`] record carrying only its kind and a fixed reason (never text,
//! names or numbers), so it can be logged and counted.
//!
//! The tree is [`Json`], not [`serde_json::Value`]: it borrows every string and key from the body and keeps an
//! object's members in a plain vector. `Value` (with the workspace's `preserve_order`) allocates a `String` per
//! key and per string and builds a SipHash index per object, which made parsing ten times the cost of the
//! signature check. Typed `#[derive(Deserialize)]` structs would be faster still, but one field of an
//! unexpected type fails the whole body, which is exactly what this module must never do.
//!
//! Meta does not promise order within or across batches, so events come back sorted by their timestamp
//! (stable: ties keep body order). Dedupe keys are derived only from the item itself, so a redelivered item
//! gets the same key.

use std::borrow::Cow;
use std::fmt;

use cadence_core::chrono::{DateTime, Utc};
use cadence_core::ids::{Channel, UserRef};
use cadence_core::inbound::{InboundEvent, InboundKind, Message, Referral};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::Number;

use crate::MetaError;

/// The outcome of parsing one webhook body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Parsed {
    /// Every readable item, sorted by `at` (stable).
    pub events: Vec<InboundEvent>,
    /// Items (or whole objects/fields) that were not turned into events, for logs and metrics.
    pub skipped: Vec<Skipped>,
}

/// An item that produced no event. Carries no personal data: `kind` is where it was found (`instagram.messaging`,
/// `whatsapp.status`, a field name) and `reason` is one of a fixed set of phrases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub kind: String,
    pub reason: String,
}

impl Skipped {
    fn new(kind: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            reason: reason.into(),
        }
    }
}

type Item = Result<InboundEvent, Skipped>;

impl Parsed {
    fn push(&mut self, item: Item) {
        match item {
            Ok(event) => self.events.push(event),
            Err(skipped) => self.skipped.push(skipped),
        }
    }
}

/// Parses a webhook POST body (already signature-checked) into events.
///
/// Only a body that is not a JSON object is an error ([`MetaError::Malformed`]): it can never become readable,
/// and the handler should still answer 200 so Meta stops retrying. An unknown `object`, unknown fields and
/// unreadable items are reported in [`Parsed::skipped`].
pub fn parse_webhook(body: &[u8]) -> Result<Parsed, MetaError> {
    // One UTF-8 check over the whole body is cheaper than serde_json's check of every string in it. A body
    // that fails it goes through `from_slice`, which reports the first bad byte at the same position as before.
    let root: Result<Json<'_>, _> = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    let root = root.map_err(|e| {
        // serde_json's syntax errors carry a position, never the offending text.
        MetaError::Malformed(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !root.is_object() {
        return Err(MetaError::Malformed("body is not a JSON object".to_owned()));
    }

    let mut parsed = Parsed::default();
    let object = root.get("object").and_then(Json::as_str);
    let channel = match object {
        Some("instagram") => Channel::Instagram,
        Some("page") => Channel::Messenger,
        Some("whatsapp_business_account") => Channel::Whatsapp,
        other => {
            let kind = format!("object:{}", other.map_or("missing".to_owned(), label));
            parsed
                .skipped
                .push(Skipped::new(kind, "object not handled"));
            return Ok(parsed);
        }
    };
    let Some(entries) = root.get("entry").and_then(Json::as_array) else {
        parsed
            .skipped
            .push(Skipped::new(channel.as_str(), "no entry array"));
        return Ok(parsed);
    };
    for entry in entries {
        match channel {
            Channel::Instagram | Channel::Messenger => messaging_entry(channel, entry, &mut parsed),
            Channel::Whatsapp => whatsapp_entry(entry, &mut parsed),
        }
    }
    // Stable: items with the same timestamp keep the order Meta sent them in.
    parsed.events.sort_by_key(|event| event.at);
    tracing::debug!(
        channel = channel.as_str(),
        events = parsed.events.len(),
        skipped = parsed.skipped.len(),
        "webhook parsed"
    );
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------------------------
// The JSON tree

/// Any JSON value, borrowing its strings from the body (escaped strings, which must be unescaped, are the only
/// ones copied).
///
/// It reads like [`serde_json::Value`] with `preserve_order`, on purpose: numbers are [`serde_json::Number`]s
/// produced by the same visitor calls, members stay in body order, and when a key repeats, lookups see the last
/// value (as `Value` does) while [`Json::keys`] still yields the key where it first appeared.
#[derive(Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in body order, repeated keys included. Lookups are linear: Meta's objects have a handful of
    /// members, and a linear scan of a few borrowed keys beats hashing them.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// What a missing part reads as.
const NULL: &Json<'static> = &Json::Null;

impl<'a> Json<'a> {
    /// The member `key` of an object (the last one if the key repeats); `None` for other values.
    fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// An object's keys in body order; nothing for other values. A repeated key appears more than once.
    fn keys(&self) -> impl Iterator<Item = &str> {
        let members: &[(Cow<'a, str>, Json<'a>)] = match self {
            Json::Object(members) => members,
            _ => &[],
        };
        members.iter().map(|(k, _)| k.as_ref())
    }

    fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => n.as_i64(),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Builds a [`Json`] from whatever the deserializer finds, mirroring `serde_json::Value`'s own visitor.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((Key(key), value)) = map.next_entry()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

/// An object key, borrowed from the body unless it had escapes. (`Cow<str>`'s own `Deserialize` always copies.)
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Value helpers

/// A non-empty string, or an integer (Meta ids are strings, but some older payloads send numbers). Borrowed
/// when it is a string, so comparing ids costs no allocation.
fn text_or_int_ref<'v>(value: &'v Json<'_>) -> Option<Cow<'v, str>> {
    match value {
        Json::String(s) if !s.is_empty() => Some(Cow::Borrowed(s)),
        Json::Number(n) if n.is_u64() || n.is_i64() => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn text_or_int(value: &Json<'_>) -> Option<String> {
    text_or_int_ref(value).map(Cow::into_owned)
}

fn str_at<'v>(value: &'v Json<'_>, key: &str) -> Option<&'v str> {
    value
        .get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

fn string_at(value: &Json<'_>, key: &str) -> Option<String> {
    str_at(value, key).map(str::to_owned)
}

fn id_at(value: &Json<'_>, key: &str) -> Option<String> {
    value.get(key).and_then(text_or_int)
}

fn is_true(value: &Json<'_>, key: &str) -> bool {
    value.get(key).and_then(Json::as_bool) == Some(true)
}

fn integer(value: &Json<'_>) -> Option<i64> {
    match value {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Instagram and Messenger send milliseconds; entry `time` on comments and the dashboard's test payloads send
/// seconds. No real instant in seconds exceeds 1e12 (year 33658), so the magnitude tells them apart.
fn instant_auto(value: &Json<'_>) -> Option<DateTime<Utc>> {
    let n = integer(value).filter(|n| *n > 0)?;
    if n > 1_000_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

/// WhatsApp timestamps: a string (or, in `user_preferences`, a number) of Unix seconds.
fn instant_secs(value: &Json<'_>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(integer(value).filter(|n| *n > 0)?, 0)
}

/// A field or key name safe to use as a `kind`: Meta's names are short snake_case; anything else (fuzzed or
/// hostile input) collapses to `other`.
fn label(name: &str) -> String {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if ok {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Instagram and Messenger

/// Keys of a messaging item that say what happened, in the order they are checked.
const MESSAGING_KINDS: [&str; 6] = [
    "message", "postback", "reaction", "read", "delivery", "referral",
];
/// Keys every messaging item has that are not a kind.
const MESSAGING_ENVELOPE: [&str; 3] = ["sender", "recipient", "timestamp"];

fn messaging_entry(channel: Channel, entry: &Json<'_>, out: &mut Parsed) {
    let ch = channel.as_str();
    if !entry.is_object() {
        out.skipped.push(Skipped::new(ch, "entry is not an object"));
        return;
    }
    let Some(account) = id_at(entry, "id") else {
        out.skipped.push(Skipped::new(ch, "entry without id"));
        return;
    };
    // Items in `standby` are the same shapes, delivered while another app owns the thread.
    for list in ["messaging", "standby"] {
        match entry.get(list) {
            None => {}
            Some(Json::Array(items)) => {
                for item in items {
                    out.push(messaging_item(channel, &account, item, list));
                }
            }
            Some(_) => out
                .skipped
                .push(Skipped::new(format!("{ch}.{list}"), "not an array")),
        }
    }
    match entry.get("changes") {
        None => {}
        Some(Json::Array(changes)) => {
            for change in changes {
                out.push(change_item(channel, &account, entry, change));
            }
        }
        Some(_) => out
            .skipped
            .push(Skipped::new(format!("{ch}.changes"), "not an array")),
    }
    // Meta's Instagram-Login comment example puts `field`/`value` directly under the entry.
    if entry.get("field").is_some() && entry.get("value").is_some() {
        out.push(change_item(channel, &account, entry, entry));
    }
}

fn messaging_item(channel: Channel, account: &str, item: &Json<'_>, list: &str) -> Item {
    // Built only when the item is skipped: most items are fine, and this runs once per item.
    let skip = |reason: &str| Skipped::new(format!("{}.{list}", channel.as_str()), reason);
    if !item.is_object() {
        return Err(skip("item is not an object"));
    }
    let at = item
        .get("timestamp")
        .and_then(instant_auto)
        .ok_or_else(|| skip("missing or invalid timestamp"))?;
    let ms = at.timestamp_millis();
    let sender = item.get("sender").and_then(|s| id_at(s, "id"));
    let recipient = item.get("recipient").and_then(|r| id_at(r, "id"));
    let event = |dedupe_key: String, user: String, kind: InboundKind| InboundEvent {
        dedupe_key,
        channel,
        account: account.to_owned(),
        user: UserRef::id(user),
        at,
        profile_name: None,
        kind,
    };

    if let Some(message) = item.get("message") {
        if !message.is_object() {
            return Err(skip("message is not an object"));
        }
        let mid = string_at(message, "mid");
        if is_true(message, "is_echo") {
            // An echo is the business talking: the person is the recipient.
            let user = recipient.ok_or_else(|| skip("echo without recipient"))?;
            let key = match &mid {
                Some(mid) => format!("mid:{mid}"),
                None => format!("echo:{user}:{ms}"),
            };
            let kind = InboundKind::Echo {
                mid,
                app_id: message.get("app_id").and_then(text_or_int),
                metadata: string_at(message, "metadata"),
            };
            return Ok(event(key, user, kind));
        }
        let user = sender.ok_or_else(|| skip("missing sender"))?;
        let mid = mid.ok_or_else(|| skip("message without mid"))?;
        if is_true(message, "is_deleted") {
            // Not `mid:` — the deletion shares its mid with the message it removes.
            return Ok(event(
                format!("deleted:{mid}"),
                user,
                InboundKind::Deleted { mid },
            ));
        }
        return Ok(event(format!("mid:{mid}"), user, message_kind(message)));
    }

    let user = sender.ok_or_else(|| skip("missing sender"))?;
    if let Some(postback) = item.get("postback") {
        let key = match str_at(postback, "mid") {
            Some(mid) => format!("mid:{mid}"),
            None => format!("postback:{user}:{ms}"),
        };
        let kind = InboundKind::Postback {
            title: string_at(postback, "title"),
            payload: string_at(postback, "payload"),
            referral: postback.get("referral").and_then(referral),
        };
        return Ok(event(key, user, kind));
    }
    if let Some(reaction) = item.get("reaction") {
        // The reaction's mid is the message reacted to (often ours), so it cannot be the key.
        let kind = InboundKind::Reaction {
            mid: string_at(reaction, "mid"),
            emoji: string_at(reaction, "emoji").or_else(|| string_at(reaction, "reaction")),
            unreact: reaction.get("action").and_then(Json::as_str) == Some("unreact"),
        };
        return Ok(event(format!("reaction:{user}:{ms}"), user, kind));
    }
    if let Some(read) = item.get("read") {
        let mark = read.get("watermark").and_then(integer).unwrap_or(ms);
        let kind = InboundKind::Read {
            mid: string_at(read, "mid"),
        };
        return Ok(event(format!("read:{user}:{mark}"), user, kind));
    }
    if let Some(delivery) = item.get("delivery") {
        let mark = delivery.get("watermark").and_then(integer).unwrap_or(ms);
        let first_mid = delivery
            .get("mids")
            .and_then(Json::as_array)
            .and_then(|mids| mids.first())
            .and_then(Json::as_str)
            .map(str::to_owned);
        return Ok(event(
            format!("delivery:{user}:{mark}"),
            user,
            InboundKind::Delivered { mid: first_mid },
        ));
    }
    if let Some(found) = item.get("referral") {
        let kind = InboundKind::Referral(referral(found).unwrap_or_default());
        return Ok(event(format!("referral:{user}:{ms}"), user, kind));
    }
    let kind = item
        .keys()
        .find(|key| !MESSAGING_ENVELOPE.contains(key) && !MESSAGING_KINDS.contains(key))
        .map_or_else(|| "empty".to_owned(), label);
    Ok(event(
        format!("{kind}:{user}:{ms}"),
        user,
        InboundKind::Unknown { kind },
    ))
}

fn message_kind(message: &Json<'_>) -> InboundKind {
    let attachments: Vec<String> = message
        .get("attachments")
        .and_then(Json::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| str_at(a, "type"))
                .map(label)
                .collect()
        })
        .unwrap_or_default();
    let text = string_at(message, "text");
    if text.is_none() && attachments.iter().any(|t| t == "story_mention") {
        return InboundKind::StoryMention;
    }
    InboundKind::Message(Message {
        text,
        payload: message
            .get("quick_reply")
            .and_then(|q| string_at(q, "payload")),
        attachments,
        story_reply: message
            .get("reply_to")
            .and_then(|r| r.get("story"))
            .is_some_and(|s| !s.is_null()),
        unsupported: is_true(message, "is_unsupported"),
        referral: message.get("referral").and_then(referral),
    })
}

/// Instagram/Messenger referral: `ref`, `source`, `ad_id` and the ad title from `ads_context_data`.
fn referral(value: &Json<'_>) -> Option<Referral> {
    if !value.is_object() {
        return None;
    }
    Some(Referral {
        source: string_at(value, "source"),
        ref_param: string_at(value, "ref"),
        ad_id: id_at(value, "ad_id"),
        headline: value
            .get("ads_context_data")
            .and_then(|ctx| string_at(ctx, "ad_title")),
    })
}

fn change_item(channel: Channel, account: &str, entry: &Json<'_>, change: &Json<'_>) -> Item {
    let ch = channel.as_str();
    let field = change
        .get("field")
        .and_then(Json::as_str)
        .ok_or_else(|| Skipped::new(format!("{ch}.changes"), "change without field"))?;
    let value = change
        .get("value")
        .filter(|v| v.is_object())
        .ok_or_else(|| Skipped::new(format!("{ch}.{}", label(field)), "change without value"))?;
    match (channel, field) {
        (Channel::Instagram, "comments" | "live_comments") => {
            comment(account, entry.get("time"), field, value)
        }
        // The dashboard's "Test" button wraps messaging items in `changes`; treat them like the real thing.
        _ if value.get("sender").is_some() => messaging_item(channel, account, value, "changes"),
        _ => Err(Skipped::new(
            format!("{ch}.{}", label(field)),
            "field not handled",
        )),
    }
}

fn comment(account: &str, entry_time: Option<&Json<'_>>, field: &str, value: &Json<'_>) -> Item {
    let skip = |reason: &str| Skipped::new(format!("instagram.{field}"), reason);
    let comment_id = id_at(value, "id")
        .or_else(|| id_at(value, "comment_id"))
        .ok_or_else(|| skip("comment without id"))?;
    let from = value.get("from");
    let user = from
        .and_then(|f| id_at(f, "id"))
        .ok_or_else(|| skip("comment without from.id"))?;
    // Our own public replies fire the same webhook; reacting to them would loop.
    if user == account {
        return Err(skip("own comment"));
    }
    let at = entry_time
        .and_then(instant_auto)
        .or_else(|| value.get("timestamp").and_then(instant_any))
        .ok_or_else(|| skip("missing or invalid timestamp"))?;
    Ok(InboundEvent {
        dedupe_key: format!("comment:{comment_id}"),
        channel: Channel::Instagram,
        account: account.to_owned(),
        user: UserRef::id(user),
        at,
        profile_name: from.and_then(|f| string_at(f, "username")),
        kind: InboundKind::Comment {
            comment_id,
            text: string_at(value, "text").unwrap_or_default(),
            media_id: value
                .get("media")
                .and_then(|m| id_at(m, "id"))
                .or_else(|| id_at(value, "media_id")),
        },
    })
}

/// A Unix timestamp (seconds or ms) or an RFC 3339 string, as comment values carry either.
fn instant_any(value: &Json<'_>) -> Option<DateTime<Utc>> {
    instant_auto(value).or_else(|| {
        value
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    })
}

// ---------------------------------------------------------------------------------------------------------
// WhatsApp

fn whatsapp_entry(entry: &Json<'_>, out: &mut Parsed) {
    let Some(changes) = entry.get("changes").and_then(Json::as_array) else {
        out.skipped
            .push(Skipped::new("whatsapp", "entry without changes"));
        return;
    };
    for change in changes {
        let field = change.get("field").and_then(Json::as_str);
        let value = change.get("value").filter(|v| v.is_object());
        match (field, value) {
            (Some("messages"), Some(value)) => whatsapp_messages(value, out),
            (Some("user_preferences"), Some(value)) => whatsapp_preferences(value, out),
            (Some(field), Some(_)) => out.skipped.push(Skipped::new(
                format!("whatsapp.{}", label(field)),
                "field not handled",
            )),
            _ => out.skipped.push(Skipped::new(
                "whatsapp.changes",
                "change without field or value",
            )),
        }
    }
}

fn as_slice<'v, 'a>(value: &'v Json<'a>, key: &str) -> &'v [Json<'a>] {
    value.get(key).and_then(Json::as_array).unwrap_or(&[])
}

fn phone_number_id(value: &Json<'_>) -> Option<String> {
    value
        .get("metadata")
        .and_then(|m| id_at(m, "phone_number_id"))
}

/// The profile name of the contact matching the user's `wa_id` or BSUID. `contacts` may be missing, hold only
/// `{wa_id}`, or lack `profile`.
fn contact_name(contacts: &[Json<'_>], user: &UserRef) -> Option<String> {
    contacts
        .iter()
        .find(|c| {
            let wa_id = c.get("wa_id").and_then(text_or_int_ref);
            let bsuid = str_at(c, "user_id");
            (wa_id.is_some() && wa_id.as_deref() == user.id.as_deref())
                || (bsuid.is_some() && bsuid == user.bsuid.as_deref())
        })
        .and_then(|c| c.get("profile"))
        .and_then(|p| string_at(p, "name"))
}

fn whatsapp_messages(value: &Json<'_>, out: &mut Parsed) {
    let messages = as_slice(value, "messages");
    let statuses = as_slice(value, "statuses");
    let Some(account) = phone_number_id(value) else {
        out.skipped.push(Skipped::new(
            "whatsapp.messages",
            "missing metadata.phone_number_id",
        ));
        return;
    };
    if messages.is_empty() && statuses.is_empty() {
        let codes: Vec<String> = as_slice(value, "errors")
            .iter()
            .filter_map(|e| e.get("code").and_then(Json::as_i64))
            .map(|c| c.to_string())
            .collect();
        let skipped = if value.get("errors").is_some() {
            Skipped::new(
                "whatsapp.errors",
                format!("out-of-band error {}", codes.join(",")).trim_end(),
            )
        } else {
            Skipped::new("whatsapp.messages", "no messages or statuses")
        };
        out.skipped.push(skipped);
        return;
    }
    let contacts = as_slice(value, "contacts");
    for message in messages {
        out.push(whatsapp_message(&account, contacts, message));
    }
    for status in statuses {
        out.push(whatsapp_status(&account, status));
    }
}

fn whatsapp_message(account: &str, contacts: &[Json<'_>], message: &Json<'_>) -> Item {
    let skip = |reason: &str| Skipped::new("whatsapp.message", reason);
    if !message.is_object() {
        return Err(skip("item is not an object"));
    }
    let wamid = str_at(message, "id").ok_or_else(|| skip("message without id"))?;
    let at = message
        .get("timestamp")
        .and_then(instant_secs)
        .ok_or_else(|| skip("missing or invalid timestamp"))?;
    let user = UserRef {
        id: id_at(message, "from"),
        bsuid: string_at(message, "from_user_id"),
    };
    if user.is_empty() {
        return Err(skip("missing sender"));
    }
    let kind_name = message
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| skip("message without type"))?;
    let part = |key: &str| message.get(key).unwrap_or(NULL);
    let mut msg = Message {
        referral: message.get("referral").and_then(ctwa_referral),
        ..Message::default()
    };
    let kind = match kind_name {
        "text" => {
            msg.text = string_at(part("text"), "body");
            InboundKind::Message(msg)
        }
        "interactive" => {
            let interactive = part("interactive");
            let reply = ["button_reply", "list_reply"]
                .iter()
                .find_map(|key| interactive.get(key).filter(|r| r.is_object()));
            match reply {
                Some(reply) => {
                    msg.payload = string_at(reply, "id");
                    msg.text = string_at(reply, "title");
                    InboundKind::Message(msg)
                }
                None => InboundKind::Unknown {
                    kind: format!(
                        "interactive.{}",
                        label(interactive.get("type").and_then(Json::as_str).unwrap_or(""))
                    ),
                },
            }
        }
        "button" => {
            let button = part("button");
            msg.payload = string_at(button, "payload");
            msg.text = string_at(button, "text");
            InboundKind::Message(msg)
        }
        "audio" | "image" | "video" | "document" | "sticker" | "location" | "contacts" => {
            msg.text = string_at(part(kind_name), "caption");
            msg.attachments = vec![kind_name.to_owned()];
            InboundKind::Message(msg)
        }
        "reaction" => {
            let reaction = part("reaction");
            let emoji = string_at(reaction, "emoji");
            InboundKind::Reaction {
                mid: string_at(reaction, "message_id"),
                unreact: emoji.is_none(),
                emoji,
            }
        }
        "unsupported" | "unknown" => {
            msg.unsupported = true;
            InboundKind::Message(msg)
        }
        other => InboundKind::Unknown { kind: label(other) },
    };
    Ok(InboundEvent {
        dedupe_key: format!("wa:{wamid}"),
        channel: Channel::Whatsapp,
        account: account.to_owned(),
        profile_name: contact_name(contacts, &user),
        user,
        at,
        kind,
    })
}

/// Click-to-WhatsApp ad context carried on the first message.
fn ctwa_referral(value: &Json<'_>) -> Option<Referral> {
    if !value.is_object() {
        return None;
    }
    Some(Referral {
        source: string_at(value, "source_type"),
        ref_param: None,
        ad_id: id_at(value, "source_id"),
        headline: string_at(value, "headline"),
    })
}

fn whatsapp_status(account: &str, status: &Json<'_>) -> Item {
    let skip = |reason: &str| Skipped::new("whatsapp.status", reason);
    if !status.is_object() {
        return Err(skip("item is not an object"));
    }
    let wamid = string_at(status, "id").ok_or_else(|| skip("status without id"))?;
    let state = str_at(status, "status").ok_or_else(|| skip("status without status"))?;
    let at = status
        .get("timestamp")
        .and_then(instant_secs)
        .ok_or_else(|| skip("missing or invalid timestamp"))?;
    let user = UserRef {
        id: id_at(status, "recipient_id"),
        bsuid: string_at(status, "recipient_user_id"),
    };
    if user.is_empty() {
        return Err(skip("status without recipient"));
    }
    let dedupe_key = format!("status:{wamid}:{}", label(state));
    let mid = Some(wamid);
    let kind = match state {
        "delivered" => InboundKind::Delivered { mid },
        "read" => InboundKind::Read { mid },
        "failed" => {
            let first_error = as_slice(status, "errors").first();
            InboundKind::SendFailed {
                mid,
                code: first_error
                    .and_then(|e| e.get("code"))
                    .and_then(Json::as_i64),
                title: first_error.and_then(|e| string_at(e, "title")),
            }
        }
        other => InboundKind::Acknowledged {
            mid,
            status: label(other),
        },
    };
    Ok(InboundEvent {
        dedupe_key,
        channel: Channel::Whatsapp,
        account: account.to_owned(),
        user,
        at,
        profile_name: None,
        kind,
    })
}

fn whatsapp_preferences(value: &Json<'_>, out: &mut Parsed) {
    let Some(account) = phone_number_id(value) else {
        out.skipped.push(Skipped::new(
            "whatsapp.user_preferences",
            "missing metadata.phone_number_id",
        ));
        return;
    };
    let contacts = as_slice(value, "contacts");
    for pref in as_slice(value, "user_preferences") {
        out.push(whatsapp_preference(&account, contacts, pref));
    }
}

fn whatsapp_preference(account: &str, contacts: &[Json<'_>], pref: &Json<'_>) -> Item {
    let skip = |reason: &str| Skipped::new("whatsapp.user_preference", reason);
    let user = UserRef {
        id: id_at(pref, "wa_id"),
        bsuid: string_at(pref, "user_id"),
    };
    let who = user
        .identities()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| skip("preference without wa_id"))?;
    let stop = match pref.get("value").and_then(Json::as_str) {
        Some("stop") => true,
        Some("resume") => false,
        _ => return Err(skip("unknown preference value")),
    };
    let at = pref
        .get("timestamp")
        .and_then(instant_secs)
        .ok_or_else(|| skip("missing or invalid timestamp"))?;
    Ok(InboundEvent {
        dedupe_key: format!(
            "pref:{who}:{}:{}",
            at.timestamp(),
            if stop { "stop" } else { "resume" }
        ),
        channel: Channel::Whatsapp,
        account: account.to_owned(),
        profile_name: contact_name(contacts, &user),
        user,
        at,
        kind: InboundKind::Preference { stop },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn parse(value: Value) -> Parsed {
        parse_webhook(&serde_json::to_vec(&value).unwrap()).unwrap()
    }

    fn ig(items: Value) -> Value {
        json!({"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1780000000000_i64, "messaging": items}]})
    }

    fn kinds(parsed: &Parsed) -> Vec<&str> {
        parsed.events.iter().map(|e| e.kind.name()).collect()
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_malformed() {
        for body in [&b"not json"[..], b"[]", b"42", b"\"instagram\"", b""] {
            assert!(matches!(parse_webhook(body), Err(MetaError::Malformed(_))));
        }
    }

    #[test]
    fn an_unknown_object_is_acknowledged_with_everything_skipped() {
        let parsed = parse(json!({"object": "user", "entry": [{"id": "1", "changes": []}]}));
        assert!(parsed.events.is_empty());
        assert_eq!(
            parsed.skipped,
            vec![Skipped::new("object:user", "object not handled")]
        );
        let parsed = parse(json!({"entry": []}));
        assert_eq!(parsed.skipped[0].kind, "object:missing");
    }

    #[test]
    fn a_malformed_item_is_skipped_without_losing_its_neighbours() {
        let parsed = parse(ig(json!([
            {"sender": {"id": "1"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1780000000000_i64, "message": {"mid": "a", "text": "one"}},
            {"sender": null, "recipient": {"id": "17841400000000001"}, "timestamp": 1780000000001_i64, "message": {"mid": "b"}},
            {"sender": {"id": "2"}, "timestamp": "yesterday", "message": {"mid": "c"}},
            {"sender": {"id": "3"}, "timestamp": 1780000000002_i64, "message": 7},
            "not an item",
            {"sender": {"id": "4"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1780000000003_i64, "message": {"mid": "d", "text": "two"}}
        ])));
        let keys: Vec<&str> = parsed
            .events
            .iter()
            .map(|e| e.dedupe_key.as_str())
            .collect();
        assert_eq!(keys, ["mid:a", "mid:d"]);
        let reasons: Vec<&str> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "missing sender",
                "missing or invalid timestamp",
                "message is not an object",
                "item is not an object"
            ]
        );
    }

    #[test]
    fn echoes_belong_to_the_recipient_and_keep_app_id_as_a_string() {
        let parsed = parse(ig(json!([
            {"sender": {"id": "17841400000000001"}, "recipient": {"id": "555"}, "timestamp": 1780000000000_i64,
             "message": {"mid": "e1", "is_echo": true, "app_id": 263902037430900_i64, "metadata": "touch:ld_1"}}
        ])));
        let event = &parsed.events[0];
        assert_eq!(event.user, UserRef::id("555"));
        assert_eq!(
            event.kind,
            InboundKind::Echo {
                mid: Some("e1".into()),
                app_id: Some("263902037430900".into()),
                metadata: Some("touch:ld_1".into())
            }
        );
    }

    #[test]
    fn a_deletion_does_not_share_the_dedupe_key_of_the_message_it_removes() {
        let parsed = parse(ig(json!([
            {"sender": {"id": "1"}, "recipient": {"id": "x"}, "timestamp": 1780000000000_i64, "message": {"mid": "m", "text": "hi"}},
            {"sender": {"id": "1"}, "recipient": {"id": "x"}, "timestamp": 1780000005000_i64, "message": {"mid": "m", "is_deleted": true}}
        ])));
        assert_eq!(kinds(&parsed), ["message", "deleted"]);
        assert_ne!(parsed.events[0].dedupe_key, parsed.events[1].dedupe_key);
    }

    #[test]
    fn a_story_mention_with_text_stays_a_message() {
        let parsed = parse(ig(json!([
            {"sender": {"id": "1"}, "timestamp": 1780000000000_i64, "message": {"mid": "a", "attachments": [{"type": "story_mention"}]}},
            {"sender": {"id": "1"}, "timestamp": 1780000000001_i64, "message": {"mid": "b", "text": "look", "attachments": [{"type": "story_mention"}]}}
        ])));
        assert_eq!(kinds(&parsed), ["story_mention", "message"]);
    }

    #[test]
    fn reactions_reads_and_unknown_items_get_deterministic_keys() {
        let body = ig(json!([
            {"sender": {"id": "1"}, "timestamp": 1780000000000_i64, "reaction": {"mid": "ours", "action": "unreact"}},
            {"sender": {"id": "1"}, "timestamp": 1780000000001_i64, "read": {"watermark": 1780000000000_i64}},
            {"sender": {"id": "1"}, "timestamp": 1780000000002_i64, "optin": {"type": "notification_messages"}}
        ]));
        let first = parse(body.clone());
        assert_eq!(first, parse(body));
        let keys: Vec<&str> = first.events.iter().map(|e| e.dedupe_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "reaction:1:1780000000000",
                "read:1:1780000000000",
                "optin:1:1780000000002"
            ]
        );
        assert_eq!(
            first.events[0].kind,
            InboundKind::Reaction {
                mid: Some("ours".into()),
                emoji: None,
                unreact: true
            }
        );
        assert_eq!(
            first.events[2].kind,
            InboundKind::Unknown {
                kind: "optin".into()
            }
        );
    }

    #[test]
    fn events_are_sorted_by_time_and_ties_keep_body_order() {
        let parsed = parse(ig(json!([
            {"sender": {"id": "1"}, "timestamp": 1780000000009_i64, "message": {"mid": "late"}},
            {"sender": {"id": "1"}, "timestamp": 1780000000001_i64, "message": {"mid": "tie-1"}},
            {"sender": {"id": "1"}, "timestamp": 1780000000001_i64, "message": {"mid": "tie-2"}}
        ])));
        let keys: Vec<&str> = parsed
            .events
            .iter()
            .map(|e| e.dedupe_key.as_str())
            .collect();
        assert_eq!(keys, ["mid:tie-1", "mid:tie-2", "mid:late"]);
    }

    #[test]
    fn comments_read_id_or_comment_id_and_skip_our_own() {
        let parsed = parse(json!({"object": "instagram", "entry": [
            {"id": "17841400000000001", "time": 1780000000, "changes": [
                {"field": "comments", "value": {"comment_id": "c1", "from": {"id": "9", "username": "ada"}, "text": "PRICE", "media": {"id": "m1"}}},
                {"field": "comments", "value": {"id": "c2", "from": {"id": "17841400000000001", "username": "us"}, "text": "Sent you a DM"}},
                {"field": "comments", "value": {"id": "c3", "text": "no author"}},
                {"field": "mentions", "value": {"media_id": "m", "comment_id": "c4"}}
            ]},
            {"id": "17841400000000001", "time": 1780000001, "field": "comments",
             "value": {"id": "c5", "from": {"id": "8"}, "text": "info", "media": {"id": "m2"}}}
        ]}));
        assert_eq!(parsed.events.len(), 2);
        assert_eq!(parsed.events[0].dedupe_key, "comment:c1");
        assert_eq!(parsed.events[0].profile_name.as_deref(), Some("ada"));
        assert_eq!(parsed.events[0].at.timestamp(), 1780000000);
        assert_eq!(
            parsed.events[1].kind,
            InboundKind::Comment {
                comment_id: "c5".into(),
                text: "info".into(),
                media_id: Some("m2".into())
            }
        );
        let reasons: Vec<&str> = parsed.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "own comment",
                "comment without from.id",
                "field not handled"
            ]
        );
    }

    fn wa(value: Value) -> Value {
        let mut value = value;
        value["metadata"] =
            json!({"display_phone_number": "15550783881", "phone_number_id": "106540352242922"});
        json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
    }

    #[test]
    fn whatsapp_messages_carry_wa_id_bsuid_and_profile_name() {
        let parsed = parse(wa(json!({
            "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234", "user_id": "US.1"}, {"wa_id": "16505550000"}],
            "messages": [
                {"from": "16505551234", "from_user_id": "US.1", "id": "wamid.A", "timestamp": "1780000000", "type": "text", "text": {"body": "hi"}},
                {"from_user_id": "US.2", "id": "wamid.B", "timestamp": "1780000001", "type": "image", "image": {"id": "1", "caption": "look"}},
                {"from": "16505550000", "id": "wamid.C", "timestamp": "1780000002", "type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": ""}},
                {"from": "16505550000", "id": "wamid.D", "timestamp": "1780000003", "type": "system", "system": {}}
            ]
        })));
        let [a, b, c, d] = &parsed.events[..] else {
            panic!("{parsed:?}")
        };
        assert_eq!(a.account, "106540352242922");
        assert_eq!(
            a.user,
            UserRef {
                id: Some("16505551234".into()),
                bsuid: Some("US.1".into())
            }
        );
        assert_eq!(a.profile_name.as_deref(), Some("Sheena"));
        assert_eq!(a.dedupe_key, "wa:wamid.A");
        assert_eq!(b.user.bsuid.as_deref(), Some("US.2"));
        assert_eq!(b.profile_name, None);
        let InboundKind::Message(image) = &b.kind else {
            panic!()
        };
        assert_eq!(image.text.as_deref(), Some("look"));
        assert_eq!(image.attachments, ["image"]);
        assert_eq!(
            c.kind,
            InboundKind::Reaction {
                mid: Some("wamid.X".into()),
                emoji: None,
                unreact: true
            }
        );
        assert_eq!(c.profile_name, None, "contact without profile");
        assert_eq!(d.kind.name(), "system");
    }

    #[test]
    fn whatsapp_statuses_map_to_delivery_read_failure_and_acknowledgement() {
        let parsed = parse(wa(json!({"statuses": [
            {"id": "wamid.1", "status": "sent", "timestamp": "1780000000", "recipient_id": "1"},
            {"id": "wamid.1", "status": "delivered", "timestamp": "1780000001", "recipient_id": "1"},
            {"id": "wamid.1", "status": "read", "timestamp": "1780000002", "recipient_user_id": "US.1"},
            {"id": "wamid.2", "status": "failed", "timestamp": "1780000003", "recipient_id": "1",
             "errors": [{"code": 131047, "title": "Re-engagement message"}]},
            {"id": "wamid.3", "status": "delivered", "timestamp": "1780000004"}
        ]})));
        assert_eq!(
            kinds(&parsed),
            ["acknowledged", "delivered", "read", "send_failed"]
        );
        assert_eq!(parsed.events[1].dedupe_key, "status:wamid.1:delivered");
        assert_eq!(
            parsed.events[3].kind,
            InboundKind::SendFailed {
                mid: Some("wamid.2".into()),
                code: Some(131047),
                title: Some("Re-engagement message".into())
            }
        );
        assert_eq!(parsed.skipped[0].reason, "status without recipient");
    }

    #[test]
    fn whatsapp_out_of_band_errors_and_unknown_fields_are_skipped() {
        let parsed = parse(wa(
            json!({"errors": [{"code": 131000, "title": "Something went wrong"}]}),
        ));
        assert!(parsed.events.is_empty());
        assert_eq!(
            parsed.skipped,
            vec![Skipped::new("whatsapp.errors", "out-of-band error 131000")]
        );
        let parsed = parse(
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]}),
        );
        assert_eq!(
            parsed.skipped[0].kind,
            "whatsapp.message_template_status_update"
        );
    }

    #[test]
    fn whatsapp_preferences_become_stop_and_resume() {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "user_preferences", "value": {
        "metadata": {"phone_number_id": "106540352242922"},
        "user_preferences": [
            {"wa_id": "16505551234", "category": "marketing_messages", "value": "stop", "timestamp": 1780000000},
            {"wa_id": "16505551234", "category": "marketing_messages", "value": "resume", "timestamp": 1780000100},
            {"wa_id": "16505551234", "value": "maybe", "timestamp": 1780000200}
        ]}}]}]});
        let parsed = parse(body);
        assert_eq!(
            parsed.events[0].dedupe_key,
            "pref:16505551234:1780000000:stop"
        );
        assert_eq!(
            parsed.events[0].kind,
            InboundKind::Preference { stop: true }
        );
        assert_eq!(
            parsed.events[1].kind,
            InboundKind::Preference { stop: false }
        );
        assert_eq!(parsed.skipped[0].reason, "unknown preference value");
    }

    #[test]
    fn skipped_records_never_echo_arbitrary_names_from_the_body() {
        let parsed = parse(json!({"object": "Sheena Nelson +1 650 555 1234", "entry": []}));
        assert_eq!(parsed.skipped[0].kind, "object:other");
        let parsed = parse(ig(
            json!([{"sender": {"id": "1"}, "timestamp": 1780000000000_i64, "Call me on 555": {}}]),
        ));
        assert_eq!(
            parsed.events[0].kind,
            InboundKind::Unknown {
                kind: "other".into()
            }
        );
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z_.]{0,12}".prop_map(Value::from),
            prop_oneof![
                Just("instagram"),
                Just("page"),
                Just("whatsapp_business_account"),
                Just("messages"),
                Just("comments"),
                Just("text"),
                Just("1780000000"),
            ]
            .prop_map(Value::from),
        ];
        let keys = prop_oneof![
            Just("object".to_owned()),
            Just("entry".to_owned()),
            Just("id".to_owned()),
            Just("time".to_owned()),
            Just("messaging".to_owned()),
            Just("standby".to_owned()),
            Just("changes".to_owned()),
            Just("field".to_owned()),
            Just("value".to_owned()),
            Just("sender".to_owned()),
            Just("recipient".to_owned()),
            Just("timestamp".to_owned()),
            Just("message".to_owned()),
            Just("messages".to_owned()),
            Just("statuses".to_owned()),
            Just("metadata".to_owned()),
            Just("phone_number_id".to_owned()),
            Just("type".to_owned()),
            Just("from".to_owned()),
            "[a-z_]{1,8}",
        ];
        leaf.prop_recursive(6, 96, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_webhook(&bytes);
        }

        #[test]
        fn arbitrary_json_never_panics_and_events_stay_sorted(value in arbitrary_json(), object in prop_oneof![
            Just("instagram"), Just("page"), Just("whatsapp_business_account")]) {
            let _ = parse_webhook(&serde_json::to_vec(&value).unwrap());
            let body = json!({"object": object, "entry": [value.clone(), {"id": "1", "messaging": [value.clone()],
                "changes": [{"field": "messages", "value": value}]}]});
            let parsed = parse_webhook(&serde_json::to_vec(&body).unwrap()).unwrap();
            prop_assert!(parsed.events.windows(2).all(|w| w[0].at <= w[1].at));
        }
    }
}
