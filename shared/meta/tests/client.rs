//! `GraphApiSender` against a Graph API mock: the exact request per channel and message type, and how HTTP
//! and transport failures come back to the engine.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::TouchRef;
use cadence_core::outbound::{Choice, DmBody, DmMessage, MediaKind, MessagingType, Recipient};
use cadence_core::ports::{ChannelSender, SendFailure};
use cadence_meta::{send_tag, GraphApiSender, GraphConfig, SenderTimeouts, TokenSource};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IG: &str = "17841400000000001";
const PAGE: &str = "102030405060708";
const PNID: &str = "106540352242922";

fn tokens() -> Arc<dyn TokenSource> {
    Arc::new(|channel: Channel, account: &str| Some(format!("tok-{channel}-{account}")))
}

fn sender(server: &MockServer) -> GraphApiSender {
    GraphApiSender::new(GraphConfig::with_base(server.uri()), tokens()).unwrap()
}

fn touch() -> TouchRef {
    TouchRef::new(LeadId::derive(IG, Channel::Instagram, "9"), 1, "opener")
}

fn dm(channel: Channel, to: Recipient, messaging_type: MessagingType, body: DmBody) -> DmMessage {
    let from = match channel {
        Channel::Instagram => IG,
        Channel::Messenger => PAGE,
        Channel::Whatsapp => PNID,
    };
    DmMessage {
        channel,
        from: from.into(),
        to,
        messaging_type,
        body,
    }
}

fn text(t: &str, choices: Vec<Choice>) -> DmBody {
    DmBody::Text {
        text: t.into(),
        choices,
        list_button: None,
    }
}

fn choice(id: &str, title: &str) -> Choice {
    Choice {
        id: id.into(),
        title: title.into(),
        description: None,
    }
}

fn media(kind: MediaKind, url: &str, caption: Option<&str>) -> DmBody {
    DmBody::Media {
        kind,
        url: url.into(),
        caption: caption.map(str::to_owned),
    }
}

/// One send case: the message, and the exact request Meta must see.
struct Case {
    name: &'static str,
    msg: DmMessage,
    path: String,
    body: Value,
}

fn cases() -> Vec<Case> {
    let tag = send_tag(&touch());
    let ig_path = format!("/v25.0/{IG}/messages");
    let fb_path = format!("/v25.0/{PAGE}/messages");
    let wa_path = format!("/v25.0/{PNID}/messages");
    let wa = |rest: Value| {
        let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
                              "biz_opaque_callback_data": tag});
        for (k, v) in rest.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let phone = || Recipient::Phone("16505551234".into());
    vec![
        Case {
            name: "instagram text",
            msg: dm(
                Channel::Instagram,
                Recipient::Id("7391048215603847".into()),
                MessagingType::Response,
                text("Hi! Here is how it works.", vec![]),
            ),
            path: ig_path.clone(),
            body: json!({"recipient": {"id": "7391048215603847"}, "message": {"text": "Hi! Here is how it works."}}),
        },
        Case {
            name: "instagram quick replies",
            msg: dm(
                Channel::Instagram,
                Recipient::Id("7391048215603847".into()),
                MessagingType::Update,
                text(
                    "Which goal fits you?",
                    vec![
                        choice("GOAL_STRENGTH", "Get stronger"),
                        choice("GOAL_WEIGHT", "Lose weight before the summer"),
                    ],
                ),
            ),
            path: ig_path.clone(),
            body: json!({"recipient": {"id": "7391048215603847"}, "message": {"text": "Which goal fits you?", "quick_replies": [
                {"content_type": "text", "title": "Get stronger", "payload": "GOAL_STRENGTH"},
                {"content_type": "text", "title": "Lose weight before t", "payload": "GOAL_WEIGHT"}]}}),
        },
        Case {
            name: "instagram comment private reply",
            msg: dm(
                Channel::Instagram,
                Recipient::Comment("17865799348089039".into()),
                MessagingType::Response,
                text("Here is the plan you asked for!", vec![]),
            ),
            path: ig_path.clone(),
            body: json!({"recipient": {"comment_id": "17865799348089039"}, "message": {"text": "Here is the plan you asked for!"}}),
        },
        Case {
            name: "instagram audio",
            msg: dm(
                Channel::Instagram,
                Recipient::Id("7391048215603847".into()),
                MessagingType::Response,
                media(
                    MediaKind::Audio,
                    "https://cdn.example.com/voice/intro.m4a",
                    None,
                ),
            ),
            path: ig_path,
            body: json!({"recipient": {"id": "7391048215603847"}, "message": {"attachment": {"type": "audio", "payload": {"url": "https://cdn.example.com/voice/intro.m4a"}}}}),
        },
        Case {
            name: "messenger response",
            msg: dm(
                Channel::Messenger,
                Recipient::Id("6924351287043198".into()),
                MessagingType::Response,
                text("Yes, we ship to Montréal.", vec![]),
            ),
            path: fb_path.clone(),
            body: json!({"recipient": {"id": "6924351287043198"}, "messaging_type": "RESPONSE", "message": {"text": "Yes, we ship to Montréal.", "metadata": tag}}),
        },
        Case {
            name: "messenger update",
            msg: dm(
                Channel::Messenger,
                Recipient::Id("6924351287043198".into()),
                MessagingType::Update,
                text("Still interested?", vec![choice("YES", "Yes")]),
            ),
            path: fb_path.clone(),
            body: json!({"recipient": {"id": "6924351287043198"}, "messaging_type": "UPDATE", "message": {"text": "Still interested?",
                "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "YES"}], "metadata": tag}}),
        },
        Case {
            name: "messenger human agent",
            msg: dm(
                Channel::Messenger,
                Recipient::Id("6924351287043198".into()),
                MessagingType::HumanAgent,
                text("Lena here, following up personally.", vec![]),
            ),
            path: fb_path,
            body: json!({"recipient": {"id": "6924351287043198"}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
                "message": {"text": "Lena here, following up personally.", "metadata": tag}}),
        },
        Case {
            name: "whatsapp text",
            msg: dm(
                Channel::Whatsapp,
                phone(),
                MessagingType::Response,
                text("Bonjour ! Oui, en 38.", vec![]),
            ),
            path: wa_path.clone(),
            body: wa(
                json!({"type": "text", "text": {"preview_url": false, "body": "Bonjour ! Oui, en 38."}}),
            ),
        },
        Case {
            name: "whatsapp buttons",
            msg: dm(
                Channel::Whatsapp,
                phone(),
                MessagingType::Response,
                text(
                    "Which size?",
                    vec![choice("SIZE_38", "Size 38"), choice("SIZE_40", "Size 40")],
                ),
            ),
            path: wa_path.clone(),
            body: wa(
                json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Which size?"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "SIZE_38", "title": "Size 38"}},
                {"type": "reply", "reply": {"id": "SIZE_40", "title": "Size 40"}}]}}}),
            ),
        },
        Case {
            name: "whatsapp list",
            msg: dm(
                Channel::Whatsapp,
                phone(),
                MessagingType::Response,
                DmBody::Text {
                    text: "Pick a time for a call".into(),
                    choices: vec![
                        choice("SLOT_1", "Thu 11 Jun, 15:00"),
                        Choice {
                            description: Some("30-minute call".into()),
                            ..choice("SLOT_2", "Fri 12 Jun, 10:00")
                        },
                        choice("SLOT_3", "Fri 12 Jun, 16:00"),
                        choice("SLOT_4", "Mon 15 Jun, 09:30"),
                    ],
                    list_button: Some("See times".into()),
                },
            ),
            path: wa_path.clone(),
            body: wa(
                json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick a time for a call"}, "action": {
                "button": "See times", "sections": [{"title": "Options", "rows": [
                    {"id": "SLOT_1", "title": "Thu 11 Jun, 15:00"},
                    {"id": "SLOT_2", "title": "Fri 12 Jun, 10:00", "description": "30-minute call"},
                    {"id": "SLOT_3", "title": "Fri 12 Jun, 16:00"},
                    {"id": "SLOT_4", "title": "Mon 15 Jun, 09:30"}]}]}}}),
            ),
        },
        Case {
            name: "whatsapp audio link",
            msg: dm(
                Channel::Whatsapp,
                phone(),
                MessagingType::Response,
                media(
                    MediaKind::Audio,
                    "https://cdn.example.com/voice/intro.ogg",
                    None,
                ),
            ),
            path: wa_path.clone(),
            body: wa(
                json!({"type": "audio", "audio": {"link": "https://cdn.example.com/voice/intro.ogg"}}),
            ),
        },
        Case {
            name: "whatsapp document",
            msg: dm(
                Channel::Whatsapp,
                phone(),
                MessagingType::Response,
                media(
                    MediaKind::Document,
                    "https://cdn.example.com/docs/size-guide.pdf",
                    Some("Our size guide"),
                ),
            ),
            path: wa_path.clone(),
            body: wa(
                json!({"type": "document", "document": {"link": "https://cdn.example.com/docs/size-guide.pdf", "caption": "Our size guide", "filename": "size-guide.pdf"}}),
            ),
        },
        Case {
            name: "whatsapp template",
            msg: dm(
                Channel::Whatsapp,
                phone(),
                MessagingType::Update,
                DmBody::Template {
                    name: "follow_up_v2".into(),
                    language: "fr".into(),
                    params: vec!["Sheena".into(), "robe d'été".into()],
                },
            ),
            path: wa_path.clone(),
            body: wa(
                json!({"type": "template", "template": {"name": "follow_up_v2", "language": {"code": "fr"}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Sheena"}, {"type": "text", "text": "robe d'été"}]}]}}),
            ),
        },
        Case {
            name: "whatsapp bsuid recipient",
            msg: dm(
                Channel::Whatsapp,
                Recipient::Bsuid("US.13491208655302741918".into()),
                MessagingType::Response,
                text("Yes, the sale is on.", vec![]),
            ),
            path: wa_path,
            body: json!({"messaging_product": "whatsapp", "recipient_type": "individual", "recipient": "US.13491208655302741918",
                         "type": "text", "text": {"preview_url": false, "body": "Yes, the sale is on."}, "biz_opaque_callback_data": tag}),
        },
    ]
}

#[tokio::test]
async fn every_channel_and_message_type_posts_the_exact_request_with_a_bearer_token() {
    for case in cases() {
        let server = MockServer::start().await;
        let (token, reply) = match case.msg.channel {
            Channel::Whatsapp => (
                format!("Bearer tok-whatsapp-{PNID}"),
                json!({"messaging_product": "whatsapp", "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
                       "messages": [{"id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}),
            ),
            channel => (
                format!("Bearer tok-{channel}-{}", case.msg.from),
                json!({"recipient_id": "7391048215603847", "message_id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3"}),
            ),
        };
        Mock::given(method("POST"))
            .and(path(case.path.as_str()))
            .and(header("authorization", token.as_str()))
            .and(header("content-type", "application/json"))
            .and(query_param_is_missing("access_token"))
            .and(body_json(&case.body))
            .respond_with(ResponseTemplate::new(200).set_body_json(&reply))
            .expect(1)
            .named(case.name)
            .mount(&server)
            .await;

        let receipt = sender(&server)
            .send_dm(&touch(), &case.msg)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let expected_id = match case.msg.channel {
            Channel::Whatsapp => "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
            _ => "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3",
        };
        assert_eq!(receipt.provider_id, expected_id, "{}", case.name);
        server.verify().await;
    }
}

async fn failure_for(status: u16, body: Value) -> SendFailure {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let msg = dm(
        Channel::Whatsapp,
        Recipient::Phone("16505551234".into()),
        MessagingType::Response,
        text("hi", vec![]),
    );
    sender(&server).send_dm(&touch(), &msg).await.unwrap_err()
}

#[tokio::test]
async fn meta_errors_are_classified_through_http() {
    let error = |code: i64, subcode: Option<i64>| {
        let mut e = json!({"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": code, "fbtrace_id": "AbC"});
        if let Some(s) = subcode {
            e["error_subcode"] = json!(s);
        }
        json!({ "error": e })
    };
    assert_eq!(
        failure_for(400, error(131047, None)).await,
        SendFailure::WindowClosed {
            reason: "meta 131047".into()
        }
    );
    assert_eq!(
        failure_for(400, error(10, Some(2534022))).await,
        SendFailure::WindowClosed {
            reason: "meta 10/2534022".into()
        }
    );
    assert_eq!(
        failure_for(400, error(131050, None)).await,
        SendFailure::OptedOut {
            reason: "meta 131050".into()
        }
    );
    assert_eq!(
        failure_for(401, error(190, Some(463))).await,
        SendFailure::Auth {
            reason: "meta 190/463".into()
        }
    );
    assert_eq!(
        failure_for(400, error(131056, None)).await,
        SendFailure::Retryable {
            reason: "meta 131056".into(),
            retry_after: Some(Duration::from_secs(6))
        }
    );
    assert!(failure_for(503, json!("unavailable")).await.is_retryable());
    assert_eq!(
        failure_for(400, error(100, Some(2534014))).await,
        SendFailure::Permanent {
            reason: "meta 100/2534014".into()
        }
    );
}

#[tokio::test]
async fn an_accepted_send_without_a_message_id_is_an_unknown_outcome() {
    let failure = failure_for(200, json!({"success": true})).await;
    assert!(
        matches!(failure, SendFailure::Unknown { .. }),
        "{failure:?}"
    );
}

#[tokio::test]
async fn a_timeout_after_sending_is_an_unknown_outcome_not_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let timeouts = SenderTimeouts {
        connect: Duration::from_secs(1),
        total: Duration::from_millis(200),
    };
    let sender =
        GraphApiSender::with_timeouts(GraphConfig::with_base(server.uri()), tokens(), timeouts)
            .unwrap();
    let msg = dm(
        Channel::Instagram,
        Recipient::Id("1".into()),
        MessagingType::Response,
        text("hi", vec![]),
    );
    let failure = sender.send_dm(&touch(), &msg).await.unwrap_err();
    assert!(
        matches!(failure, SendFailure::Unknown { .. }),
        "{failure:?}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "the request did reach Meta"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retryable_because_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let sender = GraphApiSender::new(
        GraphConfig::with_base(format!("http://127.0.0.1:{port}")),
        tokens(),
    )
    .unwrap();
    let msg = dm(
        Channel::Messenger,
        Recipient::Id("1".into()),
        MessagingType::Response,
        text("hi", vec![]),
    );
    let failure = sender.send_dm(&touch(), &msg).await.unwrap_err();
    assert!(failure.is_retryable(), "{failure:?}");
}

#[tokio::test]
async fn a_missing_token_or_invalid_message_fails_without_calling_meta() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let no_tokens: Arc<dyn TokenSource> = Arc::new(|_: Channel, _: &str| None);
    let sender_without =
        GraphApiSender::new(GraphConfig::with_base(server.uri()), no_tokens).unwrap();
    let msg = dm(
        Channel::Instagram,
        Recipient::Id("1".into()),
        MessagingType::Response,
        text("hi", vec![]),
    );
    assert!(matches!(
        sender_without.send_dm(&touch(), &msg).await,
        Err(SendFailure::Auth { .. })
    ));

    let too_long = dm(
        Channel::Instagram,
        Recipient::Id("1".into()),
        MessagingType::Response,
        text(&"a".repeat(1001), vec![]),
    );
    let failure = sender(&server)
        .send_dm(&touch(), &too_long)
        .await
        .unwrap_err();
    assert!(
        matches!(&failure, SendFailure::Permanent { reason } if reason.contains("1000 bytes")),
        "{failure:?}"
    );
    server.verify().await;
}

#[test]
fn debug_output_never_shows_tokens() {
    let sender = GraphApiSender::new(GraphConfig::default(), tokens()).unwrap();
    assert!(!format!("{sender:?}").contains("tok-"));
}
