//! The callbacks Lambda function: webhook delivery batches → signed POSTs → partial
//! batch response.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use pacer_lambda::{callbacks, Invocation};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let callbacks = pacer_lambda::boot_callbacks().await?;
    let callbacks = &callbacks;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let invocation = Invocation::from_context(&event.context);
        let span = invocation.span("callbacks");
        let response = callbacks::handle(callbacks, &event.payload)
            .instrument(span)
            .await;
        Ok::<_, Error>(response)
    }))
    .await
}
