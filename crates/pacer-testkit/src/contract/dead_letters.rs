//! [`DeadLetterQueue`](pacer_core::ports::DeadLetterQueue): idempotent `put`, filtered
//! oldest-first `list`, counting `remove`.

use super::fixtures::dead_letter;
use super::Harness;
use pacer_core::classify::ErrorClass;
use pacer_core::ports::{DeadLetter, DeadLetterFilter};
use std::time::Duration;

async fn list(h: &Harness, filter: DeadLetterFilter) -> Vec<DeadLetter> {
    h.ports
        .dead_letters
        .list(&filter)
        .await
        .expect("list dead letters")
}

fn ids(entries: &[DeadLetter]) -> Vec<&str> {
    entries.iter().map(|d| d.id.as_str()).collect()
}

/// `put` of an id already stored keeps the first copy; entries come back whole.
pub async fn put_is_idempotent_by_id_and_keeps_the_first_copy(h: Harness) {
    let t0 = h.clock.now();
    let first = dead_letter("r-1#3", "a", ErrorClass::ServerError, t0, "first");
    h.ports
        .dead_letters
        .put(std::slice::from_ref(&first))
        .await
        .expect("put");
    h.clock.advance(Duration::from_secs(60));
    let t1 = h.clock.now();
    let second = dead_letter("r-1#3", "a", ErrorClass::Timeout, t1, "second");
    let other = dead_letter("r-2#3", "a", ErrorClass::RateLimited, t1, "other");
    h.ports
        .dead_letters
        .put(&[second, other.clone()])
        .await
        .expect("put again");
    let all = list(&h, DeadLetterFilter::default()).await;
    assert_eq!(all, vec![first, other], "the first copy of r-1#3 wins");
}

/// `list` is oldest first and filters by provider, error class, `since` (inclusive)
/// and `limit`, alone or together.
pub async fn list_is_oldest_first_and_filters_by_provider_class_since_and_limit(h: Harness) {
    let t0 = h.clock.now();
    let at = |minutes: u64| t0.plus(Duration::from_secs(60 * minutes));
    let a1 = dead_letter("a-1#3", "a", ErrorClass::ServerError, at(2), "exhausted");
    let a2 = dead_letter("a-2#3", "a", ErrorClass::Timeout, at(0), "exhausted");
    let b1 = dead_letter("b-1#8", "b", ErrorClass::ServerError, at(1), "exhausted");
    let mut poison = dead_letter("msg:42", "a", ErrorClass::BadMessage, at(3), "not JSON");
    poison.record_id = None;
    poison.body = "{]".to_owned();
    // Stored out of time order, so an insertion-ordered list would show.
    let stored = [a1.clone(), poison.clone(), a2.clone(), b1.clone()];
    h.ports.dead_letters.put(&stored).await.expect("put");

    let all = list(&h, DeadLetterFilter::default()).await;
    assert_eq!(
        all,
        vec![a2.clone(), b1.clone(), a1.clone(), poison.clone()],
        "oldest first"
    );
    let of_a = DeadLetterFilter {
        provider: Some("a".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&h, of_a.clone()).await),
        ["a-2#3", "a-1#3", "msg:42"]
    );
    let class = DeadLetterFilter {
        error_class: Some(ErrorClass::ServerError),
        ..Default::default()
    };
    assert_eq!(ids(&list(&h, class).await), ["b-1#8", "a-1#3"]);
    let since = DeadLetterFilter {
        since: Some(at(1)),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&h, since).await),
        ["b-1#8", "a-1#3", "msg:42"],
        "since is inclusive"
    );
    let limit = DeadLetterFilter {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(
        ids(&list(&h, limit).await),
        ["a-2#3", "b-1#8"],
        "limit keeps the oldest"
    );
    let combined = DeadLetterFilter {
        since: Some(at(1)),
        limit: Some(1),
        ..of_a
    };
    assert_eq!(ids(&list(&h, combined).await), ["a-1#3"]);
    let none = DeadLetterFilter {
        provider: Some("zzz".to_owned()),
        ..Default::default()
    };
    assert!(list(&h, none).await.is_empty());
}

/// `remove` returns how many entries it removed; unknown (or already removed) ids are
/// not an error and count nothing.
pub async fn remove_counts_what_it_removed_and_ignores_unknown_ids(h: Harness) {
    let t0 = h.clock.now();
    let x = dead_letter("x#3", "a", ErrorClass::ServerError, t0, "exhausted");
    let y = dead_letter("y#3", "a", ErrorClass::ServerError, t0, "exhausted");
    h.ports
        .dead_letters
        .put(&[x.clone(), y.clone()])
        .await
        .expect("put");
    let removed = h
        .ports
        .dead_letters
        .remove(&[x.id.clone(), "nope".to_owned()])
        .await;
    assert_eq!(removed.expect("remove"), 1);
    let again = h
        .ports
        .dead_letters
        .remove(std::slice::from_ref(&x.id))
        .await;
    assert_eq!(again.expect("remove again"), 0, "already removed");
    assert_eq!(
        h.ports
            .dead_letters
            .remove(&[])
            .await
            .expect("remove nothing"),
        0
    );
    assert_eq!(list(&h, DeadLetterFilter::default()).await, vec![y]);
}
