//! The final report of a migration (`--report FILE --report-format csv|json`): one row per
//! account of the accounts file, in its order, with the account's status and counts.
//!
//! CSV is RFC 4180 (a header row, fields quoted when they hold `,`, `"` or a line break, CRLF
//! line ends): ten lines of quoting did not justify a dependency. JSON is one object with an
//! `accounts` array. Passwords are never in either.

use std::io::{self, Write};

use serde::Serialize;

use super::accounts::Account;

/// How an account ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything was copied.
    Done,
    /// It failed (a refused login, an unreachable server, messages that could not be copied);
    /// `error` says why.
    Failed,
    /// The daily byte cap stopped it; a run on the next UTC day goes on.
    Throttled,
    /// Not run: another shard's, or the run was stopped before its turn.
    Skipped,
}

impl Status {
    /// As the report spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Throttled => "throttled",
            Status::Skipped => "skipped",
        }
    }
}

/// One account's row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountReport {
    /// The line of the accounts file.
    pub line: usize,
    /// The source login.
    pub source_user: String,
    /// The destination login.
    pub destination_user: String,
    /// How it ended.
    pub status: Status,
    /// Folders looked at.
    pub folders: u64,
    /// Messages copied in this run.
    pub messages: u64,
    /// Bytes of messages copied in this run (as the source sized them).
    pub bytes: u64,
    /// Messages, folders or steps that failed.
    pub errors: u64,
    /// Why it failed or stopped, if it did.
    pub error: Option<String>,
}

impl AccountReport {
    /// An account not run (yet).
    pub fn new(account: &Account) -> Self {
        Self {
            line: account.line,
            source_user: account.source_user.clone(),
            destination_user: account.destination_user.clone(),
            status: Status::Skipped,
            folders: 0,
            messages: 0,
            bytes: 0,
            errors: 0,
            error: None,
        }
    }
}

/// `--report-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    #[default]
    Csv,
    /// One JSON object: `{"migration": NAME, "accounts": [...]}`.
    Json,
}

const CSV_HEADER: [&str; 9] = [
    "line",
    "source_user",
    "destination_user",
    "status",
    "folders",
    "messages",
    "bytes",
    "errors",
    "error",
];

/// Writes the report of `migration` in `format`.
pub fn write(
    out: &mut dyn Write,
    format: Format,
    migration: &str,
    rows: &[AccountReport],
) -> io::Result<()> {
    match format {
        Format::Csv => {
            csv_row(out, CSV_HEADER.iter().map(|s| (*s).to_owned()))?;
            for row in rows {
                csv_row(
                    out,
                    [
                        row.line.to_string(),
                        row.source_user.clone(),
                        row.destination_user.clone(),
                        row.status.as_str().to_owned(),
                        row.folders.to_string(),
                        row.messages.to_string(),
                        row.bytes.to_string(),
                        row.errors.to_string(),
                        row.error.clone().unwrap_or_default(),
                    ],
                )?;
            }
            Ok(())
        }
        Format::Json => {
            let value = serde_json::json!({ "migration": migration, "accounts": rows });
            serde_json::to_writer_pretty(&mut *out, &value)?;
            writeln!(out)
        }
    }
}

fn csv_row(out: &mut dyn Write, fields: impl IntoIterator<Item = String>) -> io::Result<()> {
    let fields: Vec<String> = fields
        .into_iter()
        .map(|field| {
            if field.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field
            }
        })
        .collect();
    write!(out, "{}\r\n", fields.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, error: Option<&str>) -> AccountReport {
        AccountReport {
            line: 3,
            source_user: "alice".into(),
            destination_user: "alice@new".into(),
            status,
            folders: 4,
            messages: 10,
            bytes: 2048,
            errors: u64::from(error.is_some()),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut out = Vec::new();
        let rows = [
            row(Status::Done, None),
            row(
                Status::Failed,
                Some("login refused, \"bad\" password\nretry"),
            ),
        ];
        write(&mut out, Format::Csv, "m", &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "line,source_user,destination_user,status,folders,messages,bytes,errors,error\r\n\
             3,alice,alice@new,done,4,10,2048,0,\r\n\
             3,alice,alice@new,failed,4,10,2048,1,\"login refused, \"\"bad\"\" password\nretry\"\r\n"
        );
    }

    #[test]
    fn json_has_every_field() {
        let mut out = Vec::new();
        write(
            &mut out,
            Format::Json,
            "m",
            &[row(Status::Throttled, Some("cap"))],
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["migration"], "m");
        let account = &value["accounts"][0];
        assert_eq!(account["status"], "throttled");
        assert_eq!(account["source_user"], "alice");
        assert_eq!(account["messages"], 10);
        assert_eq!(account["bytes"], 2048);
        assert_eq!(account["error"], "cap");
    }
}
