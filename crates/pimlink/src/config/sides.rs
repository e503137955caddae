//! How each side of a mail pair may be written: `read_only` and `trash` on a mail storage (as
//! OfflineIMAP's `readonly` and mbsync's `Trash` are options of the account), `read_only`,
//! `expunge` and `remove` on a mail pair (as mbsync's `Expunge` and `Remove` are options of
//! the channel).

use pimlink_core::CollectionName;
use pimlink_core::policy::{Direction, SideOptions};
use pimlink_core::side::{PerSide, Side};

use super::error::ConfigError;
use super::model::{MailStorageOptions, StorageConfig};
use super::raw::Fields;

const SIDES: &[(&str, bool)] = &[("a", true), ("b", false)];

/// Reads `read_only` and `trash` of a mail storage.
pub(crate) fn storage(fields: &Fields<'_, '_>) -> Result<MailStorageOptions, ConfigError> {
    let read_only = match fields.raw("read_only") {
        None => false,
        Some((_, value)) => value.get_ref().as_bool().ok_or_else(|| {
            fields.error(
                value.span(),
                format!(
                    "key \"read_only\" must be true or false, found {}",
                    value.get_ref().type_str()
                ),
            )
        })?,
    };
    let trash = match fields.non_empty("trash")? {
        None => None,
        Some(name) => Some(CollectionName::new(&name.value).map_err(|err| {
            fields.error(
                name.at,
                format!(
                    "key \"trash\": {:?} is not a usable folder name: {err}",
                    name.value
                ),
            )
        })?),
    };
    Ok(MailStorageOptions { read_only, trash })
}

/// The options of both sides of a mail pair: its own keys with the storages' ones.
pub(crate) fn pair(
    fields: &Fields<'_, '_>,
    a: &StorageConfig,
    b: &StorageConfig,
    direction: Direction,
) -> Result<PerSide<SideOptions>, ConfigError> {
    let read_only = sides(fields, "read_only", PerSide { a: false, b: false })?;
    let expunge = sides(fields, "expunge", PerSide { a: true, b: true })?;
    let remove = sides(fields, "remove", PerSide { a: false, b: false })?;
    let side =
        |storage: &StorageConfig, read_only: bool, expunge: bool, remove: bool| SideOptions {
            read_only: read_only || storage.mail.read_only,
            expunge,
            trash: storage.mail.trash.clone(),
            remove,
        };
    let options = PerSide {
        a: side(a, read_only.a, expunge.a, remove.a),
        b: side(b, read_only.b, expunge.b, remove.b),
    };
    if options.a.read_only
        && options.b.read_only
        && let Some(span) = fields
            .key_span("read_only")
            .or_else(|| fields.key_span("a"))
    {
        return Err(fields.error(
            span,
            "both sides are read-only (here or in their storages), so the pair could change \
             nothing",
        ));
    }
    // A one-way pair into a read-only side could change nothing either.
    for side in [Side::A, Side::B] {
        if options.get(side.other()).read_only
            && !direction.allows_from(side.other())
            && let Some(span) = fields.key_span("direction")
        {
            return Err(fields.error(
                span,
                format!(
                    "direction = \"{side}-to-{}\" only writes side {}, which is read-only (here \
                     or in its storage), so the pair could change nothing",
                    side.other(),
                    side.other()
                ),
            ));
        }
    }
    Ok(options)
}

/// A list of sides, `default` when the key is absent.
fn sides(
    fields: &Fields<'_, '_>,
    key: &str,
    default: PerSide<bool>,
) -> Result<PerSide<bool>, ConfigError> {
    let Some(list) = fields.strings(key)? else {
        return Ok(default);
    };
    let mut out = PerSide { a: false, b: false };
    for item in &list.value {
        if fields.pick(key, item, SIDES)?.value {
            out.a = true;
        } else {
            out.b = true;
        }
    }
    Ok(out)
}
