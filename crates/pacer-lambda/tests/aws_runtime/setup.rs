//! Building the functions and mappings on moto the way production builds them, with a
//! recorder on each one's clients.

use super::{Functions, Mapping};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use pacer_aws::provision::{provision, unique_prefix, ProvisionOptions};
use pacer_aws::recorder::Recorder;
use pacer_aws::{Aws, AwsOptions, AwsResources};
use pacer_core::ports::{Ports, Unlimited};
use pacer_core::provider::ProviderSettings;
use pacer_core::record::NewRecord;
use pacer_core::services::WorkerSettings;
use pacer_core::{Clock, ProviderId, SystemClock};
use pacer_http::HttpCaller;
use pacer_lambda::app::aws_options;
use pacer_lambda::{config, App, Config, Invocation, Settings};
use pacer_testkit::contract::UnusedCaller;
use pacer_testkit::mock_api::{MockApi, MockConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Where moto listens, if a test script started it.
pub(crate) const ENDPOINT_VAR: &str = "PACER_TEST_AWS_ENDPOINT";

/// The SDK configuration for moto (the bench's: dummy credentials, DynamoDB serialised).
pub(crate) async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    pacer_cli::bench_aws::sdk_config(endpoint).await
}

/// The functions' configuration, read the way `Config::from_env` reads it.
pub(crate) fn lambda_config(r: &AwsResources) -> Config {
    let api = r
        .api
        .as_ref()
        .expect("provision creates the API's resources");
    let vars: BTreeMap<&str, String> = BTreeMap::from([
        (config::RECORDS_TABLE, r.records_table.clone()),
        (config::ATTEMPTS_TABLE, r.attempts_table.clone()),
        (config::RESULTS_TABLE, r.results_table.clone()),
        (config::CONTROL_TABLE, r.control_table.clone()),
        (config::DEAD_LETTERS_TABLE, r.dead_letters_table.clone()),
        (config::WORK_QUEUE_URL, r.work_queue_url.clone()),
        (config::WORK_DLQ_URL, r.work_dlq_url.clone()),
        (config::RESULTS_QUEUE_URL, r.results_queue_url.clone()),
        (config::RESULTS_DLQ_URL, r.results_dlq_url.clone()),
        (config::OUTCOMES_TOPIC_ARN, r.outcomes_topic_arn.clone()),
        (config::FEED_TABLE, api.feed_table.clone()),
        (config::CLIENTS_TABLE, api.clients_table.clone()),
        (config::CALLBACKS_QUEUE_URL, api.callbacks_queue_url.clone()),
        (config::CALLBACKS_DLQ_URL, api.callbacks_dlq_url.clone()),
        (config::WINDOW, "3s".into()),
    ]);
    Config::from_lookup(|name| vars.get(name).cloned())
        .expect("the provisioned names are a valid configuration")
}

/// One function: the production wiring (`App::build`) with a recorder on its clients and
/// quick retries for the test.
pub(crate) fn function(sdk: &aws_config::SdkConfig, config: &Config) -> (App, Recorder) {
    let recorder = Recorder::new();
    let aws = Aws::new_with_interceptor(
        sdk,
        config.resources.clone(),
        aws_options(config.due_shards),
        Arc::new(SystemClock),
        SharedInterceptor::new(recorder.clone()),
    );
    let caller = HttpCaller::new(10).expect("http client");
    let settings = Settings {
        worker: WorkerSettings {
            lease_margin: Duration::from_millis(500),
            retry_delay: Duration::from_millis(100),
            ..WorkerSettings::default()
        },
        ..Settings::from_config(config)
    };
    let app = App::new(aws.ports(Arc::new(caller), Arc::new(Unlimited)), settings);
    (app, recorder)
}

pub(crate) fn mapping(sdk: &aws_config::SdkConfig, queue_url: &str) -> Mapping {
    let recorder = Recorder::new();
    let conf = aws_sdk_sqs::config::Builder::from(sdk)
        .interceptor(recorder.clone())
        .build();
    Mapping {
        sqs: aws_sdk_sqs::Client::from_conf(conf),
        queue_url: queue_url.to_owned(),
        recorder,
    }
}

/// The three functions over `config`, each with its own clients and recorder.
pub(crate) fn functions(sdk: &aws_config::SdkConfig, config: &Config) -> Functions {
    Functions {
        dispatcher: function(sdk, config),
        worker: function(sdk, config),
        results: function(sdk, config),
    }
}

/// Prints what is left: records not final with their attempts, and the queue depths.
pub(crate) async fn explain_unsettled(
    admin: &Ports,
    sdk: &aws_config::SdkConfig,
    r: &AwsResources,
) {
    let filter = pacer_core::ports::RecordFilter {
        limit: 1000,
        ..Default::default()
    };
    for record in admin
        .records
        .list(&filter)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| !r.state.is_final())
    {
        let attempts = admin.records.attempts(&record.id).await.unwrap_or_default();
        eprintln!("unsettled: {record:?}\n  attempts: {attempts:?}");
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for url in [
        &r.work_queue_url,
        &r.work_dlq_url,
        &r.results_queue_url,
        &r.results_dlq_url,
    ] {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .map(|a| a.attributes.unwrap_or_default());
        eprintln!("{url}: {attributes:?}");
    }
}

/// Fresh resources on moto, the mock API, and admin ports (the operator's view).
pub(crate) struct Moto {
    pub(crate) sdk: aws_config::SdkConfig,
    pub(crate) resources: AwsResources,
    pub(crate) admin: Ports,
    pub(crate) api: MockApi,
}

pub(crate) async fn moto(test: &str, mock: MockConfig) -> Option<Moto> {
    let Ok(endpoint) = std::env::var(ENDPOINT_VAR) else {
        eprintln!("skipped {test}: {ENDPOINT_VAR} is not set; run scripts/test-aws.sh to start moto and run the AWS tests");
        return None;
    };
    let sdk = sdk_config(&endpoint).await;
    let options = ProvisionOptions {
        prefix: unique_prefix("l"),
        work_max_receive_count: None,
    };
    let resources = provision(&sdk, &options).await.expect("provision on moto");
    let api = MockApi::start(mock).await.expect("mock API");
    let aws = Aws::new(
        &sdk,
        resources.clone(),
        AwsOptions::default(),
        Arc::new(SystemClock),
    );
    let admin = aws.ports(Arc::new(UnusedCaller), Arc::new(Unlimited));
    Some(Moto {
        sdk,
        resources,
        admin,
        api,
    })
}

pub(crate) fn provider(api: &MockApi, name: &str, gap: u64, max_attempts: u32) -> ProviderSettings {
    let mut p =
        ProviderSettings::with_defaults(ProviderId::new(name).expect("id"), api.base_url_for(name));
    p.timeout = Duration::from_millis(500);
    p.min_interval = Duration::from_millis(gap);
    p.max_attempts = max_attempts;
    p.backoff_base = Duration::from_millis(50);
    p.backoff_max = Duration::from_millis(400);
    p.breaker_failures = 1000;
    p
}

pub(crate) fn new_record(id: &str, provider: &str) -> NewRecord {
    serde_json::from_value(serde_json::json!({
        "id": id, "provider": provider, "request": {"method": "POST", "path": "/collect"}
    }))
    .expect("valid record")
}

/// An invocation with a minute to go.
pub(crate) fn inv(request_id: &str) -> Invocation {
    Invocation {
        request_id: request_id.into(),
        deadline: SystemClock.now().plus(Duration::from_secs(60)),
    }
}
