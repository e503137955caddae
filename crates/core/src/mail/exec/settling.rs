//! What a run records of each collection once all of them are carried out: its listing states
//! (when no transaction of its changes recorded them) and its settled stamps, for every
//! collection in one transaction at the end of the run. A run that changed nothing (the
//! first run after an adoption lists every folder and changes nothing) then waits for the
//! disk once, not once or twice per collection.
//!
//! Safe to delay: both only let a later run list less (an incremental listing from the
//! states, a skip from the stamps), and each is kept only for a collection whose changes were
//! all applied and recorded already. A run killed before the end records neither, and the
//! next run lists those collections again, as before this run.

use super::{CollectionReport, Pair};
use crate::error::Error;
use crate::mail::status::KeptAtEnd;
use crate::mail::store::MailStore;

/// What is left to record of one carried-out collection.
pub(super) type Settling = KeptAtEnd;

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Records `settlings` (each with the index of its collection in `reports`) in one
    /// transaction; a failure is kept in the report of each collection concerned.
    pub(super) fn record_settlings(
        &mut self,
        settlings: Vec<(usize, Settling)>,
        reports: &mut [CollectionReport],
    ) {
        let (indexes, wanted): (Vec<usize>, Vec<Settling>) = settlings
            .into_iter()
            .filter(|(_, s)| s.states.is_some() || s.settled.is_some())
            .unzip();
        if wanted.is_empty() {
            return;
        }
        if let Err(error) = self.status.record_run_end(&wanted) {
            // The first collection gets the error with its cause, the others its words.
            let (kind, message) = (error.kind(), error.to_string());
            let mut error = Some(error);
            for index in indexes {
                if let Some(report) = reports.get_mut(index) {
                    let error = error
                        .take()
                        .unwrap_or_else(|| Error::new(kind, message.clone()));
                    report.errors.push(error);
                }
            }
        }
    }
}
