//! Builders and shortcuts the cases share: ids, records, plans, messages, events, and
//! ways to bring a record into a given state through the ports themselves.

use super::Harness;
use pacer_core::breaker::BreakerState;
use pacer_core::classify::ErrorClass;
use pacer_core::planner::{Limit, ProviderPlan, WindowPlan};
use pacer_core::ports::{Claim, DeadLetter, LeaseGrant};
use pacer_core::schema::{
    NextState, OutcomeEvent, WorkMessage, OUTCOME_EVENT_VERSION, WORK_MESSAGE_VERSION,
};
use pacer_core::{ApiRequest, NewRecord, ProviderId, Record, RecordId, Timestamp};
use std::time::Duration;

/// A visibility timeout the queue cases use.
pub(crate) const VISIBILITY: Duration = Duration::from_secs(30);
/// Just past [`VISIBILITY`].
pub(crate) const PAST_VISIBILITY: Duration = Duration::from_secs(31);
/// Real-time queues run the queue cases this many times faster than nominal.
const REAL_TIME_DIVISOR: u32 = 10;
/// Slack added to real-time sleeps so a deadline has surely passed on the queue's side.
const REAL_TIME_SLACK: Duration = Duration::from_millis(300);

/// A queue timeout or delay of nominal length `d` as the queue should be asked for it:
/// `d` itself when the queue follows the harness clock, a tenth of it on real time.
pub(crate) fn queue_span(h: &Harness, d: Duration) -> Duration {
    if h.caps.queue_follows_harness_clock {
        d
    } else {
        d / REAL_TIME_DIVISOR
    }
}

/// Lets `d` of nominal queue time pass: moves the harness clock by `d` and, when the
/// queue runs on real time, also sleeps for its [`queue_span`] (plus a little slack).
pub(crate) async fn pass_queue_time(h: &Harness, d: Duration) {
    h.clock.advance(d);
    if !h.caps.queue_follows_harness_clock {
        tokio::time::sleep(queue_span(h, d) + REAL_TIME_SLACK).await;
    }
}
/// A lease time-to-live the lease cases use.
pub(crate) const TTL: Duration = Duration::from_secs(30);

pub(crate) fn pid(name: &str) -> ProviderId {
    ProviderId::new(name).expect("test provider ids are valid")
}

pub(crate) fn rid(name: &str) -> RecordId {
    RecordId::new(name).expect("test record ids are valid")
}

/// A record whose request path names it, so copies can be told apart.
pub(crate) fn new_record(id: &str, provider: &str, path: &str) -> NewRecord {
    NewRecord {
        id: rid(id),
        provider: pid(provider),
        request: ApiRequest {
            path: path.to_owned(),
            ..Default::default()
        },
        callback_url: None,
    }
}

/// Inserts `ids` for `provider` now, in one call, checking they were all new.
pub(crate) async fn insert(h: &Harness, provider: &str, ids: &[&str]) {
    let records: Vec<NewRecord> = ids
        .iter()
        .map(|id| new_record(id, provider, &format!("/v1/{id}")))
        .collect();
    let report = h
        .ports
        .records
        .insert(&records, h.clock.now())
        .await
        .expect("insert records");
    assert_eq!(report.inserted, ids.len() as u64, "fixture records are new");
}

/// One provider's slice of a hand-made plan: `fits` of `records` get a time,
/// `offset + rank * spacing` after the window start.
pub(crate) fn provider_plan(
    provider: &str,
    records: u64,
    fits: u64,
    offset: Duration,
    spacing: Duration,
) -> ProviderPlan {
    ProviderPlan {
        provider: pid(provider),
        records,
        spacing_us: spacing.as_micros() as u64,
        offset_us: offset.as_micros() as u64,
        fits,
        carried_over: records.saturating_sub(fits),
        limited_by: if fits < records {
            Limit::MinInterval
        } else {
            Limit::Window
        },
        last_due: None,
    }
}

/// A one-hour window opening at `start`.
pub(crate) fn plan(start: Timestamp, mut providers: Vec<ProviderPlan>) -> WindowPlan {
    providers.sort_by(|a, b| a.provider.cmp(&b.provider));
    WindowPlan {
        start,
        end: start.plus(Duration::from_secs(3600)),
        providers,
        global_stretch: 1.0,
    }
}

/// Inserts `ids` and schedules every pending record of `provider`: rank `i` is due at
/// now + `i` seconds.
pub(crate) async fn scheduled(h: &Harness, provider: &str, ids: &[&str]) {
    insert(h, provider, ids).await;
    let n = ids.len() as u64;
    let p = provider_plan(provider, n, n, Duration::ZERO, Duration::from_secs(1));
    let now = h.clock.now();
    let report = h
        .ports
        .records
        .schedule(&plan(now, vec![p]), now)
        .await
        .expect("schedule");
    assert_eq!(report.scheduled, n, "fixture records are scheduled");
}

/// Moves a scheduled (or queued, or retry_wait) record to `in_flight` as `attempt`,
/// through a lease that is released right after.
pub(crate) async fn begin(h: &Harness, provider: &str, id: &str, attempt: u32) {
    let claim = Claim {
        record_id: rid(id),
        attempt,
    };
    let grant = h
        .ports
        .leases
        .acquire(&pid(provider), "fixture", TTL, h.clock.now(), &[claim])
        .await
        .expect("acquire lease");
    let LeaseGrant::Granted { lease, eligible } = grant else {
        panic!("fixture lease for {provider} is busy: {grant:?}");
    };
    assert_eq!(
        eligible,
        vec![true],
        "fixture claim {id}#{attempt} is eligible"
    );
    h.ports
        .leases
        .release(&lease, BreakerState::default(), h.clock.now())
        .await
        .expect("release lease");
}

/// Inserts, schedules and begins one record as attempt `attempt`.
pub(crate) async fn in_flight(h: &Harness, provider: &str, id: &str, attempt: u32) {
    scheduled(h, provider, &[id]).await;
    begin(h, provider, id, attempt).await;
}

/// Applies one outcome, checking it was new.
pub(crate) async fn apply(h: &Harness, event: OutcomeEvent) {
    let report = h
        .ports
        .records
        .apply_outcomes(&[event], h.clock.now())
        .await
        .expect("apply outcomes");
    assert_eq!(report.attempts_stored, 1, "fixture outcome is new");
}

/// An attempt that made a call and ended as `next` says.
pub(crate) fn outcome(
    id: &str,
    provider: &str,
    attempt: u32,
    next: NextState,
    at: Timestamp,
) -> OutcomeEvent {
    let ok = next == NextState::Succeeded;
    OutcomeEvent {
        v: OUTCOME_EVENT_VERSION,
        record_id: rid(id),
        provider: pid(provider),
        attempt,
        called: true,
        request_summary: format!("GET /v1/{id}"),
        started_at: at,
        finished_at: at.plus(Duration::from_millis(120)),
        latency_ms: 120,
        status_code: Some(if ok { 200 } else { 503 }),
        error_class: (!ok).then_some(ErrorClass::ServerError),
        detail: (!ok).then(|| "503 Service Unavailable".to_owned()),
        response: Some(if ok {
            format!("{{\"done\":\"{id}\"}}")
        } else {
            "busy".to_owned()
        }),
        fencing_token: 7,
        invocation_id: "contract-suite".to_owned(),
        next,
    }
}

/// The record, which must exist.
pub(crate) async fn get(h: &Harness, id: &str) -> Record {
    h.ports
        .records
        .get(&rid(id))
        .await
        .expect("get record")
        .unwrap_or_else(|| panic!("record {id} exists"))
}

/// The work message for `id#attempt`.
pub(crate) fn work(id: &str, provider: &str, attempt: u32, now: Timestamp) -> WorkMessage {
    WorkMessage {
        v: WORK_MESSAGE_VERSION,
        record_id: rid(id),
        provider: pid(provider),
        attempt,
        calls: attempt.saturating_sub(1),
        request: ApiRequest {
            path: format!("/v1/{id}"),
            ..Default::default()
        },
        released_at: now,
    }
}

/// A dead letter of an exhausted record.
pub(crate) fn dead_letter(
    id: &str,
    provider: &str,
    class: ErrorClass,
    at: Timestamp,
    reason: &str,
) -> DeadLetter {
    DeadLetter {
        id: id.to_owned(),
        record_id: id.split('#').next().and_then(|r| RecordId::new(r).ok()),
        provider: Some(provider.to_owned()),
        error_class: class,
        attempts: 3,
        reason: reason.to_owned(),
        dead_lettered_at: at,
        body: format!("{{\"dead\":\"{id}\"}}"),
    }
}

/// The HTTP API's ports of a harness whose API cases already checked they exist.
pub(crate) fn api_of(h: &Harness) -> &pacer_core::ports::ApiPorts {
    h.api
        .as_ref()
        .expect("API cases check for the API ports first")
}
