//! The filter evaluated in memory against one file: the plain statement of the
//! semantics that the SQL compiler must agree with (the property tests compare them).

use super::ast::{
    Expr, Field, Number, NumberField, Predicate, RangeOp, TagGroup, TextField, TextOp, TimeField,
};

/// What a filter can see of one file meta. Times are milliseconds since the epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchableFile {
    /// File name.
    pub name: String,
    /// Folder relative to the dataset's URI.
    pub dir: String,
    /// Full URI.
    pub uri: String,
    /// Bytes.
    pub size: i64,
    /// `image`.
    pub file_type: String,
    /// MIME type.
    pub content_type: String,
    /// Creation time.
    pub created_at: i64,
    /// Update time.
    pub updated_at: i64,
    /// Width, once probed.
    pub width: Option<i64>,
    /// Height, once probed.
    pub height: Option<i64>,
    /// The job that last indexed the file.
    pub semantic_index_job_id: Option<String>,
    /// When the file was last indexed.
    pub semantic_index_update_time: Option<i64>,
    /// When the tags last changed.
    pub tag_update_time: Option<i64>,
    /// Tags of the `ai` group.
    pub tags_ai: Vec<String>,
    /// Tags of the `user` group.
    pub tags_user: Vec<String>,
    /// Tags of the `user-delete-ai-tags` group.
    pub tags_user_delete_ai_tags: Vec<String>,
}

impl SearchableFile {
    /// The tags of a group; `all` is (ai − user-delete-ai-tags) ∪ user.
    pub fn tags(&self, group: TagGroup) -> Vec<&str> {
        fn strs(tags: &[String]) -> Vec<&str> {
            tags.iter().map(String::as_str).collect()
        }
        match group {
            TagGroup::Ai => strs(&self.tags_ai),
            TagGroup::User => strs(&self.tags_user),
            TagGroup::UserDeleteAiTags => strs(&self.tags_user_delete_ai_tags),
            TagGroup::All => {
                let mut all: Vec<&str> = self
                    .tags_ai
                    .iter()
                    .filter(|t| !self.tags_user_delete_ai_tags.contains(t))
                    .map(String::as_str)
                    .collect();
                all.extend(self.tags_user.iter().map(String::as_str));
                all
            }
        }
    }

    fn text(&self, field: TextField) -> Option<&str> {
        Some(match field {
            TextField::FileName => &self.name,
            TextField::FileDir => &self.dir,
            TextField::Uri => &self.uri,
            TextField::FileType => &self.file_type,
            TextField::ContentType => &self.content_type,
            TextField::SemanticIndexJobId => return self.semantic_index_job_id.as_deref(),
        })
    }

    fn number(&self, field: NumberField) -> Option<i64> {
        match field {
            NumberField::DataSize => Some(self.size),
            NumberField::ImageWidth => self.width,
            NumberField::ImageHeight => self.height,
        }
    }

    fn time(&self, field: TimeField) -> Option<i64> {
        match field {
            TimeField::FileCreateTime => Some(self.created_at),
            TimeField::FileUpdateTime => Some(self.updated_at),
            TimeField::TagUpdateTime => self.tag_update_time,
            TimeField::SemanticIndexUpdateTime => self.semantic_index_update_time,
        }
    }

    fn has(&self, field: Field) -> bool {
        match field {
            Field::Text(f) => self.text(f).is_some(),
            Field::Number(f) => self.number(f).is_some(),
            Field::Time(f) => self.time(f).is_some(),
            Field::Tags(group) => !self.tags(group).is_empty(),
        }
    }
}

/// Whether `haystack` contains `needle`, folding only ASCII letters: the `:` operator.
/// (Byte windows compared with ASCII folding: the same answer as lowercasing both and
/// searching, without allocating, since the in-memory index runs it a million times.)
pub fn contains_ascii_case_insensitive(haystack: &str, needle: &str) -> bool {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

pub(super) fn text_matches(op: TextOp, actual: &str, value: &str) -> bool {
    match op {
        TextOp::Exact => actual == value,
        TextOp::Contains => contains_ascii_case_insensitive(actual, value),
    }
}

pub(super) fn number_matches(op: RangeOp, actual: i64, value: Number) -> bool {
    match value {
        Number::Int(v) => op.holds(&actual, &v),
        // As PostgreSQL compares bigint with double precision: the integer is converted.
        Number::Float(v) => op.holds(&(actual as f64), &v),
    }
}

impl Expr {
    /// The ids of the files that pass the filter, sorted: the set a search must return.
    pub fn select<'a>(
        &self,
        files: impl IntoIterator<Item = &'a (String, SearchableFile)>,
    ) -> Vec<String> {
        let mut ids: Vec<String> = files
            .into_iter()
            .filter(|(_, file)| self.matches(file))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Whether the file passes the filter.
    pub fn matches(&self, file: &SearchableFile) -> bool {
        match self {
            Expr::And(items) => items.iter().all(|e| e.matches(file)),
            Expr::Or(items) => items.iter().any(|e| e.matches(file)),
            Expr::Not(inner) => !inner.matches(file),
            Expr::Pred(predicate) => predicate.matches(file),
        }
    }
}

impl Predicate {
    /// Whether the file passes this one clause. An absent value fails every comparison.
    pub fn matches(&self, file: &SearchableFile) -> bool {
        match self {
            Predicate::Has(field) => file.has(*field),
            Predicate::Text { field, op, value } => file
                .text(*field)
                .is_some_and(|actual| text_matches(*op, actual, value)),
            Predicate::Tag { group, op, value } => file
                .tags(*group)
                .iter()
                .any(|tag| text_matches(*op, tag, value)),
            Predicate::Number { field, op, value } => file
                .number(*field)
                .is_some_and(|actual| number_matches(*op, actual, *value)),
            Predicate::Time { field, op, value } => file
                .time(*field)
                .is_some_and(|actual| op.holds(&actual, &value.millis())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn file() -> SearchableFile {
        SearchableFile {
            name: "Toyota_50%.JPG".into(),
            dir: "cars/blue_car".into(),
            uri: "s3://b/cars/blue_car/Toyota_50%.JPG".into(),
            size: 2048,
            file_type: "image".into(),
            content_type: "image/jpeg".into(),
            created_at: 1_740_700_800_000,
            updated_at: 1_740_700_800_000,
            tags_ai: vec!["lane line".into(), "barrier gate".into(), "Élan".into()],
            tags_user: vec!["rainy days".into()],
            tags_user_delete_ai_tags: vec!["barrier gate".into()],
            ..SearchableFile::default()
        }
    }

    fn holds(expression: &str) -> bool {
        let query = parse(expression).unwrap();
        query.filter.expect("a filter").matches(&file())
    }

    #[test]
    fn token_match_is_a_literal_ascii_case_insensitive_substring() {
        assert!(holds(r#"FileName:"toyota_50%.jpg""#));
        assert!(holds(r#"FileName:"A_5""#));
        assert!(!holds(r#"FileName:"a%5""#));
        assert!(!holds(r#"FileName:"toyota.jpg""#));
        assert!(holds(r#"FileDir:"blue_car""#));
    }

    #[test]
    fn exact_match_is_case_sensitive() {
        assert!(holds(r#"FileName="Toyota_50%.JPG""#));
        assert!(!holds(r#"FileName="toyota_50%.jpg""#));
    }

    #[test]
    fn case_folding_is_ascii_only() {
        assert!(holds(r#"Tags.ai:"élan" OR Tags.ai:"ÉLAN""#));
        assert!(!holds(r#"Tags.ai:"élan""#));
        assert!(holds(r#"Tags.ai:"ÉlAN""#));
    }

    #[test]
    fn all_tags_drop_rejected_ai_tags_and_add_user_tags() {
        assert!(holds(r#"Tags.all="lane line""#));
        assert!(!holds(r#"Tags.all="barrier gate""#));
        assert!(holds(r#"Tags.ai="barrier gate""#));
        assert!(holds(r#"Tags.all="rainy days""#));
        assert!(holds(r#"Tags.all:"RAINY""#));
    }

    #[test]
    fn comparisons_on_absent_values_are_false_and_their_negation_true() {
        assert!(!holds("ImageWidth > 0"));
        assert!(!holds("ImageWidth <= 0"));
        assert!(holds("NOT ImageWidth > 0"));
        assert!(!holds("HAS ImageWidth"));
        assert!(holds("NOT HAS SemanticIndexJobId"));
        assert!(!holds(r#"SemanticIndexJobId:"""#));
    }

    #[test]
    fn has_is_true_for_fields_that_are_never_absent() {
        assert!(holds(
            "HAS FileName AND HAS DataSize AND HAS FileUpdateTime"
        ));
        assert!(holds("HAS Tags.user"));
        assert!(holds("HAS Tags.all AND HAS Tags.user-delete-ai-tags"));
    }

    #[test]
    fn numbers_and_times_compare_numerically() {
        assert!(holds(
            "DataSize = 2048 AND DataSize >= 2048 AND DataSize < 2049"
        ));
        assert!(holds("DataSize > 2047.5 AND DataSize < 2048.5"));
        assert!(!holds("DataSize = 2048.5"));
        assert!(holds(r#"FileUpdateTime = "2025-02-28""#));
        assert!(holds(r#"FileUpdateTime = "2025-02-28T08:00:00+08:00""#));
        assert!(holds(r#"FileUpdateTime < "2025-02-28T00:00:00.001Z""#));
        assert!(!holds(r#"FileUpdateTime > "2025-02-28T00:00:00Z""#));
    }
}
