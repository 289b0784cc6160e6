//! Least privilege, checked from what the code did: every AWS operation a handler made
//! (recorded on its clients) is granted to its function in `template.yaml`, and every
//! call of an event source mapping is granted by the function's SQS event or explicitly.

use super::{Functions, Mapping};
use crate::iam;
use pacer_aws::recorder::Resource;
use pacer_aws::AwsResources;
use std::collections::BTreeSet;

/// The logical id of the template resource behind a recorded resource.
fn logical(resources: &AwsResources, r: &Resource) -> iam::Needed {
    let api = resources.api.as_ref().expect("provisioned with the API");
    let tables = [
        (&resources.records_table, "RecordsTable"),
        (&resources.attempts_table, "AttemptsTable"),
        (&resources.results_table, "ResultsTable"),
        (&resources.control_table, "ControlTable"),
        (&resources.dead_letters_table, "DeadLettersTable"),
        (&api.feed_table, "FeedTable"),
        (&api.clients_table, "ClientsTable"),
    ];
    let queues = [
        (&resources.work_queue_url, "WorkQueue"),
        (&resources.work_dlq_url, "WorkDeadLetterQueue"),
        (&resources.results_queue_url, "ResultsQueue"),
        (&resources.results_dlq_url, "ResultsDeadLetterQueue"),
        (&api.callbacks_queue_url, "CallbacksQueue"),
        (&api.callbacks_dlq_url, "CallbacksDeadLetterQueue"),
    ];
    let table = |name: &str| {
        tables
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, id)| (*id).to_owned())
    };
    match r {
        Resource::Table(t) => {
            iam::Needed::Table(table(t).unwrap_or_else(|| panic!("unknown table {t}")))
        }
        Resource::Index { table: t, index } => iam::Needed::Index(
            table(t).unwrap_or_else(|| panic!("unknown table {t}")),
            index.clone(),
        ),
        Resource::Queue(q) => iam::Needed::Queue(
            queues
                .iter()
                .find(|(u, _)| u.as_str() == q)
                .map(|(_, id)| (*id).to_owned())
                .unwrap_or_else(|| panic!("unknown queue {q}")),
        ),
        Resource::Topic(t) if *t == resources.outcomes_topic_arn => {
            iam::Needed::Topic("OutcomesTopic".into())
        }
        other => panic!("an operation on {other:?}, which no function should touch"),
    }
}

pub(crate) fn check_iam(
    functions: &Functions,
    work: &Mapping,
    outcomes: &Mapping,
    resources: &AwsResources,
) {
    let template = iam::load_template();
    let mut missing = Vec::new();
    let handlers = [
        ("DispatcherFunction", &functions.dispatcher.1, None),
        ("WorkerFunction", &functions.worker.1, Some(work)),
        ("ResultsFunction", &functions.results.1, Some(outcomes)),
    ];
    for (id, recorder, mapping) in handlers {
        let grants = iam::function_grants(&template, id);
        let needed: BTreeSet<(String, iam::Needed)> = recorder
            .permissions()
            .into_iter()
            .map(|p| (p.action.clone(), logical(resources, &p.resource)))
            .collect();
        eprintln!("{id} calls {:?}", recorder.operations());
        for (action, resource) in &needed {
            eprintln!("{id} needs {action} on {resource:?}");
            if !iam::granted(&grants, action, resource) {
                missing.push(format!("{id}: {action} on {resource:?}"));
            }
        }
        // The event source mapping's own calls: granted by the function's SQS event
        // (SAM adds them) or explicitly.
        if let Some(mapping) = mapping {
            let sources = iam::sqs_event_queues(&template, id);
            for p in mapping.recorder.permissions() {
                let resource = logical(resources, &p.resource);
                let by_event = matches!(&resource, iam::Needed::Queue(q) if sources.contains(q));
                if !by_event && !iam::granted(&grants, &p.action, &resource) {
                    missing.push(format!("{id} event source: {} on {resource:?}", p.action));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "template.yaml does not grant what the code calls:\n{}",
        missing.join("\n")
    );
}
