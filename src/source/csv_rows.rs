//! A CSV row reader on `csv_core` that knows the exact byte offset and line where each row
//! starts, and whose memory stays bounded whatever the input (a row longer than
//! [`MAX_RECORD_BYTES`] is read through and reported as oversized, not buffered).
//!
//! Why not `csv::Reader`: its record positions point at the previous row's terminator
//! (so with CRLF or blank lines the reported line is off), and it buffers a whole row
//! however large, so an unterminated quote makes the rest of a huge file one row in memory.

use std::io::{self, BufRead, Seek, SeekFrom};

use super::{MAX_FIELDS, MAX_RECORD_BYTES};

pub(crate) struct CsvRows<R> {
    input: R,
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Offset of the next unread byte, from the start of the file.
    pos: u64,
    /// Line of the next unread byte (1-based, counted by `\n`).
    line: u64,
    /// Fields of the last row (0 when it was oversized: its bytes were dropped).
    nfields: usize,
    done: bool,
}

impl<R: BufRead + Seek> CsvRows<R> {
    /// Moves to file offset `pos`, a row start on line `line`. The parser is reset, not
    /// rebuilt: building one costs more than parsing a whole segment's rows.
    pub fn seek_to(&mut self, pos: u64, line: u64) -> io::Result<()> {
        self.input.seek(SeekFrom::Start(pos))?;
        self.core.reset();
        self.pos = pos;
        self.line = line;
        self.nfields = 0;
        self.done = false;
        Ok(())
    }
}

/// Where the last row came from and what went wrong with its shape, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowInfo {
    pub byte_offset: u64,
    pub line: u64,
    pub len: u64,
    pub oversized: bool,
    pub too_many_fields: bool,
}

impl<R: BufRead> CsvRows<R> {
    /// `input` is positioned at file offset `pos`, which is on line `line`, at a row start.
    pub fn new(input: R, pos: u64, line: u64) -> Self {
        Self {
            input,
            core: csv_core::Reader::new(),
            out: vec![0; 1024],
            ends: vec![0; 16],
            pos,
            line,
            nfields: 0,
            done: false,
        }
    }

    /// Reads the next row; its fields are then available through [`field`](Self::field).
    pub fn next_row(&mut self) -> io::Result<Option<RowInfo>> {
        self.nfields = 0;
        if self.done || !self.skip_blank_lines()? {
            self.done = true;
            return Ok(None);
        }
        let start = self.pos;
        let line = self.line;
        let (mut outlen, mut endlen) = (0usize, 0usize);
        let (mut oversized, mut too_many_fields) = (false, false);
        loop {
            let buf = self.input.fill_buf()?;
            let at_eof = buf.is_empty();
            let (res, nin, nout, nend) =
                self.core
                    .read_record(buf, &mut self.out[outlen..], &mut self.ends[endlen..]);
            self.line += count_newlines(&buf[..nin]);
            self.input.consume(nin);
            self.pos += nin as u64;
            outlen += nout;
            endlen += nend;
            use csv_core::ReadRecordResult as Res;
            match res {
                Res::InputEmpty if at_eof => {
                    // csv_core ends a final unterminated record on empty input; this arm
                    // only guards against looping should it ever not.
                    self.done = true;
                    return Ok(None);
                }
                Res::InputEmpty => {}
                Res::OutputFull if self.out.len() >= MAX_RECORD_BYTES => {
                    // Keep reading to find the row's end, but drop its bytes.
                    oversized = true;
                    outlen = 0;
                }
                Res::OutputFull => {
                    let n = (self.out.len() * 2).min(MAX_RECORD_BYTES);
                    self.out.resize(n, 0);
                }
                Res::OutputEndsFull if self.ends.len() >= MAX_FIELDS => {
                    too_many_fields = true;
                    endlen = 0;
                }
                Res::OutputEndsFull => {
                    let n = (self.ends.len() * 2).min(MAX_FIELDS);
                    self.ends.resize(n, 0);
                }
                Res::Record => {
                    self.nfields = if oversized || too_many_fields {
                        0
                    } else {
                        endlen
                    };
                    return Ok(Some(RowInfo {
                        byte_offset: start,
                        line,
                        len: self.pos - start,
                        oversized,
                        too_many_fields,
                    }));
                }
                Res::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }
}

impl<R: BufRead> CsvRows<R> {
    /// Fields in the last row read.
    pub fn len(&self) -> usize {
        self.nfields
    }

    /// Field `i` of the last row read, as raw bytes.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        if i >= self.nfields {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.out.get(start..self.ends[i])
    }

    /// Skips `\r` and `\n` between rows (blank lines), so a row's recorded offset and line
    /// are where its first byte really is. False at the end of the input.
    fn skip_blank_lines(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            self.line += count_newlines(&buf[..n]);
            let more = n < buf.len();
            self.input.consume(n);
            self.pos += n as u64;
            if more {
                return Ok(true);
            }
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[u8]) -> Vec<(RowInfo, Vec<String>)> {
        let mut r = CsvRows::new(data, 0, 1);
        let mut v = Vec::new();
        while let Some(info) = r.next_row().unwrap() {
            let fields = (0..r.len())
                .map(|i| String::from_utf8_lossy(r.field(i).unwrap()).into_owned())
                .collect();
            v.push((info, fields));
        }
        v
    }

    #[test]
    fn offsets_and_lines_are_exact_with_crlf_blank_lines_and_quotes() {
        let data = b"a,b\r\n\r\n\"x\ny\",2\r\nlast,3";
        let v = rows(data);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].1, ["a", "b"]);
        assert_eq!((v[1].0.byte_offset, v[1].0.line), (7, 3));
        assert_eq!(v[1].1, ["x\ny", "2"]);
        assert_eq!((v[2].0.byte_offset, v[2].0.line), (16, 5));
        assert_eq!(v[2].1, ["last", "3"]);
        assert_eq!(&data[16..20], b"last");
    }

    #[test]
    fn oversized_row_is_read_through_not_kept() {
        let mut data = b"a,\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES * 3));
        data.extend(b"\"\nnext,1\n");
        let v = rows(&data);
        assert_eq!(v.len(), 2);
        assert!(v[0].0.oversized);
        assert!(v[0].1.is_empty());
        assert_eq!(v[1].1, ["next", "1"]);
        assert_eq!(v[1].0.line, 2);
    }

    #[test]
    fn too_many_fields_is_flagged() {
        let data = format!("{}\nok\n", ",".repeat(MAX_FIELDS * 2));
        let v = rows(data.as_bytes());
        assert!(v[0].0.too_many_fields);
        assert_eq!(v[1].1, ["ok"]);
    }
}
