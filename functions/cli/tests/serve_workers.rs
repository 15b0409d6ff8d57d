//! The send workers of `cadence serve`: up to `SEND_CONCURRENCY` touches in flight at once, each sent once,
//! retryable failures put back on the queue with their backoff, and nothing lost when the queue closes.

mod support;

use async_trait::async_trait;
use cadence_cli::serve::{spawn_send_workers, SEND_CONCURRENCY};
use cadence_core::chrono::Duration;
use cadence_core::ids::Channel;
use cadence_core::lead::TouchRef;
use cadence_core::outbound::DmMessage;
use cadence_core::ports::{ChannelSender, SendFailure, SendReceipt};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use support::*;
use tokio::sync::mpsc;

/// `n` first contacts on Instagram; returns their openers, taken off the rig's queue (due now).
async fn openers(rig: &mut Rig, n: usize) -> Vec<TouchRef> {
    for i in 0..n {
        let p = persona(Channel::Instagram, i);
        assert_eq!(rig.deliver(&json(&p, &say("hello"), start(), i)).await, 200);
    }
    let mut touches = Vec::new();
    while let Some((_, t)) = rig.timeline.pop_due(rig.now()) {
        touches.push(t);
    }
    assert_eq!(touches.len(), n, "one opener per lead, due at once");
    touches
}

/// Yields until `done()` holds; a bounded number of turns, not a timer.
async fn until(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..2_000_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never reached: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_send_concurrency_touches_are_in_flight_and_each_is_sent_once() {
    let mut rig = Rig::new();
    let n = 2 * SEND_CONCURRENCY + 5;
    let touches = openers(&mut rig, n).await;
    rig.recorder.hold.store(true, Ordering::SeqCst);
    let (tx, rx) = mpsc::unbounded_channel();
    let workers = spawn_send_workers(
        rig.services.clone(),
        rx,
        rig.timeline.clone(),
        SEND_CONCURRENCY,
    );
    for t in &touches {
        tx.send(t.clone()).unwrap();
    }

    // Every send blocks inside the provider call: the workers fill up to the limit and no further.
    let rec = rig.recorder.clone();
    until(
        || rec.started.load(Ordering::SeqCst) >= SEND_CONCURRENCY,
        "the workers fill up",
    )
    .await;
    for _ in 0..10_000 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        rig.recorder.started.load(Ordering::SeqCst),
        SEND_CONCURRENCY,
        "no more than SEND_CONCURRENCY sends in flight"
    );
    assert_eq!(rig.recorder.total(), 0, "all of them still held");

    // Released and the queue closed: the task ends only after every taken touch is done.
    rig.recorder.hold.store(false, Ordering::SeqCst);
    drop(tx);
    workers.await.unwrap();
    assert_eq!(rig.recorder.total(), n);
    let per_touch = rig.recorder.per_touch();
    assert_eq!(per_touch.len(), n, "every opener went out");
    assert!(per_touch.values().all(|k| *k == 1), "{per_touch:?}");
    for t in &touches {
        let lead = rig.lead(&t.lead_id).await.unwrap();
        assert!(
            lead.sent.iter().any(|s| s.step == t.step),
            "{}: the opener is recorded as sent",
            t.lead_id
        );
        assert_ne!(
            lead.next.as_ref().map(|x| &x.step),
            Some(&t.step),
            "{}: the next touch is planned past the opener",
            t.lead_id
        );
    }
}

/// Throttles the first attempt of every touch, as Meta's rate limits (code 613) would, then lets it through.
struct ThrottleOnce {
    inner: Arc<Recorder>,
    seen: Mutex<HashSet<String>>,
}

#[async_trait]
impl ChannelSender for ThrottleOnce {
    async fn send_dm(&self, touch: &TouchRef, m: &DmMessage) -> Result<SendReceipt, SendFailure> {
        if self.seen.lock().unwrap().insert(touch.schedule_name()) {
            return Err(SendFailure::Retryable {
                reason: "meta 613".into(),
                retry_after: Some(std::time::Duration::from_secs(90)),
            });
        }
        self.inner.send_dm(touch, m).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_throttled_send_goes_back_on_the_queue_with_its_backoff_and_is_then_sent_once() {
    let mut rig = Rig::new();
    let n = 40;
    let touches = openers(&mut rig, n).await;
    let mut services = rig.services.clone();
    services.dm = Arc::new(ThrottleOnce {
        inner: rig.recorder.clone(),
        seen: Mutex::default(),
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let workers = spawn_send_workers(services, rx, rig.timeline.clone(), SEND_CONCURRENCY);
    for t in &touches {
        tx.send(t.clone()).unwrap();
    }
    drop(tx);
    workers.await.unwrap();

    // Nothing went out; every touch is back on the queue, not before the provider's retry-after.
    assert_eq!(rig.recorder.total(), 0);
    assert!(
        rig.timeline.pop_due(rig.now()).is_none(),
        "no retry at once"
    );
    let back = rig.timeline.next_at().expect("the retries are queued");
    assert!(
        back >= rig.now() + Duration::seconds(90),
        "backoff honoured: {back}"
    );

    // The queue redelivers them (the rig plays SQS with the unthrottled sender): each is sent exactly once.
    rig.advance_to(rig.now() + Duration::minutes(3)).await;
    let per_touch = rig.recorder.per_touch();
    assert_eq!(per_touch.len(), n, "{per_touch:?}");
    assert!(per_touch.values().all(|k| *k == 1), "{per_touch:?}");
    assert!(rig.dlq.is_empty(), "{:?}", rig.dlq);
}
