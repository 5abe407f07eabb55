//! A run's shard: the K-th (from 0) of N stable slices of a source, so N processes on N
//! machines can share one sync. A push record belongs to the shard its key (the record's
//! `supplier_id` as read from the row) hashes to with FNV-1a, a fixed hash: the same record
//! lands in the same shard whatever the file's order and on every machine. A pull shard
//! takes every N-th segment of the server's list, from its K-th.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most shards a run may be cut into: far past any fleet, small enough that a typo
/// like `--shards 40000` is caught.
pub const MAX_SHARDS: u32 = 1024;

/// Shard `index` of `count` (`index < count`, both checked by [`Shard::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 {
            return Err("the number of shards must be at least 1 (got 0)".into());
        }
        if count > MAX_SHARDS {
            return Err(format!(
                "the number of shards may be at most {MAX_SHARDS} (got {count})"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard {index} does not exist among {count} shards: they count from 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// `K/N`, as `--shard` takes it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (e.g. 0/4: the first of four shards)"))?;
        let num = |what: &str, v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("{s:?}: {what} {v:?} is not a whole number (K/N, e.g. 0/4)"))
        };
        Shard::new(num("K", k)?, num("N", n)?)
    }

    /// Whether the record with this key belongs to this shard.
    pub fn holds(&self, key: &str) -> bool {
        self.count <= 1 || fnv1a(key.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether segment `i` of a pull's whole list belongs to this shard.
    pub fn holds_segment(&self, i: u64) -> bool {
        i % u64::from(self.count) == u64::from(self.index)
    }

    /// What a shard's run id ends with, so the shards of one named run sit side by side.
    pub fn run_id_suffix(&self) -> String {
        format!("-s{}of{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits: fixed constants, so shards agree across processes, versions and
/// machines (std's hasher is seeded at random per process).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_what_is_not() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(Shard::parse(" 0 / 1 "), Ok(Shard { index: 0, count: 1 }));
        let e = Shard::parse("4/4").unwrap_err();
        assert!(e.contains("shard 4 does not exist among 4 shards"), "{e}");
        assert!(Shard::parse("0/0").unwrap_err().contains("at least 1"));
        assert!(Shard::parse("3").unwrap_err().contains("is not K/N"));
        assert!(Shard::parse("a/4").unwrap_err().contains("K \"a\""));
        assert!(Shard::parse("1/-4").unwrap_err().contains("N \"-4\""));
        assert!(Shard::parse("0/5000").unwrap_err().contains("at most"));
    }

    #[test]
    fn the_hash_is_fixed_and_every_key_lands_in_exactly_one_shard() {
        // FNV-1a's published test vectors: the hash must never drift between versions.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let shards: Vec<_> = (0..4).map(|k| Shard::new(k, 4).unwrap()).collect();
        let mut sizes = [0u32; 4];
        for i in 0..4000 {
            let key = format!("SUP-{i:05}");
            let owners: Vec<_> = shards.iter().filter(|s| s.holds(&key)).collect();
            assert_eq!(owners.len(), 1, "{key}");
            sizes[owners[0].index as usize] += 1;
        }
        // Spread: no shard far from a quarter.
        assert!(sizes.iter().all(|&n| (800..1200).contains(&n)), "{sizes:?}");
    }
}
