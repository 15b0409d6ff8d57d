//! Configuration: environment variables read once at init, secrets read once at init and kept in memory, and
//! the one place that wires the adapters into [`Services`].
//!
//! Missing required variables fail init with the variable's name. Secret values live in [`Secret`], whose
//! `Debug` and `Display` print `***`; nothing here logs a value.

use crate::email::{SesEmailSender, SesNewsletterSink};
use crate::queue::SqsTouchQueue;
use crate::scheduler::{EventBridgeTouchScheduler, ScheduleTarget};
use crate::store::DynamoLeadStore;
use crate::tasks::{DynamoTaskSink, LogNotifier};
use crate::AwsError;
use aws_config::SdkConfig;
use cadence_core::account::Accounts;
use cadence_core::ids::Channel;
use cadence_core::ports::{Clock, SystemClock};
use cadence_core::service::{CadenceSet, Services};
use cadence_meta::client::{GraphApiSender, TokenSource};
use cadence_meta::graph::GraphConfig;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Environment variable names (the deployment contract; the infrastructure templates set these).
pub mod env {
    /// DynamoDB table name.
    pub const TABLE: &str = "CADENCE_TABLE";
    /// Touches queue URL (SendMessage).
    pub const TOUCH_QUEUE_URL: &str = "CADENCE_TOUCH_QUEUE_URL";
    /// Touches queue ARN (schedule target).
    pub const TOUCH_QUEUE_ARN: &str = "CADENCE_TOUCH_QUEUE_ARN";
    /// EventBridge Scheduler group for touch schedules.
    pub const SCHEDULE_GROUP: &str = "CADENCE_SCHEDULE_GROUP";
    /// Role EventBridge Scheduler assumes to send to the queue.
    pub const SCHEDULER_ROLE_ARN: &str = "CADENCE_SCHEDULER_ROLE_ARN";
    /// Dead-letter queue ARN for schedule deliveries that fail every retry.
    pub const SCHEDULER_DLQ_ARN: &str = "CADENCE_SCHEDULER_DLQ_ARN";
    /// Optional: SSM parameter holding the accounts YAML. Absent: the demo account.
    pub const ACCOUNTS_PARAM: &str = "CADENCE_ACCOUNTS_PARAM";
    /// SSM SecureString holding the Meta app secret (webhook signatures). Required by the webhook function.
    pub const APP_SECRET_PARAM: &str = "META_APP_SECRET_PARAM";
    /// SSM SecureString holding the webhook verify token. Required by the webhook function.
    pub const VERIFY_TOKEN_PARAM: &str = "META_VERIFY_TOKEN_PARAM";
    /// Optional: Graph API base URL for both hosts (tests point it at a mock).
    pub const GRAPH_API_URL: &str = "GRAPH_API_URL";
    /// Optional: Graph API version (default `v25.0`).
    pub const GRAPH_API_VERSION: &str = "GRAPH_API_VERSION";
    /// Optional: SESv2 contact list for newsletter handoffs (default `newsletter`).
    pub const CONTACT_LIST: &str = "CADENCE_CONTACT_LIST";
    /// Optional: sender address for accounts that configure none.
    pub const EMAIL_FROM: &str = "CADENCE_EMAIL_FROM";
    /// Optional: SESv2 configuration set for email event publishing.
    pub const SES_CONFIGURATION_SET: &str = "CADENCE_SES_CONFIGURATION_SET";
    /// Optional: SSM SecureString with the Cal.com webhook secret. Unset: `/booking/cal` answers 404.
    pub const CAL_SECRET_PARAM: &str = "CAL_WEBHOOK_SECRET_PARAM";
    /// Optional: SSM SecureString with the Calendly signing key. Unset: `/booking/calendly` answers 404.
    pub const CALENDLY_KEY_PARAM: &str = "CALENDLY_SIGNING_KEY_PARAM";
    /// Optional: EventBridge bus for handoff and booking notifications (source `cadence`).
    pub const EVENT_BUS: &str = "CADENCE_EVENT_BUS";
    /// Optional: URL that gets handoff and booking notifications as signed JSON POSTs.
    pub const NOTIFY_URL: &str = "CADENCE_NOTIFY_URL";
    /// SSM SecureString with the HMAC secret for `CADENCE_NOTIFY_URL` (required with it).
    pub const NOTIFY_SECRET_PARAM: &str = "CADENCE_NOTIFY_SECRET_PARAM";
    /// Optional: `off` disables the CloudWatch EMF metric lines (default on).
    pub const METRICS: &str = "CADENCE_METRICS";
}

/// Default SESv2 contact list.
pub const DEFAULT_CONTACT_LIST: &str = "newsletter";

/// A secret value. Never printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Typed configuration of a Cadence deployment on AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// DynamoDB table.
    pub table: String,
    /// Touches queue URL.
    pub queue_url: String,
    /// Where schedules fire (group, queue ARN, role, DLQ).
    pub schedule: ScheduleTarget,
    /// SSM parameter with the accounts YAML; `None`: the demo account.
    pub accounts_param: Option<String>,
    /// SSM parameter with the Meta app secret.
    pub app_secret_param: Option<String>,
    /// SSM parameter with the webhook verify token.
    pub verify_token_param: Option<String>,
    /// Graph API base URL override.
    pub graph_api_url: Option<String>,
    /// Graph API version override.
    pub graph_api_version: Option<String>,
    /// SESv2 contact list for newsletter handoffs.
    pub contact_list: String,
    /// Fallback sender address.
    pub email_from: Option<String>,
    /// SESv2 configuration set.
    pub ses_configuration_set: Option<String>,
    /// SSM parameter with the Cal.com webhook secret.
    pub cal_secret_param: Option<String>,
    /// SSM parameter with the Calendly signing key.
    pub calendly_key_param: Option<String>,
    /// EventBridge bus for notifications (takes precedence over `notify_url`).
    pub event_bus: Option<String>,
    /// URL for signed notification POSTs.
    pub notify_url: Option<String>,
    /// SSM parameter with the notification HMAC secret.
    pub notify_secret_param: Option<String>,
    /// Publish CloudWatch EMF metric lines on stdout.
    pub metrics: bool,
}

impl AwsConfig {
    /// Reads the process environment. Fails naming the first missing required variable.
    pub fn from_env() -> Result<Self, AwsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, AwsError> {
        let opt = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let req = |k: &'static str| opt(k).ok_or(AwsError::MissingEnv(k));
        Ok(AwsConfig {
            table: req(env::TABLE)?,
            queue_url: req(env::TOUCH_QUEUE_URL)?,
            schedule: ScheduleTarget {
                queue_arn: req(env::TOUCH_QUEUE_ARN)?,
                group: req(env::SCHEDULE_GROUP)?,
                role_arn: req(env::SCHEDULER_ROLE_ARN)?,
                dlq_arn: req(env::SCHEDULER_DLQ_ARN)?,
            },
            accounts_param: opt(env::ACCOUNTS_PARAM),
            app_secret_param: opt(env::APP_SECRET_PARAM),
            verify_token_param: opt(env::VERIFY_TOKEN_PARAM),
            graph_api_url: opt(env::GRAPH_API_URL),
            graph_api_version: opt(env::GRAPH_API_VERSION),
            contact_list: opt(env::CONTACT_LIST)
                .unwrap_or_else(|| DEFAULT_CONTACT_LIST.to_string()),
            email_from: opt(env::EMAIL_FROM),
            ses_configuration_set: opt(env::SES_CONFIGURATION_SET),
            cal_secret_param: opt(env::CAL_SECRET_PARAM),
            calendly_key_param: opt(env::CALENDLY_KEY_PARAM),
            event_bus: opt(env::EVENT_BUS),
            notify_url: opt(env::NOTIFY_URL),
            notify_secret_param: opt(env::NOTIFY_SECRET_PARAM),
            metrics: opt(env::METRICS).is_none_or(|v| !v.eq_ignore_ascii_case("off")),
        })
    }

    /// The Graph API configuration: defaults, with the base URL and version overridden when set.
    pub fn graph(&self) -> GraphConfig {
        let mut g = match &self.graph_api_url {
            Some(u) => GraphConfig::with_base(u.trim_end_matches('/')),
            None => GraphConfig::default(),
        };
        if let Some(v) = &self.graph_api_version {
            g.version = v.clone();
        }
        g
    }
}

/// Reads an SSM parameter, decrypted.
async fn ssm_parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, AwsError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| AwsError::Secret {
            name: format!("ssm:{name}"),
            reason: crate::sdk::classify("GetParameter", &e).1,
        })?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_string)
        .ok_or_else(|| AwsError::Secret {
            name: format!("ssm:{name}"),
            reason: "no value".into(),
        })
}

/// Resolves a secret reference: `ssm:/path`, `secretsmanager:NAME` or `env:NAME`.
pub async fn resolve_secret(sdk: &SdkConfig, reference: &str) -> Result<Secret, AwsError> {
    if let Some(name) = reference.strip_prefix("ssm:") {
        let client = aws_sdk_ssm::Client::new(sdk);
        return ssm_parameter(&client, name).await.map(Secret);
    }
    if let Some(name) = reference.strip_prefix("secretsmanager:") {
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        let out = client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| AwsError::Secret {
                name: reference.to_string(),
                reason: crate::sdk::classify("GetSecretValue", &e).1,
            })?;
        return out
            .secret_string()
            .map(|s| Secret(s.to_string()))
            .ok_or_else(|| AwsError::Secret {
                name: reference.to_string(),
                reason: "no string value".into(),
            });
    }
    if let Some(name) = reference.strip_prefix("env:") {
        return std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Secret)
            .ok_or_else(|| AwsError::Secret {
                name: reference.to_string(),
                reason: "not set".into(),
            });
    }
    Err(AwsError::Config(format!(
        "unknown secret reference scheme in `{}`",
        reference.split(':').next().unwrap_or("")
    )))
}

/// Send tokens per (channel, business id), resolved once at init. `*` stands for any id (the demo account,
/// which answers for every id).
#[derive(Clone, Default)]
pub struct SecretTokens(HashMap<(Channel, String), Secret>);

impl fmt::Debug for SecretTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self.0.keys().map(|(c, id)| format!("{c}:{id}")).collect();
        keys.sort();
        f.debug_struct("SecretTokens")
            .field("configured", &keys)
            .finish()
    }
}

impl SecretTokens {
    /// Resolves every account's token references. An `env:` reference whose variable is unset is skipped with
    /// a warning (the demo account names variables a deployment may not set; sends then fail as `Auth`); an
    /// SSM or Secrets Manager reference that cannot be read fails init, since that is a deployment error.
    pub async fn load(sdk: &SdkConfig, accounts: &Accounts, demo: bool) -> Result<Self, AwsError> {
        let mut map = HashMap::new();
        let mut cache: HashMap<String, Secret> = HashMap::new();
        for a in accounts.all() {
            for (channel, reference) in &a.tokens {
                let secret = match cache.get(reference) {
                    Some(s) => s.clone(),
                    None => match resolve_secret(sdk, reference).await {
                        Ok(s) => s,
                        Err(e) if reference.starts_with("env:") => {
                            tracing::warn!(account = %a.id, channel = %channel, error = %e, "no send token");
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                };
                cache.insert(reference.clone(), secret.clone());
                let mut ids: Vec<String> =
                    [&a.instagram_id, &a.page_id, &a.whatsapp_phone_number_id]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect();
                if demo {
                    ids.push("*".into());
                }
                for id in ids {
                    map.insert((*channel, id), secret.clone());
                }
            }
        }
        Ok(SecretTokens(map))
    }

    /// Tokens given directly (tests).
    pub fn from_map(map: HashMap<(Channel, String), Secret>) -> Self {
        SecretTokens(map)
    }
}

impl TokenSource for SecretTokens {
    fn token(&self, channel: Channel, account: &str) -> Option<String> {
        self.0
            .get(&(channel, account.to_string()))
            .or_else(|| self.0.get(&(channel, "*".to_string())))
            .map(|s| s.expose().to_string())
    }
}

/// What the webhook function needs besides the services.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub app_secret: Secret,
    pub verify_token: Secret,
    /// Cal.com webhook secret (`None`: the route is off).
    pub cal_secret: Option<Secret>,
    /// Calendly signing key (`None`: the route is off).
    pub calendly_secret: Option<Secret>,
}

/// Reads the app secret and verify token from SSM (once, at init).
pub async fn load_webhook_secrets(
    cfg: &AwsConfig,
    sdk: &SdkConfig,
) -> Result<WebhookSecrets, AwsError> {
    let app = cfg
        .app_secret_param
        .as_deref()
        .ok_or(AwsError::MissingEnv(env::APP_SECRET_PARAM))?;
    let verify = cfg
        .verify_token_param
        .as_deref()
        .ok_or(AwsError::MissingEnv(env::VERIFY_TOKEN_PARAM))?;
    let client = aws_sdk_ssm::Client::new(sdk);
    let optional = |p: &Option<String>| {
        let client = client.clone();
        let p = p.clone();
        async move {
            match p {
                Some(name) => ssm_parameter(&client, &name).await.map(|v| Some(Secret(v))),
                None => Ok(None),
            }
        }
    };
    Ok(WebhookSecrets {
        app_secret: Secret(ssm_parameter(&client, app).await?),
        verify_token: Secret(ssm_parameter(&client, verify).await?),
        cal_secret: optional(&cfg.cal_secret_param).await?,
        calendly_secret: optional(&cfg.calendly_key_param).await?,
    })
}

/// Loads the accounts: the YAML in the configured SSM parameter, or the demo account.
pub async fn load_accounts(
    cfg: &AwsConfig,
    sdk: &SdkConfig,
    cadences: &CadenceSet,
) -> Result<(Accounts, bool), AwsError> {
    let Some(param) = &cfg.accounts_param else {
        return Ok((Accounts::demo(), true));
    };
    let yaml = ssm_parameter(&aws_sdk_ssm::Client::new(sdk), param).await?;
    let accounts = Accounts::from_yaml(&format!("ssm:{param}"), &yaml, |c| cadences.contains(c))
        .map_err(|e| AwsError::Config(e.to_string()))?;
    Ok((accounts, false))
}

/// Where handoff and booking notifications go: the EventBridge bus when configured, else a signed POST to
/// `CADENCE_NOTIFY_URL`, else the log.
pub async fn notifier(
    cfg: &AwsConfig,
    sdk: &SdkConfig,
) -> Result<Arc<dyn cadence_core::ports::Notifier>, AwsError> {
    if let Some(bus) = &cfg.event_bus {
        let client = aws_sdk_eventbridge::Client::new(sdk);
        return Ok(Arc::new(crate::notify::EventBridgeNotifier::new(
            client, bus,
        )));
    }
    if let Some(url) = &cfg.notify_url {
        let param = cfg
            .notify_secret_param
            .as_deref()
            .ok_or(AwsError::MissingEnv(env::NOTIFY_SECRET_PARAM))?;
        let secret = ssm_parameter(&aws_sdk_ssm::Client::new(sdk), param).await?;
        let notifier = crate::notify::WebhookNotifier::new(url, secret.into_bytes())
            .map_err(|e| AwsError::Config(e.to_string()))?;
        return Ok(Arc::new(notifier));
    }
    Ok(Arc::new(LogNotifier))
}

/// The application services on AWS adapters, on the wall clock.
pub async fn build_services(cfg: &AwsConfig, sdk: &SdkConfig) -> Result<Services, AwsError> {
    build_services_with_clock(cfg, sdk, Arc::new(SystemClock)).await
}

/// The application services on AWS adapters with an injected clock (tests use a virtual one).
pub async fn build_services_with_clock(
    cfg: &AwsConfig,
    sdk: &SdkConfig,
    clock: Arc<dyn Clock>,
) -> Result<Services, AwsError> {
    let cadences = CadenceSet::builtins();
    let (accounts, demo) = load_accounts(cfg, sdk, &cadences).await?;
    let tokens = SecretTokens::load(sdk, &accounts, demo).await?;
    let dm = GraphApiSender::new(cfg.graph(), Arc::new(tokens))
        .map_err(|e| AwsError::Config(e.to_string()))?;
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let store = DynamoLeadStore::new(dynamo.clone(), &cfg.table, clock.clone());
    let store: Arc<dyn cadence_core::ports::LeadStore> = if cfg.metrics {
        Arc::new(crate::metrics::MeteredLeadStore::new(store))
    } else {
        Arc::new(store)
    };
    Ok(Services {
        cadences: Arc::new(cadences),
        accounts: Arc::new(accounts),
        store,
        scheduler: Arc::new(EventBridgeTouchScheduler::new(
            aws_sdk_scheduler::Client::new(sdk),
            cfg.schedule.clone(),
            clock.clone(),
        )),
        queue: Arc::new(SqsTouchQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            &cfg.queue_url,
        )),
        dm: Arc::new(dm),
        email: Arc::new(SesEmailSender::new(
            ses.clone(),
            cfg.email_from.clone(),
            cfg.ses_configuration_set.clone(),
        )),
        tasks: Arc::new(DynamoTaskSink::new(dynamo, &cfg.table, clock.clone())),
        newsletter: Arc::new(SesNewsletterSink::new(ses, &cfg.contact_list)),
        notifier: notifier(cfg, sdk).await?,
        clock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> HashMap<&'static str, String> {
        [
            (env::TABLE, "t"),
            (env::TOUCH_QUEUE_URL, "https://sqs/q"),
            (env::TOUCH_QUEUE_ARN, "arn:q"),
            (env::SCHEDULE_GROUP, "g"),
            (env::SCHEDULER_ROLE_ARN, "arn:role"),
            (env::SCHEDULER_DLQ_ARN, "arn:dlq"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        for missing in [env::TABLE, env::TOUCH_QUEUE_ARN, env::SCHEDULER_DLQ_ARN] {
            let mut vars = full();
            vars.insert(missing, "  ".into());
            let err = AwsConfig::from_lookup(|k| vars.get(k).cloned()).expect_err("missing");
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn optional_variables_have_defaults() {
        let vars = full();
        let cfg = AwsConfig::from_lookup(|k| vars.get(k).cloned()).expect("valid");
        assert_eq!(cfg.contact_list, "newsletter");
        assert_eq!(cfg.accounts_param, None);
        assert_eq!(cfg.graph().version, "v25.0");
        let mut vars = full();
        vars.insert(env::GRAPH_API_URL, "http://127.0.0.1:9/".into());
        vars.insert(env::GRAPH_API_VERSION, "v26.0".into());
        let g = AwsConfig::from_lookup(|k| vars.get(k).cloned())
            .expect("valid")
            .graph();
        assert_eq!(
            (g.facebook_base.as_str(), g.version.as_str()),
            ("http://127.0.0.1:9", "v26.0")
        );
    }

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        let tokens = SecretTokens::from_map([((Channel::Instagram, "1".to_string()), s)].into());
        let shown = format!("{tokens:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("instagram:1"),
            "{shown}"
        );
        assert_eq!(
            tokens.token(Channel::Instagram, "1").as_deref(),
            Some("hunter2")
        );
        assert_eq!(tokens.token(Channel::Messenger, "1"), None);
    }
}
