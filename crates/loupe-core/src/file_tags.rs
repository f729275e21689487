//! Tags people edit and the counts a console shows beside a search: PAI's
//! `UpdateDatasetFileMetas` (manual changes to `user` and `user-delete-ai-tags`) and
//! `GetDatasetFileMetasStatistics` (files per folder, type or tag).
//!
//! `ai` tags come from `IntelligentTag` jobs only. A user hides one by adding it to
//! `user-delete-ai-tags`, so what search sees by default is
//! `all` = (`ai` − `user-delete-ai-tags`) ∪ `user`.

use std::collections::HashSet;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::query::TagGroup;
use crate::tag_definition::validate_tag_name;
use crate::{Error, Result};

/// Most files one `UpdateDatasetFileMetas` call changes.
pub const MAX_FILES_PER_UPDATE: usize = 1000;
/// Most tag names one file's entry may add and remove, over both groups.
pub const MAX_TAG_CHANGES_PER_FILE: usize = 100;
/// Buckets `GetDatasetFileMetasStatistics` returns unless `MaxResults` says otherwise.
pub const DEFAULT_STATISTICS: u32 = 100;
/// Most buckets one statistics call returns.
pub const MAX_STATISTICS: u32 = 1000;
/// `FailedDetails[].Result` of an id the version does not hold, as PAI spells it.
pub const NOT_FOUND_RESULT: &str = "Not Found";

/// `UpdateDatasetFileMetas` body: tag changes for many files of one version.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DatasetFileMetasUpdate {
    /// The version, e.g. `v1`.
    pub dataset_version: String,
    /// 1 to 1000 files, each id at most once.
    pub dataset_file_metas: Vec<DatasetFileMetaUpdate>,
    /// Accepted for PAI compatibility; must be the key's own workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Refused: PAI sets `ai` tags with the id of a tagging job; in Loupe only
    /// `IntelligentTag` jobs write `ai` tags.
    #[serde(default)]
    pub tag_job_id: Option<String>,
}

/// The changes to one file (PAI's `DatasetFileMetaConentUpdate`, tags only).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DatasetFileMetaUpdate {
    /// The file meta id.
    pub dataset_file_meta_id: String,
    /// The tag changes; left out, nothing changes.
    #[serde(default)]
    pub tags: TagsUpdate,
}

/// Tag changes by group: `{"user": {"add": […], "remove": […]}, "user-delete-ai-tags": {…}}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsUpdate {
    /// Tags added and removed by hand.
    #[serde(default)]
    pub user: TagChanges,
    /// `ai` tags to hide (`add`) or show again (`remove`).
    #[serde(default, rename = "user-delete-ai-tags")]
    pub user_delete_ai_tags: TagChanges,
    /// Refused: `ai` tags are written by `IntelligentTag` jobs only.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub ai: Option<serde_json::Value>,
}

/// Names to add to and remove from one group.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub struct TagChanges {
    /// Tags to add (1 to 64 characters each; present ones stay).
    #[serde(default)]
    pub add: Vec<String>,
    /// Tags to remove (absent ones are ignored).
    #[serde(default)]
    pub remove: Vec<String>,
}

/// A tag in a stored group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTag {
    /// `User` or `UserDeleteAiTags`.
    pub group: TagGroup,
    /// The name.
    pub tag: String,
}

/// One file's checked changes: no name is both added and removed, none twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTagEdit {
    /// The file meta id.
    pub file_id: String,
    /// Tags to add.
    pub add: Vec<GroupTag>,
    /// Tags to remove.
    pub remove: Vec<GroupTag>,
}

impl DatasetFileMetasUpdate {
    /// The checked edits, or an error naming the first problem and where it is.
    pub fn edits(&self) -> Result<Vec<FileTagEdit>> {
        if self.tag_job_id.is_some() {
            return Err(Error::invalid(AI_REFUSED.replace("{what}", "TagJobId")));
        }
        let files = &self.dataset_file_metas;
        if files.is_empty() || files.len() > MAX_FILES_PER_UPDATE {
            return Err(Error::invalid(format!(
                "DatasetFileMetas must hold 1 to {MAX_FILES_PER_UPDATE} files; it holds {}: split the changes into several calls",
                files.len()
            )));
        }
        let mut seen = HashSet::with_capacity(files.len());
        let mut edits = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            let at = format!("DatasetFileMetas[{i}]");
            let id = file.dataset_file_meta_id.as_str();
            if id.is_empty() {
                return Err(Error::invalid(format!(
                    "{at}.DatasetFileMetaId must not be empty"
                )));
            }
            if !seen.insert(id) {
                return Err(Error::invalid(format!(
                    "{at}.DatasetFileMetaId '{id}' is given twice: merge its changes into one entry"
                )));
            }
            edits.push(file_edit(&at, id, &file.tags)?);
        }
        Ok(edits)
    }
}

const AI_REFUSED: &str = "{what} cannot be set here: PAI needs a TagJobId to set ai tags, and in Loupe \
     only IntelligentTag jobs write them (undo one with IntelligentTagRevert). To hide an ai tag add it \
     to Tags.user-delete-ai-tags; to add your own tags use Tags.user";

fn file_edit(at: &str, id: &str, tags: &TagsUpdate) -> Result<FileTagEdit> {
    if tags.ai.is_some() {
        return Err(Error::invalid(
            AI_REFUSED.replace("{what}", &format!("{at}.Tags.ai")),
        ));
    }
    let groups = [
        (TagGroup::User, &tags.user),
        (TagGroup::UserDeleteAiTags, &tags.user_delete_ai_tags),
    ];
    let changes: usize = groups
        .iter()
        .map(|(_, c)| c.add.len() + c.remove.len())
        .sum();
    if changes > MAX_TAG_CHANGES_PER_FILE {
        return Err(Error::invalid(format!(
            "{at}.Tags adds and removes {changes} tags; at most {MAX_TAG_CHANGES_PER_FILE} per file in one call"
        )));
    }
    // At most 100 names: a linear check keeps the order they were given in.
    let mut add: Vec<GroupTag> = Vec::new();
    let mut remove: Vec<GroupTag> = Vec::new();
    for (group, change) in groups {
        let name = group.as_str();
        for (list, names, into) in [
            ("add", &change.add, &mut add),
            ("remove", &change.remove, &mut remove),
        ] {
            for (j, tag) in names.iter().enumerate() {
                validate_tag_name(tag).map_err(|e| {
                    Error::invalid(format!("{at}.Tags.{name}.{list}[{j}]: {}", e.message()))
                })?;
                let entry = GroupTag {
                    group,
                    tag: tag.clone(),
                };
                if !into.contains(&entry) {
                    into.push(entry);
                }
            }
        }
        if let Some(both) = change.add.iter().find(|t| change.remove.contains(t)) {
            return Err(Error::invalid(format!(
                "{at}.Tags.{name} both adds and removes '{both}': keep it in one of the two lists"
            )));
        }
    }
    Ok(FileTagEdit {
        file_id: id.to_string(),
        add,
        remove,
    })
}

/// A file of an `UpdateDatasetFileMetas` call that was not changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FailedDetail {
    /// The id as sent.
    pub dataset_file_meta_id: String,
    /// Why: `Not Found` when the version holds no file with this id.
    pub result: String,
}

/// What `GetDatasetFileMetasStatistics` counts files by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateBy {
    /// The folder relative to the dataset's URI (`""` at the top).
    FileDir,
    /// The file type (`image`).
    FileType,
    /// The tags of a group; for `all`, each file counts once per tag it has in the
    /// (`ai` − `user-delete-ai-tags`) ∪ `user` sense.
    Tags(TagGroup),
}

/// Every `AggregateBy` value, for messages and docs.
pub const AGGREGATE_BY_VALUES: &str =
    "filedir, file_type, tags.ai, tags.user, tags.user-delete-ai-tags, tags.all";

impl AggregateBy {
    /// The name as PAI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateBy::FileDir => "filedir",
            AggregateBy::FileType => "file_type",
            AggregateBy::Tags(TagGroup::Ai) => "tags.ai",
            AggregateBy::Tags(TagGroup::User) => "tags.user",
            AggregateBy::Tags(TagGroup::UserDeleteAiTags) => "tags.user-delete-ai-tags",
            AggregateBy::Tags(TagGroup::All) => "tags.all",
        }
    }
}

impl FromStr for AggregateBy {
    type Err = Error;

    /// Case-insensitive, as PAI's examples mix cases.
    fn from_str(text: &str) -> Result<Self> {
        let wanted = text.trim().to_ascii_lowercase();
        [
            AggregateBy::FileDir,
            AggregateBy::FileType,
            AggregateBy::Tags(TagGroup::Ai),
            AggregateBy::Tags(TagGroup::User),
            AggregateBy::Tags(TagGroup::UserDeleteAiTags),
            AggregateBy::Tags(TagGroup::All),
        ]
        .into_iter()
        .find(|by| by.as_str() == wanted)
        .ok_or_else(|| {
            Error::invalid(format!(
                "AggregateBy '{}' is not known: use one of {AGGREGATE_BY_VALUES}",
                text.escape_debug()
            ))
        })
    }
}

/// One bucket of the statistics (PAI's `DatasetFileMetasStat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DatasetFileMetasStat {
    /// The folder, type or tag.
    pub key: String,
    /// How many of the matching files it holds.
    pub count: i64,
}

/// The buckets, largest first (ties by key), and how many files matched the filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMetaStatistics {
    /// At most the requested number of buckets.
    pub buckets: Vec<DatasetFileMetasStat>,
    /// Files that pass the filter (each once, whatever its buckets).
    pub total_count: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn update(files: serde_json::Value) -> Result<Vec<FileTagEdit>> {
        let mut body = json!({"DatasetVersion": "v1"});
        body["DatasetFileMetas"] = files;
        serde_json::from_value::<DatasetFileMetasUpdate>(body)
            .unwrap()
            .edits()
    }

    fn tag(group: TagGroup, tag: &str) -> GroupTag {
        GroupTag {
            group,
            tag: tag.into(),
        }
    }

    #[test]
    fn edits_are_deduplicated_per_group() {
        let edits = update(json!([{"DatasetFileMetaId": "a", "Tags": {
            "user": {"add": ["cat", "cat", "dog"], "remove": ["old"]},
            "user-delete-ai-tags": {"add": ["cat"]}}}]))
        .unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(
            edits[0].add,
            [
                tag(TagGroup::User, "cat"),
                tag(TagGroup::User, "dog"),
                tag(TagGroup::UserDeleteAiTags, "cat"),
            ]
        );
        assert_eq!(edits[0].remove, [tag(TagGroup::User, "old")]);
    }

    #[test]
    fn bad_edits_name_what_to_fix() {
        let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
        let files: Vec<_> = (0..1001)
            .map(|i| json!({"DatasetFileMetaId": format!("f{i}")}))
            .collect();
        for (files, needle) in [
            (json!([]), "1 to 1000 files"),
            (json!(files), "it holds 1001"),
            (json!([{"DatasetFileMetaId": ""}]), "must not be empty"),
            (
                json!([{"DatasetFileMetaId": "a"}, {"DatasetFileMetaId": "a"}]),
                "DatasetFileMetas[1].DatasetFileMetaId 'a' is given twice",
            ),
            (
                json!([{"DatasetFileMetaId": "a", "Tags": {"ai": ["cat"]}}]),
                "DatasetFileMetas[0].Tags.ai cannot be set here: PAI needs a TagJobId",
            ),
            (
                json!([{"DatasetFileMetaId": "a", "Tags": {"user": {"add": [" cat"]}}}]),
                "DatasetFileMetas[0].Tags.user.add[0]: tag name",
            ),
            (
                json!([{"DatasetFileMetaId": "a", "Tags": {"user-delete-ai-tags": {"remove": ["x".repeat(65)]}}}]),
                "Tags.user-delete-ai-tags.remove[0]",
            ),
            (
                json!([{"DatasetFileMetaId": "a", "Tags": {"user": {"add": ["x"], "remove": ["x"]}}}]),
                "both adds and removes 'x'",
            ),
            (
                json!([{"DatasetFileMetaId": "a", "Tags": {"user": {"add": many}}}]),
                "at most 100 per file",
            ),
        ] {
            let err = update(files).expect_err(needle);
            assert!(
                err.message().contains(needle),
                "{needle}: {}",
                err.message()
            );
        }
        let body = json!({"DatasetVersion": "v1", "TagJobId": "dsjob-1", "DatasetFileMetas": [{"DatasetFileMetaId": "a"}]});
        let err = serde_json::from_value::<DatasetFileMetasUpdate>(body)
            .unwrap()
            .edits()
            .unwrap_err();
        assert!(
            err.message().starts_with("TagJobId cannot be set"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn aggregate_by_ignores_case_and_lists_the_choices() {
        assert_eq!(
            "TAGS.User-Delete-AI-Tags".parse::<AggregateBy>().unwrap(),
            AggregateBy::Tags(TagGroup::UserDeleteAiTags)
        );
        assert_eq!(
            "FileDir".parse::<AggregateBy>().unwrap(),
            AggregateBy::FileDir
        );
        let err = "tags".parse::<AggregateBy>().unwrap_err();
        assert!(
            err.message().contains(AGGREGATE_BY_VALUES),
            "{}",
            err.message()
        );
    }
}
