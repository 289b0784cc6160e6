//! The port contract suite (`pacer-testkit`) against the AWS adapters on moto: every case
//! on its own tables, queues and topic, provisioned from `infra/resources.json` under a
//! unique name prefix.
//!
//! The emulator's endpoint comes from `PACER_TEST_AWS_ENDPOINT` (`scripts/test-aws.sh`
//! starts moto and sets it). Without it every case prints why and passes without
//! running, so a plain `cargo test` works on a machine without moto.
//!
//! Where moto and SQS differ, the capability flags say so and the cases check the weaker
//! behaviour:
//! - `dedup_survives_delete: false` — moto forgets a FIFO deduplication id once its
//!   message is deleted; SQS remembers it for the whole five minutes.
//! - `fifo_redelivery_in_order: false` — after a visibility timeout moto may hand out a
//!   later message of a group before the one that timed out; SQS keeps send order.
//! - `queue_follows_harness_clock: false` — SQS visibility timeouts run on real time, not
//!   on the suite's manual clock: the queue cases use short real timeouts and sleep past
//!   them (true of real SQS as much as of moto). The webhook cases too: a retried
//!   delivery is hidden in SQS until its due time.

use async_trait::async_trait;
use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::{Aws, AwsOptions};
use pacer_core::ports::Unlimited;
use pacer_core::Clock;
use pacer_testkit::clock::ManualClock;
use pacer_testkit::contract::{
    BackendFactory, Capabilities, Harness, UnusedCaller, WORK_RECEIVE_LIMIT,
};
use std::sync::Arc;

mod common;

use common::{sdk_config, unavailable, ENDPOINT_VAR};

/// Fresh, uniquely prefixed resources on moto per harness.
struct MotoFactory;

#[async_trait]
impl BackendFactory for MotoFactory {
    fn unavailable(&self) -> Option<String> {
        match std::env::var(ENDPOINT_VAR) {
            Ok(v) if !v.is_empty() => None,
            _ => Some(unavailable()),
        }
    }

    async fn harness(&self) -> Harness {
        let endpoint = std::env::var(ENDPOINT_VAR).expect("the emulator endpoint is set");
        let sdk = sdk_config(&endpoint).await;
        let options = ProvisionOptions {
            prefix: unique_prefix("c"),
            work_max_receive_count: Some(WORK_RECEIVE_LIMIT),
        };
        let resources = provision(&sdk, &options)
            .await
            .unwrap_or_else(|e| panic!("provision on moto at {endpoint}: {e:?}"));
        let clock = Arc::new(ManualClock::default());
        let aws = Aws::new(
            &sdk,
            resources,
            AwsOptions {
                work_receive_limit: WORK_RECEIVE_LIMIT,
                ..AwsOptions::default()
            },
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        let api = aws
            .api_ports(Arc::new(UnusedCaller), Arc::new(Unlimited))
            .expect("provision creates the HTTP API's resources");
        Harness {
            ports: api.core.clone(),
            api: Some(api),
            clock,
            caps: Capabilities {
                dedup_survives_delete: false,
                fifo_redelivery_in_order: false,
                queue_follows_harness_clock: false,
            },
            guard: None,
        }
    }
}

pacer_testkit::contract_suite!(MotoFactory);
