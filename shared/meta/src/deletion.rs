//! Meta's Data Deletion Request Callback, shared by the webhook Lambda and `cadence serve`.
//!
//! Meta POSTs a form with one field, `signed_request`, when a person asks the app to delete their data. The
//! request is verified with the app secret ([`parse_signed_request`]), every lead of that person is deleted
//! ([`Services::delete_user`]), and the answer is the JSON Meta expects: a status URL and an alphanumeric
//! confirmation code. The code is an HMAC of the user id, so the same request always gets the same code and
//! the code reveals nothing about the person. Deletion is synchronous: a code is only ever issued once the
//! data is gone, which is what the status page says.

use crate::signature::parse_signed_request;
use crate::MetaError;
use cadence_core::service::Services;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The callback route (register `https://<host>/data-deletion` as the Data Deletion Request URL).
pub const DELETION_ROUTE: &str = "/data-deletion";
/// The human-readable status page the callback's `url` points to.
pub const DELETION_STATUS_ROUTE: &str = "/data-deletion/status";
/// Hex digits of the confirmation code.
const CODE_LEN: usize = 20;
/// Longest form body accepted (a `signed_request` is a few hundred bytes).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// An HTTP answer with its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    fn text(status: u16, body: &str) -> Self {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
        }
    }
}

/// The confirmation code for a user id: 20 lowercase hex digits of HMAC-SHA256(app secret, user id).
/// Deterministic, alphanumeric, and not reversible to the id.
pub fn confirmation_code(app_secret: &[u8], user_id: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    mac.update(b"cadence-data-deletion:");
    mac.update(user_id.as_bytes());
    let mut code = hex::encode(mac.finalize().into_bytes());
    code.truncate(CODE_LEN);
    code
}

/// One field of an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` a byte). The first
/// occurrence counts; `None` when absent or not UTF-8 after decoding.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k)? == name)
            .then(|| percent_decode(v))
            .flatten()
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Handles `POST /data-deletion`. `status_base` is the public origin (`https://host`) the status URL starts
/// with.
///
/// 413 for a body over 16 KB, 400 without a usable `signed_request`, 401 when it does not verify (nothing is
/// deleted), 500 when the store failed (Meta's tool shows the error; asking again is safe), else 200 with
/// `{"url": "<status_base>/data-deletion/status?code=<code>", "confirmation_code": "<code>"}`.
pub async fn handle_deletion_request(
    services: &Services,
    app_secret: &[u8],
    form_body: &[u8],
    status_base: &str,
) -> Answer {
    if form_body.len() > MAX_FORM_BYTES {
        return Answer::text(413, "too large");
    }
    let Some(signed) = form_field(form_body, "signed_request") else {
        return Answer::text(400, "missing signed_request");
    };
    let request = match parse_signed_request(&signed, app_secret) {
        Ok(r) => r,
        Err(MetaError::InvalidSignature) => {
            tracing::warn!("data-deletion signed_request rejected");
            return Answer::text(401, "invalid signature");
        }
        Err(_) => return Answer::text(400, "bad signed_request"),
    };
    let report = match services.delete_user(&request.user_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "data deletion failed");
            return Answer::text(500, "deletion failed, please retry");
        }
    };
    let code = confirmation_code(app_secret, &request.user_id);
    tracing::info!(
        code = %code,
        leads = report.deleted.len(),
        checked = report.checked,
        "data deletion done"
    );
    let body = serde_json::json!({
        "url": format!("{}{DELETION_STATUS_ROUTE}?code={code}", status_base.trim_end_matches('/')),
        "confirmation_code": code,
    });
    Answer {
        status: 200,
        content_type: "application/json",
        body: body.to_string(),
    }
}

/// Handles `GET /data-deletion/status?code=…`: a short HTML page. Codes are only issued after the deletion
/// finished, so a well-formed code reads as done; anything else is 400 (and never echoed back).
pub fn deletion_status(code: Option<&str>) -> Answer {
    let valid = code
        .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric()));
    let Some(code) = valid else {
        return Answer {
            status: 400,
            content_type: "text/html; charset=utf-8",
            body: page(
                "Unknown request",
                "This link does not carry a valid confirmation code.",
            ),
        };
    };
    Answer {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: page(
            "Data deletion complete",
            &format!(
                "Deletion request <code>{code}</code>: completed. Every conversation record, scheduled message \
                 and audit entry this business kept about you in Cadence has been deleted. Nothing more will \
                 be sent to you by this automation."
            ),
        ),
    }
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_percent_decoded_and_the_first_one_counts() {
        let body = b"a=1&signed_request=abc%3D.de+f&signed_request=other";
        assert_eq!(form_field(body, "signed_request").unwrap(), "abc=.de f");
        assert_eq!(form_field(b"signed_request=%zz", "signed_request"), None);
        assert_eq!(form_field(b"x=1", "signed_request"), None);
        assert_eq!(form_field(&[0xff, 0xfe], "signed_request"), None);
    }

    #[test]
    fn confirmation_codes_are_deterministic_alphanumeric_and_differ_per_user() {
        let a = confirmation_code(b"s", "218471");
        assert_eq!(a, confirmation_code(b"s", "218471"));
        assert_ne!(a, confirmation_code(b"s", "218472"));
        assert_eq!(a.len(), CODE_LEN);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn the_status_page_never_echoes_an_invalid_code() {
        let bad = deletion_status(Some("<script>alert(1)</script>"));
        assert_eq!(bad.status, 400);
        assert!(!bad.body.contains("script"));
        assert_eq!(deletion_status(None).status, 400);
        let ok = deletion_status(Some("abc123"));
        assert_eq!(ok.status, 200);
        assert!(ok.body.contains("abc123") && ok.body.contains("completed"));
    }
}
