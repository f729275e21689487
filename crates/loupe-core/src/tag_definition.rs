//! Tag definitions (PAI's "Intelligent Tag Definition"): a guide prompt and the tags a
//! tagging model may give, each with a description. Every change to the prompt or the
//! tags bumps `DefinitionVersion`, so an `Increment` tagging job knows which files were
//! tagged under an older definition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::TagDefinitionId;
use crate::model::TagSpec;
use crate::time::Timestamp;
use crate::{Error, Result};

/// Most tags one definition may hold: every one goes into the prompt.
pub const MAX_TAGS: usize = 200;
const MAX_TAG_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 2_000;
const MAX_PROMPT: usize = 8_000;

/// A tag definition as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TagDefinition {
    /// The id (`tagdef-…`).
    pub tag_definition_id: TagDefinitionId,
    /// Unique within the workspace.
    pub tag_definition_name: String,
    /// Instructions for the tagging model, e.g. "You are a seasoned driver…".
    pub guide_prompt: String,
    /// Tag name → what it means; the model may answer with these names only.
    pub tag_definitions: BTreeMap<String, String>,
    /// Starts at 1 and grows with every change of `GuidePrompt` or `TagDefinitions`.
    pub definition_version: i64,
    /// Free text.
    pub description: String,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_create_time: Timestamp,
    /// When it was last changed.
    #[schema(value_type = String, format = DateTime)]
    pub gmt_modified_time: Timestamp,
}

impl TagDefinition {
    /// What a tagger needs.
    pub fn spec(&self) -> TagSpec {
        TagSpec {
            prompt: self.guide_prompt.clone(),
            tags: self.tag_definitions.clone(),
        }
    }
}

/// `CreateTagDefinition` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NewTagDefinition {
    /// 1 to 128 letters, digits, `_`, `-` or `.`.
    pub tag_definition_name: String,
    /// Instructions for the model (up to 8,000 characters).
    #[serde(default)]
    pub guide_prompt: String,
    /// 1 to 200 tags: name (1 to 64 characters) → description (up to 2,000).
    pub tag_definitions: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
}

/// `UpdateTagDefinition` body: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagDefinitionUpdate {
    /// New name.
    pub tag_definition_name: Option<String>,
    /// New prompt (bumps the version).
    pub guide_prompt: Option<String>,
    /// New tags, replacing all (bumps the version).
    pub tag_definitions: Option<BTreeMap<String, String>>,
    /// New description.
    pub description: Option<String>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    pub workspace_id: Option<String>,
}

/// Checks a prompt and its tags, naming the first problem.
pub fn validate(prompt: &str, tags: &BTreeMap<String, String>, description: &str) -> Result<()> {
    if prompt.chars().count() > MAX_PROMPT {
        return Err(Error::invalid(format!(
            "GuidePrompt is longer than {MAX_PROMPT} characters"
        )));
    }
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::invalid(format!(
            "Description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    if tags.is_empty() || tags.len() > MAX_TAGS {
        return Err(Error::invalid(format!(
            "TagDefinitions must hold 1 to {MAX_TAGS} tags, as {{\"tag name\": \"what it means\"}}; it holds {}",
            tags.len()
        )));
    }
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    for (name, description) in tags {
        validate_tag_name(name)?;
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(Error::invalid(format!(
                "the description of tag '{name}' is longer than {MAX_DESCRIPTION} characters"
            )));
        }
        // A model's answer is matched without regard to case, so names must differ by more.
        if let Some(other) = folded.insert(name.to_lowercase(), name) {
            return Err(Error::invalid(format!(
                "tags '{other}' and '{name}' differ only in case: a model's answer could not tell them apart"
            )));
        }
    }
    Ok(())
}

/// Checks one tag name: the same rules hold for defined tags and for tags users add by
/// hand, so a user tag can always be named in a definition later.
pub fn validate_tag_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    if name.trim() != name || len == 0 || len > MAX_TAG_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "tag name '{}' must be 1 to {MAX_TAG_NAME} characters without control characters or leading/trailing spaces",
            name.escape_debug()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_the_first_problem() {
        assert!(validate("p", &tags(&[("Cone", "a cone")]), "").is_ok());
        for (prompt, t, needle) in [
            ("p", tags(&[]), "1 to 200 tags"),
            ("p", tags(&[(" Cone", "x")]), "leading/trailing"),
            ("p", tags(&[("", "x")]), "1 to 64"),
            ("p", tags(&[("a\nb", "x")]), "control"),
            (
                "p",
                tags(&[("Cone", "x"), ("cone", "y")]),
                "differ only in case",
            ),
            (&"x".repeat(8_001), tags(&[("a", "b")]), "GuidePrompt"),
            (
                "p",
                tags(&[("a", &"d".repeat(2_001))]),
                "description of tag 'a'",
            ),
        ] {
            let err = validate(prompt, &t, "").expect_err(needle);
            assert!(
                err.message().contains(needle),
                "{needle}: {}",
                err.message()
            );
        }
        let many: BTreeMap<String, String> =
            (0..201).map(|i| (format!("t{i}"), String::new())).collect();
        assert!(validate("", &many, "").is_err());
    }
}
