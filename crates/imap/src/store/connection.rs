//! The store's connection: reconnecting after a failure, and trying an operation again where
//! [`retry`](super::retry) says that is safe.
//!
//! A failed connection is dropped at once (with the selection, which belonged to it); the next
//! command opens a new one, logs in again, and the operation's own code selects the folder
//! again, checking its UIDVALIDITY as always. Everything the store learnt during the run (flags
//! as listed, queued flag changes and deletions, the append floor) belongs to the folders, not
//! the connection, and stays.

use pimlink_core::{Error, ErrorKind, MailStore};
use tracing::warn;

use super::ImapStore;
use super::retry::{Decision, Repeat};
use crate::client::Client;

impl ImapStore {
    /// Forgets the connection and the folder it had selected.
    pub(super) fn drop_connection(&mut self) {
        self.client = None;
        self.selected = None;
    }

    /// After an operation failed with `error` and goes on without it (a read-ahead, an early
    /// flush): drops the connection if it broke, so that the next command reconnects and
    /// selects again instead of trusting a selection the server no longer has.
    pub(super) fn forget_broken_connection(&mut self, error: &Error) {
        if error.kind() == ErrorKind::Connection
            || self.client.as_ref().is_some_and(Client::is_broken)
        {
            self.drop_connection();
        }
    }

    /// The connection, checked (without waiting) not to have been closed by the server while
    /// idle; for commands that must not be sent twice, so that they never go down a dead one.
    pub(super) async fn live_client(&mut self) -> Result<&mut Client, Error> {
        if self.client().await?.poll_closed().await {
            self.drop_connection();
            return Err(Error::new(
                ErrorKind::Connection,
                format!("{} had closed the connection", self.describe()),
            ));
        }
        self.client().await
    }

    /// Called with the error of a failed attempt `failures` (counted here) of an operation:
    /// `Ok(())` after the wait if it should be tried again, otherwise the error to report.
    pub(super) async fn after_failure(
        &mut self,
        error: Error,
        repeat: Repeat,
        failures: &mut u32,
    ) -> Result<(), Error> {
        let broken = self.client.as_ref().is_some_and(|c| c.is_broken());
        if error.kind() == ErrorKind::Connection || broken {
            self.drop_connection();
        }
        *failures += 1;
        match self
            .retry
            .decide(error.kind(), repeat, *failures, self.unreachable)
        {
            Decision::Retry(wait) => {
                let wait = wait.max(self.retry.busy_wait(&error));
                warn!(
                    "{error}; reconnecting in {} ms (retry {} of {})",
                    wait.as_millis(),
                    failures,
                    self.retry.retries
                );
                self.stats.retries += 1;
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Decision::GiveUp if error.kind() != ErrorKind::Connection => Err(error),
            Decision::GiveUp => {
                if self.connect_failed {
                    // Later operations get one attempt each instead of a whole schedule.
                    self.unreachable = true;
                }
                let busy = !self.retry.busy_wait(&error).is_zero();
                Err(match (*failures, repeat) {
                    // A NO: the server did not carry the write out, so nothing is unknown.
                    (_, Repeat::Unsafe) if busy => {
                        error.context("the server was too busy to do it; the next run tries again")
                    }
                    (1, Repeat::Safe) if self.unreachable => error
                        .context("reconnecting failed earlier in this run, so this was tried once"),
                    (_, Repeat::Unsafe) => error.context(
                        "the connection failed before the server answered, so whether the \
                         change was made is unknown; it is not repeated blindly",
                    ),
                    (1, _) => error,
                    (n, _) => error.context(format!(
                        "the connection failed {n} times in a row; giving up on this operation"
                    )),
                })
            }
        }
    }

    /// The error to report for a write (APPEND, MOVE) that failed, perhaps leaving its outcome
    /// unknown: never retried; the connection is dropped if it failed.
    pub(super) async fn unsafe_failure(&mut self, error: Error) -> Error {
        let mut failures = 0;
        match self
            .after_failure(error, Repeat::Unsafe, &mut failures)
            .await
        {
            Err(error) => error,
            // Not reached: an unsafe operation is never retried.
            Ok(()) => Error::new(ErrorKind::Connection, "a write failed"),
        }
    }
}
