//! [`DynamoLeadStore`]: the [`LeadStore`] port on one DynamoDB table (DESIGN §6).
//!
//! ```text
//! PK                   SK                          what
//! LEAD#<lead_id>       LEAD                        the lead (serde_dynamo of `Lead`) + version (+ GSI1PK/GSI1SK)
//! LEAD#<lead_id>       LOG#<ts>#<version>#<n>      audit records written with that version, TTL 400 days
//! LEAD#<lead_id>       TASK#p<plan>#<step>         human tasks (see `tasks`), TTL 400 days
//! INBOUND#<key>        INBOUND                     inbound dedupe claim, TTL 14 days
//! GSI1 (sparse, keys only): GSI1PK = DUE#<0..15>, GSI1SK = due instant (fixed-width RFC 3339 UTC)
//! ```
//!
//! Every write is conditional, never read-then-write: the lead put carries `attribute_not_exists(PK)` (create)
//! or `version = :v` (update), and the inbound claim rides in the same `TransactWriteItems`, so a retried
//! webhook either finds its claim (nothing written) or writes everything at once.
//!
//! The due index is sharded over 16 partition keys so the sweeper's reads stay spread out; a lead's shard is a
//! stable hash of its id. Only leads with sweeper work carry the index attributes (the index is sparse), so the
//! sweeper's reads grow with due work, not with stored leads.

use crate::sdk::{classify, is_throttle_code, Failure};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TimeToLiveSpecification, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use cadence_core::chrono::{DateTime, Duration, SecondsFormat, Utc};
use cadence_core::ids::LeadId;
use cadence_core::lead::{AuditRecord, Lead};
use cadence_core::ports::{Clock, LeadStore, LeadWrite, StoreError, Versioned};
use cadence_core::service::Services;
use serde_dynamo::aws_sdk_dynamodb_1::{
    from_attribute_value, from_item, to_attribute_value, to_item,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Attribute and index names. The lead's own fields sit beside these at the top level of its item.
pub mod attr {
    /// Partition key.
    pub const PK: &str = "PK";
    /// Sort key.
    pub const SK: &str = "SK";
    /// Lead item version (number), for optimistic concurrency.
    pub const VERSION: &str = "version";
    /// Epoch seconds after which DynamoDB may delete the item (claims, audit, tasks).
    pub const TTL: &str = "ttl";
    /// Due index partition key: `DUE#<shard>`.
    pub const GSI1PK: &str = "GSI1PK";
    /// Due index sort key: the due instant.
    pub const GSI1SK: &str = "GSI1SK";
    /// Name of the sparse due index.
    pub const GSI1: &str = "GSI1";
    /// Audit items: the records written together (usually one).
    pub const RECORDS: &str = "records";
    /// Task items: the task (serde_dynamo of `HumanTask`).
    pub const TASK: &str = "task";
    /// Claim and log items: when written (RFC 3339), for operators.
    pub const AT: &str = "at";

    /// Attributes of the lead item that are not fields of `Lead`.
    pub const LEAD_ITEM_EXTRAS: &[&str] = &[PK, SK, VERSION, GSI1PK, GSI1SK];
}

/// Key prefixes and fixed sort keys.
pub mod key {
    pub const LEAD_PREFIX: &str = "LEAD#";
    pub const LEAD_SK: &str = "LEAD";
    pub const LOG_PREFIX: &str = "LOG#";
    pub const TASK_PREFIX: &str = "TASK#";
    pub const INBOUND_PREFIX: &str = "INBOUND#";
    pub const INBOUND_SK: &str = "INBOUND";
    pub const DUE_PREFIX: &str = "DUE#";
}

/// Shards of the due index.
pub const DUE_SHARDS: u64 = 16;
/// How long an inbound claim is kept: longer than any retry Meta makes (7 days for WhatsApp).
pub const CLAIM_TTL: Duration = Duration::days(14);
/// How long audit records and tasks are kept.
pub const AUDIT_TTL: Duration = Duration::days(400);
/// DynamoDB's limit on items in one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on requests in one `BatchWriteItem`.
const MAX_BATCH_WRITE: usize = 25;

/// `LEAD#<id>`.
pub fn lead_pk(id: &LeadId) -> String {
    format!("{}{}", key::LEAD_PREFIX, id.as_str())
}

/// `INBOUND#<key>`.
pub fn inbound_pk(dedupe_key: &str) -> String {
    format!("{}{dedupe_key}", key::INBOUND_PREFIX)
}

/// A fixed-width UTC instant (`2026-06-09T10:13:20.123Z`): sorts as text in time order.
pub fn sort_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The due-index shard of a lead: FNV-1a of its id, mod 16. Stable across releases and platforms.
pub fn due_shard(id: &LeadId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_str().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % DUE_SHARDS
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn mapping(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("mapping {what}: {e}"))
}

/// The lead item: the lead's fields, its keys, its version and (when it has sweeper work) the due index keys.
pub fn lead_to_item(
    lead: &Lead,
    version: u64,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item: HashMap<String, AttributeValue> =
        to_item(lead).map_err(|e| mapping("lead", e))?;
    if let Some(clash) = attr::LEAD_ITEM_EXTRAS
        .iter()
        .find(|a| item.contains_key(**a))
    {
        // A new `Lead` field named like a key attribute would be silently overwritten: refuse loudly.
        return Err(mapping(
            "lead",
            format!("field `{clash}` collides with a key attribute"),
        ));
    }
    item.insert(attr::PK.into(), s(lead_pk(&lead.id)));
    item.insert(attr::SK.into(), s(key::LEAD_SK));
    item.insert(attr::VERSION.into(), n(version));
    if let Some(due) = Services::sweep_due(lead) {
        item.insert(
            attr::GSI1PK.into(),
            s(format!("{}{}", key::DUE_PREFIX, due_shard(&lead.id))),
        );
        item.insert(attr::GSI1SK.into(), s(sort_instant(due)));
    }
    Ok(item)
}

/// The lead and its version from a lead item.
pub fn lead_from_item(
    mut item: HashMap<String, AttributeValue>,
) -> Result<Versioned<Lead>, StoreError> {
    let version = match item.get(attr::VERSION) {
        Some(AttributeValue::N(v)) => v.parse::<u64>().map_err(|e| mapping("version", e))?,
        _ => return Err(mapping("lead", "missing version")),
    };
    for a in attr::LEAD_ITEM_EXTRAS {
        item.remove(*a);
    }
    let value: Lead = from_item(item).map_err(|e| mapping("lead", e))?;
    Ok(Versioned { value, version })
}

/// The audit items for one write: `LOG#<ts>#<version>#<n>`, at most `max_items` of them. Records beyond that
/// are packed into the last item, so a write never exceeds the transaction limit.
pub fn audit_items(
    id: &LeadId,
    version: u64,
    records: &[AuditRecord],
    max_items: usize,
    ttl: i64,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    if records.is_empty() || max_items == 0 {
        return Ok(Vec::new());
    }
    let per_item = records.len().div_ceil(max_items);
    records
        .chunks(per_item)
        .enumerate()
        .map(|(i, chunk)| {
            let first_at = chunk.first().map(|r| r.at).unwrap_or_default();
            let sk = format!(
                "{}{}#{version:010}#{i:03}",
                key::LOG_PREFIX,
                sort_instant(first_at)
            );
            let list = to_attribute_value(chunk).map_err(|e| mapping("audit", e))?;
            Ok(HashMap::from([
                (attr::PK.to_string(), s(lead_pk(id))),
                (attr::SK.to_string(), s(sk)),
                (attr::RECORDS.to_string(), list),
                (attr::TTL.to_string(), n(ttl)),
            ]))
        })
        .collect()
}

/// Audit records from one audit item.
pub fn audit_from_item(
    mut item: HashMap<String, AttributeValue>,
) -> Result<Vec<AuditRecord>, StoreError> {
    let list = item
        .remove(attr::RECORDS)
        .ok_or_else(|| mapping("audit", "missing records"))?;
    from_attribute_value(list).map_err(|e| mapping("audit", e))
}

/// The inbound claim item.
pub fn claim_item(dedupe_key: &str, now: DateTime<Utc>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (attr::PK.to_string(), s(inbound_pk(dedupe_key))),
        (attr::SK.to_string(), s(key::INBOUND_SK)),
        (attr::AT.to_string(), s(sort_instant(now))),
        (attr::TTL.to_string(), n((now + CLAIM_TTL).timestamp())),
    ])
}

/// The lead store on DynamoDB.
#[derive(Clone)]
pub struct DynamoLeadStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for DynamoLeadStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoLeadStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Which item of a save transaction a cancellation reason belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxItem {
    Claim,
    Lead,
    Audit,
}

impl DynamoLeadStore {
    /// A store on `table`. The clock stamps claims and TTLs (inject a virtual one in tests).
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the key schema, the due index and TTL, for tests and local development (the
    /// deployed table comes from the infrastructure templates, which must match this).
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| {
            StoreError::Unexpected(format!("create table: {e}"))
        };
        let def = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)
        };
        let ks = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(build)
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(attr::GSI1)
            .key_schema(ks(attr::GSI1PK, KeyType::Hash)?)
            .key_schema(ks(attr::GSI1SK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(build)?;
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(def(attr::PK)?)
            .attribute_definitions(def(attr::SK)?)
            .attribute_definitions(def(attr::GSI1PK)?)
            .attribute_definitions(def(attr::GSI1SK)?)
            .key_schema(ks(attr::PK, KeyType::Hash)?)
            .key_schema(ks(attr::SK, KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await
            .map_err(|e| store_error("CreateTable", &e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attr::TTL)
                    .enabled(true)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| store_error("UpdateTimeToLive", &e))?;
        Ok(())
    }

    fn put(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(item))
    }

    /// Every item key under a lead's partition.
    async fn partition_keys(
        &self,
        id: &LeadId,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(lead_pk(id)))
            .projection_expression("#pk, #sk")
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            keys.push(item.map_err(|e| store_error("Query", &e))?);
        }
        Ok(keys)
    }
}

/// Maps a non-transaction SDK error onto the port's error.
fn store_error<E, R>(op: &str, e: &SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    match classify(op, e) {
        (Failure::Throttled, _) => StoreError::Throttled,
        (_, what) => StoreError::Unexpected(what),
    }
}

/// Maps a failed save transaction: a failed claim condition is a duplicate (it wins over anything else,
/// since the event was processed), a failed lead condition or a concurrent transaction is a conflict,
/// throttling is throttling.
fn transaction_error(e: &SdkError<TransactWriteItemsError>, layout: &[TxItem]) -> StoreError {
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
    else {
        return store_error("TransactWriteItems", e);
    };
    let reasons: Vec<(TxItem, &str)> = c
        .cancellation_reasons()
        .iter()
        .zip(layout)
        .filter_map(|(r, item)| r.code().filter(|c| *c != "None").map(|c| (*item, c)))
        .collect();
    if reasons
        .iter()
        .any(|(i, c)| *i == TxItem::Claim && *c == "ConditionalCheckFailed")
    {
        return StoreError::Duplicate;
    }
    if reasons.iter().any(|(i, c)| {
        (*i == TxItem::Lead && *c == "ConditionalCheckFailed") || *c == "TransactionConflict"
    }) {
        return StoreError::Conflict;
    }
    if reasons.iter().any(|(_, c)| is_throttle_code(c)) {
        return StoreError::Throttled;
    }
    let codes: Vec<String> = reasons.iter().map(|(i, c)| format!("{i:?}:{c}")).collect();
    StoreError::Unexpected(format!(
        "TransactWriteItems cancelled ({})",
        codes.join(", ")
    ))
}

#[async_trait]
impl LeadStore for DynamoLeadStore {
    async fn load(&self, id: &LeadId) -> Result<Option<Versioned<Lead>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(lead_pk(id)))
            .key(attr::SK, s(key::LEAD_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &e))?;
        out.item.map(lead_from_item).transpose()
    }

    async fn save(&self, w: LeadWrite<'_>) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let build =
            |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unexpected(format!("save: {e}"));
        let mut items = Vec::new();
        let mut layout = Vec::new();
        if let Some(k) = w.inbound_claim {
            let put = self
                .put(claim_item(k, now))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK)
                .build()
                .map_err(build)?;
            items.push(TransactWriteItem::builder().put(put).build());
            layout.push(TxItem::Claim);
        }
        let version = w.expected_version.map_or(1, |v| v + 1);
        let lead = self.put(lead_to_item(w.lead, version)?);
        let lead = match w.expected_version {
            None => lead
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", attr::PK),
            Some(v) => lead
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":v", n(v)),
        };
        items.push(
            TransactWriteItem::builder()
                .put(lead.build().map_err(build)?)
                .build(),
        );
        layout.push(TxItem::Lead);
        let room = MAX_TRANSACTION_ITEMS - items.len();
        let ttl = (now + AUDIT_TTL).timestamp();
        for item in audit_items(&w.lead.id, version, w.audit, room, ttl)? {
            items.push(
                TransactWriteItem::builder()
                    .put(self.put(item).build().map_err(build)?)
                    .build(),
            );
            layout.push(TxItem::Audit);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(&e, &layout))?;
        Ok(version)
    }

    async fn claim_inbound(&self, dedupe_key: &str) -> Result<(), StoreError> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim_item(dedupe_key, self.clock.now())))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Duplicate)
            }
            Err(e) => Err(store_error("PutItem", &e)),
        }
    }

    async fn due_for_sweep(
        &self,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadId>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let page = i32::try_from(limit).unwrap_or(i32::MAX);
        // Each shard is ordered by due; the oldest `limit` overall are among the oldest `limit` of each shard.
        let mut due: Vec<(String, LeadId)> = Vec::new();
        for shard in 0..DUE_SHARDS {
            let mut taken = 0;
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(attr::GSI1)
                .key_condition_expression("#gpk = :shard AND #gsk < :until")
                .expression_attribute_names("#gpk", attr::GSI1PK)
                .expression_attribute_names("#gsk", attr::GSI1SK)
                .expression_attribute_values(":shard", s(format!("{}{shard}", key::DUE_PREFIX)))
                .expression_attribute_values(":until", s(sort_instant(until)))
                .limit(page)
                .into_paginator()
                .items()
                .send();
            while let Some(item) = pages.next().await {
                let item = item.map_err(|e| store_error("Query", &e))?;
                let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(at))) =
                    (item.get(attr::PK), item.get(attr::GSI1SK))
                else {
                    continue;
                };
                if let Some(id) = pk.strip_prefix(key::LEAD_PREFIX).and_then(LeadId::parse) {
                    due.push((at.clone(), id));
                }
                taken += 1;
                if taken >= limit {
                    break;
                }
            }
        }
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
    }

    async fn audit(&self, id: &LeadId) -> Result<Vec<AuditRecord>, StoreError> {
        let mut records = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :log)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(lead_pk(id)))
            .expression_attribute_values(":log", s(key::LOG_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            records.extend(audit_from_item(
                item.map_err(|e| store_error("Query", &e))?,
            )?);
        }
        Ok(records)
    }

    async fn list(&self) -> Result<Vec<LeadId>, StoreError> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#sk = :lead")
            .projection_expression("#pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":lead", s(key::LEAD_SK))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Scan", &e))?;
            if let Some(AttributeValue::S(pk)) = item.get(attr::PK) {
                if let Some(id) = pk.strip_prefix(key::LEAD_PREFIX).and_then(LeadId::parse) {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    async fn delete(&self, id: &LeadId) -> Result<(), StoreError> {
        let keys = self.partition_keys(id).await?;
        for chunk in keys.chunks(MAX_BATCH_WRITE) {
            let mut requests = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Unexpected(format!("delete: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // BatchWriteItem may leave items unprocessed under load: resubmit them a few times.
            for _ in 0..5 {
                if requests.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| store_error("BatchWriteItem", &e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Throttled);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadence_core::chrono::TimeZone;
    use cadence_core::ids::{Channel, UserRef};
    use cadence_core::lead::{Origin, PlannedTouch, SentTouch, Status, TouchKind, TouchState};

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_781_000_000 + s, 0)
            .single()
            .unwrap_or_default()
    }

    fn lead() -> Lead {
        Lead {
            id: LeadId::derive("acme", Channel::Instagram, "7391048215603847"),
            account: "acme".into(),
            channel: Channel::Instagram,
            business_id: "17841400000000001".into(),
            user: UserRef::id("7391048215603847"),
            name: Some("Zoé".into()),
            email: None,
            tz: cadence_core::chrono_tz::Europe::Paris,
            cadence: "coach-ig".into(),
            status: Status::Active,
            origin: Origin::Comment {
                comment_id: "c1".into(),
            },
            topic: Some("programme".into()),
            stage: Some("opener".into()),
            answers: [("qualify".to_string(), "b".to_string())].into(),
            ab: [("opener".to_string(), "b".to_string())].into(),
            offered_slots: vec![at(86_400)],
            first_contact_at: at(0),
            last_inbound_at: Some(at(0)),
            last_message_at: Some(at(0)),
            last_proactive_at: None,
            last_outbound_at: Some(at(5)),
            proactive_count: 0,
            plan: 3,
            next: Some(PlannedTouch {
                plan: 3,
                step: "follow_up_1".into(),
                kind: TouchKind::NoReply,
                due: at(4 * 3600),
                stall: Some("opener".into()),
                state: TouchState::Planned,
                path: None,
                attempts: 0,
                delivered: Vec::new(),
            }),
            sent: vec![SentTouch {
                plan: 2,
                step: "opener".into(),
                stall: None,
                at: at(5),
                path: "dm".into(),
                provider_ids: vec!["m_1".into()],
            }]
            .into(),
            paused_until: None,
            deferral_label: None,
            window_closed_at: None,
            booked_slot: None,
            status_reason: None,
            status_at: None,
            run: 1,
            created_at: at(0),
            updated_at: at(5),
        }
    }

    #[test]
    fn a_lead_item_round_trips_with_its_version_and_due_index() {
        let l = lead();
        let item = lead_to_item(&l, 7).expect("maps");
        assert_eq!(item.get(attr::PK), Some(&s(format!("LEAD#{}", l.id))));
        assert_eq!(item.get(attr::SK), Some(&s("LEAD")));
        assert_eq!(item.get(attr::VERSION), Some(&n(7)));
        let due = Services::sweep_due(&l).expect("has sweeper work");
        assert_eq!(item.get(attr::GSI1SK), Some(&s(sort_instant(due))));
        assert_eq!(
            item.get(attr::GSI1PK),
            Some(&s(format!("DUE#{}", due_shard(&l.id))))
        );
        let back = lead_from_item(item).expect("parses");
        assert_eq!(
            back,
            Versioned {
                value: l,
                version: 7
            }
        );
    }

    #[test]
    fn a_lead_without_sweeper_work_has_no_due_index_attributes() {
        let mut l = lead();
        l.next = None;
        l.status = Status::Booked;
        let item = lead_to_item(&l, 1).expect("maps");
        assert!(!item.contains_key(attr::GSI1PK) && !item.contains_key(attr::GSI1SK));
        assert_eq!(lead_from_item(item).expect("parses").value, l);
    }

    #[test]
    fn a_claimed_touch_round_trips_its_flattened_state() {
        let mut l = lead();
        if let Some(t) = l.next.as_mut() {
            t.state = TouchState::Sending { since: at(60) };
            t.path = Some("dm".into());
        }
        let back = lead_from_item(lead_to_item(&l, 2).expect("maps")).expect("parses");
        assert_eq!(back.value, l);
    }

    #[test]
    fn due_index_sort_keys_are_fixed_width_and_sort_in_time_order() {
        let a = sort_instant(at(0));
        let b = sort_instant(at(1) + Duration::milliseconds(5));
        let c = sort_instant(at(3600 * 24 * 400));
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len(), c.len());
        assert!(a < b && b < c);
        assert_eq!(a, "2026-06-09T10:13:20.000Z");
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let l = lead();
        assert_eq!(due_shard(&l.id), due_shard(&l.id.clone()));
        let shards: std::collections::BTreeSet<u64> = (0..200)
            .map(|i| due_shard(&LeadId::derive("acme", Channel::Whatsapp, &i.to_string())))
            .collect();
        assert_eq!(shards.len(), DUE_SHARDS as usize);
        assert!(shards.iter().all(|s| *s < DUE_SHARDS));
    }

    #[test]
    fn audit_records_round_trip_and_pack_into_the_room_left() {
        let id = lead().id;
        let records: Vec<AuditRecord> = (0..10)
            .map(|i| AuditRecord::new(at(i), "planned", Some("opener"), format!("d{i}")))
            .collect();
        let items = audit_items(&id, 4, &records, 100, 99).expect("maps");
        assert_eq!(items.len(), 10);
        let packed = audit_items(&id, 4, &records, 3, 99).expect("maps");
        assert_eq!(packed.len(), 3);
        let mut back = Vec::new();
        let mut sks = Vec::new();
        for item in packed {
            if let Some(AttributeValue::S(sk)) = item.get(attr::SK) {
                sks.push(sk.clone());
            }
            back.extend(audit_from_item(item).expect("parses"));
        }
        assert_eq!(back, records);
        let mut sorted = sks.clone();
        sorted.sort();
        assert_eq!(sks, sorted, "sort keys keep write order");
        assert!(sks[0].starts_with("LOG#2026-06-09T10:13:20.000Z#0000000004#"));
    }

    #[test]
    fn a_claim_expires_after_fourteen_days() {
        let item = claim_item("mid.1", at(0));
        assert_eq!(item.get(attr::PK), Some(&s("INBOUND#mid.1")));
        assert_eq!(
            item.get(attr::TTL),
            Some(&n(at(0).timestamp() + 14 * 86_400))
        );
    }
}
