//! DESIGN.md §5 invariants 1, 3, 4 and 6, checked on random conversations in random time zones, through the
//! production services on the virtual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cadence_cli::replay::{SimOptions, Simulation};
use cadence_cli::synth::{body, Action, Persona};
use cadence_core::chrono::{DateTime, Duration, Timelike, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::ports::LeadStore;
use cadence_core::service::CadenceSet;
use proptest::prelude::*;
use serde_json::json;

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Paris",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Pacific/Auckland",
];
const TEXTS: &[&str] = &[
    "hi",
    "yes",
    "b",
    "a",
    "2",
    "STOP",
    "send me something in October",
    "too expensive",
    "the first one",
    "Thu 10am",
    "thanks!",
    "in 2 weeks",
    "what?",
    "unsubscribe",
    "maybe next week",
    "c) something else",
    "can't stop thinking about it",
];
const CADENCES: &[&str] = &["coach-ig", "whatsapp-ecom", "hybrid-b2b"];

#[derive(Debug, Clone)]
enum Step {
    Say(usize),
    Read,
    React,
    HumanEcho,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..TEXTS.len()).prop_map(Step::Say),
        2 => Just(Step::Read),
        1 => Just(Step::React),
        1 => Just(Step::HumanEcho),
    ]
}

/// Gaps between the lead's actions: seconds, minutes, hours or days.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..3, 1i64..30, 30i64..600, 600i64..3000, 3000i64..20000]
}

fn human_echo(p: &Persona, at: DateTime<Utc>, n: usize) -> serde_json::Value {
    let (object, business) = match p.channel {
        Channel::Instagram => ("instagram", "17841400000000001"),
        _ => ("page", "102030405060708"),
    };
    json!({ "object": object, "entry": [{ "id": business, "time": at.timestamp_millis(), "messaging": [{
        "sender": { "id": business }, "recipient": { "id": p.user }, "timestamp": at.timestamp_millis(),
        "message": { "mid": format!("m_human_{n}"), "text": "Hi, this is Sam from the team", "is_echo": true, "app_id": 263902037430900u64 }
    }]}]})
}

struct Run {
    lines: Vec<(DateTime<Utc>, String, String, serde_json::Value)>,
    actions: Vec<(DateTime<Utc>, Step)>,
    /// Status changes: (at, "status:reason").
    statuses: Vec<(DateTime<Utc>, String)>,
    tz: Tz,
    channel: Channel,
}

fn simulate(
    zone: &str,
    channel: Channel,
    cadence: &str,
    start_min: i64,
    script: &[(i64, Step)],
) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = common::utc("2026-12-07T00:00:00Z") + Duration::minutes(start_min);
        let accounts = common::accounts(cadence, zone);
        let opts = SimOptions {
            accounts,
            cadences: CadenceSet::builtins(),
            keep_audit: true,
            ..Default::default()
        };
        let mut sim = Simulation::new(opts, start);
        let persona = Persona {
            channel,
            user: "15550001234".into(),
            name: "Pat Doe".into(),
        };
        let mut t = start;
        let mut actions = Vec::new();
        for (n, (g, s)) in script.iter().enumerate() {
            t += Duration::minutes(*g);
            sim.advance_to(t - Duration::milliseconds(1)).await;
            sim.clock.set(t);
            let b = match s {
                Step::Say(i) => body(
                    &persona,
                    &Action::Say {
                        text: TEXTS[*i].into(),
                        payload: None,
                    },
                    t,
                    n,
                ),
                Step::Read => body(&persona, &Action::Read, t, n),
                Step::React => body(&persona, &Action::React, t, n),
                Step::HumanEcho if channel == Channel::Whatsapp => continue,
                Step::HumanEcho => human_echo(&persona, t, n),
            };
            sim.post_webhook(&serde_json::to_vec(&b).unwrap()).await;
            actions.push((t, s.clone()));
        }
        sim.advance_to(t + Duration::days(45)).await;
        let id = LeadId::derive("acme", channel, &persona.user);
        let statuses = sim
            .store
            .audit(&id)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.kind == "status")
            .map(|a| (a.at, a.detail))
            .collect();
        let lines = sim
            .take_output()
            .into_iter()
            .map(|o| (common::utc(&o.at), o.step, o.channel.to_string(), o.request))
            .collect();
        Run {
            lines,
            actions,
            statuses,
            tz: zone.parse().unwrap(),
            channel,
        }
    })
}

fn reaches_lead(channel: &str) -> bool {
    !matches!(channel, "task" | "newsletter")
}

fn is_proactive(step: &str) -> bool {
    step.starts_with("follow_up") || step.starts_with("day_") || step == "reopen"
}

fn check(r: &Run) -> Result<(), TestCaseError> {
    // Invariant 1: nothing after opt-out, booking or handoff (one opt-out confirmation excepted).
    let stop = r.statuses.iter().find(|(_, d)| {
        d.starts_with("opted_out:") || d.starts_with("booked:") || d.starts_with("handed_off:")
    });
    let opted_out_at = r
        .statuses
        .iter()
        .find(|(_, d)| d.starts_with("opted_out:"))
        .map(|(t, _)| *t);
    if let Some((t_stop, why)) = stop {
        for (at, step, _, _) in &r.lines {
            if at >= t_stop {
                let confirmation = step == "opt_out" && Some(*at) == opted_out_at;
                prop_assert!(confirmation, "{step} at {at} after {why} at {t_stop}");
            }
        }
    }
    prop_assert!(r.lines.iter().filter(|l| l.1 == "opt_out").count() <= 1);

    for (i, (at, step, ch, req)) in r.lines.iter().enumerate() {
        let body = &req["body"];
        // Invariant 3: no free-form DM outside the window; no HUMAN_AGENT tag on automated sends.
        prop_assert!(body.get("tag").is_none(), "tagged send {step}");
        let dm = matches!(ch.as_str(), "instagram" | "messenger" | "whatsapp");
        let template = body["type"] == "template";
        if dm && !template {
            let opens = |s: &Step| match (r.channel, s) {
                (Channel::Whatsapp, Step::Say(_)) => true,
                (Channel::Whatsapp, _) => false,
                (_, Step::Say(_)) | (_, Step::React) => true,
                _ => false,
            };
            let anchor = r
                .actions
                .iter()
                .filter(|(t, s)| t <= at && opens(s))
                .map(|(t, _)| *t)
                .max();
            prop_assert!(
                anchor.is_some_and(|a| *at - a < Duration::hours(24)),
                "{step} at {at} outside the window (last user action {anchor:?})"
            );
        }
        // Invariant 4: no automated no-reply touch in quiet hours (21:00–08:00 local).
        if is_proactive(step) && reaches_lead(ch) {
            let h = at.with_timezone(&r.tz).hour();
            prop_assert!((8..21).contains(&h), "{step} at local hour {h} ({at})");
        }
        // Invariant 4: unanswered touches stay 4 h apart.
        if reaches_lead(ch) {
            if let Some((pat, pstep, _, _)) = r.lines[..i].iter().rev().find(|l| reaches_lead(&l.2))
            {
                let same_touch = pstep == step && pat == at;
                let answered = r.actions.iter().any(|(t, _)| t > pat && t <= at);
                if !same_touch && !answered {
                    prop_assert!(
                        *at - *pat >= Duration::hours(4),
                        "{pstep} at {pat} then {step} at {at}"
                    );
                }
            }
        }
        // Invariant 6: a reply cancels the no-reply touches it makes obsolete: none goes out within 4 h of it.
        if is_proactive(step) {
            let last_msg = r
                .actions
                .iter()
                .filter(|(t, s)| t <= at && matches!(s, Step::Say(_)))
                .map(|(t, _)| *t)
                .max();
            if let Some(m) = last_msg {
                prop_assert!(
                    *at - m >= Duration::hours(4),
                    "{step} at {at}, {} after the lead's message",
                    *at - m
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_invariants_hold_for_random_conversations(
        zone in 0..ZONES.len(),
        channel in prop_oneof![Just(Channel::Instagram), Just(Channel::Messenger), Just(Channel::Whatsapp)],
        cadence in 0..CADENCES.len(),
        start_min in 0i64..1440,
        script in prop::collection::vec((gap(), step()), 1..9),
    ) {
        // The first action is always a message (someone has to start the conversation).
        let mut script = script;
        script[0] = (0, Step::Say(0));
        let r = simulate(ZONES[zone], channel, CADENCES[cadence], start_min, &script);
        check(&r)?;
    }
}

#[test]
fn the_checker_catches_a_follow_up_in_quiet_hours() {
    // The checker itself must be able to fail: a fabricated line at 03:00 local is rejected.
    let at = common::utc("2026-12-07T08:00:00Z");
    let r = Run {
        lines: vec![(
            at,
            "follow_up_1".into(),
            "instagram".into(),
            json!({ "body": {} }),
        )],
        actions: vec![(at - Duration::hours(5), Step::Say(0))],
        statuses: vec![],
        tz: "America/New_York".parse().unwrap(),
        channel: Channel::Instagram,
    };
    assert!(check(&r).is_err());
}
