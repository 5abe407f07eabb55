//! The checksum layer of the journal and the manifest: how a line and a manifest are
//! sealed when written and verified when read.
//!
//! A journal line is the entry's compact JSON with one more member at the end,
//! `"crc":"<8 hex>"`: the CRC-32C of the line's canonical bytes, which are exactly the
//! line without that member (the entry's own JSON). CRC-32C catches every single-bit flip
//! and every burst of up to 32 bits, so a digit flipped in `"index":1` cannot pass. The
//! line stays plain JSON (`jq` still reads it).
//!
//! The manifest carries `"crc"` as its last key: the CRC-32C of the compact JSON of the
//! manifest object without that key.
//!
//! Lines and manifests written before checksums existed (manifest version 1) are read as
//! "legacy": taken as written, but counted as unverified so the operator is told.

use std::fmt::Write as _;

use super::Entry;

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The member that seals a line, up to its hex digits.
const MARKER: &[u8] = br#","crc":""#;
/// `MARKER`, 8 hex digits and the closing `"}`.
const SEAL_LEN: usize = MARKER.len() + 8 + 2;
/// The manifest's checksum key.
pub(crate) const MANIFEST_CRC_KEY: &str = "crc";

fn crc_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(8);
    let _ = write!(s, "{:08x}", CRC32C.checksum(bytes));
    s
}

/// One journal line (without its `\n`): the entry's JSON sealed with its checksum.
pub(crate) fn encode_line(entry: &Entry) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(entry)?;
    let crc = crc_hex(&line);
    // The entry is a JSON object, so its last byte is `}`: reopen it for one more member.
    line.pop();
    line.extend_from_slice(MARKER);
    line.extend_from_slice(crc.as_bytes());
    line.extend_from_slice(b"\"}");
    Ok(line)
}

/// What one journal line (without its line terminator) turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded {
    /// Sealed and the checksum matches.
    Verified(Entry),
    /// No seal, and the journal may still hold lines from before checksums.
    Legacy(Entry),
    /// The checksum matches but the entry is not one this supsync knows: not damage
    /// (a flip cannot pass the check), so it must not be silently dropped either.
    Unknown(String),
    /// Fails its check: never trusted. `segment` is the index the line appears to name
    /// (unverified: only good for redoing that segment, never for trusting it).
    Damaged {
        reason: String,
        segment: Option<usize>,
    },
}

/// Verifies and decodes one line. `legacy_ok`: an unsealed line is accepted as legacy
/// (only before the first sealed line of a journal from before checksums).
pub(crate) fn decode_line(text: &[u8], legacy_ok: bool) -> Decoded {
    let damaged = |reason: &str| Decoded::Damaged {
        reason: reason.to_string(),
        segment: claimed_segment(text),
    };
    let Some(split) = text.len().checked_sub(SEAL_LEN) else {
        return legacy(text, legacy_ok, damaged);
    };
    let (body, seal) = text.split_at(split);
    if !seal.starts_with(MARKER) || !seal.ends_with(b"\"}") {
        return legacy(text, legacy_ok, damaged);
    }
    let hex = &seal[MARKER.len()..MARKER.len() + 8];
    if !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return damaged("its checksum is not 8 hex digits");
    }
    let mut canonical = Vec::with_capacity(body.len() + 1);
    canonical.extend_from_slice(body);
    canonical.push(b'}');
    if crc_hex(&canonical).as_bytes() != hex {
        return damaged("checksum mismatch");
    }
    match serde_json::from_slice::<Entry>(&canonical) {
        Ok(entry) => Decoded::Verified(entry),
        Err(e) => Decoded::Unknown(crate::source::clip(&e.to_string(), 120)),
    }
}

fn legacy(text: &[u8], legacy_ok: bool, damaged: impl Fn(&str) -> Decoded) -> Decoded {
    if !legacy_ok {
        return damaged("it carries no checksum");
    }
    match serde_json::from_slice::<Entry>(text) {
        Ok(entry) => Decoded::Legacy(entry),
        Err(_) => damaged("not a journal entry"),
    }
}

/// The segment index a damaged line seems to name: the digits after its first
/// `"index":`. Untrusted; used only to run that segment again.
fn claimed_segment(text: &[u8]) -> Option<usize> {
    const KEY: &[u8] = br#""index":"#;
    let at = text.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: &[u8] = &text[at..];
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..n]).ok()?.parse().ok()
}

/// The manifest file's bytes: pretty JSON of `value` (an object) with `"crc"` added last.
pub(crate) fn seal_manifest(mut value: serde_json::Value) -> serde_json::Result<Vec<u8>> {
    let crc = crc_hex(&serde_json::to_vec(&value)?);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(MANIFEST_CRC_KEY.into(), serde_json::Value::String(crc));
    }
    serde_json::to_vec_pretty(&value)
}

/// What a manifest's checksum says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ManifestSeal {
    Verified,
    /// No `"crc"` key (written before checksums; only version 1 may lack it).
    Missing,
    /// Why it fails.
    Bad(String),
}

/// Checks and removes the `"crc"` key of a parsed manifest object.
pub(crate) fn unseal_manifest(value: &mut serde_json::Value) -> ManifestSeal {
    let serde_json::Value::Object(map) = value else {
        return ManifestSeal::Bad("it is not a JSON object".into());
    };
    let Some(stored) = map.remove(MANIFEST_CRC_KEY) else {
        return ManifestSeal::Missing;
    };
    let Some(stored) = stored.as_str().map(str::to_owned) else {
        return ManifestSeal::Bad("its checksum is not a string".into());
    };
    match serde_json::to_vec(value) {
        Ok(canonical) if crc_hex(&canonical) == stored => ManifestSeal::Verified,
        Ok(_) => ManifestSeal::Bad("checksum mismatch".into()),
        Err(e) => ManifestSeal::Bad(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::tests::manifest;
    use crate::journal::{Counts, SegmentState};

    fn done(index: usize) -> Entry {
        let counts = Counts {
            created: 10,
            ..Counts::default()
        };
        Entry::segment(index, SegmentState::Done, 1, counts, None)
    }

    #[test]
    fn a_sealed_line_is_the_entry_plus_its_crc_and_verifies() {
        let e = done(1);
        let line = encode_line(&e).unwrap();
        let text = String::from_utf8(line.clone()).unwrap();
        let plain = serde_json::to_string(&e).unwrap();
        assert!(text.starts_with(&plain[..plain.len() - 1]), "{text}");
        assert!(
            text.contains(r#","crc":""#) && text.ends_with("\"}"),
            "{text}"
        );
        // Still plain JSON for other tools.
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["index"], 1);
        assert_eq!(decode_line(&line, false), Decoded::Verified(e));
    }

    #[test]
    fn every_single_bit_flip_anywhere_in_a_line_is_caught() {
        for entry in [done(1), Entry::run(crate::journal::RunState::Completed)] {
            let line = encode_line(&entry).unwrap();
            for legacy_ok in [false, true] {
                for byte in 0..line.len() {
                    for bit in 0..8 {
                        let mut bad = line.clone();
                        bad[byte] ^= 1 << bit;
                        match decode_line(&bad, legacy_ok) {
                            Decoded::Damaged { .. } => {}
                            other => panic!(
                                "byte {byte} bit {bit} of {}: {other:?}",
                                String::from_utf8_lossy(&line)
                            ),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_flipped_index_names_the_segment_it_now_reads() {
        let line = String::from_utf8(encode_line(&done(1)).unwrap()).unwrap();
        let bad = line.replace(r#""index":1"#, r#""index":9"#);
        assert_eq!(
            decode_line(bad.as_bytes(), false),
            Decoded::Damaged {
                reason: "checksum mismatch".into(),
                segment: Some(9)
            }
        );
    }

    #[test]
    fn legacy_lines_only_where_allowed_and_only_when_whole() {
        let plain = serde_json::to_vec(&done(2)).unwrap();
        assert_eq!(decode_line(&plain, true), Decoded::Legacy(done(2)));
        assert!(matches!(
            decode_line(&plain, false),
            Decoded::Damaged {
                segment: Some(2),
                ..
            }
        ));
        // A torn line, sealed or not, is never an entry.
        let sealed = encode_line(&done(3)).unwrap();
        for cut in [1, 10, sealed.len() - 1] {
            assert!(matches!(
                decode_line(&sealed[..cut], true),
                Decoded::Damaged { .. }
            ));
        }
        assert!(matches!(decode_line(b"", true), Decoded::Damaged { .. }));
    }

    #[test]
    fn a_sealed_line_of_an_unknown_entry_is_not_called_damage() {
        let body = br#"{"kind":"checkpoint","at":"x"}"#;
        let mut line = body[..body.len() - 1].to_vec();
        line.extend_from_slice(MARKER);
        line.extend_from_slice(crc_hex(body).as_bytes());
        line.extend_from_slice(b"\"}");
        assert!(matches!(decode_line(&line, false), Decoded::Unknown(_)));
    }

    #[test]
    fn manifest_seal_round_trips_and_catches_any_changed_value() {
        let m = manifest("r1", "2026-11-25T22:00:00Z");
        let bytes = seal_manifest(serde_json::to_value(&m).unwrap()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(unseal_manifest(&mut v), ManifestSeal::Verified);
        assert_eq!(
            serde_json::from_value::<crate::journal::Manifest>(v).unwrap(),
            m
        );

        let text = String::from_utf8(bytes).unwrap();
        for (from, to) in [("\"segments\": 4", "\"segments\": 6"), ("r1", "r3")] {
            let mut v: serde_json::Value =
                serde_json::from_str(&text.replacen(from, to, 1)).unwrap();
            assert!(
                matches!(unseal_manifest(&mut v), ManifestSeal::Bad(_)),
                "{to}"
            );
        }
        let mut old = serde_json::to_value(&m).unwrap();
        assert_eq!(unseal_manifest(&mut old), ManifestSeal::Missing);
    }
}
