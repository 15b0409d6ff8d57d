//! Crash safety: a worker that dies between claiming a touch and recording its result never causes a second
//! send (the sweeper records `unknown_outcome` and the cadence moves on); a webhook whose store fails part-way
//! through a batch answers 500, and Meta's redelivery of the whole body ends exactly like an uninterrupted run.

mod support;

use async_trait::async_trait;
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::{AuditRecord, Lead, TouchRef, TouchState};
use cadence_core::memory::MemoryLeadStore;
use cadence_core::ports::{LeadStore, LeadWrite, StoreError, Versioned};
use cadence_core::service::{TouchOutcome, STALE_CLAIM};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;

/// A lead whose +4 h follow-up is due now.
async fn due_follow_up(rig: &mut Rig) -> TouchRef {
    let p = persona(Channel::Instagram, 1);
    assert_eq!(rig.deliver(&json(&p, &say("hello"), start(), 0)).await, 200);
    rig.advance_to(start() + Duration::minutes(5)).await;
    let next = rig.lead(&lead_id(&p)).await.unwrap().next.unwrap();
    rig.advance_to(next.due - Duration::seconds(1)).await;
    rig.clock.set(next.due);
    TouchRef::new(lead_id(&p), next.plan, next.step)
}

async fn dies_mid_send(panic: bool) {
    let mut rig = Rig::new();
    let touch = due_follow_up(&mut rig).await;
    let before = rig.recorder.total();
    if panic {
        rig.recorder.panic.store(true, Ordering::SeqCst);
    } else {
        rig.recorder.hang.store(true, Ordering::SeqCst);
    }
    let services = rig.services.clone();
    let t = touch.clone();
    let worker = tokio::spawn(async move { services.handle_touch(&t).await });
    while rig.recorder.started.load(Ordering::SeqCst) == before {
        tokio::task::yield_now().await;
    }
    // The worker dies (Lambda timeout, crash): its task never records a result.
    worker.abort();
    assert!(worker.await.is_err());
    rig.recorder.hang.store(false, Ordering::SeqCst);
    rig.recorder.panic.store(false, Ordering::SeqCst);
    let lead = rig.lead(&touch.lead_id).await.unwrap();
    assert!(matches!(
        lead.next.as_ref().unwrap().state,
        TouchState::Sending { .. }
    ));

    // SQS redelivers the message: the touch is claimed, so it is dropped, not sent again.
    assert_eq!(
        rig.services.handle_touch(&touch).await.unwrap(),
        TouchOutcome::Dropped
    );
    // The sweeper finds the stale claim after 15 minutes and records the unknown outcome.
    rig.advance_to(rig.now() + STALE_CLAIM + Duration::minutes(16))
        .await;
    let lead = rig.lead(&touch.lead_id).await.unwrap();
    let last = lead.sent.iter().rfind(|s| s.step == touch.step).unwrap();
    assert_eq!(last.path, "unknown_outcome");
    assert!(rig
        .audit(&touch.lead_id)
        .await
        .iter()
        .any(|a| a.detail == "stale_claim_unknown_outcome"));
    // The cadence moved on to the next touch, and the interrupted one never went out.
    let next = lead.next.as_ref().expect("the successor is planned");
    assert!(next.plan != touch.plan || next.step != touch.step);
    rig.advance_to(rig.now() + Duration::days(40)).await;
    let resent = rig
        .recorder
        .all()
        .iter()
        .filter(|d| d.plan == touch.plan && d.step == touch.step)
        .count();
    assert_eq!(resent, 0, "never sent twice (and not blindly once more)");
    assert!(rig.recorder.per_touch().values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_hangs_after_the_claim_is_repaired_as_unknown_outcome_and_never_resent() {
    dies_mid_send(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_panics_mid_send_is_repaired_as_unknown_outcome_and_never_resent() {
    dies_mid_send(true).await;
}

/// Fails the k-th write that carries an inbound claim (throttled, nothing written), once.
struct FailKth {
    inner: Arc<MemoryLeadStore>,
    k: usize,
    seen: AtomicUsize,
}

#[async_trait]
impl LeadStore for FailKth {
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError> {
        self.inner.load(id).await
    }
    async fn save(&self, w: LeadWrite<'_>) -> Result<u64, StoreError> {
        if w.inbound_claim.is_some() && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.k {
            return Err(StoreError::Throttled);
        }
        self.inner.save(w).await
    }
    async fn claim_inbound(&self, key: &str) -> Result<(), StoreError> {
        self.inner.claim_inbound(key).await
    }
    async fn due_for_sweep(&self, u: DateTime<Utc>, l: usize) -> Result<Vec<LeadId>, StoreError> {
        self.inner.due_for_sweep(u, l).await
    }
    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(id).await
    }
    async fn list(&self) -> Result<Vec<LeadId>, StoreError> {
        self.inner.list().await
    }
    async fn delete(&self, id: &LeadId) -> Result<(), StoreError> {
        self.inner.delete(id).await
    }
}

/// The recording sender numbers message ids in send order, which differs between the runs.
fn without_provider_ids(mut leads: Vec<Lead>) -> Vec<Lead> {
    for l in &mut leads {
        for s in &mut l.sent {
            s.provider_ids.clear();
        }
    }
    leads
}

/// Three people, two messages each, in one body (the second person's first message fails when k = 3).
fn batch() -> Vec<u8> {
    let mut items = Vec::new();
    for n in 0..3 {
        let p = persona(Channel::Instagram, n);
        for (i, text) in ["hi, info please", "yes"].iter().enumerate() {
            let at = start() + Duration::seconds(10 * i as i64 + n as i64);
            let b = body(&p, &say(text), at, n * 10 + i);
            items.push(b["entry"][0]["messaging"][0].clone());
        }
    }
    serde_json::to_vec(&serde_json::json!({ "object": "instagram",
        "entry": [{ "id": "17841400000000001", "time": 0, "messaging": items }] }))
    .unwrap()
}

#[tokio::test]
async fn a_webhook_interrupted_mid_batch_answers_500_and_the_redelivery_ends_like_an_uninterrupted_run(
) {
    let body = batch();
    let mut reference = Rig::new();
    assert_eq!(reference.deliver(&body).await, 200);
    reference.advance_to(start() + Duration::days(2)).await;
    let want_leads = without_provider_ids(reference.store.snapshot());
    let want_sends = reference.recorder.per_touch();
    assert_eq!(want_leads.len(), 3);

    for k in 1..=6 {
        let mut rig = Rig::new();
        let failing = Arc::new(FailKth {
            inner: rig.store.clone(),
            k,
            seen: AtomicUsize::new(0),
        });
        rig.services.store = failing;
        let (status, _) =
            cadence_meta::handle_post(&rig.services, SECRET, Some(&sig(&body)), &body).await;
        assert_eq!(status, 500, "k = {k}");
        // Meta redelivers the whole body.
        let (status, _) =
            cadence_meta::handle_post(&rig.services, SECRET, Some(&sig(&body)), &body).await;
        assert_eq!(status, 200, "k = {k}");
        rig.advance_to(start() + Duration::days(2)).await;
        assert_eq!(
            without_provider_ids(rig.store.snapshot()),
            want_leads,
            "k = {k}"
        );
        assert_eq!(rig.recorder.per_touch(), want_sends, "k = {k}");
    }
}
