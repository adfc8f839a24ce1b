//! The one error enum of the core crate.

use thiserror::Error;

/// Everything a core kernel can refuse. Python validates first, so these are the last line of
/// defence: they must never be a panic.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// An input that must hold at least one element was empty.
    #[error("{name} is empty")]
    Empty {
        /// The argument's name.
        name: &'static str,
    },
    /// Two inputs that must have the same length (or shape) do not.
    #[error("{what}: {left} vs {right}")]
    ShapeMismatch {
        /// What was compared.
        what: &'static str,
        /// Left-hand size or shape, formatted.
        left: String,
        /// Right-hand size or shape, formatted.
        right: String,
    },
    /// A value outside its allowed domain (NaN, negative count, label out of range, ...).
    #[error("{0}")]
    InvalidValue(String),
    /// An argument (not data) outside its allowed range.
    #[error("{0}")]
    InvalidArgument(String),
}

/// Result alias of the core crate.
pub type Result<T> = std::result::Result<T, CoreError>;

impl CoreError {
    /// Shorthand for a length mismatch between two named slices.
    pub fn lengths(what: &'static str, left: usize, right: usize) -> Self {
        CoreError::ShapeMismatch {
            what,
            left: left.to_string(),
            right: right.to_string(),
        }
    }
}
