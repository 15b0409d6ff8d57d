//! `cadence replay`, the black-box contract: Meta-shaped webhooks in, the exact requests Meta would receive out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use cadence_cli::replay::{replay, SimOptions};
use cadence_cli::sinks::OutputLine;
use cadence_cli::synth::{body, Action, Persona};
use cadence_core::chrono::{DateTime, Duration, Utc};
use cadence_core::ids::Channel;
use common::utc;
use serde_json::{json, Value};
use std::process::Command;

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("sample is JSON")
}

fn line(at: &str, webhook: Value) -> String {
    json!({ "at": at, "webhook": webhook }).to_string()
}

async fn run(lines: &[String]) -> Vec<OutputLine> {
    replay(&lines.join("\n"), SimOptions::default(), None)
        .await
        .expect("valid input")
}

fn steps(out: &[OutputLine]) -> Vec<&str> {
    out.iter().map(|o| o.step.as_str()).collect()
}

/// The Instagram user of `events/ig-message.json`.
fn ig_user() -> Persona {
    Persona {
        channel: Channel::Instagram,
        user: "7391048215603847".into(),
        name: String::new(),
    }
}

fn at(base: &str, minutes: i64) -> (String, DateTime<Utc>) {
    let t = utc(base) + Duration::minutes(minutes);
    (cadence_cli::sinks::rfc3339(t), t)
}

fn say(p: &Persona, base: &str, minutes: i64, text: &str, n: usize) -> String {
    let (s, t) = at(base, minutes);
    line(
        &s,
        body(
            p,
            &Action::Say {
                text: text.into(),
                payload: None,
            },
            t,
            n,
        ),
    )
}

const T0: &str = "2026-12-03T15:00:00Z";

#[tokio::test]
async fn happy_path_to_booking_sends_instagram_requests_in_meta_shape() {
    let u = ig_user();
    let (read_at, read_t) = at(T0, 20);
    let out = run(&[
        line(T0, sample("ig-message.json")),
        say(&u, T0, 2, "yes!", 1),
        say(&u, T0, 4, "B", 2),
        line(&read_at, body(&u, &Action::Read, read_t, 3)),
        say(&u, T0, 30, "Thu works", 4),
        say(&u, T0, 31, "see you then", 5),
    ])
    .await;
    assert_eq!(
        steps(&out),
        ["opener", "qualify", "value", "call_ask"],
        "voice note omitted: no asset configured"
    );
    for o in &out {
        assert_eq!(o.channel, "instagram");
        assert_eq!(o.request["method"], "POST");
        assert_eq!(
            o.request["url"],
            "https://graph.instagram.com/v25.0/17841400000000001/messages"
        );
        assert_eq!(o.request["body"]["recipient"]["id"], "7391048215603847");
        assert!(
            o.request["body"].get("messaging_type").is_none(),
            "Instagram Login takes no messaging_type"
        );
        let text = o.request["body"]["message"]["text"].as_str().unwrap();
        assert!(!text.contains('{') && text.len() <= 1000, "{text}");
    }
    let qr = out[1].request["body"]["message"]["quick_replies"]
        .as_array()
        .expect("options as quick replies");
    let payloads: Vec<&str> = qr.iter().map(|q| q["payload"].as_str().unwrap()).collect();
    assert_eq!(payloads, ["QUALIFY_A", "QUALIFY_B", "QUALIFY_C"]);
    assert!(
        qr.iter()
            .all(|q| q["content_type"] == "text"
                && q["title"].as_str().unwrap().chars().count() <= 20)
    );
    let ask = out[3].request["body"]["message"]["text"].as_str().unwrap();
    assert_eq!(ask.matches("🗓️").count(), 3, "three concrete slots: {ask}");
    assert_eq!(out[0].at, T0);
    assert_eq!(
        out[3].at, read_at,
        "call ask right after the value drop is read"
    );
}

#[tokio::test]
async fn a_silent_lead_gets_two_follow_ups_the_long_tail_and_the_newsletter() {
    let out = run(&[line(T0, sample("ig-message.json"))]).await;
    assert_eq!(
        steps(&out),
        [
            "opener",
            "follow_up_1",
            "follow_up_2",
            "day_7",
            "day_30",
            "newsletter"
        ]
    );
    let t: Vec<DateTime<Utc>> = out.iter().map(|o| utc(&o.at)).collect();
    assert_eq!(t[1] - t[0], Duration::hours(4));
    assert!(
        t[2] - t[0] < Duration::hours(24),
        "follow-up #2 inside Instagram's 24 h window"
    );
    assert!(t[2] - t[1] >= Duration::hours(4));
    assert_eq!(t[3] - t[0], Duration::days(7));
    assert_eq!(out[3].channel, "task");
    assert_eq!(out[5].channel, "newsletter");
    assert_eq!(out[5].request["type"], "newsletter_handoff");
}

#[tokio::test]
async fn stop_ends_the_cadence_with_one_confirmation() {
    let u = ig_user();
    let out = run(&[
        line(T0, sample("ig-message.json")),
        say(&u, T0, 3, "STOP", 1),
        say(&u, T0, 60, "hello?", 2),
    ])
    .await;
    assert_eq!(steps(&out), ["opener", "opt_out"]);
}

#[tokio::test]
async fn whatsapp_preference_stop_and_131050_opt_out_without_a_message() {
    let out = run(&[
        line(T0, sample("wa-text.json")),
        line(
            "2026-12-03T15:05:00Z",
            sample("wa-user-preferences-stop.json"),
        ),
    ])
    .await;
    assert_eq!(steps(&out), ["opener"]);
    let out = run(&[
        line(T0, sample("wa-text.json")),
        line(
            "2026-12-03T15:05:00Z",
            sample("wa-status-failed-131050.json"),
        ),
    ])
    .await;
    assert_eq!(steps(&out), ["opener"]);
}

#[tokio::test]
async fn a_deferral_pauses_until_the_month_asked_for() {
    let u = ig_user();
    let input = [
        line(T0, sample("ig-message.json")),
        say(&u, T0, 5, "not now, maybe in March", 1),
    ]
    .join("\n");
    let until = Some(utc("2027-04-01T00:00:00Z"));
    let out = replay(&input, SimOptions::default(), until)
        .await
        .expect("valid input");
    assert_eq!(steps(&out), ["opener", "defer_ack", "reopen", "newsletter"]);
    let reopen = utc(&out[2].at);
    assert_eq!(
        reopen,
        utc("2027-03-01T10:00:00Z"),
        "1 March, 10:00 in the lead's zone (UTC for the demo account)"
    );
    assert_eq!(
        out[2].channel, "task",
        "Instagram's window is long closed and no email is known"
    );
}

#[tokio::test]
async fn duplicate_deliveries_take_effect_once() {
    let body = sample("ig-message.json");
    let out = run(&[
        line(T0, body.clone()),
        line("2026-12-03T15:00:01Z", body.clone()),
        line("2026-12-03T15:02:00Z", body),
    ])
    .await;
    assert_eq!(out.iter().filter(|o| o.step == "opener").count(), 1);
    assert_eq!(
        out.iter().filter(|o| o.step == "qualify").count(),
        0,
        "a redelivered first message is not a reply"
    );
}

#[tokio::test]
async fn a_human_echo_hands_the_lead_over_and_our_own_echo_does_not() {
    let out = run(&[
        line(T0, sample("ig-message.json")),
        line("2026-12-03T15:09:00Z", sample("ig-echo-human.json")),
    ])
    .await;
    assert_eq!(
        steps(&out),
        ["opener"],
        "a person answered from the inbox: automation stops"
    );

    let mut ours = sample("messenger-echo-human.json");
    let item = &mut ours["entry"][0]["messaging"][0]["message"];
    item["app_id"] = json!(1517776481860111u64);
    item["metadata"] = json!("cadence:whatever");
    let out = run(&[
        line(T0, sample("messenger-message.json")),
        line("2026-12-03T15:00:02Z", ours),
    ])
    .await;
    assert!(
        steps(&out).contains(&"follow_up_1"),
        "our own echo changes nothing: {:?}",
        steps(&out)
    );
}

#[tokio::test]
async fn statuses_alone_start_nothing() {
    let out = run(&[
        line(T0, sample("wa-status-delivered.json")),
        line("2026-12-03T15:01:00Z", sample("wa-status-read.json")),
        line("2026-12-03T15:02:00Z", sample("messenger-delivery.json")),
        line("2026-12-03T15:03:00Z", sample("unknown-object.json")),
    ])
    .await;
    assert!(out.is_empty(), "{out:?}");
}

#[tokio::test]
async fn a_batched_body_is_applied_item_by_item() {
    let out = run(&[line(T0, sample("batched-mixed.json"))]).await;
    let openers: Vec<&OutputLine> = out.iter().filter(|o| o.step == "opener").collect();
    assert_eq!(openers.len(), 2, "two people wrote in one body");
    assert!(
        out.iter().all(|o| o.step != "qualify"),
        "a second message before our answer is absorbed"
    );
}

#[tokio::test]
async fn a_keyword_comment_gets_one_private_reply() {
    let c = sample("ig-comment-keyword.json");
    let out = run(&[
        line(T0, c.clone()),
        line("2026-12-03T15:00:30Z", c),
        line("2026-12-03T15:01:00Z", sample("ig-comment-own.json")),
    ])
    .await;
    let replies: Vec<&OutputLine> = out
        .iter()
        .filter(|o| o.request["body"]["recipient"].get("comment_id").is_some())
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].request["body"]["recipient"]["comment_id"],
        "17865799348089039"
    );
    assert!(
        replies[0].request["body"]["message"]
            .get("quick_replies")
            .is_none(),
        "private replies are text only"
    );
    assert!(
        !out.iter()
            .any(|o| o.step.starts_with("follow_up") && o.channel == "instagram"),
        "no DM follow-ups until the commenter writes back"
    );
}

#[tokio::test]
async fn whatsapp_buttons_answer_the_qualifying_question() {
    let wa = Persona {
        channel: Channel::Whatsapp,
        user: "16505551234".into(),
        name: "Sheena".into(),
    };
    let (a1, t1) = at(T0, 2);
    let (a2, t2) = at(T0, 4);
    let out = run(&[
        line(T0, sample("wa-text.json")),
        line(
            &a1,
            body(
                &wa,
                &Action::Say {
                    text: "yes".into(),
                    payload: None,
                },
                t1,
                1,
            ),
        ),
        line(
            &a2,
            body(
                &wa,
                &Action::Say {
                    text: "For myself".into(),
                    payload: Some("QUALIFY_B".into()),
                },
                t2,
                2,
            ),
        ),
    ])
    .await;
    assert_eq!(&steps(&out)[..3], ["opener", "qualify", "value"]);
    for o in &out[..3] {
        assert_eq!(
            o.request["url"],
            "https://graph.facebook.com/v25.0/106540352242922/messages"
        );
        assert_eq!(o.request["body"]["messaging_product"], "whatsapp");
        assert_eq!(o.request["body"]["to"], "+16505551234");
    }
    let q = &out[1].request["body"];
    assert_eq!(q["type"], "interactive");
    assert_eq!(q["interactive"]["type"], "button");
    let ids: Vec<&str> = q["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reply"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["QUALIFY_A", "QUALIFY_B", "QUALIFY_C"]);
    let v = out[2].request["body"]["text"]["body"].as_str().unwrap();
    assert!(
        v.contains("treat yourself"),
        "variant b of the value drop: {v}"
    );
}

#[tokio::test]
async fn a_username_only_whatsapp_user_is_answered_by_bsuid() {
    let out = run(&[line(T0, sample("wa-bsuid-only.json"))]).await;
    let b = &out[0].request["body"];
    assert_eq!(b["recipient"], "US.13491208655302741918");
    assert!(b.get("to").is_none());
}

#[tokio::test]
async fn messenger_uses_response_then_update_and_never_human_agent() {
    let out = run(&[line(T0, sample("messenger-message.json"))]).await;
    assert_eq!(out[0].request["body"]["messaging_type"], "RESPONSE");
    assert_eq!(out[1].request["body"]["messaging_type"], "UPDATE");
    assert!(out.iter().all(|o| o.request["body"].get("tag").is_none()));
}

#[tokio::test]
async fn an_ad_referral_sets_the_topic() {
    let out = run(&[line(T0, sample("wa-ctwa-referral.json"))]).await;
    let text = out[0].request["body"]["text"]["body"].as_str().unwrap();
    let headline = sample("wa-ctwa-referral.json")["entry"][0]["changes"][0]["value"]["messages"]
        [0]["referral"]["headline"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains(&headline), "{text} should mention {headline}");
}

// ---- the binary ----

fn cadence(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadence"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cadence");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_binary_output_is_byte_identical_across_runs_and_well_formed() {
    let input = [
        line(T0, sample("ig-message.json")),
        line("2026-12-03T15:01:00Z", sample("wa-text.json")),
        line("2026-12-03T15:02:00Z", sample("messenger-message.json")),
        line("2026-12-03T15:03:00Z", sample("ig-comment-keyword.json")),
    ]
    .join("\n");
    let (c1, o1, _) = cadence(&["replay", "--events", "-"], &input);
    let (c2, o2, _) = cadence(&["replay", "--events", "-"], &input);
    assert_eq!((c1, c2), (0, 0));
    assert_eq!(o1, o2);
    let mut prev = String::new();
    for l in o1.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["at", "lead", "step", "channel", "request"]);
        let at = v["at"].as_str().unwrap().to_string();
        assert!(at >= prev, "time order");
        prev = at;
        assert!(v["lead"].as_str().unwrap().starts_with("ld_"));
        assert!([
            "instagram",
            "messenger",
            "whatsapp",
            "email",
            "task",
            "newsletter"
        ]
        .contains(&v["channel"].as_str().unwrap()));
    }
}

#[test]
fn a_malformed_line_exits_2_naming_it_and_runs_nothing() {
    let good = line(T0, sample("ig-message.json"));
    for (bad, expect) in [
        ("{not json", "line 2"),
        (r#"{"at":"yesterday","webhook":{}}"#, "line 2"),
        (r#"{"at":"2026-12-03T15:00:00Z"}"#, "line 2"),
        (
            r#"{"at":"2026-12-03T15:00:00Z","webhook":"body"}"#,
            "line 2",
        ),
        (
            r#"{"at":"2026-12-01T15:00:00Z","webhook":{"object":"page","entry":[]}}"#,
            "line 2",
        ),
    ] {
        let (code, out, err) = cadence(&["replay", "--events", "-"], &format!("{good}\n{bad}\n"));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(out.is_empty(), "nothing runs on a bad input");
        assert!(err.contains(expect), "{err}");
    }
}

#[test]
fn until_stops_the_virtual_clock() {
    let input = line(T0, sample("ig-message.json"));
    let (code, out, _) = cadence(
        &["replay", "--events", "-", "--until", "2026-12-03T20:00:00Z"],
        &input,
    );
    assert_eq!(code, 0);
    let steps: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(steps, ["opener", "follow_up_1"]);
}

#[test]
fn validate_reports_file_field_reason_and_exit_codes() {
    let dir = std::env::temp_dir().join(format!("cadence-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "id: x\nsteps:\n  - id: opener\n    trigger: hello\n    within: 5m\n    text: hi\nend: { action: newsletter, after: 3d }\n").unwrap();
    let good = format!(
        "{}/../../shared/core/cadences/coach-ig.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, _, _) = cadence(&["validate", &good], "");
    assert_eq!(code, 0);
    let (code, _, err) = cadence(&["validate", bad.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{}: steps[0].trigger: unknown trigger `hello`",
            bad.display()
        )),
        "{err}"
    );
}

#[test]
fn demo_and_preview_run() {
    let (code, out, _) = cadence(&["demo"], "");
    assert_eq!(code, 0);
    for ending in [
        "final status booked",
        "final status newsletter",
        "final status opted_out",
    ] {
        assert!(out.contains(ending), "{ending} in demo output");
    }
    let (code, out, err) = cadence(
        &[
            "preview",
            "--cadence",
            "whatsapp-ecom",
            "--tz",
            "Europe/Paris",
            "--start",
            "2026-12-07T09:00:00Z",
            "--replies",
            "+2m yes; +5m b; +20m <read>",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("call_ask"), "{out}");
    let (code, _, err) = cadence(
        &[
            "preview",
            "--cadence",
            "nope",
            "--start",
            "2026-12-07T09:00:00Z",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("no cadence `nope`"));
}
