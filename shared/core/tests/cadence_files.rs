//! Cadence file validation: every broken file is refused with `file: field: reason`, and nothing loads half.

use cadence_core::cadence::{Cadence, BUILTINS};

const VALID: &str = r#"
id: tiny
steps:
  - id: opener
    trigger: first_contact
    within: 5m
    text: "Hi {first_name}, one quick question?"
  - id: qualify
    trigger: reply
    within: 15m
    text: "Which one: (a) reach or (b) clients?"
    options:
      - { key: a, label: Reach }
      - { key: b, label: Clients }
    otherwise: b
  - id: value
    trigger: answer
    within: 1h
    variants:
      a: { text: "Reach tip" }
      b: { text: "Clients tip" }
  - id: call_ask
    trigger: engaged
    within: 4h
    slots: 3
    text: "Pick one: {slot_1}, {slot_2} or {slot_3}"
follow_ups:
  - id: follow_up_1
    after: 4h
    text: "Still there?"
long_tail:
  - { id: day_7, at: 7d, channel: task, text: "Engage with their content" }
end: { action: newsletter, after: 3d }
"#;

/// Loads `VALID` with one substitution and returns the error lines.
fn errors_after(from: &str, to: &str) -> Vec<String> {
    assert!(VALID.contains(from), "fixture does not contain {from:?}");
    let yaml = VALID.replacen(from, to, 1);
    match Cadence::from_yaml("broken.yaml", &yaml) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_error(from: &str, to: &str, expected: &str) {
    let errs = errors_after(from, to);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("broken.yaml: ") && e.contains(expected)),
        "expected an error containing {expected:?}, got {errs:#?}"
    );
}

#[test]
fn the_fixture_itself_is_valid() {
    let c = Cadence::from_yaml("tiny.yaml", VALID).expect("valid");
    assert_eq!(c.steps.len(), 4);
    assert_eq!(
        c.follow_ups[0].after,
        cadence_core::chrono::Duration::hours(4)
    );
}

#[test]
fn an_unknown_trigger_is_named() {
    assert_error(
        "trigger: engaged",
        "trigger: clicked",
        "steps[3].trigger: unknown trigger `clicked`",
    );
}

#[test]
fn a_no_reply_touch_faster_than_four_hours_is_refused() {
    assert_error(
        "after: 4h",
        "after: 30m",
        "follow_ups[0].after: a no-reply touch must wait at least 4h",
    );
}

#[test]
fn a_variant_for_an_option_that_does_not_exist_is_refused() {
    assert_error(
        "      b: { text: \"Clients tip\" }",
        "      b: { text: \"Clients tip\" }\n      z: { text: \"Nope\" }",
        "steps[2].variants.z: variant for option `z`, which the previous step does not offer",
    );
}

#[test]
fn a_placeholder_no_source_can_fill_is_refused() {
    assert_error(
        "Hi {first_name}",
        "Hi {favourite_colour}",
        "steps[0].text: placeholder {favourite_colour} cannot be filled",
    );
}

#[test]
fn an_invalid_duration_is_refused() {
    assert_error(
        "within: 1h",
        "within: an hour",
        "steps[2].within: invalid duration",
    );
}

#[test]
fn an_invalid_time_zone_is_refused() {
    assert_error(
        "id: tiny\n",
        "id: tiny\ntimezone: Europe/Atlantis\n",
        "timezone: unknown time zone `Europe/Atlantis`",
    );
}

#[test]
fn more_than_twelve_touches_is_refused() {
    let many: String = (8..=17)
        .map(|d| format!("  - {{ id: day_{d}, at: {d}d, channel: task, text: \"Touch {d}\" }}\n"))
        .collect();
    assert_error(
        "  - { id: day_7, at: 7d, channel: task, text: \"Engage with their content\" }\n",
        &format!("  - {{ id: day_7, at: 7d, channel: task, text: \"Engage with their content\" }}\n{many}"),
        "touches; a cadence has at most 12",
    );
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let errs = errors_after("    within: 5m\n", "    within: 5m\n    colour: blue\n");
    assert!(
        errs.iter()
            .any(|e| e.contains("unknown field `colour`") && e.contains("line")),
        "{errs:#?}"
    );
}

#[test]
fn otherwise_must_name_an_option() {
    assert_error(
        "otherwise: b",
        "otherwise: q",
        "steps[1].otherwise: no option `q`",
    );
}

#[test]
fn answer_needs_a_previous_step_with_options() {
    assert_error(
        "trigger: reply",
        "trigger: answer",
        "steps[1].trigger: `answer` needs a previous step with options",
    );
}

#[test]
fn the_first_step_must_be_first_contact() {
    assert_error(
        "trigger: first_contact",
        "trigger: reply",
        "steps[0].trigger: the first step must be first_contact",
    );
}

#[test]
fn a_slot_placeholder_needs_slots_offered_by_then() {
    assert_error(
        "slots: 3",
        "slots: 2",
        "placeholder {slot_3} refers to a slot not offered by then",
    );
}

#[test]
fn email_fallback_before_the_long_tail_is_refused() {
    assert_error(
        "    text: \"Still there?\"",
        "    text: \"Still there?\"\n    fallback: [email]",
        "follow_ups[0].fallback[0]: email fallback is only allowed in the long tail",
    );
}

#[test]
fn duplicate_step_ids_are_refused() {
    assert_error("id: value", "id: opener", "duplicate id `opener`");
}

#[test]
fn option_labels_must_fit_whatsapp_buttons() {
    assert_error(
        "label: Reach",
        "label: A label far too long for any button",
        "steps[1].options[0].label: 1–20 characters",
    );
}

#[test]
fn an_email_touch_needs_a_subject() {
    assert_error(
        "channel: task",
        "channel: email",
        "long_tail[0].subject: email touches need a subject",
    );
}

#[test]
fn a_missing_variant_without_default_is_refused() {
    assert_error(
        "      b: { text: \"Clients tip\" }\n",
        "",
        "steps[2].variants: no variant for option `b` and no `default`",
    );
}

#[test]
fn broken_yaml_reports_a_location() {
    let err = Cadence::from_yaml("x.yaml", "id: [unclosed")
        .expect_err("invalid")
        .to_string();
    assert!(err.starts_with("x.yaml: line "), "{err}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let yaml =
        VALID
            .replacen("after: 4h", "after: 1h", 1)
            .replacen("within: 1h", "within: soon", 1);
    let errs = Cadence::from_yaml("broken.yaml", &yaml).expect_err("invalid");
    assert!(errs.0.len() >= 2, "{errs}");
}

#[test]
fn built_ins_follow_the_playbook_timings() {
    for (id, yaml) in BUILTINS {
        let c = Cadence::from_yaml(id, yaml).expect("built-in is valid");
        let hours = |d: cadence_core::chrono::Duration| d.num_minutes() as f64 / 60.0;
        assert_eq!(c.steps.len(), 4, "{id}: opener, qualify, value, call ask");
        assert!(
            c.steps[0].within <= cadence_core::chrono::Duration::minutes(5),
            "{id}: step 1 within 5 min"
        );
        assert_eq!(
            hours(c.follow_ups[0].after),
            4.0,
            "{id}: follow-up #1 at +4 h"
        );
        assert_eq!(
            hours(c.follow_ups[1].after),
            23.0,
            "{id}: follow-up #2 at +23 h"
        );
        let days: Vec<i64> = c.long_tail.iter().map(|t| t.at.num_days()).collect();
        assert_eq!(days, [7, 14, 30], "{id}: long tail +7/+14/+30 d");
        assert!(c.end.newsletter, "{id}: ends with the newsletter");
    }
}

// ------------------------------------------------------------------------------------------- A/B arms

const OPENER: &str = r#"    text: "Hi {first_name}, one quick question?""#;

#[test]
fn an_ab_test_loads_with_its_arms_weights_and_content() {
    let yaml = VALID.replacen(
        OPENER,
        r#"    text: "Hi {first_name}, one quick question?"
    ab:
      a: { weight: 3 }
      short: { weight: 1, text: "Hey! Quick one?" }"#,
        1,
    );
    let c = Cadence::from_yaml("ab.yaml", &yaml).expect("valid");
    let arms: Vec<(&str, u32, Option<&str>)> = c.steps[0]
        .ab
        .iter()
        .map(|a| {
            (
                a.key.as_str(),
                a.weight,
                a.content.pick(None).map(|c| c.text.as_str()),
            )
        })
        .collect();
    assert_eq!(
        arms,
        vec![
            ("a", 3, Some("Hi {first_name}, one quick question?")),
            ("short", 1, Some("Hey! Quick one?")),
        ]
    );
    assert!(
        c.steps[1].ab.is_empty(),
        "steps without `ab` are not under test"
    );
}

#[test]
fn ab_arms_of_an_answer_keyed_step_and_of_a_follow_up_are_checked_like_the_step() {
    // An arm of the value step must cover the previous step's options, like the step's own variants.
    assert_error(
        r#"      b: { text: "Clients tip" }"#,
        r#"      b: { text: "Clients tip" }
    ab:
      b:
        variants:
          a: { text: "Reach tip, take two" }"#,
        "steps[2].ab.b.variants: no variant for option `b` and no `default`",
    );
    assert_error(
        r#"    text: "Still there?""#,
        r#"    text: "Still there?"
    ab:
      b: { text: "Any thoughts, {nope}?" }"#,
        "follow_ups[0].ab.b",
    );
}

#[test]
fn ab_mistakes_are_named() {
    assert_error(
        OPENER,
        &format!(
            "{OPENER}\n    ab:\n      a: {{ weight: 2, text: \"x\" }}\n      b: {{ text: \"y\" }}"
        ),
        "steps[0].ab.a: arm `a` is the step's own content; give it only a `weight`",
    );
    assert_error(
        OPENER,
        &format!("{OPENER}\n    ab:\n      a: {{ weight: 2 }}"),
        "steps[0].ab: an A/B test needs an arm besides `a`",
    );
    assert_error(
        OPENER,
        &format!("{OPENER}\n    ab:\n      Short: {{ text: \"y\" }}"),
        "steps[0].ab.Short: arm names are short lowercase letters or digits",
    );
    assert_error(
        OPENER,
        &format!(
            "{OPENER}\n    ab:\n      a: {{ weight: 0 }}\n      b: {{ weight: 0, text: \"y\" }}"
        ),
        "steps[0].ab: every arm has weight 0",
    );
    assert_error(
        OPENER,
        &format!("{OPENER}\n    ab:\n      b: {{ weight: 1 }}"),
        "steps[0].ab.b: needs `text` or `variants`",
    );
    let errs = errors_after(
        OPENER,
        &format!("{OPENER}\n    ab:\n      b: {{ txt: \"y\" }}"),
    );
    assert!(
        errs.iter().any(|e| e.contains("unknown field `txt`")),
        "{errs:#?}"
    );
}

#[test]
fn arms_are_sticky_per_lead_and_spread_by_weight() {
    use cadence_core::cadence::{pick_arm, Arm, Variants};
    let arm = |key: &str, weight| Arm {
        key: key.into(),
        weight,
        content: Variants {
            by_key: Default::default(),
            default: None,
        },
    };
    let arms = [arm("a", 3), arm("b", 1), arm("never", 0)];
    let mut counts = std::collections::BTreeMap::new();
    for n in 0..4000 {
        let lead = format!("ld_{n:020x}");
        let first = pick_arm(&arms, &lead, "opener").unwrap().key.clone();
        assert_eq!(
            pick_arm(&arms, &lead, "opener").unwrap().key,
            first,
            "same lead, same step, same arm"
        );
        *counts.entry(first).or_insert(0u32) += 1;
    }
    assert_eq!(counts.get("never"), None, "a weight-0 arm is never picked");
    let a = f64::from(counts["a"]) / 4000.0;
    assert!(
        (0.72..0.78).contains(&a),
        "arm a got {a} of leads (weight 3 of 4)"
    );
    assert!(pick_arm(&[arm("a", 0)], "ld_x", "opener").is_none());
}
