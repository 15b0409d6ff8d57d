//! `DynamoLeadStore` on the emulator: the item mapping, conditional writes and the due index.

use crate::helpers::{at, lead, sdk, table};
use cadence_aws::store::{attr, lead_pk};
use cadence_aws::DynamoLeadStore;
use cadence_core::lead::AuditRecord;
use cadence_core::memory::VirtualClock;
use cadence_core::ports::{LeadStore, LeadWrite, StoreError, Versioned};
use std::sync::Arc;

async fn store() -> (DynamoLeadStore, aws_sdk_dynamodb::Client) {
    let sdk = sdk().await;
    let table = table(&sdk).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    (
        DynamoLeadStore::new(client.clone(), table, Arc::new(VirtualClock::new(at(0)))),
        client,
    )
}

fn write<'a>(
    l: &'a cadence_core::lead::Lead,
    v: Option<u64>,
    claim: Option<&'a str>,
    audit: &'a [AuditRecord],
) -> LeadWrite<'a> {
    LeadWrite {
        lead: l,
        expected_version: v,
        inbound_claim: claim,
        audit,
    }
}

#[tokio::test]
async fn a_saved_lead_reads_back_equal_with_its_version_and_audit_trail() {
    let (store, _) = store().await;
    let l = lead("1001", Some(7 * 86_400));
    let audit = vec![
        AuditRecord::new(at(0), "inbound", None, "message"),
        AuditRecord::new(at(0), "planned", Some("opener"), "first_contact"),
    ];
    assert_eq!(
        store
            .save(write(&l, None, Some("mid.1001"), &audit))
            .await
            .expect("create"),
        1
    );
    let back = store.load(&l.id).await.expect("load");
    assert_eq!(
        back,
        Some(Versioned {
            value: l.clone(),
            version: 1
        })
    );
    let more = vec![AuditRecord::new(at(60), "sent", Some("opener"), "dm")];
    assert_eq!(
        store
            .save(write(&l, Some(1), None, &more))
            .await
            .expect("update"),
        2
    );
    let trail = store.audit(&l.id).await.expect("audit");
    assert_eq!(trail, [audit, more].concat());
    assert_eq!(
        store.load(&lead("nobody", None).id).await.expect("load"),
        None
    );
}

#[tokio::test]
async fn a_write_at_a_stale_version_or_a_second_create_is_a_conflict() {
    let (store, _) = store().await;
    let mut l = lead("1002", None);
    store
        .save(write(&l, None, None, &[]))
        .await
        .expect("create");
    assert!(matches!(
        store.save(write(&l, None, None, &[])).await,
        Err(StoreError::Conflict)
    ));
    l.proactive_count = 1;
    assert_eq!(
        store.save(write(&l, Some(1), None, &[])).await.expect("v2"),
        2
    );
    l.proactive_count = 99;
    let audit = [AuditRecord::new(at(1), "sent", None, "stale")];
    assert!(matches!(
        store.save(write(&l, Some(1), None, &audit)).await,
        Err(StoreError::Conflict)
    ));
    let now = store.load(&l.id).await.expect("load").expect("exists");
    assert_eq!((now.version, now.value.proactive_count), (2, 1));
    assert!(
        store.audit(&l.id).await.expect("audit").is_empty(),
        "a cancelled transaction writes no audit"
    );
}

#[tokio::test]
async fn a_claimed_inbound_event_cancels_the_whole_transaction_as_a_duplicate() {
    let (store, _) = store().await;
    let a = lead("1003", Some(100));
    store
        .save(write(&a, None, Some("mid.dup"), &[]))
        .await
        .expect("first delivery");
    // The same event for another (new) lead: nothing of it may be written.
    let b = lead("1004", Some(100));
    let audit = [AuditRecord::new(at(1), "inbound", None, "message")];
    assert!(matches!(
        store.save(write(&b, None, Some("mid.dup"), &audit)).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(store.load(&b.id).await.expect("load"), None);
    assert!(store.audit(&b.id).await.expect("audit").is_empty());
    // A duplicate claim wins over a stale version: the event was processed, there is nothing to retry.
    assert!(matches!(
        store.save(write(&a, Some(7), Some("mid.dup"), &[])).await,
        Err(StoreError::Duplicate)
    ));
    // Claims on their own.
    store
        .claim_inbound("status:wamid.1:read")
        .await
        .expect("first claim");
    assert!(matches!(
        store.claim_inbound("status:wamid.1:read").await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store.claim_inbound("mid.dup").await,
        Err(StoreError::Duplicate)
    ));
}

#[tokio::test]
async fn the_due_index_returns_the_oldest_due_leads_across_all_shards() {
    let (store, client) = store().await;
    let mut leads = Vec::new();
    for i in 0..40 {
        // Due every 10 minutes, in an order unrelated to the shards.
        let l = lead(&format!("2{i:03}"), Some(((i * 17) % 40) * 600));
        store.save(write(&l, None, None, &[])).await.expect("save");
        leads.push(l);
    }
    let idle = lead("2999", None);
    store
        .save(write(&idle, None, None, &[]))
        .await
        .expect("save idle");
    let shards: std::collections::BTreeSet<u64> = leads
        .iter()
        .map(|l| cadence_aws::store::due_shard(&l.id))
        .collect();
    assert!(
        shards.len() >= 8,
        "test leads spread over shards: {shards:?}"
    );

    let mut by_due: Vec<_> = leads
        .iter()
        .filter_map(|l| l.next.as_ref().map(|t| (t.due, l.id.clone())))
        .collect();
    by_due.sort();
    let until = at(20 * 600);
    let expected: Vec<_> = by_due
        .iter()
        .filter(|(d, _)| *d < until)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(expected.len(), 20);
    assert_eq!(
        store.due_for_sweep(until, 100).await.expect("due"),
        expected
    );
    assert_eq!(
        store.due_for_sweep(until, 5).await.expect("due"),
        expected[..5].to_vec()
    );

    // Work done: the lead leaves the index (its GSI attributes are removed).
    let mut first = leads
        .iter()
        .find(|l| l.id == expected[0])
        .cloned()
        .expect("lead");
    first.next = None;
    store
        .save(write(&first, Some(1), None, &[]))
        .await
        .expect("update");
    assert_eq!(
        store.due_for_sweep(until, 100).await.expect("due"),
        expected[1..].to_vec()
    );
    let item = client
        .get_item()
        .table_name(store.table())
        .key(
            attr::PK,
            aws_sdk_dynamodb::types::AttributeValue::S(lead_pk(&first.id)),
        )
        .key(
            attr::SK,
            aws_sdk_dynamodb::types::AttributeValue::S("LEAD".into()),
        )
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert!(!item.contains_key(attr::GSI1PK) && !item.contains_key(attr::GSI1SK));
}

#[tokio::test]
async fn list_and_delete_cover_every_item_of_a_lead_and_delete_is_idempotent() {
    let (store, client) = store().await;
    let a = lead("3001", Some(60));
    let b = lead("3002", None);
    let audit: Vec<AuditRecord> = (0..30)
        .map(|i| AuditRecord::new(at(i), "planned", None, format!("r{i}")))
        .collect();
    store
        .save(write(&a, None, Some("mid.3001"), &audit))
        .await
        .expect("a");
    store.save(write(&b, None, None, &[])).await.expect("b");
    let mut ids = vec![a.id.clone(), b.id.clone()];
    ids.sort();
    assert_eq!(store.list().await.expect("list"), ids);

    store.delete(&a.id).await.expect("delete");
    store.delete(&a.id).await.expect("delete again");
    assert_eq!(store.load(&a.id).await.expect("load"), None);
    assert!(store.audit(&a.id).await.expect("audit").is_empty());
    assert_eq!(store.list().await.expect("list"), vec![b.id.clone()]);
    assert!(store
        .due_for_sweep(at(86_400), 10)
        .await
        .expect("due")
        .is_empty());
    let left = client
        .query()
        .table_name(store.table())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(lead_pk(&a.id)),
        )
        .send()
        .await
        .expect("query");
    assert_eq!(left.count, 0);
}

#[tokio::test]
async fn a_write_with_more_audit_records_than_a_transaction_holds_still_succeeds() {
    let (store, _) = store().await;
    let l = lead("4001", None);
    let audit: Vec<AuditRecord> = (0..250)
        .map(|i| AuditRecord::new(at(i), "planned", None, format!("r{i}")))
        .collect();
    store
        .save(write(&l, None, Some("mid.4001"), &audit))
        .await
        .expect("save");
    assert_eq!(store.audit(&l.id).await.expect("audit"), audit);
}
