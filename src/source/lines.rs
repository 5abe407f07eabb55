//! A line reader for JSON Lines that keeps at most [`MAX_RECORD_BYTES`] of a line in
//! memory (a longer line is read through and flagged), and knows each line's byte offset.

use std::io::{self, BufRead};

use super::MAX_RECORD_BYTES;

pub(crate) struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    pos: u64,
    line: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineInfo {
    pub byte_offset: u64,
    pub line: u64,
    /// Bytes of the line, terminator included.
    pub len: u64,
    pub oversized: bool,
}

impl<R: BufRead> Lines<R> {
    /// `input` is positioned at file offset `pos`, the start of line `line`.
    pub fn new(input: R, pos: u64, line: u64) -> Self {
        Self {
            input,
            buf: Vec::new(),
            pos,
            line,
        }
    }

    /// The next line that is not blank; its text (without `\r\n`) is in [`text`](Self::text).
    pub fn next_nonblank(&mut self) -> io::Result<Option<LineInfo>> {
        loop {
            let Some(info) = self.next_line()? else {
                return Ok(None);
            };
            if info.oversized || !self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(Some(info));
            }
        }
    }

    /// The last line read, without its terminator (empty when it was oversized).
    pub fn text(&self) -> &[u8] {
        &self.buf
    }

    fn next_line(&mut self) -> io::Result<Option<LineInfo>> {
        self.buf.clear();
        let start = self.pos;
        let line = self.line;
        let mut oversized = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                if self.pos == start {
                    return Ok(None);
                }
                break;
            }
            let (take, found) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !oversized {
                if self.buf.len() + take > MAX_RECORD_BYTES + 2 {
                    oversized = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.input.consume(take);
            self.pos += take as u64;
            if found {
                break;
            }
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(LineInfo {
            byte_offset: start,
            line,
            len: self.pos - start,
            oversized,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_blank_lines_and_tracks_offsets() {
        let data = b"{a}\r\n\n  \r\n{b}\n{c}";
        let mut l = Lines::new(&data[..], 0, 1);
        let a = l.next_nonblank().unwrap().unwrap();
        assert_eq!((a.byte_offset, a.line, l.text()), (0, 1, &b"{a}"[..]));
        let b = l.next_nonblank().unwrap().unwrap();
        assert_eq!((b.byte_offset, b.line, l.text()), (10, 4, &b"{b}"[..]));
        let c = l.next_nonblank().unwrap().unwrap();
        assert_eq!((c.byte_offset, c.line, l.text()), (14, 5, &b"{c}"[..]));
        assert!(l.next_nonblank().unwrap().is_none());
    }

    #[test]
    fn oversized_line_is_flagged_and_dropped() {
        let mut data = vec![b'x'; MAX_RECORD_BYTES * 2];
        data.extend(b"\n{ok}\n");
        let mut l = Lines::new(&data[..], 0, 1);
        let big = l.next_nonblank().unwrap().unwrap();
        assert!(big.oversized);
        assert!(l.text().is_empty());
        let ok = l.next_nonblank().unwrap().unwrap();
        assert_eq!((ok.line, l.text()), (2, &b"{ok}"[..]));
    }
}
