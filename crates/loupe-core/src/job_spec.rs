//! The typed `JobSpec` of each job action. PAI leaves these unpublished, so each is a
//! documented object of its own; unknown keys are refused so a typo is not ignored.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::job::JobAction;
use crate::{Error, Result};

/// Most requests a job keeps in flight to its model.
pub const MAX_CONCURRENCY: u32 = 256;
/// `SemanticIndex`'s `MaxConcurrency` when the spec gives none.
pub const DEFAULT_INDEX_CONCURRENCY: u32 = 8;
/// `IntelligentTag`'s `MaxConcurrency` when the spec gives none.
pub const DEFAULT_TAG_CONCURRENCY: u32 = 5;

/// `JobSpec` of `SemanticIndex`. The embedding model, vector store and index come from
/// the dataset's `IndexConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SemanticIndexSpec {
    /// Requests in flight to the embedding model at once, per worker process, 1 to 256
    /// (default 8; the connection's own `MaxConcurrency` caps it too). PAI recommends 5
    /// per GPU card of the model service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

/// `JobSpec` of `IntelligentTag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IntelligentTagSpec {
    /// The tag definition (`tagdef-…`): the guide prompt and the tags the model may give.
    pub tag_definition_id: String,
    /// A `TaggingModel` connection, or a local `EmbeddingModel` one (zero-shot). Default:
    /// the built-in `local-model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// The model to ask, e.g. `qwen-vl-max` (default: the connection's `Model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Requests in flight to the tagging model at once, per worker process, 1 to 256
    /// (default 5; the connection's own `MaxConcurrency` caps it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

/// `JobSpec` of `IntelligentTagRevert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IntelligentTagRevertSpec {
    /// The `IntelligentTag` job (`dsjob-…`) of the same dataset whose `ai` tags to remove.
    pub tag_job_id: String,
}

/// Checks a job's spec against its action and returns it in canonical form.
pub fn check_spec(action: JobAction, spec: Option<serde_json::Value>) -> Result<serde_json::Value> {
    let spec = spec.unwrap_or_else(|| serde_json::json!({}));
    match action {
        JobAction::FileMetaBuild => match spec.as_object() {
            Some(object) if object.is_empty() => Ok(spec),
            _ => Err(Error::invalid(
                "JobSpec of FileMetaBuild takes no options: send {} or leave it out",
            )),
        },
        JobAction::SemanticIndex => {
            let parsed: SemanticIndexSpec = parse(action, spec)?;
            check_concurrency(parsed.max_concurrency)?;
            canonical(&parsed)
        }
        JobAction::IntelligentTag => {
            let parsed: IntelligentTagSpec = parse(action, spec)?;
            check_concurrency(parsed.max_concurrency)?;
            check_text("TagDefinitionId", &parsed.tag_definition_id, 64)?;
            if let Some(id) = &parsed.connection_id {
                check_text("ConnectionId", id, 64)?;
            }
            if let Some(model) = &parsed.model_name {
                check_text("ModelName", model, 256)?;
            }
            canonical(&parsed)
        }
        JobAction::IntelligentTagRevert => {
            let parsed: IntelligentTagRevertSpec = parse(action, spec)?;
            check_text("TagJobId", &parsed.tag_job_id, 64)?;
            canonical(&parsed)
        }
    }
}

/// Reads a spec that [`check_spec`] accepted (a stored one).
pub fn read_spec<T: DeserializeOwned>(spec: &serde_json::Value) -> Result<T> {
    serde_json::from_value(spec.clone()).map_err(|e| Error::internal("reading a job spec", e))
}

fn parse<T: DeserializeOwned>(action: JobAction, spec: serde_json::Value) -> Result<T> {
    // PAI's SDKs send JobSpec as a JSON string; accept that form too.
    let spec = match spec {
        serde_json::Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            Error::invalid(format!(
                "JobSpec of {} is a string but not JSON: {e}",
                action.as_str()
            ))
        })?,
        other => other,
    };
    serde_json::from_value(spec)
        .map_err(|e| Error::invalid(format!("JobSpec of {}: {e}", action.as_str())))
}

fn canonical<T: Serialize>(spec: &T) -> Result<serde_json::Value> {
    serde_json::to_value(spec).map_err(|e| Error::internal("writing a job spec", e))
}

fn check_concurrency(value: Option<u32>) -> Result<()> {
    match value {
        Some(n) if n == 0 || n > MAX_CONCURRENCY => Err(Error::invalid(format!(
            "JobSpec.MaxConcurrency must be 1 to {MAX_CONCURRENCY}, got {n}"
        ))),
        _ => Ok(()),
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max {
        return Err(Error::invalid(format!(
            "JobSpec.{field} must be 1 to {max} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_are_typed_per_action() {
        assert_eq!(
            check_spec(JobAction::SemanticIndex, None).unwrap(),
            json!({})
        );
        let tag = check_spec(
            JobAction::IntelligentTag,
            Some(json!({"TagDefinitionId": "tagdef-1", "MaxConcurrency": 5})),
        )
        .unwrap();
        assert_eq!(
            tag,
            json!({"TagDefinitionId": "tagdef-1", "MaxConcurrency": 5})
        );
        // PAI's SDKs send a JSON string.
        let revert = check_spec(
            JobAction::IntelligentTagRevert,
            Some(json!("{\"TagJobId\":\"dsjob-1\"}")),
        )
        .unwrap();
        assert_eq!(revert, json!({"TagJobId": "dsjob-1"}));
    }

    #[test]
    fn bad_specs_say_what_to_fix() {
        let cases = [
            (JobAction::IntelligentTag, json!({}), "TagDefinitionId"),
            (
                JobAction::IntelligentTag,
                json!({"TagDefinitionId": "x", "Colour": 1}),
                "Colour",
            ),
            (
                JobAction::SemanticIndex,
                json!({"MaxConcurrency": 0}),
                "MaxConcurrency must be 1 to 256",
            ),
            (
                JobAction::IntelligentTagRevert,
                json!({"TagJobId": ""}),
                "TagJobId",
            ),
            (JobAction::SemanticIndex, json!("{not json"), "not JSON"),
            (
                JobAction::FileMetaBuild,
                json!({"A": 1}),
                "takes no options",
            ),
        ];
        for (action, spec, needle) in cases {
            let err = check_spec(action, Some(spec.clone())).unwrap_err();
            assert!(err.message().contains(needle), "{spec}: {}", err.message());
        }
    }
}
