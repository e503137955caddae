//! Rolling mode (`-r`, `-f`, `-1`, `-o`, `-d`, `-t`, `-F`): replicate what a change log names,
//! or what changes on the master, until stopped. Built by "replroll".

use anyhow::Result;

use crate::cli::ReplicateArgs;
use crate::config::{Config, ReplicationConfig};
use crate::failure::UsageError;
use crate::output::Output;

/// Runs rolling mode and returns the exit status.
pub fn run(
    _config: &Config,
    _repl: &ReplicationConfig,
    _args: &ReplicateArgs,
    _output: &Output,
) -> Result<u8> {
    Err(UsageError("rolling replication (-r, -f, -1) is not built yet".to_owned()).into())
}
