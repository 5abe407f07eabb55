//! Random bytes and fixed-size base64 values: what the cache's encryption and its key
//! sources both need, kept below them so neither imports the other.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

pub(super) fn decode_fixed<const N: usize>(s: &str) -> Option<[u8; N]> {
    B64.decode(s.as_bytes()).ok()?.try_into().ok()
}
