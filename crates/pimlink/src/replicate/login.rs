//! Each user's view of a storage: the storage's (administrator's) credentials acting as the
//! user, or a Maildir tree whose `path` names the user.

use crate::config::{Credentials, StorageConfig, StorageKind, USER_PLACEHOLDER, UserLogin};

use super::users::User;

/// `storage` as `user` sees it, for a replication that logs in with `login`:
/// - IMAP, [`UserLogin::Authzid`]: the storage's credentials with `user` as the SASL PLAIN
///   authorization identity;
/// - IMAP, [`UserLogin::MasterUser`]: the login `USER<separator>ADMIN` with the storage's
///   password (Dovecot master users);
/// - IMAP, [`UserLogin::SelfOnly`]: the storage as configured;
/// - Maildir: `{user}` in its path replaced by the user's escaped name
///   ([`User::file_name`]), so that a hostile name cannot leave the tree's parent.
///
/// The storage keeps its name, so messages and refused logins still name the configured
/// storage.
pub fn storage_as_user(
    storage: &StorageConfig,
    user: &User,
    login: UserLogin,
    separator: &str,
) -> StorageConfig {
    let mut storage = storage.clone();
    match &mut storage.kind {
        StorageKind::Imap(imap) => match login {
            UserLogin::Authzid => imap.authzid = Some(user.as_str().to_owned()),
            UserLogin::MasterUser => {
                if let Some(Credentials { user: admin, .. }) = &mut imap.credentials {
                    *admin = format!("{}{separator}{admin}", user.as_str());
                }
            }
            UserLogin::SelfOnly => {}
        },
        StorageKind::Maildir(maildir) => {
            let path = maildir.path.to_string_lossy();
            if path.contains(USER_PLACEHOLDER) {
                maildir.path = path.replace(USER_PLACEHOLDER, &user.file_name()).into();
            }
        }
        // Replications are checked to join mail storages.
        _ => {}
    }
    storage
}
