//! Where tests find the local model's files and the labelled images, shared by this
//! crate's tests, the connector tests and the API tests.

use std::path::{Path, PathBuf};

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

/// The PNG and JPEG files under `dir`, recursively, sorted by path (the model
/// benchmarks read the stamps in this order on both sides of a comparison).
pub fn image_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| {
                ["png", "jpg", "jpeg"].contains(&e.to_string_lossy().to_lowercase().as_str())
            }) {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
}
