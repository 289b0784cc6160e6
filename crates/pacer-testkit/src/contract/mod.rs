//! The port contract suite: one set of cases every backend must pass.
//!
//! Each case is a plain `pub async fn case_name(h: Harness)` in the module of the port
//! it checks ([`records`], [`record_release`], [`record_outcomes`], [`record_history`],
//! [`leases`], [`providers`], [`work_queue`], [`work_receive`], [`work_dedup`],
//! [`outcomes`], [`dead_letters`], and for the HTTP API [`intake`], [`clients`],
//! [`feed`], [`callbacks`]). It states one promise of that port's doc comment
//! and fails with a message saying which. A backend
//! runs the whole suite with one macro call, which stamps out one `#[tokio::test]` per
//! case (so one failure does not hide the rest), each on a fresh, isolated backend:
//!
//! ```ignore
//! struct MyFactory;
//!
//! #[async_trait::async_trait]
//! impl pacer_testkit::contract::BackendFactory for MyFactory {
//!     async fn harness(&self) -> pacer_testkit::contract::Harness { /* fresh backend */ }
//! }
//!
//! pacer_testkit::contract_suite!(MyFactory);
//! ```
//!
//! Time is a [`ManualClock`] the cases move by hand: no case sleeps except the long-poll
//! one, which needs real time by nature. The suite only uses `records`, `leases`,
//! `providers`, `work`, `outcomes`, `dead_letters`, `intake`, `clients`, `feed`,
//! `callbacks` and `clock` from the ports; the
//! caller and the rate gate may be [`UnusedCaller`] and
//! [`pacer_core::ports::Unlimited`].
//!
//! What the suite is not: a test of the services (plan, release, work, apply) or of
//! performance. It checks the ports one promise at a time.

pub mod callbacks;
pub mod clients;
pub mod dead_letters;
pub mod feed;
pub mod intake;
pub mod leases;
pub mod outcomes;
pub mod providers;
pub mod record_history;
pub mod record_outcomes;
pub mod record_release;
pub mod records;
pub mod work_dedup;
pub mod work_queue;
pub mod work_receive;

mod fixtures;

use crate::clock::ManualClock;
use async_trait::async_trait;
use pacer_core::classify::{ApiResponse, TransportFailure};
use pacer_core::ports::{ApiCall, ApiCaller, Ports};
use std::any::Any;
use std::sync::Arc;

/// How many times a work message may be received before it is redriven to the
/// dead-letter queue. Every factory must configure its work queue with this limit
/// (SQS: `maxReceiveCount` of the redrive policy; embedded: `work_max_receives`).
pub const WORK_RECEIVE_LIMIT: u32 = 3;

/// Where backends legitimately differ (usually an emulator falling short of the real
/// service). A case that depends on a flag still asserts the weaker behaviour every
/// backend has, then returns early when the flag is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A FIFO deduplication id is remembered for the whole window even after its
    /// message was deleted (SQS does; moto forgets it on delete).
    pub dedup_survives_delete: bool,
    /// After a visibility timeout, a group's messages come back in send order
    /// (SQS does; moto may hand out a later message of the group first).
    pub fifo_redelivery_in_order: bool,
    /// Queue visibility timeouts and release delays run on [`Harness::clock`] (the
    /// embedded backend). When false they run on real time (SQS, moto): the queue cases
    /// then use timeouts of a tenth of their nominal length and sleep past them as
    /// well as moving the clock.
    pub queue_follows_harness_clock: bool,
}

impl Capabilities {
    /// Everything the contracts promise (the embedded backend, real AWS).
    pub const FULL: Capabilities = Capabilities {
        dedup_survives_delete: true,
        fifo_redelivery_in_order: true,
        queue_follows_harness_clock: true,
    };
}

/// One fresh, isolated backend for one case.
pub struct Harness {
    /// The backend's ports. Their `clock` must be (or read) [`Harness::clock`].
    pub ports: Ports,
    /// The HTTP API's ports, for backends that serve the API; the API cases are skipped
    /// (with a printed reason) when this is `None`.
    pub api: Option<pacer_core::ports::ApiPorts>,
    /// The clock the backend reads; cases move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// What the backend can do.
    pub caps: Capabilities,
    /// Whatever must live as long as the backend (a temporary directory, an emulator
    /// handle); dropped with the harness.
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

/// Builds a fresh backend for each case.
///
/// Contract: every call returns a backend of its own (its own file, tables, queues),
/// empty, whose clock is the returned [`Harness::clock`], and whose work queue redrives
/// after [`WORK_RECEIVE_LIMIT`] receives.
#[async_trait]
pub trait BackendFactory: Send + Sync {
    /// A fresh harness. Panics (failing the case) if the backend cannot be built.
    async fn harness(&self) -> Harness;

    /// Why the backend cannot run here at all (say, its emulator was not started), or
    /// `None`. When it says why, every case prints the reason and passes without running.
    fn unavailable(&self) -> Option<String> {
        None
    }
}

/// An [`ApiCaller`] for harnesses whose ports never call the API. The contract suite
/// checks storage and queues only; a call reaching this is a bug in the suite.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnusedCaller;

#[async_trait]
impl ApiCaller for UnusedCaller {
    async fn call(&self, call: &ApiCall<'_>) -> Result<ApiResponse, TransportFailure> {
        panic!(
            "UnusedCaller was asked to call {} {}: the contract suite never calls the API; \
             build the ports with a real caller (or pacer-testkit's mock API) for this test",
            call.method.as_str(),
            call.url
        )
    }
}

/// Runs the whole contract suite against a backend: one `#[tokio::test]` per case.
///
/// `$factory` is an expression evaluating to something implementing
/// [`contract::BackendFactory`](crate::contract::BackendFactory); it is evaluated once
/// per test. Tests are generated in a module `contract`, one submodule per port, so
/// `cargo test contract::work_queue` runs one port's cases. The calling crate needs
/// `tokio` (features `macros`, `rt`) among its dev-dependencies.
#[macro_export]
macro_rules! contract_suite {
    ($factory:expr) => {
        mod contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::__contract_port!($factory, records: [
                insert_is_idempotent_by_id_and_keeps_the_first_copy,
                get_of_an_unknown_id_is_none,
                list_filters_by_provider_and_state_and_pages_after_an_id,
                pending_load_counts_pending_records_per_provider,
                counts_report_each_provider_and_state,
                schedule_gives_due_times_oldest_first_and_carries_over_the_rest,
                schedule_breaks_ties_between_records_stored_together_by_id,
                schedule_reports_what_it_did_when_the_plan_is_out_of_date,
            ]);
            $crate::__contract_port!($factory, record_release: [
                due_returns_records_whose_time_has_come_oldest_due_first,
                due_returns_queued_and_in_flight_records_gone_stale,
                mark_queued_moves_scheduled_and_retry_wait_records_and_leaves_others_alone,
            ]);
            $crate::__contract_port!($factory, record_outcomes: [
                applying_the_same_outcome_twice_changes_nothing_the_second_time,
                a_success_moves_the_record_to_succeeded_and_stores_the_result,
                a_transient_failure_moves_the_record_to_retry_wait_with_its_due_time,
                an_outcome_older_than_the_record_is_stored_but_does_not_move_it,
                an_outcome_the_lifecycle_forbids_is_stored_but_does_not_move_it,
                continue_stores_the_attempt_without_moving_the_record,
                calls_count_only_attempts_that_made_a_call,
            ]);
            $crate::__contract_port!($factory, record_history: [
                replay_brings_a_dead_lettered_record_back_scheduled_with_a_fresh_call_budget,
                replaying_twice_or_a_record_not_dead_lettered_does_nothing,
                history_lists_a_records_notes_oldest_first,
            ]);
            $crate::__contract_port!($factory, leases: [
                acquiring_a_free_lease_grants_token_one_and_marks_eligible_claims_in_flight,
                a_held_lease_is_busy_for_other_holders_and_claims_nothing,
                an_expired_lease_goes_to_the_next_holder_with_a_greater_token,
                the_holder_may_acquire_its_lease_again,
                begin_call_renews_the_lease_and_stamps_the_call_start,
                begin_call_with_a_stale_token_is_refused,
                release_frees_the_lease_and_stores_the_breaker,
                release_stores_the_latest_call_start_for_the_next_holder,
                release_with_a_stale_token_changes_nothing,
                claims_past_their_attempt_or_of_another_provider_are_not_eligible,
                a_redelivered_claim_of_an_in_flight_record_is_eligible,
                a_later_attempt_takes_over_a_stale_in_flight_record,
            ]);
            $crate::__contract_port!($factory, providers: [
                put_then_get_round_trips_the_settings,
                put_replaces_the_settings_whole,
                list_is_sorted_by_provider_id,
                control_documents_round_trip_and_are_replaced_whole,
            ]);
            $crate::__contract_port!($factory, work_queue: [
                messages_of_one_group_arrive_in_send_order,
                an_in_flight_message_blocks_its_group_but_not_other_groups,
                a_message_comes_back_after_its_visibility_timeout,
                deleting_an_unknown_or_deleted_receipt_is_not_an_error,
                release_hides_a_message_for_the_delay_then_delivers_it_again,
                a_message_received_more_than_the_limit_is_dead_lettered_and_its_group_moves_on,
            ]);
            $crate::__contract_port!($factory, work_receive: [
                a_receive_hands_out_at_most_ten_messages_of_one_group,
                depth_counts_visible_and_in_flight_messages,
                a_long_poll_returns_as_soon_as_a_message_arrives,
            ]);
            $crate::__contract_port!($factory, work_dedup: [
                a_record_attempt_sent_twice_within_five_minutes_is_deduplicated,
                a_new_attempt_of_a_record_is_not_deduplicated,
                a_resend_after_delete_is_deduplicated_where_the_backend_remembers,
            ]);
            $crate::__contract_port!($factory, outcomes: [
                published_events_are_received_and_gone_once_acked,
                unacked_deliveries_come_back_after_the_visibility_timeout,
                depth_counts_waiting_and_in_flight_deliveries,
            ]);
            $crate::__contract_port!($factory, intake: [
                submit_stores_new_records_scheduled_due_now_with_their_callback_url,
                submit_reports_duplicates_in_order_and_leaves_them_untouched,
            ]);
            $crate::__contract_port!($factory, clients: [
                register_stores_a_new_app_and_leaves_an_active_one_alone,
                revoke_disables_an_app_once_and_registering_again_reactivates_it,
                list_is_sorted_by_app_and_includes_revoked_apps,
            ]);
            $crate::__contract_port!($factory, feed: [
                a_final_outcome_is_appended_once_and_taken_once,
                only_moves_into_a_final_state_are_appended,
                applications_take_independently_from_the_beginning_in_order,
                a_replayed_record_that_ends_again_is_appended_again,
                final_moves_of_one_batch_are_appended_once_each_under_consecutive_numbers,
            ]);
            $crate::__contract_port!($factory, callbacks: [
                a_final_move_of_a_record_with_a_callback_url_enqueues_one_delivery,
                a_delivery_is_hidden_for_its_lease_then_comes_back_under_a_new_receipt,
                settlements_remove_reschedule_or_dead_letter_a_delivery,
            ]);
            $crate::__contract_port!($factory, dead_letters: [
                put_is_idempotent_by_id_and_keeps_the_first_copy,
                list_is_oldest_first_and_filters_by_provider_class_since_and_limit,
                remove_counts_what_it_removed_and_ignores_unknown_ids,
            ]);
        }
    };
}

/// Stamps out one port's tests; used by [`contract_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_port {
    ($factory:expr, $port:ident: [$($case:ident),* $(,)?]) => {
        mod $port {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test]
                async fn $case() {
                    let factory = $factory;
                    if let Some(why) = $crate::contract::BackendFactory::unavailable(&factory) {
                        eprintln!("skipped {}::{}: {why}", stringify!($port), stringify!($case));
                        return;
                    }
                    let harness = $crate::contract::BackendFactory::harness(&factory).await;
                    $crate::contract::$port::$case(harness).await;
                }
            )*
        }
    };
}
