//! File helpers shared by every writer of the trainer.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Writes a file atomically: `write` fills `path.tmp`, which is then renamed over `path`. A crash
/// or an error leaves any previous `path` untouched (the temp file is removed on error).
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let mut tmp = PathBuf::from(path);
    let mut name = path.file_name().with_context(|| format!("{} has no file name", path.display()))?.to_os_string();
    name.push(".tmp");
    tmp.set_file_name(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("writing {}", tmp.display())));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// [`write_atomic`] for a byte buffer.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| std::fs::write(tmp, bytes).with_context(|| format!("writing {}", tmp.display())))
}
