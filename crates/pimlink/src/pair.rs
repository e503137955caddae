//! A configured pair as the pair runner takes it: both sides opened, the policy and the
//! collection selection read from the configuration
//! ([`pimlink_core::runner::AnyPair`]). With `storages`, the one place where the binary tells
//! the two families apart; the commands do not.
//!
//! Not here: running the pair (`pimlink_core::runner`), what is printed (`output`).

use anyhow::Result;
use pimlink_core::dav::store::CollectionId;
use pimlink_core::dav::{ConflictResolver, ExplicitCollection, ItemPolicy};
use pimlink_core::runner::{AnyPair, DavWing, MailWing};
use pimlink_core::{PerSide, Side};

use crate::config::{Config, DavPairConfig, Family, PairConfig};
use crate::renamed::Renamed;
use crate::storages::{self, ItemSide, MailSide};

/// A pair of either family, its sides open.
pub type OpenPair<'r> = AnyPair<'r, Renamed<MailSide>, ItemSide>;

/// Opens both sides of `pair` (side a first); a calendar/contact pair's conflicts go to
/// `resolver` if given (`resolve-conflicts`). An error names the storage that failed, unless
/// it already does (a refused login).
pub async fn open<'r>(
    config: &Config,
    pair: &PairConfig,
    resolver: Option<&'r mut dyn ConflictResolver>,
) -> Result<OpenPair<'r>> {
    let storage = |side: Side| match side {
        Side::A => pair.a.as_str(),
        Side::B => pair.b.as_str(),
    };
    let within = |side: Side| move |e| crate::failure::in_storage(e, storage(side));
    Ok(match pair.family() {
        Family::Mail => {
            let side = |side: Side| async move {
                let mut store = storages::open_mail(config, storage(side)).await?;
                if let MailSide::Imap(imap) = &mut store {
                    imap.set_examine_only(pair.sides.get(side).read_only);
                }
                anyhow::Ok(Renamed::new(store, side, pair.names.translation.clone()))
            };
            let sides = PerSide {
                a: side(Side::A).await.map_err(within(Side::A))?,
                b: side(Side::B).await.map_err(within(Side::B))?,
            };
            AnyPair::Mail(MailWing {
                sides,
                policy: pair.policy(),
            })
        }
        Family::Dav => {
            let dav = pair.dav.clone().unwrap_or_default();
            let kind = storages::items::pair_kind(config, &pair.a, &pair.b)?;
            let side = |side: Side| storages::open_items(config, storage(side), Some(kind));
            let sides = PerSide {
                a: side(Side::A).await.map_err(within(Side::A))?,
                b: side(Side::B).await.map_err(within(Side::B))?,
            };
            AnyPair::Dav(DavWing {
                sides,
                policy: ItemPolicy {
                    sync: pair.policy(),
                    conflict: dav.conflict.clone(),
                    on_delete: dav.on_delete,
                },
                metadata: dav.metadata.clone(),
                from: PerSide {
                    a: dav.collections.from_a,
                    b: dav.collections.from_b,
                },
                explicit: explicit_collections(&dav)?,
                resolver,
                adopter: None,
            })
        }
    })
}

/// The collections the pair names explicitly (`[name, id on a, id on b]`).
fn explicit_collections(dav: &DavPairConfig) -> Result<Vec<ExplicitCollection>> {
    dav.collections
        .explicit
        .iter()
        .map(|(name, a, b)| {
            Ok(ExplicitCollection {
                name: name.clone(),
                a: CollectionId::new(a.as_str())?,
                b: CollectionId::new(b.as_str())?,
            })
        })
        .collect()
}
