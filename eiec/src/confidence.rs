//! How sure a fact in the data is.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How well a datum (a criteria set, a criterion, a class table) is backed by sources.
///
/// Every built-in datum carries one; the crate documentation lists the sources.
///
/// ```
/// use eiec::Confidence;
/// assert_eq!(Confidence::VendorDerivedUnverified.to_string(), "vendor-derived, unverified");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// A retrieved public source states it.
    Confirmed,
    /// A vendor's manual states it; no independent source or the standard's text confirms it.
    VendorDerivedUnverified,
    /// Our own inference from confirmed facts; no source states it.
    Inferred,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::Confirmed => "confirmed",
            Confidence::VendorDerivedUnverified => "vendor-derived, unverified",
            Confidence::Inferred => "inferred",
        })
    }
}
