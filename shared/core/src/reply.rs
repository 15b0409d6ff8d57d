//! Reply understanding: what a lead's message means for the cadence. Rule-based and deterministic.
//!
//! [`understand`] reads one inbound message (its text and any quick-reply / button payload) against what the
//! lead was last asked ([`ReplyContext`]) and returns one [`Intent`]. There is no model and no I/O: the same
//! input always gives the same answer, and a call costs one normalisation pass plus table look-ups, because
//! it sits on the inbound hot path.
//!
//! # Normalisation
//! The text is normalised once: zero-width and bidi control characters (U+200B..U+200D, U+FEFF, U+200E/F,
//! U+202A..U+202E, U+2066..U+2069, soft hyphen, variation selectors) are dropped so they cannot split a word;
//! letters are lower-cased (Unicode) and Latin accents folded (`é`→`e`, `ß`→`ss`, `œ`→`oe`, combining marks
//! dropped); whitespace collapses to single spaces. An apostrophe joins an English `n't` (`don't` → `dont`)
//! and otherwise separates words (`l'option` → `l option`). Words ("tokens") are the maximal runs of
//! alphanumeric characters, so punctuation and emoji never take part in a match, and every phrase in the
//! lexicons below is matched as a whole sequence of words — `stop` never matches inside `nonstop`.
//!
//! # Precedence
//! The first rule that fires wins:
//! 1. **Opt-out** — an opt-out payload (`STOP`, `UNSUBSCRIBE`, `OPT_OUT`); a short message that *is* a stop
//!    phrase in one of the supported languages once politeness words are removed (`STOP!!!`, `pls stop`,
//!    `darme de baja`); an unambiguous request about the messages themselves anywhere (`please stop messaging
//!    me, not interested`); or an unambiguous opt-out verb (`unsubscribe`, `abmelden`) in a short message.
//!    Sentences that merely contain the word (`can't stop thinking about it`, `bus stop`) are not opt-outs.
//! 2. **Slot pick** (only when slots are offered) — the `{prefix}{n}` payload; a message that is only a number
//!    or ordinal (`2`, `#2`, `2️⃣`, `the second one`, `la deuxième`, `the last one`); or weekday and/or clock
//!    mentions, read in the lead's zone, that single out exactly one slot (`thursday`, `Thu 10am`, `14h`).
//!    Ambiguous, negated (`thursday doesn't work`) or unmatched mentions pick nothing.
//! 3. **Option pick** (only when options are offered) — the option's payload; the key letter alone or
//!    decorated (`b`, `(b)`, `B - followers`, `option b`, `b please`); a bare number/ordinal when no slots are
//!    offered; or label words / extra `words` that point at exactly one option. `a and b`, `both` pick nothing.
//! 4. **Deferral** — a real time cue: `next week|month|year`, `in 2 weeks`, `in a few days`, `after the 15th`,
//!    `after christmas`, a month or season introduced by a preposition (`in October`, `en octobre`, `im
//!    Oktober`) or standing alone, or appearing with a later-contact cue (`send me something`, `check back`),
//!    and `tomorrow` when it stands alone or comes with such a cue. Months and seasons resolve to their next
//!    start strictly after the current month; everything is computed from `ctx.now` in `ctx.tz`.
//! 5. **Objection** — price, then timing, then hesitation words (`too expensive`, `not now`, `not sure`).
//! 6. **Plain** — anything else.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::LazyLock;

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
    /// The label and words normalised once (`label\nword\nword`) by [`OptionSpec::new`]; empty means they are
    /// normalised on each use.
    pub normalized: String,
}

impl OptionSpec {
    /// An option with its label and words normalised up front, for options read many times (a cadence's).
    pub fn new(key: String, label: String, words: Vec<String>, payload: String) -> Self {
        let mut normalized = String::new();
        normalize_option_into(&label, &words, &mut normalized);
        Self {
            key,
            label,
            words,
            payload,
            normalized,
        }
    }
}

fn normalize_option_into(label: &str, words: &[String], out: &mut String) {
    normalize_into(label, out);
    for w in words {
        out.push('\n');
        normalize_into(w, out);
    }
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
    Deferral {
        date: NaiveDate,
        label: String,
    },
    Objection(Objection),
    /// Anything else.
    Plain,
}

/// Reads a message (its text and any quick-reply/button payload) against what the lead was asked.
pub fn understand(text: Option<&str>, payload: Option<&str>, ctx: &ReplyContext<'_>) -> Intent {
    let payload = payload.map(str::trim).filter(|p| !p.is_empty());
    if payload.is_some_and(is_opt_out_payload) {
        return Intent::OptOut;
    }
    let norm = normalize(text.unwrap_or(""));
    let msg = Msg::new(&norm);
    if is_opt_out(&msg) {
        return Intent::OptOut;
    }
    if !ctx.slots.is_empty() {
        // A payload is what the lead tapped, so it outranks whatever the text might suggest.
        let pick = payload
            .and_then(|p| slot_from_payload(p, ctx))
            .or_else(|| slot_from_text(&msg, ctx));
        if let Some(i) = pick {
            return Intent::SlotPick(i);
        }
    }
    if !ctx.options.is_empty() {
        let pick = payload
            .and_then(|p| {
                ctx.options
                    .iter()
                    .find(|o| o.payload.trim().eq_ignore_ascii_case(p))
            })
            .or_else(|| option_from_text(&msg, ctx));
        if let Some(option) = pick {
            return Intent::OptionPick(option.key.clone());
        }
    }
    let today = ctx.now.with_timezone(&ctx.tz).date_naive();
    if let Some((date, label)) = deferral(&msg, today) {
        return Intent::Deferral { date, label };
    }
    match objection(&msg) {
        Some(o) => Intent::Objection(o),
        None => Intent::Plain,
    }
}

/// The first email address in a message, lower-cased, if any.
///
/// "Plausible" means `local@domain.tld`: a non-empty ASCII local part, a dotted domain of letter/digit/hyphen
/// labels and a top-level domain of at least two letters. Trailing sentence punctuation is not part of it.
pub fn extract_email(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('@') {
        // Both scans stop at any non-ASCII byte, so the slice bounds below fall on char boundaries.
        let start = bytes[..at]
            .iter()
            .rposition(|b| !is_email_local_byte(*b))
            .map_or(0, |p| p + 1);
        let end = bytes[at + 1..]
            .iter()
            .position(|b| !is_email_domain_byte(*b))
            .map_or(bytes.len(), |p| at + 1 + p);
        let local = text[start..at].trim_start_matches('.');
        let domain = text[at + 1..end].trim_end_matches(['.', '-']);
        if is_valid_local(local) && is_valid_domain(domain) {
            let mut email = String::with_capacity(local.len() + domain.len() + 1);
            email.push_str(local);
            email.push('@');
            email.push_str(domain);
            email.make_ascii_lowercase();
            return Some(email);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------------------
// Normalisation and tokens
// ---------------------------------------------------------------------------------------------------------

/// Lower-cases, folds accents, drops invisible characters and collapses whitespace (see the module docs).
fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    normalize_into(raw, &mut out);
    out
}

/// [`normalize`], appending to `out` (so several short texts can share one buffer).
fn normalize_into(raw: &str, out: &mut String) {
    let start = out.len();
    let mut pending_space = false;
    for (idx, c) in raw.char_indices() {
        if is_invisible(c) {
            continue;
        }
        if c.is_ascii() && !c.is_whitespace() && !is_apostrophe(c) {
            // The common case, without the Unicode tables: ASCII lower-cases to one ASCII char, folds to itself.
            if pending_space && out.len() > start {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if is_apostrophe(c) {
            // `don't`/`can't` become `dont`/`cant` so typed and untyped apostrophes read the same; any other
            // apostrophe (`l'option`, `I'll`) separates words.
            let mut after = raw[idx + c.len_utf8()..]
                .chars()
                .filter(|c| !is_invisible(*c));
            let joins = out.len() > start
                && out.ends_with('n')
                && matches!(after.next(), Some('t' | 'T'))
                && !after.next().is_some_and(char::is_alphanumeric);
            if !joins {
                pending_space = true;
            }
            continue;
        }
        for lc in c.to_lowercase() {
            if is_combining_mark(lc) {
                continue;
            }
            if pending_space && out.len() > start {
                out.push(' ');
            }
            pending_space = false;
            push_folded(lc, out);
        }
    }
}

/// Characters that carry no text and must not split a word (zero-width, bidi controls, soft hyphen,
/// variation selectors such as the U+FE0F in `2️⃣`).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}'
    )
}

/// Combining diacritics: decomposed input (`e` + U+0301) folds like precomposed `é`.
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// Pushes `c` (already lower-case) with Latin-1 / Latin Extended-A diacritics removed.
fn push_folded(c: char, out: &mut String) {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ª' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' | 'ð' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' | 'ĸ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'º' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => 's',
        'ţ' | 'ť' | 'ŧ' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        'ß' => return out.push_str("ss"),
        'æ' => return out.push_str("ae"),
        'œ' => return out.push_str("oe"),
        'ĳ' => return out.push_str("ij"),
        'þ' => return out.push_str("th"),
        other => other,
    };
    out.push(folded);
}

/// One word of the normalised text: its byte span, so the punctuation around it can be inspected, and what
/// the lexicons know about it.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    s: &'a str,
    start: usize,
    end: usize,
    entry: &'static Entry,
}

/// A normalised message split into words, with the lexicon phrases found in it.
struct Msg<'a> {
    text: &'a str,
    toks: Vec<Tok<'a>>,
    /// Bit per [`Set`] that has a phrase in the message.
    hits: u32,
}

impl<'a> Msg<'a> {
    fn new(text: &'a str) -> Self {
        let mut toks = Vec::with_capacity(text.len() / 5 + 1);
        let mut start = None;
        let tok = |s: usize, e: usize| Tok {
            s: &text[s..e],
            start: s,
            end: e,
            entry: lookup(&text[s..e]),
        };
        for (i, c) in text.char_indices() {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
            } else if let Some(s) = start.take() {
                toks.push(tok(s, i));
            }
        }
        if let Some(s) = start {
            toks.push(tok(s, text.len()));
        }
        let mut msg = Msg {
            text,
            toks,
            hits: 0,
        };
        msg.hits = msg.find_phrases();
        msg
    }

    /// One pass over the words: each word's entry lists the phrases that start with it.
    fn find_phrases(&self) -> u32 {
        let mut hits = 0;
        for (i, tok) in self.toks.iter().enumerate() {
            for &(phrase, set) in &tok.entry.phrases {
                if set == Set::OptOutWhole || self.phrase_at(i, phrase).is_none() {
                    continue;
                }
                // "don't stop messaging me" / "I don't want to unsubscribe" say the opposite.
                let counts = match set {
                    Set::OptOutAnywhere => !negated_within(self, i, 1),
                    Set::OptOutVerb => !negated_within(self, i, 3),
                    _ => true,
                };
                if counts {
                    hits |= set.bit();
                }
            }
        }
        hits
    }

    fn has(&self, set: Set) -> bool {
        self.hits & set.bit() != 0
    }

    fn len(&self) -> usize {
        self.toks.len()
    }

    fn is_empty(&self) -> bool {
        self.toks.is_empty()
    }

    fn word(&self, i: usize) -> Option<&'a str> {
        self.toks.get(i).map(|t| t.s)
    }

    fn words(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.toks.iter().map(|t| t.s)
    }

    /// What the lexicons know about word `i` (nothing past the end).
    fn entry(&self, i: usize) -> &'static Entry {
        self.toks.get(i).map_or(&EMPTY_ENTRY, |t| t.entry)
    }

    fn tagged(&self, i: usize, tags: Tags) -> bool {
        self.toks.get(i).is_some_and(|t| t.entry.tags.has(tags))
    }

    /// The text between word `i` and the next word (or the end).
    fn gap_after(&self, i: usize) -> &'a str {
        let Some(tok) = self.toks.get(i) else {
            return "";
        };
        let end = self.toks.get(i + 1).map_or(self.text.len(), |t| t.start);
        &self.text[tok.end..end]
    }

    /// The text before the first word.
    fn lead_in(&self) -> &'a str {
        self.toks
            .first()
            .map_or(self.text, |t| &self.text[..t.start])
    }

    /// Whether `phrase` (space-separated normalised words) occurs at word `i`; returns the index after it.
    fn phrase_at(&self, i: usize, phrase: &str) -> Option<usize> {
        let mut k = i;
        for w in phrase.split(' ') {
            if self.word(k)? != w {
                return None;
            }
            k += 1;
        }
        Some(k)
    }

    /// Words of the message not tagged `filler`.
    fn content_words(&self, filler: Tags) -> impl Iterator<Item = (usize, &'a str)> + '_ {
        self.toks
            .iter()
            .enumerate()
            .filter(move |(_, t)| !t.entry.tags.has(filler))
            .map(|(i, t)| (i, t.s))
    }
}

/// Whether the words of `words` equal `phrase`'s words exactly.
fn seq_is(words: &[&str], phrase: &str) -> bool {
    let mut it = words.iter();
    phrase.split(' ').all(|p| it.next() == Some(&p)) && it.next().is_none()
}

// ---------------------------------------------------------------------------------------------------------
// Lexicon index
// ---------------------------------------------------------------------------------------------------------
//
// The word lists below are the source of truth; they are indexed once, on first use, into one map from word
// to everything known about it (list memberships, weekday, month, ordinal …, and the phrases starting with
// it). A message then costs one hash look-up per word instead of a scan of every list, which keeps
// `understand` well inside its hot-path budget however long the lists grow.

/// Single-word lists a word belongs to, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tags(u32);

impl Tags {
    const POLITE: Tags = Tags(1);
    const NEGATOR: Tags = Tags(1 << 1);
    const PICK_FILLER: Tags = Tags(1 << 2);
    const LAST: Tags = Tags(1 << 3);
    const OPTION_LEAD: Tags = Tags(1 << 4);
    const CONNECTOR: Tags = Tags(1 << 5);
    const LETTER_FILLER: Tags = Tags(1 << 6);
    const LABEL_STOPWORD: Tags = Tags(1 << 7);
    const TOMORROW: Tags = Tags(1 << 8);
    const TIME_PREP: Tags = Tags(1 << 9);
    const TIME_MODIFIER: Tags = Tags(1 << 10);
    const ALONE_FILLER: Tags = Tags(1 << 11);
    const IN_PREP: Tags = Tags(1 << 12);
    const ABOUT: Tags = Tags(1 << 13);
    const AMBIGUOUS_MONTH: Tags = Tags(1 << 14);
    const REFUSAL: Tags = Tags(1 << 15);
    const AFTER: Tags = Tags(1 << 16);
    const DAY_ARTICLE: Tags = Tags(1 << 17);

    fn has(self, other: Tags) -> bool {
        self.0 & other.0 != 0
    }
}

/// Phrase lists (one or more words), found anywhere in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// Matched against the whole message instead, so never recorded as a hit.
    OptOutWhole,
    OptOutAnywhere,
    OptOutVerb,
    Refusal,
    Several,
    NextWeek,
    NextMonth,
    NextYear,
    Holidays,
    DayAfterTomorrow,
    LaterCue,
    Price,
    Timing,
    Unsure,
}

impl Set {
    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// Everything the lexicons know about one word.
#[derive(Debug)]
struct Entry {
    tags: Tags,
    weekday: Option<Weekday>,
    month: Option<u32>,
    /// Start month and label.
    season: Option<(u32, &'static str)>,
    /// 1-based.
    ordinal: Option<usize>,
    unit: Option<Unit>,
    amount: Option<u32>,
    /// Phrases starting with this word.
    phrases: Vec<(&'static str, Set)>,
}

impl Entry {
    const fn empty() -> Entry {
        Entry {
            tags: Tags(0),
            weekday: None,
            month: None,
            season: None,
            ordinal: None,
            unit: None,
            amount: None,
            phrases: Vec::new(),
        }
    }
}

/// The entry of words no lexicon knows.
static EMPTY_ENTRY: Entry = Entry::empty();

static LEXICON: LazyLock<HashMap<&'static str, Entry>> = LazyLock::new(build_lexicon);

fn lookup(word: &str) -> &'static Entry {
    LEXICON.get(word).unwrap_or(&EMPTY_ENTRY)
}

#[rustfmt::skip]
const TAGGED: &[(&[&str], Tags)] = &[
    (POLITE, Tags::POLITE), (NEGATORS, Tags::NEGATOR), (PICK_FILLER, Tags::PICK_FILLER), (LAST, Tags::LAST),
    (OPTION_LEAD, Tags::OPTION_LEAD), (CONNECTORS, Tags::CONNECTOR), (LETTER_FILLER, Tags::LETTER_FILLER),
    (LABEL_STOPWORDS, Tags::LABEL_STOPWORD), (TOMORROW, Tags::TOMORROW), (TIME_PREPS, Tags::TIME_PREP),
    (TIME_MODIFIERS, Tags::TIME_MODIFIER), (ALONE_FILLER, Tags::ALONE_FILLER), (IN_PREPS, Tags::IN_PREP),
    (ABOUT, Tags::ABOUT), (AMBIGUOUS_MONTHS, Tags::AMBIGUOUS_MONTH), (REFUSAL_WORDS, Tags::REFUSAL),
    (AFTER_WORDS, Tags::AFTER), (DAY_ARTICLES, Tags::DAY_ARTICLE),
];

#[rustfmt::skip]
const PHRASE_SETS: &[(&[&str], Set)] = &[
    (OPT_OUT_WHOLE, Set::OptOutWhole), (OPT_OUT_ANYWHERE, Set::OptOutAnywhere),
    (OPT_OUT_VERBS, Set::OptOutVerb), (REFUSAL_PHRASES, Set::Refusal), (SEVERAL, Set::Several),
    (NEXT_WEEK, Set::NextWeek), (NEXT_MONTH, Set::NextMonth), (NEXT_YEAR, Set::NextYear),
    (AFTER_HOLIDAYS, Set::Holidays), (DAY_AFTER_TOMORROW, Set::DayAfterTomorrow),
    (LATER_CUES, Set::LaterCue), (PRICE, Set::Price), (TIMING, Set::Timing), (UNSURE, Set::Unsure),
];

fn build_lexicon() -> HashMap<&'static str, Entry> {
    fn at<'m>(map: &'m mut HashMap<&'static str, Entry>, w: &'static str) -> &'m mut Entry {
        map.entry(w).or_insert_with(Entry::empty)
    }
    let mut map = HashMap::new();
    for (list, tags) in TAGGED {
        for w in *list {
            at(&mut map, w).tags.0 |= tags.0;
        }
    }
    for (list, set) in PHRASE_SETS {
        for p in *list {
            let first = p.split(' ').next().unwrap_or(p);
            at(&mut map, first).phrases.push((p, *set));
        }
    }
    for (w, d) in WEEKDAYS {
        at(&mut map, w).weekday = Some(*d);
    }
    for (w, m) in MONTHS {
        at(&mut map, w).month = Some(*m);
    }
    for (w, m, label) in SEASONS {
        at(&mut map, w).season = Some((*m, label));
    }
    for (w, n) in ORDINALS {
        at(&mut map, w).ordinal = Some(*n);
    }
    for (w, u) in UNITS {
        at(&mut map, w).unit = Some(*u);
    }
    for (w, n) in AMOUNTS {
        at(&mut map, w).amount = Some(*n);
    }
    map
}

// ---------------------------------------------------------------------------------------------------------
// 1. Opt-out
// ---------------------------------------------------------------------------------------------------------

const OPT_OUT_PAYLOADS: [&str; 3] = ["STOP", "UNSUBSCRIBE", "OPT_OUT"];

/// Whole-message stop phrases, matched after politeness words are removed.
#[rustfmt::skip]
const OPT_OUT_WHOLE: &[&str] = &[
    // English
    "stop", "stopp", "unsubscribe", "unsub", "unsubscribe me", "opt out", "optout", "opt me out",
    "cancel", "end", "quit", "stop all", "stop it", "stop messaging", "stop messaging me",
    "stop texting me", "stop sending me messages", "stop sending messages", "stop contacting me",
    "stop writing me", "stop writing to me", "stop the messages", "dont message me",
    "do not message me", "dont contact me", "do not contact me", "dont text me", "do not text me",
    "leave me alone", "remove me", "remove me from your list", "remove me from the list",
    "take me off your list", "take me off the list", "take me off", "no more messages", "no more",
    // French
    "arret", "arreter", "arrete", "arretez", "desabonner", "me desabonner", "desabonnez moi",
    "desabonne moi", "desinscrire", "me desinscrire", "desinscrivez moi", "desinscris moi",
    "ne plus recevoir", "je ne veux plus recevoir", "laissez moi tranquille",
    "laisse moi tranquille", "ne m ecrivez plus", "ne m ecris plus", "ne me contactez plus",
    // Spanish
    "parar", "para", "basta", "baja", "darme de baja", "dar de baja", "de baja", "cancelar",
    "cancelar suscripcion", "cancelar la suscripcion", "no me escribas", "no me escribas mas",
    "no me contactes", "dejame en paz", "deja de escribirme",
    // Portuguese
    "pare", "sair", "nao quero mais", "nao quero mais receber", "me deixa em paz",
    "me tire da lista", "descadastrar",
    // Italian
    "non scrivermi", "non scrivermi piu", "disiscrivimi", "disiscrivi", "cancellami", "smettila",
    "lasciami in pace",
    // German
    "abmelden", "abbestellen", "austragen", "keine nachrichten mehr", "hor auf", "aufhoren",
    "lass mich in ruhe",
    // Dutch
    "afmelden", "uitschrijven", "stoppen", "laat me met rust",
];

/// Requests about the messages themselves: an opt-out wherever they appear (unless negated).
#[rustfmt::skip]
const OPT_OUT_ANYWHERE: &[&str] = &[
    "stop messaging me", "stop texting me", "stop sending me", "stop contacting me",
    "stop writing to me", "stop writing me", "stop spamming me", "stop emailing me",
    "dont message me", "do not message me", "dont contact me", "do not contact me", "dont text me",
    "do not text me", "leave me alone", "remove me from your list", "remove me from the list",
    "take me off your list", "take me off the list", "unsubscribe me", "no more messages",
    "opt me out", "ne plus recevoir", "ne m ecrivez plus", "ne me contactez plus", "darme de baja",
    "no me escribas", "deja de escribirme", "nao me mande mais", "me tire da lista",
    "non scrivermi piu", "keine nachrichten mehr", "lass mich in ruhe", "laat me met rust",
];

/// Opt-out verbs with no other everyday meaning: they opt out anywhere in a short message.
#[rustfmt::skip]
const OPT_OUT_VERBS: &[&str] = &[
    "unsubscribe", "unsub", "optout", "opt out", "desabonner", "desinscrire", "darme de baja",
    "descadastrar", "disiscrivimi", "abmelden", "abbestellen", "afmelden", "uitschrijven",
];

/// Words that turn an opt-out phrase into its opposite when they come just before it.
const NEGATORS: &[&str] = &["dont", "not", "never", "didnt", "doesnt", "wont"];

/// Politeness and emphasis that may surround a stop phrase ("stop please", "pls stop", "stop now").
#[rustfmt::skip]
const POLITE: &[&str] = &[
    "please", "pls", "plz", "plse", "thanks", "thank", "you", "thx", "ty", "now", "right", "just",
    "already", "ok", "okay", "asap", "svp", "stp", "merci", "por", "favor", "gracias", "obrigado",
    "obrigada", "grazie", "prego", "danke", "bitte", "aub", "alsjeblieft", "alstublieft", "s", "il",
    "vous", "plait", "te", "toi",
];

/// Leads-in that do not change a stop phrase ("I want to unsubscribe").
#[rustfmt::skip]
const WANT_PREFIXES: &[&str] = &[
    "i want to", "i d like to", "i would like to", "i wish to", "can you", "could you", "can u",
    "je veux", "je voudrais", "quiero", "quero", "voglio", "ich will", "ich mochte", "ik wil",
];

/// Stop phrases are short; longer messages only opt out through [`OPT_OUT_ANYWHERE`].
const OPT_OUT_MAX_WORDS: usize = 8;

fn is_opt_out_payload(payload: &str) -> bool {
    OPT_OUT_PAYLOADS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(payload))
}

fn is_opt_out(msg: &Msg<'_>) -> bool {
    if msg.len() <= OPT_OUT_MAX_WORDS && !msg.is_empty() {
        // The message without politeness and repeats ("stop stop stop"), on the stack.
        let mut buf = [""; OPT_OUT_MAX_WORDS];
        let mut n = 0;
        for (_, w) in msg.content_words(Tags::POLITE) {
            if n == 0 || buf[n - 1] != w {
                buf[n] = w;
                n += 1;
            }
        }
        let mut core = &buf[..n];
        if let Some(rest) = WANT_PREFIXES.iter().find_map(|p| strip_seq_prefix(core, p)) {
            core = rest;
        }
        let whole = core.first().is_some_and(|first| {
            lookup(first)
                .phrases
                .iter()
                .any(|&(p, set)| set == Set::OptOutWhole && seq_is(core, p))
        });
        // `how do I unsubscribe?` (not negated: see `Msg::find_phrases`).
        if whole || msg.has(Set::OptOutVerb) {
            return true;
        }
    }
    msg.has(Set::OptOutAnywhere)
}

/// `words` without the leading `phrase`, if it starts with it.
fn strip_seq_prefix<'w, 's>(words: &'w [&'s str], phrase: &str) -> Option<&'w [&'s str]> {
    let mut n = 0;
    for p in phrase.split(' ') {
        if words.get(n) != Some(&p) {
            return None;
        }
        n += 1;
    }
    words.get(n..)
}

/// Whether one of the `span` words before word `i` is a negator.
fn negated_within(msg: &Msg<'_>, i: usize, span: usize) -> bool {
    (i.saturating_sub(span)..i).any(|j| msg.tagged(j, Tags::NEGATOR))
}

// ---------------------------------------------------------------------------------------------------------
// 2. Slot pick
// ---------------------------------------------------------------------------------------------------------

/// `{prefix}{n}`, 1-based, within the offered slots.
fn slot_from_payload(payload: &str, ctx: &ReplyContext<'_>) -> Option<usize> {
    let prefix = ctx.slot_payload_prefix;
    let head = payload.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let n = parse_small_number(&payload[prefix.len()..])?;
    (1..=ctx.slots.len()).contains(&n).then(|| n - 1)
}

fn slot_from_text(msg: &Msg<'_>, ctx: &ReplyContext<'_>) -> Option<usize> {
    if refuses(msg) {
        return None;
    }
    ordinal_pick(msg, ctx.slots.len()).or_else(|| slot_by_day_or_time(msg, ctx))
}

/// Words that refuse a slot when they appear around its mention ("thursday doesn't work").
#[rustfmt::skip]
const REFUSAL_WORDS: &[&str] = &[
    "none", "neither", "nor", "not", "dont", "doesnt", "cant", "cannot", "wont", "isnt", "arent",
    "didnt", "busy", "ninguno", "ninguna", "nenhum", "nenhuma", "aucun", "aucune", "pas", "nicht",
    "kein", "keiner", "keine", "geen", "niet", "nessuno", "nessuna",
];
#[rustfmt::skip]
const REFUSAL_PHRASES: &[&str] = &[
    "no puedo", "nao posso", "non posso", "no me va", "no sirve", "nao da", "non va", "can not",
];

/// Refusals around a slot mention: "thursday doesn't work", "none of these", "can't do tuesday".
fn refuses(msg: &Msg<'_>) -> bool {
    msg.toks.iter().any(|t| t.entry.tags.has(Tags::REFUSAL)) || msg.has(Set::Refusal)
}

/// Slots are compared through a bit mask; only the first 64 offered can be picked by weekday or time.
const MAX_MASK_SLOTS: usize = 64;

/// Weekday and clock mentions that, together, single out exactly one slot in the lead's zone.
fn slot_by_day_or_time(msg: &Msg<'_>, ctx: &ReplyContext<'_>) -> Option<usize> {
    let mut days: u8 = 0;
    let mut times: [Option<ClockTime>; 4] = [None; 4];
    let mut n_times = 0;
    let mut i = 0;
    while i < msg.len() {
        if let Some(day) = weekday_at(msg, i) {
            days |= 1 << day.num_days_from_monday();
        }
        if let Some((time, used)) = clock_time_at(msg, i) {
            if n_times < times.len() {
                times[n_times] = Some(time);
                n_times += 1;
            }
            i += used;
            continue;
        }
        i += 1;
    }
    if days == 0 && n_times == 0 {
        return None;
    }
    let mut candidates: u64 = 0;
    for (idx, slot) in ctx.slots.iter().take(MAX_MASK_SLOTS).enumerate() {
        let local = slot.with_timezone(&ctx.tz);
        let day_ok = days == 0 || days & (1 << local.weekday().num_days_from_monday()) != 0;
        let minutes = local.hour() * 60 + local.minute();
        let time_ok = n_times == 0 || times.iter().flatten().any(|t| t.matches(minutes));
        if day_ok && time_ok {
            candidates |= 1 << idx;
        }
    }
    (candidates.count_ones() == 1).then(|| candidates.trailing_zeros() as usize)
}

#[rustfmt::skip]
const WEEKDAYS: &[(&str, Weekday)] = &[
    // English, with the abbreviations used in slot labels
    ("monday", Weekday::Mon), ("mon", Weekday::Mon), ("tuesday", Weekday::Tue),
    ("tue", Weekday::Tue), ("tues", Weekday::Tue), ("wednesday", Weekday::Wed),
    ("wed", Weekday::Wed), ("thursday", Weekday::Thu), ("thu", Weekday::Thu),
    ("thur", Weekday::Thu), ("thurs", Weekday::Thu), ("friday", Weekday::Fri),
    ("fri", Weekday::Fri), ("saturday", Weekday::Sat), ("sat", Weekday::Sat),
    ("sunday", Weekday::Sun), ("sun", Weekday::Sun),
    // French
    ("lundi", Weekday::Mon), ("mardi", Weekday::Tue), ("mercredi", Weekday::Wed),
    ("jeudi", Weekday::Thu), ("vendredi", Weekday::Fri), ("samedi", Weekday::Sat),
    ("dimanche", Weekday::Sun),
    // Spanish
    ("lunes", Weekday::Mon), ("martes", Weekday::Tue), ("miercoles", Weekday::Wed),
    ("jueves", Weekday::Thu), ("viernes", Weekday::Fri), ("sabado", Weekday::Sat),
    ("domingo", Weekday::Sun),
    // Portuguese ("segunda" alone is read as the ordinal "second"; see `weekday_at`)
    ("terca", Weekday::Tue), ("quarta", Weekday::Wed), ("quinta", Weekday::Thu),
    ("sexta", Weekday::Fri),
    // Italian
    ("lunedi", Weekday::Mon), ("martedi", Weekday::Tue), ("mercoledi", Weekday::Wed),
    ("giovedi", Weekday::Thu), ("venerdi", Weekday::Fri), ("sabato", Weekday::Sat),
    ("domenica", Weekday::Sun),
    // German
    ("montag", Weekday::Mon), ("dienstag", Weekday::Tue), ("mittwoch", Weekday::Wed),
    ("donnerstag", Weekday::Thu), ("freitag", Weekday::Fri), ("samstag", Weekday::Sat),
    ("sonntag", Weekday::Sun),
    // Dutch
    ("maandag", Weekday::Mon), ("dinsdag", Weekday::Tue), ("woensdag", Weekday::Wed),
    ("donderdag", Weekday::Thu), ("vrijdag", Weekday::Fri), ("zaterdag", Weekday::Sat),
    ("zondag", Weekday::Sun),
];

fn weekday_at(msg: &Msg<'_>, i: usize) -> Option<Weekday> {
    // Portuguese "segunda" is both Monday and "second"; only "segunda-feira" is read as the day, because
    // "a segunda" / "la segunda" (the second one) is the likelier reply to a numbered list.
    if msg.word(i) == Some("segunda") && msg.word(i + 1) == Some("feira") {
        return Some(Weekday::Mon);
    }
    msg.entry(i).weekday
}

/// A clock time the lead wrote, in minutes after midnight. `alt` is the afternoon reading of a time written
/// without am/pm on a 12-hour face ("4:30" may be 16:30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClockTime {
    minutes: u32,
    alt: Option<u32>,
}

impl ClockTime {
    fn matches(self, minutes: u32) -> bool {
        self.minutes == minutes || self.alt == Some(minutes)
    }
}

/// Reads a clock time starting at word `i` ("2pm", "4:30pm", "10:00", "14h", "14h30", "4 pm", "14 uhr",
/// "noon"); returns it and the number of words it spans. A bare number is not a time: it is a slot number.
fn clock_time_at(msg: &Msg<'_>, i: usize) -> Option<(ClockTime, usize)> {
    let w = msg.word(i)?;
    if matches!(w, "noon" | "midi" | "mediodia" | "mittag" | "mezzogiorno") {
        return Some((
            ClockTime {
                minutes: 12 * 60,
                alt: None,
            },
            1,
        ));
    }
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 2 {
        return None;
    }
    let hour = parse_small_number(&w[..digits])? as u32;
    let rest = &w[digits..];
    match rest {
        "am" | "pm" => Some((twelve_hour(hour, 0, rest == "pm")?, 1)),
        "h" => Some((day_clock(hour, 0)?, 1)),
        _ if rest.starts_with('h') => {
            let minute = two_digit_minute(&rest[1..])?;
            Some((day_clock(hour, minute)?, 1))
        }
        "" => {
            if matches!(msg.gap_after(i), ":" | ".") {
                // "4:30pm", "10:00", "16.30", "4:30 pm"
                let next = msg.word(i + 1)?;
                let minute = two_digit_minute(next.get(..2)?)?;
                return match &next[2..] {
                    "am" | "pm" => Some((twelve_hour(hour, minute, &next[2..] == "pm")?, 2)),
                    "h" => Some((day_clock(hour, minute)?, 2)),
                    "" => match meridiem_at(msg, i + 2) {
                        Some((pm, used)) => Some((twelve_hour(hour, minute, pm)?, 2 + used)),
                        None => Some((ambiguous_clock(hour, minute)?, 2)),
                    },
                    _ => None,
                };
            }
            if let Some((pm, used)) = meridiem_at(msg, i + 1) {
                return Some((twelve_hour(hour, 0, pm)?, 1 + used));
            }
            match msg.word(i + 1)? {
                "h" | "uhr" | "heures" | "heure" => Some((day_clock(hour, 0)?, 2)),
                "o" if msg.word(i + 2) == Some("clock") => Some((ambiguous_clock(hour, 0)?, 3)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// "am"/"pm" or "a.m."/"p.m." at word `i`: whether it is pm, and the words it spans.
fn meridiem_at(msg: &Msg<'_>, i: usize) -> Option<(bool, usize)> {
    match msg.word(i)? {
        "am" => Some((false, 1)),
        "pm" => Some((true, 1)),
        w @ ("a" | "p") if msg.gap_after(i) == "." && msg.word(i + 1) == Some("m") => {
            Some((w == "p", 2))
        }
        _ => None,
    }
}

fn twelve_hour(hour: u32, minute: u32, pm: bool) -> Option<ClockTime> {
    ((1..=12).contains(&hour) && minute < 60).then(|| ClockTime {
        minutes: (hour % 12 + if pm { 12 } else { 0 }) * 60 + minute,
        alt: None,
    })
}

fn day_clock(hour: u32, minute: u32) -> Option<ClockTime> {
    (hour < 24 && minute < 60).then_some(ClockTime {
        minutes: hour * 60 + minute,
        alt: None,
    })
}

/// "4:30" without am/pm: 04:30 or 16:30; the slot list decides.
fn ambiguous_clock(hour: u32, minute: u32) -> Option<ClockTime> {
    let mut t = day_clock(hour, minute)?;
    if (1..12).contains(&hour) {
        t.alt = Some((hour + 12) * 60 + minute);
    }
    Some(t)
}

fn two_digit_minute(s: &str) -> Option<u32> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        parse_small_number(s).map(|m| m as u32).filter(|m| *m < 60)
    } else {
        None
    }
}

/// A short run of ASCII digits (no sign, at most 4 digits, so nothing can overflow).
fn parse_small_number(s: &str) -> Option<usize> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------------------------------
// Numbers and ordinals (slots, and options when no slots are offered)
// ---------------------------------------------------------------------------------------------------------

/// Words that may surround a number or ordinal without changing the pick ("the second one works for me").
#[rustfmt::skip]
const PICK_FILLER: &[&str] = &[
    "the", "one", "option", "options", "slot", "time", "choice", "number", "nr", "num", "numero",
    "no", "works", "work", "is", "fine", "good", "great", "perfect", "ok", "okay", "please", "pls",
    "plz", "thanks", "thank", "you", "thx", "for", "me", "i", "ll", "ill", "d", "id", "take",
    "pick", "choose", "prefer", "go", "with", "lets", "let", "s", "do", "sounds", "sound", "best",
    "yes", "yeah", "yep", "sure", "then", "that", "it", "this", "would", "like", "la", "le", "el",
    "o", "a", "lo", "il", "un", "une", "uno", "una", "um", "uma", "opcion", "opcao", "opzione",
    "choix", "de", "der", "die", "das", "het", "svp", "merci", "gracias", "obrigado", "obrigada",
    "grazie", "danke", "bitte", "por", "favor", "perfecto", "perfeito", "parfait", "bien", "bom",
    "bueno", "buena", "va", "vale", "mi", "je", "prends", "prendo", "quiero", "quero", "voglio",
    "nehme", "ich", "ik", "neem", "ca", "marche", "funciona", "serve", "passt", "goed",
];

/// Ordinal words in the supported languages, 1-based. Portuguese "quarta"/"quinta" are weekdays instead.
#[rustfmt::skip]
const ORDINALS: &[(&str, usize)] = &[
    ("first", 1), ("premier", 1), ("premiere", 1), ("primero", 1), ("primera", 1), ("primer", 1),
    ("primeiro", 1), ("primeira", 1), ("primo", 1), ("prima", 1), ("erste", 1), ("erster", 1),
    ("ersten", 1), ("eerste", 1), ("second", 2), ("two", 2), ("deuxieme", 2), ("seconde", 2),
    ("deux", 2), ("segundo", 2), ("segunda", 2), ("dos", 2), ("dois", 2), ("duas", 2),
    ("secondo", 2), ("seconda", 2), ("due", 2), ("zweite", 2), ("zweiter", 2), ("zweiten", 2),
    ("zwei", 2), ("tweede", 2), ("twee", 2), ("third", 3), ("three", 3), ("troisieme", 3),
    ("trois", 3), ("tercero", 3), ("tercera", 3), ("tercer", 3), ("tres", 3), ("terceiro", 3),
    ("terceira", 3), ("terzo", 3), ("terza", 3), ("tre", 3), ("dritte", 3), ("dritter", 3),
    ("dritten", 3), ("drei", 3), ("derde", 3), ("drie", 3), ("fourth", 4), ("four", 4),
    ("quatrieme", 4), ("cuarto", 4), ("cuarta", 4), ("quarto", 4), ("vierte", 4), ("vierde", 4),
    ("fifth", 5), ("five", 5), ("cinquieme", 5), ("quinto", 5), ("vijfde", 5), ("funfte", 5),
];

/// "last" in the supported languages: the last one offered.
const LAST: &[&str] = &[
    "last", "dernier", "derniere", "ultimo", "ultima", "letzte", "letzten", "laatste",
];

/// A message that is only a number or an ordinal, plus filler: the 0-based position among `count` offered.
/// A number beyond `count` picks nothing.
fn ordinal_pick(msg: &Msg<'_>, count: usize) -> Option<usize> {
    if msg.len() > 10 {
        return None;
    }
    let mut found = None;
    for (i, w) in msg.content_words(Tags::PICK_FILLER) {
        let pos = ordinal_value(w, msg.entry(i), count)?;
        if found.replace(pos).is_some() {
            return None;
        }
    }
    found.filter(|&p| p < count)
}

/// 0-based position named by `w` ("2", "2nd", "second", "last"), whose lexicon entry is `entry`; `count`
/// resolves "last".
fn ordinal_value(w: &str, entry: &Entry, count: usize) -> Option<usize> {
    if entry.tags.has(Tags::LAST) {
        return count.checked_sub(1);
    }
    if let Some(n) = entry.ordinal {
        return n.checked_sub(1);
    }
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &w[digits..];
    if !matches!(
        suffix,
        "" | "st" | "nd" | "rd" | "th" | "e" | "er" | "eme" | "ere" | "o" | "a"
    ) {
        return None;
    }
    parse_small_number(&w[..digits])?.checked_sub(1)
}

// ---------------------------------------------------------------------------------------------------------
// 3. Option pick
// ---------------------------------------------------------------------------------------------------------

/// Words that introduce a letter ("option b", "answer: b").
#[rustfmt::skip]
const OPTION_LEAD: &[&str] = &[
    "option", "opt", "answer", "choice", "letter", "reponse", "choix", "opcion", "respuesta",
    "opcao", "resposta", "opzione", "risposta", "antwort", "optie", "antwoord",
];

/// Words joining two letters ("a and b", "a ou b").
const CONNECTORS: &[&str] = &[
    "and", "or", "et", "ou", "y", "o", "e", "und", "oder", "en", "of", "plus",
];

/// Words that may follow a bare letter ("b please", "b for me").
#[rustfmt::skip]
const LETTER_FILLER: &[&str] = &[
    "please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "ok", "okay", "for", "me", "is",
    "it", "sure", "yes", "yeah", "definitely", "svp", "merci", "pour", "moi", "por", "favor",
    "gracias", "para", "mi", "obrigado", "obrigada", "grazie", "danke", "bitte",
];

/// Words that ask for more than one option: never a single pick.
#[rustfmt::skip]
const SEVERAL: &[&str] = &[
    "both", "ambos", "ambas", "entrambi", "entrambe", "beide", "beides", "les deux",
    "tous les deux", "all of them", "all of the above", "all three", "todos", "todas", "tutti",
    "alle",
];

/// Label words that say nothing about which option is meant.
#[rustfmt::skip]
const LABEL_STOPWORDS: &[&str] = &[
    "my", "the", "more", "with", "for", "help", "to", "and", "a", "an", "of", "in", "on", "at",
    "by", "or", "our", "your", "get", "getting", "i", "me", "we", "is", "it", "be", "from", "into",
    "some", "other", "just", "new", "better", "something", "stuff", "thing", "things", "le", "la",
    "les", "de", "des", "du", "un", "une", "et", "mon", "ma", "mes", "plus", "pour", "avec", "el",
    "los", "las", "y", "mi", "mis", "mas", "con", "para", "por", "o", "e", "do", "da", "das", "dos",
    "meu", "minha", "meus", "minhas", "com", "il", "lo", "gli", "di", "und", "der", "die", "mein",
    "meine", "mit", "fur", "mehr", "het", "een", "mijn", "met", "voor", "meer",
];

fn option_from_text<'o>(msg: &Msg<'_>, ctx: &ReplyContext<'o>) -> Option<&'o OptionSpec> {
    let options = ctx.options;
    if msg.is_empty() || msg.has(Set::Several) {
        return None;
    }
    match letter_pick(msg, options) {
        LetterRead::Picked(o) => return Some(o),
        LetterRead::Ambiguous => return None,
        LetterRead::Nothing => {}
    }
    if ctx.slots.is_empty() {
        if let Some(i) = ordinal_pick(msg, options.len()) {
            return options.get(i);
        }
    }
    label_pick(msg, options)
}

enum LetterRead<'o> {
    Picked(&'o OptionSpec),
    /// Several letters ("a and b", "a, b"): the lead did not choose one.
    Ambiguous,
    Nothing,
}

/// The option whose key is word `i`, if any.
fn key_at<'o>(msg: &Msg<'_>, i: usize, options: &'o [OptionSpec]) -> Option<&'o OptionSpec> {
    let w = msg.word(i)?;
    options.iter().find(|o| {
        let key = o.key.trim();
        !key.is_empty() && key.chars().flat_map(char::to_lowercase).eq(w.chars())
    })
}

/// The key letter on its own or decorated: "b", "B)", "(b)", "b.", "B - followers", "option b",
/// "answer: b", "b please". A letter inside a sentence ("I have a question") is not a pick.
fn letter_pick<'o>(msg: &Msg<'_>, options: &'o [OptionSpec]) -> LetterRead<'o> {
    let (p, option) = if let Some(o) = key_at(msg, 0, options) {
        (0, o)
    } else if msg.tagged(0, Tags::OPTION_LEAD) {
        match key_at(msg, 1, options) {
            Some(o) => (1, o),
            None => return LetterRead::Nothing,
        }
    } else {
        return LetterRead::Nothing;
    };

    // Another letter right after, ending the list or followed by more letters: "a and b", "a, b or c".
    let mut j = p + 1;
    if msg.tagged(j, Tags::CONNECTOR) {
        j += 1;
    }
    if key_at(msg, j, options).is_some_and(|o| o.key != option.key) {
        let list_goes_on = j + 1 == msg.len()
            || msg.tagged(j + 1, Tags::CONNECTOR)
            || key_at(msg, j + 1, options).is_some();
        let decorated = msg.gap_after(j).trim_start().starts_with([')', '.', ']']);
        if list_goes_on || decorated {
            return LetterRead::Ambiguous;
        }
    }

    let decorated_after = msg
        .gap_after(p)
        .trim_start()
        .starts_with([')', '.', ':', '-', '–', '—', ']']);
    let decorated_before = p == 0 && msg.lead_in().trim_end().ends_with(['(', '[']);
    let only_filler = (p + 1..msg.len()).all(|k| msg.tagged(k, Tags::LETTER_FILLER));
    if p == 1 || only_filler || decorated_after || decorated_before {
        LetterRead::Picked(option)
    } else {
        LetterRead::Nothing
    }
}

/// The one option whose label (whole), extra words, or distinctive label words appear in the message.
fn label_pick<'o>(msg: &Msg<'_>, options: &'o [OptionSpec]) -> Option<&'o OptionSpec> {
    // Each option's label and words normalised, `label \n word \n word` (normalised text never holds `\n`):
    // precomputed for a cadence's options, else built here.
    let norms: Vec<std::borrow::Cow<'_, str>> = options
        .iter()
        .map(|o| {
            if o.normalized.is_empty() {
                let mut s = String::new();
                normalize_option_into(&o.label, &o.words, &mut s);
                std::borrow::Cow::Owned(s)
            } else {
                std::borrow::Cow::Borrowed(o.normalized.as_str())
            }
        })
        .collect();
    let specs = || norms.iter().map(|s| s.as_ref()).enumerate();

    // The whole label first: it is the strongest signal.
    let mut whole = specs().filter(|(_, spec)| contains_words(msg, words_of(label_of(spec))));
    match (whole.next(), whole.next()) {
        (Some((k, _)), None) => return options.get(k),
        (Some(_), Some(_)) => return None,
        _ => {}
    }

    let mut hit = None;
    for (k, spec) in specs() {
        let mut parts = spec.split('\n');
        let label = parts.next().unwrap_or("");
        let by_words = parts.any(|w| contains_words(msg, words_of(w)));
        // A label word shared with another option ("growing" in two labels) does not tell them apart.
        let by_label = || {
            words_of(label).any(|lw| {
                is_significant(lw)
                    && msg.words().any(|mw| same_word(mw, lw))
                    && !specs().any(|(k2, s2)| {
                        k2 != k && words_of(label_of(s2)).any(|other| same_word(other, lw))
                    })
            })
        };
        if by_words || by_label() {
            if hit.is_some() {
                return None;
            }
            hit = Some(k);
        }
    }
    hit.and_then(|k| options.get(k))
}

fn label_of(spec: &str) -> &str {
    spec.split('\n').next().unwrap_or("")
}

fn words_of(s: &str) -> impl Iterator<Item = &str> + Clone {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Whether the message contains `phrase` (already split into words) as a run of whole words.
fn contains_words<'p>(msg: &Msg<'_>, phrase: impl Iterator<Item = &'p str> + Clone) -> bool {
    if phrase.clone().next().is_none() {
        return false;
    }
    (0..msg.len()).any(|i| {
        let mut k = i;
        phrase.clone().all(|w| {
            let ok = msg.word(k).is_some_and(|m| same_word(m, w));
            k += 1;
            ok
        })
    })
}

fn is_significant(w: &str) -> bool {
    w.chars().count() >= 3 && !lookup(w).tags.has(Tags::LABEL_STOPWORD)
}

/// Equal, or equal but for a plural `s` ("follower" / "followers").
fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a, b) = (
        a.strip_suffix('s').unwrap_or(a),
        b.strip_suffix('s').unwrap_or(b),
    );
    a.len() >= 3 && a == b
}

// ---------------------------------------------------------------------------------------------------------
// 4. Deferral
// ---------------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const NEXT_WEEK: &[&str] = &[
    "next week", "semaine prochaine", "semana que viene", "proxima semana", "semana que vem",
    "nachste woche", "nachsten woche", "kommende woche", "volgende week", "prossima settimana",
    "settimana prossima",
];
#[rustfmt::skip]
const NEXT_MONTH: &[&str] = &[
    "next month", "mois prochain", "mes que viene", "proximo mes", "mes que vem", "nachsten monat",
    "nachster monat", "kommenden monat", "volgende maand", "mese prossimo", "prossimo mese",
];
#[rustfmt::skip]
const NEXT_YEAR: &[&str] = &[
    "next year", "annee prochaine", "an prochain", "ano que viene", "proximo ano", "ano que vem",
    "nachstes jahr", "nachsten jahr", "volgend jaar", "anno prossimo", "prossimo anno",
];
/// After the year-end holidays: January 2nd.
#[rustfmt::skip]
const AFTER_HOLIDAYS: &[&str] = &[
    "after christmas", "after xmas", "after the holidays", "after holidays", "after the holiday",
    "after new year", "after the new year", "after new years", "in the new year", "apres noel",
    "apres les fetes", "despues de navidad", "despues de las fiestas", "depois do natal",
    "depois das festas", "nach weihnachten", "nach den feiertagen", "nach neujahr", "na kerst",
    "na de feestdagen", "dopo natale", "dopo le feste",
];
const TOMORROW: &[&str] = &["tomorrow", "demain", "manana", "amanha", "morgen", "domani"];
#[rustfmt::skip]
const DAY_AFTER_TOMORROW: &[&str] = &[
    "day after tomorrow", "apres demain", "pasado manana", "depois de amanha", "ubermorgen",
    "overmorgen", "dopodomani",
];

/// Phrases that ask to be contacted later; with them a bare month or "tomorrow" is a time cue.
#[rustfmt::skip]
const LATER_CUES: &[&str] = &[
    "check back", "reach out", "send me", "contact me", "talk", "later", "busy", "text me",
    "message me", "write me", "write to me", "call me", "hit me up", "ping me", "circle back",
    "follow up", "get back", "come back", "get in touch", "try again", "ask me", "better",
    "not today", "plus tard", "mas tarde", "mais tarde", "piu tardi", "spater", "recontacte",
    "recontactez", "reviens", "revenez", "ecris moi", "on en parle", "parlons", "escribeme",
    "contactame", "hablamos", "falamos", "me manda", "sentiamo", "ne parliamo", "scrivimi",
    "schreib mir", "melde dich", "sprechen", "spreken",
];

/// Words that introduce a month or season as a time ("in", "after", "en", "im", "a partir de").
const TIME_PREPS: &[&str] = &[
    "in", "after", "around", "come", "until", "till", "til", "next", "from", "by", "this", "en",
    "em", "im", "a", "partir", "apres", "despues", "depois", "nach", "ab", "dopo", "vanaf", "na",
    "tot", "bis", "hasta", "ate", "fino", "jusqu", "des", "desde", "cet", "este", "esta", "dieses",
    "diesen", "deze", "quest",
];
/// Words allowed between a preposition and the month ("in early October", "a finales de octubre").
#[rustfmt::skip]
const TIME_MODIFIERS: &[&str] = &[
    "the", "le", "la", "el", "o", "de", "del", "do", "da", "of", "early", "mid", "late",
    "beginning", "start", "end", "middle", "debut", "fin", "fines", "finales", "principios",
    "inicio", "comienzos", "fim", "meados", "anfang", "mitte", "ende", "begin", "eind", "inizio",
    "fine", "meta", "dem", "den", "der",
];
/// Words that may surround a month that stands alone ("October?", "maybe october then").
#[rustfmt::skip]
const ALONE_FILLER: &[&str] = &[
    "maybe", "perhaps", "probably", "possibly", "please", "pls", "ok", "okay", "then", "so", "how",
    "about", "what", "the", "early", "mid", "late", "hmm", "rather", "peut", "etre", "plutot",
    "quizas", "quiza", "tal", "vez", "talvez", "vielleicht", "forse", "misschien", "eher", "i",
    "think",
];

#[rustfmt::skip]
const MONTHS: &[(&str, u32)] = &[
    ("january", 1), ("jan", 1), ("february", 2), ("feb", 2), ("march", 3), ("mar", 3), ("april", 4),
    ("apr", 4), ("may", 5), ("june", 6), ("jun", 6), ("july", 7), ("jul", 7), ("august", 8),
    ("aug", 8), ("september", 9), ("sep", 9), ("sept", 9), ("october", 10), ("oct", 10),
    ("november", 11), ("nov", 11), ("december", 12), ("dec", 12), ("janvier", 1), ("fevrier", 2),
    ("mars", 3), ("avril", 4), ("mai", 5), ("juin", 6), ("juillet", 7), ("aout", 8),
    ("septembre", 9), ("octobre", 10), ("novembre", 11), ("decembre", 12), ("enero", 1),
    ("febrero", 2), ("marzo", 3), ("abril", 4), ("mayo", 5), ("junio", 6), ("julio", 7),
    ("agosto", 8), ("septiembre", 9), ("setiembre", 9), ("octubre", 10), ("noviembre", 11),
    ("diciembre", 12), ("janeiro", 1), ("fevereiro", 2), ("marco", 3), ("maio", 5), ("junho", 6),
    ("julho", 7), ("setembro", 9), ("outubro", 10), ("novembro", 11), ("dezembro", 12),
    ("gennaio", 1), ("febbraio", 2), ("aprile", 4), ("maggio", 5), ("giugno", 6), ("luglio", 7),
    ("settembre", 9), ("ottobre", 10), ("dicembre", 12), ("januar", 1), ("janner", 1),
    ("februar", 2), ("marz", 3), ("juni", 6), ("juli", 7), ("oktober", 10), ("dezember", 12),
    ("januari", 1), ("februari", 2), ("maart", 3), ("mei", 5), ("augustus", 8),
];

#[rustfmt::skip]
/// Month words that are also everyday words ("I may", "Marco", "Mars"): they need a firmer cue.
const AMBIGUOUS_MONTHS: &[&str] = &["may", "mar", "jan", "marco", "mars"];

/// "after" in "after the 15th", and the articles that may follow it ("después del 15").
const AFTER_WORDS: &[&str] = &["after", "apres", "despues", "depois", "nach", "dopo", "na"];
const DAY_ARTICLES: &[&str] = &[
    "the", "le", "el", "del", "de", "do", "dia", "dem", "il", "la",
];

const MONTH_LABELS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Seasons, with the month each starts in and its label.
#[rustfmt::skip]
const SEASONS: &[(&str, u32, &str)] = &[
    ("spring", 3, "spring"), ("summer", 6, "summer"), ("fall", 9, "fall"), ("autumn", 9, "autumn"),
    ("winter", 12, "winter"), ("printemps", 3, "spring"), ("ete", 6, "summer"),
    ("automne", 9, "autumn"), ("hiver", 12, "winter"), ("primavera", 3, "spring"),
    ("verano", 6, "summer"), ("otono", 9, "autumn"), ("invierno", 12, "winter"),
    ("verao", 6, "summer"), ("outono", 9, "autumn"), ("inverno", 12, "winter"),
    ("fruhling", 3, "spring"), ("fruhjahr", 3, "spring"), ("sommer", 6, "summer"),
    ("herbst", 9, "autumn"), ("lente", 3, "spring"), ("zomer", 6, "summer"),
    ("herfst", 9, "autumn"), ("estate", 6, "summer"), ("autunno", 9, "autumn"),
];

/// Words that introduce a relative amount of time ("in 2 weeks", "dans 3 jours", "tra un mese").
const IN_PREPS: &[&str] = &[
    "in", "within", "after", "dans", "en", "em", "tra", "fra", "over", "binnen", "dentro",
];
/// Words allowed between that and the amount ("in about 2 weeks").
#[rustfmt::skip]
const ABOUT: &[&str] = &[
    "about", "around", "roughly", "approximately", "like", "environ", "unos", "unas", "cerca",
    "circa", "etwa", "ongeveer",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Day,
    Week,
    Month,
}

#[rustfmt::skip]
const UNITS: &[(&str, Unit)] = &[
    ("day", Unit::Day), ("days", Unit::Day), ("jour", Unit::Day), ("jours", Unit::Day),
    ("dia", Unit::Day), ("dias", Unit::Day), ("tag", Unit::Day), ("tage", Unit::Day),
    ("tagen", Unit::Day), ("dag", Unit::Day), ("dagen", Unit::Day), ("giorno", Unit::Day),
    ("giorni", Unit::Day), ("week", Unit::Week), ("weeks", Unit::Week), ("wk", Unit::Week),
    ("wks", Unit::Week), ("semaine", Unit::Week), ("semaines", Unit::Week), ("semana", Unit::Week),
    ("semanas", Unit::Week), ("woche", Unit::Week), ("wochen", Unit::Week), ("weken", Unit::Week),
    ("settimana", Unit::Week), ("settimane", Unit::Week), ("month", Unit::Month),
    ("months", Unit::Month), ("mois", Unit::Month), ("mes", Unit::Month), ("meses", Unit::Month),
    ("monat", Unit::Month), ("monate", Unit::Month), ("monaten", Unit::Month),
    ("maand", Unit::Month), ("maanden", Unit::Month), ("mese", Unit::Month), ("mesi", Unit::Month),
];

/// Number words for amounts of time; "a"/"one" and friends are 1.
#[rustfmt::skip]
const AMOUNTS: &[(&str, u32)] = &[
    ("a", 1), ("an", 1), ("one", 1), ("un", 1), ("une", 1), ("um", 1), ("uma", 1), ("uno", 1),
    ("una", 1), ("ein", 1), ("eine", 1), ("einen", 1), ("einer", 1), ("een", 1), ("two", 2),
    ("deux", 2), ("dos", 2), ("dois", 2), ("duas", 2), ("due", 2), ("zwei", 2), ("twee", 2),
    ("three", 3), ("trois", 3), ("tres", 3), ("tre", 3), ("drei", 3), ("drie", 3), ("four", 4),
    ("quatre", 4), ("cuatro", 4), ("quatro", 4), ("quattro", 4), ("vier", 4), ("five", 5),
    ("cinq", 5), ("cinco", 5), ("cinque", 5), ("funf", 5), ("vijf", 5), ("six", 6), ("seis", 6),
    ("sei", 6), ("sechs", 6), ("zes", 6), ("seven", 7), ("eight", 8), ("nine", 9), ("ten", 10),
    ("few", 3), ("quelques", 3), ("alguns", 3), ("algumas", 3), ("couple", 2),
];

/// Longest deferral we compute, so arithmetic on a typed number stays trivially in range.
const MAX_AMOUNT: u32 = 400;

fn deferral(msg: &Msg<'_>, today: NaiveDate) -> Option<(NaiveDate, String)> {
    if msg.is_empty() {
        return None;
    }
    if msg.has(Set::NextWeek) {
        let to_monday = 7 - u64::from(today.weekday().num_days_from_monday());
        return Some((
            today.checked_add_days(Days::new(to_monday))?,
            "next week".into(),
        ));
    }
    if msg.has(Set::NextMonth) {
        return Some((first_of_next_month(today)?, "next month".into()));
    }
    if msg.has(Set::NextYear) {
        return Some((
            NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)?,
            "next year".into(),
        ));
    }
    if let Some(found) = in_amount(msg, today) {
        return Some(found);
    }
    if let Some(found) = after_day_of_month(msg, today) {
        return Some(found);
    }
    if msg.has(Set::Holidays) {
        let this_year = NaiveDate::from_ymd_opt(today.year(), 1, 2)?;
        let date = if today < this_year {
            this_year
        } else {
            NaiveDate::from_ymd_opt(today.year() + 1, 1, 2)?
        };
        return Some((date, "after the holidays".into()));
    }
    let later_cue = msg.has(Set::LaterCue);
    if let Some((month, label)) = month_or_season(msg, later_cue) {
        return Some((next_month_start(today, month)?, label.into()));
    }
    // Both need a later-contact cue or a short message: "stop by the shop tomorrow?" is not a deferral.
    if msg.has(Set::DayAfterTomorrow) && (later_cue || msg.len() <= 4) {
        return Some((
            today.checked_add_days(Days::new(2))?,
            "the day after tomorrow".into(),
        ));
    }
    let tomorrow = |i| msg.tagged(i, Tags::TOMORROW);
    if (0..msg.len()).any(tomorrow) && (later_cue || stands_alone(msg, tomorrow)) {
        return Some((today.checked_add_days(Days::new(1))?, "tomorrow".into()));
    }
    None
}

/// "in 2 weeks", "in a couple of weeks", "in a few days", "in a month", "dans 3 jours", "em duas semanas".
fn in_amount(msg: &Msg<'_>, today: NaiveDate) -> Option<(NaiveDate, String)> {
    for i in 0..msg.len() {
        if !msg.tagged(i, Tags::IN_PREP) {
            continue;
        }
        let mut j = i + 1;
        if msg.tagged(j, Tags::ABOUT) {
            j += 1;
        }
        let Some((n, after)) = amount_at(msg, j) else {
            continue;
        };
        let Some(unit) = msg.entry(after).unit else {
            continue;
        };
        let date = match unit {
            Unit::Day => today.checked_add_days(Days::new(n.into()))?,
            Unit::Week => today.checked_add_days(Days::new(u64::from(n) * 7))?,
            Unit::Month => today.checked_add_months(Months::new(n))?,
        };
        let name = match unit {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
        };
        let plural = if n == 1 { "" } else { "s" };
        return Some((date, format!("{n} {name}{plural}")));
    }
    None
}

/// An amount at word `i` ("2", "two", "a", "a couple of", "a few", "ein paar", "un par de"); returns it and
/// the index of the word after it.
fn amount_at(msg: &Msg<'_>, i: usize) -> Option<(u32, usize)> {
    let w = msg.word(i)?;
    if let Some(n) = parse_small_number(w) {
        let n = u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_AMOUNT).contains(n))?;
        return Some((n, i + 1));
    }
    let (n, mut next) = (msg.entry(i).amount?, i + 1);
    // "a couple (of)", "a few", "ein paar", "un par de"
    let n = match msg.word(next) {
        Some("couple" | "par") => {
            next += 1;
            2
        }
        Some("few" | "paar") => {
            next += 1;
            3
        }
        _ => n,
    };
    if matches!(msg.word(next), Some("of" | "de")) {
        next += 1;
    }
    Some((n, next))
}

/// "after the 15th": the 16th, this month if the 15th is still ahead, else next month.
fn after_day_of_month(msg: &Msg<'_>, today: NaiveDate) -> Option<(NaiveDate, String)> {
    for i in 0..msg.len() {
        if !msg.tagged(i, Tags::AFTER) {
            continue;
        }
        let mut j = i + 1;
        let mut article = false;
        while msg.tagged(j, Tags::DAY_ARTICLE) && j < i + 3 {
            article = true;
            j += 1;
        }
        let Some(w) = msg.word(j) else { continue };
        let digits = w.bytes().take_while(u8::is_ascii_digit).count();
        let suffix = &w[digits..];
        // Without an ordinal suffix or an article, "after 5" is a clock time, not a date.
        let ordinal = matches!(suffix, "st" | "nd" | "rd" | "th" | "e" | "er" | "eme" | "o");
        if !(ordinal || (suffix.is_empty() && article)) {
            continue;
        }
        let Some(day) = parse_small_number(&w[..digits]).and_then(|d| u32::try_from(d).ok()) else {
            continue;
        };
        if !(1..=31).contains(&day) {
            continue;
        }
        // "after the 15th of October" is the month's business, not this rule's.
        let month_follows = (j + 1..j + 3).any(|k| msg.entry(k).month.is_some());
        if month_follows {
            continue;
        }
        let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1)?;
        let month = if today.day() < day {
            this_month
        } else {
            first_of_next_month(today)?
        };
        let last = last_day_of_month(month)?;
        let date = month
            .with_day(day.min(last.day()))?
            .checked_add_days(Days::new(1))?;
        return Some((date, format!("the {}", ordinal_label(date.day()))));
    }
    None
}

/// A month or season used as a time: introduced by a preposition, standing alone, or (plain months) with a
/// later cue. Returns the month it starts and its label.
fn month_or_season(msg: &Msg<'_>, later_cue: bool) -> Option<(u32, &'static str)> {
    for (i, tok) in msg.toks.iter().enumerate() {
        let entry = tok.entry;
        let (month, label, kind) = if let Some(m) = entry.month {
            let kind = if entry.tags.has(Tags::AMBIGUOUS_MONTH) {
                Kind::AmbiguousMonth
            } else {
                Kind::Month
            };
            (m, *MONTH_LABELS.get(m as usize - 1)?, kind)
        } else if let Some((m, label)) = entry.season {
            (m, label, Kind::Season)
        } else {
            continue;
        };
        let cued = introduced_as_time(msg, i, kind)
            || stands_alone(msg, |k| k == i)
            || (later_cue && kind == Kind::Month);
        if cued {
            return Some((month, label));
        }
    }
    None
}

/// What kind of time word a month or season name is, which decides how much context it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// "October": any time preposition or a later-contact cue will do.
    Month,
    /// "may", "mar": also everyday words ("this may work"), so only a firm preposition.
    AmbiguousMonth,
    /// "spring", "fall", French "été" (also "been": "il a été"): a preposition, including "this".
    Season,
}

/// Whether word `i` is preceded by a time preposition, possibly through modifiers ("in early October").
fn introduced_as_time(msg: &Msg<'_>, i: usize, kind: Kind) -> bool {
    let mut j = i;
    for _ in 0..4 {
        let Some(prev) = j.checked_sub(1).and_then(|k| msg.word(k)) else {
            return false;
        };
        if lookup(prev).tags.has(Tags::TIME_PREP) {
            // Right before the word, "a" ("a ottobre") is also a verb/article and "this" a determiner.
            let direct = j == i;
            return match (prev, kind) {
                ("a", Kind::AmbiguousMonth | Kind::Season) => !direct,
                ("this", Kind::AmbiguousMonth) => !direct,
                _ => true,
            };
        }
        if !lookup(prev).tags.has(Tags::TIME_MODIFIER) {
            return false;
        }
        j -= 1;
    }
    false
}

/// Whether the message is essentially one word, at an index matching `is_it` ("October?", "maybe october").
fn stands_alone(msg: &Msg<'_>, is_it: impl Fn(usize) -> bool) -> bool {
    let mut content = msg.content_words(Tags::ALONE_FILLER);
    matches!((content.next(), content.next()), (Some((i, _)), None) if is_it(i))
}

/// The 1st of `month` strictly after the current month (October in October is next year's).
fn next_month_start(today: NaiveDate, month: u32) -> Option<NaiveDate> {
    let year = if month > today.month() {
        today.year()
    } else {
        today.year() + 1
    };
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn first_of_next_month(today: NaiveDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(today.year(), today.month(), 1)?.checked_add_months(Months::new(1))
}

fn last_day_of_month(first: NaiveDate) -> Option<NaiveDate> {
    first.checked_add_months(Months::new(1))?.pred_opt()
}

fn ordinal_label(day: u32) -> String {
    let suffix = match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

// ---------------------------------------------------------------------------------------------------------
// 5. Objections
// ---------------------------------------------------------------------------------------------------------

#[rustfmt::skip]
const PRICE: &[&str] = &[
    "price", "prices", "pricing", "expensive", "too expensive", "cost", "costs", "how much",
    "cant afford", "cannot afford", "can not afford", "budget", "cher", "trop cher", "prix",
    "combien", "caro", "costoso", "precio", "cuanto cuesta", "cuanto", "preco", "quanto custa",
    "quanto costa", "teuer", "wie viel", "wieviel", "kosten", "kost", "duur", "prijs",
];
#[rustfmt::skip]
const TIMING: &[&str] = &[
    "no time", "too busy", "busy", "not now", "not right now", "bad time", "later",
    "not the right time", "pas le temps", "pas maintenant", "pas de temps", "no tengo tiempo",
    "ahora no", "no es buen momento", "sem tempo", "agora nao", "non ho tempo", "non ora",
    "keine zeit", "nicht jetzt", "geen tijd", "niet nu",
];
#[rustfmt::skip]
const UNSURE: &[&str] = &[
    "not sure", "unsure", "need to think", "let me think", "think about it", "i ll think",
    "ill think", "maybe", "perhaps", "not certain", "dunno", "idk", "je sais pas", "je ne sais pas",
    "sais pas", "peut etre", "je vais reflechir", "reflechir", "no se", "no estoy seguro",
    "no estoy segura", "quizas", "quiza", "tal vez", "lo pienso", "pensarlo", "nao sei", "talvez",
    "vou pensar", "nao tenho certeza", "non so", "forse", "ci penso", "weiss nicht", "keine ahnung",
    "vielleicht", "weet niet", "weet het niet", "misschien",
];

fn objection(msg: &Msg<'_>) -> Option<Objection> {
    // Price first: "not sure about the price" is about money. Timing next: "maybe later" is about when.
    if msg.has(Set::Price) {
        Some(Objection::Price)
    } else if msg.has(Set::Timing) {
        Some(Objection::Timing)
    } else if msg.has(Set::Unsure) {
        Some(Objection::Unsure)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------------------

fn is_email_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_email_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

fn is_valid_local(local: &str) -> bool {
    !local.is_empty() && local.len() <= 64 && !local.ends_with('.') && !local.contains("..")
}

fn is_valid_domain(domain: &str) -> bool {
    if domain.len() > 253 {
        return false;
    }
    let mut labels = domain.split('.').peekable();
    let mut count = 0;
    while let Some(label) = labels.next() {
        count += 1;
        let ok = !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.len() <= 63;
        if !ok {
            return false;
        }
        if labels.peek().is_none() {
            return count >= 2
                && label.len() >= 2
                && label.bytes().all(|b| b.is_ascii_alphabetic());
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------------------
// Unit tests: the building blocks. The labelled behaviour table lives in tests/reply_cases.rs.
// ---------------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let n = normalize(s);
        Msg::new(&n).words().map(str::to_owned).collect()
    }

    #[test]
    fn normalize_folds_case_accents_and_spacing() {
        assert_eq!(normalize("  Ça  VA\tÉTÉ  "), "ca va ete");
        assert_eq!(normalize("Straße ÆON Œuvre"), "strasse aeon oeuvre");
        assert_eq!(normalize("NÃO, Não"), "nao, nao");
        assert_eq!(
            normalize("e\u{301}te\u{301}"),
            "ete",
            "decomposed accents fold like precomposed ones"
        );
        assert_eq!(normalize("İstanbul"), "istanbul");
    }

    #[test]
    fn invisible_characters_do_not_split_words() {
        assert_eq!(normalize("st\u{200B}op"), "stop");
        assert_eq!(
            normalize("\u{FEFF}un\u{200D}sub\u{200C}scribe"),
            "unsubscribe"
        );
        assert_eq!(normalize("\u{202B}stop\u{202C}"), "stop");
        assert_eq!(words("2\u{FE0F}\u{20E3}"), ["2"]);
    }

    #[test]
    fn apostrophes_join_nt_and_split_elisions() {
        assert_eq!(words("Don't message me"), ["dont", "message", "me"]);
        assert_eq!(words("can’t"), ["cant"]);
        assert_eq!(words("I'll think"), ["i", "ll", "think"]);
        assert_eq!(words("l'option b"), ["l", "option", "b"]);
        assert_eq!(words("'b'"), ["b"]);
    }

    #[test]
    fn tokens_ignore_punctuation_and_emoji() {
        assert_eq!(words("STOP!!! 🛑"), ["stop"]);
        assert_eq!(words("non-stop"), ["non", "stop"]);
        assert_eq!(words("4:30pm, #2"), ["4", "30pm", "2"]);
        assert!(words("🙂🙂 …").is_empty());
    }

    fn clock(s: &str) -> Option<ClockTime> {
        let n = normalize(s);
        let msg = Msg::new(&n);
        clock_time_at(&msg, 0).map(|(t, _)| t)
    }

    #[test]
    fn clock_times() {
        let at = |h: u32, m: u32| {
            Some(ClockTime {
                minutes: h * 60 + m,
                alt: None,
            })
        };
        assert_eq!(clock("2pm"), at(14, 0));
        assert_eq!(clock("12am"), at(0, 0));
        assert_eq!(clock("12pm"), at(12, 0));
        assert_eq!(clock("4:30pm"), at(16, 30));
        assert_eq!(clock("4:30 PM"), at(16, 30));
        assert_eq!(clock("4 p.m."), at(16, 0));
        assert_eq!(clock("14h"), at(14, 0));
        assert_eq!(clock("14h30"), at(14, 30));
        assert_eq!(clock("14 Uhr"), at(14, 0));
        assert_eq!(clock("noon"), at(12, 0));
        assert_eq!(
            clock("10:00"),
            Some(ClockTime {
                minutes: 600,
                alt: Some(22 * 60)
            })
        );
        assert_eq!(clock("16.30"), at(16, 30));
        assert_eq!(
            clock("2"),
            None,
            "a bare number is a slot number, not a time"
        );
        assert_eq!(clock("13pm"), None);
        assert_eq!(clock("25h"), None);
        assert_eq!(clock("4:75"), None);
    }

    #[test]
    fn ordinal_values() {
        let value = |w: &str, count| ordinal_value(w, lookup(w), count);
        assert_eq!(value("2", 3), Some(1));
        assert_eq!(value("2nd", 3), Some(1));
        assert_eq!(value("deuxieme", 3), Some(1));
        assert_eq!(value("last", 5), Some(4));
        assert_eq!(value("0", 3), None);
        assert_eq!(value("10am", 3), None);
    }

    #[test]
    fn ordinal_labels() {
        let labels: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 16, 21, 22, 23, 31]
            .map(ordinal_label)
            .into();
        assert_eq!(
            labels,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "16th", "21st", "22nd", "23rd",
                "31st"
            ]
        );
    }

    #[test]
    fn next_month_start_is_strictly_after_the_current_month() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        let today = NaiveDate::from_ymd_opt(2026, 10, 20).expect("valid date");
        assert_eq!(next_month_start(today, 10), d(2027, 10, 1));
        assert_eq!(next_month_start(today, 11), d(2026, 11, 1));
        assert_eq!(next_month_start(today, 3), d(2027, 3, 1));
    }

    #[test]
    fn emails() {
        assert_eq!(
            extract_email("Reach me at John.Doe+cadence@Example.co.uk!"),
            Some("john.doe+cadence@example.co.uk".into())
        );
        assert_eq!(
            extract_email("mail: <ana@studio.io>."),
            Some("ana@studio.io".into())
        );
        assert_eq!(
            extract_email("it's ana@studio.io, thanks"),
            Some("ana@studio.io".into())
        );
        assert_eq!(
            extract_email("first x@y then real@site.com"),
            Some("real@site.com".into())
        );
        assert_eq!(extract_email("me @ gmail"), None);
        assert_eq!(extract_email("a@b"), None);
        assert_eq!(extract_email("a@b.c"), None, "tld needs two letters");
        assert_eq!(extract_email("x@site.c0m"), None);
        assert_eq!(extract_email("@@@"), None);
        assert_eq!(
            extract_email("josé@café.fr"),
            None,
            "non-ASCII addresses are out of scope"
        );
        assert_eq!(extract_email(""), None);
    }

    /// Every lexicon entry must already be in normalised form, or it could never match.
    #[test]
    fn lexicons_are_normalised() {
        let names = TAGGED
            .iter()
            .flat_map(|(list, _)| list.iter().copied())
            .chain(
                PHRASE_SETS
                    .iter()
                    .flat_map(|(list, _)| list.iter().copied()),
            )
            .chain(WEEKDAYS.iter().map(|(w, _)| *w))
            .chain(ORDINALS.iter().map(|(w, _)| *w))
            .chain(MONTHS.iter().map(|(w, _)| *w))
            .chain(SEASONS.iter().map(|(w, _, _)| *w))
            .chain(UNITS.iter().map(|(w, _)| *w))
            .chain(AMOUNTS.iter().map(|(w, _)| *w));
        for entry in names {
            assert_eq!(
                words(entry).join(" "),
                entry,
                "lexicon entry {entry:?} is not normalised"
            );
        }
    }

    /// A word listed twice in one table must mean the same thing both times (the index keeps the last).
    #[test]
    fn lexicon_tables_agree_with_the_index() {
        for (w, d) in WEEKDAYS {
            assert_eq!(lookup(w).weekday, Some(*d), "{w}");
        }
        for (w, m) in MONTHS {
            assert_eq!(lookup(w).month, Some(*m), "{w}");
        }
        for (w, n) in ORDINALS {
            assert_eq!(lookup(w).ordinal, Some(*n), "{w}");
        }
        for (w, n) in AMOUNTS {
            assert_eq!(lookup(w).amount, Some(*n), "{w}");
        }
        assert!(lookup("please").tags.has(Tags::POLITE));
        assert!(lookup("stop")
            .phrases
            .iter()
            .any(|&(p, set)| p == "stop messaging me" && set == Set::OptOutAnywhere));
        assert!(lookup("zzz").phrases.is_empty());
    }
}
