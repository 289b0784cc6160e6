//! The results Lambda function: outcome event batches → the store → partial batch response.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use pacer_lambda::{results, Invocation};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = pacer_lambda::boot("results").await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let invocation = Invocation::from_context(&event.context);
        let span = invocation.span("results");
        let response = results::handle(app, &event.payload, &invocation)
            .instrument(span)
            .await;
        Ok::<_, Error>(response)
    }))
    .await
}
