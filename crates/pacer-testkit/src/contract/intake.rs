//! [`RecordIntake`](pacer_core::ports::RecordIntake): records submitted on demand are
//! stored due now, with their callback URL, idempotently by id.

use super::fixtures::{api_of, get, new_record, rid};
use super::Harness;
use pacer_core::callback_url::CallbackUrl;
use pacer_core::ports::Admission;
use pacer_core::{NewRecord, RecordState};
use std::time::Duration;

/// A record with a callback URL.
pub(crate) fn with_callback(id: &str, provider: &str) -> NewRecord {
    NewRecord {
        callback_url: Some(
            CallbackUrl::parse(&format!("https://hooks.example.com/pacer/{id}"))
                .expect("test callback URLs are valid"),
        ),
        ..new_record(id, provider, &format!("/v1/{id}"))
    }
}

/// Submits records now, returning their admissions.
pub(crate) async fn submit(h: &Harness, records: &[NewRecord], origin: &str) -> Vec<Admission> {
    api_of(h)
        .intake
        .submit(records, origin, h.clock.now())
        .await
        .expect("submit records")
}

/// `submit` stores new records as `scheduled` with `due_at = now` (so `due` returns
/// them at once), keeps their `callback_url`, and notes a `submitted` history entry
/// whose detail is the origin.
pub async fn submit_stores_new_records_scheduled_due_now_with_their_callback_url(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    let records = [with_callback("s-1", "p"), new_record("s-2", "p", "/v1/s-2")];
    let got = submit(&h, &records, "app billing, request 01TEST").await;
    assert_eq!(got, [Admission::Accepted, Admission::Accepted]);
    let now = h.clock.now();
    let first = get(&h, "s-1").await;
    assert_eq!(
        (first.state, first.due_at, first.callback_url.clone()),
        (
            RecordState::Scheduled,
            Some(now),
            records[0].callback_url.clone()
        ),
        "scheduled due now with its callback URL"
    );
    assert_eq!(get(&h, "s-2").await.callback_url, None);
    let due = h
        .ports
        .records
        .due(now, now.minus(Duration::from_secs(60)), 10)
        .await
        .expect("due");
    let mut due_ids: Vec<&str> = due.iter().map(|r| r.id.as_str()).collect();
    due_ids.sort();
    assert_eq!(due_ids, ["s-1", "s-2"], "due at once");
    let history = api.records.history(&rid("s-1")).await.expect("history");
    assert!(
        history.iter().any(|e| e.kind == "submitted"
            && e.detail == "app billing, request 01TEST"
            && e.at == now),
        "a `submitted` history entry with the origin: {history:?}"
    );
}

/// An id already stored, in any state, is a duplicate: reported in input order and left
/// untouched (no callback URL added, no history entry).
pub async fn submit_reports_duplicates_in_order_and_leaves_them_untouched(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    api.records
        .insert(&[new_record("d-1", "p", "/old")], h.clock.now())
        .await
        .expect("insert");
    let before = get(&h, "d-1").await;
    h.clock.advance(Duration::from_secs(5));
    let got = submit(
        &h,
        &[with_callback("d-2", "p"), with_callback("d-1", "p")],
        "app a",
    )
    .await;
    assert_eq!(got, [Admission::Accepted, Admission::Duplicate]);
    assert_eq!(
        get(&h, "d-1").await,
        before,
        "the stored record is untouched"
    );
    let history = api.records.history(&rid("d-1")).await.expect("history");
    assert!(
        history.is_empty(),
        "no history for a duplicate: {history:?}"
    );
    let again = submit(&h, &[with_callback("d-2", "p")], "app a").await;
    assert_eq!(
        again,
        [Admission::Duplicate],
        "submitting twice is harmless"
    );
}
