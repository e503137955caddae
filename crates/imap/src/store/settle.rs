//! Waiting for the server to finish the APPENDs of a connection that died.
//!
//! A run killed while APPENDs were in flight leaves the server storing them: Dovecot goes on
//! through the commands it had received, one fsync each, after the client is gone, and no
//! IMAP command can ask another connection's progress. The next run would list the folder,
//! miss messages that land a moment later, copy them again, and leave them twice until the
//! run after removes the late ones (`plan::late_copies`). So before a folder with unconfirmed
//! copies is listed, the store watches its UIDNEXT and MESSAGES (STATUS) until they have not
//! moved for [`QUIET`]: longer than a server takes to store one message, so a backlog still
//! being worked through shows. The backlog is short, since at most
//! [`APPEND_WINDOW`](super::writing::APPEND_WINDOW) APPENDs are ever in flight.
//!
//! A MULTIAPPEND batch ([`multiappend`](super::multiappend)) shows no progress at all: the
//! server writes its messages unseen and they appear together when it commits the command. So
//! on a server the store sends MULTIAPPEND to, the quiet time is [`QUIET_MULTIAPPEND`], a
//! few times what Dovecot takes to store a whole batch.

use std::time::{Duration, Instant};

use pimlink_core::{CollectionName, Error};
use tracing::{debug, warn};

use super::ImapStore;
use super::retry::Repeat;

/// How long UIDNEXT and MESSAGES must stay put for the folder to count as settled.
const QUIET: Duration = Duration::from_millis(300);

/// The same where uploads go in MULTIAPPEND batches: a batch of 32 small messages took Dovecot
/// 0.13-0.15 s to store on a 2-core machine at load 7-8, invisible until its end.
const QUIET_MULTIAPPEND: Duration = Duration::from_millis(600);

/// The longest wait: a folder still moving after this is busy with someone else's mail.
const MAX_WAIT: Duration = Duration::from_secs(20);

impl ImapStore {
    /// Returns once `collection`'s UIDNEXT and MESSAGES stopped moving (or after
    /// [`MAX_WAIT`]).
    pub(super) async fn settle_folder(&mut self, collection: &CollectionName) -> Result<(), Error> {
        let server = self.server_folder(collection).await?;
        let started = Instant::now();
        let mut last = self.counts(&server).await?;
        let quiet = self.quiet_time();
        loop {
            tokio::time::sleep(quiet).await;
            let now = self.counts(&server).await?;
            if now == last {
                debug!(
                    "{server:?}: settled at {now:?} after {:?}",
                    started.elapsed()
                );
                return Ok(());
            }
            if started.elapsed() > MAX_WAIT {
                warn!("{server:?}: still changing after {MAX_WAIT:?}; listing it anyway");
                return Ok(());
            }
            last = now;
        }
    }

    /// How long the counters must stay put: [`QUIET_MULTIAPPEND`] unless the connection shows
    /// a server that is not sent MULTIAPPEND batches.
    fn quiet_time(&self) -> Duration {
        let batches = self
            .client
            .as_ref()
            .is_none_or(|client| client.has("MULTIAPPEND") && client.has("UIDPLUS"));
        if batches { QUIET_MULTIAPPEND } else { QUIET }
    }

    /// (UIDNEXT, MESSAGES) by STATUS, tried again after reconnecting.
    async fn counts(&mut self, server: &str) -> Result<(Option<u32>, Option<u32>), Error> {
        let mut failures = 0;
        loop {
            let status = match self.client().await {
                Ok(client) => client.status(server).await,
                Err(error) => Err(error),
            };
            match status {
                Ok(status) => return Ok((status.uid_next, status.messages)),
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        }
    }
}
