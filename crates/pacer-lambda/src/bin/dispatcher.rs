//! The dispatcher Lambda function: EventBridge Scheduler payloads → plan or release.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use pacer_lambda::{dispatcher, Invocation};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = pacer_lambda::boot("dispatcher").await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let invocation = Invocation::from_context(&event.context);
            let span = invocation.span("dispatcher");
            dispatcher::handle(app, &event.payload, &invocation)
                .instrument(span)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
