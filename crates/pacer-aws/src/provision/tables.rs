//! Creates one DynamoDB table (with its indexes) and waits until it is active.

use super::{aws_error, poll_pause, KeySpec, ProvisionError, TableSpec};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;

fn keys(specs: &[KeySpec], logical: &str) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    specs
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| aws_error(logical, "describe key")(Box::new(e)))
        })
        .collect()
}

/// Creates the table `name` as `spec` describes, then waits for it to be active.
pub(super) async fn create(
    client: &Client,
    logical: &str,
    name: &str,
    spec: &TableSpec,
) -> Result<(), ProvisionError> {
    let attributes = spec
        .attribute_definitions
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(&a.attribute_name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()
                .map_err(|e| aws_error(logical, "describe attribute")(Box::new(e)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = spec
        .global_secondary_indexes
        .iter()
        .map(|i| {
            GlobalSecondaryIndex::builder()
                .index_name(&i.index_name)
                .set_key_schema(Some(keys(&i.key_schema, logical)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            i.projection.projection_type.as_str(),
                        ))
                        .build(),
                )
                .build()
                .map_err(|e| aws_error(logical, "describe index")(Box::new(e)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(spec.billing_mode.as_str()))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(keys(&spec.key_schema, logical)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .send()
        .await
        .map_err(|e| aws_error(logical, "CreateTable")(Box::new(e)))?;
    for _ in 0..300 {
        let table = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| aws_error(logical, "DescribeTable")(Box::new(e)))?;
        if table.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        poll_pause().await;
    }
    Err(aws_error(logical, "waiting for the table to be active")(
        "the table did not become active within a minute".into(),
    ))
}
