//! Accounts config: which business ids Cadence answers for, with which cadence, zone, quiet hours, keywords,
//! call availability, assets and senders. Without a file, a demo account answers for any id.

use crate::cadence::{CadenceError, CadenceErrors, QuietHours};
use crate::duration::parse_duration;
use crate::ids::Channel;
use crate::timing::default_quiet_hours;
use chrono::{Duration, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;

/// All accounts this deployment serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounts {
    accounts: Vec<Account>,
    /// No config file: one demo account answers for every business id.
    demo: bool,
}

/// One business.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Short key used in logs and lead records.
    pub id: String,
    pub business: String,
    /// Instagram professional account id (the webhook `entry.id`; Instagram Login `user_id`).
    pub instagram_id: Option<String>,
    /// Facebook Page id (Messenger, and Instagram through a Page).
    pub page_id: Option<String>,
    /// WhatsApp Cloud API phone number id.
    pub whatsapp_phone_number_id: Option<String>,
    /// Where each channel's access token comes from (`env:NAME`, `ssm:/path`, `secretsmanager:name`).
    pub tokens: BTreeMap<Channel, String>,
    /// Cadence id per channel.
    pub cadences: BTreeMap<Channel, String>,
    /// Zone for leads whose own zone is unknown.
    pub timezone: Tz,
    pub quiet_hours: QuietHours,
    /// Comment keywords that start the cadence (whole words, any case).
    pub keywords: Vec<String>,
    pub availability: Availability,
    /// What leads usually ask about, for `{topic}`.
    pub topic: Option<String>,
    pub email_from: Option<String>,
    /// `List-Unsubscribe` header for email touches.
    pub list_unsubscribe: Option<String>,
    /// Media URLs for `{asset.NAME}`.
    pub assets: BTreeMap<String, String>,
    /// Booking page (Cal.com or Calendly) for `{booking_link}`.
    pub booking_link: Option<String>,
    /// Our Meta app id: echoes carrying it are our own sends.
    pub app_id: Option<String>,
    /// High-ticket offers: a human makes the call ask.
    pub high_ticket: bool,
}

/// Weekly hours for call slots, in the business's zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    pub timezone: Tz,
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub slot: Duration,
    pub min_notice: Duration,
    /// Preferred start times, used in turn for the first, second, third slot ("Tue 2pm, Thu 10am, Fri 4pm").
    pub preferred: Vec<NaiveTime>,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

impl Default for Availability {
    fn default() -> Self {
        Availability {
            timezone: Tz::UTC,
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            start: hm(9, 0),
            end: hm(17, 0),
            slot: Duration::minutes(20),
            min_notice: Duration::hours(2),
            preferred: vec![hm(14, 0), hm(10, 0), hm(16, 0)],
        }
    }
}

/// Keywords the demo account answers comments with.
pub const DEMO_KEYWORDS: &[&str] = &["info", "link", "guide"];

impl Account {
    /// The demo account: any id, `coach-ig` on Instagram and Messenger, `whatsapp-ecom` on WhatsApp, UTC, quiet
    /// hours 21:00–08:00.
    pub fn demo() -> Account {
        Account {
            id: "demo".into(),
            business: "Cadence Demo".into(),
            instagram_id: None,
            page_id: None,
            whatsapp_phone_number_id: None,
            tokens: [
                (Channel::Instagram, "env:META_INSTAGRAM_TOKEN".to_string()),
                (Channel::Messenger, "env:META_PAGE_TOKEN".to_string()),
                (Channel::Whatsapp, "env:META_WHATSAPP_TOKEN".to_string()),
            ]
            .into(),
            cadences: [
                (Channel::Instagram, "coach-ig".to_string()),
                (Channel::Messenger, "coach-ig".to_string()),
                (Channel::Whatsapp, "whatsapp-ecom".to_string()),
            ]
            .into(),
            timezone: Tz::UTC,
            quiet_hours: default_quiet_hours(),
            keywords: DEMO_KEYWORDS.iter().map(|k| k.to_string()).collect(),
            availability: Availability::default(),
            topic: None,
            email_from: None,
            list_unsubscribe: None,
            assets: BTreeMap::new(),
            booking_link: None,
            app_id: None,
            high_ticket: false,
        }
    }

    /// The cadence id for a channel.
    pub fn cadence_for(&self, channel: Channel) -> &str {
        self.cadences
            .get(&channel)
            .map(String::as_str)
            .unwrap_or(match channel {
                Channel::Whatsapp => "whatsapp-ecom",
                _ => "coach-ig",
            })
    }

    /// Does this comment contain one of the keywords as a whole word (any case)?
    pub fn comment_matches(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        self.keywords.iter().any(|k| {
            let k = k.to_lowercase();
            let kw: Vec<&str> = k.split_whitespace().collect();
            !kw.is_empty() && words.windows(kw.len()).any(|w| w == kw.as_slice())
        })
    }

    fn serves(&self, channel: Channel, business_id: &str) -> bool {
        let id = match channel {
            Channel::Instagram => self.instagram_id.as_deref(),
            Channel::Messenger => self.page_id.as_deref(),
            Channel::Whatsapp => self.whatsapp_phone_number_id.as_deref(),
        };
        id == Some(business_id)
    }
}

impl Accounts {
    /// No config file: the demo account for every id.
    pub fn demo() -> Accounts {
        Accounts {
            accounts: vec![Account::demo()],
            demo: true,
        }
    }

    /// The account that owns `business_id` on `channel`.
    pub fn resolve(&self, channel: Channel, business_id: &str) -> Option<&Account> {
        if self.demo {
            return self.accounts.first();
        }
        self.accounts
            .iter()
            .find(|a| a.serves(channel, business_id))
    }

    /// An account by key.
    pub fn get(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    pub fn all(&self) -> &[Account] {
        &self.accounts
    }

    /// Loads and validates an accounts file. `cadence_exists` says whether a cadence id is known.
    pub fn from_yaml(
        file: &str,
        yaml: &str,
        cadence_exists: impl Fn(&str) -> bool,
    ) -> Result<Accounts, CadenceErrors> {
        let raw: RawAccounts = serde_norway::from_str(yaml).map_err(|e| {
            let field = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "(document)".into());
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            CadenceErrors(vec![CadenceError {
                file: file.into(),
                field,
                reason: msg,
            }])
        })?;
        let mut errors = Vec::new();
        let mut err = |field: String, reason: String| {
            errors.push(CadenceError {
                file: file.into(),
                field,
                reason,
            })
        };
        let mut accounts = Vec::new();
        if raw.accounts.is_empty() {
            err("accounts".into(), "no accounts".into());
        }
        for (i, a) in raw.accounts.into_iter().enumerate() {
            let f = format!("accounts[{i}]");
            let mut acc = Account::demo();
            acc.id = a.id.clone();
            acc.business = a.business.unwrap_or_else(|| a.id.clone());
            if a.instagram_id.is_none()
                && a.page_id.is_none()
                && a.whatsapp_phone_number_id.is_none()
            {
                err(
                    f.clone(),
                    "needs instagram_id, page_id or whatsapp_phone_number_id".into(),
                );
            }
            acc.instagram_id = a.instagram_id;
            acc.page_id = a.page_id;
            acc.whatsapp_phone_number_id = a.whatsapp_phone_number_id;
            for (k, v) in a.tokens {
                match Channel::parse(&k) {
                    Some(c) => {
                        let ok = ["env:", "ssm:", "secretsmanager:"]
                            .iter()
                            .any(|p| v.starts_with(p));
                        if !ok {
                            err(format!("{f}.tokens.{k}"), "a reference like env:NAME, ssm:/path or secretsmanager:name, never the token itself".into());
                        }
                        acc.tokens.insert(c, v);
                    }
                    None => err(
                        format!("{f}.tokens.{k}"),
                        "unknown channel (instagram, messenger, whatsapp)".into(),
                    ),
                }
            }
            for (k, v) in a.cadences {
                match Channel::parse(&k) {
                    Some(c) => {
                        if !cadence_exists(&v) {
                            err(format!("{f}.cadences.{k}"), format!("no cadence `{v}`"));
                        }
                        acc.cadences.insert(c, v);
                    }
                    None => err(
                        format!("{f}.cadences.{k}"),
                        "unknown channel (instagram, messenger, whatsapp)".into(),
                    ),
                }
            }
            if let Some(z) = a.timezone {
                match z.parse::<Tz>() {
                    Ok(tz) => {
                        acc.timezone = tz;
                        acc.availability.timezone = tz;
                    }
                    Err(_) => err(format!("{f}.timezone"), format!("unknown time zone `{z}`")),
                }
            }
            let time = |field: String, s: &str, errs: &mut dyn FnMut(String, String)| {
                match NaiveTime::parse_from_str(s, "%H:%M") {
                    Ok(t) => Some(t),
                    Err(_) => {
                        errs(field, format!("`{s}` is not a time like 08:00"));
                        None
                    }
                }
            };
            if let Some(q) = a.quiet_hours {
                if let (Some(s), Some(e)) = (
                    time(format!("{f}.quiet_hours.start"), &q.start, &mut err),
                    time(format!("{f}.quiet_hours.end"), &q.end, &mut err),
                ) {
                    acc.quiet_hours = QuietHours { start: s, end: e };
                }
            }
            if let Some(k) = a.keywords {
                acc.keywords = k;
            }
            if let Some(av) = a.availability {
                let af = format!("{f}.availability");
                if let Some(z) = av.timezone {
                    match z.parse::<Tz>() {
                        Ok(tz) => acc.availability.timezone = tz,
                        Err(_) => err(format!("{af}.timezone"), format!("unknown time zone `{z}`")),
                    }
                }
                if let Some(days) = av.days {
                    let mut parsed = Vec::new();
                    for d in days {
                        match d.parse::<Weekday>() {
                            Ok(w) => parsed.push(w),
                            Err(_) => err(
                                format!("{af}.days"),
                                format!("`{d}` is not a weekday (mon … sun)"),
                            ),
                        }
                    }
                    acc.availability.days = parsed;
                }
                if let Some(h) = av.hours {
                    match h.split_once('-') {
                        Some((s, e)) => {
                            if let (Some(s), Some(e)) = (
                                time(format!("{af}.hours"), s.trim(), &mut err),
                                time(format!("{af}.hours"), e.trim(), &mut err),
                            ) {
                                if s >= e {
                                    err(format!("{af}.hours"), "start must be before end".into());
                                }
                                acc.availability.start = s;
                                acc.availability.end = e;
                            }
                        }
                        None => err(format!("{af}.hours"), "use HH:MM-HH:MM".into()),
                    }
                }
                for (field, val, slot) in [
                    ("slot", av.slot, true),
                    ("min_notice", av.min_notice, false),
                ] {
                    if let Some(v) = val {
                        match parse_duration(&v) {
                            Ok(d) if slot => acc.availability.slot = d,
                            Ok(d) => acc.availability.min_notice = d,
                            Err(e) => err(format!("{af}.{field}"), e),
                        }
                    }
                }
                if let Some(p) = av.preferred {
                    let mut parsed = Vec::new();
                    for t in p {
                        if let Some(t) = time(format!("{af}.preferred"), &t, &mut err) {
                            parsed.push(t);
                        }
                    }
                    acc.availability.preferred = parsed;
                }
            }
            acc.topic = a.topic;
            if let Some(e) = a.email {
                if !e.from.contains('@') {
                    err(format!("{f}.email.from"), "not an email address".into());
                }
                acc.email_from = Some(e.from);
                acc.list_unsubscribe = e.list_unsubscribe;
            }
            for (k, v) in &a.assets {
                if !v.starts_with("https://") {
                    err(
                        format!("{f}.assets.{k}"),
                        "assets are https:// URLs Meta can fetch".into(),
                    );
                }
            }
            acc.assets = a.assets;
            acc.booking_link = a.booking_link;
            acc.app_id = a.app_id;
            acc.high_ticket = a.high_ticket.unwrap_or(false);
            accounts.push(acc);
        }
        if errors.is_empty() {
            Ok(Accounts {
                accounts,
                demo: false,
            })
        } else {
            Err(CadenceErrors(errors))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccounts {
    accounts: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: String,
    business: Option<String>,
    instagram_id: Option<String>,
    page_id: Option<String>,
    whatsapp_phone_number_id: Option<String>,
    #[serde(default)]
    tokens: BTreeMap<String, String>,
    #[serde(default)]
    cadences: BTreeMap<String, String>,
    timezone: Option<String>,
    quiet_hours: Option<RawQuiet>,
    keywords: Option<Vec<String>>,
    availability: Option<RawAvailability>,
    topic: Option<String>,
    email: Option<RawEmail>,
    #[serde(default)]
    assets: BTreeMap<String, String>,
    booking_link: Option<String>,
    app_id: Option<String>,
    high_ticket: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuiet {
    start: String,
    end: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAvailability {
    timezone: Option<String>,
    days: Option<Vec<String>>,
    hours: Option<String>,
    slot: Option<String>,
    min_notice: Option<String>,
    preferred: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    from: String,
    list_unsubscribe: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whole_words_in_any_case() {
        let a = Account::demo();
        assert!(a.comment_matches("INFO please!"));
        assert!(a.comment_matches("send me the guide 🙏"));
        assert!(!a.comment_matches("information overload"));
        assert!(!a.comment_matches("linked"));
    }

    #[test]
    fn accounts_file_resolves_by_business_id_and_reports_bad_fields() {
        let yaml = r#"
accounts:
  - id: acme
    instagram_id: "1784"
    whatsapp_phone_number_id: "1065"
    timezone: Europe/Paris
    cadences: { whatsapp: whatsapp-ecom }
"#;
        let accts =
            Accounts::from_yaml("accounts.yaml", yaml, |c| c == "whatsapp-ecom").expect("valid");
        assert_eq!(
            accts
                .resolve(Channel::Instagram, "1784")
                .map(|a| a.id.as_str()),
            Some("acme")
        );
        assert!(accts.resolve(Channel::Instagram, "999").is_none());

        let bad = r#"
accounts:
  - id: acme
    page_id: "1"
    timezone: Mars/Olympus
    tokens: { messenger: "EAAB-raw-token" }
    cadences: { telegram: coach-ig }
"#;
        let errs = Accounts::from_yaml("accounts.yaml", bad, |_| true)
            .expect_err("invalid")
            .to_string();
        assert!(
            errs.contains("accounts.yaml: accounts[0].timezone: unknown time zone"),
            "{errs}"
        );
        assert!(errs.contains("accounts[0].tokens.messenger"), "{errs}");
        assert!(errs.contains("accounts[0].cadences.telegram"), "{errs}");
    }
}
