//! Every command's stdout. A reader that went away (`supsync status | head -1`) is not an
//! error worth a panic or a failed run: `println!` would panic on the closed pipe, so
//! commands write through here instead.

use std::io::Write;

/// Writes `text` to stdout as is; a closed pipe is fine, other write errors are reported.
pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::from(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// [`print_out`] with a newline after `line`.
pub(crate) fn print_line(line: &str) -> anyhow::Result<()> {
    print_out(&format!("{line}\n"))
}

/// `line` and a newline on stderr, errors ignored: stderr may be a terminal that hung up,
/// and `eprintln!` would panic there (exit 101) instead of exiting with the real code.
pub(crate) fn eprint_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
