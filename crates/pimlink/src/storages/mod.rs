//! Opens the storages the configuration names: the bridge between the configuration and the
//! engine's two storage interfaces, `MailStore` (IMAP, Maildir) and `ItemStore` (CalDAV,
//! CardDAV, webcal, vdir).
//!
//! One match on the storage's type ([`open`]) turns a `[storage.NAME]` into a [`Storage`] of
//! either family ([`open_mail`], [`open_items`]: one of a known family; `crate::pair` opens a
//! pair's two sides with them). Inside a family, an enum of its storages ([`MailSide`], [`ItemSide`])
//! forwards the family's trait to the storage it holds ([`forward!`]), so that one engine
//! instance serves every combination of types.
//!
//! Layout: `mail` (the mail storages, their options and `MailStore` forwarding), `items` (the
//! calendar/contact storages, their kinds and `ItemStore` forwarding).
//!
//! Not here: what a pair does with its sides (the commands and the engine), parsing the
//! configuration (`config`), the wording of a refused login (`failure`).

/// Forwards a call to the storage inside an enum of storages:
/// `forward!(MailSide[Maildir, Imap], self, s => s.describe())`. Every trait method is
/// forwarded, also those with default bodies: a storage's override (IMAP's FETCH of dates and
/// sizes) must not be lost behind the enum.
macro_rules! forward {
    ($enum:ident [$($variant:ident),+], $self:ident, $store:ident => $call:expr) => {
        match $self {
            $($enum::$variant($store) => $call,)+
        }
    };
}

pub mod items;
pub mod mail;

use anyhow::{Context, Result};
use pimlink_core::dav::store::CollectionKind;
use pimlink_core::runner::AnySide;

use crate::config::{Config, Family, StorageConfig, StorageKind};

pub use items::ItemSide;
pub use mail::MailSide;

/// A storage of either family, opened (the runner's [`AnySide`]: `pimlink check` hands it to
/// [`pimlink_core::runner::check_side`]).
pub type Storage = AnySide<MailSide, ItemSide>;

/// The configuration of storage `name`.
fn configured<'c>(config: &'c Config, name: &str) -> Result<&'c StorageConfig> {
    config
        .storages
        .get(name)
        .with_context(|| format!("storage {name:?} is not configured"))
}

/// Opens storage `name`. A calendar/contact storage is opened for collections of `kind`, or
/// of [`items::own_kind`] if `None`, and is connected (discovery included, `password_cmd`
/// run); a mail storage connects on first use.
pub async fn open(config: &Config, name: &str, kind: Option<CollectionKind>) -> Result<Storage> {
    let storage = configured(config, name)?;
    let kind = || match kind {
        Some(kind) => Ok(kind),
        None => items::own_kind(config, name),
    };
    Ok(match &storage.kind {
        StorageKind::Maildir(maildir) => AnySide::Mail(mail::maildir(maildir)?),
        StorageKind::Imap(imap) => AnySide::Mail(mail::imap(name, imap)),
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => {
            AnySide::Dav(items::dav(name, dav, kind()?).await?)
        }
        StorageKind::Webcal(webcal) => AnySide::Dav(items::webcal(name, webcal)?),
        StorageKind::Vdir(vdir) => AnySide::Dav(items::vdir(vdir, kind()?)?),
    })
}

/// Opens storage `name` as a mail storage.
pub async fn open_mail(config: &Config, name: &str) -> Result<MailSide> {
    expect_family(config, name, Family::Mail)?;
    match open(config, name, None).await? {
        AnySide::Mail(store) => Ok(store),
        AnySide::Dav(_) => Err(wrong_family(config, name, Family::Mail)),
    }
}

/// Opens storage `name` as a calendar/contact storage for collections of `kind` (`None`: what
/// it holds by itself, see [`items::own_kind`]).
pub async fn open_items(
    config: &Config,
    name: &str,
    kind: Option<CollectionKind>,
) -> Result<ItemSide> {
    expect_family(config, name, Family::Dav)?;
    match open(config, name, kind).await? {
        AnySide::Dav(store) => Ok(store),
        AnySide::Mail(_) => Err(wrong_family(config, name, Family::Dav)),
    }
}

/// Fails, without opening it, if storage `name` is not of `family`.
fn expect_family(config: &Config, name: &str, family: Family) -> Result<()> {
    if configured(config, name)?.kind.family() == family {
        Ok(())
    } else {
        Err(wrong_family(config, name, family))
    }
}

/// Storage `name` was wanted as one of `family` but is not.
fn wrong_family(config: &Config, name: &str, family: Family) -> anyhow::Error {
    let type_name = config
        .storages
        .get(name)
        .map_or("?", |s| s.kind.type_name());
    match family {
        Family::Dav => {
            anyhow::anyhow!("storage {name:?} ({type_name}) holds mail, not calendars or contacts")
        }
        Family::Mail => anyhow::anyhow!(
            "storage {name:?}: type {type_name} cannot be synced by this version of pimlink yet"
        ),
    }
}
