//! Every sample body in the workspace's `events/` directory parses into the events its name promises, and the
//! signed samples verify over their exact bytes.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use cadence_core::ids::{Channel, UserRef};
use cadence_core::inbound::{InboundEvent, InboundKind, Message};
use cadence_meta::{parse_webhook, verify_signature, MetaError, Parsed};

const IG: &str = "17841400000000001";
const PAGE: &str = "102030405060708";
const PHONE_NUMBER_ID: &str = "106540352242922";
const SECRET: &[u8] = b"cadence-demo-secret";

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn load(name: &str) -> Parsed {
    let body = std::fs::read(events_dir().join(name)).unwrap();
    parse_webhook(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn message(event: &InboundEvent) -> &Message {
    match &event.kind {
        InboundKind::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// What one sample must produce.
struct Expect {
    file: &'static str,
    /// `None` when no event is expected.
    channel: Option<Channel>,
    kinds: &'static [&'static str],
    skipped: usize,
    /// Details beyond the kinds.
    check: fn(&[InboundEvent]),
}

fn no_check(_: &[InboundEvent]) {}

const fn expect(
    file: &'static str,
    channel: Option<Channel>,
    kinds: &'static [&'static str],
) -> Expect {
    Expect {
        file,
        channel,
        kinds,
        skipped: 0,
        check: no_check,
    }
}

const IGC: Option<Channel> = Some(Channel::Instagram);
const FB: Option<Channel> = Some(Channel::Messenger);
const WA: Option<Channel> = Some(Channel::Whatsapp);

fn table() -> Vec<Expect> {
    vec![
        Expect {
            check: |e| {
                assert_eq!(
                    message(&e[0]).text.as_deref(),
                    Some("Salut ! C'est combien le programme débutant ?")
                );
                assert_eq!(e[0].user, UserRef::id("7391048215603847"));
                assert!(e[0].dedupe_key.starts_with("mid:aWdf"));
                assert_eq!(e[0].at.timestamp_millis(), 1781000000123);
            },
            ..expect("ig-message.json", IGC, &["message"])
        },
        Expect {
            check: |e| assert_eq!(message(&e[0]).payload.as_deref(), Some("INTEREST_YES")),
            ..expect("ig-message-quick-reply.json", IGC, &["message"])
        },
        Expect {
            check: |e| assert!(message(&e[0]).story_reply),
            ..expect("ig-story-reply.json", IGC, &["message"])
        },
        expect("ig-story-mention.json", IGC, &["story_mention"]),
        Expect {
            check: |e| {
                let m = message(&e[0]);
                assert_eq!(m.attachments, ["share"]);
                assert_eq!(m.text, None);
            },
            ..expect("ig-share.json", IGC, &["message"])
        },
        expect("ig-deleted.json", IGC, &["deleted"]),
        Expect {
            check: |e| assert!(message(&e[0]).unsupported),
            ..expect("ig-unsupported.json", IGC, &["message"])
        },
        Expect {
            check: |e| {
                let referral = message(&e[0]).referral.clone().unwrap();
                assert_eq!(referral.source.as_deref(), Some("ADS"));
                assert_eq!(referral.ad_id.as_deref(), Some("120210987654321098"));
                assert_eq!(referral.ref_param.as_deref(), Some("spring_plan"));
                assert_eq!(referral.headline.as_deref(), Some("8-week strength plan"));
            },
            ..expect("ig-ad-referral-message.json", IGC, &["message"])
        },
        Expect {
            check: |e| assert_eq!(e[0].user, UserRef::id("7391048215603847")),
            ..expect("ig-echo-ours.json", IGC, &["echo"])
        },
        Expect {
            check: |e| {
                assert_eq!(e[0].user, UserRef::id("7391048215603847"));
                assert!(matches!(&e[0].kind, InboundKind::Echo { app_id: None, .. }));
            },
            ..expect("ig-echo-human.json", IGC, &["echo"])
        },
        Expect {
            check: |e| {
                assert_eq!(
                    e[0].kind,
                    InboundKind::Reaction {
                        mid: Some("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk2MDg5MzE5NjgwNzQ3OjMyNjM0NTY3ODkwMTIzNDU2Nz8ZD".into()),
                        emoji: Some("\u{2764}\u{fe0f}".into()),
                        unreact: false
                    }
                );
            },
            ..expect("ig-reaction.json", IGC, &["reaction"])
        },
        Expect {
            check: |e| assert!(matches!(&e[0].kind, InboundKind::Read { mid: Some(_) })),
            ..expect("ig-seen.json", IGC, &["read"])
        },
        Expect {
            check: |e| {
                assert!(
                    matches!(&e[0].kind, InboundKind::Postback { payload: Some(p), .. } if p == "ICEBREAKER_HOW")
                );
            },
            ..expect("ig-postback.json", IGC, &["postback"])
        },
        Expect {
            check: |e| {
                assert!(
                    matches!(&e[0].kind, InboundKind::Referral(r) if r.ref_param.as_deref() == Some("bio_link"))
                );
            },
            ..expect("ig-referral.json", IGC, &["referral"])
        },
        Expect {
            check: |e| {
                assert_eq!(e[0].dedupe_key, "comment:17865799348089039");
                assert_eq!(e[0].profile_name.as_deref(), Some("renée.fit"));
                assert_eq!(e[0].at.timestamp(), 1781000840);
                assert_eq!(
                    e[0].kind,
                    InboundKind::Comment {
                        comment_id: "17865799348089039".into(),
                        text: "INFO please! 🙏".into(),
                        media_id: Some("18023456789012345".into())
                    }
                );
            },
            ..expect("ig-comment-keyword.json", IGC, &["comment"])
        },
        Expect {
            skipped: 1,
            ..expect("ig-comment-own.json", None, &[])
        },
        Expect {
            check: |e| assert_eq!(e[0].user, UserRef::id("6924351287043198")),
            ..expect("messenger-message.json", FB, &["message"])
        },
        Expect {
            check: |e| {
                assert_eq!(e[0].user, UserRef::id("6924351287043198"));
                assert!(
                    matches!(&e[0].kind, InboundKind::Echo { app_id: Some(a), .. } if a == "263902037430900")
                );
            },
            ..expect("messenger-echo-human.json", FB, &["echo"])
        },
        Expect {
            check: |e| {
                assert!(matches!(
                    &e[0].kind,
                    InboundKind::Delivered { mid: Some(_) }
                ))
            },
            ..expect("messenger-delivery.json", FB, &["delivered"])
        },
        Expect {
            check: |e| {
                assert_eq!(e[0].kind, InboundKind::Read { mid: None });
                assert_eq!(e[0].dedupe_key, "read:6924351287043198:1781001139250");
            },
            ..expect("messenger-read.json", FB, &["read"])
        },
        Expect {
            check: |e| {
                assert!(
                    matches!(&e[0].kind, InboundKind::Postback { payload: Some(p), referral: Some(r), .. }
                    if p == "GET_STARTED" && r.source.as_deref() == Some("SHORTLINK"))
                );
            },
            ..expect("messenger-postback-get-started.json", FB, &["postback"])
        },
        expect("messenger-referral.json", FB, &["referral"]),
        Expect {
            check: |e| {
                assert_eq!(e[0].profile_name.as_deref(), Some("Sheena Nelson"));
                assert_eq!(
                    e[0].user,
                    UserRef {
                        id: Some("16505551234".into()),
                        bsuid: Some("US.13491208655302741918".into())
                    }
                );
                assert!(message(&e[0])
                    .text
                    .as_deref()
                    .unwrap()
                    .ends_with("https://shop.example.com/robe-été"));
                assert!(e[0].dedupe_key.starts_with("wa:wamid."));
                assert_eq!(e[0].at.timestamp(), 1781001320);
            },
            ..expect("wa-text.json", WA, &["message"])
        },
        Expect {
            check: |e| {
                let m = message(&e[0]);
                assert_eq!(
                    (m.payload.as_deref(), m.text.as_deref()),
                    (Some("SIZE_38"), Some("Size 38"))
                );
            },
            ..expect("wa-button-reply.json", WA, &["message"])
        },
        Expect {
            check: |e| {
                assert_eq!(
                    message(&e[0]).payload.as_deref(),
                    Some("SLOT_2026-06-11T15:00")
                )
            },
            ..expect("wa-list-reply.json", WA, &["message"])
        },
        Expect {
            check: |e| {
                let m = message(&e[0]);
                assert_eq!(
                    (m.payload.as_deref(), m.text.as_deref()),
                    (Some("STOP_PROMOS"), Some("Stop promotions"))
                );
            },
            ..expect("wa-template-button.json", WA, &["message"])
        },
        Expect {
            check: |e| assert_eq!(message(&e[0]).attachments, ["audio"]),
            ..expect("wa-audio.json", WA, &["message"])
        },
        Expect {
            check: |e| assert_eq!(message(&e[0]).text.as_deref(), Some("This one in blue?")),
            ..expect("wa-image.json", WA, &["message"])
        },
        Expect {
            check: |e| {
                let r = message(&e[0]).referral.clone().unwrap();
                assert_eq!(r.source.as_deref(), Some("ad"));
                assert_eq!(r.ad_id.as_deref(), Some("120226305854810726"));
                assert_eq!(r.headline.as_deref(), Some("Chat with us"));
            },
            ..expect("wa-ctwa-referral.json", WA, &["message"])
        },
        Expect {
            check: |e| {
                assert_eq!(
                    e[0].user,
                    UserRef {
                        id: None,
                        bsuid: Some("US.13491208655302741918".into())
                    }
                );
                assert_eq!(e[0].profile_name.as_deref(), Some("Sheena Nelson"));
            },
            ..expect("wa-bsuid-only.json", WA, &["message"])
        },
        Expect {
            check: |e| {
                assert!(
                    e[0].dedupe_key.starts_with("status:wamid.")
                        && e[0].dedupe_key.ends_with(":delivered")
                )
            },
            ..expect("wa-status-delivered.json", WA, &["delivered"])
        },
        expect("wa-status-read.json", WA, &["read"]),
        Expect {
            check: |e| {
                assert!(matches!(
                    &e[0].kind,
                    InboundKind::SendFailed {
                        code: Some(131050),
                        ..
                    }
                ));
            },
            ..expect("wa-status-failed-131050.json", WA, &["send_failed"])
        },
        Expect {
            check: |e| {
                assert_eq!(e[0].kind, InboundKind::Preference { stop: true });
                assert_eq!(e[0].dedupe_key, "pref:16505551234:1781001980:stop");
            },
            ..expect("wa-user-preferences-stop.json", WA, &["preference"])
        },
        Expect {
            skipped: 1,
            check: |e| {
                assert!(e.windows(2).all(|w| w[0].at <= w[1].at));
                assert_eq!(message(&e[0]).text.as_deref(), Some("First message"));
                assert_eq!(
                    message(&e[4]).text.as_deref(),
                    Some("Second message, sent last")
                );
            },
            ..expect(
                "batched-mixed.json",
                IGC,
                &["message", "read", "reaction", "comment", "message"],
            )
        },
        Expect {
            skipped: 1,
            ..expect("unknown-object.json", None, &[])
        },
    ]
}

#[test]
fn every_sample_body_parses_into_the_events_its_name_promises() {
    let table = table();
    for exp in &table {
        let parsed = load(exp.file);
        let kinds: Vec<&str> = parsed.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, exp.kinds, "{}: kinds", exp.file);
        assert_eq!(
            parsed.skipped.len(),
            exp.skipped,
            "{}: skipped {:?}",
            exp.file,
            parsed.skipped
        );
        for event in &parsed.events {
            let channel = exp.channel.unwrap();
            assert_eq!(event.channel, channel, "{}", exp.file);
            let account = match channel {
                Channel::Instagram => IG,
                Channel::Messenger => PAGE,
                Channel::Whatsapp => PHONE_NUMBER_ID,
            };
            assert_eq!(event.account, account, "{}", exp.file);
            assert!(!event.user.is_empty(), "{}", exp.file);
            assert_eq!(event.at.format("%Y").to_string(), "2026", "{}", exp.file);
        }
        (exp.check)(&parsed.events);
    }
}

#[test]
fn the_table_covers_every_sample_file_and_nothing_else() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    let in_table: BTreeSet<String> = table().iter().map(|e| e.file.to_owned()).collect();
    assert_eq!(on_disk, in_table);
}

#[test]
fn samples_keep_metas_escaped_style() {
    let raw = |name: &str| std::fs::read_to_string(events_dir().join(name)).unwrap();
    assert!(raw("ig-story-reply.json").contains(r"https:\/\/lookaside.fbsbx.com"));
    assert!(raw("ig-message.json").contains(r"d\u00e9butant"));
}

#[test]
fn redelivered_samples_produce_identical_dedupe_keys() {
    for exp in table() {
        let first: Vec<String> = load(exp.file)
            .events
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        let second: Vec<String> = load(exp.file)
            .events
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        assert_eq!(first, second, "{}", exp.file);
        let unique: BTreeSet<&String> = first.iter().collect();
        assert_eq!(
            unique.len(),
            first.len(),
            "{}: keys within one body are distinct",
            exp.file
        );
    }
}

#[test]
fn signed_samples_verify_over_their_exact_bytes_only() {
    let signed = events_dir().join("signed");
    for name in ["ig-message", "wa-text"] {
        let body = std::fs::read(signed.join(format!("{name}.body"))).unwrap();
        let sig = std::fs::read_to_string(signed.join(format!("{name}.sig"))).unwrap();
        verify_signature(SECRET, Some(sig.trim()), &body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!parse_webhook(&body).unwrap().events.is_empty(), "{name}");

        let mut with_newline = body.clone();
        with_newline.push(b'\n');
        assert_eq!(
            verify_signature(SECRET, Some(sig.trim()), &with_newline),
            Err(MetaError::InvalidSignature),
            "{name}: a trailing newline"
        );
        let reserialised =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap())
                .unwrap();
        assert_eq!(
            verify_signature(SECRET, Some(sig.trim()), &reserialised),
            Err(MetaError::InvalidSignature),
            "{name}: re-serialised"
        );
        assert_eq!(
            verify_signature(b"wrong-secret", Some(sig.trim()), &body),
            Err(MetaError::InvalidSignature)
        );
    }
}
