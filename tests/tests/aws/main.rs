//! The AWS layer against the AWS API emulator (moto server) and a Graph API mock (wiremock).
//!
//! `scripts/test.sh` starts moto and exports `CADENCE_TEST_AWS_ENDPOINT`; without it these tests fail with
//! a message saying so. Every test creates its own uniquely named table, queues, schedule group and
//! parameters, so they run in parallel on one emulator. Time is a `VirtualClock`: nothing sleeps for timing;
//! only SQS delivery is polled.
//!
//! # Layout
//! - `helpers`: emulator clients, unique names, a whole deployment (table, queues, group, SSM parameters).
//! - `store`, `scheduler`, `queue`, `ses`: each adapter against the emulator.
//! - `handlers`: the Lambda handlers fed from `events/lambda/*.json`.
//! - `races`: one webhook delivered many times at once against DynamoDB's conditional writes.
//! - `e2e`: signed webhook → lead → opener via SQS → Graph mock → follow-up via Scheduler, exactly once.
//! - `ops`: the `cadence-ops` operator commands on a lead made by a signed webhook (list, show, schedules,
//!   pause, resume, stop), read back from DynamoDB and Scheduler.

mod e2e;
mod handlers;
mod helpers;
mod ops;
mod queue;
mod races;
mod scheduler;
mod ses;
mod store;
