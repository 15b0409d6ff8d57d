//! Labelled reply cases for `cadence_core::reply`: one table of (text, payload, context, expected intent).
//!
//! Every context shares a fixed clock, Thursday 2026-12-03 15:00 UTC (16:00 in Paris, 10:00 in New York),
//! unless its name says otherwise. The three offered slots are Tue 8 Dec 14:00, Thu 10 Dec 10:00 and
//! Fri 11 Dec 16:30 in the lead's local time; the five-slot variant adds Mon 14 Dec 09:00 and Wed 16 Dec 15:00.

use cadence_core::chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cadence_core::chrono_tz::{America::New_York, Europe::Paris, Tz};
use cadence_core::reply::{extract_email, understand, Intent, Objection, OptionSpec, ReplyContext};
use proptest::prelude::*;

/// Which context a case is read against.
#[derive(Debug, Clone, Copy)]
enum Ctx {
    /// Nothing pending, Paris.
    Bare,
    /// Qualifying question a/b/c pending, Paris.
    Opts,
    /// Three slots, Paris.
    Slots,
    /// The same three local slot times, New York.
    SlotsNy,
    /// Five slots, Paris.
    Slots5,
    /// Options and slots both pending, Paris.
    Both,
    /// Slots Tue 2026-12-08 13:00 UTC and 2026-12-10 23:30 UTC — Friday 00:30 in Paris...
    EdgeParis,
    /// ... but Thursday 18:30 in New York.
    EdgeNy,
    /// Nothing pending, New York, now 2026-03-15 12:00 UTC.
    MarchNy,
    /// Nothing pending, Paris, now 2026-12-20 12:00 UTC.
    LateDec,
    /// Nothing pending, Paris, now 2026-12-03 23:30 UTC (already Friday 4 Dec in Paris).
    MidnightParis,
    /// Nothing pending, New York, now 2026-12-03 23:30 UTC (still Thursday 3 Dec in New York).
    MidnightNy,
}

/// An expected intent, in a form that fits in a `const` table.
#[derive(Debug, Clone, Copy)]
enum Want {
    OptOut,
    Slot(usize),
    Opt(&'static str),
    Defer(i32, u32, u32, &'static str),
    Obj(Objection),
    Plain,
}

use Objection::{Price, Timing, Unsure};
use Want::{Defer, Obj, Opt, OptOut, Plain, Slot};

type Case = (&'static str, Option<&'static str>, Ctx, Want);

#[rustfmt::skip]
const CASES: &[Case] = &[
    // ---- Opt-out: payloads ----
    ("", Some("STOP"), Ctx::Bare, OptOut),
    ("Thu 10am", Some("stop"), Ctx::Slots, OptOut),
    ("hello", Some("opt_out"), Ctx::Opts, OptOut),
    ("", Some("UNSUBSCRIBE"), Ctx::Both, OptOut),
    // ---- Opt-out: whole-message stop phrases ----
    ("STOP", None, Ctx::Bare, OptOut),
    ("stop", None, Ctx::Slots, OptOut),
    ("STOP!!!", None, Ctx::Opts, OptOut),
    ("stop", None, Ctx::Both, OptOut),
    ("Stop please 🙏", None, Ctx::Bare, OptOut),
    ("pls stop", None, Ctx::Bare, OptOut),
    ("stop stop stop", None, Ctx::Bare, OptOut),
    ("Unsubscribe", None, Ctx::Bare, OptOut),
    ("unsubscribe me", None, Ctx::Bare, OptOut),
    ("opt-out", None, Ctx::Bare, OptOut),
    ("cancel", None, Ctx::Slots, OptOut),
    ("END.", None, Ctx::Bare, OptOut),
    ("stop texting me", None, Ctx::Bare, OptOut),
    ("do not contact me", None, Ctx::Bare, OptOut),
    ("leave me alone!", None, Ctx::Bare, OptOut),
    ("take me off your list", None, Ctx::Bare, OptOut),
    ("remove me", None, Ctx::Bare, OptOut),
    ("no more messages please", None, Ctx::Bare, OptOut),
    ("how do I unsubscribe?", None, Ctx::Bare, OptOut),
    // ---- Opt-out: anywhere in a longer message ----
    ("Please stop messaging me, I'm not interested", None, Ctx::Bare, OptOut),
    ("Don’t message me again", None, Ctx::Opts, OptOut),
    // ---- Opt-out: other languages ----
    ("Arrête", None, Ctx::Bare, OptOut),
    ("stop svp", None, Ctx::Bare, OptOut),
    ("je veux me désabonner", None, Ctx::Bare, OptOut),
    ("Basta", None, Ctx::Bare, OptOut),
    ("darme de baja", None, Ctx::Bare, OptOut),
    ("No me escribas más", None, Ctx::Bare, OptOut),
    ("Não quero mais", None, Ctx::Bare, OptOut),
    ("pare", None, Ctx::Bare, OptOut),
    ("non scrivermi più", None, Ctx::Bare, OptOut),
    ("disiscrivimi", None, Ctx::Bare, OptOut),
    ("Stopp", None, Ctx::Bare, OptOut),
    ("abmelden bitte", None, Ctx::Bare, OptOut),
    ("Keine Nachrichten mehr!", None, Ctx::Bare, OptOut),
    ("afmelden", None, Ctx::Bare, OptOut),
    // ---- Opt-out: invisible and bidi characters ----
    ("st\u{200B}op", None, Ctx::Bare, OptOut),
    ("\u{FEFF}un\u{200D}subscribe", None, Ctx::Bare, OptOut),
    ("\u{200F}STOP\u{200F}", None, Ctx::Bare, OptOut),
    // ---- Not opt-outs: the word inside a sentence ----
    ("can't stop thinking about it", None, Ctx::Bare, Plain),
    ("stop by the shop tomorrow?", None, Ctx::Bare, Plain),
    ("I want to stop wasting money on ads", None, Ctx::Bare, Plain),
    ("when does the offer end?", None, Ctx::Bare, Plain),
    ("don't stop", None, Ctx::Bare, Plain),
    ("non-stop results!", None, Ctx::Bare, Plain),
    ("the bus stop near your shop", None, Ctx::Bare, Plain),
    ("I don't want to unsubscribe", None, Ctx::Bare, Plain),
    // ---- Slot pick: payloads ----
    ("", Some("SLOT_2"), Ctx::Slots, Slot(1)),
    ("ok", Some("slot_3"), Ctx::Slots, Slot(2)),
    ("", Some("SLOT_5"), Ctx::Slots5, Slot(4)),
    ("hmm", Some("SLOT_4"), Ctx::Slots, Plain),
    ("", Some("SLOT_0"), Ctx::Slots, Plain),
    // ---- Slot pick: numbers and ordinals ----
    ("2", None, Ctx::Slots, Slot(1)),
    ("#2", None, Ctx::Slots, Slot(1)),
    ("2️⃣", None, Ctx::Slots, Slot(1)),
    ("option 3", None, Ctx::Slots, Slot(2)),
    ("the second one", None, Ctx::Slots, Slot(1)),
    ("second", None, Ctx::Slots, Slot(1)),
    ("2nd works", None, Ctx::Slots, Slot(1)),
    ("first works for me", None, Ctx::Slots, Slot(0)),
    ("the last one", None, Ctx::Slots, Slot(2)),
    ("the last one", None, Ctx::Slots5, Slot(4)),
    ("5", None, Ctx::Slots5, Slot(4)),
    ("la deuxième", None, Ctx::Slots, Slot(1)),
    ("el segundo", None, Ctx::Slots, Slot(1)),
    ("la segunda por favor", None, Ctx::Slots, Slot(1)),
    ("o segundo", None, Ctx::Slots, Slot(1)),
    ("4", None, Ctx::Slots, Plain),
    // ---- Slot pick: weekdays and clock times in the lead's zone ----
    ("thursday", None, Ctx::Slots, Slot(1)),
    ("thu", None, Ctx::Slots, Slot(1)),
    ("Thu 10am please", None, Ctx::Slots, Slot(1)),
    ("jeudi", None, Ctx::Slots, Slot(1)),
    ("jueves", None, Ctx::Slots, Slot(1)),
    ("quinta", None, Ctx::Slots, Slot(1)),
    ("Donnerstag 10 Uhr", None, Ctx::Slots, Slot(1)),
    ("10am", None, Ctx::Slots, Slot(1)),
    ("10:00", None, Ctx::Slots, Slot(1)),
    ("2pm", None, Ctx::Slots, Slot(0)),
    ("14h", None, Ctx::Slots, Slot(0)),
    ("14:00", None, Ctx::Slots, Slot(0)),
    ("4:30pm", None, Ctx::Slots, Slot(2)),
    ("Vendredi 16h30 👍", None, Ctx::Slots, Slot(2)),
    ("tuesday works", None, Ctx::Slots, Slot(0)),
    ("let's do friday", None, Ctx::Slots, Slot(2)),
    ("Friday at 4:30 pm sounds good", None, Ctx::Slots, Slot(2)),
    ("thurs\u{200B}day", None, Ctx::Slots, Slot(1)),
    ("segunda-feira", None, Ctx::Slots5, Slot(3)),
    ("wednesday 3pm", None, Ctx::Slots5, Slot(4)),
    ("thursday", None, Ctx::SlotsNy, Slot(1)),
    ("4:30pm", None, Ctx::SlotsNy, Slot(2)),
    ("thursday", None, Ctx::EdgeNy, Slot(1)),
    ("6:30pm", None, Ctx::EdgeNy, Slot(1)),
    ("thursday", None, Ctx::EdgeParis, Plain),
    ("friday", None, Ctx::EdgeParis, Slot(1)),
    // ---- Slot pick: ambiguous, refused or unmatched ----
    ("Tue 10am", None, Ctx::Slots, Plain),
    ("monday?", None, Ctx::Slots, Plain),
    ("none of these work", None, Ctx::Slots, Plain),
    ("tuesday or thursday", None, Ctx::Slots, Plain),
    ("thursday doesn't work for me", None, Ctx::Slots, Plain),
    ("can we do next week", None, Ctx::Slots, Defer(2026, 12, 7, "next week")),
    // ---- Options and slots both pending ----
    ("b", None, Ctx::Both, Opt("b")),
    ("2", None, Ctx::Both, Slot(1)),
    // ---- Option pick: payloads ----
    ("Growing my audience", Some("Q1_B"), Ctx::Opts, Opt("b")),
    ("", Some("q1_c"), Ctx::Opts, Opt("c")),
    // ---- Option pick: letters ----
    ("b", None, Ctx::Opts, Opt("b")),
    ("B)", None, Ctx::Opts, Opt("b")),
    ("(b)", None, Ctx::Opts, Opt("b")),
    ("b.", None, Ctx::Opts, Opt("b")),
    ("option b", None, Ctx::Opts, Opt("b")),
    ("B - followers", None, Ctx::Opts, Opt("b")),
    ("answer: b", None, Ctx::Opts, Opt("b")),
    ("b please", None, Ctx::Opts, Opt("b")),
    ("C 🙏", None, Ctx::Opts, Opt("c")),
    ("\u{200F}a\u{200F}", None, Ctx::Opts, Opt("a")),
    // ---- Option pick: numbers, ordinals and label words ----
    ("2", None, Ctx::Opts, Opt("b")),
    ("the third one", None, Ctx::Opts, Opt("c")),
    ("la deuxième", None, Ctx::Opts, Opt("b")),
    ("Growing my audience", None, Ctx::Opts, Opt("b")),
    ("more followers honestly", None, Ctx::Opts, Opt("b")),
    ("mostly the sales side", None, Ctx::Opts, Opt("a")),
    ("a lot of paperwork", None, Ctx::Opts, Opt("c")),
    ("auto\u{200D}mation", None, Ctx::Opts, Opt("c")),
    // ---- Option pick: ambiguous or not a pick ----
    ("4", None, Ctx::Opts, Plain),
    ("I have a question", None, Ctx::Opts, Plain),
    ("a and b", None, Ctx::Opts, Plain),
    ("a, b", None, Ctx::Opts, Plain),
    ("both", None, Ctx::Opts, Plain),
    ("both really, sales and followers", None, Ctx::Opts, Plain),
    ("followers and clients", None, Ctx::Opts, Plain),
    ("in october", None, Ctx::Opts, Defer(2027, 10, 1, "October")),
    ("too expensive", None, Ctx::Opts, Obj(Price)),
    // ---- Deferral: months ----
    ("send me something in October", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("in october", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("October?", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("after October", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("en octobre", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("en octubre", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("em outubro", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("im Oktober", None, Ctx::Bare, Defer(2027, 10, 1, "October")),
    ("maybe around march", None, Ctx::Bare, Defer(2027, 3, 1, "March")),
    ("in december", None, Ctx::Bare, Defer(2027, 12, 1, "December")),
    ("busy until january", None, Ctx::Bare, Defer(2027, 1, 1, "January")),
    ("reach out in may", None, Ctx::Bare, Defer(2027, 5, 1, "May")),
    ("in October", None, Ctx::MarchNy, Defer(2026, 10, 1, "October")),
    ("I liked your October post", None, Ctx::Bare, Plain),
    ("this may work for us", None, Ctx::Bare, Plain),
    // ---- Deferral: relative ----
    ("next week", None, Ctx::Bare, Defer(2026, 12, 7, "next week")),
    ("la semaine prochaine", None, Ctx::Bare, Defer(2026, 12, 7, "next week")),
    ("next month", None, Ctx::Bare, Defer(2027, 1, 1, "next month")),
    ("next year", None, Ctx::Bare, Defer(2027, 1, 1, "next year")),
    ("in 2 weeks", None, Ctx::Bare, Defer(2026, 12, 17, "2 weeks")),
    ("in two weeks", None, Ctx::Bare, Defer(2026, 12, 17, "2 weeks")),
    ("in a couple of weeks", None, Ctx::Bare, Defer(2026, 12, 17, "2 weeks")),
    ("dans 2 semaines", None, Ctx::Bare, Defer(2026, 12, 17, "2 weeks")),
    ("in 3 days", None, Ctx::Bare, Defer(2026, 12, 6, "3 days")),
    ("in a few days", None, Ctx::Bare, Defer(2026, 12, 6, "3 days")),
    ("in a month", None, Ctx::Bare, Defer(2027, 1, 3, "1 month")),
    ("after the 15th", None, Ctx::Bare, Defer(2026, 12, 16, "the 16th")),
    ("after the 15th", None, Ctx::LateDec, Defer(2027, 1, 16, "the 16th")),
    ("after christmas", None, Ctx::Bare, Defer(2027, 1, 2, "after the holidays")),
    ("after the holidays", None, Ctx::Bare, Defer(2027, 1, 2, "after the holidays")),
    ("text me tomorrow", None, Ctx::Bare, Defer(2026, 12, 4, "tomorrow")),
    ("tomorrow", None, Ctx::Bare, Defer(2026, 12, 4, "tomorrow")),
    ("tomorrow is better", None, Ctx::Bare, Defer(2026, 12, 4, "tomorrow")),
    ("text me tomorrow", None, Ctx::MidnightParis, Defer(2026, 12, 5, "tomorrow")),
    ("text me tomorrow", None, Ctx::MidnightNy, Defer(2026, 12, 4, "tomorrow")),
    // ---- Deferral: seasons ----
    ("not now, maybe in the spring", None, Ctx::Bare, Defer(2027, 3, 1, "spring")),
    ("this summer", None, Ctx::Bare, Defer(2027, 6, 1, "summer")),
    ("in the fall", None, Ctx::Bare, Defer(2027, 9, 1, "fall")),
    ("winter", None, Ctx::Bare, Defer(2027, 12, 1, "winter")),
    ("Il a été très occupé", None, Ctx::Bare, Plain),
    ("call me after 5", None, Ctx::Bare, Plain),
    // ---- Objections ----
    ("too expensive", None, Ctx::Bare, Obj(Price)),
    ("how much is it?", None, Ctx::Bare, Obj(Price)),
    ("c'est trop cher", None, Ctx::Bare, Obj(Price)),
    ("¿Cuál es el precio?", None, Ctx::Bare, Obj(Price)),
    ("Wie teuer ist das?", None, Ctx::Bare, Obj(Price)),
    ("quanto custa?", None, Ctx::Bare, Obj(Price)),
    ("I can't afford it right now", None, Ctx::Bare, Obj(Price)),
    ("not sure", None, Ctx::Bare, Obj(Unsure)),
    ("let me think about it", None, Ctx::Bare, Obj(Unsure)),
    ("maybe", None, Ctx::Bare, Obj(Unsure)),
    ("je sais pas", None, Ctx::Bare, Obj(Unsure)),
    ("no sé", None, Ctx::Bare, Obj(Unsure)),
    ("não sei", None, Ctx::Bare, Obj(Unsure)),
    ("too busy right now", None, Ctx::Bare, Obj(Timing)),
    ("not now", None, Ctx::Bare, Obj(Timing)),
    ("no time", None, Ctx::Bare, Obj(Timing)),
    ("I'm a costumer", None, Ctx::Bare, Plain),
    // ---- More mixed and multilingual ----
    ("b", Some("UNKNOWN_PAYLOAD"), Ctx::Opts, Opt("b")),
    ("ok", Some("SLOT_1"), Ctx::Opts, Plain),
    ("Opção B", None, Ctx::Opts, Opt("b")),
    ("yes please", None, Ctx::Opts, Plain),
    ("in 2 weeks", None, Ctx::Slots, Defer(2026, 12, 17, "2 weeks")),
    ("I'm busy thursday", None, Ctx::Slots, Obj(Timing)),
    ("maybe later", None, Ctx::Bare, Obj(Timing)),
    ("talk later", None, Ctx::Bare, Obj(Timing)),
    ("después del 15", None, Ctx::Bare, Defer(2026, 12, 16, "the 16th")),
    ("pasado mañana", None, Ctx::Bare, Defer(2026, 12, 5, "the day after tomorrow")),
    ("what about may?", None, Ctx::Bare, Defer(2027, 5, 1, "May")),
    // ---- Plain ----
    ("hello!", None, Ctx::Bare, Plain),
    ("", None, Ctx::Bare, Plain),
    ("👍", None, Ctx::Slots, Plain),
    ("Sounds great, what's next?", None, Ctx::Bare, Plain),
    ("مرحبا، كم السعر؟", None, Ctx::Opts, Plain),
];

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid UTC time")
}

fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("unambiguous local time")
        .with_timezone(&Utc)
}

/// Tue 14:00, Thu 10:00, Fri 16:30 and, for five, Mon 09:00 and Wed 15:00 of the following week.
fn slots(tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
    let all = [
        local(tz, 2026, 12, 8, 14, 0),
        local(tz, 2026, 12, 10, 10, 0),
        local(tz, 2026, 12, 11, 16, 30),
        local(tz, 2026, 12, 14, 9, 0),
        local(tz, 2026, 12, 16, 15, 0),
    ];
    all[..n].to_vec()
}

fn options() -> Vec<OptionSpec> {
    let option = |key: &str, label: &str, words: &[&str]| {
        OptionSpec::new(
            key.into(),
            label.into(),
            words.iter().map(|w| (*w).to_owned()).collect(),
            format!("Q1_{}", key.to_uppercase()),
        )
    };
    vec![
        option(
            "a",
            "More sales",
            &["sales", "clients", "customers", "revenue"],
        ),
        option(
            "b",
            "Growing my audience",
            &["followers", "audience", "reach"],
        ),
        option(
            "c",
            "Automating my admin",
            &["admin", "automation", "paperwork"],
        ),
    ]
}

/// Owned data a [`ReplyContext`] borrows.
struct Fixture {
    options: Vec<OptionSpec>,
    slots: Vec<DateTime<Utc>>,
    tz: Tz,
    now: DateTime<Utc>,
}

impl Fixture {
    fn new(ctx: Ctx) -> Self {
        let now = utc(2026, 12, 3, 15, 0);
        let none = |tz, now| Fixture {
            options: Vec::new(),
            slots: Vec::new(),
            tz,
            now,
        };
        match ctx {
            Ctx::Bare => none(Paris, now),
            Ctx::Opts => Fixture {
                options: options(),
                ..none(Paris, now)
            },
            Ctx::Slots => Fixture {
                slots: slots(Paris, 3),
                ..none(Paris, now)
            },
            Ctx::SlotsNy => Fixture {
                slots: slots(New_York, 3),
                ..none(New_York, now)
            },
            Ctx::Slots5 => Fixture {
                slots: slots(Paris, 5),
                ..none(Paris, now)
            },
            Ctx::Both => Fixture {
                options: options(),
                slots: slots(Paris, 3),
                ..none(Paris, now)
            },
            Ctx::EdgeParis | Ctx::EdgeNy => {
                let tz = if matches!(ctx, Ctx::EdgeParis) {
                    Paris
                } else {
                    New_York
                };
                Fixture {
                    slots: vec![utc(2026, 12, 8, 13, 0), utc(2026, 12, 10, 23, 30)],
                    ..none(tz, now)
                }
            }
            Ctx::MarchNy => none(New_York, utc(2026, 3, 15, 12, 0)),
            Ctx::LateDec => none(Paris, utc(2026, 12, 20, 12, 0)),
            Ctx::MidnightParis => none(Paris, utc(2026, 12, 3, 23, 30)),
            Ctx::MidnightNy => none(New_York, utc(2026, 12, 3, 23, 30)),
        }
    }

    fn ctx(&self) -> ReplyContext<'_> {
        ReplyContext {
            options: &self.options,
            slots: &self.slots,
            slot_payload_prefix: "SLOT_",
            tz: self.tz,
            now: self.now,
        }
    }
}

fn intent(want: Want) -> Intent {
    match want {
        Want::OptOut => Intent::OptOut,
        Want::Slot(i) => Intent::SlotPick(i),
        Want::Opt(key) => Intent::OptionPick(key.into()),
        Want::Defer(y, m, d, label) => Intent::Deferral {
            date: NaiveDate::from_ymd_opt(y, m, d).expect("valid expected date"),
            label: label.into(),
        },
        Want::Obj(o) => Intent::Objection(o),
        Want::Plain => Intent::Plain,
    }
}

#[test]
fn labelled_cases() {
    assert!(
        CASES.len() >= 80,
        "the table must hold at least 80 cases, has {}",
        CASES.len()
    );
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|&(text, payload, ctx, want)| {
            let fixture = Fixture::new(ctx);
            let text = (!text.is_empty() || payload.is_none()).then_some(text);
            let got = understand(text, payload, &fixture.ctx());
            // Options built without their normalised words (normalised on use) read the same.
            let mut raw = fixture.options.clone();
            raw.iter_mut().for_each(|o| o.normalized.clear());
            let raw_ctx = ReplyContext {
                options: &raw,
                ..fixture.ctx()
            };
            assert_eq!(understand(text, payload, &raw_ctx), got, "{text:?}");
            let want = intent(want);
            (got != want).then(|| {
                format!("{text:?} payload={payload:?} ctx={ctx:?}: want {want:?}, got {got:?}")
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn missing_text_and_payload_is_plain() {
    for ctx in [Ctx::Bare, Ctx::Opts, Ctx::Slots, Ctx::Both] {
        let fixture = Fixture::new(ctx);
        assert_eq!(
            understand(None, None, &fixture.ctx()),
            Intent::Plain,
            "{ctx:?}"
        );
        assert_eq!(
            understand(None, Some("   "), &fixture.ctx()),
            Intent::Plain,
            "{ctx:?}"
        );
    }
}

#[test]
fn very_long_input_does_not_panic() {
    let fixture = Fixture::new(Ctx::Both);
    let ctx = fixture.ctx();
    let chunk = "Thu 10am? a) b) 🙂\u{200B}é ß stop by 4:30pm in October ";
    let long: String = chunk.repeat(100 * 1024 / chunk.len() + 1);
    assert!(long.len() >= 100 * 1024);
    let first = understand(Some(&long), Some("x"), &ctx);
    assert_eq!(first, understand(Some(&long), Some("x"), &ctx));
    let digits = "9".repeat(100 * 1024);
    assert_eq!(understand(Some(&digits), None, &ctx), Intent::Plain);
    assert_eq!(
        understand(Some(&"@".repeat(100 * 1024)), None, &ctx),
        Intent::Plain
    );
    assert_eq!(extract_email(&long), None);
    let with_email = format!("{long} reach me at Someone@Example.org.");
    assert_eq!(
        extract_email(&with_email),
        Some("someone@example.org".into())
    );
}

#[test]
fn emails() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            "my email is Ana.Silva@Example.COM",
            Some("ana.silva@example.com"),
        ),
        ("ana@studio.io.", Some("ana@studio.io")),
        (
            "(ana+leads@mail.studio.co.uk), thanks!",
            Some("ana+leads@mail.studio.co.uk"),
        ),
        ("mailto:bob@site.fr", Some("bob@site.fr")),
        ("me @ gmail", None),
        ("a@b", None),
        ("ping me @ 5pm", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(extract_email(text).as_deref(), *want, "{text:?}");
    }
}

const ALL_CTX: [Ctx; 12] = [
    Ctx::Bare,
    Ctx::Opts,
    Ctx::Slots,
    Ctx::SlotsNy,
    Ctx::Slots5,
    Ctx::Both,
    Ctx::EdgeParis,
    Ctx::EdgeNy,
    Ctx::MarchNy,
    Ctx::LateDec,
    Ctx::MidnightParis,
    Ctx::MidnightNy,
];

proptest! {
    // Integration tests have no lib.rs next to them to persist failures beside; a failure prints its seed.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_is_deterministic(
        text in proptest::option::of(any::<String>()),
        payload in proptest::option::of("(SLOT_|Q1_|STOP|slot_)?[0-9a-zA-Z_]{0,6}"),
        which in 0..ALL_CTX.len(),
    ) {
        let fixture = Fixture::new(ALL_CTX[which]);
        let ctx = fixture.ctx();
        let first = understand(text.as_deref(), payload.as_deref(), &ctx);
        prop_assert_eq!(&first, &understand(text.as_deref(), payload.as_deref(), &ctx));
        if let Intent::SlotPick(i) = first {
            prop_assert!(i < fixture.slots.len());
        }
        if let Some(text) = &text {
            let email = extract_email(text);
            prop_assert_eq!(&email, &extract_email(text));
            if let Some(email) = email {
                prop_assert!(email.contains('@') && email == email.to_lowercase());
            }
        }
    }

    /// Words from the lexicons, shuffled into short messages: the combinations real replies are made of.
    #[test]
    fn lexicon_soup_never_panics(
        words in proptest::collection::vec(
            proptest::sample::select(vec![
                "stop", "please", "2", "#3", "the", "second", "last", "thu", "10am", "4:30pm", "14h", "b)",
                "(a)", "a", "and", "option", "in", "october", "next", "week", "after", "the 31st", "tomorrow",
                "a couple of", "weeks", "999", "0", "maybe", "too", "expensive", "é", "\u{200B}", "🙂", "'", ":",
                "segunda", "feira", "both", "may", "this", "fall", "de", "9999999999",
            ]),
            0..12,
        ),
        which in 0..ALL_CTX.len(),
    ) {
        let text = words.join(" ");
        let fixture = Fixture::new(ALL_CTX[which]);
        let ctx = fixture.ctx();
        prop_assert_eq!(understand(Some(&text), None, &ctx), understand(Some(&text), None, &ctx));
    }
}
