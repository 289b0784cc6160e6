//! Operator actions on the dead-letter queue: replay (paced through the planner) and purge.

use crate::error::PortError;
use crate::ids::{ProviderId, RecordId};
use crate::planner::{self, PlanInput, ProviderLoad, WindowPlan};
use crate::ports::{DeadLetter, DeadLetterFilter, HistoryEntry, Ports, Replay};
use crate::record::RecordState;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// Which dead letters to replay or purge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Provider / class / time / limit filter.
    pub filter: DeadLetterFilter,
    /// Only these records (all, when empty).
    pub record_ids: Vec<RecordId>,
}

/// A dead letter left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The dead-letter entry id.
    pub id: String,
    /// Why it was not replayed.
    pub reason: String,
}

/// What a replay did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Records brought back (or that would be).
    pub replayed: Vec<RecordId>,
    /// Entries left alone.
    pub skipped: Vec<Skipped>,
    /// How the replayed records are paced, per provider.
    pub plan: WindowPlan,
}

async fn select(ports: &Ports, selection: &Selection) -> Result<Vec<DeadLetter>, PortError> {
    let wanted: BTreeSet<&RecordId> = selection.record_ids.iter().collect();
    let mut entries = ports.dead_letters.list(&selection.filter).await?;
    if !wanted.is_empty() {
        entries.retain(|e| e.record_id.as_ref().is_some_and(|id| wanted.contains(id)));
    }
    Ok(entries)
}

/// Replays selected dead letters: each dead-lettered record is rescheduled over `window`
/// from now at its provider's pace (never as a burst), with a fresh call budget; its
/// earlier attempts stay in its history, and its dead-letter entries are removed.
/// Replaying the same selection again does nothing.
pub async fn replay_dead_letters(
    ports: &Ports,
    selection: &Selection,
    window: Duration,
    dry_run: bool,
) -> Result<ReplayReport, PortError> {
    let entries = select(ports, selection).await?;
    let mut skipped = Vec::new();
    let mut candidates: BTreeMap<ProviderId, Vec<RecordId>> = BTreeMap::new();
    let mut entry_ids: HashMap<RecordId, Vec<String>> = HashMap::new();
    for entry in &entries {
        let Some(id) = &entry.record_id else {
            skipped.push(Skipped {
                id: entry.id.clone(),
                reason:
                    "not a record (a poison message): inspect it with `dlq show`, then purge it"
                        .into(),
            });
            continue;
        };
        let first = !entry_ids.contains_key(id);
        entry_ids
            .entry(id.clone())
            .or_default()
            .push(entry.id.clone());
        if !first {
            continue;
        }
        match ports.records.get(id).await? {
            Some(r) if r.state == RecordState::DeadLettered => {
                candidates.entry(r.provider).or_default().push(r.id)
            }
            Some(r) => skipped.push(Skipped {
                id: entry.id.clone(),
                reason: format!(
                    "record {id} is {}; only dead-lettered records replay",
                    r.state
                ),
            }),
            None => skipped.push(Skipped {
                id: entry.id.clone(),
                reason: format!("record {id} does not exist"),
            }),
        }
    }
    let settings: HashMap<_, _> = ports
        .providers
        .list_providers()
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let now = ports.clock.now();
    let plan = planner::plan_window(&PlanInput {
        start: now,
        window,
        global_rate: None,
        global_stretch: None,
        providers: candidates
            .iter()
            .map(|(p, ids)| ProviderLoad {
                provider: p.clone(),
                records: ids.len() as u64,
                min_interval: settings.get(p).map_or(Duration::ZERO, |s| s.min_interval),
                expected_latency: settings.get(p).and_then(|s| s.expected_latency),
            })
            .collect(),
    });
    let mut replays = Vec::new();
    for p in &plan.providers {
        for (rank, id) in candidates[&p.provider].iter().enumerate() {
            if (rank as u64) < p.fits {
                replays.push(Replay {
                    record_id: id.clone(),
                    due_at: p.due_at(now, rank as u64),
                });
            } else {
                skipped.push(Skipped { id: id.to_string(), reason: "does not fit the replay window at the provider's pace; replay with a longer --window".into() });
            }
        }
    }
    if !dry_run && !replays.is_empty() {
        ports.records.replay(&replays, now).await?;
        let done: Vec<String> = replays
            .iter()
            .flat_map(|r| entry_ids[&r.record_id].iter().cloned())
            .collect();
        ports.dead_letters.remove(&done).await?;
    }
    Ok(ReplayReport {
        dry_run,
        replayed: replays.into_iter().map(|r| r.record_id).collect(),
        skipped,
        plan,
    })
}

/// Removes selected dead letters for good, noting it in each record's history.
/// Returns the entries removed.
pub async fn purge_dead_letters(
    ports: &Ports,
    selection: &Selection,
) -> Result<Vec<DeadLetter>, PortError> {
    let entries = select(ports, selection).await?;
    let now = ports.clock.now();
    for entry in &entries {
        if let Some(id) = &entry.record_id {
            let note = HistoryEntry {
                at: now,
                kind: "purged_from_dead_letters".into(),
                detail: format!(
                    "dead letter {} ({}: {}) purged by an operator",
                    entry.id, entry.error_class, entry.reason
                ),
            };
            ports.records.note(id, &note).await?;
        }
    }
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    ports.dead_letters.remove(&ids).await?;
    Ok(entries)
}
