//! Cadence files: the YAML format, its validation, and the three built-in cadences.
//!
//! A file is parsed into loose `Raw*` structs (unknown fields rejected), then checked as a whole; every
//! problem is reported as `file: field: reason`, and only a file without problems becomes a [`Cadence`].

use crate::duration::parse_duration;
use crate::outbound::MediaKind;
use crate::render::{placeholders, KNOWN_PLACEHOLDERS};
use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The most touches a cadence may define (the playbook's ceiling: 7–12 touches in 30 days).
pub const MAX_TOUCHES: usize = 12;
/// No-reply touches never come faster than this after the touch before them.
pub const MIN_NO_REPLY_GAP: Duration = Duration::hours(4);

/// A validated cadence, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Cadence {
    pub id: String,
    pub name: String,
    /// Proactive touches (follow-ups, long tail, re-open) a lead may get in one run.
    pub max_touches: u32,
    /// Values used when a placeholder's source is empty (`first_name: there`).
    pub defaults: BTreeMap<String, String>,
    /// Zone for leads whose zone is unknown, when the account sets none.
    pub timezone: Option<Tz>,
    pub quiet_hours: Option<QuietHours>,
    /// The main chain: opener, qualifying question, value drop, call ask.
    pub steps: Vec<Step>,
    /// No-reply follow-ups after any main step, in order (+4 h, +23 h).
    pub follow_ups: Vec<FollowUp>,
    /// Long-tail touches counted from first contact (+7/+14/+30 d).
    pub long_tail: Vec<LongTailTouch>,
    pub end: End,
    pub deferral: Deferral,
    pub opt_out: OptOut,
    /// What happens after a lead is handed to a person.
    pub handoff: Handoff,
}

/// Local hours in which no automated no-reply touch goes out (`start` ≤ t or t < `end`, wrapping midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// What starts a main step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The lead's first message, keyword comment, ad click or postback.
    FirstContact,
    /// Any reply to the previous step.
    Reply,
    /// An option picked at the previous step.
    Answer,
    /// A reply, reaction or read of the previous step.
    Engaged,
}

impl Trigger {
    fn name(self) -> &'static str {
        match self {
            Trigger::FirstContact => "first_contact",
            Trigger::Reply => "reply",
            Trigger::Answer => "answer",
            Trigger::Engaged => "engaged",
        }
    }
}

/// One main step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub trigger: Trigger,
    /// The playbook's deadline for this step; sends are immediate, this documents and bounds `delay`.
    pub within: Duration,
    /// Wait before sending (default none).
    pub delay: Duration,
    /// Text, or variants keyed by the answer to the previous step.
    pub content: Variants,
    /// Qualifying options offered with this step.
    pub options: Vec<QuestionOption>,
    /// The option an unrecognised answer counts as.
    pub otherwise: Option<String>,
    /// `options` as reply understanding reads them (payloads, normalised words), built once at load.
    pub specs: Vec<crate::reply::OptionSpec>,
    /// An A/B test of this step's script: empty, or every arm (`a`, the step's own content, first).
    pub ab: Vec<Arm>,
}

/// A qualifying option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionOption {
    pub key: String,
    pub label: String,
    pub words: Vec<String>,
}

/// One arm of a step's A/B test: its key, relative weight and content. Arm `a` is the step's own content.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    pub key: String,
    pub weight: u32,
    pub content: Variants,
}

/// The arm a lead gets for a step: sticky (a hash of the lead and step ids, so the same lead always lands in
/// the same arm while the weights stay), spread by weight.
pub fn pick_arm<'c>(arms: &'c [Arm], lead_id: &str, step_id: &str) -> Option<&'c Arm> {
    let total: u64 = arms.iter().map(|a| u64::from(a.weight)).sum();
    if total == 0 {
        return None;
    }
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lead_id.bytes().chain([b'/']).chain(step_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut point = h % total;
    arms.iter().find(|a| {
        if point < u64::from(a.weight) {
            true
        } else {
            point -= u64::from(a.weight);
            false
        }
    })
}

/// Content, possibly keyed by an earlier answer or by the step a lead stalled after.
#[derive(Debug, Clone, PartialEq)]
pub struct Variants {
    pub by_key: BTreeMap<String, Content>,
    pub default: Option<Content>,
}

impl Variants {
    pub fn single(c: Content) -> Self {
        Self {
            by_key: BTreeMap::new(),
            default: Some(c),
        }
    }

    /// The content for `key`, else the default.
    pub fn pick(&self, key: Option<&str>) -> Option<&Content> {
        key.and_then(|k| self.by_key.get(k))
            .or(self.default.as_ref())
    }

    fn all(&self) -> impl Iterator<Item = (&str, &Content)> {
        self.by_key
            .iter()
            .map(|(k, c)| (k.as_str(), c))
            .chain(self.default.iter().map(|c| ("default", c)))
    }
}

/// What one touch says.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub text: String,
    /// Email subject (email touches).
    pub subject: Option<String>,
    /// A file sent after the text (voice note, PDF).
    pub media: Option<Media>,
    /// New call slots this content offers (`{slot_N}` placeholders refer to all slots offered so far).
    pub slots: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: MediaKind,
    /// A URL, usually `{asset.NAME}` from the account's assets; skipped when it renders empty.
    pub url: String,
}

/// A WhatsApp template for touches outside the 24-hour window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub language: String,
    /// Body parameters; placeholders allowed.
    pub params: Vec<String>,
}

/// Another way to deliver a touch when its channel is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    Email,
    Task,
}

/// A no-reply follow-up.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub id: String,
    /// After the previous touch.
    pub after: Duration,
    /// Keyed by the main step the lead stalled after.
    pub content: Variants,
    pub template: Option<Template>,
    pub fallback: Vec<Fallback>,
    /// An A/B test of this follow-up's script (as [`Step::ab`]).
    pub ab: Vec<Arm>,
}

/// Where a long-tail touch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchChannel {
    /// The lead's own DM thread.
    Dm,
    Email,
    /// A task for a person (engage with their content).
    Task,
}

/// A long-tail touch.
#[derive(Debug, Clone, PartialEq)]
pub struct LongTailTouch {
    pub id: String,
    /// After first contact.
    pub at: Duration,
    pub channel: TouchChannel,
    pub content: Content,
    pub template: Option<Template>,
    pub fallback: Vec<Fallback>,
}

/// What happens when the cadence runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct End {
    pub id: String,
    /// `true`: hand the lead to the newsletter; `false`: just finish.
    pub newsletter: bool,
    /// After the last touch.
    pub after: Duration,
    pub list: String,
    pub topic: String,
}

/// "Send me something in October".
#[derive(Debug, Clone, PartialEq)]
pub struct Deferral {
    /// Acknowledgement sent at once; `None` sends nothing.
    pub ack: Option<Content>,
    /// Local time of day the re-open touch goes out on the date asked for.
    pub resume_at: NaiveTime,
    pub reopen_id: String,
    pub reopen: Content,
    pub template: Option<Template>,
    pub fallback: Vec<Fallback>,
    /// Silence after the re-open touch before the end action.
    pub silence: Duration,
}

/// Handoff to a person (objection, human in the inbox, operator, high-ticket call ask).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handoff {
    /// When set: a handed-off lead who hears nothing from a person (no human echo) and writes nothing for this
    /// long goes back to the automated cadence (its no-reply chain, from where it stalled). `None`: stays with
    /// the person until an operator resumes it.
    pub resume_after: Option<Duration>,
}

/// Step id of the sweeper touch that resumes a silent handoff (reserved: no cadence step may use it).
pub const HANDOFF_RESUME_STEP: &str = "handoff_resume";
/// Bounds of `handoff.resume_after`.
pub const MIN_HANDOFF_RESUME: Duration = Duration::hours(1);
pub const MAX_HANDOFF_RESUME: Duration = Duration::days(30);

/// Opt-out handling.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOut {
    /// The one confirmation sent after a STOP; `None` sends nothing.
    pub confirm: Option<String>,
}

impl Cadence {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Loads and validates a cadence from YAML. `file` names the source in errors.
    pub fn from_yaml(file: &str, yaml: &str) -> Result<Cadence, CadenceErrors> {
        let raw: RawCadence = serde_norway::from_str(yaml).map_err(|e| {
            let field = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "(document)".into());
            let msg = e.to_string();
            // serde_norway appends " at line X column Y"; the location is already in `field`.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            CadenceErrors::one(file, &field, &msg)
        })?;
        let mut v = Validator {
            file,
            errors: Vec::new(),
        };
        let cadence = v.cadence(raw);
        match cadence {
            Some(c) if v.errors.is_empty() => Ok(c),
            _ => Err(CadenceErrors(v.errors)),
        }
    }

    /// The built-in cadences, by id.
    pub fn builtin(id: &str) -> Option<Cadence> {
        let (file, yaml) = BUILTINS.iter().find(|(name, _)| *name == id)?;
        // Built-ins are validated by a test; a failure here is a programming error caught in CI.
        Cadence::from_yaml(file, yaml).ok()
    }

    /// Ids of the built-in cadences.
    pub fn builtin_ids() -> impl Iterator<Item = &'static str> {
        BUILTINS.iter().map(|(id, _)| *id)
    }
}

/// The built-in cadence files, embedded at build time.
pub const BUILTINS: &[(&str, &str)] = &[
    ("coach-ig", include_str!("../cadences/coach-ig.yaml")),
    (
        "whatsapp-ecom",
        include_str!("../cadences/whatsapp-ecom.yaml"),
    ),
    ("hybrid-b2b", include_str!("../cadences/hybrid-b2b.yaml")),
];

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadenceError {
    pub file: String,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for CadenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.reason)
    }
}

/// Every problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CadenceErrors(pub Vec<CadenceError>);

impl CadenceErrors {
    fn one(file: &str, field: &str, reason: &str) -> Self {
        CadenceErrors(vec![CadenceError {
            file: file.into(),
            field: field.into(),
            reason: reason.into(),
        }])
    }
}

impl fmt::Display for CadenceErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

// ---- raw file shapes ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCadence {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    max_touches: Option<u32>,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    quiet_hours: Option<RawQuiet>,
    steps: Vec<RawStep>,
    #[serde(default)]
    follow_ups: Vec<RawFollowUp>,
    #[serde(default)]
    long_tail: Vec<RawLongTail>,
    end: RawEnd,
    #[serde(default)]
    deferral: Option<RawDeferral>,
    #[serde(default)]
    opt_out: Option<RawOptOut>,
    #[serde(default)]
    handoff: Option<RawHandoff>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHandoff {
    #[serde(default)]
    resume_after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuiet {
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTrigger {
    Name(String),
    Named(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    trigger: RawTrigger,
    within: String,
    #[serde(default)]
    delay: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<RawMedia>,
    #[serde(default)]
    slots: Option<u8>,
    #[serde(default)]
    variants: BTreeMap<String, RawContent>,
    #[serde(default)]
    options: Vec<RawOption>,
    #[serde(default)]
    otherwise: Option<String>,
    #[serde(default)]
    ab: BTreeMap<String, RawArm>,
}

/// An A/B arm: `a` takes only a weight (its content is the step's own); other arms bring content shaped like
/// the step's (`text` with `media`/`slots`, or `variants`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArm {
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<RawMedia>,
    #[serde(default)]
    slots: Option<u8>,
    #[serde(default)]
    variants: BTreeMap<String, RawContent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    key: String,
    label: String,
    #[serde(default)]
    words: Vec<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawContent {
    text: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    media: Option<RawMedia>,
    #[serde(default)]
    slots: Option<u8>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    kind: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    params: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFollowUp {
    id: String,
    after: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    variants: BTreeMap<String, RawContent>,
    #[serde(default)]
    template: Option<RawTemplate>,
    #[serde(default)]
    fallback: Vec<String>,
    #[serde(default)]
    ab: BTreeMap<String, RawArm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLongTail {
    id: String,
    at: String,
    channel: String,
    text: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    template: Option<RawTemplate>,
    #[serde(default)]
    fallback: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnd {
    #[serde(default)]
    id: Option<String>,
    action: String,
    after: String,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    topic: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeferral {
    #[serde(default)]
    ack: Option<String>,
    #[serde(default)]
    resume_at: Option<String>,
    #[serde(default)]
    reopen_id: Option<String>,
    reopen: String,
    #[serde(default)]
    template: Option<RawTemplate>,
    #[serde(default)]
    fallback: Vec<String>,
    #[serde(default)]
    silence: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptOut {
    #[serde(default)]
    confirm: Option<String>,
}

// ---- validation ----

/// The content fields a main step and its A/B arms share.
struct StepContent<'r> {
    text: &'r Option<String>,
    media: &'r Option<RawMedia>,
    slots: Option<u8>,
    variants: &'r BTreeMap<String, RawContent>,
}

struct Validator<'a> {
    file: &'a str,
    errors: Vec<CadenceError>,
}

/// Instagram's limit on one text message (bytes). Rendered values add a little, so files stay well under it.
const MAX_TEXT_BYTES: usize = 900;
const MAX_LABEL_CHARS: usize = 20;

impl Validator<'_> {
    fn err(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(CadenceError {
            file: self.file.to_string(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn duration(&mut self, field: &str, s: &str) -> Option<Duration> {
        match parse_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(field, format!("invalid duration: {e}"));
                None
            }
        }
    }

    fn time(&mut self, field: &str, s: &str) -> Option<NaiveTime> {
        match NaiveTime::parse_from_str(s, "%H:%M") {
            Ok(t) => Some(t),
            Err(_) => {
                self.err(
                    field,
                    format!("`{s}` is not a time of day like 08:00 or 21:30"),
                );
                None
            }
        }
    }

    fn id(&mut self, field: &str, id: &str, seen: &mut BTreeSet<String>) {
        let ok = !id.is_empty()
            && id.len() <= 24
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            self.err(
                field,
                format!("`{id}` must be 1–24 characters of a-z, 0-9 and _"),
            );
        }
        if !seen.insert(id.to_string()) {
            self.err(field, format!("duplicate id `{id}`"));
        }
    }

    /// Checks placeholders and length of a text.
    fn text(&mut self, field: &str, text: &str, slots_offered: usize) {
        if text.trim().is_empty() {
            self.err(field, "text is empty");
        }
        if text.len() > MAX_TEXT_BYTES {
            self.err(
                field,
                format!(
                    "{} bytes; keep texts under {MAX_TEXT_BYTES} (Instagram allows 1000)",
                    text.len()
                ),
            );
        }
        match placeholders(text) {
            Err(e) => self.err(field, e),
            Ok(names) => {
                for name in names {
                    if let Some(n) = name.strip_prefix("slot_") {
                        match n.parse::<usize>() {
                            Ok(n) if n >= 1 && n <= slots_offered => {}
                            _ => self.err(
                                field,
                                format!(
                                    "placeholder {{{name}}} refers to a slot not offered by then ({slots_offered} offered)"
                                ),
                            ),
                        }
                        continue;
                    }
                    let known = KNOWN_PLACEHOLDERS.contains(&name)
                        || name.strip_prefix("asset.").is_some_and(|a| !a.is_empty())
                        || name.strip_prefix("answer.").is_some_and(|a| !a.is_empty());
                    if !known {
                        self.err(
                            field,
                            format!(
                                "placeholder {{{name}}} cannot be filled (known: {}, asset.NAME, answer.STEP, slot_N)",
                                KNOWN_PLACEHOLDERS.join(", ")
                            ),
                        );
                    }
                }
            }
        }
    }

    fn media(&mut self, field: &str, m: &RawMedia) -> Option<Media> {
        let kind = match m.kind.as_str() {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "image" => MediaKind::Image,
            "document" => MediaKind::Document,
            other => {
                self.err(
                    format!("{field}.kind"),
                    format!("unknown media kind `{other}` (audio, video, image, document)"),
                );
                return None;
            }
        };
        let url_ok =
            m.url.starts_with("https://") || placeholders(&m.url).is_ok_and(|p| !p.is_empty());
        if !url_ok {
            self.err(
                format!("{field}.url"),
                "must be an https:// URL or an {asset.NAME} placeholder",
            );
        }
        self.text(&format!("{field}.url"), &m.url, 0);
        Some(Media {
            kind,
            url: m.url.clone(),
        })
    }

    /// A main step's content (or an A/B arm's): `text` with optional media and slots, or `variants` keyed by the
    /// previous step's options.
    fn step_content(
        &mut self,
        f: &str,
        s: &StepContent<'_>,
        prev_keys: &BTreeSet<String>,
        slots_offered: usize,
    ) -> Option<Variants> {
        let slots = s.slots.unwrap_or(0);
        match (s.text, s.variants.is_empty()) {
            (Some(t), true) => {
                let raw = RawContent {
                    text: t.clone(),
                    subject: None,
                    media: s.media.clone(),
                    slots: Some(slots),
                };
                self.content(f, &raw, slots_offered).map(Variants::single)
            }
            (None, false) => {
                if s.media.is_some() || s.slots.is_some() {
                    self.err(f, "with variants, put media and slots inside each variant");
                }
                let mut by_key = BTreeMap::new();
                let mut default = None;
                for (k, v) in s.variants {
                    let vf = format!("{f}.variants.{k}");
                    let c = self.content(&vf, v, slots_offered);
                    if k == "default" {
                        default = c;
                    } else if !prev_keys.contains(k) {
                        self.err(
                            vf,
                            format!(
                                "variant for option `{k}`, which the previous step does not offer"
                            ),
                        );
                    } else if let Some(c) = c {
                        by_key.insert(k.clone(), c);
                    }
                }
                if default.is_none() {
                    for k in prev_keys {
                        if !by_key.contains_key(k) {
                            self.err(
                                format!("{f}.variants"),
                                format!("no variant for option `{k}` and no `default`"),
                            );
                        }
                    }
                }
                Some(Variants { by_key, default })
            }
            (Some(_), false) => {
                self.err(f, "use either `text` or `variants`, not both");
                None
            }
            (None, true) => {
                self.err(f, "needs `text` or `variants`");
                None
            }
        }
    }

    /// A follow-up's content: `text`, and/or `variants` keyed by the main step the lead stalled after.
    fn follow_up_content(
        &mut self,
        f: &str,
        text: &Option<String>,
        variants: &BTreeMap<String, RawContent>,
        main_ids: &BTreeSet<String>,
        slots_offered: usize,
    ) -> Variants {
        let mut by_key = BTreeMap::new();
        let mut default = None;
        if let Some(t) = text {
            let raw = RawContent {
                text: t.clone(),
                subject: None,
                media: None,
                slots: None,
            };
            default = self.content(f, &raw, slots_offered);
        }
        for (k, v) in variants {
            let vf = format!("{f}.variants.{k}");
            let c = self.content(&vf, v, slots_offered);
            if k == "default" {
                if text.is_some() {
                    self.err(vf, "both `text` and a `default` variant");
                }
                default = c;
            } else if !main_ids.contains(k) {
                self.err(vf, format!("no main step `{k}` to stall after"));
            } else if let Some(c) = c {
                by_key.insert(k.clone(), c);
            }
        }
        if default.is_none() {
            for id in main_ids {
                if !by_key.contains_key(id) {
                    self.err(
                        format!("{f}.variants"),
                        format!("no text for a lead who stalled after `{id}` and no `default`"),
                    );
                }
            }
        }
        Variants { by_key, default }
    }

    /// A step's A/B arms: `a` is `own` (weight only), the others bring content parsed by `parse`.
    fn arms(
        &mut self,
        f: &str,
        raw: &BTreeMap<String, RawArm>,
        own: Option<&Variants>,
        mut parse: impl FnMut(&mut Self, &str, &RawArm) -> Option<Variants>,
    ) -> Vec<Arm> {
        if raw.is_empty() {
            return Vec::new();
        }
        let mut arms = vec![Arm {
            key: "a".into(),
            weight: 1,
            content: own.cloned().unwrap_or(Variants {
                by_key: BTreeMap::new(),
                default: None,
            }),
        }];
        for (k, a) in raw {
            let af = format!("{f}.ab.{k}");
            let key_ok = !k.is_empty()
                && k.len() <= 8
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !key_ok {
                self.err(
                    &af,
                    "arm names are short lowercase letters or digits (a, b, short)",
                );
                continue;
            }
            let weight = a.weight.unwrap_or(1);
            if weight > 10_000 {
                self.err(
                    format!("{af}.weight"),
                    "at most 10000 (weights are relative)",
                );
            }
            let has_content = a.text.is_some()
                || a.media.is_some()
                || a.slots.is_some()
                || !a.variants.is_empty();
            if k == "a" {
                if has_content {
                    self.err(
                        &af,
                        "arm `a` is the step's own content; give it only a `weight`",
                    );
                }
                arms[0].weight = weight;
                continue;
            }
            if let Some(content) = parse(self, &af, a) {
                arms.push(Arm {
                    key: k.clone(),
                    weight,
                    content,
                });
            }
        }
        if arms.len() < 2 {
            self.err(format!("{f}.ab"), "an A/B test needs an arm besides `a`");
        }
        if arms.iter().all(|a| a.weight == 0) {
            self.err(format!("{f}.ab"), "every arm has weight 0");
        }
        arms
    }

    fn content(&mut self, field: &str, raw: &RawContent, slots_before: usize) -> Option<Content> {
        let slots = raw.slots.unwrap_or(0);
        if slots > 5 {
            self.err(format!("{field}.slots"), "at most 5 slots");
        }
        self.text(
            &format!("{field}.text"),
            &raw.text,
            slots_before + slots as usize,
        );
        if let Some(s) = &raw.subject {
            self.text(
                &format!("{field}.subject"),
                s,
                slots_before + slots as usize,
            );
        }
        let media = match &raw.media {
            Some(m) => Some(self.media(&format!("{field}.media"), m)?),
            None => None,
        };
        Some(Content {
            text: raw.text.clone(),
            subject: raw.subject.clone(),
            media,
            slots,
        })
    }

    fn template(&mut self, field: &str, t: &Option<RawTemplate>) -> Option<Template> {
        let t = t.as_ref()?;
        let ok = !t.name.is_empty()
            && t.name.len() <= 512
            && t.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            self.err(
                format!("{field}.name"),
                "template names are lowercase letters, digits and _",
            );
        }
        let language = t.language.clone().unwrap_or_else(|| "en_US".into());
        let lang_ok = language.len() >= 2
            && language.len() <= 6
            && language
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'_');
        if !lang_ok {
            self.err(
                format!("{field}.language"),
                format!("`{language}` is not a language code like en_US"),
            );
        }
        for (i, p) in t.params.iter().enumerate() {
            self.text(&format!("{field}.params[{i}]"), p, 0);
        }
        Some(Template {
            name: t.name.clone(),
            language,
            params: t.params.clone(),
        })
    }

    fn fallbacks(&mut self, field: &str, list: &[String], allow_email: bool) -> Vec<Fallback> {
        let mut out = Vec::new();
        for (i, f) in list.iter().enumerate() {
            match f.as_str() {
                "email" if allow_email => out.push(Fallback::Email),
                "email" => self.err(
                    format!("{field}[{i}]"),
                    "email fallback is only allowed in the long tail (never switch a DM lead to email before it)",
                ),
                "task" => out.push(Fallback::Task),
                other => self.err(format!("{field}[{i}]"), format!("unknown fallback `{other}` (email, task)")),
            }
        }
        out
    }

    fn cadence(&mut self, raw: RawCadence) -> Option<Cadence> {
        let mut ids = BTreeSet::new();
        self.id("id", &raw.id.replace('-', "_"), &mut BTreeSet::new());
        let _ = raw.description;
        let timezone = raw.timezone.as_deref().and_then(|z| match z.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.err(
                    "timezone",
                    format!("unknown time zone `{z}` (use an IANA name like Europe/Paris)"),
                );
                None
            }
        });
        let quiet_hours = raw.quiet_hours.as_ref().and_then(|q| {
            let start = self.time("quiet_hours.start", &q.start)?;
            let end = self.time("quiet_hours.end", &q.end)?;
            if start == end {
                self.err("quiet_hours", "start and end are equal");
            }
            Some(QuietHours { start, end })
        });
        for (k, v) in &raw.defaults {
            if !KNOWN_PLACEHOLDERS.contains(&k.as_str()) {
                self.err(
                    format!("defaults.{k}"),
                    "not a placeholder that takes a default",
                );
            }
            if placeholders(v).map(|p| !p.is_empty()).unwrap_or(true) {
                self.err(
                    format!("defaults.{k}"),
                    "defaults are plain text without placeholders",
                );
            }
        }

        // Main steps.
        if raw.steps.is_empty() {
            self.err("steps", "a cadence needs at least one step");
        }
        let mut steps = Vec::new();
        let mut slots_offered = 0usize;
        let mut prev: Option<(String, Vec<QuestionOption>)> = None;
        for (i, s) in raw.steps.iter().enumerate() {
            let f = format!("steps[{i}]");
            self.id(&format!("{f}.id"), &s.id, &mut ids);
            let (tname, target) = match &s.trigger {
                RawTrigger::Name(n) => (n.clone(), None),
                RawTrigger::Named(m) if m.len() == 1 => {
                    let (k, v) = m.iter().next().map(|(k, v)| (k.clone(), v.clone())).unzip();
                    (k.unwrap_or_default(), v)
                }
                RawTrigger::Named(_) => {
                    self.err(
                        format!("{f}.trigger"),
                        "use one trigger, e.g. `reply` or `answer: qualify`",
                    );
                    continue;
                }
            };
            let trigger = match tname.as_str() {
                "first_contact" => Trigger::FirstContact,
                "reply" => Trigger::Reply,
                "answer" => Trigger::Answer,
                "engaged" => Trigger::Engaged,
                other => {
                    self.err(
                        format!("{f}.trigger"),
                        format!("unknown trigger `{other}` (first_contact, reply, answer, engaged; no-reply touches go under follow_ups)"),
                    );
                    continue;
                }
            };
            match (i, trigger) {
                (0, Trigger::FirstContact) => {}
                (0, t) => self.err(
                    format!("{f}.trigger"),
                    format!("the first step must be first_contact, not {}", t.name()),
                ),
                (_, Trigger::FirstContact) => self.err(
                    format!("{f}.trigger"),
                    "only the first step is first_contact",
                ),
                _ => {}
            }
            if let (Some(target), Some((prev_id, _))) = (&target, &prev) {
                if target != prev_id {
                    self.err(
                        format!("{f}.trigger"),
                        format!(
                            "`{target}` is not the previous step `{prev_id}`; steps run in order"
                        ),
                    );
                }
            }
            if trigger == Trigger::Answer && prev.as_ref().is_none_or(|(_, o)| o.is_empty()) {
                self.err(
                    format!("{f}.trigger"),
                    "`answer` needs a previous step with options",
                );
            }
            let within = self.duration(&format!("{f}.within"), &s.within);
            let delay = match &s.delay {
                Some(d) => self.duration(&format!("{f}.delay"), d),
                None => Some(Duration::zero()),
            };
            if let (Some(w), Some(d)) = (within, delay) {
                if d > w {
                    self.err(format!("{f}.delay"), "longer than `within`");
                }
            }

            // Options.
            let mut options = Vec::new();
            let mut keys = BTreeSet::new();
            if s.options.len() > 10 {
                self.err(
                    format!("{f}.options"),
                    "at most 10 options (WhatsApp lists hold 10 rows)",
                );
            }
            for (j, o) in s.options.iter().enumerate() {
                let of = format!("{f}.options[{j}]");
                let key_ok = !o.key.is_empty()
                    && o.key.len() <= 8
                    && o.key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !key_ok {
                    self.err(
                        format!("{of}.key"),
                        "keys are short lowercase letters or digits (a, b, c)",
                    );
                }
                if !keys.insert(o.key.clone()) {
                    self.err(format!("{of}.key"), format!("duplicate option `{}`", o.key));
                }
                if o.label.trim().is_empty() || o.label.chars().count() > MAX_LABEL_CHARS {
                    self.err(
                        format!("{of}.label"),
                        format!("1–{MAX_LABEL_CHARS} characters (WhatsApp button titles)"),
                    );
                }
                options.push(QuestionOption {
                    key: o.key.clone(),
                    label: o.label.clone(),
                    words: o.words.clone(),
                });
            }
            if let Some(o) = &s.otherwise {
                if !keys.contains(o) {
                    self.err(format!("{f}.otherwise"), format!("no option `{o}`"));
                }
            }
            if s.otherwise.is_some() && options.is_empty() {
                self.err(format!("{f}.otherwise"), "only for steps with options");
            }

            // Content: text or variants keyed by the previous step's answer; A/B arms shaped the same.
            let prev_keys: BTreeSet<String> = prev
                .as_ref()
                .map(|(_, o)| o.iter().map(|o| o.key.clone()).collect())
                .unwrap_or_default();
            let shape = StepContent {
                text: &s.text,
                media: &s.media,
                slots: s.slots,
                variants: &s.variants,
            };
            let content = self.step_content(&f, &shape, &prev_keys, slots_offered);
            let ab = self.arms(&f, &s.ab, content.as_ref(), |v, af, a| {
                let shape = StepContent {
                    text: &a.text,
                    media: &a.media,
                    slots: a.slots,
                    variants: &a.variants,
                };
                v.step_content(af, &shape, &prev_keys, slots_offered)
            });
            let new_slots = content
                .iter()
                .chain(ab.iter().map(|a| &a.content))
                .flat_map(|c| c.all().map(|(_, c)| c.slots as usize))
                .max()
                .unwrap_or(0);
            slots_offered += new_slots;
            prev = Some((s.id.clone(), options.clone()));
            if let (Some(within), Some(delay), Some(content)) = (within, delay, content) {
                steps.push(Step {
                    id: s.id.clone(),
                    trigger,
                    within,
                    delay,
                    content,
                    specs: crate::engine::option_specs(&s.id, &options),
                    options,
                    otherwise: s.otherwise.clone(),
                    ab,
                });
            }
        }
        let main_ids: BTreeSet<String> = raw.steps.iter().map(|s| s.id.clone()).collect();

        // Follow-ups.
        let mut follow_ups = Vec::new();
        for (i, fu) in raw.follow_ups.iter().enumerate() {
            let f = format!("follow_ups[{i}]");
            self.id(&format!("{f}.id"), &fu.id, &mut ids);
            let after = self.duration(&format!("{f}.after"), &fu.after);
            if let Some(a) = after {
                if a < MIN_NO_REPLY_GAP {
                    self.err(format!("{f}.after"), "a no-reply touch must wait at least 4h (faster reads as automation gone wrong)");
                }
            }
            let content =
                self.follow_up_content(&f, &fu.text, &fu.variants, &main_ids, slots_offered);
            let ab = self.arms(&f, &fu.ab, Some(&content), |v, af, a| {
                if a.media.is_some() || a.slots.is_some() {
                    v.err(af, "follow-up arms take `text` or `variants`");
                }
                if a.text.is_none() && a.variants.is_empty() {
                    v.err(af, "needs `text` or `variants`");
                    return None;
                }
                Some(v.follow_up_content(af, &a.text, &a.variants, &main_ids, slots_offered))
            });
            let extra: usize = std::iter::once(&content)
                .chain(ab.iter().map(|a| &a.content))
                .flat_map(|c| c.all().map(|(_, c)| c.slots as usize))
                .max()
                .unwrap_or(0);
            slots_offered += extra;
            let template = self.template(&format!("{f}.template"), &fu.template);
            let fallback = self.fallbacks(&format!("{f}.fallback"), &fu.fallback, false);
            if let Some(after) = after {
                follow_ups.push(FollowUp {
                    id: fu.id.clone(),
                    after,
                    content,
                    template,
                    fallback,
                    ab,
                });
            }
        }

        // Long tail.
        let mut long_tail: Vec<LongTailTouch> = Vec::new();
        for (i, lt) in raw.long_tail.iter().enumerate() {
            let f = format!("long_tail[{i}]");
            self.id(&format!("{f}.id"), &lt.id, &mut ids);
            let at = self.duration(&format!("{f}.at"), &lt.at);
            if let (Some(at), Some(prev)) = (at, long_tail.last()) {
                if at < prev.at + MIN_NO_REPLY_GAP {
                    self.err(
                        format!("{f}.at"),
                        format!("must be at least 4h after `{}`", prev.id),
                    );
                }
            }
            if let Some(at) = at {
                if at < Duration::days(1) {
                    self.err(
                        format!("{f}.at"),
                        "long-tail touches start a day or more after first contact",
                    );
                }
            }
            let channel = match lt.channel.as_str() {
                "dm" => Some(TouchChannel::Dm),
                "email" => Some(TouchChannel::Email),
                "task" => Some(TouchChannel::Task),
                other => {
                    self.err(
                        format!("{f}.channel"),
                        format!("unknown channel `{other}` (dm, email, task)"),
                    );
                    None
                }
            };
            if channel == Some(TouchChannel::Email) && lt.subject.is_none() {
                self.err(format!("{f}.subject"), "email touches need a subject");
            }
            let raw_c = RawContent {
                text: lt.text.clone(),
                subject: lt.subject.clone(),
                media: None,
                slots: None,
            };
            let content = self.content(&f, &raw_c, slots_offered);
            let template = self.template(&format!("{f}.template"), &lt.template);
            let fallback = self.fallbacks(&format!("{f}.fallback"), &lt.fallback, true);
            if let (Some(at), Some(channel), Some(content)) = (at, channel, content) {
                long_tail.push(LongTailTouch {
                    id: lt.id.clone(),
                    at,
                    channel,
                    content,
                    template,
                    fallback,
                });
            }
        }

        // End.
        let end_id = raw.end.id.clone().unwrap_or_else(|| raw.end.action.clone());
        self.id("end.id", &end_id, &mut ids);
        let newsletter = match raw.end.action.as_str() {
            "newsletter" => true,
            "finish" => false,
            other => {
                self.err(
                    "end.action",
                    format!("unknown action `{other}` (newsletter, finish)"),
                );
                false
            }
        };
        let end_after = self.duration("end.after", &raw.end.after);

        // Deferral.
        let deferral = match &raw.deferral {
            Some(d) => {
                let ack = d.ack.as_ref().and_then(|t| {
                    let raw = RawContent {
                        text: t.clone(),
                        subject: None,
                        media: None,
                        slots: None,
                    };
                    self.content("deferral.ack", &raw, 0)
                });
                let resume_at = match &d.resume_at {
                    Some(t) => self.time("deferral.resume_at", t),
                    None => NaiveTime::from_hms_opt(10, 0, 0),
                };
                let reopen_id = d.reopen_id.clone().unwrap_or_else(|| "reopen".into());
                self.id("deferral.reopen_id", &reopen_id, &mut ids);
                let raw = RawContent {
                    text: d.reopen.clone(),
                    subject: None,
                    media: None,
                    slots: None,
                };
                let reopen = self.content("deferral.reopen", &raw, 0);
                let template = self.template("deferral.template", &d.template);
                let fallback = self.fallbacks("deferral.fallback", &d.fallback, true);
                let silence = match &d.silence {
                    Some(s) => self.duration("deferral.silence", s),
                    None => Some(Duration::days(7)),
                };
                match (resume_at, reopen, silence) {
                    (Some(resume_at), Some(reopen), Some(silence)) => Some(Deferral {
                        ack,
                        resume_at,
                        reopen_id,
                        reopen,
                        template,
                        fallback,
                        silence,
                    }),
                    _ => None,
                }
            }
            None => Some(default_deferral()),
        };
        // A file without `opt_out` gets the default confirmation; `opt_out: {}` sends none.
        let opt_out = OptOut {
            confirm: match raw.opt_out {
                Some(o) => o.confirm,
                None => Some(DEFAULT_OPT_OUT_CONFIRM.into()),
            },
        };
        if let Some(c) = &opt_out.confirm {
            self.text("opt_out.confirm", c, 0);
        }

        if ids.contains(HANDOFF_RESUME_STEP) {
            self.err(
                "steps",
                format!("`{HANDOFF_RESUME_STEP}` is reserved for resuming a silent handoff"),
            );
        }
        let resume_after = raw
            .handoff
            .as_ref()
            .and_then(|h| h.resume_after.as_deref())
            .and_then(|r| self.duration("handoff.resume_after", r));
        if let Some(r) = resume_after {
            if !(MIN_HANDOFF_RESUME..=MAX_HANDOFF_RESUME).contains(&r) {
                self.err(
                    "handoff.resume_after",
                    "between 1h and 30d (a person needs time to answer; leave it out to never auto-resume)",
                );
            }
        }
        let handoff = Handoff { resume_after };

        let touches = raw.steps.len() + raw.follow_ups.len() + raw.long_tail.len();
        if touches > MAX_TOUCHES {
            self.err("steps", format!("{touches} touches; a cadence has at most {MAX_TOUCHES} (steps + follow_ups + long_tail)"));
        }
        let max_touches = raw.max_touches.unwrap_or(MAX_TOUCHES as u32);
        if max_touches == 0 || max_touches as usize > MAX_TOUCHES {
            self.err("max_touches", format!("between 1 and {MAX_TOUCHES}"));
        }

        Some(Cadence {
            id: raw.id.clone(),
            name: raw.name.unwrap_or_else(|| raw.id.clone()),
            max_touches,
            defaults: raw.defaults,
            timezone,
            quiet_hours,
            steps,
            follow_ups,
            long_tail,
            end: End {
                id: end_id,
                newsletter,
                after: end_after?,
                list: raw.end.list.unwrap_or_else(|| "newsletter".into()),
                topic: raw.end.topic.unwrap_or_else(|| "quarterly".into()),
            },
            deferral: deferral?,
            opt_out,
            handoff,
        })
    }
}

fn default_deferral() -> Deferral {
    Deferral {
        ack: Some(Content {
            text: "No problem, I'll check back {deferral}. Talk then 👋".into(),
            subject: None,
            media: None,
            slots: 0,
        }),
        resume_at: NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default(),
        reopen_id: "reopen".into(),
        reopen: Content {
            text: "Hey {first_name}, you asked me to check back around now. Still thinking about {topic}?".into(),
            subject: None,
            media: None,
            slots: 0,
        },
        template: None,
        fallback: vec![Fallback::Email, Fallback::Task],
        silence: Duration::days(7),
    }
}

const DEFAULT_OPT_OUT_CONFIRM: &str = "Done, you won't get more messages from us. Take care!";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_cadence_is_valid() {
        for (id, yaml) in BUILTINS {
            let c =
                Cadence::from_yaml(&format!("{id}.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&c.id, id);
            assert!(c.steps.len() + c.follow_ups.len() + c.long_tail.len() <= MAX_TOUCHES);
            assert_eq!(c.handoff.resume_after, None, "no auto-resume by default");
        }
    }

    fn coach_with(extra: &str) -> Result<Cadence, CadenceErrors> {
        let yaml = BUILTINS
            .iter()
            .find(|(id, _)| *id == "coach-ig")
            .map(|(_, y)| format!("{y}\n{extra}\n"))
            .unwrap_or_default();
        Cadence::from_yaml("c.yaml", &yaml)
    }

    #[test]
    fn handoff_resume_after_is_optional_bounded_and_validated() {
        let c = coach_with("handoff: { resume_after: 72h }").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.handoff.resume_after, Some(Duration::hours(72)));
        for (bad, why) in [
            ("handoff: { resume_after: 10m }", "between 1h and 30d"),
            ("handoff: { resume_after: 45d }", "between 1h and 30d"),
            ("handoff: { resume_after: soon }", "invalid duration"),
            ("handoff: { resume: 72h }", "unknown field"),
        ] {
            let e = coach_with(bad).expect_err(bad).to_string();
            assert!(e.contains("handoff") && e.contains(why), "{bad}: {e}");
        }
    }
}
