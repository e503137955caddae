//! `[pair.NAME]` tables: two storages and the policy between them.

use std::collections::BTreeMap;

use pimlink_core::policy::{Direction, MaxDelete, OnEmpty, Operations};
use pimlink_core::side::{PerSide, Side};

use super::dav_pair;
use super::error::ConfigError;
use super::filter::CollectionFilter;
use super::hooks;
use super::limits;
use super::mail_names;
use super::model::{AdoptMode, Family, PairConfig, StorageConfig};
use super::pair_keys;
use super::raw::{Fields, Located};
use super::sides;

const DIRECTIONS: &[(&str, Direction)] = &[
    ("both", Direction::Both),
    ("a-to-b", Direction::AToB),
    ("b-to-a", Direction::BToA),
];

#[derive(Clone, Copy)]
enum Operation {
    New,
    Flags,
    Delete,
}

const OPERATIONS: &[(&str, Operation)] = &[
    ("new", Operation::New),
    ("flags", Operation::Flags),
    ("delete", Operation::Delete),
];

const SIDES: &[(&str, bool)] = &[("a", true), ("b", false)];

/// Converts the table of pair `name`; `storages` are the already validated storages.
pub(crate) fn build(
    name: &str,
    fields: &Fields<'_, '_>,
    storages: &BTreeMap<String, StorageConfig>,
) -> Result<PairConfig, ConfigError> {
    let keys: Vec<&str> = pair_keys::all().collect();
    fields.only(&keys, |_| None)?;
    let a = side(fields, "a", storages)?;
    let b = side(fields, "b", storages)?;
    if a.value.name == b.value.name {
        return Err(fields.error(
            b.key,
            format!(
                "\"a\" and \"b\" are both storage {:?}; a pair joins two different storages",
                a.value.name
            ),
        ));
    }
    let (kind_a, kind_b) = (&a.value.kind, &b.value.kind);
    if kind_a.family() != kind_b.family() {
        return Err(fields.error(
            b.key,
            format!(
                "storage {:?} ({}) cannot be paired with storage {:?} ({}): a pair joins two \
                 mail storages (imap, maildir) or two calendar/contact storages (caldav, \
                 carddav, webcal, vdir)",
                b.value.name,
                kind_b.type_name(),
                a.value.name,
                kind_a.type_name()
            ),
        ));
    }
    // Two names for one directory would make the pair sync a tree with itself.
    if let (Some(path_a), Some(path_b)) = (kind_a.local_path(), kind_b.local_path())
        && path_a == path_b
    {
        return Err(fields.error(
            b.key,
            format!(
                "storages {:?} and {:?} are the same directory {}",
                a.value.name,
                b.value.name,
                path_a.display()
            ),
        ));
    }
    let direction = fields.choice("direction", DIRECTIONS)?;
    let direction_value = direction.as_ref().map_or(Direction::Both, |d| d.value);
    // A read-only side can only be the source of a one-way pair; say so now rather than fail
    // on the first write.
    for (side, storage) in [(Side::A, &a), (Side::B, &b)] {
        if !storage.value.kind.is_writable() && direction_value.allows_from(side.other()) {
            let at = direction
                .as_ref()
                .map_or(storage.key.clone(), |d| d.at.clone());
            return Err(fields.error(
                at,
                format!(
                    "storage {:?} ({}) is read-only, so the pair needs direction = \"{side}-to-{}\"",
                    storage.value.name,
                    storage.value.kind.type_name(),
                    side.other(),
                ),
            ));
        }
    }
    // Calendar pairs name collections by id, with "from a"/"from b" and aliases; mail pairs
    // use folder patterns only.
    pair_keys::refuse_others(fields, kind_a.family())?;
    let (collections, dav, names, side_options) = if kind_a.family() == Family::Dav {
        (
            CollectionFilter::all(),
            Some(dav_pair::build(fields)?),
            None,
            PerSide::default(),
        )
    } else {
        (
            mail_collections(fields, [a.value, b.value])?,
            None,
            Some(mail_names::build(fields)?),
            sides::pair(fields, a.value, b.value, direction_value)?,
        )
    };
    let limits = limits::build(fields, (kind_a, kind_b), direction_value)?;
    Ok(PairConfig {
        name: name.to_owned(),
        a: a.value.name.clone(),
        b: b.value.name.clone(),
        collections,
        dav,
        names: names.unwrap_or_default(),
        direction: direction_value,
        operations: operations(fields)?,
        create: create(fields)?,
        on_empty: fields
            .choice(
                "on_empty",
                &[("refuse", OnEmpty::Refuse), ("sync", OnEmpty::Sync)],
            )?
            .map_or(OnEmpty::Refuse, |o| o.value),
        max_delete: max_delete(fields)?,
        limits,
        sides: side_options,
        hooks: hooks::pair(fields)?,
        adopt: fields
            .choice(
                "adopt",
                &[("auto", AdoptMode::Auto), ("never", AdoptMode::Never)],
            )?
            .map_or(AdoptMode::Auto, |a| a.value),
    })
}

/// The storage named by `key`, which must exist.
fn side<'s>(
    fields: &Fields<'_, '_>,
    key: &str,
    storages: &'s BTreeMap<String, StorageConfig>,
) -> Result<Located<&'s StorageConfig>, ConfigError> {
    let name = fields
        .string(key)?
        .ok_or_else(|| fields.missing(key, " (the name of a [storage.NAME])"))?;
    match storages.get(&name.value) {
        Some(storage) => Ok(Located {
            value: storage,
            key: name.key,
            at: name.at,
        }),
        None => {
            let known: Vec<&str> = storages.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "no storage is defined".to_owned()
            } else {
                format!("defined: {}", known.join(", "))
            };
            Err(fields.error(
                name.at,
                format!(
                    "key {key:?} names storage {:?}, which is not defined ({known})",
                    name.value
                ),
            ))
        }
    }
}

/// The folder patterns of a mail pair between storages `sides`, with the exclusions their
/// provider presets add (`provider::pair_patterns`).
fn mail_collections(
    fields: &Fields<'_, '_>,
    sides: [&StorageConfig; 2],
) -> Result<CollectionFilter, ConfigError> {
    let providers = sides.map(|side| match &side.kind {
        super::StorageKind::Imap(imap) => imap.provider,
        _ => None,
    });
    patterns(fields, &providers)
}

/// `collections`, as written.
pub(super) fn collections(fields: &Fields<'_, '_>) -> Result<CollectionFilter, ConfigError> {
    patterns(fields, &[])
}

fn patterns(
    fields: &Fields<'_, '_>,
    providers: &[Option<super::Provider>],
) -> Result<CollectionFilter, ConfigError> {
    let Some(patterns) = fields.strings("collections")? else {
        if providers.iter().all(Option::is_none) {
            return Ok(CollectionFilter::all());
        }
        let all = super::provider::pair_patterns(&["*".to_owned()], providers);
        // Built from "*" and exact folder names, which always compile.
        return Ok(CollectionFilter::new(&all)
            .map_or_else(|_| CollectionFilter::all(), |filter| filter.written(1)));
    };
    let written: Vec<String> = patterns.value.iter().map(|p| p.value.clone()).collect();
    // The user's own patterns come first, so that an error's index still points into them.
    let texts = super::provider::pair_patterns(&written, providers);
    let filter = CollectionFilter::new(&texts).map(|filter| filter.written(written.len()));
    filter.map_err(|err| {
        let at = patterns
            .value
            .get(err.index)
            .map_or(patterns.at.clone(), |p| p.at.clone());
        fields.error(at, format!("key \"collections\": {}", err.message))
    })
}

/// `max_delete = "N%"`, a whole percentage from 0 to 100.
fn max_delete(fields: &Fields<'_, '_>) -> Result<MaxDelete, ConfigError> {
    let Some(text) = fields.string("max_delete")? else {
        return Ok(MaxDelete::DEFAULT);
    };
    text.value
        .trim()
        .strip_suffix('%')
        .and_then(|number| number.trim().parse::<u8>().ok())
        .and_then(MaxDelete::percent)
        .ok_or_else(|| {
            fields.error(
                text.at,
                format!(
                    "key \"max_delete\": {:?} is not a share of a collection; write a whole \
                     percentage from \"0%\" to \"100%\" (default \"50%\"; \"100%\" never refuses)",
                    text.value
                ),
            )
        })
}

fn operations(fields: &Fields<'_, '_>) -> Result<Operations, ConfigError> {
    let Some(list) = fields.strings("operations")? else {
        return Ok(Operations::default());
    };
    if list.value.is_empty() {
        return Err(fields.error(
            list.at,
            "key \"operations\" is empty, so the pair would change nothing; list some of: new, \
             flags, delete",
        ));
    }
    let mut ops = Operations {
        new: false,
        flags: false,
        delete: false,
    };
    for item in &list.value {
        match fields.pick("operations", item, OPERATIONS)?.value {
            Operation::New => ops.new = true,
            Operation::Flags => ops.flags = true,
            Operation::Delete => ops.delete = true,
        }
    }
    Ok(ops)
}

fn create(fields: &Fields<'_, '_>) -> Result<PerSide<bool>, ConfigError> {
    let Some(list) = fields.strings("create")? else {
        return Ok(PerSide { a: true, b: true });
    };
    let mut create = PerSide { a: false, b: false };
    for item in &list.value {
        if fields.pick("create", item, SIDES)?.value {
            create.a = true;
        } else {
            create.b = true;
        }
    }
    Ok(create)
}
