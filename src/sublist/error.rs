//! [`SublistError`]: why a subscription was refused.

use std::fmt;

/// Error returned by [`Sublist::insert`](super::Sublist::insert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SublistError {
    /// The subject is not a valid subscription subject.
    InvalidSubject,
    /// The queue group name is empty or contains whitespace.
    InvalidQueue,
}

impl fmt::Display for SublistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SublistError::InvalidSubject => "invalid subject",
            SublistError::InvalidQueue => "invalid queue group name",
        })
    }
}

impl std::error::Error for SublistError {}
