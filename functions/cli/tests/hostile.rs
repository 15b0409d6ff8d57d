//! Hostile input through the real POST path: a table of bodies and signature headers, each with the status
//! Meta must get and the effect it must have (leads created, sends made), run through
//! `cadence_meta::handle_post` on the production services with embedded adapters; a subset also goes
//! through `cadence serve`'s router over HTTP. The webhook Lambda's handler gets its own subset in
//! `tests/tests/webhook_lambda.rs`.
//!
//! Statuses: 401 for anything that is not a valid `X-Hub-Signature-256` over these exact bytes (nothing is
//! parsed), 413 over 3 MB (nothing is read), 200 for everything signed, however broken, so Meta stops
//! retrying; unreadable items are skipped and their valid neighbours still take effect.

mod support;

use cadence_cli::serve::{router, AppState};
use cadence_core::chrono::Duration;
use cadence_core::ids::Channel;
use cadence_meta::MAX_BODY_BYTES;
use serde_json::{json, Value};
use std::sync::Arc;
use support::*;

/// How the request is signed.
#[derive(Clone)]
enum Sig {
    /// `sha256=<hmac of the body>`, as Meta sends it.
    Good,
    None,
    Raw(String),
    /// A valid signature, but over other bytes.
    Over(Vec<u8>),
    /// Signed with another secret.
    WrongSecret,
    /// Only the legacy SHA-1 header's value.
    Sha1Style,
}

struct Case {
    name: &'static str,
    body: Vec<u8>,
    sig: Sig,
    status: u16,
    leads: usize,
    sends: usize,
    /// Deliveries of the same request (Meta's retries).
    times: usize,
}

fn case(
    name: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    leads: usize,
    sends: usize,
) -> Case {
    Case {
        name,
        body: body.into(),
        sig: Sig::Good,
        status,
        leads,
        sends,
        times: 1,
    }
}

fn signed(name: &'static str, sig: Sig, status: u16) -> Case {
    Case {
        sig,
        ..case(
            name,
            ig_body(&[ig_item("6871000000000001", "m1", json!("hi"))]),
            status,
            0,
            0,
        )
    }
}

impl Case {
    fn expect(mut self, leads: usize, sends: usize) -> Self {
        self.leads = leads;
        self.sends = sends;
        self
    }
    fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }
}

const IG: &str = "17841400000000001";
const MS: i64 = 1_781_013_600_000; // start() in milliseconds

fn ig_item(sender: &str, mid: &str, text: Value) -> Value {
    json!({ "sender": { "id": sender }, "recipient": { "id": IG }, "timestamp": MS,
            "message": { "mid": mid, "text": text } })
}

fn ig_body(items: &[Value]) -> Vec<u8> {
    serde_json::to_vec(
        &json!({ "object": "instagram", "entry": [{ "id": IG, "time": MS, "messaging": items }] }),
    )
    .unwrap()
}

fn wa_body(messages: Value, contacts: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398",
        "changes": [{ "field": "messages", "value": { "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
            "contacts": contacts, "messages": messages } }] }] }))
    .unwrap()
}

fn wa_text(from: &str, id: &str, text: &str) -> Value {
    json!({ "from": from, "id": id, "timestamp": (MS / 1000).to_string(), "type": "text", "text": { "body": text } })
}

fn with(mut v: Value, path: &[&str], x: Value) -> Vec<u8> {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = match p.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*p],
        };
    }
    cur[path[path.len() - 1]] = x;
    serde_json::to_vec(&v).unwrap()
}

fn ig_value() -> Value {
    serde_json::from_slice(&ig_body(&[ig_item("6871000000000001", "m1", json!("hi"))])).unwrap()
}

fn one_ig_with(path: &[&str], x: Value) -> Vec<u8> {
    let mut full = vec!["entry", "0", "messaging", "0"];
    full.extend_from_slice(path);
    with(ig_value(), &full, x)
}

fn hmac_sha1_style(body: &[u8]) -> String {
    // A legacy `sha1=` header carries 40 hex digits; we only accept sha256.
    format!("sha1={}", &cadence_meta::sign(SECRET, body)[7..47])
}

fn cases() -> Vec<Case> {
    let valid = ig_body(&[ig_item("6871000000000001", "m1", json!("hi there"))]);
    let many = |n: usize| {
        let items: Vec<Value> = (0..n)
            .map(|i| ig_item(&format!("69{i:014}"), &format!("m{i}"), json!("hello")))
            .collect();
        ig_body(&items)
    };
    let unknown_items = |n: usize| {
        let items: Vec<Value> = (0..n)
            .map(|i| {
                json!({ "sender": { "id": format!("70{i:014}") }, "recipient": { "id": IG },
                             "timestamp": MS, "hologram": { "id": i } })
            })
            .collect();
        ig_body(&items)
    };
    let mixed = ig_body(&[
        ig_item("6871000000000011", "m11", json!("one")),
        json!({ "sender": null, "message": 5 }),
        ig_item("6871000000000012", "m12", json!("two")),
        json!("not an object"),
        ig_item("6871000000000013", "m13", json!("three")),
    ]);
    let mut exactly_max = b"{\"object\":\"instagram\",\"entry\":[]}".to_vec();
    exactly_max.resize(MAX_BODY_BYTES, b' ');
    let mut over_max = valid.clone();
    over_max.resize(MAX_BODY_BYTES + 1, b' ');
    let deep_array = "[".repeat(100_000);
    let deep_object = "{\"a\":".repeat(100_000);
    let mut deep_in_message = "{\"x\":".repeat(20_000);
    deep_in_message.push('1');
    deep_in_message.push_str(&"}".repeat(20_000));
    let deep_valid = String::from_utf8(ig_body(&[ig_item("6871000000000001", "m1", json!("hi"))]))
        .unwrap()
        .replace("\"hi\"", &deep_in_message);
    let mut invalid_utf8 = valid.clone();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    let utf8_in_string = {
        let s = String::from_utf8(valid.clone()).unwrap();
        let mut b = s.replace("hi there", "hi XX").into_bytes();
        let i = b.windows(2).position(|w| w == b"XX").unwrap();
        b[i] = 0xc3;
        b[i + 1] = 0x28;
        b
    };
    let huge_text = "a".repeat(1_000_000);
    let script_name = wa_body(
        json!([wa_text("447700900123", "wamid.s1", "hi")]),
        json!([{ "profile": { "name": "<script>alert('x')</script>\u{202e}" }, "wa_id": "447700900123" }]),
    );

    vec![
        // --- valid baselines
        case("instagram dm", valid.clone(), 200, 1, 1),
        case("whatsapp text", wa_body(json!([wa_text("447700900001", "wamid.1", "hello")]), json!([{ "wa_id": "447700900001" }])), 200, 1, 1),
        case("messenger dm", serde_json::to_vec(&json!({ "object": "page", "entry": [{ "id": "102030405060708", "time": MS, "messaging": [{ "sender": { "id": "7100000000000003" }, "recipient": { "id": "102030405060708" }, "timestamp": MS, "message": { "mid": "m.msg", "text": "hey" } }] }] })).unwrap(), 200, 1, 1),
        // --- signatures: 401, nothing happens
        signed("no signature header", Sig::None, 401),
        signed("empty signature header", Sig::Raw(String::new()), 401),
        signed("prefix only", Sig::Raw("sha256=".into()), 401),
        signed("sha1-only header value", Sig::Sha1Style, 401),
        signed("signed with another secret", Sig::WrongSecret, 401),
        Case { sig: Sig::Over(b"{}".to_vec()), ..signed("valid signature over a different body", Sig::Good, 401) },
        signed("63 hex digits", Sig::Raw(format!("sha256={}", "a".repeat(63))), 401),
        signed("65 hex digits", Sig::Raw(format!("sha256={}", "a".repeat(65))), 401),
        signed("non-hex digits", Sig::Raw(format!("sha256={}", "g".repeat(64))), 401),
        signed("two signatures in one value", Sig::Raw(format!("{},{}", sig(b"x"), sig(b"y"))), 401),
        signed("md5 prefix", Sig::Raw(format!("md5={}", "a".repeat(64))), 401),
        signed("zero signature", Sig::Raw(format!("sha256={}", "0".repeat(64))), 401),
        signed("null bytes", Sig::Raw("sha256=\0\0".into()), 401),
        Case { sig: Sig::Raw(sig(&valid).to_uppercase()), ..case("uppercase prefix and hex", valid.clone(), 200, 1, 1) },
        Case { sig: Sig::Raw(format!("  {}  ", sig(&valid))), ..case("signature with surrounding spaces", valid.clone(), 200, 1, 1) },
        Case { sig: Sig::Over(valid.clone()), ..case("valid body + trailing newline signed without it", [valid.clone(), b"\n".to_vec()].concat(), 401, 0, 0) },
        // --- size
        Case { sig: Sig::None, ..case("3 MB + 1 byte, unsigned", over_max.clone(), 413, 0, 0) },
        case("3 MB + 1 byte, signed", over_max, 413, 0, 0),
        case("exactly 3 MB", exactly_max, 200, 0, 0),
        // --- not JSON, or not an object: 200 (Meta would retry for days otherwise)
        case("empty body", Vec::new(), 200, 0, 0),
        case("truncated json", valid[..valid.len() / 2].to_vec(), 200, 0, 0),
        case("null", "null", 200, 0, 0),
        case("array", "[]", 200, 0, 0),
        case("string", "\"instagram\"", 200, 0, 0),
        case("number", "12345", 200, 0, 0),
        case("empty object", "{}", 200, 0, 0),
        case("100k nested arrays", deep_array, 200, 0, 0),
        case("100k nested objects", deep_object, 200, 0, 0),
        case("20k nested objects inside a message", deep_valid, 200, 0, 0),
        case("invalid utf-8 after the json", invalid_utf8, 200, 0, 0),
        case("invalid utf-8 inside a string", utf8_in_string, 200, 0, 0),
        case("utf-8 byte order mark", [b"\xef\xbb\xbf".to_vec(), valid.clone()].concat(), 200, 0, 0),
        // --- unknown objects and broken structure
        case("unknown object", r#"{"object":"user","entry":[{"id":"1","changes":[]}]}"#, 200, 0, 0),
        case("object null", r#"{"object":null,"entry":[]}"#, 200, 0, 0),
        case("object number", r#"{"object":5,"entry":[]}"#, 200, 0, 0),
        case("entry null", r#"{"object":"instagram","entry":null}"#, 200, 0, 0),
        case("entry object", r#"{"object":"instagram","entry":{"id":"1"}}"#, 200, 0, 0),
        case("entry items of every type", r#"{"object":"instagram","entry":[null,1,"x",[],true,{}]}"#, 200, 0, 0),
        case("messaging null", with(ig_value(), &["entry", "0", "messaging"], Value::Null), 200, 0, 0),
        case("sender null", one_ig_with(&["sender"], Value::Null), 200, 0, 0),
        case("sender id null", one_ig_with(&["sender", "id"], Value::Null), 200, 0, 0),
        case("message null", one_ig_with(&["message"], Value::Null), 200, 0, 0),
        case("mid null", one_ig_with(&["message", "mid"], Value::Null), 200, 0, 0),
        case("everything null", r#"{"object":"instagram","entry":[{"id":null,"time":null,"messaging":[{"sender":null,"recipient":null,"timestamp":null,"message":null}]}]}"#, 200, 0, 0),
        case("duplicated json keys", r#"{"object":"user","object":"instagram","entry":[],"entry":null}"#, 200, 0, 0),
        case("unknown fields everywhere", with(with_value(one_ig_with(&["message", "x_new"], json!({"a": [1, 2]}))), &["x_top"], json!(true)), 200, 1, 1),
        case("unknown messaging kind", one_ig_with(&["message"], Value::Null), 200, 0, 0),
        // --- types swapped
        case("sender id as a number", one_ig_with(&["sender", "id"], json!(6_871_000_000_000_001_u64)), 200, 1, 1),
        case("text as a number", one_ig_with(&["message", "text"], json!(42)), 200, 1, 1),
        case("text as an object", one_ig_with(&["message", "text"], json!({"body": "hi"})), 200, 1, 1),
        case("timestamp as a string", one_ig_with(&["timestamp"], json!(MS.to_string())), 200, 1, 1),
        case("timestamp as a float (item skipped)", one_ig_with(&["timestamp"], json!(1.781e12)), 200, 0, 0),
        case("whatsapp timestamp as a number", wa_body(json!([{ "from": "447700900002", "id": "wamid.2", "timestamp": MS / 1000, "type": "text", "text": { "body": "hi" } }]), json!([])), 200, 1, 1),
        case("whatsapp text body as an array", wa_body(json!([{ "from": "447700900003", "id": "wamid.3", "timestamp": "1781013600", "type": "text", "text": { "body": ["hi"] } }]), json!(null)), 200, 1, 1),
        case("whatsapp unknown message type starts nothing", wa_body(json!([{ "from": "447700900004", "id": "wamid.4", "timestamp": "1781013600", "type": "hologram" }]), json!(null)), 200, 0, 0),
        case("whatsapp statuses for nobody", serde_json::to_vec(&json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": { "metadata": { "phone_number_id": "106540352242922" }, "statuses": [{ "id": "wamid.x", "status": "read", "timestamp": "1781013600", "recipient_id": "447700900999" }] } }] }] })).unwrap(), 200, 0, 0),
        // --- times: Meta always sends a positive integer; an item without a usable one is skipped (200)
        case("timestamp in year 9999", one_ig_with(&["timestamp"], json!(253_402_300_799_000_i64)), 200, 1, 1),
        case("timestamp i64::MAX (item skipped)", one_ig_with(&["timestamp"], json!(i64::MAX)), 200, 0, 0),
        case("timestamp zero (item skipped)", one_ig_with(&["timestamp"], json!(0)), 200, 0, 0),
        case("timestamp negative (item skipped)", one_ig_with(&["timestamp"], json!(-1)), 200, 0, 0),
        case("timestamp a year ago", one_ig_with(&["timestamp"], json!(MS - 365 * 86_400_000)), 200, 1, 1),
        // --- text content
        case("emoji, RTL and zero-width text", one_ig_with(&["message", "text"], json!("👋🏽 مرحبا\u{200b}\u{200f}\u{202e}olleh\u{feff}")), 200, 1, 1),
        case("a million-character text", one_ig_with(&["message", "text"], json!(huge_text)), 200, 1, 1),
        case("NUL and control characters", one_ig_with(&["message", "text"], json!("a\u{0}b\u{1b}[31mc")), 200, 1, 1),
        case("script in a whatsapp profile name", script_name, 200, 1, 1),
        case("10k-character sender id", one_ig_with(&["sender", "id"], json!("9".repeat(10_000))), 200, 1, 1),
        // --- our own messages
        case("echo of our message", one_ig_with(&["message", "is_echo"], json!(true)), 200, 0, 0),
        // --- batches
        case("1000 valid items in one body", many(1000), 200, 1000, 1000),
        case("10k unknown items in one body", unknown_items(10_000), 200, 0, 0),
        case("10k null items", ig_body(&vec![Value::Null; 10_000]), 200, 0, 0),
        case("one malformed item among valid ones", mixed, 200, 3, 3),
        case("the same message twice in one body", ig_body(&[ig_item("6871000000000001", "m1", json!("hi")), ig_item("6871000000000001", "m1", json!("hi"))]), 200, 1, 1),
        // --- replays
        case("replayed body, second delivery has no effect", valid.clone(), 200, 1, 1).times(2),
        case("replayed 10 times", valid, 200, 1, 1).times(10),
    ]
    .into_iter()
    .map(|c| if c.status == 401 { c.expect(0, 0) } else { c })
    .collect()
}

fn with_value(b: Vec<u8>) -> Value {
    serde_json::from_slice(&b).unwrap()
}

fn header_for(c: &Case) -> Option<String> {
    match &c.sig {
        Sig::Good => Some(sig(&c.body)),
        Sig::None => None,
        Sig::Raw(s) => Some(s.clone()),
        Sig::Over(other) => Some(sig(other)),
        Sig::WrongSecret => Some(cadence_meta::sign(b"not-the-secret", &c.body)),
        Sig::Sha1Style => Some(hmac_sha1_style(&c.body)),
    }
}

#[tokio::test]
async fn every_hostile_case_gets_its_status_and_effect_through_handle_post() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let mut rig = Rig::new();
        let header = header_for(c);
        let mut statuses = Vec::new();
        for _ in 0..c.times {
            let (status, _) =
                cadence_meta::handle_post(&rig.services, SECRET, header.as_deref(), &c.body).await;
            statuses.push(status);
        }
        let until = rig.now() + Duration::minutes(1);
        rig.advance_to(until).await;
        let got = (statuses[0], rig.store.len(), rig.recorder.total());
        if got != (c.status, c.leads, c.sends) || statuses.iter().any(|s| *s != c.status) {
            failures.push(format!(
                "{}: expected status {} leads {} sends {}, got statuses {:?} leads {} sends {}",
                c.name, c.status, c.leads, c.sends, statuses, got.1, got.2
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn a_script_tag_in_a_profile_name_is_escaped_in_the_replay_output() {
    // The opener greets by first name: the name reaches the JSON output only as an escaped string.
    let p = cadence_cli::synth::Persona {
        channel: Channel::Whatsapp,
        user: "447700900123".into(),
        name: "<script>alert(\"x\")</script>".into(),
    };
    let b = cadence_cli::synth::body(&p, &say("hi"), start(), 1);
    let line = format!("{{\"at\":\"2026-06-09T14:00:00Z\",\"webhook\":{b}}}\n");
    let out = cadence_cli::replay::replay(
        &line,
        cadence_cli::replay::SimOptions::default(),
        Some(start() + Duration::hours(1)),
    )
    .await
    .unwrap();
    assert!(!out.is_empty());
    for o in &out {
        let text = serde_json::to_string(o).unwrap();
        // Valid JSON that round-trips, with the quote escaped: no raw markup can break out of a string.
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        assert!(!text.contains("alert(\"x\")"), "{text}");
    }
}

async fn spawn_serve(rig: &Rig) -> String {
    let state = AppState {
        services: rig.services.clone(),
        app_secret: Arc::new(SECRET.to_vec()),
        verify_token: Arc::new("verify-me".into()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_serve_router_answers_hostile_requests_over_http_like_handle_post() {
    let http = reqwest::Client::new();
    let picked = [
        "instagram dm",
        "no signature header",
        "sha1-only header value",
        "valid signature over a different body",
        "uppercase prefix and hex",
        "3 MB + 1 byte, unsigned",
        "exactly 3 MB",
        "truncated json",
        "100k nested arrays",
        "invalid utf-8 inside a string",
        "one malformed item among valid ones",
        "1000 valid items in one body",
        "replayed body, second delivery has no effect",
    ];
    let cases = cases();
    for name in picked {
        let c = cases.iter().find(|c| c.name == name).unwrap();
        let mut rig = Rig::new();
        let base = spawn_serve(&rig).await;
        let header = header_for(c);
        for _ in 0..c.times {
            let mut req = http.post(format!("{base}/webhook")).body(c.body.clone());
            if let Some(h) = &header {
                req = req.header("X-Hub-Signature-256", h.as_str());
            }
            let status = req.send().await.unwrap().status().as_u16();
            assert_eq!(status, c.status, "{name}");
        }
        let until = rig.now() + Duration::minutes(1);
        rig.advance_to(until).await;
        assert_eq!(
            (rig.store.len(), rig.recorder.total()),
            (c.leads, c.sends),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_serve_router_treats_header_names_case_insensitively_and_refuses_duplicated_signatures()
{
    let http = reqwest::Client::new();
    let body = ig_body(&[ig_item("6871000000000001", "m1", json!("hi"))]);
    let good = sig(&body);
    let bad = sig(b"other");
    for (headers, expected) in [
        (vec![("x-hub-signature-256", good.clone())], 200_u16),
        (vec![("X-HUB-SIGNATURE-256", good.clone())], 200),
        (vec![("x-hub-signature", sig(&body))], 401),
        (
            vec![
                ("X-Hub-Signature-256", good.clone()),
                ("X-Hub-Signature-256", bad.clone()),
            ],
            401,
        ),
        (
            vec![("X-Hub-Signature-256", bad), ("X-Hub-Signature-256", good)],
            401,
        ),
    ] {
        let rig = Rig::new();
        let base = spawn_serve(&rig).await;
        let mut req = http.post(format!("{base}/webhook")).body(body.clone());
        for (k, v) in &headers {
            req = req.header(*k, v.as_str());
        }
        let status = req.send().await.unwrap().status().as_u16();
        assert_eq!(status, expected, "{headers:?}");
        assert_eq!(rig.store.len(), usize::from(expected == 200), "{headers:?}");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_on_the_serve_router_change_nothing() {
    let http = reqwest::Client::new();
    let rig = Rig::new();
    let base = spawn_serve(&rig).await;
    let body = ig_body(&[ig_item("6871000000000001", "m1", json!("hi"))]);
    let s = http
        .post(format!("{base}/webhook/../admin"))
        .header("X-Hub-Signature-256", sig(&body))
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(s == 404 || s == 405, "{s}");
    let s = http
        .put(format!("{base}/webhook"))
        .header("X-Hub-Signature-256", sig(&body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(s, 405);
    let s = http
        .get(format!(
            "{base}/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(s, 403);
    assert_eq!(rig.store.len(), 0);
}
