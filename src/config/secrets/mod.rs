//! Where secrets come from: the client secret's sources and the key material of signed
//! assertions and client certificates.

pub mod client_secret;
pub mod key_material;
