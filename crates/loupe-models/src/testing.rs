//! Where tests find the local model's files and the labelled images, shared by this
//! crate's tests, the connector tests and the API tests.

use std::path::PathBuf;

/// Where the local model's files are cached across test runs: `LOUPE_TEST_MODEL_DATA_DIR`,
/// default `~/.cache/loupe-test/loupe-data` (prepared there from PyPI on first use).
pub fn model_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOUPE_TEST_MODEL_DATA_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/loupe-test/loupe-data")
}

/// Debian's tuxpaint stamps (`LOUPE_TEST_TUXPAINT_STAMPS`, default
/// `/usr/share/tuxpaint/stamps`); panics with the install hint when they are missing,
/// so no test passes without its images.
pub fn stamps_dir() -> PathBuf {
    let dir = std::env::var_os("LOUPE_TEST_TUXPAINT_STAMPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/tuxpaint/stamps"));
    assert!(
        dir.join("animals").is_dir(),
        "no tuxpaint stamps at {}: run `source tests/backends/tuxpaint.sh` (apt-get install tuxpaint-stamps-default) or set LOUPE_TEST_TUXPAINT_STAMPS",
        dir.display()
    );
    dir
}
