//! Opens the storages the configuration names: the bridge between the configuration and the
//! engine's two storage interfaces, `MailStore` (IMAP, Maildir) and `ItemStore` (CalDAV,
//! CardDAV, webcal, vdir).
//!
//! One match on the storage's type ([`open`]) turns a `[storage.NAME]` into a [`Storage`] of
//! either family; [`open_pair`] opens both sides of a pair as the engine takes them
//! ([`PairSides`]). Inside a family, an enum of its storages ([`MailSide`], [`ItemSide`])
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
use pimlink_core::dav::store::{CollectionKind, ItemStore};
use pimlink_core::{MailStore, PerSide, Side};

use crate::config::{Config, Family, PairConfig, StorageConfig, StorageKind};
use crate::renamed::Renamed;

pub use items::ItemSide;
pub use mail::MailSide;

/// A storage of either family, opened.
// One value per command, never moved around; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Storage {
    /// IMAP or Maildir.
    Mail(MailSide),
    /// CalDAV, CardDAV, webcal or vdir.
    Items(ItemSide),
}

impl Storage {
    /// What the storage is, for messages ("IMAP user@host", "Maildir /path", a URL).
    pub fn describe(&self) -> String {
        match self {
            Storage::Mail(store) => store.describe(),
            Storage::Items(store) => store.describe(),
        }
    }

    /// How many collections it offers: folders that can hold mail, calendars or address books.
    pub async fn count_collections(&mut self) -> Result<usize> {
        Ok(match self {
            Storage::Mail(store) => store
                .list_collections()
                .await?
                .iter()
                .filter(|c| c.selectable)
                .count(),
            Storage::Items(store) => store.list_collections().await?.len(),
        })
    }
}

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
        StorageKind::Maildir(maildir) => Storage::Mail(mail::maildir(maildir)?),
        StorageKind::Imap(imap) => Storage::Mail(mail::imap(name, imap)),
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => {
            Storage::Items(items::dav(name, dav, kind()?).await?)
        }
        StorageKind::Webcal(webcal) => Storage::Items(items::webcal(name, webcal)?),
        StorageKind::Vdir(vdir) => Storage::Items(items::vdir(vdir, kind()?)?),
    })
}

/// Opens storage `name` as a mail storage.
pub async fn open_mail(config: &Config, name: &str) -> Result<MailSide> {
    expect_family(config, name, Family::Mail)?;
    match open(config, name, None).await? {
        Storage::Mail(store) => Ok(store),
        Storage::Items(_) => Err(wrong_family(config, name, Family::Mail)),
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
        Storage::Items(store) => Ok(store),
        Storage::Mail(_) => Err(wrong_family(config, name, Family::Dav)),
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

/// Both sides of a pair, opened as the engine takes them: of one family, as the configuration
/// checked.
// One value per pair run, never moved around; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum PairSides {
    /// Mail storages, each seen through the pair's name translation.
    Mail(PerSide<Renamed<MailSide>>),
    /// Calendar/contact storages, both opened for the kind of collection the pair syncs.
    Items(PerSide<ItemSide>),
}

/// Opens both sides of `pair` (side a first). An error names the storage that failed, unless
/// it already does (a refused login).
pub async fn open_pair(config: &Config, pair: &PairConfig) -> Result<PairSides> {
    let storage = |side: Side| match side {
        Side::A => pair.a.as_str(),
        Side::B => pair.b.as_str(),
    };
    let within = |side: Side| move |e| crate::failure::in_storage(e, storage(side));
    match configured(config, &pair.a)?.kind.family() {
        Family::Mail => {
            let side = |side: Side| async move {
                let mut store = open_mail(config, storage(side)).await?;
                if let MailSide::Imap(imap) = &mut store {
                    imap.set_examine_only(pair.sides.get(side).read_only);
                }
                anyhow::Ok(Renamed::new(store, side, pair.names.translation.clone()))
            };
            Ok(PairSides::Mail(PerSide {
                a: side(Side::A).await.map_err(within(Side::A))?,
                b: side(Side::B).await.map_err(within(Side::B))?,
            }))
        }
        Family::Dav => {
            let kind = items::pair_kind(config, &pair.a, &pair.b)?;
            let side = |side: Side| open_items(config, storage(side), Some(kind));
            Ok(PairSides::Items(PerSide {
                a: side(Side::A).await.map_err(within(Side::A))?,
                b: side(Side::B).await.map_err(within(Side::B))?,
            }))
        }
    }
}
