//! Is this request really from Meta? The POST signature, the GET subscription handshake, API Gateway's base64
//! bodies and the data-deletion callback's `signed_request`.
//!
//! Everything here works on the **raw** body bytes. Meta signs the escaped JSON it sends (`\/`, `\u00e4`), so
//! hashing a re-serialised body fails for exactly the messages that contain a slash or an accent.
//!
//! Header names are the caller's concern: HTTP header names are case-insensitive and API Gateway passes them
//! through as sent (REST API) or lowercased (HTTP API, Function URLs), so look up `X-Hub-Signature-256`
//! case-insensitively and pass its value here.

use crate::MetaError;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Meta's documented maximum webhook payload (WhatsApp: "Payload ≤ 3 MB"). Larger bodies are refused before
/// any parsing.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

const SIGNATURE_PREFIX: &str = "sha256=";
/// Hex digits in a SHA-256 HMAC.
const SIGNATURE_HEX_LEN: usize = 64;

/// `signed_request` parts are base64url; Meta's samples strip the padding and one gist reports a stray `=`,
/// so padding is accepted either way.
const BASE64URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn keyed(app_secret: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(app_secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (long ones are hashed first); the error exists for fixed-key MACs.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    }
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(app secret, raw body) in constant time.
///
/// Missing header, another algorithm (a legacy `sha1=` header is not enough), bad hex, wrong length or a
/// mismatch are all [`MetaError::InvalidSignature`]. Upper- and lowercase hex are both accepted. An empty app
/// secret never verifies: it would make signatures forgeable by anyone who guesses the misconfiguration.
pub fn verify_signature(
    app_secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), MetaError> {
    if app_secret.is_empty() {
        return Err(MetaError::InvalidSignature);
    }
    let value = header.ok_or(MetaError::InvalidSignature)?.trim();
    let hex_sig = value
        .get(..SIGNATURE_PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(SIGNATURE_PREFIX))
        .and_then(|_| value.get(SIGNATURE_PREFIX.len()..))
        .ok_or(MetaError::InvalidSignature)?;
    if hex_sig.len() != SIGNATURE_HEX_LEN {
        return Err(MetaError::InvalidSignature);
    }
    let expected = hex::decode(hex_sig).map_err(|_| MetaError::InvalidSignature)?;
    let mut mac = keyed(app_secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| MetaError::InvalidSignature)
}

/// The `X-Hub-Signature-256` value Meta would send for `body`: `sha256=<lowercase hex>`. For tests and tools
/// that replay signed bodies.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(app_secret);
    mac.update(body);
    format!(
        "{SIGNATURE_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Answers Meta's GET subscription handshake. `query` holds the decoded query parameters in order.
///
/// Returns `hub.challenge` verbatim (send it back as the body with status 200) when `hub.mode` is `subscribe`
/// and `hub.verify_token` equals `expected_token`; otherwise [`MetaError::Forbidden`] (answer 403). The token
/// comparison is constant time over SHA-256 digests, so neither content nor length leaks. An empty expected
/// token refuses everything: it means the verify token was never configured. If a parameter repeats, the first
/// occurrence counts.
pub fn verify_subscription(
    query: &[(String, String)],
    expected_token: &str,
) -> Result<String, MetaError> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if expected_token.is_empty() || param("hub.mode") != Some("subscribe") {
        return Err(MetaError::Forbidden);
    }
    let token = param("hub.verify_token").ok_or(MetaError::Forbidden)?;
    let same: bool = Sha256::digest(token.as_bytes())
        .ct_eq(&Sha256::digest(expected_token.as_bytes()))
        .into();
    if !same {
        return Err(MetaError::Forbidden);
    }
    param("hub.challenge")
        .map(str::to_owned)
        .ok_or(MetaError::Forbidden)
}

/// The raw body bytes of an API Gateway / Function URL event, decoded when `is_base64` (`isBase64Encoded`).
///
/// Bodies over [`MAX_BODY_BYTES`] (before or after decoding) are [`MetaError::TooLarge`]; invalid base64 is
/// [`MetaError::BadRequest`]. The signature must be checked on the bytes this returns.
pub fn decode_body(body: impl AsRef<[u8]>, is_base64: bool) -> Result<Vec<u8>, MetaError> {
    let body = body.as_ref();
    let too_large = |size| MetaError::TooLarge {
        size,
        limit: MAX_BODY_BYTES,
    };
    if !is_base64 {
        if body.len() > MAX_BODY_BYTES {
            return Err(too_large(body.len()));
        }
        return Ok(body.to_vec());
    }
    // Refuse before allocating: anything longer than the padded encoding of MAX_BODY_BYTES decodes to more.
    if body.len() > MAX_BODY_BYTES.div_ceil(3) * 4 {
        return Err(too_large(body.len() / 4 * 3));
    }
    let decoded = STANDARD
        .decode(body)
        .map_err(|_| MetaError::BadRequest("body is not valid base64".to_owned()))?;
    if decoded.len() > MAX_BODY_BYTES {
        return Err(too_large(decoded.len()));
    }
    Ok(decoded)
}

/// The verified content of a data-deletion callback's `signed_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// App-scoped user id of the person asking for deletion; map it to stored identities.
    pub user_id: String,
    /// Unix seconds when Meta issued the request.
    pub issued_at: i64,
    /// Unix seconds after which the request is stale, when given.
    pub expires: Option<i64>,
    /// Always `HMAC-SHA256` once verified.
    pub algorithm: String,
}

/// Verifies and decodes the `signed_request` form field of Meta's Data Deletion Request Callback.
///
/// The value is `<base64url signature>.<base64url JSON payload>`; the signature is HMAC-SHA256 (app secret)
/// over the payload **still encoded**, compared in constant time. Padding is accepted with or without `=`.
/// A wrong signature or an `algorithm` other than `HMAC-SHA256` is [`MetaError::InvalidSignature`]; a value
/// with no `.`, or a payload that is not the expected JSON, is [`MetaError::BadRequest`].
pub fn parse_signed_request(
    signed_request: &str,
    app_secret: &[u8],
) -> Result<SignedRequest, MetaError> {
    let bad = |what: &str| MetaError::BadRequest(format!("signed_request: {what}"));
    if app_secret.is_empty() {
        return Err(MetaError::InvalidSignature);
    }
    let (encoded_sig, payload) = signed_request
        .trim()
        .split_once('.')
        .ok_or_else(|| bad("no '.' separator"))?;
    if payload.is_empty() {
        return Err(bad("empty payload"));
    }
    let sig = BASE64URL_ANY_PADDING
        .decode(encoded_sig)
        .map_err(|_| MetaError::InvalidSignature)?;
    let mut mac = keyed(app_secret);
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| MetaError::InvalidSignature)?;

    let json = BASE64URL_ANY_PADDING
        .decode(payload)
        .map_err(|_| bad("payload is not base64url"))?;
    let data: Value = serde_json::from_slice(&json).map_err(|_| bad("payload is not JSON"))?;
    let algorithm = data
        .get("algorithm")
        .and_then(Value::as_str)
        .filter(|alg| alg.eq_ignore_ascii_case("HMAC-SHA256"))
        .ok_or(MetaError::InvalidSignature)?;
    let user_id = match data.get("user_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(id)) if id.is_u64() => id.to_string(),
        _ => return Err(bad("missing user_id")),
    };
    let issued_at = data
        .get("issued_at")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("missing issued_at"))?;
    Ok(SignedRequest {
        user_id,
        issued_at,
        expires: data.get("expires").and_then(Value::as_i64),
        algorithm: algorithm.to_uppercase(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &[u8] = b"cadence-demo-secret";

    // Exactly the escaping Meta uses: `\/` in URLs and `\u00e4` for non-ASCII.
    const ESCAPED_BODY: &[u8] = br#"{"object":"instagram","entry":[{"id":"17841400000000001","time":1780000000000,"messaging":[{"sender":{"id":"1"},"recipient":{"id":"17841400000000001"},"timestamp":1780000000000,"message":{"mid":"m1","text":"Gr\u00fc\u00dfe \u00e4 https:\/\/example.com\/a"}}]}]}"#;

    #[test]
    fn a_body_signed_by_meta_verifies_over_its_raw_bytes() {
        let header = sign(SECRET, ESCAPED_BODY);
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), 7 + 64);
        verify_signature(SECRET, Some(&header), ESCAPED_BODY).unwrap();
    }

    #[test]
    fn re_serialising_the_escaped_body_breaks_the_signature() {
        let header = sign(SECRET, ESCAPED_BODY);
        let reparsed: Value = serde_json::from_slice(ESCAPED_BODY).unwrap();
        let reserialised = serde_json::to_vec(&reparsed).unwrap();
        assert_ne!(
            reserialised, ESCAPED_BODY,
            "serde must have dropped the escapes"
        );
        assert_eq!(
            verify_signature(SECRET, Some(&header), &reserialised),
            Err(MetaError::InvalidSignature)
        );
    }

    #[test]
    fn uppercase_hex_and_surrounding_whitespace_are_accepted() {
        let header = sign(SECRET, ESCAPED_BODY);
        let upper = format!("  sha256={} ", header[7..].to_uppercase());
        verify_signature(SECRET, Some(&upper), ESCAPED_BODY).unwrap();
    }

    #[test]
    fn every_kind_of_bad_signature_is_rejected() {
        let good = sign(SECRET, ESCAPED_BODY);
        let hex_part = &good[7..];
        let mut flipped = hex_part.to_owned();
        flipped.replace_range(0..1, if &hex_part[..1] == "0" { "1" } else { "0" });
        let sha1 = "sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12".to_owned();
        let cases: Vec<(&str, Option<String>)> = vec![
            ("missing header", None),
            ("empty header", Some(String::new())),
            ("legacy sha1 only", Some(sha1)),
            ("no prefix", Some(hex_part.to_owned())),
            ("other prefix", Some(format!("sha512={hex_part}"))),
            ("bad hex", Some(format!("sha256={}", "zz".repeat(32)))),
            ("too short", Some(format!("sha256={}", &hex_part[..62]))),
            ("too long", Some(format!("sha256={hex_part}00"))),
            ("one digit flipped", Some(format!("sha256={flipped}"))),
            ("wrong secret", Some(sign(b"another-secret", ESCAPED_BODY))),
        ];
        for (case, header) in cases {
            assert_eq!(
                verify_signature(SECRET, header.as_deref(), ESCAPED_BODY),
                Err(MetaError::InvalidSignature),
                "{case}"
            );
        }
    }

    #[test]
    fn an_empty_app_secret_never_verifies() {
        let header = sign(b"", ESCAPED_BODY);
        assert_eq!(
            verify_signature(b"", Some(&header), ESCAPED_BODY),
            Err(MetaError::InvalidSignature)
        );
    }

    #[test]
    fn a_single_changed_body_byte_is_detected() {
        let header = sign(SECRET, ESCAPED_BODY);
        let mut body = ESCAPED_BODY.to_vec();
        body[10] ^= 1;
        assert!(verify_signature(SECRET, Some(&header), &body).is_err());
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_subscription_handshake_echoes_the_challenge_verbatim() {
        let q = query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1158201444"),
            ("hub.verify_token", "meatyhamhock"),
        ]);
        assert_eq!(
            verify_subscription(&q, "meatyhamhock").unwrap(),
            "1158201444"
        );
    }

    #[test]
    fn the_subscription_handshake_refuses_wrong_mode_token_or_missing_parts() {
        let cases = [
            vec![
                ("hub.mode", "unsubscribe"),
                ("hub.challenge", "1"),
                ("hub.verify_token", "t"),
            ],
            vec![
                ("hub.mode", "subscribe"),
                ("hub.challenge", "1"),
                ("hub.verify_token", "T"),
            ],
            vec![
                ("hub.mode", "subscribe"),
                ("hub.challenge", "1"),
                ("hub.verify_token", "tt"),
            ],
            vec![("hub.mode", "subscribe"), ("hub.challenge", "1")],
            vec![("hub.mode", "subscribe"), ("hub.verify_token", "t")],
            vec![],
        ];
        for case in cases {
            assert_eq!(
                verify_subscription(&query(&case), "t"),
                Err(MetaError::Forbidden),
                "{case:?}"
            );
        }
        let q = query(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1"),
            ("hub.verify_token", ""),
        ]);
        assert_eq!(verify_subscription(&q, ""), Err(MetaError::Forbidden));
    }

    #[test]
    fn base64_bodies_are_decoded_and_plain_bodies_pass_through() {
        let encoded = STANDARD.encode(ESCAPED_BODY);
        assert_eq!(decode_body(&encoded, true).unwrap(), ESCAPED_BODY);
        assert_eq!(decode_body(ESCAPED_BODY, false).unwrap(), ESCAPED_BODY);
        assert!(matches!(
            decode_body("not base64!!", true),
            Err(MetaError::BadRequest(_))
        ));
    }

    #[test]
    fn bodies_over_three_megabytes_are_refused_plain_or_encoded() {
        let at_limit = vec![b'a'; MAX_BODY_BYTES];
        assert_eq!(decode_body(&at_limit, false).unwrap().len(), MAX_BODY_BYTES);
        assert_eq!(
            decode_body(STANDARD.encode(&at_limit), true).unwrap().len(),
            MAX_BODY_BYTES
        );
        let over = vec![b'a'; MAX_BODY_BYTES + 1];
        assert!(matches!(
            decode_body(&over, false),
            Err(MetaError::TooLarge { size, .. }) if size == MAX_BODY_BYTES + 1
        ));
        assert!(matches!(
            decode_body(STANDARD.encode(&over), true),
            Err(MetaError::TooLarge { .. })
        ));
    }

    fn signed_request(secret: &[u8], payload_json: &str, pad: bool) -> String {
        let payload = URL_SAFE_NO_PAD.encode(payload_json);
        let mut mac = keyed(secret);
        mac.update(payload.as_bytes());
        let sig = mac.finalize().into_bytes();
        let mut encoded_sig = URL_SAFE_NO_PAD.encode(sig);
        if pad {
            encoded_sig.push('=');
        }
        format!("{encoded_sig}.{payload}")
    }

    const DELETION: &str = r#"{"algorithm":"HMAC-SHA256","expires":1291840400,"issued_at":1291836800,"user_id":"218471"}"#;

    #[test]
    fn a_signed_request_with_or_without_padding_yields_the_user() {
        for pad in [false, true] {
            let parsed =
                parse_signed_request(&signed_request(SECRET, DELETION, pad), SECRET).unwrap();
            assert_eq!(
                parsed,
                SignedRequest {
                    user_id: "218471".into(),
                    issued_at: 1291836800,
                    expires: Some(1291840400),
                    algorithm: "HMAC-SHA256".into(),
                }
            );
        }
    }

    #[test]
    fn a_signed_request_with_a_wrong_secret_or_tampered_payload_is_rejected() {
        let req = signed_request(b"other", DELETION, false);
        assert_eq!(
            parse_signed_request(&req, SECRET),
            Err(MetaError::InvalidSignature)
        );
        let good = signed_request(SECRET, DELETION, false);
        let (sig, _) = good.split_once('.').unwrap();
        let forged = format!(
            "{sig}.{}",
            URL_SAFE_NO_PAD.encode(DELETION.replace("218471", "999999"))
        );
        assert_eq!(
            parse_signed_request(&forged, SECRET),
            Err(MetaError::InvalidSignature)
        );
    }

    #[test]
    fn a_signed_request_must_use_hmac_sha256_and_be_well_formed() {
        let other_alg = DELETION.replace("HMAC-SHA256", "none");
        assert_eq!(
            parse_signed_request(&signed_request(SECRET, &other_alg, false), SECRET),
            Err(MetaError::InvalidSignature)
        );
        assert!(matches!(
            parse_signed_request("no-separator", SECRET),
            Err(MetaError::BadRequest(_))
        ));
        let no_user = r#"{"algorithm":"HMAC-SHA256","issued_at":1}"#;
        assert!(matches!(
            parse_signed_request(&signed_request(SECRET, no_user, false), SECRET),
            Err(MetaError::BadRequest(_))
        ));
    }
}
