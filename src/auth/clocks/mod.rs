//! The credential's clocks: the token state the manager keeps (session, deadlines, the
//! renewal plan) and `TokenStatus`, the snapshot every view reads.

pub mod state;
pub mod status;

use super::answer;
use super::grant;
