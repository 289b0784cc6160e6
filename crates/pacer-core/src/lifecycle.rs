//! The record lifecycle: one pure function decides every state move.
//!
//! ```text
//! pending → scheduled(due_at) → queued → in_flight → succeeded | failed | retry_wait(due_at) → … | dead_lettered
//! dead_lettered → pending only by an operator replay
//! ```
//! Backends do not re-implement these rules: they ask [`transition`] (or [`sources`] to
//! build a conditional write) and store the answer.

use crate::record::RecordState::{self, *};

/// Something that happens to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The planner gave it a `due_at` in the window.
    Plan,
    /// The planner could not fit it in the window; it stays pending with a reason.
    CarryOver,
    /// The dispatcher sent it to the work queue (or re-sent a stale queued record).
    Release,
    /// A worker holding the provider's lease took it (again, after a redelivery).
    Begin,
    /// The API answered 2xx.
    Succeed,
    /// A permanent error.
    Fail,
    /// A transient error with attempts left: due again later.
    RetryLater,
    /// Attempts exhausted, or the message could not be processed at all.
    DeadLetter,
    /// An operator replays a dead-lettered record.
    Replay,
}

impl Event {
    /// Every event, for table tests and documentation.
    pub const ALL: [Event; 9] = [
        Event::Plan,
        Event::CarryOver,
        Event::Release,
        Event::Begin,
        Event::Succeed,
        Event::Fail,
        Event::RetryLater,
        Event::DeadLetter,
        Event::Replay,
    ];
}

/// A move the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} record cannot take the {event:?} move")]
pub struct ForbiddenTransition {
    /// The state the record was in.
    pub from: RecordState,
    /// The event that was refused.
    pub event: Event,
}

/// The states from which `event` is allowed; what a conditional write checks.
pub fn sources(event: Event) -> &'static [RecordState] {
    match event {
        Event::Plan | Event::CarryOver => &[Pending],
        // Re-sending a queued record is how a lost work message is repaired.
        Event::Release => &[Scheduled, RetryWait, Queued],
        // in_flight → in_flight is a redelivery after a crash or visibility timeout.
        Event::Begin => &[Scheduled, Queued, RetryWait, InFlight],
        Event::Succeed | Event::Fail | Event::RetryLater => &[InFlight],
        // Poison messages are dead-lettered before any worker could begin them.
        Event::DeadLetter => &[Scheduled, Queued, InFlight, RetryWait],
        Event::Replay => &[DeadLettered],
    }
}

/// The state a record in `from` moves to on `event`, or why it may not.
pub fn transition(from: RecordState, event: Event) -> Result<RecordState, ForbiddenTransition> {
    if !sources(event).contains(&from) {
        return Err(ForbiddenTransition { from, event });
    }
    Ok(match event {
        Event::Plan => Scheduled,
        Event::CarryOver => Pending,
        Event::Release => Queued,
        Event::Begin => InFlight,
        Event::Succeed => Succeeded,
        Event::Fail => Failed,
        Event::RetryLater => RetryWait,
        Event::DeadLetter => DeadLettered,
        Event::Replay => Pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every allowed move, written out by hand. Anything not in this table is forbidden.
    const ALLOWED: &[(RecordState, Event, RecordState)] = &[
        (Pending, Event::Plan, Scheduled),
        (Pending, Event::CarryOver, Pending),
        (Scheduled, Event::Release, Queued),
        (RetryWait, Event::Release, Queued),
        (Queued, Event::Release, Queued),
        (Scheduled, Event::Begin, InFlight),
        (Queued, Event::Begin, InFlight),
        (RetryWait, Event::Begin, InFlight),
        (InFlight, Event::Begin, InFlight),
        (InFlight, Event::Succeed, Succeeded),
        (InFlight, Event::Fail, Failed),
        (InFlight, Event::RetryLater, RetryWait),
        (Scheduled, Event::DeadLetter, DeadLettered),
        (Queued, Event::DeadLetter, DeadLettered),
        (InFlight, Event::DeadLetter, DeadLettered),
        (RetryWait, Event::DeadLetter, DeadLettered),
        (DeadLettered, Event::Replay, Pending),
    ];

    #[test]
    fn every_move_is_allowed_or_forbidden_exactly_as_the_table_says() {
        for from in RecordState::ALL {
            for event in Event::ALL {
                let expected = ALLOWED
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match (transition(from, event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from} on {event:?}"),
                    (Err(e), None) => assert_eq!(e, ForbiddenTransition { from, event }),
                    (got, want) => panic!("{from} on {event:?}: got {got:?}, table says {want:?}"),
                }
            }
        }
    }

    #[test]
    fn final_states_never_move_except_an_operator_replay_of_a_dead_letter() {
        for from in [Succeeded, Failed, DeadLettered] {
            for event in Event::ALL {
                let allowed = transition(from, event).is_ok();
                assert_eq!(
                    allowed,
                    from == DeadLettered && event == Event::Replay,
                    "{from} {event:?}"
                );
            }
        }
    }

    #[test]
    fn forbidden_moves_explain_themselves() {
        let e = transition(Succeeded, Event::Begin).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a succeeded record cannot take the Begin move"
        );
    }
}
