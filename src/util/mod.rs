//! Small helpers with no knowledge of the server: identifiers and time formatting.

pub mod ids;
pub mod time;
