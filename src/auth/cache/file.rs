//! The cache's file I/O: whole-file reads, atomic replacement (a torn or foreign file is
//! never half-read) and private permissions.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's bytes; `None` when there is no file.
pub(super) fn read_if_exists(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match crate::safe_file::read_capped(path, crate::safe_file::STATE_CAP) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes `path`; a file already gone is fine.
pub(super) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    std::fs::remove_file(path).or_else(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(e),
    })
}

/// The directory `path` lives in (`.` for a bare file name).
pub(super) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Temp file in the same directory (mode 0600), fsync, rename over `path`, fsync the dir.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    crate::safe_file::create_private_dir_all(&dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // A rename would put the file where a device node, FIFO or link was.
    crate::safe_file::check_replaceable(path)?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}
