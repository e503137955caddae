//! OAuth2 Bearer authorization (RFC 6750) for CalDAV/CardDAV servers that take tokens instead
//! of passwords (Google's): the token in use, and how to get a new one when the server
//! answers 401 to it. Obtaining tokens is the caller's business (the `pimlink` binary's
//! OAuth2 module); this crate only sends them and asks again once.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::secret::Secret;
use pimlink_core::Result;

/// Produces a new token after the server refused the current one.
pub type Refresh = Arc<dyn Fn() -> Result<Secret> + Send + Sync>;

/// The token sent in `Authorization: Bearer`, shared by every clone of the client.
#[derive(Clone)]
pub struct Bearer {
    token: Arc<Mutex<Secret>>,
    refresh: Refresh,
}

impl Bearer {
    /// `token` now, and `refresh` to call (once per refused request) for a new one.
    pub fn new(token: Secret, refresh: Refresh) -> Self {
        Self {
            token: Arc::new(Mutex::new(token)),
            refresh,
        }
    }

    /// The token to send.
    pub(crate) fn current(&self) -> Secret {
        self.token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A token to retry with after `refused` was answered 401: the one another request
    /// already renewed, else a new one from the refresher.
    pub(crate) fn renew(&self, refused: &Secret) -> Result<Secret> {
        let mut token = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if token.expose() != refused.expose() {
            return Ok(token.clone());
        }
        let fresh = (self.refresh)()?;
        *token = fresh.clone();
        Ok(fresh)
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}
