//! Reading `.mbsyncrc` into the types of the parent module: the section being read, each
//! option line's arguments, and the options of each kind of section.

use std::path::Path;

use super::super::{ConfigFileError, Setting};
use super::*;

/// The section being read.
enum Open {
    None,
    Account(usize),
    ImapStore(usize),
    MaildirStore(usize),
    Channel(usize),
    Group(usize),
}

/// Reads `text` (the file `path`).
pub fn parse(path: &Path, text: &str) -> Result<MbsyncConfig, ConfigFileError> {
    let mut config = MbsyncConfig::default();
    let mut open = Open::None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            open = Open::None;
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        let err = |message: String| ConfigFileError::new(path, line, message);
        let words = split_words(trimmed).map_err(err)?;
        let Some((keyword, args)) = words.split_first() else {
            continue;
        };
        let reader = Args {
            keyword,
            args,
            path,
            line,
        };
        match keyword.to_ascii_lowercase().as_str() {
            "imapaccount" => {
                config.accounts.push(ImapAccount {
                    name: reader.one()?,
                    line,
                    ..ImapAccount::default()
                });
                open = Open::Account(config.accounts.len() - 1);
            }
            "imapstore" => {
                let name = reader.one()?;
                config.imap_stores.push(ImapStore {
                    name,
                    line,
                    ..ImapStore::default()
                });
                open = Open::ImapStore(config.imap_stores.len() - 1);
            }
            "maildirstore" => {
                config.maildir_stores.push(MaildirStore {
                    name: reader.one()?,
                    line,
                    ..MaildirStore::default()
                });
                open = Open::MaildirStore(config.maildir_stores.len() - 1);
            }
            "channel" if !matches!(open, Open::Group(_)) => {
                config.channels.push(Channel {
                    name: reader.one()?,
                    line,
                    ..Channel::default()
                });
                open = Open::Channel(config.channels.len() - 1);
            }
            "group" => {
                let (name, channels) = reader.at_least_one()?;
                config.groups.push(Group {
                    name,
                    line,
                    channels,
                });
                open = Open::Group(config.groups.len() - 1);
            }
            _ => match open {
                Open::None => {
                    config.written.push(reader.setting());
                    if !channel_option(&mut config.defaults, &reader)? {
                        config.other.push(reader.setting());
                    }
                }
                Open::Account(i) => {
                    let account = &mut config.accounts[i];
                    account.written.push(reader.setting());
                    if !account_option(account, &reader)? {
                        account.other.push(reader.setting());
                    }
                }
                Open::ImapStore(i) => {
                    config.imap_stores[i].written.push(reader.setting());
                    imap_store_option(&mut config, i, &reader)?;
                }
                Open::MaildirStore(i) => {
                    let store = &mut config.maildir_stores[i];
                    store.written.push(reader.setting());
                    if !store_option(&mut store.store, &reader)? && !maildir_option(store, &reader)?
                    {
                        store.other.push(reader.setting());
                    }
                }
                Open::Channel(i) => {
                    let channel = &mut config.channels[i];
                    channel.written.push(reader.setting());
                    if !channel_only_option(channel, &reader)?
                        && !channel_option(&mut channel.options, &reader)?
                    {
                        channel.other.push(reader.setting());
                    }
                }
                Open::Group(i) => match keyword.to_ascii_lowercase().as_str() {
                    "channel" | "channels" => {
                        config.groups[i]
                            .channels
                            .extend(reader.args.iter().cloned());
                    }
                    _ => return Err(err(format!("{keyword}: not an option of a Group"))),
                },
            },
        }
    }
    check_references(path, &config)?;
    Ok(config)
}

/// Every store a channel names, and every account a store names, exists.
fn check_references(path: &Path, config: &MbsyncConfig) -> Result<(), ConfigFileError> {
    for store in &config.imap_stores {
        if !config.accounts.iter().any(|a| a.name == store.account) {
            return Err(ConfigFileError::new(
                path,
                store.line,
                format!(
                    "IMAPStore {}: no IMAPAccount {:?} (and no Host or Tunnel of its own)",
                    store.name, store.account
                ),
            ));
        }
    }
    let known = |name: &str| {
        config.imap_stores.iter().any(|s| s.name == name)
            || config.maildir_stores.iter().any(|s| s.name == name)
    };
    for channel in &config.channels {
        for (side, reference) in [("Far", &channel.far), ("Near", &channel.near)] {
            if reference.store.is_empty() {
                return Err(ConfigFileError::new(
                    path,
                    channel.line,
                    format!("Channel {}: no {side} store", channel.name),
                ));
            }
            if !known(&reference.store) {
                return Err(ConfigFileError::new(
                    path,
                    channel.line,
                    format!(
                        "Channel {}: {side} names store {:?}, which is not defined",
                        channel.name, reference.store
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The words of a line: separated by blanks, a double-quoted word may hold blanks and `\"`.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted value without its closing quote".to_owned()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => word.push(c),
                        None => {
                            return Err("a quoted value without its closing quote".to_owned());
                        }
                    },
                    Some(c) => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// The arguments of one option line, with what errors about them need.
struct Args<'a> {
    keyword: &'a str,
    args: &'a [String],
    path: &'a Path,
    line: usize,
}

impl Args<'_> {
    fn error(&self, message: impl std::fmt::Display) -> ConfigFileError {
        ConfigFileError::new(self.path, self.line, format!("{}: {message}", self.keyword))
    }

    fn one(&self) -> Result<String, ConfigFileError> {
        match self.args {
            [one] => Ok(one.clone()),
            [] => Err(self.error("missing value")),
            _ => {
                Err(self.error("expects one value (quote a value with spaces: \"...\")".to_owned()))
            }
        }
    }

    fn at_least_one(&self) -> Result<(String, Vec<String>), ConfigFileError> {
        match self.args.split_first() {
            Some((first, rest)) => Ok((first.clone(), rest.to_vec())),
            None => Err(self.error("missing value")),
        }
    }

    fn number<T: std::str::FromStr>(&self) -> Result<T, ConfigFileError> {
        let value = self.one()?;
        value
            .parse()
            .map_err(|_| self.error(format!("{value:?} is not a number")))
    }

    fn boolean(&self) -> Result<bool, ConfigFileError> {
        let value = self.one()?;
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Ok(true),
            "no" | "false" | "off" | "0" => Ok(false),
            _ => Err(self.error(format!("{value:?} is not yes or no"))),
        }
    }

    fn size(&self) -> Result<u64, ConfigFileError> {
        let value = self.one()?;
        let lower = value.to_ascii_lowercase();
        let digits = lower.trim_end_matches('b');
        let (digits, factor) = match digits.strip_suffix('k') {
            Some(d) => (d, 1024),
            None => match digits.strip_suffix('m') {
                Some(d) => (d, 1024 * 1024),
                None => (digits, 1),
            },
        };
        digits
            .parse::<u64>()
            .map(|n| n.saturating_mul(factor))
            .map_err(|_| self.error(format!("{value:?} is not a size (such as 10m or 500k)")))
    }

    fn sides(&self) -> Result<Sides, ConfigFileError> {
        let value = self.one()?;
        Ok(match value.to_ascii_lowercase().as_str() {
            "none" => Sides::default(),
            "far" | "master" => Sides {
                far: true,
                near: false,
            },
            "near" | "slave" => Sides {
                far: false,
                near: true,
            },
            "both" => Sides {
                far: true,
                near: true,
            },
            _ => {
                return Err(self.error(format!("{value:?}: expected None, Far, Near or Both")));
            }
        })
    }

    fn box_ref(&self) -> Result<BoxRef, ConfigFileError> {
        let value = self.one()?;
        let parsed = value
            .strip_prefix(':')
            .and_then(|rest| rest.split_once(':'))
            .map(|(store, mailbox)| BoxRef {
                store: store.to_owned(),
                mailbox: mailbox.to_owned(),
            });
        match parsed {
            Some(reference) if !reference.store.is_empty() => Ok(reference),
            _ => Err(self.error(format!("{value:?}: expected :STORE:[MAILBOX]"))),
        }
    }

    fn setting(&self) -> Setting {
        Setting {
            key: self.keyword.to_owned(),
            value: self.args.join(" "),
            line: self.line,
        }
    }
}

fn account_option(account: &mut ImapAccount, a: &Args<'_>) -> Result<bool, ConfigFileError> {
    match a.keyword.to_ascii_lowercase().as_str() {
        "host" => account.host = Some(a.one()?),
        "port" => account.port = Some(a.number()?),
        "user" => account.user = Some(a.one()?),
        "usercmd" => account.user_cmd = Some(a.one()?),
        "pass" => account.pass = Some(a.one()?),
        "passcmd" => {
            let command = a.one()?;
            account.pass_cmd = Some(command.strip_prefix('+').unwrap_or(&command).to_owned());
        }
        "tunnel" => account.tunnel = Some(a.one()?),
        "authmech" | "authmechs" => account.auth_mechs = a.args.to_vec(),
        "tlstype" | "ssltype" => {
            let value = a.one()?;
            account.tls = Some(match value.to_ascii_lowercase().as_str() {
                "none" => TlsType::None,
                "starttls" => TlsType::StartTls,
                "imaps" => TlsType::Imaps,
                _ => return Err(a.error(format!("{value:?}: expected None, STARTTLS or IMAPS"))),
            });
        }
        "tlsversions" | "sslversions" => account.tls_versions = Some(a.args.join(" ")),
        "systemcertificates" => account.system_certificates = Some(a.boolean()?),
        "certificatefile" => account.certificate_file = Some(a.one()?),
        "clientcertificate" => account.client_certificate = Some(a.one()?),
        "clientkey" => account.client_key = Some(a.one()?),
        "pipelinedepth" => account.pipeline_depth = Some(a.number()?),
        "timeout" => account.timeout = Some(a.number()?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn store_option(store: &mut StoreOptions, a: &Args<'_>) -> Result<bool, ConfigFileError> {
    match a.keyword.to_ascii_lowercase().as_str() {
        "path" => store.path = Some(a.one()?),
        "maxsize" => store.max_size = Some(a.size()?),
        "mapinbox" => store.map_inbox = Some(a.one()?),
        "flatten" => store.flatten = Some(a.one()?),
        "trash" => store.trash = Some(a.one()?),
        "trashnewonly" => store.trash_new_only = Some(a.boolean()?),
        "trashremotenew" => store.trash_remote_new = Some(a.boolean()?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// An option of an `IMAPStore`: its own, a store's, or an account's (which makes the store
/// an account of its own name, as mbsync does).
fn imap_store_option(
    config: &mut MbsyncConfig,
    index: usize,
    a: &Args<'_>,
) -> Result<(), ConfigFileError> {
    let store = &mut config.imap_stores[index];
    if store_option(&mut store.store, a)? {
        return Ok(());
    }
    match a.keyword.to_ascii_lowercase().as_str() {
        "account" => store.account = a.one()?,
        "pathdelimiter" => store.path_delimiter = Some(a.one()?),
        "usenamespace" => store.use_namespace = Some(a.boolean()?),
        "subscribedonly" => store.subscribed_only = Some(a.boolean()?),
        _ => {
            let name = store.name.clone();
            let line = store.line;
            let position = match config.accounts.iter().position(|x| x.name == name) {
                Some(p) => p,
                None => {
                    config.accounts.push(ImapAccount {
                        name: name.clone(),
                        line,
                        ..ImapAccount::default()
                    });
                    config.accounts.len() - 1
                }
            };
            let account = &mut config.accounts[position];
            if account_option(account, a)? {
                account.written.push(a.setting());
                config.imap_stores[index].account = name;
            } else {
                config.imap_stores[index].other.push(a.setting());
            }
        }
    }
    Ok(())
}

fn maildir_option(store: &mut MaildirStore, a: &Args<'_>) -> Result<bool, ConfigFileError> {
    match a.keyword.to_ascii_lowercase().as_str() {
        "inbox" => store.inbox = Some(a.one()?),
        "infodelimiter" => store.info_delimiter = Some(a.one()?),
        "altmap" => store.alt_map = Some(a.boolean()?),
        "subfolders" => {
            let value = a.one()?;
            store.sub_folders = Some(match value.to_ascii_lowercase().as_str() {
                "verbatim" => SubFolders::Verbatim,
                "maildir++" => SubFolders::MaildirPlusPlus,
                "legacy" => SubFolders::Legacy,
                _ => {
                    return Err(
                        a.error(format!("{value:?}: expected Verbatim, Maildir++ or Legacy"))
                    );
                }
            });
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn channel_only_option(channel: &mut Channel, a: &Args<'_>) -> Result<bool, ConfigFileError> {
    match a.keyword.to_ascii_lowercase().as_str() {
        "far" | "master" => channel.far = a.box_ref()?,
        "near" | "slave" => channel.near = a.box_ref()?,
        "pattern" | "patterns" => channel.patterns.extend(a.args.iter().cloned()),
        _ => return Ok(false),
    }
    Ok(true)
}

fn channel_option(options: &mut ChannelOptions, a: &Args<'_>) -> Result<bool, ConfigFileError> {
    match a.keyword.to_ascii_lowercase().as_str() {
        "sync" => options.sync = Some(parse_sync(a)?),
        "create" => options.create = Some(a.sides()?),
        "remove" => options.remove = Some(a.sides()?),
        "expunge" => options.expunge = Some(a.sides()?),
        "copyarrivaldate" => options.copy_arrival_date = Some(a.boolean()?),
        "maxmessages" => options.max_messages = Some(a.number()?),
        "expireunread" => options.expire_unread = Some(a.boolean()?),
        "syncstate" => options.sync_state = Some(a.one()?),
        "maxsize" => options.max_size = Some(a.size()?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// `Sync`, read as mbsync's manual describes: direction words (`Pull`, `Push`) and type words
/// (`New`, `ReNew`, `Delete`, `Flags`) select rows and columns of a matrix (no word of a class
/// means all of it), and compound words (`PullNew`) select single cells.
fn parse_sync(a: &Args<'_>) -> Result<SyncOps, ConfigFileError> {
    let op = |word: &str| -> Option<Ops> {
        let mut ops = Ops::NONE;
        match word {
            "new" => ops.new = true,
            "renew" => ops.renew = true,
            "delete" => ops.delete = true,
            "flags" => ops.flags = true,
            _ => return None,
        }
        Some(ops)
    };
    let (mut pull_dir, mut push_dir) = (false, false);
    let mut types = Ops::NONE;
    let mut typed = false;
    let (mut pull_cells, mut push_cells) = (Ops::NONE, Ops::NONE);
    let mut compound = false;
    if a.args.is_empty() {
        return Err(a.error("missing value"));
    }
    for word in a.args {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "all" | "full" => {
                return Ok(SyncOps {
                    pull: Ops::ALL,
                    push: Ops::ALL,
                });
            }
            "none" | "noop" => {
                return Ok(SyncOps {
                    pull: Ops::NONE,
                    push: Ops::NONE,
                });
            }
            "pull" => pull_dir = true,
            "push" => push_dir = true,
            _ => {
                if let Some(ops) = op(&lower) {
                    types = types.union(ops);
                    typed = true;
                } else if let Some(ops) = lower.strip_prefix("pull").and_then(op) {
                    pull_cells = pull_cells.union(ops);
                    compound = true;
                } else if let Some(ops) = lower.strip_prefix("push").and_then(op) {
                    push_cells = push_cells.union(ops);
                    compound = true;
                } else {
                    return Err(a.error(format!(
                        "unknown operation {word:?} (expected None, All, Pull, Push, New, \
                         ReNew, Delete, Flags or a compound such as PullNew)"
                    )));
                }
            }
        }
    }
    if compound {
        // In the compound style each plain word asserts its whole row or column.
        let pull = pull_cells
            .union(if pull_dir { Ops::ALL } else { Ops::NONE })
            .union(types);
        let push = push_cells
            .union(if push_dir { Ops::ALL } else { Ops::NONE })
            .union(types);
        return Ok(SyncOps { pull, push });
    }
    let types = if typed { types } else { Ops::ALL };
    let (pull_dir, push_dir) = if pull_dir || push_dir {
        (pull_dir, push_dir)
    } else {
        (true, true)
    };
    Ok(SyncOps {
        pull: if pull_dir { types } else { Ops::NONE },
        push: if push_dir { types } else { Ops::NONE },
    })
}
