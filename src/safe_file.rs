//! Opening the files supsync reads and writes so that a path cannot hang it, fill its
//! memory or make it replace something that is not a regular file of its own.
//!
//! - Every open is non-blocking (a FIFO opens at once instead of waiting for a writer) and
//!   then checked with `fstat`: only a regular file is used. A device, FIFO, socket or
//!   directory is refused, named by its kind.
//! - Reads of whole files are capped ([`read_capped`]); past the cap is an error, so
//!   `/dev/zero` or a huge file costs at most the cap.
//! - Writes never go through a symbolic link ([`open_for_write`] opens with `O_NOFOLLOW`),
//!   and an atomic replace checks its target first ([`check_replaceable`]): a rename must
//!   not put a regular file where a device node or a link was.
//! - Directories supsync makes for its own state are owner-only ([`create_private_dir_all`]).

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// A secret, password or header value file: one line.
pub const SECRET_CAP: u64 = 256 * 1024;
/// A PEM file: a key, a certificate chain or a CA bundle (the system bundle is ~220 KiB).
pub const PEM_CAP: u64 = 512 * 1024;
/// The configuration file.
pub const CONFIG_CAP: u64 = 4 * 1024 * 1024;
/// Small state files supsync writes itself (token cache, login budget, metrics textfile,
/// a run's manifest): far above what they hold.
pub const STATE_CAP: u64 = 16 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug)]
pub enum FileError {
    /// The OS's error (not found, permission denied…).
    Io(io::Error),
    /// Not a regular file: "a FIFO", "a character device"…
    NotRegular(&'static str),
    /// Larger than the cap (bytes).
    TooLarge(u64),
}

impl FileError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }

    /// The problem in words, for a message that names the key before it: `what` says what
    /// the file is ("client secret file"), `holds` what it should hold ("one secret").
    pub fn explain(&self, path: &Path, what: &str, holds: &str) -> String {
        let p = path.display();
        match self {
            FileError::Io(e) => format!(
                "cannot read the {what} {p}: {e}; check the path and that the user running \
                 supsync may read it"
            ),
            FileError::NotRegular(kind) => {
                format!("{p} is {kind}, not a regular file; name the {what} itself")
            }
            FileError::TooLarge(cap) => {
                format!("{p} is larger than {}; it should hold {holds}", size(*cap))
            }
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "{e}"),
            FileError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            FileError::TooLarge(cap) => write!(f, "it is larger than {}", size(*cap)),
        }
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for io::Error {
    fn from(e: FileError) -> io::Error {
        match e {
            FileError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// "256 KiB", "4 MiB".
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// "a FIFO", "a directory"… for anything that is not a regular file; `None` for one.
pub fn odd_kind(md: &Metadata) -> Option<&'static str> {
    let t = md.file_type();
    if t.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    Some(if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    })
}

/// Opens `path` for reading without blocking on a FIFO and keeps it only if it is a
/// regular file (symbolic links are followed: key files often are links).
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let file = opts.open(path).map_err(FileError::Io)?;
    regular(file)
}

fn regular(file: File) -> Result<File, FileError> {
    let md = file.metadata().map_err(FileError::Io)?;
    match odd_kind(&md) {
        Some(kind) => Err(FileError::NotRegular(kind)),
        None => Ok(file),
    }
}

/// The whole of the regular file `path`, at most `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(FileError::Io)?.len();
    if len > cap {
        return Err(FileError::TooLarge(cap));
    }
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The file may grow between fstat and read: the read is capped too.
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(FileError::Io)?;
    if out.len() as u64 > cap {
        return Err(FileError::TooLarge(cap));
    }
    Ok(out)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path, cap: u64) -> Result<String, FileError> {
    String::from_utf8(read_capped(path, cap)?).map_err(|_| {
        FileError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// Opens `path` for writing as `opts` say (create, append, mode…), never through a
/// symbolic link and never blocking on a FIFO, and keeps it only if it is a regular file.
pub fn open_for_write(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(opts, libc::O_NONBLOCK | libc::O_NOFOLLOW);
    let file = opts.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return refused(path, "a symbolic link");
        }
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ENXIO) {
            // O_WRONLY|O_NONBLOCK on a FIFO without a reader.
            return refused(path, "a FIFO");
        }
        e
    })?;
    regular(file).map_err(|e| match e {
        FileError::NotRegular(kind) => refused(path, kind),
        other => other.into(),
    })
}

/// Opening options creating owner-only files (0600): what a run or the state dir holds
/// names sources, endpoints and errors, which are nobody else's business.
pub fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts
}

/// `Ok` when `path` is absent or a regular file, so an atomic rename onto it replaces
/// only a file; a link, device, FIFO, socket or directory there is an error naming it.
pub fn check_replaceable(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) => match odd_kind(&md) {
            None => Ok(()),
            Some(kind) => Err(refused(path, kind)),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn refused(path: &Path, kind: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {kind}, not a regular file; supsync writes only regular files and never \
             through a link: remove it or name another path",
            path.display()
        ),
    )
}

/// Creates `dir` and any missing parents owner-only (0700); existing ones are left as
/// they are.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Creates the one new directory `dir` owner-only (0700); an existing one is an error
/// (`AlreadyExists`).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_read_up_to_the_cap_and_no_further() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_capped(&p, 5).unwrap(), b"12345");
        let e = read_capped(&p, 4).unwrap_err();
        assert!(matches!(e, FileError::TooLarge(4)), "{e:?}");
        assert!(
            e.explain(&p, "secret file", "one secret")
                .ends_with("is larger than 4 bytes; it should hold one secret")
        );
        assert!(
            read_capped(&dir.path().join("none"), 4)
                .unwrap_err()
                .is_not_found()
        );
    }

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_capped(&fifo, 10).unwrap_err();
        assert!(matches!(e, FileError::NotRegular("a FIFO")), "{e:?}");
        let e = open_for_write(&fifo, OpenOptions::new().append(true)).unwrap_err();
        assert!(
            e.to_string().contains("is a FIFO, not a regular file"),
            "{e}"
        );
        let e = read_capped(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(
            matches!(e, FileError::NotRegular("a character device")),
            "{e:?}"
        );
        let e = read_capped(dir.path(), 10).unwrap_err();
        assert!(matches!(e, FileError::NotRegular("a directory")), "{e:?}");
        assert!(check_replaceable(Path::new("/dev/null")).is_err());
        assert!(check_replaceable(&fifo).is_err());
        assert!(check_replaceable(&dir.path().join("new")).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn writes_do_not_go_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_for_write(&link, private_options().create(true).append(true)).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(check_replaceable(&link).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_and_dirs_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir_all(&sub).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let f = sub.join("f");
        open_for_write(&f, private_options().create(true).append(true)).unwrap();
        assert_eq!(mode(&f), 0o600);
    }
}
