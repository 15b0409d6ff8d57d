//! `EventBridgeTouchScheduler` on the emulator.

use crate::helpers::{at, queue, schedule_group, sdk};
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindowMode};
use cadence_aws::{parse_touch_ref, EventBridgeTouchScheduler, ScheduleTarget};
use cadence_core::chrono_tz::Europe;
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::TouchRef;
use cadence_core::memory::VirtualClock;
use cadence_core::ports::{ScheduleError, TouchScheduler};
use std::sync::Arc;

#[tokio::test]
async fn a_touch_schedule_fires_the_touch_into_the_queue_at_local_time_and_deletes_itself() {
    let sdk = sdk().await;
    let group = schedule_group(&sdk).await;
    let (_, queue_arn) = queue(&sdk, "touches").await;
    let (_, dlq_arn) = queue(&sdk, "touches-dlq").await;
    let target = ScheduleTarget {
        group: group.clone(),
        queue_arn: queue_arn.clone(),
        role_arn: "arn:aws:iam::123456789012:role/cadence-scheduler".into(),
        dlq_arn: dlq_arn.clone(),
    };
    let client = aws_sdk_scheduler::Client::new(&sdk);
    let scheduler =
        EventBridgeTouchScheduler::new(client.clone(), target, Arc::new(VirtualClock::new(at(0))));
    let touch = TouchRef::new(
        LeadId::derive("acme", Channel::Instagram, "5001"),
        2,
        "follow_up_1",
    );
    let due = at(4 * 3600); // 14:13:20 UTC = 16:13:20 in Paris (CEST)

    scheduler
        .schedule(&touch, due, Europe::Paris)
        .await
        .expect("create");
    scheduler
        .schedule(&touch, due, Europe::Paris)
        .await
        .expect("creating the same touch again is success");

    let s = client
        .get_schedule()
        .name(touch.schedule_name())
        .group_name(&group)
        .send()
        .await
        .expect("get");
    assert_eq!(s.schedule_expression(), Some("at(2026-06-09T16:13:20)"));
    assert_eq!(s.schedule_expression_timezone(), Some("Europe/Paris"));
    assert_eq!(
        s.action_after_completion(),
        Some(&ActionAfterCompletion::Delete)
    );
    assert_eq!(
        s.flexible_time_window().map(|w| w.mode()),
        Some(&FlexibleTimeWindowMode::Off)
    );
    let t = s.target().expect("target");
    assert_eq!(t.arn(), queue_arn);
    assert_eq!(
        t.role_arn(),
        "arn:aws:iam::123456789012:role/cadence-scheduler"
    );
    assert_eq!(
        parse_touch_ref(t.input().unwrap_or_default()).expect("input is a touch reference"),
        touch
    );
    assert_eq!(
        t.retry_policy().and_then(|r| r.maximum_retry_attempts()),
        Some(185)
    );
    assert_eq!(
        t.retry_policy()
            .and_then(|r| r.maximum_event_age_in_seconds()),
        Some(86_400)
    );
    assert_eq!(
        t.dead_letter_config().and_then(|d| d.arn()),
        Some(dlq_arn.as_str())
    );

    let listed = client
        .list_schedules()
        .group_name(&group)
        .send()
        .await
        .expect("list");
    assert_eq!(
        listed.schedules().len(),
        1,
        "the second create did not add a schedule"
    );

    scheduler.cancel(&touch).await.expect("delete");
    scheduler
        .cancel(&touch)
        .await
        .expect("deleting a missing schedule is success");
    assert!(client
        .get_schedule()
        .name(touch.schedule_name())
        .group_name(&group)
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_due_time_in_the_past_is_refused_before_calling_aws() {
    let sdk = sdk().await;
    let target = ScheduleTarget {
        group: "no-such-group".into(),
        queue_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        dlq_arn: "arn:aws:sqs:us-east-1:123456789012:dlq".into(),
    };
    let scheduler = EventBridgeTouchScheduler::new(
        aws_sdk_scheduler::Client::new(&sdk),
        target,
        Arc::new(VirtualClock::new(at(0))),
    );
    let touch = TouchRef::new(
        LeadId::derive("acme", Channel::Instagram, "5002"),
        1,
        "follow_up_1",
    );
    let r = scheduler.schedule(&touch, at(-60), Europe::Paris).await;
    assert!(matches!(r, Err(ScheduleError::Invalid(_))), "{r:?}");
}
