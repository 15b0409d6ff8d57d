//! Reply understanding: what a lead's message means for the cadence. Rule-based and deterministic.
//! (Placeholder API; the full implementation replaces this file.)

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// One option of a qualifying question, as the lead may refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    /// The option's key in the cadence file (`a`, `b`, `c`).
    pub key: String,
    /// The label shown to the lead ("Growing my audience").
    pub label: String,
    /// Extra words that pick this option ("audience", "followers").
    pub words: Vec<String>,
    /// The quick-reply payload / WhatsApp button or list id we sent for it.
    pub payload: String,
}

/// What the lead was just asked, so a reply can be read against it.
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext<'a> {
    /// Options of the question awaiting an answer; empty when none is.
    pub options: &'a [OptionSpec],
    /// Call slots offered and awaiting a pick, in the order shown; empty when none are.
    pub slots: &'a [DateTime<Utc>],
    /// Payload prefix of slot choices (`SLOT_` → `SLOT_1`, `SLOT_2` …).
    pub slot_payload_prefix: &'a str,
    /// The lead's zone: slot labels and relative dates are read in it.
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

/// Why a lead pushes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objection {
    Price,
    Unsure,
    Timing,
}

/// What a reply means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Stop messaging me.
    OptOut,
    /// Picked offered slot number `n` (0-based).
    SlotPick(usize),
    /// Picked the option with this key.
    OptionPick(String),
    /// Asked to be contacted later, from this date (in the lead's zone). `label` names it ("October").
    Deferral { date: NaiveDate, label: String },
    Objection(Objection),
    /// Anything else.
    Plain,
}

/// Reads a message (its text and any quick-reply/button payload) against what the lead was asked.
pub fn understand(text: Option<&str>, payload: Option<&str>, ctx: &ReplyContext<'_>) -> Intent {
    let _ = (text, payload, ctx);
    Intent::Plain
}

/// The first email address in a message, lower-cased, if any.
pub fn extract_email(text: &str) -> Option<String> {
    let _ = text;
    None
}
