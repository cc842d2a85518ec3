//! Helpers shared by Strideguard's end-to-end tests (the tests themselves live in `tests/`).

use std::path::PathBuf;

use strideguard_core::Store;
use strideguard_core::demo::DemoHistory;

/// A database file in a fresh temporary folder (removed when the guard drops).
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("strideguard.db");
    (dir, path)
}

/// Writes a demo history into `store` the way `strideguard demo` does.
pub fn load_demo(
    store: &mut Store,
    history: &DemoHistory,
) -> Result<(), strideguard_core::StoreError> {
    store.set_profile(&history.profile)?;
    for shoe in &history.shoes {
        store.add_shoe(shoe)?;
    }
    for (run, samples) in &history.runs {
        store.add_run(run, samples)?;
    }
    Ok(())
}
