//! SESv2 adapters: [`SesEmailSender`] for email touches and [`SesNewsletterSink`] for the newsletter handoff.
//!
//! The `SendEmail` request carries the same fields `cadence replay` prints for an email touch
//! (`ses_send_email_input` in the CLI): `FromEmailAddress`, `Destination.ToAddresses`, `Content.Simple` with a
//! UTF-8 subject and text body, `List-Unsubscribe` + `List-Unsubscribe-Post` headers when the account sets an
//! unsubscribe URL, and `EmailTags` `lead`/`step`.
//!
//! Failures map onto the engine's [`SendFailure`]: throttling and sending-quota errors are retryable; a
//! suspended account, paused sending or an unverified MAIL FROM domain are `Auth` (nothing sends until an
//! operator acts); other rejections are permanent. A timeout or an unreadable answer is `Unknown`: SES has no
//! idempotency key, so the touch is not sent again blindly.

use crate::sdk::{classify, Failure};
use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::create_contact::CreateContactError;
use aws_sdk_sesv2::types::{
    Body, Content, Destination, EmailContent, Message, MessageHeader, MessageTag,
    SubscriptionStatus, TopicPreference,
};
use aws_sdk_sesv2::Client;
use cadence_core::lead::TouchRef;
use cadence_core::outbound::{EmailMessage, NewsletterHandoff};
use cadence_core::ports::{EmailSender, NewsletterSink, SendFailure, SendReceipt};
use std::fmt;

/// Provider id returned when a newsletter handoff has no address to subscribe.
pub const SKIPPED_NO_EMAIL: &str = "skipped:no_email";

const CHARSET: &str = "UTF-8";

/// Error codes that stop all sending until an operator acts.
const ACCOUNT_CODES: &[&str] = &[
    "AccountSuspendedException",
    "SendingPausedException",
    "MailFromDomainNotVerifiedException",
];

fn send_failure<E, R>(op: &str, e: &SdkError<E, R>) -> SendFailure
where
    E: ProvideErrorMetadata,
{
    let (kind, reason) = classify(op, e);
    match kind {
        Failure::Throttled => SendFailure::Retryable {
            reason,
            retry_after: None,
        },
        Failure::NotSent => SendFailure::Retryable {
            reason,
            retry_after: None,
        },
        Failure::Ambiguous => SendFailure::Unknown { reason },
        Failure::Rejected if e.code().is_some_and(|c| ACCOUNT_CODES.contains(&c)) => {
            SendFailure::Auth { reason }
        }
        Failure::Rejected => SendFailure::Permanent { reason },
    }
}

/// SES tag values allow `[A-Za-z0-9_.@-]` only; anything else becomes `_`.
fn tag_value(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Email touches through SESv2 `SendEmail`.
#[derive(Clone)]
pub struct SesEmailSender {
    client: Client,
    /// Sender for accounts that configure none.
    default_from: Option<String>,
    /// Configuration set for event publishing (bounces, complaints), when configured.
    configuration_set: Option<String>,
}

impl fmt::Debug for SesEmailSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesEmailSender")
            .field("configuration_set", &self.configuration_set)
            .finish_non_exhaustive()
    }
}

impl SesEmailSender {
    pub fn new(
        client: Client,
        default_from: Option<String>,
        configuration_set: Option<String>,
    ) -> Self {
        Self {
            client,
            default_from,
            configuration_set,
        }
    }
}

#[async_trait]
impl EmailSender for SesEmailSender {
    async fn send_email(
        &self,
        touch: &TouchRef,
        msg: &EmailMessage,
    ) -> Result<SendReceipt, SendFailure> {
        let invalid = |e: aws_sdk_sesv2::error::BuildError| SendFailure::Permanent {
            reason: e.to_string(),
        };
        let from = Some(msg.from.as_str())
            .filter(|f| !f.is_empty())
            .or(self.default_from.as_deref())
            .ok_or_else(|| SendFailure::Auth {
                reason: "no sender address configured".into(),
            })?;
        let text = |s: &str| {
            Content::builder()
                .data(s)
                .charset(CHARSET)
                .build()
                .map_err(invalid)
        };
        let mut simple = Message::builder()
            .subject(text(&msg.subject)?)
            .body(Body::builder().text(text(&msg.text)?).build());
        if let Some(u) = &msg.list_unsubscribe {
            let header = |name: &str, value: String| {
                MessageHeader::builder().name(name).value(value).build()
            };
            simple = simple
                .headers(header("List-Unsubscribe", format!("<{u}>")).map_err(invalid)?)
                .headers(
                    header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into())
                        .map_err(invalid)?,
                );
        }
        let tag = |name: &str, value: &str| {
            MessageTag::builder()
                .name(name)
                .value(tag_value(value))
                .build()
        };
        let out = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(&msg.to).build())
            .content(EmailContent::builder().simple(simple.build()).build())
            .email_tags(tag("lead", touch.lead_id.as_str()).map_err(invalid)?)
            .email_tags(tag("step", &touch.step).map_err(invalid)?)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| send_failure("SendEmail", &e))?;
        let provider_id = out.message_id().unwrap_or_default().to_string();
        tracing::info!(lead = %touch.lead_id, step = %touch.step, "email sent");
        Ok(SendReceipt { provider_id })
    }
}

/// The newsletter handoff as an SESv2 contact (`CreateContact`) in a contact list, opted in to the handoff's
/// topic.
///
/// A lead without an email address cannot be subscribed; that is not a failure of the handoff (the cadence
/// still ends and the lead is still marked `newsletter`), so it returns `Ok` with provider id
/// [`SKIPPED_NO_EMAIL`], which the audit trail records. An existing contact is success (a retried handoff).
#[derive(Clone)]
pub struct SesNewsletterSink {
    client: Client,
    /// Contact list used when the handoff names none.
    default_list: String,
}

impl fmt::Debug for SesNewsletterSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SesNewsletterSink")
            .field("default_list", &self.default_list)
            .finish_non_exhaustive()
    }
}

impl SesNewsletterSink {
    pub fn new(client: Client, default_list: impl Into<String>) -> Self {
        Self {
            client,
            default_list: default_list.into(),
        }
    }
}

#[async_trait]
impl NewsletterSink for SesNewsletterSink {
    async fn handoff(
        &self,
        touch: &TouchRef,
        h: &NewsletterHandoff,
    ) -> Result<SendReceipt, SendFailure> {
        let Some(email) = h.email.as_deref().filter(|e| !e.is_empty()) else {
            tracing::info!(lead = %touch.lead_id, "newsletter handoff skipped: no email address");
            return Ok(SendReceipt {
                provider_id: SKIPPED_NO_EMAIL.into(),
            });
        };
        let list = if h.list.is_empty() {
            self.default_list.as_str()
        } else {
            h.list.as_str()
        };
        let topic = TopicPreference::builder()
            .topic_name(&h.topic)
            .subscription_status(SubscriptionStatus::OptIn)
            .build()
            .map_err(|e| SendFailure::Permanent {
                reason: e.to_string(),
            })?;
        let r = self
            .client
            .create_contact()
            .contact_list_name(list)
            .email_address(email)
            .topic_preferences(topic)
            .unsubscribe_all(false)
            .send()
            .await;
        match r {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateContactError::AlreadyExistsException(_))
                ) => {}
            Err(e) => return Err(send_failure("CreateContact", &e)),
        }
        tracing::info!(lead = %touch.lead_id, "newsletter contact created");
        // The provider id names the list and the lead, never the address.
        Ok(SendReceipt {
            provider_id: format!("contact:{list}:{}", touch.lead_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_values_keep_only_allowed_characters() {
        assert_eq!(tag_value("ld_0123abc"), "ld_0123abc");
        assert_eq!(tag_value("day 14/email"), "day_14_email");
    }
}
