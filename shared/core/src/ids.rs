//! Identifiers: channels, accounts, platform users and the derived lead id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A messaging channel a lead can write to us on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Instagram,
    Messenger,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Instagram => "instagram",
            Channel::Messenger => "messenger",
            Channel::Whatsapp => "whatsapp",
        }
    }

    /// Parses the lowercase name used in files and on the command line.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "instagram" => Some(Channel::Instagram),
            "messenger" => Some(Channel::Messenger),
            "whatsapp" => Some(Channel::Whatsapp),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote to us, as the platform names them. Instagram and Messenger give one scoped id (IGSID, PSID);
/// WhatsApp gives a phone-based `wa_id`, a business-scoped user id (BSUID), or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct UserRef {
    /// IGSID, PSID or WhatsApp `wa_id` (digits of the phone number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// WhatsApp business-scoped user id (`US.1349…`), present since 2026 and the only id for username users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsuid: Option<String>,
}

impl UserRef {
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            bsuid: None,
        }
    }

    /// Every identity this user can be found under, most stable first. A lead created from one of them is
    /// found again from a later event that carries another, because lead ids are derived from each in turn.
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        self.id.as_deref().into_iter().chain(self.bsuid.as_deref())
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.bsuid.is_none()
    }
}

/// A lead's id: `ld_` + 20 hex digits of SHA-256 over (account, channel, platform user id).
///
/// Derived, not random, so a retried webhook maps to the same lead; hashed, so ids that end up in logs, schedule
/// names and URLs carry no phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeadId(String);

impl LeadId {
    pub fn derive(account: &str, channel: Channel, user: &str) -> Self {
        let mut h = Sha256::new();
        h.update(account.as_bytes());
        h.update([0u8]);
        h.update(channel.as_str().as_bytes());
        h.update([0u8]);
        h.update(user.as_bytes());
        let digest = h.finalize();
        LeadId(format!("ld_{}", &hex::encode(digest)[..20]))
    }

    /// Accepts a stored or typed id, checking its shape.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 23
            && s.starts_with("ld_")
            && s[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| LeadId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_ids_are_stable_and_distinct_per_channel_and_account() {
        let a = LeadId::derive("17841400000", Channel::Instagram, "123");
        assert_eq!(a, LeadId::derive("17841400000", Channel::Instagram, "123"));
        assert_ne!(a, LeadId::derive("17841400000", Channel::Messenger, "123"));
        assert_ne!(a, LeadId::derive("17841400001", Channel::Instagram, "123"));
        assert_eq!(LeadId::parse(a.as_str()), Some(a.clone()));
        assert!(!a.as_str().contains("123"));
    }

    #[test]
    fn malformed_lead_ids_are_rejected() {
        assert!(LeadId::parse("ld_xyz").is_none());
        assert!(LeadId::parse("LEAD#ld_0123456789abcdef0123").is_none());
        assert!(LeadId::parse("ld_0123456789ABCDEF0123").is_none());
    }
}
