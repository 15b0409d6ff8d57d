//! Placeholders: `{first_name}`, `{topic}`, `{slot_1}` … filled from the lead, the account and the answers.
//! A missing value falls back to the cadence's defaults, then to a neutral built-in; a raw `{placeholder}`
//! never reaches a lead.

use std::collections::BTreeMap;

/// Placeholders any text may use (plus `asset.NAME`, `answer.STEP` and `slot_N`).
pub const KNOWN_PLACEHOLDERS: &[&str] = &[
    "first_name",
    "name",
    "topic",
    "business",
    "context",
    "answer",
    "slots",
    "booking_link",
    "deferral",
];

/// Built-in fallbacks for placeholders whose source is empty and which the cadence gives no default for.
fn builtin_default(name: &str) -> &'static str {
    match name {
        "first_name" | "name" => "there",
        "topic" => "this",
        "business" => "our team",
        "context" => "your situation",
        "answer" => "that",
        "deferral" => "later",
        _ => "",
    }
}

/// The placeholder names in `text`, in order. `Err` names the problem (unclosed brace, empty or malformed name).
pub fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "unclosed `{` in text".to_string())?;
        let name = &after[..close];
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !ok {
            return Err(format!(
                "`{{{name}}}` is not a placeholder name (lowercase letters, digits, _ and .)"
            ));
        }
        out.push(name);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("stray `}` in text".into());
    }
    Ok(out)
}

/// Values available to a text. Unset values fall back to `defaults`, then built-in defaults.
#[derive(Debug, Default, Clone)]
pub struct Values<'a> {
    pub values: BTreeMap<&'a str, String>,
    pub defaults: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Values<'a> {
    pub fn set(&mut self, name: &'a str, value: impl Into<String>) {
        let v = value.into();
        if !v.trim().is_empty() {
            self.values.insert(name, v);
        }
    }

    /// The value for a placeholder; empty when nothing (not even a default) fills it.
    pub fn get(&self, name: &str) -> String {
        if let Some(v) = self.values.get(name) {
            return v.clone();
        }
        if let Some(v) = self.defaults.and_then(|d| d.get(name)) {
            return v.clone();
        }
        builtin_default(name).to_string()
    }
}

/// Fills every placeholder in `text`. Unknown or empty ones become their default, or disappear, so no brace
/// ever reaches a lead. Whitespace left doubled by a vanished value is collapsed.
pub fn render(text: &str, values: &Values<'_>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    let mut removed = false;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let v = values.get(&after[..close]);
                removed |= v.is_empty();
                out.push_str(&v);
                rest = &after[close + 1..];
            }
            None => {
                // Validation rejects this; at run time drop the brace rather than show it.
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.contains('}') {
        out = out.replace('}', "");
    }
    if removed {
        out = collapse_spaces(&out);
    }
    out
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(c);
            }
            prev_space = true;
        } else {
            // " ," left behind by a vanished value reads as a typo.
            if matches!(c, ',' | '.' | '!' | '?') && prev_space && out.ends_with(' ') {
                out.pop();
            }
            out.push(c);
            prev_space = false;
        }
    }
    out.trim().to_string()
}

/// The first name from a display name ("Sheena Nelson" → "Sheena"), if it looks like one.
pub fn first_name(name: &str) -> Option<String> {
    let first = name.split_whitespace().next()?;
    // Handles ("renee.fit", "coach_ana", "ana92") are not names; "Hey there" beats "Hey reneefit".
    if first
        .chars()
        .any(|c| c == '.' || c == '_' || c == '@' || c.is_ascii_digit())
    {
        return None;
    }
    let clean: String = first
        .chars()
        .filter(|c| c.is_alphabetic() || *c == '-' || *c == '\'')
        .collect();
    (clean.chars().count() >= 2 && clean.chars().count() <= 30).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_values_and_defaults() {
        let defaults: BTreeMap<String, String> =
            [("topic".to_string(), "coaching".to_string())].into();
        let mut v = Values {
            defaults: Some(&defaults),
            ..Default::default()
        };
        v.set("first_name", "Ada");
        assert_eq!(
            render("Hey {first_name}, about {topic}?", &v),
            "Hey Ada, about coaching?"
        );
        assert_eq!(render("Hey {name}", &Values::default()), "Hey there");
    }

    #[test]
    fn never_leaves_braces_for_a_lead() {
        let v = Values::default();
        let out = render("Hi {unknown_thing}, see {asset.voice} and {broken", &v);
        assert!(!out.contains('{') && !out.contains('}'), "{out}");
    }

    #[test]
    fn finds_placeholders_and_rejects_malformed_ones() {
        assert_eq!(placeholders("a {x} b {slot_1}"), Ok(vec!["x", "slot_1"]));
        assert!(placeholders("a {X}").is_err());
        assert!(placeholders("a {x").is_err());
        assert!(placeholders("a } b").is_err());
        assert!(placeholders("{}").is_err());
    }

    #[test]
    fn first_names_come_from_display_names() {
        assert_eq!(first_name("Sheena Nelson").as_deref(), Some("Sheena"));
        assert_eq!(first_name("🔥🔥").as_deref(), None);
        assert_eq!(first_name("  Zoë  ").as_deref(), Some("Zoë"));
        assert_eq!(first_name("renée.fit").as_deref(), None);
        assert_eq!(first_name("coach_ana").as_deref(), None);
    }
}
