//! The other tools' sync state (one module per tool): which item on the server is which local
//! file, and the flags or etags both sides had at that tool's last run.

pub mod mbsync;
pub mod offlineimap;
