//! The typed filter a `QueryExpression` parses to. Every predicate already names a field
//! of the right kind with an operator that applies to it and a value of the field's
//! type, so the evaluator and the SQL compiler cannot meet an ill-typed clause.

use crate::time::Timestamp;

/// A boolean filter over the file metas of one version.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every operand holds (at least two operands; nested `And`s are flattened).
    And(Vec<Expr>),
    /// Some operand holds (at least two operands; nested `Or`s are flattened).
    Or(Vec<Expr>),
    /// The operand does not hold.
    Not(Box<Expr>),
    /// One clause.
    Pred(Predicate),
}

/// One clause of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `HAS field`: the field has a value (see [`Field::is_nullable`]); for a tag group,
    /// the group holds at least one tag.
    Has(Field),
    /// `FileName = "…"` or `FileName : "…"`.
    Text {
        /// The field.
        field: TextField,
        /// Exact or substring.
        op: TextOp,
        /// The string as written (escapes resolved).
        value: String,
    },
    /// `Tags.all = "…"` (the group holds that tag) or `Tags.all : "…"` (some tag of the
    /// group contains the text).
    Tag {
        /// The group.
        group: TagGroup,
        /// Exact or substring.
        op: TextOp,
        /// The tag or text as written.
        value: String,
    },
    /// `DataSize >= 1024`.
    Number {
        /// The field.
        field: NumberField,
        /// The comparison.
        op: RangeOp,
        /// The number.
        value: Number,
    },
    /// `FileUpdateTime > "2025-02-28T00:00:00Z"`.
    Time {
        /// The field.
        field: TimeField,
        /// The comparison.
        op: RangeOp,
        /// The instant, to the millisecond.
        value: Timestamp,
    },
}

/// Any searchable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A string field.
    Text(TextField),
    /// A numeric field.
    Number(NumberField),
    /// A time field.
    Time(TimeField),
    /// A tag group.
    Tags(TagGroup),
}

/// Fields holding a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// The file name.
    FileName,
    /// The folder relative to the dataset's URI.
    FileDir,
    /// The full storage URI.
    Uri,
    /// `image`.
    FileType,
    /// The MIME type.
    ContentType,
    /// The semantic-index job that last indexed the file; absent until indexed.
    SemanticIndexJobId,
}

/// Fields holding an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberField {
    /// Bytes.
    DataSize,
    /// Pixels; absent until probed.
    ImageWidth,
    /// Pixels; absent until probed.
    ImageHeight,
}

/// Fields holding an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// When the file was created.
    FileCreateTime,
    /// When the file last changed.
    FileUpdateTime,
    /// When the file's tags last changed; absent until tagged.
    TagUpdateTime,
    /// When the file was last indexed; absent until indexed.
    SemanticIndexUpdateTime,
}

/// PAI's tag groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagGroup {
    /// Tags from tagging jobs.
    Ai,
    /// Tags people added.
    User,
    /// AI tags people rejected.
    UserDeleteAiTags,
    /// What search sees by default: (ai − user-delete-ai-tags) ∪ user. Not stored.
    All,
}

/// `=` (exact, case-sensitive) or `:` (substring, ASCII case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// `=`
    Exact,
    /// `:`
    Contains,
}

/// The comparisons of numbers and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    /// `=`
    Eq,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// A numeric literal: integers stay exact, decimals compare as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// `100`, `-3`.
    Int(i64),
    /// `1.5` (always finite).
    Float(f64),
}

impl Field {
    /// The canonical name, as the DSL and error messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Text(f) => f.name(),
            Field::Number(f) => f.name(),
            Field::Time(f) => f.name(),
            Field::Tags(g) => g.field_name(),
        }
    }

    /// Whether a file may have no value for the field. `HAS` is always true for the
    /// others.
    pub fn is_nullable(self) -> bool {
        matches!(
            self,
            Field::Text(TextField::SemanticIndexJobId)
                | Field::Number(NumberField::ImageWidth | NumberField::ImageHeight)
                | Field::Time(TimeField::TagUpdateTime | TimeField::SemanticIndexUpdateTime)
        )
    }
}

impl TextField {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            TextField::FileName => "FileName",
            TextField::FileDir => "FileDir",
            TextField::Uri => "Uri",
            TextField::FileType => "FileType",
            TextField::ContentType => "ContentType",
            TextField::SemanticIndexJobId => "SemanticIndexJobId",
        }
    }
}

impl NumberField {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            NumberField::DataSize => "DataSize",
            NumberField::ImageWidth => "ImageWidth",
            NumberField::ImageHeight => "ImageHeight",
        }
    }
}

impl TimeField {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            TimeField::FileCreateTime => "FileCreateTime",
            TimeField::FileUpdateTime => "FileUpdateTime",
            TimeField::TagUpdateTime => "TagUpdateTime",
            TimeField::SemanticIndexUpdateTime => "SemanticIndexUpdateTime",
        }
    }
}

impl TagGroup {
    /// The three groups that are stored (`all` is derived from them).
    pub const STORED: [TagGroup; 3] = [TagGroup::Ai, TagGroup::User, TagGroup::UserDeleteAiTags];

    /// The group's name as PAI and the `file_tags.grp` column spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TagGroup::Ai => "ai",
            TagGroup::User => "user",
            TagGroup::UserDeleteAiTags => "user-delete-ai-tags",
            TagGroup::All => "all",
        }
    }

    /// The DSL field name, `Tags.<group>`.
    pub fn field_name(self) -> &'static str {
        match self {
            TagGroup::Ai => "Tags.ai",
            TagGroup::User => "Tags.user",
            TagGroup::UserDeleteAiTags => "Tags.user-delete-ai-tags",
            TagGroup::All => "Tags.all",
        }
    }
}

impl RangeOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            RangeOp::Eq => "=",
            RangeOp::Gt => ">",
            RangeOp::Ge => ">=",
            RangeOp::Lt => "<",
            RangeOp::Le => "<=",
        }
    }

    /// Whether `left op right` holds.
    pub fn holds<T: PartialOrd>(self, left: &T, right: &T) -> bool {
        match self {
            RangeOp::Eq => left == right,
            RangeOp::Gt => left > right,
            RangeOp::Ge => left >= right,
            RangeOp::Lt => left < right,
            RangeOp::Le => left <= right,
        }
    }
}
