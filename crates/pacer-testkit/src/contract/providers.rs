//! [`ProviderDirectory`](pacer_core::ports::ProviderDirectory): settings round-trip,
//! `put` replaces whole, `list` is sorted by id; control documents work the same way.

use super::fixtures::pid;
use super::Harness;
use pacer_core::provider::ProviderSettings;
use std::time::Duration;

fn settings(id: &str) -> ProviderSettings {
    let mut s = ProviderSettings::with_defaults(pid(id), format!("https://api.example/{id}"));
    // Values away from the defaults, so a backend that drops a field shows it.
    s.timeout = Duration::from_millis(2500);
    s.min_interval = Duration::from_millis(750);
    s.max_attempts = 4;
    s.backoff_base = Duration::from_millis(200);
    s.backoff_max = Duration::from_secs(90);
    s
}

/// What `put_provider` stores, `get_provider` returns unchanged; an unknown provider
/// is `None`.
pub async fn put_then_get_round_trips_the_settings(h: Harness) {
    let acme = settings("acme");
    h.ports
        .providers
        .put_provider(&acme)
        .await
        .expect("put provider");
    let got = h
        .ports
        .providers
        .get_provider(&pid("acme"))
        .await
        .expect("get provider");
    assert_eq!(got, Some(acme));
    let unknown = h
        .ports
        .providers
        .get_provider(&pid("nobody"))
        .await
        .expect("get provider");
    assert_eq!(unknown, None);
}

/// A second `put_provider` replaces the settings whole (last writer wins).
pub async fn put_replaces_the_settings_whole(h: Harness) {
    h.ports
        .providers
        .put_provider(&settings("acme"))
        .await
        .expect("put provider");
    let replacement = ProviderSettings::with_defaults(pid("acme"), "https://elsewhere.example");
    h.ports
        .providers
        .put_provider(&replacement)
        .await
        .expect("put provider again");
    let got = h
        .ports
        .providers
        .get_provider(&pid("acme"))
        .await
        .expect("get provider");
    assert_eq!(
        got,
        Some(replacement),
        "every field comes from the second put"
    );
    let all = h
        .ports
        .providers
        .list_providers()
        .await
        .expect("list providers");
    assert_eq!(all.len(), 1, "replacing does not add a provider");
}

/// `list_providers` is empty at first, then every provider sorted by id.
pub async fn list_is_sorted_by_provider_id(h: Harness) {
    let empty = h
        .ports
        .providers
        .list_providers()
        .await
        .expect("list providers");
    assert!(
        empty.is_empty(),
        "a fresh backend has no providers: {empty:?}"
    );
    for id in ["charlie", "alpha", "bravo"] {
        h.ports
            .providers
            .put_provider(&settings(id))
            .await
            .expect("put provider");
    }
    let all = h
        .ports
        .providers
        .list_providers()
        .await
        .expect("list providers");
    assert_eq!(
        all,
        vec![settings("alpha"), settings("bravo"), settings("charlie")]
    );
}

/// Control documents (the schedule switch, the window's plan) round-trip by key, are
/// replaced whole by a second `put_control`, and keys do not mix.
pub async fn control_documents_round_trip_and_are_replaced_whole(h: Harness) {
    let dir = &h.ports.providers;
    assert_eq!(
        dir.get_control("schedule").await.expect("get control"),
        None
    );
    let first = serde_json::json!({"paused": true, "by": "ops", "until": null, "n": [1, 2.5]});
    dir.put_control("schedule", &first)
        .await
        .expect("put control");
    assert_eq!(
        dir.get_control("schedule").await.expect("get control"),
        Some(first)
    );
    let second = serde_json::json!({"paused": false});
    dir.put_control("schedule", &second)
        .await
        .expect("put control again");
    let plan = serde_json::json!({"window": "2026-01-01"});
    dir.put_control("plan", &plan)
        .await
        .expect("put other control");
    assert_eq!(
        dir.get_control("schedule").await.expect("get control"),
        Some(second),
        "replaced whole: no field of the first document survives"
    );
    assert_eq!(
        dir.get_control("plan").await.expect("get control"),
        Some(plan)
    );
    let providers = dir.list_providers().await.expect("list providers");
    assert!(
        providers.is_empty(),
        "control documents are not providers: {providers:?}"
    );
}
