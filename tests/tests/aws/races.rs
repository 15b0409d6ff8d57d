//! Concurrent duplicate deliveries against the emulator's DynamoDB: the conditional writes, not a
//! check-then-insert, make one webhook delivered many times at once one lead and one opener.

use crate::handlers::services;
use crate::helpers::{at, deploy, drain, APP_SECRET, IGSID, IG_ACCOUNT};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::memory::VirtualClock;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_webhook_delivered_20_times_with_10_in_flight_makes_one_lead_and_one_queued_opener(
) {
    let d = deploy(None).await;
    let s = services(&d, Arc::new(VirtualClock::new(at(1)))).await;
    let ms = at(0).timestamp_millis();
    let body = Arc::new(
        serde_json::to_vec(&serde_json::json!({ "object": "instagram", "entry": [{ "id": IG_ACCOUNT, "time": ms,
            "messaging": [{ "sender": { "id": IGSID }, "recipient": { "id": IG_ACCOUNT }, "timestamp": ms,
                "message": { "mid": "m.race.1", "text": "hi" } }] }] }))
        .expect("body"),
    );
    let sig = cadence_meta::sign(APP_SECRET.as_bytes(), &body);
    let gate = Arc::new(tokio::sync::Semaphore::new(10));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, body, sig, gate) = (s.clone(), body.clone(), sig.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await.expect("permit");
            cadence_meta::handle_post(&s, APP_SECRET.as_bytes(), Some(&sig), &body)
                .await
                .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 200);
    }
    let id = LeadId::derive("acme", Channel::Instagram, IGSID);
    let lead = s.store.load(&id).await.expect("load").expect("one lead");
    assert_eq!(s.store.list().await.expect("list"), vec![id]);
    let inbound = s
        .store
        .audit(&lead.value.id)
        .await
        .expect("audit")
        .iter()
        .filter(|a| a.kind == "inbound")
        .count();
    assert_eq!(inbound, 1);
    // One opener queued: duplicates find the event claimed and queue nothing.
    let msgs = drain(&d.sdk, &d.cfg.queue_url, 1, Duration::from_secs(3)).await;
    assert_eq!(msgs.len(), 1, "{msgs:?}");
}
