//! On-demand intake: records submitted over the HTTP API, stored due now.

use crate::db::{corrupt, sql_error, Embedded};
use pacer_core::lifecycle::{self, Event};
use pacer_core::ports::{Admission, RecordIntake};
use pacer_core::{NewRecord, PortError, RecordState, Timestamp};
use rusqlite::params;

#[async_trait::async_trait]
impl RecordIntake for Embedded {
    async fn submit(
        &self,
        records: &[NewRecord],
        origin: &str,
        now: Timestamp,
    ) -> Result<Vec<Admission>, PortError> {
        const OP: &str = "submit records";
        // pending → scheduled in one step: the record is planned for now.
        let state = lifecycle::transition(RecordState::Pending, Event::Plan)
            .map_err(|e| corrupt(OP, "lifecycle", e))?;
        self.shared.write(OP, |tx| {
            let e = |err| sql_error(OP, err);
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO records (id, provider, request, state, due_at, created_at, updated_at, callback_url)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(e)?;
            let mut note = tx
                .prepare_cached(
                    "INSERT INTO history (record_id, at, kind, detail) VALUES (?1, ?2, 'submitted', ?3)",
                )
                .map_err(e)?;
            let mut admissions = Vec::with_capacity(records.len());
            for r in records {
                let request =
                    serde_json::to_string(&r.request).map_err(|err| corrupt(OP, "request", err))?;
                let inserted = insert
                    .execute(params![
                        r.id.as_str(),
                        r.provider.as_str(),
                        request,
                        state.as_str(),
                        now.as_millis(),
                        r.callback_url.as_ref().map(|u| u.as_str())
                    ])
                    .map_err(e)?;
                if inserted == 0 {
                    admissions.push(Admission::Duplicate);
                } else {
                    note.execute(params![r.id.as_str(), now.as_millis(), origin])
                        .map_err(e)?;
                    admissions.push(Admission::Accepted);
                }
            }
            Ok(admissions)
        })
    }
}
