//! `--verify [--level N]`: compares master and replica and reports each difference, changing
//! nothing. Built by "replverify".

use anyhow::Result;

use crate::cli::ReplicateArgs;
use crate::config::{Config, ReplicationConfig};
use crate::failure::UsageError;
use crate::output::Output;

/// Runs `--verify` and returns the exit status (0 identical, 7 differences found).
pub fn run(
    _config: &Config,
    _repl: &ReplicationConfig,
    _args: &ReplicateArgs,
    _output: &Output,
) -> Result<u8> {
    Err(UsageError("replicate --verify is not built yet".to_owned()).into())
}
