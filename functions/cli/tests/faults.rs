//! Fault injection: every port (Graph API sender, store, scheduler, queue) fails up to 30% of calls with a
//! seeded RNG (Graph 500, Meta rate limits 4/613/130429/131056, connect timeouts and resets before the request
//! reaches the provider; store, scheduler and queue throttling), under a driver that redelivers like SQS
//! (five receives, then the DLQ) and like Meta (a 5xx webhook is delivered again). Once the faults stop and
//! the DLQ is redriven, the provider has received exactly what a fault-free run sends: nothing lost, nothing
//! twice. Permanent errors are recorded with their reason and never retried.

mod support;

use cadence_core::chrono::Duration;
use cadence_core::ids::Channel;
use cadence_core::lead::Status;
use cadence_core::ports::{ChannelSender, LeadStore};
use cadence_meta::graph::GraphConfig;
use cadence_meta::{GraphApiSender, SenderTimeouts, TokenSource};
use std::sync::Arc;
use support::*;

/// Twelve leads on three channels: some answer the question, some go quiet, one opts out, one books.
fn script() -> Vec<(Duration, Persona, Action, usize)> {
    let mut s = Vec::new();
    for n in 0..12 {
        let channel = [Channel::Instagram, Channel::Whatsapp, Channel::Messenger][n % 3];
        let p = persona(channel, n);
        let t0 = Duration::minutes(7 * n as i64);
        s.push((t0, p.clone(), say("hi, info please"), n * 10));
        match n % 4 {
            0 => {}
            1 => {
                s.push((t0 + Duration::minutes(3), p.clone(), say("yes"), n * 10 + 1));
                s.push((t0 + Duration::minutes(6), p.clone(), say("b"), n * 10 + 2));
            }
            2 => s.push((t0 + Duration::hours(5), p.clone(), say("STOP"), n * 10 + 1)),
            _ => {
                s.push((
                    t0 + Duration::minutes(2),
                    p.clone(),
                    say("sure"),
                    n * 10 + 1,
                ));
                s.push((t0 + Duration::hours(30), p.clone(), say("a"), n * 10 + 2));
            }
        }
    }
    s.sort_by_key(|(t, ..)| *t);
    s
}

async fn run(rig: &mut Rig, faults_for: Option<Duration>) {
    for (t, p, a, n) in script() {
        let at = start() + t;
        rig.advance_to(at - Duration::milliseconds(1)).await;
        rig.clock.set(at);
        rig.deliver(&json(&p, &a, at, n)).await;
    }
    if let Some(d) = faults_for {
        rig.advance_to(start() + d).await;
        rig.faults.stop();
        rig.redrive().await;
    }
    rig.advance_to(start() + Duration::days(45)).await;
}

#[tokio::test]
async fn after_30_percent_faults_stop_every_touch_is_delivered_exactly_once() {
    let mut clean = Rig::new();
    run(&mut clean, None).await;
    let expected = clean.recorder.per_step();
    assert!(
        expected.len() > 40,
        "the scenario sends plenty ({})",
        expected.len()
    );

    for seed in [7_u64, 42, 1234] {
        let mut rig = Rig::with(
            cadence_core::account::Accounts::demo(),
            FaultPlan::new(seed, 30),
        );
        run(&mut rig, Some(Duration::days(3))).await;
        let injected = rig.faults.injected.lock().unwrap().clone();
        eprintln!("seed {seed}: injected {injected:?}, stats {:?}", rig.stats);
        assert!(rig.faults.total_injected() > 100, "faults were injected");
        assert!(rig.stats.webhook_500 > 0 && rig.stats.touch_retries > 0);
        // Never twice per touch, and the same steps as the fault-free run.
        for (k, n) in rig.recorder.per_touch() {
            let parts = clean
                .recorder
                .all()
                .iter()
                .filter(|d| d.lead == k.0 && d.step == k.2)
                .count()
                .max(1);
            assert!(n <= parts, "seed {seed}: {k:?} delivered {n} times");
        }
        // Every touch the engine recorded as delivered reached the provider, and everything the provider got
        // is a touch the engine recorded: nothing lost, nothing phantom. Delays (a lost queue message waits for
        // the sweeper's repair) may shift later timing decisions, so the steps are compared lead by lead
        // against the engine's own record rather than against the fault-free timeline.
        let delivered = rig.recorder.per_step();
        let mut recorded = std::collections::BTreeMap::new();
        for id in rig.store.list().await.unwrap() {
            let lead = rig.lead(&id).await.unwrap();
            for sent in &lead.sent {
                if ["dm", "template", "task", "email", "newsletter"].contains(&sent.path.as_str()) {
                    *recorded
                        .entry((id.as_str().to_string(), sent.step.clone()))
                        .or_insert(0) += 1;
                }
            }
            // Nothing is stuck: no claim left open, no touch overdue.
            if let Some(next) = &lead.next {
                assert_eq!(
                    next.state,
                    cadence_core::lead::TouchState::Planned,
                    "seed {seed}: {id}"
                );
                assert!(
                    next.due > rig.now() - Duration::hours(1),
                    "seed {seed}: {id} overdue"
                );
            }
        }
        let lost: Vec<_> = recorded
            .keys()
            .filter(|k| !delivered.contains_key(*k))
            .collect();
        let phantom: Vec<_> = delivered
            .keys()
            .filter(|k| !recorded.contains_key(*k))
            .collect();
        assert!(
            lost.is_empty() && phantom.is_empty(),
            "seed {seed}: lost {lost:?}, phantom {phantom:?}"
        );
        // The same people end in the same places as without faults.
        for id in clean.store.list().await.unwrap() {
            let (a, b) = (clean.lead(&id).await.unwrap(), rig.lead(&id).await.unwrap());
            assert_eq!(a.status, b.status, "seed {seed}: {id}");
            assert!(
                b.sent.iter().any(|s| s.step == "opener"),
                "seed {seed}: {id}"
            );
        }
        let same = expected
            .iter()
            .filter(|(k, v)| delivered.get(*k) == Some(v))
            .count();
        eprintln!(
            "seed {seed}: {same} of {} (lead, step) deliveries identical to the fault-free run",
            expected.len()
        );
        assert!(rig.dlq.is_empty(), "redriven");
    }
}

#[tokio::test]
async fn retries_per_queue_message_are_bounded_and_dead_letters_carry_what_a_redrive_needs() {
    // Sends to one lead keep failing with a Graph 500 while everything else works.
    let faults = FaultPlan::new(3, 0);
    let mut rig = Rig::with(cadence_core::account::Accounts::demo(), faults.clone());
    let p = persona(Channel::Instagram, 1);
    let id = lead_id(&p);
    faults
        .permanent
        .lock()
        .unwrap()
        .insert(id.as_str().to_string(), (500, String::new()));
    assert_eq!(rig.deliver(&json(&p, &say("hi"), start(), 1)).await, 200);
    rig.advance_to(start() + Duration::minutes(10)).await;
    assert_eq!(rig.dlq.len(), 1, "five receives, then the DLQ");
    let d = &rig.dlq[0];
    assert_eq!(d.receives, MAX_RECEIVES);
    assert_eq!(
        (d.touch.lead_id.clone(), d.touch.step.as_str()),
        (id.clone(), "opener")
    );
    assert!(d.last_error.contains("http 500"), "{}", d.last_error);
    assert_eq!(rig.stats.touch_receives, MAX_RECEIVES);
    // The claim was released each time, so the touch is still pending; once Meta recovers, a redrive sends it.
    faults.permanent.lock().unwrap().clear();
    rig.redrive().await;
    rig.advance_to(rig.now() + Duration::minutes(1)).await;
    assert_eq!(rig.recorder.count(&id, "opener"), 1);
}

async fn permanent(code_body: &str, status: u16) -> (Rig, cadence_core::ids::LeadId) {
    let faults = FaultPlan::new(5, 0);
    let mut rig = Rig::with(cadence_core::account::Accounts::demo(), faults.clone());
    let p = persona(Channel::Whatsapp, 2);
    let id = lead_id(&p);
    faults
        .permanent
        .lock()
        .unwrap()
        .insert(id.as_str().to_string(), (status, code_body.to_string()));
    assert_eq!(rig.deliver(&json(&p, &say("hi"), start(), 1)).await, 200);
    rig.advance_to(start() + Duration::days(40)).await;
    (rig, id)
}

fn failures(audit: &[cadence_core::lead::AuditRecord]) -> Vec<String> {
    audit
        .iter()
        .filter(|a| a.kind == "failed")
        .map(|a| format!("{}:{}", a.step.clone().unwrap_or_default(), a.detail))
        .collect()
}

#[tokio::test]
async fn permanent_meta_errors_are_recorded_with_their_reason_and_never_retried() {
    // 551: the person cannot be reached: the lead is finished after one attempt.
    let (rig, id) = permanent(
        r#"{"error":{"message":"This person isn't available right now.","code":551}}"#,
        400,
    )
    .await;
    let lead = rig.lead(&id).await.unwrap();
    assert_eq!(lead.status, Status::Finished);
    assert_eq!(failures(&rig.audit(&id).await), vec!["opener:unreachable"]);
    assert_eq!(rig.stats.touch_retries, 0);

    // 131050: opted out of marketing: the lead is opted out, nothing more is tried.
    let (rig, id) = permanent(
        r#"{"error":{"message":"User has stopped marketing messages","code":131050}}"#,
        400,
    )
    .await;
    assert_eq!(rig.lead(&id).await.unwrap().status, Status::OptedOut);
    assert_eq!(failures(&rig.audit(&id).await), vec!["opener:opted_out"]);
    assert_eq!(rig.stats.touch_retries, 0);

    // 131047: window closed: each touch fails once, is recorded, and switches to its fallback or a recorded skip.
    let (rig, id) = permanent(
        r#"{"error":{"message":"Re-engagement message","code":131047}}"#,
        400,
    )
    .await;
    let f = failures(&rig.audit(&id).await);
    assert!(
        !f.is_empty() && f.iter().all(|x| x.ends_with(":window_closed")),
        "{f:?}"
    );
    let lead = rig.lead(&id).await.unwrap();
    let mut steps: Vec<&str> = f.iter().map(|x| x.split(':').next().unwrap()).collect();
    let n = steps.len();
    steps.dedup();
    assert_eq!(steps.len(), n, "no step tried twice: {f:?}");
    assert!(
        lead.sent
            .iter()
            .any(|s| s.path.starts_with("skipped:window_closed")
                || s.path == "template"
                || s.path == "task"),
        "{:?}",
        lead.sent
    );
    assert_eq!(rig.stats.touch_retries, 0);
}

struct Token;
impl TokenSource for Token {
    fn token(&self, _: Channel, _: &str) -> Option<String> {
        Some("test-token".into())
    }
}

#[tokio::test]
async fn the_real_graph_sender_classifies_a_sequence_of_mock_errors_end_to_end() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let answers: Vec<(u16, &str, &str)> = vec![
        (500, "", "retryable"),
        (
            400,
            r#"{"error":{"code":4,"message":"limit"}}"#,
            "retryable",
        ),
        (
            400,
            r#"{"error":{"code":613,"message":"limit"}}"#,
            "retryable",
        ),
        (
            429,
            r#"{"error":{"code":130429,"message":"throughput"}}"#,
            "retryable",
        ),
        (
            400,
            r#"{"error":{"code":131056,"message":"pair"}}"#,
            "retryable",
        ),
        (
            400,
            r#"{"error":{"code":131047,"message":"window"}}"#,
            "window_closed",
        ),
        (
            400,
            r#"{"error":{"code":551,"message":"unavailable"}}"#,
            "unreachable",
        ),
        (
            400,
            r#"{"error":{"code":131050,"message":"stopped"}}"#,
            "opted_out",
        ),
        (401, r#"{"error":{"code":190,"message":"token"}}"#, "auth"),
        (
            400,
            r#"{"error":{"code":100,"message":"param"}}"#,
            "permanent",
        ),
        (503, "<html>gateway</html>", "retryable"),
    ];
    for (status, body, _) in &answers {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(*status).set_body_string(*body))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    // Then success; and one that hangs past the timeout (the request left: outcome unknown).
    let sender = GraphApiSender::with_timeouts(
        GraphConfig::with_base(server.uri()),
        Arc::new(Token),
        SenderTimeouts {
            connect: std::time::Duration::from_secs(2),
            total: std::time::Duration::from_millis(500),
        },
    )
    .unwrap();
    let touch = cadence_core::lead::TouchRef::new(
        cadence_core::ids::LeadId::derive("demo", Channel::Whatsapp, "447700900001"),
        1,
        "opener",
    );
    let msg = cadence_core::outbound::DmMessage {
        channel: Channel::Whatsapp,
        from: "106540352242922".into(),
        to: cadence_core::outbound::Recipient::Phone("447700900001".into()),
        messaging_type: cadence_core::outbound::MessagingType::Response,
        body: cadence_core::outbound::DmBody::Text {
            text: "hello".into(),
            choices: Vec::new(),
            list_button: None,
        },
    };
    // Each mock answers once, in mount order, so the answers come back in sequence.
    let mut got = Vec::new();
    for _ in &answers {
        let r = sender.send_dm(&touch, &msg).await;
        got.push(r.err().map(|e| e.code()).unwrap_or("ok"));
    }
    let want: Vec<&str> = answers.iter().map(|a| a.2).collect();
    assert_eq!(got, want);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"messages":[{"id":"wamid.ok"}]}"#)
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let r = sender.send_dm(&touch, &msg).await;
    assert_eq!(r.err().map(|e| e.code()), Some("unknown_outcome"));
}

/// The demo account with the coach cadence's voice notes configured, so the value drop is a text and a file.
fn accounts_with_assets() -> cadence_core::account::Accounts {
    let yaml = r#"
accounts:
  - id: demo
    business: Demo
    instagram_id: "17841400000000001"
    page_id: "102030405060708"
    whatsapp_phone_number_id: "106540352242922"
    timezone: UTC
    cadences: { instagram: coach-ig, messenger: coach-ig, whatsapp: whatsapp-ecom }
    assets:
      voice_reach: https://cdn.demo.example/a.m4a
      voice_clients: https://cdn.demo.example/b.m4a
      voice_general: https://cdn.demo.example/c.m4a
"#;
    cadence_core::account::Accounts::from_yaml("test", yaml, |_| true).expect("accounts")
}

/// Plays first contact, a "yes" and an answer for the qualifying question; the value drop is then due.
async fn up_to_the_value_drop(rig: &mut Rig, p: &Persona) {
    assert_eq!(rig.deliver(&json(p, &say("hi"), start(), 1)).await, 200);
    rig.advance_to(start() + Duration::minutes(3)).await;
    let at = start() + Duration::minutes(3);
    assert_eq!(rig.deliver(&json(p, &say("yes sure"), at, 2)).await, 200);
    rig.advance_to(start() + Duration::minutes(6)).await;
    let at = start() + Duration::minutes(6);
    assert_eq!(
        rig.deliver(&json(p, &say("b, followers into clients"), at, 3))
            .await,
        200
    );
}

fn value_parts(rig: &Rig, id: &cadence_core::ids::LeadId) -> Vec<bool> {
    rig.recorder
        .all()
        .into_iter()
        .filter(|d| d.lead == id.as_str() && d.step == "value")
        .map(|d| d.media)
        .collect()
}

#[tokio::test]
async fn a_file_that_fails_after_its_text_is_retried_alone_and_the_text_never_twice() {
    let faults = FaultPlan::new(7, 0);
    let mut rig = Rig::with(accounts_with_assets(), faults.clone());
    let p = persona(Channel::Instagram, 21);
    let id = lead_id(&p);
    // The first two tries of the voice note fail retryably (Graph 500, then a rate limit); the text went out.
    faults.media_faults.lock().unwrap().insert(
        id.as_str().to_string(),
        vec![
            cadence_meta::classify(500, b""),
            cadence_meta::classify(400, br#"{"error":{"message":"limit","code":613}}"#),
        ],
    );
    up_to_the_value_drop(&mut rig, &p).await;
    rig.advance_to(start() + Duration::hours(1)).await;

    assert_eq!(
        value_parts(&rig, &id),
        vec![false, true],
        "text once, then the file once"
    );
    let lead = rig.lead(&id).await.unwrap();
    let value = lead
        .sent
        .iter()
        .find(|s| s.step == "value")
        .expect("value recorded");
    assert_eq!(value.path, "dm");
    assert_eq!(
        value.provider_ids.len(),
        2,
        "both parts' ids kept for echo recognition"
    );
    let audit = rig.audit(&id).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.kind == "claimed_rest" && a.step.as_deref() == Some("value"))
            .count(),
        2,
        "each retry claimed only the rest"
    );
}

#[tokio::test]
async fn a_file_refused_for_good_after_its_text_counts_the_touch_as_sent_and_the_cadence_goes_on() {
    let faults = FaultPlan::new(8, 0);
    let mut rig = Rig::with(accounts_with_assets(), faults.clone());
    let p = persona(Channel::Instagram, 22);
    let id = lead_id(&p);
    faults.media_faults.lock().unwrap().insert(
        id.as_str().to_string(),
        vec![cadence_meta::classify(
            400,
            br#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}"#,
        )],
    );
    up_to_the_value_drop(&mut rig, &p).await;
    rig.advance_to(start() + Duration::hours(1)).await;

    assert_eq!(
        value_parts(&rig, &id),
        vec![false],
        "the text only; the file is not retried"
    );
    let lead = rig.lead(&id).await.unwrap();
    let value = lead
        .sent
        .iter()
        .find(|s| s.step == "value")
        .expect("value recorded");
    assert_eq!((value.path.as_str(), value.provider_ids.len()), ("dm", 1));
    assert!(rig
        .audit(&id)
        .await
        .iter()
        .any(|a| a.kind == "partial" && a.step.as_deref() == Some("value")));
    assert!(
        lead.next.is_some(),
        "the cadence continues after the value drop"
    );
    assert_eq!(rig.stats.touch_retries, 0);
}

#[tokio::test]
async fn a_touch_that_keeps_failing_retryably_is_given_up_after_max_send_attempts_despite_sweeper_refires(
) {
    let faults = FaultPlan::new(9, 0);
    let mut rig = Rig::with(cadence_core::account::Accounts::demo(), faults.clone());
    let p = persona(Channel::Instagram, 23);
    let id = lead_id(&p);
    faults
        .permanent
        .lock()
        .unwrap()
        .insert(id.as_str().to_string(), (500, String::new()));
    assert_eq!(rig.deliver(&json(&p, &say("hi"), start(), 1)).await, 200);
    // Five receives, the DLQ, then the sweeper finds the overdue touch and fires it again: a loop without a cap.
    rig.advance_to(start() + Duration::hours(3)).await;

    let audit = rig.audit(&id).await;
    let opener_failures = audit
        .iter()
        .filter(|a| a.kind == "failed" && a.step.as_deref() == Some("opener"))
        .count();
    assert_eq!(
        opener_failures,
        cadence_core::engine::MAX_SEND_ATTEMPTS as usize
    );
    let lead = rig.lead(&id).await.unwrap();
    let opener = lead
        .sent
        .iter()
        .find(|s| s.step == "opener")
        .expect("recorded");
    assert_eq!(opener.path, "failed:retries_exhausted");
    assert!(
        lead.next.as_ref().is_none_or(|n| n.step != "opener"),
        "the opener is not pending any more"
    );
    assert!(
        !rig.dlq.is_empty(),
        "the first round of receives ended in the DLQ"
    );
    // Redriving the DLQ later finds nothing to send for the opener.
    let before = rig.stats.touch_receives;
    rig.redrive().await;
    rig.advance_to(rig.now() + Duration::minutes(1)).await;
    assert!(rig.stats.touch_receives > before);
    assert_eq!(
        rig.audit(&id)
            .await
            .iter()
            .filter(|a| a.kind == "failed" && a.step.as_deref() == Some("opener"))
            .count(),
        opener_failures,
        "no further try"
    );
}

#[tokio::test]
async fn a_result_write_whose_answer_is_lost_is_recorded_once_and_the_next_touch_keeps_its_time() {
    let faults = FaultPlan::new(10, 0);
    let mut rig = Rig::with(cadence_core::account::Accounts::demo(), faults.clone());
    let p = persona(Channel::Instagram, 24);
    let id = lead_id(&p);
    // Write 1 stores the lead with its opener planned, write 2 claims the opener, write 3 records it as sent:
    // that write lands but its answer is lost.
    faults
        .lose_save_answer
        .store(3, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(rig.deliver(&json(&p, &say("hi"), start(), 1)).await, 200);
    rig.advance_to(start() + Duration::minutes(5)).await;
    assert!(faults.saves.load(std::sync::atomic::Ordering::SeqCst) >= 3);

    assert_eq!(rig.recorder.count(&id, "opener"), 1, "sent once");
    let lead = rig.lead(&id).await.unwrap();
    assert_eq!(
        lead.sent.iter().filter(|s| s.step == "opener").count(),
        1,
        "recorded once: {:?}",
        lead.sent
    );
    let audit = rig.audit(&id).await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.kind == "sent" && a.step.as_deref() == Some("opener"))
            .count(),
        1,
        "one sent record in the funnel's audit trail"
    );
    // The follow-up planned by the lost write still has its timer: it goes out at +4 h, not when the sweeper
    // notices a lost timer.
    let next = lead.next.clone().expect("a follow-up planned");
    rig.advance_to(next.due + Duration::minutes(1)).await;
    let sends: Vec<_> = rig
        .recorder
        .all()
        .into_iter()
        .filter(|d| d.lead == id.as_str() && d.step == next.step)
        .collect();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].at, next.due);
}
