//! The settings of a model connection (an embedding model or a tagging model): which
//! provider, where, which model, and how hard to push it. Parsed once, at create and
//! update (so a bad setting is refused with its name) and again when a connector opens
//! the connection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Error, Result};

/// What a model connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Texts and images → vectors (the `Embedder` port).
    Embedding,
    /// Image + tag definition → tags (the `Tagger` port).
    Tagging,
}

impl ModelKind {
    fn as_str(self) -> &'static str {
        match self {
            ModelKind::Embedding => "embedding",
            ModelKind::Tagging => "tagging",
        }
    }

    fn providers(self) -> &'static [Provider] {
        match self {
            ModelKind::Embedding => &[
                Provider::DashScope,
                Provider::PaiEas,
                Provider::OpenAi,
                Provider::Local,
            ],
            ModelKind::Tagging => &[Provider::OpenAi, Provider::Local],
        }
    }
}

/// The protocols Loupe speaks to models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// DashScope (Model Studio) multimodal embedding on its native endpoint.
    DashScope,
    /// A GME service on PAI-EAS, with the protocol of the seed guide's section 4.4.
    PaiEas,
    /// OpenAI-compatible `/embeddings` or `/chat/completions` (OpenAI, DashScope
    /// compatible mode, vLLM, Ollama, LM Studio).
    OpenAi,
    /// The model built into Loupe, in process.
    Local,
}

impl Provider {
    /// The `Configs.Provider` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::DashScope => "dashscope",
            Provider::PaiEas => "pai-eas",
            Provider::OpenAi => "openai",
            Provider::Local => "local",
        }
    }

    /// Whether requests leave the process.
    pub fn is_remote(self) -> bool {
        self != Provider::Local
    }

    /// The image limit of the provider: DashScope documents 3 MB per image; the others
    /// publish none we can rely on, so a size that every gateway we know accepts.
    fn default_max_image_bytes(self) -> u64 {
        match self {
            Provider::DashScope | Provider::PaiEas => 3_000_000,
            Provider::OpenAi | Provider::Local => 10_000_000,
        }
    }

    /// Inputs per request: `tongyi-embedding-vision-plus` takes up to 8 images a call,
    /// GME services batch the same way, and OpenAI-compatible servers take many texts
    /// (their images go one per request, as vLLM's multimodal embedding API needs).
    fn default_batch(self) -> u64 {
        match self {
            Provider::DashScope | Provider::PaiEas => 8,
            Provider::OpenAi => 32,
            Provider::Local => 16,
        }
    }

    const ALL: [Provider; 4] = [
        Provider::DashScope,
        Provider::PaiEas,
        Provider::OpenAi,
        Provider::Local,
    ];
}

/// Which in-process model a local connection runs, from its `Configs.Model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalModel {
    /// No model named: the built-in ConSE model.
    Builtin,
    /// An absolute path: a CLIP-family model folder in the Hugging Face layout.
    ClipFolder(PathBuf),
    /// `owner/name`: a CLIP-family model on the Hugging Face hub, downloaded once.
    ClipHub(String),
}

impl LocalModel {
    /// Reads a local connection's `Configs.Model` (trimmed, empty as `None`).
    pub fn parse(model: Option<&str>) -> Result<Self> {
        let Some(model) = model else {
            return Ok(LocalModel::Builtin);
        };
        if Path::new(model).is_absolute() {
            return Ok(LocalModel::ClipFolder(model.into()));
        }
        if is_hub_id(model) {
            return Ok(LocalModel::ClipHub(model.to_string()));
        }
        Err(Error::invalid(format!(
            "Configs.Model '{model}' for the local provider must be empty (the built-in model), the \
             absolute path of a CLIP model folder, or a Hugging Face hub id such as openai/clip-vit-base-patch32"
        )))
    }
}

/// `owner/name` with the hub's characters; no part starts with `.` or `-` or holds
/// `..`, so the id is safe as a URL path and a folder name.
fn is_hub_id(text: &str) -> bool {
    let part_ok = |p: &str| {
        (1..=96).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !p.starts_with(['.', '-'])
            && !p.contains("..")
    };
    matches!(text.split_once('/'), Some((owner, name)) if part_ok(owner) && part_ok(name))
}

/// How images reach a remote model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// A presigned URL the provider fetches itself, for datasets in an object store;
    /// images of local folders, which have no such URL, still go as base64.
    Url,
    /// A `data:image/jpeg;base64,…` URI inside the request, re-encoded to fit
    /// `MaxImageBytes`.
    Base64,
}

/// A parsed model connection. `Debug` hides the API key.
#[derive(Clone)]
pub struct ModelSettings {
    /// Embedding or tagging.
    pub kind: ModelKind,
    /// The protocol.
    pub provider: Provider,
    /// Where requests go; `None` for the local provider. For `dashscope` and `pai-eas`
    /// the full endpoint, for `openai` the API base (`…/v1`) that `/embeddings` or
    /// `/chat/completions` is appended to.
    pub base_url: Option<String>,
    /// The model name sent to the provider; `None` only where the provider needs none.
    pub model: Option<String>,
    /// Values per vector for embedding connections, checked against every response.
    pub dimension: Option<usize>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of a request that failed with 429, 5xx, a timeout or a transport error.
    pub max_retries: u32,
    /// Requests in flight at once through this connection.
    pub max_concurrency: usize,
    /// Inputs per request, where the protocol batches.
    pub max_batch: usize,
    /// How images are sent.
    pub image_mode: ImageMode,
    /// The largest encoded image sent; larger ones are downscaled and re-encoded.
    pub max_image_bytes: usize,
    /// The API key or service token.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ModelSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSettings")
            .field("kind", &self.kind)
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("dimension", &self.dimension)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_batch", &self.max_batch)
            .field("image_mode", &self.image_mode)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

const CONFIGS: &[&str] = &[
    "Provider",
    "BaseUrl",
    "Model",
    "Dimension",
    "TimeoutSecs",
    "MaxRetries",
    "MaxConcurrency",
    "MaxBatchSize",
    "ImageMode",
    "MaxImageBytes",
];
const SECRETS: &[&str] = &["ApiKey"];

fn number(
    configs: &BTreeMap<String, String>,
    key: &str,
    default: u64,
    range: (u64, u64),
) -> Result<u64> {
    let (min, max) = range;
    match configs.get(key) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(Error::invalid(format!(
                "Configs.{key} '{text}' must be a whole number from {min} to {max}"
            ))),
        },
    }
}

fn check_keys(
    kind: ModelKind,
    configs: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Result<()> {
    if let Some(unknown) = configs.keys().find(|k| !CONFIGS.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown Configs key '{unknown}' for a {} model: use {}",
            kind.as_str(),
            CONFIGS.join(", ")
        )));
    }
    if let Some(unknown) = secrets.keys().find(|k| !SECRETS.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown Secrets key '{unknown}' for a {} model: use {}",
            kind.as_str(),
            SECRETS.join(", ")
        )));
    }
    if secrets
        .values()
        .chain(configs.values())
        .any(|v| v.len() > 4096)
    {
        return Err(Error::invalid(
            "a Configs or Secrets value is longer than 4096 characters",
        ));
    }
    Ok(())
}

fn provider(kind: ModelKind, configs: &BTreeMap<String, String>) -> Result<Provider> {
    let allowed = kind.providers();
    let names = allowed
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(text) = configs.get("Provider") else {
        return Err(Error::invalid(format!(
            "Configs.Provider is required for a {} model: one of {names}",
            kind.as_str()
        )));
    };
    let found = Provider::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(text.trim()));
    match found {
        Some(p) if allowed.contains(&p) => Ok(p),
        Some(p) => Err(Error::invalid(format!(
            "Configs.Provider '{}' cannot serve a {} model: use one of {names} (DashScope's Qwen-VL \
             tags through openai with BaseUrl https://dashscope.aliyuncs.com/compatible-mode/v1)",
            p.as_str(),
            kind.as_str()
        ))),
        None => Err(Error::invalid(format!(
            "Configs.Provider '{text}' is not one of {names}"
        ))),
    }
}

fn base_url(provider: Provider, configs: &BTreeMap<String, String>) -> Result<Option<String>> {
    let given = configs
        .get("BaseUrl")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty());
    if !provider.is_remote() {
        return match given {
            Some(_) => Err(Error::invalid(
                "Configs.BaseUrl is not used by the local provider: remove it",
            )),
            None => Ok(None),
        };
    }
    let Some(url) = given else {
        return Err(Error::invalid(format!(
            "Configs.BaseUrl is required for {}: an http:// or https:// URL",
            provider.as_str()
        )));
    };
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    let host_ok = url.split("://").nth(1).is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty() && !host.contains('@')
    });
    if url.len() > 1024 || !scheme_ok || !host_ok || url.contains(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "Configs.BaseUrl '{url}' must be an http:// or https:// URL with a host and no credentials \
             (put the key in Secrets.ApiKey)"
        )));
    }
    Ok(Some(url.trim_end_matches('/').to_string()))
}

fn model(provider: Provider, configs: &BTreeMap<String, String>) -> Result<Option<String>> {
    let model = configs
        .get("Model")
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    let needed = matches!(provider, Provider::DashScope | Provider::OpenAi);
    match &model {
        None if needed => Err(Error::invalid(format!(
            "Configs.Model is required for {}, e.g. {}",
            provider.as_str(),
            match provider {
                Provider::DashScope => "tongyi-embedding-vision-plus",
                _ => "qwen-vl-max",
            }
        ))),
        Some(m) if m.len() > 256 || m.chars().any(char::is_control) => Err(Error::invalid(
            "Configs.Model must be at most 256 characters with no control characters",
        )),
        Some(m) if provider == Provider::Local => LocalModel::parse(Some(m)).map(|_| model),
        _ => Ok(model),
    }
}

fn dimension(
    kind: ModelKind,
    provider: Provider,
    configs: &BTreeMap<String, String>,
) -> Result<Option<usize>> {
    let given = configs.contains_key("Dimension");
    if kind == ModelKind::Tagging {
        return match given {
            true => Err(Error::invalid(
                "Configs.Dimension is only for embedding models: remove it",
            )),
            false => Ok(None),
        };
    }
    if !given {
        return match provider.is_remote() {
            true => Err(Error::invalid(format!(
                "Configs.Dimension is required for {}: the length of the model's vectors, e.g. 1152 for \
                 tongyi-embedding-vision-plus",
                provider.as_str()
            ))),
            false => Ok(None),
        };
    }
    let n = number(configs, "Dimension", 0, (1, 65_536))?;
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

fn image_mode(configs: &BTreeMap<String, String>) -> Result<ImageMode> {
    // Base64 is the default for every provider: a presigned URL needs an object store
    // the provider can reach, which a private bucket or a local folder is not.
    match configs
        .get("ImageMode")
        .map(|m| m.trim().to_ascii_lowercase())
    {
        None => Ok(ImageMode::Base64),
        Some(m) if m == "base64" => Ok(ImageMode::Base64),
        Some(m) if m == "url" => Ok(ImageMode::Url),
        Some(m) => Err(Error::invalid(format!(
            "Configs.ImageMode '{m}' is not one of url, base64"
        ))),
    }
}

impl ModelSettings {
    /// Parses and checks a model connection's configs and secrets.
    pub fn parse(
        kind: ModelKind,
        configs: &BTreeMap<String, String>,
        secrets: &BTreeMap<String, String>,
    ) -> Result<Self> {
        check_keys(kind, configs, secrets)?;
        let provider = provider(kind, configs)?;
        let base_url = base_url(provider, configs)?;
        let model = model(provider, configs)?;
        let dimension = dimension(kind, provider, configs)?;
        let api_key = secrets.get("ApiKey").filter(|k| !k.is_empty()).cloned();
        match (provider, &api_key) {
            (Provider::DashScope, None) => {
                return Err(Error::invalid(
                    "Secrets.ApiKey is required for dashscope: a Model Studio API key",
                ))
            }
            (Provider::Local, Some(_)) => {
                return Err(Error::invalid(
                    "Secrets.ApiKey is not used by the local provider: remove it",
                ))
            }
            _ => {}
        }
        if api_key
            .as_deref()
            .is_some_and(|k| k.chars().any(|c| c.is_control()))
        {
            return Err(Error::invalid(
                "Secrets.ApiKey must not contain control characters or line breaks",
            ));
        }
        let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            kind,
            provider,
            base_url,
            model,
            dimension,
            timeout: Duration::from_secs(number(configs, "TimeoutSecs", 60, (1, 600))?),
            max_retries: u32::try_from(number(configs, "MaxRetries", 3, (0, 10))?).unwrap_or(3),
            max_concurrency: as_usize(number(configs, "MaxConcurrency", 8, (1, 256))?),
            max_batch: as_usize(number(
                configs,
                "MaxBatchSize",
                provider.default_batch(),
                (1, 256),
            )?),
            image_mode: image_mode(configs)?,
            max_image_bytes: as_usize(number(
                configs,
                "MaxImageBytes",
                provider.default_max_image_bytes(),
                (16_384, 100_000_000),
            )?),
            api_key,
        })
    }

    /// The in-process model a local connection runs; an error for a `Model` that names
    /// none (refused by [`ModelSettings::parse`] already).
    pub fn local_model(&self) -> Result<LocalModel> {
        LocalModel::parse(self.model.as_deref())
    }

    /// The model name for messages and records: the configured one, or the provider's.
    pub fn model_name(&self) -> &str {
        self.model.as_deref().unwrap_or(self.provider.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_defaults_per_provider_and_hides_the_key() {
        let s = ModelSettings::parse(
            ModelKind::Embedding,
            &map(&[
                ("Provider", "DashScope"),
                (
                    "BaseUrl",
                    "https://dashscope.aliyuncs.com/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding/",
                ),
                ("Model", "tongyi-embedding-vision-plus"),
                ("Dimension", "1152"),
            ]),
            &map(&[("ApiKey", "sk-secret")]),
        )
        .expect("valid");
        assert_eq!(s.provider, Provider::DashScope);
        assert!(!s.base_url.as_deref().unwrap().ends_with('/'));
        assert_eq!(s.dimension, Some(1152));
        assert_eq!(s.max_image_bytes, 3_000_000);
        assert_eq!(s.max_concurrency, 8);
        assert_eq!(s.image_mode, ImageMode::Base64);
        assert!(!format!("{s:?}").contains("sk-secret"));

        let tagger = ModelSettings::parse(
            ModelKind::Tagging,
            &map(&[
                ("Provider", "openai"),
                ("BaseUrl", "http://127.0.0.1:8000/v1"),
                ("Model", "qwen-vl-max"),
                ("MaxConcurrency", "5"),
            ]),
            &map(&[]),
        )
        .expect("valid");
        assert_eq!(tagger.max_concurrency, 5);
        assert_eq!(tagger.api_key, None);

        let local = ModelSettings::parse(
            ModelKind::Tagging,
            &map(&[("Provider", "local")]),
            &map(&[]),
        )
        .expect("valid");
        assert_eq!(local.base_url, None);
    }

    #[test]
    fn local_model_is_builtin_a_clip_folder_or_a_hub_id() {
        let local = |model: &str| {
            let mut configs = map(&[("Provider", "local")]);
            if !model.is_empty() {
                configs.insert("Model".into(), model.into());
            }
            ModelSettings::parse(ModelKind::Embedding, &configs, &map(&[]))
                .and_then(|s| s.local_model())
        };
        assert_eq!(local("").unwrap(), LocalModel::Builtin);
        assert_eq!(local("  ").unwrap(), LocalModel::Builtin);
        assert_eq!(
            local("/models/clip-vit-base-patch32").unwrap(),
            LocalModel::ClipFolder("/models/clip-vit-base-patch32".into())
        );
        assert_eq!(
            local(" openai/clip-vit-base-patch32 ").unwrap(),
            LocalModel::ClipHub("openai/clip-vit-base-patch32".into())
        );
        for bad in [
            "clip",
            "./clip",
            "../x/y",
            "a/b/c",
            "openai/..",
            "-x/y",
            "owner/na me",
            "https://huggingface.co/openai/clip-vit-base-patch32",
        ] {
            let err = local(bad).expect_err(bad);
            assert!(
                err.message().contains("Configs.Model") && err.message().contains("hub id"),
                "{bad}: {}",
                err.message()
            );
        }
        let remote = ModelSettings::parse(
            ModelKind::Tagging,
            &map(&[
                ("Provider", "openai"),
                ("BaseUrl", "http://x"),
                ("Model", "qwen-vl-max"),
            ]),
            &map(&[]),
        )
        .expect("a remote model name is not a local model");
        assert_eq!(remote.model.as_deref(), Some("qwen-vl-max"));
    }

    #[test]
    fn names_the_bad_setting() {
        let eas = [
            ("Provider", "pai-eas"),
            ("BaseUrl", "http://eas/api/predict/gme"),
            ("Dimension", "1536"),
        ];
        type Pairs<'a> = Vec<(&'a str, &'a str)>;
        let cases: Vec<(ModelKind, Pairs, Pairs, &str)> = vec![
            (
                ModelKind::Embedding,
                vec![],
                vec![],
                "Configs.Provider is required",
            ),
            (
                ModelKind::Embedding,
                vec![("Provider", "cohere")],
                vec![],
                "'cohere' is not one of",
            ),
            (
                ModelKind::Tagging,
                vec![("Provider", "dashscope")],
                vec![],
                "cannot serve a tagging model",
            ),
            (
                ModelKind::Embedding,
                vec![("Provider", "pai-eas"), ("Dimension", "8")],
                vec![],
                "Configs.BaseUrl is required",
            ),
            (
                ModelKind::Embedding,
                vec![
                    ("Provider", "pai-eas"),
                    ("BaseUrl", "ftp://x"),
                    ("Dimension", "8"),
                ],
                vec![],
                "Configs.BaseUrl 'ftp://x'",
            ),
            (
                ModelKind::Embedding,
                vec![
                    ("Provider", "pai-eas"),
                    ("BaseUrl", "http://u:p@x"),
                    ("Dimension", "8"),
                ],
                vec![],
                "no credentials",
            ),
            (
                ModelKind::Embedding,
                vec![("Provider", "pai-eas"), ("BaseUrl", "http://x")],
                vec![],
                "Configs.Dimension is required",
            ),
            (
                ModelKind::Embedding,
                vec![
                    ("Provider", "openai"),
                    ("BaseUrl", "http://x"),
                    ("Dimension", "8"),
                ],
                vec![],
                "Configs.Model is required",
            ),
            (
                ModelKind::Embedding,
                vec![
                    ("Provider", "dashscope"),
                    ("BaseUrl", "http://x"),
                    ("Model", "m"),
                    ("Dimension", "8"),
                ],
                vec![],
                "Secrets.ApiKey is required",
            ),
            (
                ModelKind::Tagging,
                vec![
                    ("Provider", "openai"),
                    ("BaseUrl", "http://x"),
                    ("Model", "m"),
                    ("Dimension", "8"),
                ],
                vec![],
                "only for embedding",
            ),
            (
                ModelKind::Tagging,
                vec![("Provider", "local"), ("BaseUrl", "http://x")],
                vec![],
                "not used by the local provider",
            ),
            (
                ModelKind::Embedding,
                [&eas[..], &[("Dimension", "0")]].concat(),
                vec![],
                "Configs.Dimension '0'",
            ),
            (
                ModelKind::Embedding,
                [&eas[..], &[("MaxConcurrency", "0")]].concat(),
                vec![],
                "Configs.MaxConcurrency '0'",
            ),
            (
                ModelKind::Embedding,
                [&eas[..], &[("TimeoutSecs", "x")]].concat(),
                vec![],
                "Configs.TimeoutSecs 'x'",
            ),
            (
                ModelKind::Embedding,
                [&eas[..], &[("ImageMode", "raw")]].concat(),
                vec![],
                "Configs.ImageMode 'raw'",
            ),
            (
                ModelKind::Embedding,
                [&eas[..], &[("MaxImageBytes", "10")]].concat(),
                vec![],
                "Configs.MaxImageBytes '10'",
            ),
            (
                ModelKind::Embedding,
                [&eas[..], &[("Color", "red")]].concat(),
                vec![],
                "unknown Configs key 'Color'",
            ),
            (
                ModelKind::Embedding,
                eas.to_vec(),
                vec![("Token", "t")],
                "unknown Secrets key 'Token'",
            ),
            (
                ModelKind::Embedding,
                eas.to_vec(),
                vec![("ApiKey", "a\nb")],
                "control characters",
            ),
        ];
        for (kind, configs, secrets, needle) in cases {
            let err = ModelSettings::parse(kind, &map(&configs), &map(&secrets)).expect_err(needle);
            assert!(
                err.message().contains(needle),
                "{needle}: {}",
                err.message()
            );
        }
    }
}
