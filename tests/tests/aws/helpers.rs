//! Emulator clients and per-test resources.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_ssm::types::ParameterType;
use cadence_aws::config::env;
use cadence_aws::{AwsConfig, DynamoLeadStore};
use cadence_core::chrono::{DateTime, TimeZone, Utc};
use cadence_core::ids::{Channel, LeadId, UserRef};
use cadence_core::lead::{Lead, Origin, PlannedTouch, Status, TouchKind, TouchState};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The variable `scripts/test.sh` sets to the emulator's URL.
pub const ENDPOINT_VAR: &str = "CADENCE_TEST_AWS_ENDPOINT";
/// The app secret `events/signed/*` and `events/lambda/*` are signed with.
pub const APP_SECRET: &str = "cadence-demo-secret";
/// The verify token in `events/lambda/apigw-v2-webhook-get.json`.
pub const VERIFY_TOKEN: &str = "cadence-verify-token";
/// The Instagram account id in `events/ig-message.json` and `events/signed/ig-message.body`.
pub const IG_ACCOUNT: &str = "17841400000000001";
/// The sender (IGSID) in the same events.
pub const IGSID: &str = "7391048215603847";
/// The Instagram send token the test deployment keeps in SSM.
pub const IG_TOKEN: &str = "IGQWtest-token";

/// The emulator's URL; fails the test with instructions when it is not set.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{ENDPOINT_VAR} is not set: these tests need the AWS API emulator. Run ./scripts/test.sh (it starts \
             moto and sets the variable), or start `moto_server -p 5000` and export {ENDPOINT_VAR}=http://127.0.0.1:5000"
        ),
    }
}

/// SDK configuration for the emulator, with dummy credentials set here rather than read from the process.
pub async fn sdk() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "cadence-tests",
        ))
        .load()
        .await
}

/// A name no other test (or earlier run against the same emulator) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// 2026-06-09T10:13:20Z (the sample events' time) plus `s` seconds.
pub fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_781_000_000 + s, 0)
        .single()
        .unwrap_or_default()
}

/// A fresh table.
pub async fn table(sdk: &SdkConfig) -> String {
    let name = unique("cadence");
    DynamoLeadStore::create_table(&aws_sdk_dynamodb::Client::new(sdk), &name)
        .await
        .expect("create table");
    name
}

/// A fresh queue: (url, arn).
pub async fn queue(sdk: &SdkConfig, prefix: &str) -> (String, String) {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .unwrap_or_default();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    let arn = attrs
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    (url, arn)
}

/// A fresh schedule group.
pub async fn schedule_group(sdk: &SdkConfig) -> String {
    let name = unique("cadence");
    aws_sdk_scheduler::Client::new(sdk)
        .create_schedule_group()
        .name(&name)
        .send()
        .await
        .expect("create group");
    name
}

/// Puts an SSM parameter.
pub async fn parameter(sdk: &SdkConfig, name: &str, value: &str, secure: bool) {
    let kind = if secure {
        ParameterType::SecureString
    } else {
        ParameterType::String
    };
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter");
}

/// A whole deployment on the emulator: table, touches queue and DLQ, schedule group, the Meta secrets and an
/// accounts file (one Instagram account in Paris whose token is an SSM SecureString).
pub struct Deployment {
    pub cfg: AwsConfig,
    pub sdk: SdkConfig,
}

pub async fn deploy(graph_api_url: Option<String>) -> Deployment {
    let sdk = sdk().await;
    let table = table(&sdk).await;
    let (queue_url, queue_arn) = queue(&sdk, "touches").await;
    let (_, dlq_arn) = queue(&sdk, "touches-dlq").await;
    let group = schedule_group(&sdk).await;
    let prefix = format!("/{}", unique("cadence"));
    parameter(&sdk, &format!("{prefix}/app-secret"), APP_SECRET, true).await;
    parameter(&sdk, &format!("{prefix}/verify-token"), VERIFY_TOKEN, true).await;
    parameter(&sdk, &format!("{prefix}/ig-token"), IG_TOKEN, true).await;
    let accounts = format!(
        "accounts:\n  - id: acme\n    instagram_id: \"{IG_ACCOUNT}\"\n    timezone: Europe/Paris\n    tokens:\n      instagram: \"ssm:{prefix}/ig-token\"\n"
    );
    parameter(&sdk, &format!("{prefix}/accounts"), &accounts, false).await;
    let mut vars: HashMap<&str, String> = HashMap::from([
        (env::TABLE, table),
        (env::TOUCH_QUEUE_URL, queue_url),
        (env::TOUCH_QUEUE_ARN, queue_arn),
        (env::SCHEDULE_GROUP, group),
        (
            env::SCHEDULER_ROLE_ARN,
            "arn:aws:iam::123456789012:role/cadence-scheduler".to_string(),
        ),
        (env::SCHEDULER_DLQ_ARN, dlq_arn),
        (env::ACCOUNTS_PARAM, format!("{prefix}/accounts")),
        (env::APP_SECRET_PARAM, format!("{prefix}/app-secret")),
        (env::VERIFY_TOKEN_PARAM, format!("{prefix}/verify-token")),
    ]);
    if let Some(u) = graph_api_url {
        vars.insert(env::GRAPH_API_URL, u);
    }
    let cfg = AwsConfig::from_lookup(|k| vars.get(k).cloned()).expect("complete configuration");
    Deployment { cfg, sdk }
}

/// Receives what is visible on a queue, polling until at least `min` messages arrived or `patience` passed.
pub async fn drain(
    sdk: &SdkConfig,
    queue_url: &str,
    min: usize,
    patience: Duration,
) -> Vec<aws_sdk_sqs::types::Message> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let deadline = tokio::time::Instant::now() + patience;
    let mut got = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for m in out.messages.unwrap_or_default() {
            if let Some(h) = &m.receipt_handle {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(h)
                    .send()
                    .await
                    .expect("delete message");
            }
            got.push(m);
        }
        if got.len() >= min || tokio::time::Instant::now() >= deadline {
            return got;
        }
    }
}

/// SQS messages as the Lambda event the send function gets.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> aws_lambda_events::sqs::SqsEvent {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id.clone().unwrap_or_default(),
                "receiptHandle": m.receipt_handle.clone().unwrap_or_default(),
                "body": m.body.clone().unwrap_or_default(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("SQS event")
}

/// A lead for store tests, with a long-tail touch due `due_in` seconds after [`at`]`(0)`.
pub fn lead(user: &str, due_in: Option<i64>) -> Lead {
    Lead {
        id: LeadId::derive("acme", Channel::Instagram, user),
        account: "acme".into(),
        channel: Channel::Instagram,
        business_id: IG_ACCOUNT.into(),
        user: UserRef::id(user),
        name: Some("Zoé".into()),
        email: Some("zoe@example.com".into()),
        tz: cadence_core::chrono_tz::Europe::Paris,
        cadence: "coach-ig".into(),
        status: Status::Active,
        origin: Origin::Message,
        topic: None,
        stage: Some("opener".into()),
        answers: [("qualify".to_string(), "b".to_string())].into(),
        ab: Default::default(),
        offered_slots: Vec::new(),
        first_contact_at: at(0),
        last_inbound_at: Some(at(0)),
        last_message_at: Some(at(0)),
        last_proactive_at: None,
        last_outbound_at: None,
        proactive_count: 0,
        plan: 1,
        next: due_in.map(|d| PlannedTouch {
            plan: 1,
            step: "day_7".into(),
            kind: TouchKind::LongTail,
            due: at(d),
            stall: None,
            state: TouchState::Planned,
            path: None,
            attempts: 0,
            delivered: Vec::new(),
        }),
        sent: Default::default(),
        paused_until: None,
        deferral_label: None,
        window_closed_at: None,
        booked_slot: None,
        status_reason: None,
        status_at: None,
        run: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// A Graph API mock that accepts every Instagram send with the test token.
pub async fn graph_mock() -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{IG_ACCOUNT}/messages")))
        .and(header(
            "authorization",
            format!("Bearer {IG_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "recipient_id": IGSID, "message_id": "m_e2e" })),
        )
        .mount(&graph)
        .await;
    graph
}
