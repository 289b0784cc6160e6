//! The api Lambda function: API Gateway HTTP API events → the pacer-api router.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let router = pacer_lambda::boot_api().await?;
    lambda_http::run(router).await
}
