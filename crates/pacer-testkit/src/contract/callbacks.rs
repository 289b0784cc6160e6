//! [`CallbackQueue`](pacer_core::ports::CallbackQueue): a webhook delivery is enqueued
//! with the final move of a record that has a callback URL, leased by receipt, and
//! settled as delivered, retried or dead-lettered.

use super::fixtures::{api_of, apply, begin, in_flight, outcome, pass_queue_time, queue_span};
use super::intake::{submit, with_callback};
use super::Harness;
use pacer_core::ports::{AppName, CallbackDelivery, Settlement};
use pacer_core::schema::NextState;
use pacer_core::RecordState;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

async fn receive(h: &Harness) -> Vec<CallbackDelivery> {
    api_of(h)
        .callbacks
        .receive(h.clock.now(), 10, queue_span(h, LEASE))
        .await
        .expect("receive webhooks")
}

async fn settle(h: &Harness, receipt: &str, s: Settlement) -> bool {
    api_of(h)
        .callbacks
        .settle(receipt, &s, h.clock.now())
        .await
        .expect("settle")
}

/// Submits a record with a callback URL and ends it as `next`.
async fn ended(h: &Harness, id: &str, next: NextState) {
    submit(h, &[with_callback(id, "p")], "contract suite").await;
    begin(h, "p", id, 1).await;
    apply(h, outcome(id, "p", 1, next, h.clock.now())).await;
}

/// Ending a record with a callback URL enqueues one delivery (id `record#attempt`, the
/// record's URL, the feed's outcome, no attempts yet); re-applying the event adds
/// none, and a record without a callback URL gets none.
pub async fn a_final_move_of_a_record_with_a_callback_url_enqueues_one_delivery(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    ended(&h, "c-1", NextState::Succeeded).await;
    in_flight(&h, "q", "plain", 1).await;
    apply(
        &h,
        outcome("plain", "q", 1, NextState::Failed, h.clock.now()),
    )
    .await;
    let again = outcome("c-1", "p", 1, NextState::Succeeded, h.clock.now());
    api.records
        .apply_outcomes(&[again], h.clock.now())
        .await
        .expect("re-apply");
    let got = receive(&h).await;
    assert_eq!(got.len(), 1, "one delivery: {got:?}");
    let d = &got[0];
    assert_eq!(
        (d.id.as_str(), d.record_id.as_str(), d.attempts),
        ("c-1#1", "c-1", 0)
    );
    assert_eq!(
        d.url,
        with_callback("c-1", "p").callback_url.expect("has a URL")
    );
    assert_eq!(d.outcome.state, RecordState::Succeeded);
    let app = AppName::new("app-a").expect("valid");
    let feed = api.feed.take(&app, 10).await.expect("take");
    let entry = feed
        .iter()
        .find(|e| e.record_id.as_str() == "c-1")
        .expect("in the feed");
    assert_eq!(&d.outcome, entry, "the delivery carries the feed's entry");
}

/// A received delivery is hidden for its lease, then comes back under a new receipt;
/// the old receipt is then stale and settles nothing.
pub async fn a_delivery_is_hidden_for_its_lease_then_comes_back_under_a_new_receipt(h: Harness) {
    if h.api.is_none() {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    }
    ended(&h, "c-1", NextState::Failed).await;
    let first = receive(&h).await;
    assert_eq!(first.len(), 1);
    assert!(receive(&h).await.is_empty(), "hidden while leased");
    pass_queue_time(&h, LEASE + Duration::from_secs(1)).await;
    let second = receive(&h).await;
    assert_eq!(second.len(), 1, "back after the lease");
    assert_ne!(second[0].receipt, first[0].receipt);
    assert_eq!(second[0].attempts, 0, "receiving is not an attempt");
    let stale = settle(&h, &first[0].receipt, Settlement::Delivered).await;
    assert!(!stale, "a stale receipt settles nothing");
    assert!(settle(&h, &second[0].receipt, Settlement::Delivered).await);
}

/// `Delivered` removes a delivery, `Retry` brings it back at its due time with one
/// attempt counted, `DeadLetter` moves it to the dead letters with its reason.
pub async fn settlements_remove_reschedule_or_dead_letter_a_delivery(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    for id in ["c-ok", "c-retry", "c-dead"] {
        ended(&h, id, NextState::Succeeded).await;
    }
    let got = receive(&h).await;
    assert_eq!(got.len(), 3);
    let receipt = |id: &str| {
        got.iter()
            .find(|d| d.record_id.as_str() == id)
            .map(|d| d.receipt.clone())
            .expect("received")
    };
    let retry_at = h.clock.now().plus(queue_span(&h, Duration::from_secs(120)));
    let retry = Settlement::Retry {
        due_at: retry_at,
        reason: "HTTP 503".into(),
    };
    let dead = Settlement::DeadLetter {
        reason: "HTTP 500 (the last)".into(),
    };
    assert!(settle(&h, &receipt("c-ok"), Settlement::Delivered).await);
    assert!(settle(&h, &receipt("c-retry"), retry).await);
    assert!(settle(&h, &receipt("c-dead"), dead).await);
    assert!(!settle(&h, "no-such-receipt", Settlement::Delivered).await);
    pass_queue_time(&h, LEASE + Duration::from_secs(1)).await;
    assert!(
        receive(&h).await.is_empty(),
        "nothing due before the retry time"
    );
    pass_queue_time(&h, Duration::from_secs(120)).await;
    let back = receive(&h).await;
    let back: Vec<(&str, u32)> = back
        .iter()
        .map(|d| (d.record_id.as_str(), d.attempts))
        .collect();
    assert_eq!(
        back,
        [("c-retry", 1)],
        "only the retried one comes back, one attempt made"
    );
    let dead = api.callbacks.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].id.as_str(),
            dead[0].attempts,
            dead[0].reason.as_str()
        ),
        ("c-dead#1", 1, "HTTP 500 (the last)")
    );
}
