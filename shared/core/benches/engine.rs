//! Engine, reply understanding and rendering micro-benchmarks (criterion).
//!
//! `cargo bench -p cadence-core --bench engine` (figures in the README's Benchmarks section).
//! One "decision" is one `engine::decide` call on a realistic lead: a first contact, a reply to the qualifying
//! question, a follow-up firing, a read receipt. Each lead is the state the real cadence would have reached.

use cadence_core::account::Account;
use cadence_core::cadence::Cadence;
use cadence_core::chrono::{DateTime, Duration, TimeZone, Utc};
use cadence_core::engine::{self, Ctx, Event};
use cadence_core::ids::{Channel, LeadId, UserRef};
use cadence_core::inbound::{InboundEvent, InboundKind, Message};
use cadence_core::lead::Lead;
use cadence_core::render::{render, Values};
use cadence_core::reply::{understand, OptionSpec, ReplyContext};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::BTreeMap;
use std::hint::black_box;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 15, 0, 0)
        .single()
        .expect("valid instant")
}

fn message(user: &str, n: u32, at: DateTime<Utc>, text: &str) -> InboundEvent {
    InboundEvent {
        dedupe_key: format!("m-{user}-{n}"),
        channel: Channel::Instagram,
        account: "17841400000000001".into(),
        user: UserRef::id(user),
        at,
        profile_name: None,
        kind: InboundKind::Message(Message {
            text: Some(text.into()),
            ..Default::default()
        }),
    }
}

/// Applies a decision as the services would after a successful write and a send.
fn step(ctx: Ctx<'_>, lead: &Lead, ev: &Event<'_>, now: DateTime<Utc>) -> Lead {
    engine::decide(ctx, lead, ev, now).lead
}

/// Delivers the lead's pending touch at `now` (TouchDue then Sent) and returns the state after it.
fn deliver(ctx: Ctx<'_>, lead: &Lead, now: DateTime<Utc>) -> Lead {
    let next = lead.next.clone().expect("a pending touch");
    let claimed = step(
        ctx,
        lead,
        &Event::TouchDue {
            plan: next.plan,
            step: &next.step,
        },
        now,
    );
    step(
        ctx,
        &claimed,
        &Event::Sent {
            plan: next.plan,
            step: &next.step,
            provider_ids: vec!["mid.1".into()],
        },
        now,
    )
}

fn bench_decide(c: &mut Criterion) {
    let cadence = Cadence::builtin("coach-ig").expect("built-in");
    let account = Account::demo();
    let ctx = Ctx {
        cadence: &cadence,
        account: &account,
    };
    let now = t0();
    let user = "7391048215603847";
    let id = LeadId::derive(&account.id, Channel::Instagram, user);

    // First contact: a new lead and its opener.
    let first = message(user, 0, now, "Hi! saw your reel, how does it work?");
    let fresh = engine::new_lead(ctx, id.clone(), &first, now);
    // After the opener went out, the lead replies ("yes") → qualify; then answers "b" → value.
    let opened = deliver(ctx, &step(ctx, &fresh, &Event::Inbound(&first), now), now);
    let yes = message(user, 1, now + Duration::minutes(2), "yes sure");
    let qualified = deliver(
        ctx,
        &step(
            ctx,
            &opened,
            &Event::Inbound(&yes),
            now + Duration::minutes(2),
        ),
        now + Duration::minutes(2),
    );
    let answer = message(
        user,
        2,
        now + Duration::minutes(5),
        "b, followers into clients",
    );
    // The lead went quiet after the value drop: the +4 h follow-up is pending.
    let valued = deliver(
        ctx,
        &step(
            ctx,
            &qualified,
            &Event::Inbound(&answer),
            now + Duration::minutes(5),
        ),
        now + Duration::minutes(5),
    );
    let follow = valued.next.clone().expect("follow-up planned");
    let read = InboundEvent {
        dedupe_key: "read-1".into(),
        kind: InboundKind::Read {
            mid: Some("mid.1".into()),
        },
        ..message(user, 3, now + Duration::minutes(6), "")
    };

    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(1));
    g.bench_function("first_contact", |b| {
        b.iter(|| {
            let lead = engine::new_lead(ctx, id.clone(), black_box(&first), now);
            engine::decide(ctx, &lead, &Event::Inbound(&first), now)
        })
    });
    g.bench_function("reply_to_qualify", |b| {
        b.iter(|| {
            engine::decide(
                ctx,
                black_box(&qualified),
                &Event::Inbound(&answer),
                now + Duration::minutes(5),
            )
        })
    });
    g.bench_function("read_receipt", |b| {
        b.iter(|| {
            engine::decide(
                ctx,
                black_box(&valued),
                &Event::Inbound(&read),
                now + Duration::minutes(6),
            )
        })
    });
    g.bench_function("follow_up_due", |b| {
        let ev = Event::TouchDue {
            plan: follow.plan,
            step: &follow.step,
        };
        b.iter(|| engine::decide(ctx, black_box(&valued), &ev, follow.due))
    });
    g.finish();
}

fn bench_understand(c: &mut Criterion) {
    let options: Vec<OptionSpec> = ["a", "b", "c"]
        .iter()
        .zip(["More reach", "Followers to clients", "Something else"])
        .zip([vec!["reach", "audience"], vec!["clients", "sales"], vec![]])
        .map(|((k, l), w)| {
            OptionSpec::new(
                (*k).into(),
                l.into(),
                w.into_iter().map(String::from).collect(),
                format!("OPT_qualify_{k}"),
            )
        })
        .collect();
    let slots: Vec<DateTime<Utc>> = (1..=3).map(|d| t0() + Duration::days(d)).collect();
    let tz = "Europe/Paris".parse().expect("zone");
    let with_options = ReplyContext {
        options: &options,
        slots: &[],
        slot_payload_prefix: "SLOT_",
        tz,
        now: t0(),
    };
    let with_slots = ReplyContext {
        options: &[],
        slots: &slots,
        slot_payload_prefix: "SLOT_",
        tz,
        now: t0(),
    };
    let mut g = c.benchmark_group("understand");
    g.throughput(Throughput::Elements(1));
    let cases: [(&str, &str, &ReplyContext<'_>); 5] = [
        ("option_text", "I'd say b, turning followers into clients", &with_options),
        ("slot_text", "thursday works for me", &with_slots),
        ("opt_out", "STOP", &with_options),
        ("deferral", "not now, send me something in October please", &with_options),
        ("plain_long", "Salut ! C'est combien le programme débutant ? J'ai vu ta vidéo hier soir et je me demandais si ça marche aussi pour les coachs sportifs qui débutent sur Instagram.", &with_options),
    ];
    for (name, text, ctx) in cases {
        g.bench_function(name, |b| {
            b.iter(|| understand(Some(black_box(text)), None, ctx))
        });
    }
    g.finish();
}

fn bench_render(c: &mut Criterion) {
    let defaults: BTreeMap<String, String> = [("first_name".to_string(), "there".to_string())]
        .into_iter()
        .collect();
    let mut values = Values {
        defaults: Some(&defaults),
        ..Default::default()
    };
    values.set("first_name", "Sheena");
    values.set("topic", "growing your coaching business");
    values.set("slot_1", "Thu 10:00");
    values.set("slot_2", "Thu 14:00");
    values.set("slot_3", "Fri 16:00");
    let text = "Hey {first_name} 👋 thanks for reaching out about {topic}! Free 20-minute call? 🗓️ {slot_1} 🗓️ {slot_2} 🗓️ {slot_3} — or {unknown}";
    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1));
    g.bench_function("call_ask_text", |b| {
        b.iter(|| render(black_box(text), &values))
    });
    g.finish();
}

criterion_group!(benches, bench_decide, bench_understand, bench_render);
criterion_main!(benches);
