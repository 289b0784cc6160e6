//! Creates SQS queues (dead-letter queues first, then the queues that redrive to them),
//! SNS topics, and the subscriptions of queues to topics.

use super::{
    aws_error, ProvisionError, ProvisionOptions, ResourceDescription, SubscriptionSpec, TopicSpec,
};
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;

/// A created queue.
pub(super) struct Created {
    pub(super) url: String,
    pub(super) arn: String,
}

/// Creates every queue; returns them by logical id.
pub(super) async fn create_all(
    sqs: &aws_sdk_sqs::Client,
    description: &ResourceDescription,
    options: &ProvisionOptions,
) -> Result<HashMap<String, Created>, ProvisionError> {
    let mut created: HashMap<String, Created> = HashMap::new();
    // Queues without a redrive policy first: they are the targets of the others.
    let mut order: Vec<_> = description.queues.iter().collect();
    order.sort_by_key(|(_, q)| q.redrive_policy.is_some());
    for (logical, spec) in order {
        let suffix = if spec.fifo_queue { ".fifo" } else { "" };
        let name = format!("{}-{}{suffix}", options.prefix, spec.name);
        let mut attrs: HashMap<QueueAttributeName, String> = HashMap::new();
        if spec.fifo_queue {
            attrs.insert(QueueAttributeName::FifoQueue, "true".into());
            let cbd = spec.content_based_deduplication.unwrap_or(false);
            attrs.insert(
                QueueAttributeName::ContentBasedDeduplication,
                cbd.to_string(),
            );
        }
        if let Some(v) = spec.visibility_timeout {
            attrs.insert(QueueAttributeName::VisibilityTimeout, v.to_string());
        }
        if let Some(r) = spec.message_retention_period {
            attrs.insert(QueueAttributeName::MessageRetentionPeriod, r.to_string());
        }
        if let Some(redrive) = &spec.redrive_policy {
            let target = created
                .get(&redrive.dead_letter_target)
                .ok_or_else(|| ProvisionError::Missing(redrive.dead_letter_target.clone()))?;
            let max = match logical.as_str() {
                "WorkQueue" => options
                    .work_max_receive_count
                    .unwrap_or(redrive.max_receive_count),
                _ => redrive.max_receive_count,
            };
            let policy =
                serde_json::json!({ "deadLetterTargetArn": target.arn, "maxReceiveCount": max });
            attrs.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attrs))
            .send()
            .await
            .map_err(|e| aws_error(logical, "CreateQueue")(Box::new(e)))?
            .queue_url
            .ok_or_else(|| {
                aws_error(logical, "CreateQueue")("no queue URL in the answer".into())
            })?;
        let arn = queue_arn(sqs, logical, &url).await?;
        created.insert(logical.clone(), Created { url, arn });
    }
    Ok(created)
}

async fn queue_arn(
    sqs: &aws_sdk_sqs::Client,
    logical: &str,
    url: &str,
) -> Result<String, ProvisionError> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_error(logical, "GetQueueAttributes")(Box::new(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| aws_error(logical, "GetQueueAttributes")("no QueueArn in the answer".into()))
}

/// Creates a topic; returns its ARN.
pub(super) async fn create_topic(
    sns: &aws_sdk_sns::Client,
    logical: &str,
    prefix: &str,
    spec: &TopicSpec,
) -> Result<String, ProvisionError> {
    let mut request = sns.create_topic();
    if spec.fifo_topic {
        request = request
            .name(format!("{prefix}-{}.fifo", spec.name))
            .attributes("FifoTopic", "true");
    } else {
        request = request.name(format!("{prefix}-{}", spec.name));
    }
    request
        .send()
        .await
        .map_err(|e| aws_error(logical, "CreateTopic")(Box::new(e)))?
        .topic_arn
        .ok_or_else(|| aws_error(logical, "CreateTopic")("no topic ARN in the answer".into()))
}

/// Subscribes a queue to a topic and lets the topic (only) send to the queue.
pub(super) async fn subscribe(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    logical: &str,
    spec: &SubscriptionSpec,
    queues: &HashMap<String, Created>,
    topics: &HashMap<&str, String>,
) -> Result<(), ProvisionError> {
    let queue = queues
        .get(&spec.endpoint)
        .ok_or_else(|| ProvisionError::Missing(spec.endpoint.clone()))?;
    let topic = topics
        .get(spec.topic.as_str())
        .ok_or_else(|| ProvisionError::Missing(spec.topic.clone()))?;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": topic } }
        }]
    });
    sqs.set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| aws_error(logical, "SetQueueAttributes(Policy)")(Box::new(e)))?;
    let mut subscribe = sns
        .subscribe()
        .topic_arn(topic)
        .protocol(&spec.protocol)
        .endpoint(&queue.arn)
        .attributes("RawMessageDelivery", spec.raw_message_delivery.to_string());
    if let Some(policy) = &spec.filter_policy {
        subscribe = subscribe.attributes("FilterPolicy", policy.to_string());
    }
    subscribe
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| aws_error(logical, "Subscribe")(Box::new(e)))?;
    Ok(())
}
