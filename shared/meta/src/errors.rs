//! Meta's send errors → what the engine does next ([`SendFailure`]).
//!
//! Meta reports failures as `{"error":{"code","error_subcode","message","error_data":{"details"}}}`. Decisions
//! are made on `code` (+ `error_subcode`) only, never on the message text, and reasons are short
//! (`meta 131047`, `meta 10/2534022`, `http 503`) so they can go into audit records and metrics without
//! carrying anything Meta echoed back about the person.

use cadence_core::ports::SendFailure;
use serde_json::Value;
use std::time::Duration;

/// WhatsApp's pair rate limit is one message per 6 s to the same user.
const PAIR_LIMIT_RETRY_AFTER: Duration = Duration::from_secs(6);

/// How Meta classes a code, before it becomes a [`SendFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Retryable,
    WindowClosed,
    Unreachable,
    OptedOut,
    Auth,
    Permanent,
}

/// Codes Meta documents, with the subcode that matters when one does. `None` in the pattern means any subcode.
fn class_of(code: i64, subcode: Option<i64>) -> Option<Class> {
    use Class::*;
    Some(match (code, subcode) {
        // Too many tagged messages to one person: waiting does not help within the tag's rules.
        (613, Some(2018338)) => Permanent,
        // 1, 2: unknown / temporary service error; 4, 17, 32, 613: app, user, page and custom rate limits;
        // 80007: WABA rate limit; 130429: WhatsApp throughput; 131056: pair rate limit; 131000: unknown
        // (Meta says retry); 131016: service unavailable; 131057: maintenance or throughput upgrade.
        (1 | 2 | 4 | 17 | 32 | 613 | 80007 | 130429 | 131056 | 131000 | 131016 | 131057, _) => {
            Retryable
        }
        (131047, _) | (10, Some(2534022 | 2018278)) => WindowClosed,
        (551, _) | (200, Some(1545041)) | (131026, _) | (10, Some(2018108)) => Unreachable,
        (131050, _) => OptedOut,
        (190, _) => Auth,
        _ => return None,
    })
}

/// Classifies a non-2xx Send API answer from its HTTP status and body.
///
/// A documented Meta code decides first. Without one, HTTP 5xx and 429 are retryable, 401 is an auth failure,
/// and everything else is permanent. Only WhatsApp's pair limit (`131056`) carries a `retry_after` (6 s);
/// Meta sends no `Retry-After` otherwise.
pub fn classify(http_status: u16, body: &[u8]) -> SendFailure {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let code = error.as_ref().and_then(|e| e.get("code")).and_then(as_int);
    let subcode = error
        .as_ref()
        .and_then(|e| e.get("error_subcode"))
        .and_then(as_int);

    let reason = match (code, subcode) {
        (Some(code), Some(subcode)) => format!("meta {code}/{subcode}"),
        (Some(code), None) => format!("meta {code}"),
        (None, _) => format!("http {http_status}"),
    };
    let class = code
        .and_then(|code| class_of(code, subcode))
        .unwrap_or(match http_status {
            500..=599 | 429 => Class::Retryable,
            401 => Class::Auth,
            _ => Class::Permanent,
        });
    match class {
        Class::Retryable => SendFailure::Retryable {
            retry_after: (code == Some(131056)).then_some(PAIR_LIMIT_RETRY_AFTER),
            reason,
        },
        Class::WindowClosed => SendFailure::WindowClosed { reason },
        Class::Unreachable => SendFailure::Unreachable { reason },
        Class::OptedOut => SendFailure::OptedOut { reason },
        Class::Auth => SendFailure::Auth { reason },
        Class::Permanent => SendFailure::Permanent { reason },
    }
}

/// Codes are numbers, but tolerate numeric strings rather than lose the classification.
fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(code: i64, subcode: Option<i64>) -> Vec<u8> {
        let mut error = json!({"message": "(#131047) Re-engagement message for Sheena Nelson", "type": "OAuthException",
                                "code": code, "error_data": {"details": "more"}, "fbtrace_id": "A1"});
        if let Some(subcode) = subcode {
            error["error_subcode"] = json!(subcode);
        }
        serde_json::to_vec(&json!({ "error": error })).unwrap_or_default()
    }

    #[test]
    fn every_documented_code_lands_in_its_class() {
        use Class::*;
        let table: &[(i64, Option<i64>, Class)] = &[
            (1, None, Retryable),
            (2, None, Retryable),
            (4, None, Retryable),
            (17, None, Retryable),
            (32, None, Retryable),
            (613, None, Retryable),
            (613, Some(2534040), Retryable),
            (613, Some(2018338), Permanent),
            (80007, None, Retryable),
            (130429, None, Retryable),
            (131056, None, Retryable),
            (131000, None, Retryable),
            (131016, None, Retryable),
            (131057, None, Retryable),
            (131047, None, WindowClosed),
            (10, Some(2534022), WindowClosed),
            (10, Some(2018278), WindowClosed),
            (551, None, Unreachable),
            (551, Some(1545041), Unreachable),
            (200, Some(1545041), Unreachable),
            (131026, None, Unreachable),
            (10, Some(2018108), Unreachable),
            (131050, None, OptedOut),
            (190, None, Auth),
            (190, Some(463), Auth),
            (10, None, Permanent),
            (10, Some(1893063), Permanent),
            (200, Some(2018028), Permanent),
            (100, Some(2534025), Permanent),
            (131049, None, Permanent),
            (132001, None, Permanent),
        ];
        for &(code, subcode, expected) in table {
            let failure = classify(400, &body(code, subcode));
            let got = match failure {
                SendFailure::Retryable { .. } => Retryable,
                SendFailure::WindowClosed { .. } => WindowClosed,
                SendFailure::Unreachable { .. } => Unreachable,
                SendFailure::OptedOut { .. } => OptedOut,
                SendFailure::Auth { .. } => Auth,
                SendFailure::Permanent { .. } => Permanent,
                SendFailure::Unknown { .. } => panic!("classify never says unknown"),
            };
            assert_eq!(got, expected, "code {code} subcode {subcode:?}");
        }
    }

    #[test]
    fn reasons_name_the_code_and_never_the_message_text() {
        let failure = classify(400, &body(10, Some(2534022)));
        assert_eq!(
            failure,
            SendFailure::WindowClosed {
                reason: "meta 10/2534022".into()
            }
        );
        assert!(!failure.to_string().contains("Sheena"));
        assert_eq!(
            classify(400, &body(131047, None)),
            SendFailure::WindowClosed {
                reason: "meta 131047".into()
            }
        );
    }

    #[test]
    fn only_the_pair_limit_carries_a_retry_delay() {
        assert_eq!(
            classify(400, &body(131056, None)),
            SendFailure::Retryable {
                reason: "meta 131056".into(),
                retry_after: Some(Duration::from_secs(6))
            }
        );
        assert_eq!(
            classify(400, &body(130429, None)),
            SendFailure::Retryable {
                reason: "meta 130429".into(),
                retry_after: None
            }
        );
    }

    #[test]
    fn without_a_meta_code_the_http_status_decides() {
        assert!(classify(503, b"<html>Service Unavailable</html>").is_retryable());
        assert!(classify(502, b"").is_retryable());
        assert!(classify(429, b"").is_retryable());
        assert_eq!(
            classify(401, b""),
            SendFailure::Auth {
                reason: "http 401".into()
            }
        );
        assert_eq!(
            classify(400, b"{\"error\":{}}"),
            SendFailure::Permanent {
                reason: "http 400".into()
            }
        );
    }

    #[test]
    fn a_documented_code_wins_over_the_http_status_and_an_undocumented_one_does_not() {
        assert!(matches!(
            classify(500, &body(131047, None)),
            SendFailure::WindowClosed { .. }
        ));
        assert!(classify(500, &body(100, None)).is_retryable());
        assert!(matches!(
            classify(400, &body(100, None)),
            SendFailure::Permanent { .. }
        ));
    }

    #[test]
    fn string_codes_are_still_classified() {
        let body = br#"{"error":{"code":"190","error_subcode":"460"}}"#;
        assert_eq!(
            classify(400, body),
            SendFailure::Auth {
                reason: "meta 190/460".into()
            }
        );
    }
}
