//! The worker Lambda function: SQS FIFO work batches → calls → partial batch response.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use pacer_lambda::{worker, Invocation};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = pacer_lambda::boot("worker").await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let invocation = Invocation::from_context(&event.context);
        let span = invocation.span("worker");
        let response = worker::handle(app, &event.payload, &invocation)
            .instrument(span)
            .await;
        Ok::<_, Error>(response)
    }))
    .await
}
