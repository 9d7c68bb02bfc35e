//! Where unit tests find their data: the shared compatibility vectors and the repository's own
//! fixtures (tests only).

use std::path::{Path, PathBuf};

/// A file of `../shared/vectors` (read in place, never copied into the tree).
pub fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name)
}

/// A configuration fixture of `tests/data/config`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}
