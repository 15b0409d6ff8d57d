//! Error classification shared by the adapters. Every AWS SDK error ends up as one of a few kinds the ports
//! care about; descriptions carry the error code or failure kind only, never the service's message (SES, for
//! one, echoes addresses in its messages).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Error codes AWS services use for "slow down": safe to retry later.
const THROTTLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "ServiceQuotaExceededException",
];

/// Whether an error code means throttling.
pub(crate) fn is_throttle_code(code: &str) -> bool {
    THROTTLE_CODES.contains(&code)
}

/// How an SDK call failed, as far as retry decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The service said "slow down".
    Throttled,
    /// No response, and the request may or may not have reached the service (timeout, broken response).
    Ambiguous,
    /// The request did not get out (connection refused, DNS): nothing happened on the other side.
    NotSent,
    /// The service answered with an error (see the code), or the request could not be built.
    Rejected,
}

/// Classifies an SDK error and returns a short description without personal data: the operation, the
/// error code or the failure kind.
pub(crate) fn classify<E, R>(op: &str, e: &SdkError<E, R>) -> (Failure, String)
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(_) => {
            let code = e.code().unwrap_or("unknown");
            let kind = if is_throttle_code(code) {
                Failure::Throttled
            } else {
                Failure::Rejected
            };
            (kind, format!("{op}: {code}"))
        }
        SdkError::ConstructionFailure(_) => (
            Failure::Rejected,
            format!("{op}: request construction failed"),
        ),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            (Failure::Ambiguous, format!("{op}: dispatch timeout"))
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            (Failure::NotSent, format!("{op}: connection failure"))
        }
        SdkError::DispatchFailure(_) => (Failure::Ambiguous, format!("{op}: dispatch failure")),
        SdkError::TimeoutError(_) => (Failure::Ambiguous, format!("{op}: timeout")),
        SdkError::ResponseError(_) => (Failure::Ambiguous, format!("{op}: unreadable response")),
        _ => (Failure::Ambiguous, format!("{op}: unclassified SDK error")),
    }
}
