//! Fetching a CLIP model folder from the Hugging Face hub, once: each file from
//! `{endpoint}/{owner}/{name}/resolve/main/{file}` into a temporary file beside its final
//! place, flushed, then renamed, so a crash or a concurrent download never leaves a
//! half-written file under the final name. Files already cached are not fetched again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::clip::REQUIRED_FILES;

/// The variable that points downloads at a hub mirror, as in `huggingface_hub`.
pub const ENDPOINT_ENV: &str = "HF_ENDPOINT";
/// The hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Why a hub model could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub has no such file (or no such model, or it is private or gated).
    #[error("{url} answered {status}: check the id, that the model is public and has {file}")]
    Missing {
        /// The file.
        file: String,
        /// Where it was asked for.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The hub did not answer, or the transfer broke.
    #[error("cannot fetch {url}: {reason}")]
    Network {
        /// Where it was asked for.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the cache failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The cache folder of hub model `repo` (`owner/name`) under `models_dir`.
pub fn cache_dir(models_dir: &Path, repo: &str) -> PathBuf {
    models_dir.join("hub").join(repo.replace('/', "--"))
}

/// The model's folder under `models_dir`, with every file it needs, downloaded from
/// `endpoint` when missing. `repo` must be a checked `owner/name` id.
pub async fn fetch_model(
    endpoint: &str,
    repo: &str,
    models_dir: &Path,
) -> Result<PathBuf, HubError> {
    let dir = cache_dir(models_dir, repo);
    // A complete cache needs no network: an offline server keeps its models.
    let cached = |file: &str| dir.join(file).is_file();
    let slow_tokenizer = ["vocab.json", "merges.txt"];
    if REQUIRED_FILES.iter().all(|f| cached(f))
        && (cached("tokenizer.json") || slow_tokenizer.iter().all(|f| cached(f)))
    {
        return Ok(dir);
    }
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|source| HubError::Io {
            path: dir.clone(),
            source,
        })?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("loupe/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HubError::Network {
            url: endpoint.into(),
            reason: e.to_string(),
        })?;
    let base = format!("{}/{repo}/resolve/main", endpoint.trim_end_matches('/'));
    for file in REQUIRED_FILES {
        fetch_file(&client, &base, &dir, file).await?;
    }
    // The fast tokenizer's file, else the slow tokenizer's two (older repositories).
    match fetch_file(&client, &base, &dir, "tokenizer.json").await {
        Err(HubError::Missing { status: 404, .. }) => {
            for file in slow_tokenizer {
                fetch_file(&client, &base, &dir, file).await?;
            }
        }
        other => other?,
    }
    Ok(dir)
}

async fn fetch_file(
    client: &reqwest::Client,
    base: &str,
    dir: &Path,
    file: &str,
) -> Result<(), HubError> {
    let path = dir.join(file);
    if path.is_file() {
        return Ok(());
    }
    let url = format!("{base}/{file}");
    let net = |reason: String| HubError::Network {
        url: url.clone(),
        reason,
    };
    let mut response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| net(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(HubError::Missing {
            file: file.into(),
            url: url.clone(),
            status: status.as_u16(),
        });
    }
    tracing::info!(url = %url, "downloading a model file");
    let io = |source| HubError::Io {
        path: path.clone(),
        source,
    };
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{file}."))
        .tempfile_in(dir)
        .map_err(io)?;
    let mut out = tokio::fs::File::from_std(partial.reopen().map_err(io)?);
    while let Some(chunk) = response.chunk().await.map_err(|e| net(e.to_string()))? {
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    out.sync_all().await.map_err(io)?;
    drop(out);
    partial.persist(&path).map_err(|e| io(e.error))?;
    Ok(())
}
