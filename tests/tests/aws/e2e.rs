//! End to end on the emulator: a signed Instagram webhook through the webhook handler, the opener through SQS
//! and the send handler to a Graph API mock, the follow-up through EventBridge Scheduler, exactly once.

use crate::handlers::{deliver_sample_dm, webhook};
use crate::helpers::{at, deploy, drain, graph_mock, sqs_event, IGSID};
use aws_lambda_events::sqs::SqsEvent;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::TouchRef;
use cadence_core::memory::VirtualClock;
use std::sync::Arc;
use std::time::Duration;
use wiremock::MockServer;

/// Bodies of the requests the mock received.
async fn sent(graph: &MockServer) -> Vec<serde_json::Value> {
    graph
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect()
}

fn fired(touch_json: &str, id: &str) -> SqsEvent {
    serde_json::from_value(serde_json::json!({ "Records": [{
        "messageId": id, "receiptHandle": "rh", "body": touch_json, "eventSource": "aws:sqs"
    }]}))
    .expect("SQS event")
}

#[tokio::test]
async fn a_webhook_becomes_an_opener_then_a_scheduled_follow_up_each_sent_exactly_once() {
    let graph = graph_mock().await;
    let d = deploy(Some(graph.uri())).await;
    let clock = Arc::new(VirtualClock::new(at(1)));
    let w = webhook(&d, clock.clone()).await;
    let lead_id = LeadId::derive("acme", Channel::Instagram, IGSID);

    // 1. Meta delivers the signed DM.
    deliver_sample_dm(&w).await;
    let lead = w
        .services
        .store
        .load(&lead_id)
        .await
        .expect("load")
        .expect("lead stored");
    assert_eq!(lead.value.tz.name(), "Europe/Paris", "the account's zone");

    // 2. The opener is on the queue; the send handler delivers it to the Graph API.
    let msgs = drain(&d.sdk, &d.cfg.queue_url, 1, Duration::from_secs(30)).await;
    assert_eq!(msgs.len(), 1);
    let opener = cadence_aws::parse_touch_ref(msgs[0].body().unwrap_or_default()).expect("touch");
    assert_eq!(opener.lead_id, lead_id);
    let r = cadence_send::handle_batch(&w.services, sqs_event(&msgs)).await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    let bodies = sent(&graph).await;
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["recipient"]["id"], IGSID);
    assert!(
        bodies[0]["message"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{}",
        bodies[0]
    );

    // 3. The follow-up is a one-off schedule in the group, in the lead's zone, carrying the touch reference.
    let lead = w
        .services
        .store
        .load(&lead_id)
        .await
        .expect("load")
        .expect("lead");
    let next = lead.value.next.clone().expect("a follow-up is planned");
    assert!(
        next.due > at(1) + cadence_core::chrono::Duration::minutes(15),
        "far enough for a schedule"
    );
    let scheduler = aws_sdk_scheduler::Client::new(&d.sdk);
    let group = &d.cfg.schedule.group;
    let listed = scheduler
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .expect("list");
    let names: Vec<&str> = listed.schedules().iter().filter_map(|s| s.name()).collect();
    let expected = TouchRef::new(lead_id.clone(), next.plan, next.step.clone());
    assert_eq!(names, vec![expected.schedule_name().as_str()]);
    let s = scheduler
        .get_schedule()
        .name(names[0])
        .group_name(group)
        .send()
        .await
        .expect("get");
    assert_eq!(s.schedule_expression_timezone(), Some("Europe/Paris"));
    let input = s
        .target()
        .and_then(|t| t.input())
        .expect("input")
        .to_string();
    assert_eq!(
        cadence_aws::parse_touch_ref(&input).expect("touch"),
        expected
    );

    // 4. The emulator never fires schedules: fire it ourselves at its time, twice (at-least-once delivery).
    clock.set(next.due + cadence_core::chrono::Duration::seconds(1));
    for id in ["fire-1", "fire-2"] {
        let r = cadence_send::handle_batch(&w.services, fired(&input, id)).await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
    }
    let bodies = sent(&graph).await;
    assert_eq!(bodies.len(), 2, "the follow-up went out once: {bodies:?}");
    assert_eq!(bodies[1]["recipient"]["id"], IGSID);
    let lead = w
        .services
        .store
        .load(&lead_id)
        .await
        .expect("load")
        .expect("lead");
    assert!(
        lead.value.sent.iter().any(|t| t.step == next.step),
        "recorded as sent"
    );
}

#[tokio::test]
async fn the_same_webhook_delivered_twice_makes_one_lead_and_one_opener() {
    let graph = graph_mock().await;
    let d = deploy(Some(graph.uri())).await;
    let w = webhook(&d, Arc::new(VirtualClock::new(at(1)))).await;
    for _ in 0..2 {
        deliver_sample_dm(&w).await;
    }
    assert_eq!(
        w.services.store.list().await.expect("list"),
        vec![LeadId::derive("acme", Channel::Instagram, IGSID)]
    );
    let msgs = drain(&d.sdk, &d.cfg.queue_url, 2, Duration::from_secs(3)).await;
    assert_eq!(msgs.len(), 1, "one opener enqueued");
    let r = cadence_send::handle_batch(&w.services, sqs_event(&msgs)).await;
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(sent(&graph).await.len(), 1);
}
