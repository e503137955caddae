//! A configured storage acting as one account of a migration: the same server settings, the
//! account's user and password. (Replication has its own, richer `storage_as_user`, with
//! admin logins; the two may become one.)

use crate::config::{Config, Credentials, PasswordSource, Secret, StorageKind};

/// `config` with storage `name` logging in as `user` with `password`. A storage that is not
/// IMAP is left as it is (the migration's configuration refused those).
pub fn storage_as_account(config: &mut Config, name: &str, user: &str, password: Secret) {
    if let Some(storage) = config.storages.get_mut(name)
        && let StorageKind::Imap(imap) = &mut storage.kind
    {
        imap.credentials = Some(Credentials {
            user: user.to_owned(),
            password: PasswordSource::Literal(password),
        });
    }
}
