//! The master key that encrypts connection secrets at rest. It comes from
//! `LOUPE_MASTER_KEY_FILE`, or on embedded defaults from `<data_dir>/master.key`, which
//! is generated (mode 0600) on first start. Checked at start so a bad key fails early.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use rand::RngCore;
use secrecy::SecretBox;

/// 32 bytes for AES-256.
pub type MasterKey = SecretBox<[u8; 32]>;

/// Loads the configured key, or creates the default one.
pub fn load_or_create(configured: Option<&Path>, data_dir: &Path) -> Result<MasterKey> {
    if let Some(path) = configured {
        return read(path).with_context(|| format!("LOUPE_MASTER_KEY_FILE {}", path.display()));
    }
    let path = data_dir.join("master.key");
    if !path.exists() {
        create(&path)?;
        tracing::info!(path = %path.display(), "generated a new master key; back it up with the data folder");
    }
    read(&path).with_context(|| format!("master key {}", path.display()))
}

fn read(path: &Path) -> Result<MasterKey> {
    let text = std::fs::read_to_string(path).context("cannot read the key file")?;
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
    let Some(bytes) = bytes else {
        bail!(
            "the key file must hold 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`"
        );
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(SecretBox::new(Box::new(key)))
}

fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", hex::encode(key))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path()).unwrap();
        let second = load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
    }

    #[test]
    fn refuses_a_malformed_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        std::fs::write(&path, "not hex").unwrap();
        let err = load_or_create(Some(&path), dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("LOUPE_MASTER_KEY_FILE"));
    }
}
