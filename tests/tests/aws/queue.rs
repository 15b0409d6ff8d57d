//! `SqsTouchQueue` on the emulator.

use crate::helpers::{drain, queue, sdk};
use cadence_aws::{parse_touch_ref, SqsTouchQueue};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::TouchRef;
use cadence_core::ports::TouchQueue;
use std::time::Duration;

#[tokio::test]
async fn an_enqueued_touch_stays_invisible_for_its_delay_then_arrives_as_a_touch_reference() {
    let sdk = sdk().await;
    let (url, _) = queue(&sdk, "touches").await;
    let q = SqsTouchQueue::new(aws_sdk_sqs::Client::new(&sdk), &url);
    let later = TouchRef::new(
        LeadId::derive("acme", Channel::Instagram, "6001"),
        1,
        "qualify",
    );
    let now = TouchRef::new(
        LeadId::derive("acme", Channel::Instagram, "6002"),
        1,
        "opener",
    );
    q.enqueue(&later, Duration::from_secs(3))
        .await
        .expect("enqueue delayed");
    q.enqueue(&now, Duration::ZERO).await.expect("enqueue now");

    let first = drain(&sdk, &url, 1, Duration::from_secs(1)).await;
    let first: Vec<TouchRef> = first
        .iter()
        .map(|m| parse_touch_ref(m.body().unwrap_or_default()).expect("body"))
        .collect();
    assert_eq!(first, vec![now], "the delayed touch is not visible yet");

    let second = drain(&sdk, &url, 1, Duration::from_secs(15)).await;
    let second: Vec<TouchRef> = second
        .iter()
        .map(|m| parse_touch_ref(m.body().unwrap_or_default()).expect("body"))
        .collect();
    assert_eq!(second, vec![later]);
}
