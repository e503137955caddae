//! `pimlink import TOOL [FILE]`: prints the other tool's configuration translated into
//! pimlink's, or writes it (`--write`) to the configuration file, never over an existing one
//! without `--force`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cli::{ImportArgs, exit};
use crate::failure::{UsageError, exit_code};
use crate::import::{self, Tool};
use crate::output::Output;

/// Runs `import` and returns the exit status.
pub fn run(args: &ImportArgs, config_path: Option<&Path>, output: &Output) -> u8 {
    match import(args, config_path, output) {
        Ok(()) => exit::OK,
        Err(error) => {
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn import(args: &ImportArgs, config_path: Option<&Path>, output: &Output) -> Result<()> {
    let source = match &args.file {
        Some(file) => file.clone(),
        None => default_source(args.tool)?,
    };
    let text = std::fs::read_to_string(&source).map_err(|error| {
        UsageError(format!(
            "cannot read {}'s configuration {}: {error}",
            args.tool.name(),
            source.display()
        ))
    })?;
    let doc = import::translate(args.tool, &source, &text)
        .map_err(|error| UsageError(format!("{error}")))?;
    let rendered = doc.render();
    if !args.write {
        std::io::stdout()
            .write_all(rendered.as_bytes())
            .context("cannot write to standard output")?;
        return Ok(());
    }
    let target = match config_path {
        Some(path) => path.to_owned(),
        None => crate::config::default_config_path()?,
    };
    write_config(&target, &rendered, args.force)?;
    output.info(format!(
        "wrote {} (from {}); check it with: pimlink check",
        target.display(),
        source.display()
    ));
    Ok(())
}

/// The first of the tool's usual places that exists.
fn default_source(tool: Tool) -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            UsageError("HOME is not set; name the file: pimlink import TOOL FILE".into())
        })?;
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".config"));
    if tool == Tool::Vdirsyncer
        && let Some(path) = std::env::var_os("VDIRSYNCER_CONFIG").filter(|p| !p.is_empty())
    {
        return Ok(PathBuf::from(path));
    }
    let candidates = tool.default_paths(&home, &config_home);
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .ok_or_else(|| {
            UsageError(format!(
                "no {} configuration found (looked at {}); name it: pimlink import {} FILE",
                tool.name(),
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                tool.name()
            ))
            .into()
        })
}

/// Writes `text` to `target` durably, with mode 0600 (it may hold a password); an existing
/// file is replaced only with `force`.
fn write_config(target: &Path, text: &str, force: bool) -> Result<()> {
    if !force && target.symlink_metadata().is_ok() {
        return Err(UsageError(format!(
            "{} exists; not overwritten (add --force to replace it, or -c FILE to write \
             elsewhere)",
            target.display()
        ))
        .into());
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = tempfile::Builder::new()
        .prefix(".pimlink-import")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", file.path().display()))?;
    if force {
        file.persist(target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", target.display()))?;
    } else {
        // Refuses, atomically, a file that appeared since the check above.
        file.persist_noclobber(target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush {}", dir.display()))?;
    Ok(())
}
