//! The SESv2 adapters and the task sink on the emulator.

use crate::helpers::{at, sdk, table};
use aws_sdk_sesv2::types::Topic;
use cadence_aws::email::SKIPPED_NO_EMAIL;
use cadence_aws::{DynamoTaskSink, SesEmailSender, SesNewsletterSink};
use cadence_core::ids::{Channel, LeadId};
use cadence_core::lead::TouchRef;
use cadence_core::memory::VirtualClock;
use cadence_core::outbound::{EmailMessage, HumanTask, NewsletterHandoff};
use cadence_core::ports::{EmailSender, LeadStore, NewsletterSink, SendFailure, TaskSink};
use std::sync::Arc;

fn email(from: &str) -> EmailMessage {
    EmailMessage {
        from: from.into(),
        to: "zoe@example.com".into(),
        subject: "Day 14".into(),
        text: "Hello Zoé".into(),
        list_unsubscribe: Some("https://example.com/unsubscribe?l=1".into()),
    }
}

#[tokio::test]
async fn an_email_touch_is_sent_from_a_verified_identity_and_refused_from_an_unknown_one() {
    let sdk = sdk().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let from = format!("{}@example.com", crate::helpers::unique("coach"));
    ses.create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("identity");
    let sender = SesEmailSender::new(ses, None, None);
    let touch = TouchRef::new(
        LeadId::derive("acme", Channel::Instagram, "7001"),
        3,
        "day_14",
    );

    let receipt = sender
        .send_email(&touch, &email(&from))
        .await
        .expect("sent");
    assert!(!receipt.provider_id.is_empty());

    let r = sender
        .send_email(&touch, &email("nobody@unverified.example"))
        .await;
    assert!(matches!(r, Err(SendFailure::Permanent { .. })), "{r:?}");
    if let Err(e) = r {
        assert!(
            !e.to_string().contains("unverified.example"),
            "no address in the failure: {e}"
        );
    }
}

#[tokio::test]
async fn an_email_touch_without_any_sender_is_an_auth_failure() {
    let sender = SesEmailSender::new(aws_sdk_sesv2::Client::new(&sdk().await), None, None);
    let touch = TouchRef::new(
        LeadId::derive("acme", Channel::Instagram, "7002"),
        3,
        "day_14",
    );
    let r = sender.send_email(&touch, &email("")).await;
    assert!(matches!(r, Err(SendFailure::Auth { .. })), "{r:?}");
}

#[tokio::test]
async fn a_newsletter_handoff_creates_an_opted_in_contact_once_and_skips_leads_without_email() {
    let sdk = sdk().await;
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let list = crate::helpers::unique("newsletter");
    ses.create_contact_list()
        .contact_list_name(&list)
        .topics(
            Topic::builder()
                .topic_name("coaching")
                .display_name("Coaching")
                .default_subscription_status(aws_sdk_sesv2::types::SubscriptionStatus::OptOut)
                .build()
                .expect("topic"),
        )
        .send()
        .await
        .expect("contact list");
    let sink = SesNewsletterSink::new(ses, "unused-default");
    let id = LeadId::derive("acme", Channel::Instagram, "7003");
    let touch = TouchRef::new(id.clone(), 5, "newsletter");
    let handoff = NewsletterHandoff {
        lead: id.clone(),
        list: list.clone(),
        topic: "coaching".into(),
        email: Some("zoe@example.com".into()),
        name: Some("Zoé".into()),
    };
    let first = sink
        .handoff(&touch, &handoff)
        .await
        .expect("contact created");
    assert_eq!(first.provider_id, format!("contact:{list}:{id}"));
    let again = sink
        .handoff(&touch, &handoff)
        .await
        .expect("an existing contact is success");
    assert_eq!(again, first);
    let none = sink
        .handoff(
            &touch,
            &NewsletterHandoff {
                email: None,
                ..handoff
            },
        )
        .await
        .expect("skipped");
    assert_eq!(none.provider_id, SKIPPED_NO_EMAIL);
}

#[tokio::test]
async fn a_human_task_is_stored_once_per_touch_under_the_lead_and_deleted_with_it() {
    let sdk = sdk().await;
    let table = table(&sdk).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let clock = Arc::new(VirtualClock::new(at(0)));
    let sink = DynamoTaskSink::new(client.clone(), &table, clock.clone());
    let id = LeadId::derive("acme", Channel::Instagram, "7004");
    let touch = TouchRef::new(id.clone(), 4, "day_7");
    let task = HumanTask {
        lead: id.clone(),
        channel: Channel::Instagram,
        title: "Engage with their content".into(),
        instructions: "Like and comment on a recent post".into(),
        contact: Some("@zoe".into()),
    };
    let a = sink.create_task(&touch, &task).await.expect("task");
    clock.set(at(60));
    let b = sink.create_task(&touch, &task).await.expect("retried task");
    assert_eq!(a, b);
    let items = client
        .query()
        .table_name(&table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :t)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("LEAD#{id}")),
        )
        .expression_attribute_values(
            ":t",
            aws_sdk_dynamodb::types::AttributeValue::S("TASK#".into()),
        )
        .send()
        .await
        .expect("query");
    assert_eq!(items.count, 1);
    let store = cadence_aws::DynamoLeadStore::new(client.clone(), &table, clock);
    store.delete(&id).await.expect("delete");
    let items = client
        .query()
        .table_name(&table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("LEAD#{id}")),
        )
        .send()
        .await
        .expect("query");
    assert_eq!(items.count, 0);
}
