//! Operating Cadence: booking webhooks stop and resume the cadence in the same request, handoff notifications and
//! auto-resume, the admin API of `cadence serve` with its CLI client, and the per-step funnel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cadence_cli::notify::{signature, WebhookNotifier, SIGNATURE_HEADER};
use cadence_cli::operate::{self, AdminAction, AdminClient, OpsState};
use cadence_cli::replay::{SimOptions, Simulation};
use cadence_cli::synth::{body, Action, Persona, DEMO_IG_ID};
use cadence_core::account::Accounts;
use cadence_core::booking::{self, calendly_signature, hmac_sha256_hex, Provider};
use cadence_core::cadence::{Content, Variants};
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::engine::Notification;
use cadence_core::ids::LeadId;
use cadence_core::lead::{Lead, Status};
use cadence_core::ports::{LeadStore, Notifier};
use cadence_core::service::CadenceSet;
use common::{ig, m, say, utc};
use serde_json::json;
use std::sync::Arc;

const CAL_SECRET: &[u8] = b"cal-test-secret";
const CALENDLY_KEY: &[u8] = b"calendly-test-key";

fn start() -> DateTime<Utc> {
    utc("2026-03-02T15:00:00Z")
}

fn accounts() -> Accounts {
    let yaml = r#"
accounts:
  - id: acme
    business: Acme
    instagram_id: "17841400000000001"
    page_id: "102030405060708"
    whatsapp_phone_number_id: "106540352242922"
    timezone: America/New_York
    cadences: { instagram: coach-ig, messenger: coach-ig, whatsapp: whatsapp-ecom }
    availability: { timezone: America/New_York, hours: "09:00-17:00" }
    booking_link: https://cal.com/acme/intro
"#;
    Accounts::from_yaml("test", yaml, |_| true).expect("accounts")
}

fn sim_with(cadences: CadenceSet) -> Simulation {
    let opts = SimOptions {
        accounts: accounts(),
        cadences,
        keep_audit: true,
        ..Default::default()
    };
    Simulation::new(opts, start())
}

/// Plays `script` (minutes after the start) for the Instagram persona; returns the lead id.
async fn play(sim: &mut Simulation, script: &[(Duration, Action)]) -> LeadId {
    for (n, (d, action)) in script.iter().enumerate() {
        let at = start() + *d;
        sim.advance_to(at - Duration::milliseconds(1)).await;
        sim.clock.set(at);
        let b = body(&ig(), action, at, n);
        sim.post_webhook(&serde_json::to_vec(&b).unwrap()).await;
    }
    LeadId::derive("acme", ig().channel, &ig().user)
}

async fn lead(sim: &Simulation, id: &LeadId) -> Lead {
    sim.store.load(id).await.unwrap().expect("lead").value
}

fn cal_body(trigger: &str, lead: &LeadId) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "triggerEvent": trigger,
        "createdAt": "2026-03-02T16:00:00.000Z",
        "payload": { "uid": "bk_1", "metadata": { "lead": lead.as_str() }, "status": "ACCEPTED" }
    }))
    .unwrap()
}

fn calendly_body(event: &str, rescheduled: bool, lead: &LeadId) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": event,
        "created_at": "2026-03-02T16:00:00.000000Z",
        "payload": { "rescheduled": rescheduled, "status": "active",
                     "tracking": { "utm_source": "cadence", "utm_content": lead.as_str() } }
    }))
    .unwrap()
}

async fn post_cal(sim: &Simulation, body: &[u8], sig: Option<&str>) -> (u16, String) {
    booking::handle_post(&sim.services, Provider::Cal, CAL_SECRET, sig, body).await
}

#[tokio::test]
async fn a_booking_webhook_stops_the_cadence_within_the_same_request() {
    let mut sim = sim_with(CadenceSet::builtins());
    let id = play(&mut sim, &[(m(0), say("hi")), (m(3), say("yes sure"))]).await;
    sim.advance_to(start() + m(10)).await;
    let before = lead(&sim, &id).await;
    assert_eq!(before.status, Status::Active);
    assert!(before.next.is_some(), "a follow-up is pending");
    sim.take_output();

    let b = cal_body("BOOKING_CREATED", &id);
    let sig = hmac_sha256_hex(CAL_SECRET, &[&b]);
    assert_eq!(post_cal(&sim, &b, Some(&sig)).await, (200, "booked".into()));
    // Same request: booked, the pending touch gone, a booking notification out.
    let after = lead(&sim, &id).await;
    assert_eq!(after.status, Status::Booked);
    assert_eq!(after.status_reason.as_deref(), Some("booking_webhook"));
    assert_eq!(after.next, None);
    let audit = sim.store.audit(&id).await.unwrap();
    assert!(audit
        .iter()
        .any(|r| r.kind == "cancelled" && r.detail == "booked"));
    let notes = sim.notifier.sent.lock().unwrap().clone();
    assert!(notes.iter().any(|n| n.kind == "booked" && n.lead == id));
    // Nothing more, ever.
    sim.advance_to(start() + Duration::days(60)).await;
    assert!(sim.take_output().is_empty(), "no sends after a booking");
    // A retried delivery changes nothing.
    assert_eq!(post_cal(&sim, &b, Some(&sig)).await, (200, "booked".into()));
}

#[tokio::test]
async fn a_cancelled_booking_resumes_the_cadence_and_a_reschedule_keeps_it_booked() {
    let mut sim = sim_with(CadenceSet::builtins());
    let id = play(&mut sim, &[(m(0), say("hi"))]).await;
    sim.advance_to(start() + m(5)).await;
    let now = sim.clock.now_ts();
    let created = calendly_body("invitee.created", false, &id);
    let h = calendly_signature(CALENDLY_KEY, now, &created);
    let r = booking::handle_post(
        &sim.services,
        Provider::Calendly,
        CALENDLY_KEY,
        Some(&h),
        &created,
    )
    .await;
    assert_eq!(r, (200, "booked".into()));
    // Calendly's reschedule: a cancellation marked `rescheduled` (and a new invitee.created).
    let moved = calendly_body("invitee.canceled", true, &id);
    let h = calendly_signature(CALENDLY_KEY, now, &moved);
    let r = booking::handle_post(
        &sim.services,
        Provider::Calendly,
        CALENDLY_KEY,
        Some(&h),
        &moved,
    )
    .await;
    assert_eq!(r, (200, "booked".into()));
    assert_eq!(lead(&sim, &id).await.status, Status::Booked);
    // A real cancellation resumes the no-reply chain.
    let cancel = calendly_body("invitee.canceled", false, &id);
    let h = calendly_signature(CALENDLY_KEY, now, &cancel);
    let r = booking::handle_post(
        &sim.services,
        Provider::Calendly,
        CALENDLY_KEY,
        Some(&h),
        &cancel,
    )
    .await;
    assert_eq!(r, (200, "active".into()));
    let l = lead(&sim, &id).await;
    assert_eq!(l.status_reason.as_deref(), Some("booking_cancelled"));
    assert_eq!(
        l.next.as_ref().map(|n| n.step.as_str()),
        Some("follow_up_1")
    );
    sim.take_output();
    sim.advance_to(start() + Duration::days(1)).await;
    assert!(sim.take_output().iter().any(|o| o.step == "follow_up_1"));
}

#[tokio::test]
async fn a_bad_or_stale_signature_is_refused_and_changes_nothing() {
    let mut sim = sim_with(CadenceSet::builtins());
    let id = play(&mut sim, &[(m(0), say("hi"))]).await;
    sim.advance_to(start() + m(5)).await;
    let b = cal_body("BOOKING_CREATED", &id);
    let wrong = hmac_sha256_hex(b"not-the-secret", &[&b]);
    assert_eq!(post_cal(&sim, &b, Some(&wrong)).await.0, 401);
    assert_eq!(post_cal(&sim, &b, None).await.0, 401);
    let c = calendly_body("invitee.created", false, &id);
    let stale = calendly_signature(CALENDLY_KEY, sim.clock.now_ts() - 10 * 60, &c);
    let r = booking::handle_post(
        &sim.services,
        Provider::Calendly,
        CALENDLY_KEY,
        Some(&stale),
        &c,
    )
    .await;
    assert_eq!(r.0, 401);
    assert_eq!(lead(&sim, &id).await.status, Status::Active);
    // Signed, but for nobody we know, or a kind we ignore: acknowledged, nothing happens.
    let stranger = cal_body(
        "BOOKING_CREATED",
        &LeadId::derive("acme", ig().channel, "999"),
    );
    let sig = hmac_sha256_hex(CAL_SECRET, &[&stranger]);
    assert_eq!(
        post_cal(&sim, &stranger, Some(&sig)).await,
        (200, "ignored: unknown_lead".into())
    );
    let ping = br#"{"triggerEvent":"PING","payload":{}}"#;
    let sig = hmac_sha256_hex(CAL_SECRET, &[ping]);
    assert_eq!(post_cal(&sim, ping, Some(&sig)).await.0, 200);
}

#[tokio::test]
async fn the_samples_in_events_booking_verify_with_the_documented_test_secrets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/booking");
    for (file, kind) in [
        ("cal-created.json", "created"),
        ("cal-cancelled.json", "cancelled"),
        ("cal-rescheduled.json", "rescheduled"),
    ] {
        let b = std::fs::read(dir.join(file)).unwrap();
        let sig = std::fs::read_to_string(dir.join(format!("{file}.sig"))).unwrap();
        booking::verify_cal(CAL_SECRET, Some(sig.trim()), &b).expect(file);
        let ev = booking::parse_cal(&b).unwrap();
        assert_eq!(ev.kind.name(), kind, "{file}");
        assert!(ev.lead.is_some(), "{file}");
    }
    for (file, kind) in [
        ("calendly-created.json", "created"),
        ("calendly-canceled.json", "cancelled"),
    ] {
        let b = std::fs::read(dir.join(file)).unwrap();
        let ev = booking::parse_calendly(&b).unwrap();
        assert_eq!(ev.kind.name(), kind, "{file}");
        assert!(ev.lead.is_some(), "{file}");
    }
}

fn with_call_ask_text(text: &str) -> CadenceSet {
    let mut c = cadence_core::cadence::Cadence::builtin("coach-ig").unwrap();
    let i = c.step_index("call_ask").unwrap();
    c.steps[i].content = Variants::single(Content {
        text: text.into(),
        subject: None,
        media: None,
        slots: 0,
    });
    let mut set = CadenceSet::builtins();
    set.insert(c);
    set
}

#[tokio::test]
async fn a_call_ask_with_booking_link_carries_the_lead_id() {
    let mut sim = sim_with(with_call_ask_text("Grab a time here: {booking_link}"));
    let id = play(
        &mut sim,
        &[
            (m(0), say("Hi! Saw your post")),
            (m(3), say("yes sure")),
            (m(5), say("b")),
            (m(20), Action::Read),
        ],
    )
    .await;
    sim.advance_to(start() + m(30)).await;
    let out = sim.take_output();
    let ask = out
        .iter()
        .find(|o| o.step == "call_ask")
        .expect("call ask sent");
    let text = ask.request["body"]["message"]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("https://cal.com/acme/intro?metadata[lead]={id}")),
        "{text}"
    );
    assert_eq!(
        cadence_core::engine::booking_link("https://calendly.com/acme/intro", &id),
        format!("https://calendly.com/acme/intro?utm_source=cadence&utm_content={id}")
    );
}

fn echo(at: DateTime<Utc>, n: usize) -> Vec<u8> {
    let who: Persona = ig();
    serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{ "id": DEMO_IG_ID, "time": at.timestamp_millis(), "messaging": [{
            "sender": { "id": DEMO_IG_ID }, "recipient": { "id": who.user },
            "timestamp": at.timestamp_millis(),
            "message": { "mid": format!("m_echo_{n}"), "text": "a person typing", "is_echo": true }
        }]}]
    }))
    .unwrap()
}

fn with_resume_after(hours: i64) -> CadenceSet {
    let mut c = cadence_core::cadence::Cadence::builtin("coach-ig").unwrap();
    c.handoff.resume_after = Some(Duration::hours(hours));
    let mut set = CadenceSet::builtins();
    set.insert(c);
    set
}

#[tokio::test]
async fn a_silent_handoff_resumes_after_resume_after_and_a_human_echo_pushes_it_back() {
    let mut sim = sim_with(with_resume_after(72));
    let id = play(&mut sim, &[(m(0), say("hi")), (m(3), say("yes sure"))]).await;
    sim.advance_to(start() + m(10)).await;
    sim.clock.set(start() + m(10));
    sim.post_webhook(&echo(start() + m(10), 1)).await;
    let l = lead(&sim, &id).await;
    assert_eq!(l.status, Status::HandedOff);
    let resume = l.next.clone().expect("a resume touch is planned");
    assert_eq!(resume.step, "handoff_resume");
    assert_eq!(resume.due, start() + m(10) + Duration::hours(72));
    sim.take_output();

    // The person answers again after two days: the silence starts over.
    let second = start() + Duration::hours(48);
    sim.advance_to(second).await;
    sim.post_webhook(&echo(second, 2)).await;
    let l = lead(&sim, &id).await;
    assert_eq!(
        l.next.as_ref().map(|n| n.due),
        Some(second + Duration::hours(72))
    );
    sim.advance_to(second + Duration::hours(71)).await;
    assert_eq!(lead(&sim, &id).await.status, Status::HandedOff);
    assert!(
        sim.take_output().is_empty(),
        "nothing automated while a person has the thread"
    );

    // 72 silent hours later the sweeper gives the lead back to the cadence's no-reply chain.
    sim.advance_to(second + Duration::hours(73)).await;
    let l = lead(&sim, &id).await;
    assert_eq!(l.status, Status::Active);
    assert_eq!(l.status_reason.as_deref(), Some("handoff_silence"));
    let notes = sim.notifier.sent.lock().unwrap().clone();
    assert!(notes
        .iter()
        .any(|n| n.kind == "resumed" && n.reason == "handoff_silence"));
    sim.advance_to(second + Duration::days(5)).await;
    let out = sim.take_output();
    assert!(
        out.iter()
            .any(|o| o.step.starts_with("follow_up") || o.step.starts_with("day_")),
        "{out:?}"
    );
}

#[tokio::test]
async fn without_resume_after_a_handoff_waits_for_a_person_forever() {
    let mut sim = sim_with(CadenceSet::builtins());
    let id = play(&mut sim, &[(m(0), say("hi"))]).await;
    sim.advance_to(start() + m(10)).await;
    sim.post_webhook(&echo(start() + m(10), 1)).await;
    sim.take_output();
    sim.advance_to(start() + Duration::days(60)).await;
    assert!(sim.take_output().is_empty());
    let l = lead(&sim, &id).await;
    assert_eq!((l.status, l.next), (Status::HandedOff, None));
}

#[tokio::test]
async fn a_handoff_notification_summarises_the_conversation_without_its_text() {
    let mut sim = sim_with(CadenceSet::builtins());
    let id = play(
        &mut sim,
        &[
            (m(0), say("Hi! Saw your post")),
            (m(3), say("yes sure")),
            (m(5), say("b")),
            (m(20), Action::Read),
            (m(50), say("hmm that's way too expensive for me")),
        ],
    )
    .await;
    let notes = sim.notifier.sent.lock().unwrap().clone();
    let n: &Notification = notes.iter().find(|n| n.kind == "handoff").expect("handoff");
    assert_eq!(n.lead, id);
    assert_eq!(n.reason, "objection_price");
    assert_eq!(n.step.as_deref(), Some("call_ask"));
    assert_eq!(n.answers.get("qualify").map(String::as_str), Some("b"));
    assert_eq!(n.last_inbound.as_deref(), Some("message"));
    assert_eq!(n.last_inbound_at, Some(start() + m(50)));
    let json = serde_json::to_string(n).unwrap();
    assert!(
        !json.contains("expensive") && !json.contains(&ig().user),
        "{json}"
    );
}

#[tokio::test]
async fn the_webhook_notifier_posts_signed_notification_json() {
    use wiremock::matchers::{header_exists, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header_exists(SIGNATURE_HEADER))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let n =
        WebhookNotifier::new(format!("{}/hook", server.uri()), b"notify-secret".to_vec()).unwrap();
    let note = Notification {
        lead: LeadId::derive("acme", ig().channel, "1"),
        kind: "handoff".into(),
        reason: "human_echo".into(),
        summary: "cadence=coach-ig".into(),
        at: Some(start()),
        cadence: "coach-ig".into(),
        channel: "instagram".into(),
        step: Some("qualify".into()),
        answers: Default::default(),
        last_inbound: Some("message".into()),
        last_inbound_at: Some(start()),
    };
    n.notify(&note).await.expect("delivered");
    let req = &server.received_requests().await.unwrap()[0];
    let sig = req
        .headers
        .get("x-cadence-signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(sig, signature(b"notify-secret", &req.body));
    let back: Notification = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(back, note);
}

/// `cadence serve`'s operating routes on a real socket, over a simulation's services.
async fn spawn_ops(sim: &Simulation, token: Option<&str>) -> String {
    let state = OpsState {
        services: sim.services.clone(),
        cal_secret: Some(Arc::new(CAL_SECRET.to_vec())),
        calendly_secret: None,
        admin_token: token.map(|t| Arc::new(t.to_string())),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, operate::router(state)).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_admin_api_lists_shows_and_commands_leads_behind_its_token() {
    let mut sim = sim_with(CadenceSet::builtins());
    let id = play(&mut sim, &[(m(0), say("hi")), (m(3), say("yes sure"))]).await;
    sim.advance_to(start() + m(10)).await;
    let base = spawn_ops(&sim, Some("t0ken")).await;
    let c = AdminClient::new(&base, Some("t0ken".into())).unwrap();

    let leads = c.leads().await.unwrap();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].id, id);
    let d = c.lead(id.as_str()).await.unwrap();
    assert!(d
        .audit
        .iter()
        .any(|r| r.kind == "sent" && r.step.as_deref() == Some("opener")));
    let shown = cadence_core::report::render_timeline(&d);
    assert!(shown.contains("EST") && shown.contains("opener"), "{shown}");
    assert!(!shown.contains(&ig().user));

    let until = start() + Duration::days(3);
    let v = c.command(id.as_str(), "pause", Some(until)).await.unwrap();
    assert_eq!((v.status.as_str(), v.next_due), ("paused", Some(until)));
    let v = c.command(id.as_str(), "resume", None).await.unwrap();
    assert_eq!(v.status, "active");
    let v = c.command(id.as_str(), "handoff", None).await.unwrap();
    assert_eq!(v.status, "handed_off");
    let v = c.command(id.as_str(), "stop", None).await.unwrap();
    assert_eq!((v.status.as_str(), v.next_step), ("finished", None));
    assert!(c
        .command(id.as_str(), "explode", None)
        .await
        .unwrap_err()
        .contains("400"));
    assert!(c
        .lead("ld_00000000000000000000")
        .await
        .unwrap_err()
        .contains("404"));

    let f = c.funnel(None, None).await.unwrap();
    assert!(f
        .steps
        .iter()
        .any(|s| s.step == "opener" && s.sent == 1 && s.replied == 1));
    let text = operate::run_admin(&base, AdminAction::List).await;
    // The CLI reads the token from the environment; without it the server says 401.
    if std::env::var(operate::ADMIN_TOKEN_ENV).is_err() {
        assert!(text.unwrap_err().contains("401"));
    }
    let anon = AdminClient::new(&base, None).unwrap();
    assert!(anon.leads().await.unwrap_err().contains("401"));
    let wrong = AdminClient::new(&base, Some("t0kem".into())).unwrap();
    assert!(wrong.leads().await.unwrap_err().contains("401"));

    // Booking route on the same server: a signed Cal.com webhook books the lead.
    let b = cal_body("BOOKING_CREATED", &id);
    let res = reqwest::Client::new()
        .post(format!("{base}/booking/cal"))
        .header("X-Cal-Signature-256", "00")
        .body(b.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = reqwest::Client::new()
        .post(format!("{base}/booking/calendly"))
        .body(b)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404, "no Calendly key configured");
}

#[tokio::test]
async fn the_admin_api_is_off_without_a_token() {
    let sim = sim_with(CadenceSet::builtins());
    let base = spawn_ops(&sim, None).await;
    let c = AdminClient::new(&base, Some("anything".into())).unwrap();
    let e = c.leads().await.unwrap_err();
    assert!(
        e.contains("404") && e.contains("CADENCE_ADMIN_TOKEN"),
        "{e}"
    );
}

#[tokio::test]
async fn report_prints_the_per_step_funnel_of_a_replay() {
    let mut lines = Vec::new();
    let people = [
        ("6871000000000001", "yes sure"),
        ("6871000000000002", "STOP"),
    ];
    for (k, (user, reply)) in people.iter().enumerate() {
        let who = Persona {
            user: user.to_string(),
            ..ig()
        };
        for (n, (d, a)) in [(m(0), say("hi")), (m(3), say(reply))].iter().enumerate() {
            let at = start() + *d + Duration::seconds(k as i64);
            let b = body(&who, a, at, k * 10 + n);
            lines.push((
                at,
                json!({ "at": cadence_cli::sinks::rfc3339(at), "webhook": b }).to_string(),
            ));
        }
    }
    lines.sort();
    let lines: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
    let opts = SimOptions {
        accounts: accounts(),
        ..Default::default()
    };
    let f = cadence_cli::report::replay_funnel(&lines, opts, None, None)
        .await
        .unwrap();
    let opener = f.steps.iter().find(|s| s.step == "opener").unwrap();
    assert_eq!((opener.sent, opener.replied, opener.opted_out), (2, 2, 1));
    assert_eq!(f.leads, 2);
    let text = f.render();
    assert!(
        text.contains("opener") && text.contains("100%") && text.contains("█"),
        "{text}"
    );
}

trait NowTs {
    fn now_ts(&self) -> i64;
}

impl NowTs for cadence_core::memory::VirtualClock {
    fn now_ts(&self) -> i64 {
        use cadence_core::ports::Clock;
        self.now().timestamp()
    }
}

/// The coach cadence's shape with its opener under an A/B test (weights 1:1).
const AB_CADENCE: &str = r#"
id: coach-ig
steps:
  - id: opener
    trigger: first_contact
    within: 5m
    text: "Hey! Thanks for reaching out. Mind if I ask one quick question?"
    ab:
      short: { text: "Hi! Quick question for you?" }
  - id: qualify
    trigger: reply
    within: 15m
    text: "What matters most: (a) reach or (b) clients?"
    options:
      - { key: a, label: Reach }
      - { key: b, label: Clients }
    otherwise: b
follow_ups:
  - id: follow_up_1
    after: 4h
    text: "Still there?"
end: { action: newsletter, after: 3d }
"#;

#[tokio::test]
async fn an_ab_tested_opener_splits_leads_sticks_to_each_and_reports_every_arm_with_its_replies() {
    let mut cadences = CadenceSet::builtins();
    cadences.insert(cadence_core::cadence::Cadence::from_yaml("ab.yaml", AB_CADENCE).unwrap());
    let mut sim = sim_with(cadences);
    let people: Vec<Persona> = (0..40)
        .map(|k| Persona {
            user: format!("68710000000{k:05}"),
            ..ig()
        })
        .collect();
    // Every lead writes; the even ones answer the opener three minutes later.
    for (k, who) in people.iter().enumerate() {
        let at = start() + Duration::seconds(k as i64);
        sim.advance_to(at - Duration::milliseconds(1)).await;
        sim.clock.set(at);
        sim.post_webhook(&serde_json::to_vec(&body(who, &say("hi"), at, k)).unwrap())
            .await;
    }
    for (k, who) in people.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
        let at = start() + m(3) + Duration::seconds(k as i64);
        sim.advance_to(at - Duration::milliseconds(1)).await;
        sim.clock.set(at);
        sim.post_webhook(&serde_json::to_vec(&body(who, &say("yes sure"), at, 100 + k)).unwrap())
            .await;
    }
    sim.advance_to(start() + Duration::hours(1)).await;

    let out = sim.take_output();
    let mut expected: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for (k, who) in people.iter().enumerate() {
        let id = LeadId::derive("acme", who.channel, &who.user);
        let l = lead(&sim, &id).await;
        let arm = l.ab.get("opener").cloned().expect("an arm recorded");
        let openers: Vec<&str> = out
            .iter()
            .filter(|o| o.lead == id.as_str() && o.step == "opener")
            .map(|o| o.request["body"]["message"]["text"].as_str().unwrap())
            .collect();
        let want = if arm == "a" {
            "Hey! Thanks for reaching out. Mind if I ask one quick question?"
        } else {
            "Hi! Quick question for you?"
        };
        assert_eq!(openers, vec![want], "lead {k} in arm {arm}");
        let e = expected.entry(arm).or_default();
        e.0 += 1;
        e.1 += u64::from(k % 2 == 0);
    }
    assert_eq!(expected.len(), 2, "both arms used: {expected:?}");

    let f = cadence_cli::report::simulation_funnel(&sim, None, None).await;
    let opener = f.steps.iter().find(|s| s.step == "opener").unwrap();
    assert_eq!((opener.sent, opener.replied), (40, 20));
    let got: std::collections::BTreeMap<String, (u64, u64)> = opener
        .variants
        .iter()
        .map(|(k, v)| (k.clone(), (v.sent, v.replied)))
        .collect();
    assert_eq!(got, expected);
    let text = f.render();
    assert!(
        text.contains("arm a") && text.contains("arm short"),
        "{text}"
    );
    let qualify = f.steps.iter().find(|s| s.step == "qualify").unwrap();
    assert!(
        qualify.variants.is_empty(),
        "steps not under test have no arms"
    );
}
