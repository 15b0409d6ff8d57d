//! `cadence demo` and `cadence preview`: scripted leads on the virtual clock, printed as readable timelines
//! in each lead's local time, with the reason for every decision.

use crate::replay::{SimOptions, Simulation};
use crate::sinks::OutputLine;
use crate::synth::{body, Action, Persona, DEMO_IG_ID, DEMO_PAGE_ID, DEMO_WA_PHONE_ID};
use cadence_core::account::Accounts;
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::duration::parse_duration;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::service::CadenceSet;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One scripted step: when (after the lead's first message) and what the lead does.
pub type Script = Vec<(Duration, Action)>;

/// A scripted lead with its actions at absolute times.
type Timed<'a> = (&'a Lead, Vec<(DateTime<Utc>, Action)>);

/// Parses `+2m yes; +10m b; +30m <read>` (or one entry per line) into a script.
pub fn read_script(s: &str) -> Result<Script, String> {
    let text = if std::path::Path::new(s).is_file() {
        std::fs::read_to_string(s).map_err(|e| format!("{s}: {e}"))?
    } else {
        s.to_string()
    };
    let mut out = Vec::new();
    for part in text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (offset, rest) = part.split_once(' ').unwrap_or((part, ""));
        let offset = offset
            .strip_prefix('+')
            .ok_or_else(|| format!("`{part}`: start each reply with an offset like +10m"))?;
        let d = parse_duration(offset).map_err(|e| format!("`{part}`: {e}"))?;
        let action = match rest.trim() {
            "<read>" => Action::Read,
            "<react>" => Action::React,
            "" => return Err(format!("`{part}`: missing reply text (or <read>, <react>)")),
            t => Action::Say {
                text: t.to_string(),
                payload: None,
            },
        };
        out.push((d, action));
    }
    Ok(out)
}

const DEMO_ACCOUNTS: &str = r#"
accounts:
  - id: demo
    business: Northstar Coaching
    instagram_id: "17841400000000001"
    page_id: "102030405060708"
    whatsapp_phone_number_id: "106540352242922"
    timezone: America/New_York
    topic: growing your coaching business
    email: { from: hello@northstar.example, list_unsubscribe: "mailto:unsubscribe@northstar.example" }
    assets:
      voice_reach: https://cdn.northstar.example/voice/reach.m4a
      voice_clients: https://cdn.northstar.example/voice/clients.m4a
      voice_general: https://cdn.northstar.example/voice/general.m4a
      gift_guide: https://cdn.northstar.example/guides/gifts.pdf
      voice_personal: https://cdn.northstar.example/voice/personal.ogg
      catalog: https://cdn.northstar.example/guides/catalog.pdf
    availability: { timezone: America/New_York, hours: "09:00-17:00", slot: 20m, min_notice: 2h }
"#;

struct Lead {
    title: &'static str,
    persona: Persona,
    start: DateTime<Utc>,
    script: Script,
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn say(t: &str) -> Action {
    Action::Say {
        text: t.to_string(),
        payload: None,
    }
}

/// The demo: four leads, one of each kind of ending.
pub async fn demo() -> String {
    let leads = [
        Lead {
            title: "books a call",
            persona: Persona {
                channel: Channel::Instagram,
                user: "6871000000000001".into(),
                name: "Ada".into(),
            },
            start: at("2026-12-07T14:03:00Z"),
            script: vec![
                (
                    Duration::zero(),
                    say("Hi! Loved your reel about content batching"),
                ),
                (Duration::minutes(3), say("yes sure")),
                (Duration::minutes(5), say("b")),
                (Duration::minutes(21), Action::Read),
                (Duration::minutes(50), say("the second one works")),
            ],
        },
        Lead {
            title: "goes silent",
            persona: Persona {
                channel: Channel::Whatsapp,
                user: "33612345678".into(),
                name: "Bruno Martin".into(),
            },
            start: at("2026-12-07T19:40:00Z"),
            script: vec![(Duration::zero(), say("Bonjour! Is the blue one in stock?"))],
        },
        Lead {
            title: "opts out",
            persona: Persona {
                channel: Channel::Messenger,
                user: "7100000000000003".into(),
                name: "Chloé".into(),
            },
            start: at("2026-12-08T16:10:00Z"),
            script: vec![
                (Duration::zero(), say("hello")),
                (Duration::minutes(2), say("ok")),
                (Duration::minutes(9), say("STOP")),
            ],
        },
        Lead {
            title: "asks for October",
            persona: Persona {
                channel: Channel::Instagram,
                user: "6871000000000004".into(),
                name: "Dev".into(),
            },
            start: at("2026-12-09T12:00:00Z"),
            script: vec![
                (
                    Duration::zero(),
                    Action::Comment {
                        text: "INFO please!".into(),
                    },
                ),
                (
                    Duration::minutes(40),
                    say("Thanks! Busy season now, send me something in October. dev@example.com"),
                ),
            ],
        },
    ];
    let accounts =
        Accounts::from_yaml("demo", DEMO_ACCOUNTS, |_| true).unwrap_or_else(|_| Accounts::demo());
    let until = at("2027-11-01T00:00:00Z");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cadence demo: built-in cadences, four sample leads, virtual clock (nothing is sent).\n\
         Times are each lead's local time; → is what Cadence sends, ← what the lead does, · why.\n"
    );
    let script_leads: Vec<Timed<'_>> = leads
        .iter()
        .map(|l| {
            (
                l,
                l.script
                    .iter()
                    .map(|(d, a)| (l.start + *d, a.clone()))
                    .collect(),
            )
        })
        .collect();
    let timelines = run(accounts, CadenceSet::builtins(), &script_leads, until).await;
    for ((lead, _), text) in script_leads.iter().zip(timelines) {
        let _ = writeln!(
            out,
            "── {} ({}) {}",
            lead.persona.name, lead.persona.channel, lead.title
        );
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// What one lead would get on `cadence` from `start`, replying as `script` says.
pub async fn preview(
    cadences: CadenceSet,
    cadence: &str,
    tz: Tz,
    start: DateTime<Utc>,
    script: &Script,
) -> Result<String, String> {
    let channel = if cadence.contains("whatsapp") {
        Channel::Whatsapp
    } else {
        Channel::Instagram
    };
    let yaml = format!(
        "accounts:\n  - id: preview\n    instagram_id: \"{DEMO_IG_ID}\"\n    page_id: \"{DEMO_PAGE_ID}\"\n    whatsapp_phone_number_id: \"{DEMO_WA_PHONE_ID}\"\n    timezone: {tz}\n    cadences: {{ instagram: {cadence}, messenger: {cadence}, whatsapp: {cadence} }}\n    availability: {{ timezone: {tz} }}\n"
    );
    let accounts = Accounts::from_yaml("preview", &yaml, |c| cadences.contains(c))
        .map_err(|e| e.to_string())?;
    // A +1 number has no single zone, so the account's (the --tz) applies.
    let persona = Persona {
        channel,
        user: "15550001111".into(),
        name: "Sam Lee".into(),
    };
    let lead = Lead {
        title: "preview",
        persona,
        start,
        script: Vec::new(),
    };
    let mut events = vec![(
        start,
        Action::Say {
            text: "Hi! I'd like to know more".into(),
            payload: None,
        },
    )];
    events.extend(script.iter().map(|(d, a)| (start + *d, a.clone())));
    let until = start + Duration::days(45);
    let t = run(accounts, cadences, &[(&lead, events)], until).await;
    let mut out = format!(
        "Preview of {cadence} for a lead in {tz} (first message {}):\n",
        local(start, tz)
    );
    out.push_str(t.first().map(String::as_str).unwrap_or(""));
    Ok(out)
}

/// Runs scripted leads together and renders one timeline per lead.
async fn run(
    accounts: Accounts,
    cadences: CadenceSet,
    leads: &[Timed<'_>],
    until: DateTime<Utc>,
) -> Vec<String> {
    let mut all: Vec<(DateTime<Utc>, usize, &Action)> = Vec::new();
    for (i, (_, evs)) in leads.iter().enumerate() {
        for (t, a) in evs {
            all.push((*t, i, a));
        }
    }
    all.sort_by_key(|(t, i, _)| (*t, *i));
    let Some(first) = all.first().map(|e| e.0) else {
        return Vec::new();
    };
    let opts = SimOptions {
        accounts,
        cadences,
        keep_audit: true,
        ..Default::default()
    };
    let mut sim = Simulation::new(opts, first);
    let mut inbound: BTreeMap<usize, Vec<(DateTime<Utc>, String)>> = BTreeMap::new();
    for (n, (t, i, action)) in all.iter().enumerate() {
        sim.advance_to(*t - Duration::milliseconds(1)).await;
        sim.clock.set(*t);
        let persona = &leads[*i].0.persona;
        let b = body(persona, action, *t, n);
        sim.post_webhook(&serde_json::to_vec(&b).unwrap_or_default())
            .await;
        let what = match action {
            Action::Say { text, .. } => format!("\"{text}\""),
            Action::Read => "reads the last message".into(),
            Action::React => "reacts ❤️".into(),
            Action::Comment { text } => format!("comments \"{text}\" on a reel"),
        };
        inbound.entry(*i).or_default().push((*t, what));
    }
    sim.advance_to(until).await;
    let output = sim.take_output();
    let mut texts = Vec::new();
    for (i, (lead, _)) in leads.iter().enumerate() {
        let ids = sim.lead_ids().await;
        let account = sim
            .services
            .accounts
            .all()
            .first()
            .map(|a| a.id.clone())
            .unwrap_or_default();
        let id = LeadId::derive(&account, lead.persona.channel, &lead.persona.user);
        let stored = sim.store.snapshot().into_iter().find(|l| l.id == id);
        let tz = stored.as_ref().map(|l| l.tz).unwrap_or(Tz::UTC);
        let mut rows: Vec<(DateTime<Utc>, u8, String)> = Vec::new();
        for (t, w) in inbound.get(&i).into_iter().flatten() {
            rows.push((*t, 0, format!("← {w}")));
        }
        for o in output.iter().filter(|o| o.lead == id.as_str()) {
            rows.push((
                parse(&o.at),
                1,
                format!("→ {} [{}] {}", o.step, o.channel, summarize(o)),
            ));
        }
        if ids.contains(&id) {
            for a in sim.services.store.audit(&id).await.unwrap_or_default() {
                let shown = matches!(
                    a.kind.as_str(),
                    "status" | "skipped" | "fallback" | "timing" | "answer" | "absorbed"
                );
                if shown {
                    let step = a.step.map(|s| format!(" {s}")).unwrap_or_default();
                    rows.push((a.at, 2, format!("  · {}{step}: {}", a.kind, a.detail)));
                }
            }
        }
        rows.sort_by_key(|r| (r.0, r.1));
        let mut s = String::new();
        if let Some(l) = &stored {
            let _ = writeln!(
                s,
                "   lead {} · cadence {} · zone {} · final status {}",
                l.id,
                l.cadence,
                tz,
                l.status.as_str()
            );
        }
        for (t, _, line) in rows {
            let _ = writeln!(s, "   {}  {line}", local(t, tz));
        }
        texts.push(s);
    }
    texts
}

fn parse(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %d %b %Y %H:%M").to_string()
}

/// A one-line summary of an outbound request.
fn summarize(o: &OutputLine) -> String {
    let r = &o.request;
    let b = &r["body"];
    let text = b["message"]["text"]
        .as_str()
        .or_else(|| b["text"]["body"].as_str())
        .or_else(|| b["interactive"]["body"]["text"].as_str())
        .map(str::to_string)
        .or_else(|| {
            b["message"]["attachment"]["type"]
                .as_str()
                .map(|t| format!("<{t} attachment>"))
        })
        .or_else(|| {
            b["type"]
                .as_str()
                .filter(|t| *t != "text" && *t != "interactive" && *t != "template")
                .map(|t| format!("<{t}>"))
        })
        .or_else(|| {
            b["template"]["name"]
                .as_str()
                .map(|n| format!("<template {n}>"))
        })
        .or_else(|| {
            r["Content"]["Simple"]["Subject"]["Data"]
                .as_str()
                .map(|s| format!("email \"{s}\""))
        })
        .or_else(|| r["title"].as_str().map(|s| format!("task: {s}")))
        .or_else(|| r["list"].as_str().map(|l| format!("added to list `{l}`")))
        .unwrap_or_default();
    let one_line = text.replace('\n', " / ");
    if one_line.chars().count() > 110 {
        format!("{}…", one_line.chars().take(110).collect::<String>())
    } else {
        one_line
    }
}
