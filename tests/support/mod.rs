//! Shared helpers for the integration tests.

use std::path::PathBuf;

pub mod clickhouse;
pub mod tshark;

/// The project's root directory.
pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Prints a skip message that stays visible under `cargo test`'s output
/// capture (which only intercepts the `print!` macros): written straight to
/// the process's standard error.
pub fn skip(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {message}");
}

/// `../shared/captures` beside the project, if present. When absent, prints a
/// visible skip message naming `what` and returns `None`.
pub fn shared_captures(what: &str) -> Option<PathBuf> {
    let dir = project_dir().join("../shared/captures");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "{what}: ../shared/captures is absent (fresh clone without the shared captures)"
        ));
        None
    }
}
