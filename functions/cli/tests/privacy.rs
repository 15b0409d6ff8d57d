//! Privacy: logs never carry message text, names, phone numbers, emails, tokens or the app secret; Meta's
//! data-deletion callback removes everything about a person; an opt-out wins over a touch already in flight.

mod support;

use cadence_cli::serve::{router, AppState};
use cadence_core::chrono::Duration;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{Status, TouchRef};
use cadence_core::ports::LeadStore;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use support::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const NAME: &str = "Zoë Secretname";
const EMAIL: &str = "zoe.secret@example.com";
const PHONE: &str = "447700900123";
const TEXT: &str = "my budget is tiny, call me on +44 7700 900123";

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A `signed_request` as Meta builds it.
fn signed_request(user_id: &str, secret: &[u8]) -> String {
    let payload = b64url(
        serde_json::json!({ "algorithm": "HMAC-SHA256", "expires": 1_781_020_000, "issued_at": 1_781_013_600, "user_id": user_id })
            .to_string()
            .as_bytes(),
    );
    let hex = &cadence_meta::sign(secret, payload.as_bytes())[7..];
    let raw: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    format!("{}.{payload}", b64url(&raw))
}

#[tokio::test]
async fn logs_carry_no_text_names_phone_numbers_emails_tokens_or_secrets() {
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .json()
        .with_writer(move || writer.clone())
        .finish();
    // Global, not per thread: tracing caches per-callsite interest across threads, so a thread-local
    // subscriber can miss events whose callsites another test thread registered first. The other tests in
    // this binary log into the same buffer, and are held to the same rule.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber here");

    let mut rig = Rig::new();
    let wa = Persona {
        channel: Channel::Whatsapp,
        user: PHONE.into(),
        name: NAME.into(),
    };
    let ig = Persona {
        channel: Channel::Instagram,
        user: "6871000000000001".into(),
        name: NAME.into(),
    };
    let script = [
        (0, &wa, say("hi, I'd like info")),
        (1, &ig, say(TEXT)),
        (3, &wa, say(TEXT)),
        (5, &wa, say(&format!("my email is {EMAIL}"))),
        (8, &ig, say("too expensive for me")),
        (60 * 30, &wa, say("STOP")),
    ];
    for (n, (min, p, a)) in script.iter().enumerate() {
        let at = start() + Duration::minutes(*min);
        rig.advance_to(at).await;
        rig.deliver(&json(p, a, at, n)).await;
    }
    // A forged delivery and a data-deletion request go through the logs too.
    let forged = json(&ig, &say(TEXT), rig.now(), 99);
    let (s, _) = cadence_meta::handle_post(&rig.services, SECRET, Some("sha256=00"), &forged).await;
    assert_eq!(s, 401);
    let form = format!("signed_request={}", signed_request(PHONE, SECRET));
    let a =
        cadence_meta::handle_deletion_request(&rig.services, SECRET, form.as_bytes(), "https://x")
            .await;
    assert_eq!(a.status, 200);
    rig.advance_to(start() + Duration::days(40)).await;

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("inbound applied"),
        "logs were captured: {}",
        &logs[..logs.len().min(2000)]
    );
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    for needle in [
        "Zoë",
        "Secretname",
        "Secretn",
        EMAIL,
        "zoe.secret",
        PHONE,
        "7700 900123",
        "7700900123",
        "budget",
        "too expensive",
        "I'd like",
        secret.as_str(),
        "test-token",
        "signed_request=",
    ] {
        assert!(!logs.contains(needle), "logs contain {needle:?}");
    }
}

async fn spawn_serve(rig: &Rig) -> String {
    let state = AppState {
        services: rig.services.clone(),
        app_secret: Arc::new(SECRET.to_vec()),
        verify_token: Arc::new("verify-me".into()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_data_deletion_callback_deletes_every_lead_of_the_person_and_answers_meta() {
    let mut rig = Rig::new();
    let user = "6871000000000001";
    // The same app-scoped id on Instagram and Messenger, and someone else.
    let ig = Persona {
        channel: Channel::Instagram,
        user: user.into(),
        name: NAME.into(),
    };
    let fb = Persona {
        channel: Channel::Messenger,
        user: user.into(),
        name: NAME.into(),
    };
    let other = persona(Channel::Instagram, 9);
    for (n, p) in [&ig, &fb, &other].into_iter().enumerate() {
        assert_eq!(rig.deliver(&json(p, &say("hello"), start(), n)).await, 200);
    }
    rig.advance_to(start() + Duration::minutes(5)).await;
    assert_eq!(rig.store.len(), 3);
    let base = spawn_serve(&rig).await;
    let http = reqwest::Client::new();

    // Forged: 401, nothing deleted.
    let forged = format!("signed_request={}", signed_request(user, b"other-secret"));
    let r = http
        .post(format!("{base}/data-deletion"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(rig.store.len(), 3);
    // Missing field: 400.
    let r = http
        .post(format!("{base}/data-deletion"))
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    let form = format!("signed_request={}", signed_request(user, SECRET));
    let r = http
        .post(format!("{base}/data-deletion"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let code = v["confirmation_code"].as_str().unwrap().to_string();
    assert!(
        code.len() >= 8 && code.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{code}"
    );
    let url = v["url"].as_str().unwrap();
    assert!(
        url.ends_with(&format!("/data-deletion/status?code={code}")),
        "{url}"
    );

    for p in [&ig, &fb] {
        let id = LeadId::derive("demo", p.channel, user);
        assert!(rig.store.load(&id).await.unwrap().is_none());
        assert!(rig.store.audit(&id).await.unwrap().is_empty());
    }
    assert!(
        rig.lead(&lead_id(&other)).await.is_some(),
        "others are kept"
    );
    assert!(rig.timeline.pending_timers().iter().all(|(name, ..)| !name
        .contains(&LeadId::derive("demo", Channel::Instagram, user).as_str()[3..])));

    // The status page, and the same answer for a repeated request.
    let page = http
        .get(format!("{base}/data-deletion/status?code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&code) && html.contains("completed"), "{html}");
    let again: serde_json::Value = http
        .post(format!("{base}/data-deletion"))
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["confirmation_code"], code.as_str());
    let bad = http
        .get(format!("{base}/data-deletion/status?code=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert!(!bad.text().await.unwrap().contains("<script>"));

    // Nothing is ever sent to the deleted person again, even if they had touches pending.
    let before = rig.recorder.total();
    rig.advance_to(start() + Duration::days(40)).await;
    let deleted = [
        LeadId::derive("demo", Channel::Instagram, user),
        LeadId::derive("demo", Channel::Messenger, user),
    ];
    assert!(rig.recorder.all()[before..]
        .iter()
        .all(|d| deleted.iter().all(|id| id.as_str() != d.lead)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_while_a_follow_up_is_in_flight_stops_everything_after_it() {
    let mut rig = Rig::new();
    let p = persona(Channel::Instagram, 3);
    let id = lead_id(&p);
    assert_eq!(rig.deliver(&json(&p, &say("hello"), start(), 0)).await, 200);
    rig.advance_to(start() + Duration::minutes(5)).await;
    let next = rig.lead(&id).await.unwrap().next.unwrap();
    rig.advance_to(next.due - Duration::seconds(1)).await;
    rig.clock.set(next.due);
    let touch = TouchRef::new(id.clone(), next.plan, next.step.clone());

    // The follow-up is claimed and its send is in flight…
    rig.recorder.hold.store(true, Ordering::SeqCst);
    let before = rig.recorder.started.load(Ordering::SeqCst);
    let services = rig.services.clone();
    let t = touch.clone();
    let worker = tokio::spawn(async move { services.handle_touch(&t).await });
    while rig.recorder.started.load(Ordering::SeqCst) == before {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    // …when STOP arrives.
    let stop = json(&p, &say("STOP"), rig.now(), 1);
    assert_eq!(rig.deliver(&stop).await, 200);
    assert_eq!(rig.lead(&id).await.unwrap().status, Status::OptedOut);
    rig.recorder.hold.store(false, Ordering::SeqCst);
    worker.await.unwrap().unwrap();

    rig.advance_to(start() + Duration::days(60)).await;
    let lead = rig.lead(&id).await.unwrap();
    assert_eq!(lead.status, Status::OptedOut);
    let after: Vec<String> = rig
        .recorder
        .all()
        .iter()
        .filter(|d| d.lead == id.as_str())
        .map(|d| d.step.clone())
        .collect();
    // The opener, the follow-up that was already on the wire, the one confirmation: nothing else.
    assert_eq!(
        after,
        vec![
            "opener".to_string(),
            touch.step.clone(),
            "opt_out".to_string()
        ]
    );
}
