//! [`ClientDirectory`](pacer_core::ports::ClientDirectory): consumer applications,
//! their token hashes, revocation and re-registration.

use super::fixtures::api_of;
use super::Harness;
use pacer_core::ports::{AppName, Registration, TokenHash};
use std::time::Duration;

fn app(name: &str) -> AppName {
    AppName::new(name).expect("test app names are valid")
}

async fn register(h: &Harness, name: &str, token: &str) -> Registration {
    api_of(h)
        .clients
        .register(&app(name), &TokenHash::of(token), h.clock.now())
        .await
        .expect("register")
}

async fn owner(h: &Harness, token: &str) -> Option<String> {
    api_of(h)
        .clients
        .find_by_token(&TokenHash::of(token))
        .await
        .expect("find by token")
        .map(|c| c.app.to_string())
}

/// `register` stores a new app with its token hash; registering an active app again
/// changes nothing (its old token still works, the new one does not).
pub async fn register_stores_a_new_app_and_leaves_an_active_one_alone(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    assert_eq!(
        register(&h, "billing", "t-1").await,
        Registration::Registered
    );
    let stored = api.clients.get(&app("billing")).await.expect("get");
    let stored = stored.expect("registered app is stored");
    assert_eq!(
        (stored.token_hash, stored.created_at, stored.revoked_at),
        (TokenHash::of("t-1"), h.clock.now(), None)
    );
    assert_eq!(
        register(&h, "billing", "t-2").await,
        Registration::AlreadyActive
    );
    assert_eq!(owner(&h, "t-1").await.as_deref(), Some("billing"));
    assert_eq!(owner(&h, "t-2").await, None);
    assert_eq!(owner(&h, "never-issued").await, None);
}

/// `revoke` revokes an active app once (true), then does nothing (false), also for an
/// unknown app; re-registering a revoked app gives it the new token and the old one
/// finds nothing.
pub async fn revoke_disables_an_app_once_and_registering_again_reactivates_it(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    register(&h, "billing", "t-1").await;
    h.clock.advance(Duration::from_secs(10));
    let now = h.clock.now();
    let clients = &api.clients;
    assert!(clients.revoke(&app("billing"), now).await.expect("revoke"));
    assert!(!clients
        .revoke(&app("billing"), now)
        .await
        .expect("revoke again"));
    assert!(!clients
        .revoke(&app("nobody"), now)
        .await
        .expect("revoke unknown"));
    let revoked = clients
        .get(&app("billing"))
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(revoked.revoked_at, Some(now));
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(
        register(&h, "billing", "t-2").await,
        Registration::Registered
    );
    assert_eq!(owner(&h, "t-1").await, None, "the old token is gone");
    let back = clients
        .find_by_token(&TokenHash::of("t-2"))
        .await
        .expect("find");
    let back = back.expect("the new token finds the app");
    assert_eq!((back.revoked_at, back.created_at), (None, h.clock.now()));
}

/// `list` returns every app, revoked ones included, sorted by name.
pub async fn list_is_sorted_by_app_and_includes_revoked_apps(h: Harness) {
    let Some(api) = h.api.clone() else {
        eprintln!("skipped: this backend does not serve the HTTP API");
        return;
    };
    for (name, token) in [("zeta", "t-z"), ("alpha", "t-a"), ("mid", "t-m")] {
        register(&h, name, token).await;
    }
    let now = h.clock.now();
    api.clients.revoke(&app("mid"), now).await.expect("revoke");
    let listed = api.clients.list().await.expect("list");
    let names: Vec<(&str, bool)> = listed
        .iter()
        .map(|c| (c.app.as_str(), c.revoked_at.is_some()))
        .collect();
    assert_eq!(names, [("alpha", false), ("mid", true), ("zeta", false)]);
}
