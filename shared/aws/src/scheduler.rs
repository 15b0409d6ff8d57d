//! [`EventBridgeTouchScheduler`]: the [`TouchScheduler`] port on EventBridge Scheduler (DESIGN §7).
//!
//! One one-off schedule per touch, named by [`TouchRef::schedule_name`] (deterministic, so creating it twice
//! is harmless), in the deployment's schedule group:
//! - `ScheduleExpression = at(yyyy-mm-ddThh:mm:ss)` in the lead's zone and `ScheduleExpressionTimezone` = that
//!   zone, so the console shows the lead's local time (see [`at_expression`] for DST edge cases);
//! - `FlexibleTimeWindow: OFF` (a follow-up at +4 h means +4 h), `ActionAfterCompletion: DELETE` (no
//!   clean-up job; a fired schedule disappears and a later cancel finds nothing, which is success);
//! - the target is the touches queue with the touch reference as `Input`, a retry policy and a DLQ.
//!
//! Retry policy: 185 attempts over at most 24 h (the service maximums). The target is our own queue, so a
//! failed delivery means SQS was unavailable or throttled, or the role/policy is broken; retrying for a day
//! costs nothing, since the send worker drops touches that are no longer current and the sweeper repairs a
//! lost timer 30 minutes after its due time anyway. What still fails lands in the DLQ, which is alarmed.

use crate::queue::touch_ref_body;
use crate::sdk::{classify, Failure};
use async_trait::async_trait;
use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;
use aws_sdk_scheduler::operation::delete_schedule::DeleteScheduleError;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, Target,
};
use aws_sdk_scheduler::Client;
use cadence_core::chrono::{DateTime, Duration, LocalResult, TimeZone, Timelike, Utc};
use cadence_core::chrono_tz::Tz;
use cadence_core::lead::TouchRef;
use cadence_core::ports::{Clock, ScheduleError, TouchScheduler};
use std::fmt;
use std::sync::Arc;

/// EventBridge Scheduler's maximum retry attempts for a target.
pub const RETRY_ATTEMPTS: i32 = 185;
/// EventBridge Scheduler's maximum event age for retries (24 h).
pub const RETRY_MAX_AGE_SECONDS: i32 = 86_400;
/// Longest schedule name EventBridge Scheduler accepts.
const MAX_NAME_LEN: usize = 64;

/// Where schedules fire to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTarget {
    /// Schedule group (one per deployment; must exist).
    pub group: String,
    /// ARN of the touches queue.
    pub queue_arn: String,
    /// Role EventBridge Scheduler assumes to send to the queue.
    pub role_arn: String,
    /// Dead-letter queue for deliveries that failed every retry.
    pub dlq_arn: String,
}

/// The `at()` expression and the zone to show it in, for a touch due at `due` (UTC) for a lead in `tz`.
///
/// - The time is rounded **up** to the whole second (the expression has no fractions; a touch never fires
///   early, which matters for the 4-hour spacing rule).
/// - Local times that do not exist (spring forward) or exist twice (fall back) cannot say which instant is
///   meant, so those use UTC: `(at(..), "UTC")`.
/// - A due time that is not in the future is [`ScheduleError::Invalid`]: AWS rejects it (the emulator does not,
///   hence this check). Touches due within 15 minutes go to the queue instead and never reach this.
pub fn at_expression(
    due: DateTime<Utc>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(String, String), ScheduleError> {
    let due = if due.nanosecond() == 0 {
        due
    } else {
        due.with_nanosecond(0).unwrap_or(due) + Duration::seconds(1)
    };
    if due <= now {
        return Err(ScheduleError::Invalid(format!(
            "due {} is not in the future",
            due.to_rfc3339()
        )));
    }
    let local = due.with_timezone(&tz).naive_local();
    let fmt =
        |t: cadence_core::chrono::NaiveDateTime| format!("at({})", t.format("%Y-%m-%dT%H:%M:%S"));
    match tz.from_local_datetime(&local) {
        LocalResult::Single(_) => Ok((fmt(local), tz.name().to_string())),
        _ => Ok((fmt(due.naive_utc()), "UTC".to_string())),
    }
}

/// One-off timers on EventBridge Scheduler, firing touch references into the touches queue.
#[derive(Clone)]
pub struct EventBridgeTouchScheduler {
    client: Client,
    target: ScheduleTarget,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for EventBridgeTouchScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBridgeTouchScheduler")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// One pending schedule as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    pub name: String,
    /// `at(2026-03-02T09:00:00)`.
    pub expression: String,
    /// `ScheduleExpressionTimezone` (the lead's zone).
    pub zone: String,
}

impl EventBridgeTouchScheduler {
    pub fn new(client: Client, target: ScheduleTarget, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            target,
            clock,
        }
    }

    /// The pending schedules of one lead in the group (operators: `cadence-ops schedules ID`): name,
    /// expression and zone, read with ListSchedules (name prefix = the lead id) and GetSchedule.
    pub async fn list_for_lead(
        &self,
        lead: &cadence_core::ids::LeadId,
    ) -> Result<Vec<ScheduleInfo>, ScheduleError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_schedules()
                .group_name(&self.target.group)
                .name_prefix(lead.as_str())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| schedule_error("ListSchedules", &e))?;
            for s in page.schedules() {
                let Some(name) = s.name() else { continue };
                let got = self
                    .client
                    .get_schedule()
                    .group_name(&self.target.group)
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| schedule_error("GetSchedule", &e))?;
                out.push(ScheduleInfo {
                    name: name.to_string(),
                    expression: got.schedule_expression().unwrap_or_default().to_string(),
                    zone: got
                        .schedule_expression_timezone()
                        .unwrap_or("UTC")
                        .to_string(),
                });
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    fn name(touch: &TouchRef) -> Result<String, ScheduleError> {
        let name = touch.schedule_name();
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(ScheduleError::Invalid(format!(
                "schedule name of {} characters",
                name.len()
            )));
        }
        Ok(name)
    }
}

fn schedule_error<E, R>(op: &str, e: &aws_sdk_scheduler::error::SdkError<E, R>) -> ScheduleError
where
    E: aws_sdk_scheduler::error::ProvideErrorMetadata,
{
    match classify(op, e) {
        (Failure::Throttled, _) => ScheduleError::Throttled,
        (_, what) => ScheduleError::Unexpected(what),
    }
}

#[async_trait]
impl TouchScheduler for EventBridgeTouchScheduler {
    async fn schedule(
        &self,
        touch: &TouchRef,
        due: DateTime<Utc>,
        tz: Tz,
    ) -> Result<(), ScheduleError> {
        let name = Self::name(touch)?;
        let (expression, zone) = at_expression(due, tz, self.clock.now())?;
        let input = touch_ref_body(touch).map_err(|e| ScheduleError::Invalid(e.to_string()))?;
        let invalid =
            |e: aws_sdk_scheduler::error::BuildError| ScheduleError::Invalid(e.to_string());
        let target = Target::builder()
            .arn(&self.target.queue_arn)
            .role_arn(&self.target.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(RETRY_ATTEMPTS)
                    .maximum_event_age_in_seconds(RETRY_MAX_AGE_SECONDS)
                    .build(),
            )
            .dead_letter_config(
                DeadLetterConfig::builder()
                    .arn(&self.target.dlq_arn)
                    .build(),
            )
            .build()
            .map_err(invalid)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(invalid)?;
        let r = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.target.group)
            .schedule_expression(expression)
            .schedule_expression_timezone(zone)
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target)
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // Same name = same touch: an earlier attempt (or a redelivered webhook) created it already.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateScheduleError::ConflictException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(schedule_error("CreateSchedule", &e)),
        }
    }

    async fn cancel(&self, touch: &TouchRef) -> Result<(), ScheduleError> {
        let name = Self::name(touch)?;
        let r = self
            .client
            .delete_schedule()
            .name(&name)
            .group_name(&self.target.group)
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            // Fired (and deleted by ActionAfterCompletion) or never created: nothing left to cancel.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteScheduleError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(schedule_error("DeleteSchedule", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadence_core::chrono_tz::{America, Europe};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn the_expression_is_in_the_leads_local_time_with_its_zone() {
        let now = utc("2026-06-09T10:00:00Z");
        let (e, z) = at_expression(utc("2026-06-09T14:00:00Z"), Europe::Paris, now).expect("valid");
        assert_eq!(e, "at(2026-06-09T16:00:00)");
        assert_eq!(z, "Europe/Paris");
        let (e, z) =
            at_expression(utc("2027-01-15T03:30:00Z"), America::New_York, now).expect("valid");
        assert_eq!(
            (e.as_str(), z.as_str()),
            ("at(2027-01-14T22:30:00)", "America/New_York")
        );
    }

    #[test]
    fn fractional_seconds_round_up_so_a_touch_never_fires_early() {
        let now = utc("2026-06-09T10:00:00Z");
        let due = utc("2026-06-09T14:00:00.250Z");
        let (e, _) = at_expression(due, Tz::UTC, now).expect("valid");
        assert_eq!(e, "at(2026-06-09T14:00:01)");
    }

    #[test]
    fn past_or_present_due_times_are_rejected() {
        let now = utc("2026-06-09T10:00:00Z");
        assert!(matches!(
            at_expression(now, Tz::UTC, now),
            Err(ScheduleError::Invalid(_))
        ));
        assert!(matches!(
            at_expression(utc("2026-06-09T09:00:00Z"), Europe::Paris, now),
            Err(ScheduleError::Invalid(_))
        ));
    }

    #[test]
    fn ambiguous_local_times_fall_back_to_utc() {
        let now = utc("2026-10-01T00:00:00Z");
        // Paris falls back on 2026-10-25 at 03:00 CEST → 02:00 CET: 02:30 local happens twice.
        let (e, z) = at_expression(utc("2026-10-25T00:30:00Z"), Europe::Paris, now).expect("valid");
        assert_eq!((e.as_str(), z.as_str()), ("at(2026-10-25T00:30:00)", "UTC"));
        // An hour later the local time is unique again.
        let (e, z) = at_expression(utc("2026-10-25T02:30:00Z"), Europe::Paris, now).expect("valid");
        assert_eq!(
            (e.as_str(), z.as_str()),
            ("at(2026-10-25T03:30:00)", "Europe/Paris")
        );
    }

    #[test]
    fn schedule_names_fit_the_service_limit() {
        let id =
            cadence_core::ids::LeadId::derive("acme", cadence_core::ids::Channel::Instagram, "1");
        let t = TouchRef::new(id, u32::MAX, "a_very_long_step_name_that_goes_on_and_on");
        let name = EventBridgeTouchScheduler::name(&t).expect("fits");
        assert!(name.len() <= MAX_NAME_LEN);
    }
}
