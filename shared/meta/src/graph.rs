//! Send API requests, built without I/O: a [`DmMessage`] becomes the method, URL and JSON body Meta expects.
//!
//! Pure so that `cadence replay` can print exactly what would be sent, and so the HTTP adapter holds no
//! channel rules. Meta's limits are checked here and reported as [`MetaError::InvalidMessage`] naming the limit;
//! button and quick-reply titles are truncated instead (on a character boundary), because Meta would truncate
//! them anyway.
//!
//! Bodies are typed structs converted to a [`serde_json::Value`]. Key order in the printed JSON is serde_json's
//! map order: sorted by key unless a crate in the build enables serde_json's `preserve_order`, in which case
//! it is the field order below. Either way it is deterministic for one build.

use cadence_core::engine::SEND_TAG_PREFIX;
use cadence_core::ids::Channel;
use cadence_core::lead::TouchRef;
use cadence_core::outbound::{Choice, DmBody, DmMessage, MediaKind, MessagingType, Recipient};
use serde::Serialize;
use serde_json::Value;

use crate::MetaError;

/// Instagram text limit: 1000 **bytes** of UTF-8.
pub const INSTAGRAM_TEXT_MAX_BYTES: usize = 1000;
/// Messenger text limit, in characters.
pub const MESSENGER_TEXT_MAX_CHARS: usize = 2000;
/// WhatsApp text body limit, in characters.
pub const WHATSAPP_TEXT_MAX_CHARS: usize = 4096;
/// Quick replies per Instagram/Messenger message.
pub const QUICK_REPLIES_MAX: usize = 13;
/// Quick-reply and WhatsApp button title length.
pub const BUTTON_TITLE_MAX_CHARS: usize = 20;
const WA_BUTTONS_MAX: usize = 3;
const WA_BUTTON_ID_MAX_CHARS: usize = 256;
const WA_BUTTON_BODY_MAX_CHARS: usize = 1024;
const WA_LIST_ROWS_MAX: usize = 10;
const WA_LIST_BUTTON_MAX_CHARS: usize = 20;
const WA_LIST_SECTION_TITLE: &str = "Options";
const WA_LIST_DEFAULT_BUTTON: &str = "Choose";
const WA_ROW_ID_MAX_CHARS: usize = 200;
const WA_ROW_TITLE_MAX_CHARS: usize = 24;
const WA_ROW_DESCRIPTION_MAX_CHARS: usize = 72;
/// Messenger `metadata` is limited to 1000 characters, WhatsApp `biz_opaque_callback_data` to 512.
const SEND_TAG_MAX_CHARS: usize = 512;

/// Where and how to reach the Graph API. Built once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// Messenger, WhatsApp, and Instagram when [`instagram_login`](Self::instagram_login) is false.
    pub facebook_base: String,
    /// Instagram API with Instagram Login.
    pub instagram_base: String,
    /// Graph API version, e.g. `v25.0` (available until July 2028).
    pub version: String,
    /// `true`: Instagram goes through `graph.instagram.com` with an Instagram user token, sent from the IG
    /// account id. `false`: through `graph.facebook.com/me/messages` with the linked Page's token (the Page is
    /// implied by the token, so the IG account id is only used to look the token up).
    pub instagram_login: bool,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            facebook_base: "https://graph.facebook.com".to_owned(),
            instagram_base: "https://graph.instagram.com".to_owned(),
            version: "v25.0".to_owned(),
            instagram_login: true,
        }
    }
}

impl GraphConfig {
    /// The defaults with both hosts pointed at one URL (a Graph API mock, a local stub).
    pub fn with_base(base: impl Into<String>) -> Self {
        let base = base.into();
        Self {
            facebook_base: base.clone(),
            instagram_base: base,
            ..Self::default()
        }
    }

    fn url(&self, base: &str, node: &str) -> String {
        format!(
            "{}/{}/{node}/messages",
            base.trim_end_matches('/'),
            self.version.trim_matches('/')
        )
    }
}

/// One Send API call. Serialises as exactly `{"method","url","body"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphRequest {
    /// Always `POST` for sends.
    pub method: &'static str,
    pub url: String,
    pub body: Value,
}

/// The tag identifying a touch's send: core's `SEND_TAG_PREFIX` (`cadence:`) + the touch's schedule name, so
/// the engine recognises the echo as ours. Deterministic and free of personal data (the lead id is a hash).
pub fn send_tag(touch: &TouchRef) -> String {
    format!("{SEND_TAG_PREFIX}{}", touch.schedule_name())
}

/// Builds the Send API request for `msg`, checking Meta's limits for its channel.
///
/// Errors are [`MetaError::InvalidMessage`] (content Meta would reject: too long, too many choices, wrong
/// recipient kind for the channel, a template outside WhatsApp) and never contain the message text.
pub fn build_request(msg: &DmMessage, cfg: &GraphConfig) -> Result<GraphRequest, MetaError> {
    build_tagged_request(msg, cfg, None)
}

/// [`build_request`] with a tag (see [`send_tag`]) that Meta hands back with the send's echo or statuses:
/// Messenger `message.metadata`, WhatsApp `biz_opaque_callback_data`. Instagram has no such field, so the tag
/// is not sent there; its echoes are recognised by `mid` (the send's `message_id`) or `app_id` instead.
pub fn build_tagged_request(
    msg: &DmMessage,
    cfg: &GraphConfig,
    tag: Option<&str>,
) -> Result<GraphRequest, MetaError> {
    let tag = tag.filter(|t| !t.is_empty());
    if tag.is_some_and(|t| chars(t) > SEND_TAG_MAX_CHARS) {
        return Err(invalid(format!(
            "send tags are limited to {SEND_TAG_MAX_CHARS} characters"
        )));
    }
    if msg.from.is_empty() || !msg.from.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // The id becomes a URL path segment; anything but digits/letters would change the endpoint.
        return Err(invalid("sender id must be non-empty and alphanumeric"));
    }
    let (url, body) = match msg.channel {
        Channel::Instagram => {
            let url = if cfg.instagram_login {
                cfg.url(&cfg.instagram_base, &msg.from)
            } else {
                cfg.url(&cfg.facebook_base, "me")
            };
            (
                url,
                to_value(&send_api_body(msg, cfg.instagram_login, None)?)?,
            )
        }
        Channel::Messenger => (
            cfg.url(&cfg.facebook_base, &msg.from),
            to_value(&send_api_body(msg, false, tag)?)?,
        ),
        Channel::Whatsapp => (
            cfg.url(&cfg.facebook_base, &msg.from),
            to_value(&whatsapp_body(msg, tag)?)?,
        ),
    };
    Ok(GraphRequest {
        method: "POST",
        url,
        body,
    })
}

/// The longest prefix of `s` with at most `max` characters. Never splits a UTF-8 sequence.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn invalid(reason: impl Into<String>) -> MetaError {
    MetaError::InvalidMessage(reason.into())
}

fn to_value(body: &impl Serialize) -> Result<Value, MetaError> {
    serde_json::to_value(body)
        .map_err(|e| MetaError::Unexpected(format!("serialising request: {e}")))
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

// ---------------------------------------------------------------------------------------------------------
// Instagram and Messenger

#[derive(Serialize)]
struct SendApiBody<'a> {
    recipient: SendRecipient<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messaging_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'static str>,
    message: SendMessage<'a>,
}

#[derive(Serialize)]
struct SendRecipient<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment_id: Option<&'a str>,
}

#[derive(Serialize)]
struct SendMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    quick_replies: Vec<QuickReply<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment: Option<Attachment<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
}

#[derive(Serialize)]
struct QuickReply<'a> {
    content_type: &'static str,
    title: &'a str,
    payload: &'a str,
}

#[derive(Serialize)]
struct Attachment<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payload: UrlPayload<'a>,
}

#[derive(Serialize)]
struct UrlPayload<'a> {
    url: &'a str,
}

/// Instagram and Messenger share the Send API shape; `instagram_login` drops `messaging_type`, which the
/// Instagram-Login endpoint does not take except to carry a tag.
fn send_api_body<'a>(
    msg: &'a DmMessage,
    instagram_login: bool,
    tag: Option<&'a str>,
) -> Result<SendApiBody<'a>, MetaError> {
    let channel = msg.channel.as_str();
    let recipient = match &msg.to {
        Recipient::Id(id) if !id.is_empty() => SendRecipient {
            id: Some(id),
            comment_id: None,
        },
        Recipient::Comment(comment_id) if !comment_id.is_empty() => SendRecipient {
            id: None,
            comment_id: Some(comment_id),
        },
        Recipient::Id(_) | Recipient::Comment(_) => return Err(invalid("empty recipient id")),
        Recipient::Phone(_) | Recipient::Bsuid(_) => {
            return Err(invalid(format!(
                "{channel} sends to a scoped id or a comment, not a WhatsApp recipient"
            )))
        }
    };
    let (messaging_type, message_tag) = match (msg.messaging_type, instagram_login) {
        (MessagingType::HumanAgent, _) => (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")),
        (_, true) => (None, None),
        (MessagingType::Response, false) => (Some("RESPONSE"), None),
        (MessagingType::Update, false) => (Some("UPDATE"), None),
    };
    let is_comment = recipient.comment_id.is_some();
    let message = match &msg.body {
        DmBody::Text { text, choices, .. } => {
            check_send_api_text(msg.channel, text)?;
            if is_comment && !choices.is_empty() {
                return Err(invalid(
                    "a private reply to a comment takes plain text only",
                ));
            }
            if choices.len() > QUICK_REPLIES_MAX {
                return Err(invalid(format!(
                    "{channel} allows at most {QUICK_REPLIES_MAX} quick replies"
                )));
            }
            SendMessage {
                text: Some(text),
                quick_replies: choices.iter().map(quick_reply).collect::<Result<_, _>>()?,
                attachment: None,
                metadata: tag,
            }
        }
        DmBody::Media { kind, url, caption } => {
            if is_comment {
                return Err(invalid(
                    "a private reply to a comment takes plain text only",
                ));
            }
            if caption.is_some() {
                return Err(invalid(format!(
                    "{channel} attachments take no caption; send the text as its own message"
                )));
            }
            if url.is_empty() {
                return Err(invalid("media url is empty"));
            }
            SendMessage {
                text: None,
                quick_replies: Vec::new(),
                attachment: Some(Attachment {
                    kind: match kind {
                        MediaKind::Audio => "audio",
                        MediaKind::Video => "video",
                        MediaKind::Image => "image",
                        MediaKind::Document => "file",
                    },
                    payload: UrlPayload { url },
                }),
                metadata: tag,
            }
        }
        DmBody::Template { .. } => {
            return Err(invalid(format!(
                "templates are WhatsApp-only, not {channel}"
            )))
        }
    };
    Ok(SendApiBody {
        recipient,
        messaging_type,
        tag: message_tag,
        message,
    })
}

fn check_send_api_text(channel: Channel, text: &str) -> Result<(), MetaError> {
    if text.is_empty() {
        return Err(invalid("text is empty"));
    }
    match channel {
        Channel::Instagram if text.len() > INSTAGRAM_TEXT_MAX_BYTES => Err(invalid(format!(
            "instagram text is limited to {INSTAGRAM_TEXT_MAX_BYTES} bytes of UTF-8 (got {})",
            text.len()
        ))),
        Channel::Messenger if chars(text) > MESSENGER_TEXT_MAX_CHARS => Err(invalid(format!(
            "messenger text is limited to {MESSENGER_TEXT_MAX_CHARS} characters (got {})",
            chars(text)
        ))),
        _ => Ok(()),
    }
}

fn quick_reply(choice: &Choice) -> Result<QuickReply<'_>, MetaError> {
    if choice.id.is_empty() || choice.title.is_empty() {
        return Err(invalid("quick replies need an id and a title"));
    }
    Ok(QuickReply {
        content_type: "text",
        title: truncate_chars(&choice.title, BUTTON_TITLE_MAX_CHARS),
        payload: &choice.id,
    })
}

// ---------------------------------------------------------------------------------------------------------
// WhatsApp

#[derive(Serialize)]
struct WaBody<'a> {
    messaging_product: &'static str,
    recipient_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<&'a str>,
    #[serde(flatten)]
    content: WaContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WaContent<'a> {
    Text { text: WaText<'a> },
    Interactive { interactive: Interactive<'a> },
    Audio { audio: WaMedia<'a> },
    Image { image: WaMedia<'a> },
    Video { video: WaMedia<'a> },
    Document { document: WaMedia<'a> },
    Template { template: Template<'a> },
}

#[derive(Serialize)]
struct WaText<'a> {
    preview_url: bool,
    body: &'a str,
}

#[derive(Serialize)]
struct WaMedia<'a> {
    link: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Interactive<'a> {
    Button {
        body: BodyText<'a>,
        action: ButtonAction<'a>,
    },
    List {
        body: BodyText<'a>,
        action: ListAction<'a>,
    },
}

#[derive(Serialize)]
struct BodyText<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct ButtonAction<'a> {
    buttons: Vec<Button<'a>>,
}

#[derive(Serialize)]
struct Button<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: ButtonReply<'a>,
}

#[derive(Serialize)]
struct ButtonReply<'a> {
    id: &'a str,
    title: &'a str,
}

#[derive(Serialize)]
struct ListAction<'a> {
    button: &'a str,
    sections: Vec<Section<'a>>,
}

#[derive(Serialize)]
struct Section<'a> {
    title: &'static str,
    rows: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

#[derive(Serialize)]
struct Template<'a> {
    name: &'a str,
    language: Language<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component<'a>>,
}

#[derive(Serialize)]
struct Language<'a> {
    code: &'a str,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    parameters: Vec<TextParameter<'a>>,
}

#[derive(Serialize)]
struct TextParameter<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

fn whatsapp_body<'a>(msg: &'a DmMessage, tag: Option<&'a str>) -> Result<WaBody<'a>, MetaError> {
    let (to, recipient) = match &msg.to {
        Recipient::Phone(phone) => {
            let digits = phone.strip_prefix('+').unwrap_or(phone);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    "whatsapp phone recipient must be digits in international format",
                ));
            }
            // With the `+`, Meta never prepends the business number's country code.
            (Some(format!("+{digits}")), None)
        }
        Recipient::Bsuid(bsuid) if !bsuid.is_empty() => (None, Some(bsuid.as_str())),
        Recipient::Bsuid(_) => return Err(invalid("empty recipient id")),
        Recipient::Id(_) | Recipient::Comment(_) => {
            return Err(invalid("whatsapp sends to a phone number or a BSUID"))
        }
    };
    let content = match &msg.body {
        DmBody::Text {
            text,
            choices,
            list_button,
        } => whatsapp_text(text, choices, list_button.as_deref())?,
        DmBody::Media { kind, url, caption } => {
            if url.is_empty() {
                return Err(invalid("media url is empty"));
            }
            let caption = caption.as_deref().filter(|c| !c.is_empty());
            let media = |filename| WaMedia {
                link: url,
                caption,
                filename,
            };
            match kind {
                MediaKind::Audio if caption.is_some() => {
                    return Err(invalid("whatsapp audio takes no caption"))
                }
                MediaKind::Audio => WaContent::Audio { audio: media(None) },
                MediaKind::Image => WaContent::Image { image: media(None) },
                MediaKind::Video => WaContent::Video { video: media(None) },
                MediaKind::Document => WaContent::Document {
                    document: media(file_name(url)),
                },
            }
        }
        DmBody::Template {
            name,
            language,
            params,
        } => {
            if name.is_empty() || language.is_empty() {
                return Err(invalid("a template needs a name and a language"));
            }
            let components = if params.is_empty() {
                Vec::new()
            } else {
                vec![Component {
                    kind: "body",
                    parameters: params
                        .iter()
                        .map(|p| TextParameter {
                            kind: "text",
                            text: p,
                        })
                        .collect(),
                }]
            };
            WaContent::Template {
                template: Template {
                    name,
                    language: Language { code: language },
                    components,
                },
            }
        }
    };
    Ok(WaBody {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to,
        recipient,
        content,
        biz_opaque_callback_data: tag,
    })
}

fn whatsapp_text<'a>(
    text: &'a str,
    choices: &'a [Choice],
    list_button: Option<&'a str>,
) -> Result<WaContent<'a>, MetaError> {
    if text.is_empty() {
        return Err(invalid("text is empty"));
    }
    if chars(text) > WHATSAPP_TEXT_MAX_CHARS {
        return Err(invalid(format!(
            "whatsapp text is limited to {WHATSAPP_TEXT_MAX_CHARS} characters (got {})",
            chars(text)
        )));
    }
    if choices.is_empty() {
        return Ok(WaContent::Text {
            text: WaText {
                preview_url: false,
                body: text,
            },
        });
    }
    if choices
        .iter()
        .any(|c| c.id.is_empty() || c.title.is_empty())
    {
        return Err(invalid("choices need an id and a title"));
    }
    if fits_buttons(text, choices) {
        return Ok(WaContent::Interactive {
            interactive: Interactive::Button {
                body: BodyText { text },
                action: ButtonAction {
                    buttons: choices
                        .iter()
                        .map(|c| Button {
                            kind: "reply",
                            reply: ButtonReply {
                                id: &c.id,
                                title: &c.title,
                            },
                        })
                        .collect(),
                },
            },
        });
    }
    if choices.len() > WA_LIST_ROWS_MAX {
        return Err(invalid(format!(
            "whatsapp lists hold at most {WA_LIST_ROWS_MAX} rows (got {})",
            choices.len()
        )));
    }
    if choices.iter().any(|c| chars(&c.id) > WA_ROW_ID_MAX_CHARS) {
        return Err(invalid(format!(
            "whatsapp list row ids are limited to {WA_ROW_ID_MAX_CHARS} characters"
        )));
    }
    let button = list_button
        .filter(|b| !b.is_empty())
        .unwrap_or(WA_LIST_DEFAULT_BUTTON);
    Ok(WaContent::Interactive {
        interactive: Interactive::List {
            body: BodyText { text },
            action: ListAction {
                button: truncate_chars(button, WA_LIST_BUTTON_MAX_CHARS),
                sections: vec![Section {
                    title: WA_LIST_SECTION_TITLE,
                    rows: choices
                        .iter()
                        .map(|c| Row {
                            id: &c.id,
                            title: truncate_chars(&c.title, WA_ROW_TITLE_MAX_CHARS),
                            description: c
                                .description
                                .as_deref()
                                .filter(|d| !d.is_empty())
                                .map(|d| truncate_chars(d, WA_ROW_DESCRIPTION_MAX_CHARS)),
                        })
                        .collect(),
                }],
            },
        },
    })
}

/// Reply buttons show whole titles and need them unique; anything that does not fit falls back to a list.
fn fits_buttons(text: &str, choices: &[Choice]) -> bool {
    let unique = choices
        .iter()
        .enumerate()
        .all(|(i, c)| choices[..i].iter().all(|earlier| earlier.title != c.title));
    choices.len() <= WA_BUTTONS_MAX
        && chars(text) <= WA_BUTTON_BODY_MAX_CHARS
        && unique
        && choices.iter().all(|c| {
            chars(&c.title) <= BUTTON_TITLE_MAX_CHARS && chars(&c.id) <= WA_BUTTON_ID_MAX_CHARS
        })
}

/// The last path segment of a document URL, shown to the recipient as the file name, when it looks like one.
fn file_name(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, last) = path.rsplit_once('/')?;
    (last.contains('.') && !last.starts_with('.')).then_some(last)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dm(channel: Channel, from: &str, to: Recipient, body: DmBody) -> DmMessage {
        DmMessage {
            channel,
            from: from.into(),
            to,
            messaging_type: MessagingType::Response,
            body,
        }
    }

    fn text(t: &str) -> DmBody {
        DmBody::Text {
            text: t.into(),
            choices: vec![],
            list_button: None,
        }
    }

    fn choices(n: usize, title: &str) -> Vec<Choice> {
        (0..n)
            .map(|i| Choice {
                id: format!("C{i}"),
                title: format!("{title}{i}"),
                description: None,
            })
            .collect()
    }

    fn build(msg: &DmMessage) -> GraphRequest {
        build_request(msg, &GraphConfig::default()).unwrap()
    }

    #[test]
    fn truncation_counts_characters_and_never_splits_one() {
        assert_eq!(truncate_chars("héllo wörld", 4), "héll");
        assert_eq!(truncate_chars("🎉🎉🎉", 2), "🎉🎉");
        assert_eq!(truncate_chars("short", 20), "short");
        assert_eq!(truncate_chars("", 3), "");
        let long = "ä".repeat(30);
        assert_eq!(truncate_chars(&long, 20).chars().count(), 20);
    }

    #[test]
    fn instagram_login_text_goes_to_graph_instagram_without_messaging_type() {
        let req = build(&dm(
            Channel::Instagram,
            "17841400000000001",
            Recipient::Id("9".into()),
            text("hi"),
        ));
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.url,
            "https://graph.instagram.com/v25.0/17841400000000001/messages"
        );
        assert_eq!(
            req.body,
            json!({"recipient": {"id": "9"}, "message": {"text": "hi"}})
        );
    }

    #[test]
    fn instagram_via_a_page_uses_graph_facebook_me_and_a_messaging_type() {
        let cfg = GraphConfig {
            instagram_login: false,
            ..GraphConfig::default()
        };
        let req = build_request(
            &dm(
                Channel::Instagram,
                "17841400000000001",
                Recipient::Id("9".into()),
                text("hi"),
            ),
            &cfg,
        )
        .unwrap();
        assert_eq!(req.url, "https://graph.facebook.com/v25.0/me/messages");
        assert_eq!(req.body["messaging_type"], "RESPONSE");
    }

    #[test]
    fn instagram_quick_replies_are_truncated_to_twenty_characters() {
        let mut qs = choices(2, "");
        qs[0].title = "A very long title that overflows".into();
        let req = build(&dm(
            Channel::Instagram,
            "1",
            Recipient::Id("9".into()),
            DmBody::Text {
                text: "Pick".into(),
                choices: qs,
                list_button: None,
            },
        ));
        assert_eq!(
            req.body["message"]["quick_replies"],
            json!([
                {"content_type": "text", "title": "A very long title th", "payload": "C0"},
                {"content_type": "text", "title": "1", "payload": "C1"}
            ])
        );
    }

    #[test]
    fn instagram_limits_are_enforced_in_bytes_and_choices() {
        let at_limit = "é".repeat(500);
        assert!(build_request(
            &dm(
                Channel::Instagram,
                "1",
                Recipient::Id("9".into()),
                text(&at_limit)
            ),
            &GraphConfig::default()
        )
        .is_ok());
        let over = format!("{at_limit}a");
        let err = build_request(
            &dm(
                Channel::Instagram,
                "1",
                Recipient::Id("9".into()),
                text(&over),
            ),
            &GraphConfig::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, MetaError::InvalidMessage(r) if r.contains("1000 bytes")),
            "{err}"
        );
        assert!(
            !err.to_string().contains("éé"),
            "reasons never carry the text"
        );
        let too_many = DmBody::Text {
            text: "Pick".into(),
            choices: choices(14, "t"),
            list_button: None,
        };
        assert!(matches!(
            build_request(&dm(Channel::Instagram, "1", Recipient::Id("9".into()), too_many), &GraphConfig::default()),
            Err(MetaError::InvalidMessage(r)) if r.contains("13")
        ));
    }

    #[test]
    fn a_comment_private_reply_is_text_only() {
        let req = build(&dm(
            Channel::Instagram,
            "1",
            Recipient::Comment("178".into()),
            text("Here is the price list"),
        ));
        assert_eq!(
            req.body,
            json!({"recipient": {"comment_id": "178"}, "message": {"text": "Here is the price list"}})
        );
        let with_choices = DmBody::Text {
            text: "x".into(),
            choices: choices(1, "t"),
            list_button: None,
        };
        assert!(build_request(
            &dm(
                Channel::Instagram,
                "1",
                Recipient::Comment("178".into()),
                with_choices
            ),
            &GraphConfig::default()
        )
        .is_err());
    }

    #[test]
    fn media_maps_document_to_file_and_refuses_captions_on_instagram() {
        let media = |kind, caption: Option<&str>| DmBody::Media {
            kind,
            url: "https://cdn.example.com/v.m4a".into(),
            caption: caption.map(str::to_owned),
        };
        let req = build(&dm(
            Channel::Instagram,
            "1",
            Recipient::Id("9".into()),
            media(MediaKind::Document, None),
        ));
        assert_eq!(
            req.body["message"],
            json!({"attachment": {"type": "file", "payload": {"url": "https://cdn.example.com/v.m4a"}}})
        );
        assert!(build_request(
            &dm(
                Channel::Instagram,
                "1",
                Recipient::Id("9".into()),
                media(MediaKind::Image, Some("c"))
            ),
            &GraphConfig::default()
        )
        .is_err());
    }

    #[test]
    fn messenger_carries_messaging_type_and_the_human_agent_tag() {
        let mut msg = dm(
            Channel::Messenger,
            "102030405060708",
            Recipient::Id("7".into()),
            text("hi"),
        );
        for (kind, expected) in [
            (
                MessagingType::Response,
                json!({"recipient": {"id": "7"}, "messaging_type": "RESPONSE", "message": {"text": "hi"}}),
            ),
            (
                MessagingType::Update,
                json!({"recipient": {"id": "7"}, "messaging_type": "UPDATE", "message": {"text": "hi"}}),
            ),
            (
                MessagingType::HumanAgent,
                json!({"recipient": {"id": "7"}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT", "message": {"text": "hi"}}),
            ),
        ] {
            msg.messaging_type = kind;
            let req = build(&msg);
            assert_eq!(
                req.url,
                "https://graph.facebook.com/v25.0/102030405060708/messages"
            );
            assert_eq!(req.body, expected);
        }
        let long = "a".repeat(2001);
        assert!(build_request(
            &dm(
                Channel::Messenger,
                "1",
                Recipient::Id("7".into()),
                text(&long)
            ),
            &GraphConfig::default()
        )
        .is_err());
    }

    #[test]
    fn channels_refuse_recipients_and_bodies_they_cannot_carry() {
        let cfg = GraphConfig::default();
        let template = DmBody::Template {
            name: "t".into(),
            language: "en".into(),
            params: vec![],
        };
        let cases = [
            dm(
                Channel::Instagram,
                "1",
                Recipient::Phone("1555".into()),
                text("x"),
            ),
            dm(
                Channel::Messenger,
                "1",
                Recipient::Id("7".into()),
                template.clone(),
            ),
            dm(Channel::Whatsapp, "1", Recipient::Id("7".into()), text("x")),
            dm(
                Channel::Whatsapp,
                "1",
                Recipient::Phone("+1 555".into()),
                text("x"),
            ),
            dm(
                Channel::Whatsapp,
                "1/../2",
                Recipient::Phone("1555".into()),
                text("x"),
            ),
            dm(Channel::Instagram, "1", Recipient::Id("7".into()), text("")),
        ];
        for msg in cases {
            assert!(
                matches!(build_request(&msg, &cfg), Err(MetaError::InvalidMessage(_))),
                "{msg:?}"
            );
        }
    }

    fn wa(to: Recipient, body: DmBody) -> GraphRequest {
        build(&dm(Channel::Whatsapp, "106540352242922", to, body))
    }

    #[test]
    fn whatsapp_text_goes_to_the_phone_number_id_with_a_plus() {
        for phone in ["16505551234", "+16505551234"] {
            let req = wa(Recipient::Phone(phone.into()), text("hello"));
            assert_eq!(
                req.url,
                "https://graph.facebook.com/v25.0/106540352242922/messages"
            );
            assert_eq!(
                req.body,
                json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234",
                       "type": "text", "text": {"preview_url": false, "body": "hello"}})
            );
        }
        let req = wa(
            Recipient::Bsuid("US.13491208655302741918".into()),
            text("hello"),
        );
        assert_eq!(req.body["recipient"], "US.13491208655302741918");
        assert!(req.body.get("to").is_none());
    }

    #[test]
    fn whatsapp_uses_buttons_up_to_three_short_unique_titles_and_a_list_otherwise() {
        let body = |choices, list_button: Option<&str>| DmBody::Text {
            text: "Pick one".into(),
            choices,
            list_button: list_button.map(str::to_owned),
        };
        let req = wa(Recipient::Phone("1".into()), body(choices(3, "Opt"), None));
        assert_eq!(
            req.body["interactive"],
            json!({"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "C0", "title": "Opt0"}},
                {"type": "reply", "reply": {"id": "C1", "title": "Opt1"}},
                {"type": "reply", "reply": {"id": "C2", "title": "Opt2"}}]}})
        );
        assert_eq!(req.body["type"], "interactive");

        let req = wa(
            Recipient::Phone("1".into()),
            body(choices(4, "Opt"), Some("See the available times")),
        );
        let interactive = &req.body["interactive"];
        assert_eq!(interactive["type"], "list");
        assert_eq!(interactive["action"]["button"], "See the available ti");
        assert_eq!(interactive["action"]["sections"][0]["title"], "Options");
        assert_eq!(
            interactive["action"]["sections"][0]["rows"]
                .as_array()
                .unwrap()
                .len(),
            4
        );

        let mut long = choices(2, "");
        long[0].title = "A title longer than twenty".into();
        long[1].description = Some("d".repeat(80));
        let req = wa(Recipient::Phone("1".into()), body(long, None));
        let rows = &req.body["interactive"]["action"]["sections"][0]["rows"];
        assert_eq!(req.body["interactive"]["action"]["button"], "Choose");
        assert_eq!(
            rows[0],
            json!({"id": "C0", "title": "A title longer than twen"})
        );
        assert_eq!(rows[1]["description"].as_str().unwrap().len(), 72);

        let mut dupes = choices(2, "Same");
        dupes[1].title = dupes[0].title.clone();
        let req = wa(Recipient::Phone("1".into()), body(dupes, None));
        assert_eq!(req.body["interactive"]["type"], "list");

        let err = build_request(
            &dm(
                Channel::Whatsapp,
                "1",
                Recipient::Phone("1".into()),
                body(choices(11, "t"), None),
            ),
            &GraphConfig::default(),
        );
        assert!(matches!(err, Err(MetaError::InvalidMessage(r)) if r.contains("10 rows")));
    }

    #[test]
    fn whatsapp_media_uses_links_with_captions_and_document_file_names() {
        let media = |kind, url: &str, caption: Option<&str>| DmBody::Media {
            kind,
            url: url.into(),
            caption: caption.map(str::to_owned),
        };
        let req = wa(
            Recipient::Phone("1".into()),
            media(MediaKind::Audio, "https://cdn.example.com/a.ogg", None),
        );
        assert_eq!(req.body["type"], "audio");
        assert_eq!(
            req.body["audio"],
            json!({"link": "https://cdn.example.com/a.ogg"})
        );
        let req = wa(
            Recipient::Phone("1".into()),
            media(
                MediaKind::Document,
                "https://cdn.example.com/docs/price-list.pdf?v=2",
                Some("Prices"),
            ),
        );
        assert_eq!(
            req.body["document"],
            json!({"link": "https://cdn.example.com/docs/price-list.pdf?v=2", "caption": "Prices", "filename": "price-list.pdf"})
        );
        let req = wa(
            Recipient::Phone("1".into()),
            media(MediaKind::Image, "https://cdn.example.com/i", Some("Look")),
        );
        assert_eq!(
            req.body["image"],
            json!({"link": "https://cdn.example.com/i", "caption": "Look"})
        );
        assert!(build_request(
            &dm(
                Channel::Whatsapp,
                "1",
                Recipient::Phone("1".into()),
                media(MediaKind::Audio, "https://x/a.ogg", Some("no"))
            ),
            &GraphConfig::default()
        )
        .is_err());
    }

    #[test]
    fn whatsapp_templates_carry_body_parameters_or_no_components() {
        let req = wa(
            Recipient::Phone("1".into()),
            DmBody::Template {
                name: "follow_up".into(),
                language: "en_US".into(),
                params: vec!["Ada".into(), "Tuesday".into()],
            },
        );
        assert_eq!(
            req.body["template"],
            json!({"name": "follow_up", "language": {"code": "en_US"}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "Tuesday"}]}]})
        );
        let req = wa(
            Recipient::Phone("1".into()),
            DmBody::Template {
                name: "hello".into(),
                language: "en".into(),
                params: vec![],
            },
        );
        assert_eq!(
            req.body["template"],
            json!({"name": "hello", "language": {"code": "en"}})
        );
    }

    #[test]
    fn tags_go_to_messenger_metadata_and_whatsapp_callback_data_but_not_instagram() {
        let touch = TouchRef::new(
            cadence_core::ids::LeadId::derive("1", Channel::Messenger, "7"),
            2,
            "day 1",
        );
        let tag = send_tag(&touch);
        assert!(tag.starts_with("cadence:ld_"), "{tag}");
        let cfg = GraphConfig::default();
        let messenger = dm(
            Channel::Messenger,
            "1",
            Recipient::Id("7".into()),
            text("hi"),
        );
        let req = build_tagged_request(&messenger, &cfg, Some(&tag)).unwrap();
        assert_eq!(req.body["message"]["metadata"], tag.as_str());
        let whatsapp = dm(
            Channel::Whatsapp,
            "1",
            Recipient::Phone("1".into()),
            text("hi"),
        );
        let req = build_tagged_request(&whatsapp, &cfg, Some(&tag)).unwrap();
        assert_eq!(req.body["biz_opaque_callback_data"], tag.as_str());
        let instagram = dm(
            Channel::Instagram,
            "1",
            Recipient::Id("7".into()),
            text("hi"),
        );
        let req = build_tagged_request(&instagram, &cfg, Some(&tag)).unwrap();
        assert_eq!(
            req.body,
            json!({"recipient": {"id": "7"}, "message": {"text": "hi"}})
        );
        assert_eq!(
            build_request(&messenger, &cfg).unwrap().body["message"].get("metadata"),
            None
        );
    }

    #[test]
    fn with_base_points_every_channel_at_one_host_and_output_is_byte_stable() {
        let cfg = GraphConfig::with_base("http://127.0.0.1:9999/");
        let msg = dm(
            Channel::Instagram,
            "1",
            Recipient::Id("9".into()),
            text("hi"),
        );
        let req = build_request(&msg, &cfg).unwrap();
        assert_eq!(req.url, "http://127.0.0.1:9999/v25.0/1/messages");
        let wa_req = build_request(
            &dm(
                Channel::Whatsapp,
                "2",
                Recipient::Phone("1".into()),
                text("hi"),
            ),
            &cfg,
        )
        .unwrap();
        assert_eq!(wa_req.url, "http://127.0.0.1:9999/v25.0/2/messages");
        let printed = serde_json::to_string(&req).unwrap();
        assert!(
            printed.starts_with(r#"{"method":"POST","url":"#),
            "{printed}"
        );
        assert_eq!(
            printed,
            serde_json::to_string(&build_request(&msg, &cfg).unwrap()).unwrap()
        );
    }
}
