//! Watching an account: NOTIFY, waiting for what the server reports on its own, and a NOOP
//! that checks the connection without losing what it brings.

use std::time::Instant;

use pimlink_core::Error;

use super::Client;
use crate::proto::commands::{NoopKeeping, Notify};
use crate::proto::notify::{Notice, notice, unsolicited};

impl Client {
    /// NOTIFY (RFC 5465): `Unsupported` if the server lacks it (or it is disabled).
    pub async fn notify(&mut self, notify: Notify) -> Result<(), Error> {
        self.run(notify).await
    }

    /// Waits until `deadline` for one response the server sends while no command runs (after
    /// NOTIFY, or during a quiet spell); `Ok(None)` if none came. A tagged response or a `+`
    /// now is a protocol violation, fatal for the connection.
    pub async fn wait_notice(&mut self, deadline: Instant) -> Result<Option<Notice>, Error> {
        self.transport.flush().await?;
        let incoming = match self.backlog.pop_front() {
            Some(incoming) => incoming,
            None => match self.read_wire_until(Some(deadline)).await? {
                Some(incoming) => incoming,
                None => return Ok(None),
            },
        };
        unsolicited(&mut self.session, incoming.response).map(Some)
    }

    /// NOOP, keeping what the server reported with it: checks that the connection is alive
    /// (its answer is bounded by the read timeout) without losing a notification.
    pub async fn noop_notices(&mut self) -> Result<Vec<Notice>, Error> {
        let seen = self.run(NoopKeeping::default()).await?;
        Ok(seen.iter().map(notice).collect())
    }
}
