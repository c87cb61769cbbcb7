//! Shared helpers for the integration tests.

use std::path::PathBuf;

/// The project's root directory.
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/captures` beside the project, if present. When absent, prints a
/// visible skip message naming `what` and returns `None`.
pub fn shared_captures(what: &str) -> Option<PathBuf> {
    let dir = project_dir().join("../shared/captures");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP {what}: ../shared/captures is absent (fresh clone without the shared captures)"
        );
        None
    }
}
