//! Files: the repository root and atomic writes.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository root (where `models/`, `data/` and `docs/` live), from this crate's location.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Writes a file atomically: `write` fills `path.tmp` in the same folder, which is synced to disk
/// and then renamed over `path`. A crash, a kill or an error at any moment leaves either the
/// previous `path` or the new one, never a mix; on error the temporary file is removed. The
/// folder must exist: a mistyped path is an error, never a new folder.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temp_path(path)?;
    let written = write(&tmp).and_then(|()| {
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", tmp.display()))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("writing {}", tmp.display())));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    // The rename itself is durable once the folder is synced (best effort: not every platform
    // can open a folder).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// [`write_atomic`] for a byte buffer.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| {
        let mut f = std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))
    })
}

/// Checks, before any long work starts, that `path` can be written: it names a file, its folder
/// exists, and a new file can be created there (a probe, removed again). A command that would
/// otherwise train for an hour and then fail to save calls this first.
pub fn check_writable(path: &Path) -> Result<()> {
    let name = path.file_name().with_context(|| format!("{} has no file name", path.display()))?;
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d,
        None => Path::new("."),
    };
    anyhow::ensure!(dir.is_dir(), "cannot write {}: folder {} does not exist", path.display(), dir.display());
    anyhow::ensure!(!path.is_dir(), "cannot write {}: it is a folder", path.display());
    let probe = dir.join(format!(".{}.probe.{}", name.to_string_lossy(), std::process::id()));
    std::fs::File::create(&probe)
        .with_context(|| format!("cannot write {}: folder {} is not writable", path.display(), dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `path` with `.tmp` appended to its file name.
fn temp_path(path: &Path) -> Result<PathBuf> {
    let mut name = path.file_name().with_context(|| format!("{} has no file name", path.display()))?.to_os_string();
    name.push(".tmp");
    Ok(path.with_file_name(name))
}
