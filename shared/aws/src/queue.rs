//! [`SqsTouchQueue`]: the [`TouchQueue`] port on SQS, and the touch-reference body both the queue and the
//! scheduler put on the wire (`{"v":1,"lead_id":…,"plan":…,"step":…}`: enough to find the touch, nothing
//! personal).

use crate::sdk::{classify, Failure};
use crate::AwsError;
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use cadence_core::lead::TouchRef;
use cadence_core::ports::{ScheduleError, TouchQueue};
use std::fmt;
use std::time::Duration;

/// SQS's longest message delay.
pub const MAX_DELAY_SECONDS: u64 = 900;
/// The touch-reference payload version this build reads and writes.
pub const TOUCH_REF_VERSION: u8 = 1;

/// The JSON body for a touch reference.
pub fn touch_ref_body(touch: &TouchRef) -> Result<String, AwsError> {
    serde_json::to_string(touch).map_err(|e| AwsError::Mapping(format!("touch reference: {e}")))
}

/// Parses a queue message body (or schedule input) into a touch reference. An unknown payload version is an
/// error rather than a guess.
pub fn parse_touch_ref(body: &str) -> Result<TouchRef, AwsError> {
    let t: TouchRef = serde_json::from_str(body)
        .map_err(|e| AwsError::Mapping(format!("touch reference: {e}")))?;
    if cadence_core::ids::LeadId::parse(t.lead_id.as_str()).is_none() {
        return Err(AwsError::Mapping(
            "touch reference with a malformed lead id".into(),
        ));
    }
    if t.v != TOUCH_REF_VERSION {
        return Err(AwsError::Mapping(format!(
            "touch reference version {} is not {TOUCH_REF_VERSION}",
            t.v
        )));
    }
    Ok(t)
}

/// Whole seconds of delay for SQS: rounded up (a touch never becomes visible early) and capped at 15 minutes.
pub fn delay_seconds(delay: Duration) -> i32 {
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    // Capped at 900, so the conversion cannot fail.
    i32::try_from(secs.min(MAX_DELAY_SECONDS)).unwrap_or(0)
}

/// The touches queue on SQS.
#[derive(Clone)]
pub struct SqsTouchQueue {
    client: Client,
    queue_url: String,
}

impl fmt::Debug for SqsTouchQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsTouchQueue")
            .field("queue_url", &self.queue_url)
            .finish_non_exhaustive()
    }
}

impl SqsTouchQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl TouchQueue for SqsTouchQueue {
    async fn enqueue(&self, touch: &TouchRef, delay: Duration) -> Result<(), ScheduleError> {
        let body = touch_ref_body(touch).map_err(|e| ScheduleError::Invalid(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds(delay))
            .send()
            .await
            .map_err(|e| match classify("SendMessage", &e) {
                (Failure::Throttled, _) => ScheduleError::Throttled,
                (_, what) => ScheduleError::Unexpected(what),
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadence_core::ids::{Channel, LeadId};

    #[test]
    fn a_touch_reference_round_trips_through_its_body() {
        let t = TouchRef::new(
            LeadId::derive("acme", Channel::Instagram, "1"),
            2,
            "follow_up_1",
        );
        let body = touch_ref_body(&t).expect("serialises");
        assert_eq!(
            body,
            format!(
                r#"{{"v":1,"lead_id":"{}","plan":2,"step":"follow_up_1"}}"#,
                t.lead_id
            )
        );
        assert_eq!(parse_touch_ref(&body).expect("parses"), t);
    }

    #[test]
    fn unknown_versions_and_garbage_are_rejected() {
        let t = TouchRef::new(LeadId::derive("acme", Channel::Instagram, "1"), 2, "x");
        let body = touch_ref_body(&t)
            .expect("serialises")
            .replace(r#""v":1"#, r#""v":2"#);
        assert!(parse_touch_ref(&body).is_err());
        assert!(parse_touch_ref("not json").is_err());
        assert!(parse_touch_ref(r#"{"v":1}"#).is_err());
        assert!(parse_touch_ref(r#"{"v":1,"lead_id":"LEAD#x","plan":1,"step":"x"}"#).is_err());
    }

    #[test]
    fn delays_round_up_and_cap_at_fifteen_minutes() {
        assert_eq!(delay_seconds(Duration::ZERO), 0);
        assert_eq!(delay_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(delay_seconds(Duration::from_secs(900)), 900);
        assert_eq!(delay_seconds(Duration::from_secs(3600)), 900);
    }
}
