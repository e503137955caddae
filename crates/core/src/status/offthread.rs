//! Status commits made on a thread of their own and awaited, for the wings' `*_awaited`
//! writes (mail/status/awaited.rs says why).

use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::schema::sql;
use crate::error::{Error, ErrorKind, Result};
use crate::offthread;

/// Runs `job` with the connection `conn` on a new thread and awaits it; `conn` is back in place
/// when this returns. If no thread can be started, the job runs here. A job that panics
/// leaves no transaction open (dropping a rusqlite transaction rolls it back) and is reported
/// as an error.
pub(crate) async fn on_own_thread<T, F>(conn: &mut Connection, job: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
{
    // The connection is lent to the thread and a placeholder stands in meanwhile; the
    // placeholder has no tables, so a use of it by mistake fails instead of writing elsewhere.
    let placeholder = Connection::open_in_memory().map_err(sql("opening a placeholder"))?;
    let mut lent = std::mem::replace(conn, placeholder);
    // The job's panic is caught inside, so that the connection comes back either way.
    let returned = offthread::run("status-commit", move || {
        let result = catch_unwind(AssertUnwindSafe(|| job(&mut lent))).ok();
        (lent, result)
    })
    .await;
    match returned {
        Some((lent, result)) => {
            *conn = lent;
            result.unwrap_or_else(|| {
                Err(Error::new(
                    ErrorKind::State,
                    "writing the status failed unexpectedly; nothing of it was recorded".to_owned(),
                ))
            })
        }
        // Only if the thread died outside the job: the connection is gone with it.
        None => Err(Error::new(
            ErrorKind::State,
            "lost the connection to the status database while writing it".to_owned(),
        )),
    }
}
