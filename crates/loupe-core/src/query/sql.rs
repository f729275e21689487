//! The filter as a parameterised SQL `WHERE` fragment over `file_metas f` (and
//! `file_tags` in subqueries), for PostgreSQL and SQLite.
//!
//! Every value from the expression is bound; the SQL text holds only column names,
//! operators and fixed constants. The fragment is two-valued like the evaluator: a
//! comparison on a nullable column is guarded with `IS NOT NULL`, so `NOT` of a
//! comparison on an absent value is true on both engines.
//!
//! `:` is `strpos(translate(col, 'A…Z', 'a…z'), ?) > 0` on PostgreSQL and
//! `instr(lower(col), ?) > 0` on SQLite, with the needle ASCII-lowercased before it is
//! bound: no pattern language, so `%`, `_` and `\` are literal, and both engines fold
//! ASCII letters only (`lower` in PostgreSQL folds by locale; `translate` does not).

use super::ast::{
    Expr, Field, Number, NumberField, Predicate, RangeOp, TagGroup, TextField, TextOp, TimeField,
};

/// The alias the fragment uses for `file_metas`: write `FROM file_metas f`.
pub const FILE_ALIAS: &str = "f";

/// Which SQL the fragment is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Placeholders `$n` (`$n::int8`, `$n::float8` for numbers).
    Postgres,
    /// Placeholders `?n`: numbered like PostgreSQL's, because sqlx numbers bare `?`
    /// apart from `$n`, and the rest of a statement may use either.
    Sqlite,
}

/// A bound value, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// A string (compare with text columns).
    Text(String),
    /// An integer (sizes, pixels, milliseconds).
    Int(i64),
    /// A decimal compared with an integer column.
    Float(f64),
}

/// A compiled filter: `sql` uses placeholders `first_param ..` that take `params` in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFilter {
    /// A boolean SQL expression, parenthesised.
    pub sql: String,
    /// The values of the placeholders.
    pub params: Vec<SqlValue>,
}

/// Compiles `expr`, numbering placeholders from `first_param` (1 when the fragment
/// binds first; after the statement's own parameters otherwise).
pub fn compile(expr: &Expr, dialect: Dialect, first_param: usize) -> SqlFilter {
    debug_assert!(first_param >= 1, "placeholders are numbered from 1");
    let mut compiler = Compiler {
        dialect,
        next: first_param,
        sql: String::new(),
        params: Vec::new(),
    };
    compiler.expr(expr);
    SqlFilter {
        sql: compiler.sql,
        params: compiler.params,
    }
}

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

/// The correlation of a tag subquery aliased `t` with the file row.
const TAGS_OF_FILE: &str =
    "SELECT 1 FROM file_tags t WHERE t.version_id = f.version_id AND t.file_id = f.file_id";

struct Compiler {
    dialect: Dialect,
    next: usize,
    sql: String,
    params: Vec<SqlValue>,
}

impl Compiler {
    fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    /// Binds a value and writes its placeholder. On PostgreSQL a number's placeholder
    /// carries its type: a prepared statement is cached by its text, and `f.size > $2`
    /// prepared for an integer would read a float's bytes as an integer.
    fn bind(&mut self, value: SqlValue) {
        let n = self.next;
        let placeholder = match (self.dialect, &value) {
            (Dialect::Postgres, SqlValue::Text(_)) => format!("${n}"),
            (Dialect::Postgres, SqlValue::Int(_)) => format!("${n}::int8"),
            (Dialect::Postgres, SqlValue::Float(_)) => format!("${n}::float8"),
            (Dialect::Sqlite, _) => format!("?{n}"),
        };
        self.sql.push_str(&placeholder);
        self.next += 1;
        self.params.push(value);
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::And(items) => self.join(items, " AND "),
            Expr::Or(items) => self.join(items, " OR "),
            Expr::Not(inner) => {
                self.push("(NOT ");
                self.expr(inner);
                self.push(")");
            }
            Expr::Pred(predicate) => self.predicate(predicate),
        }
    }

    fn join(&mut self, items: &[Expr], separator: &str) {
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(separator);
            }
            self.expr(item);
        }
        self.push(")");
    }

    fn predicate(&mut self, predicate: &Predicate) {
        match predicate {
            Predicate::Has(Field::Tags(group)) => self.tag(*group, None),
            Predicate::Has(field) => {
                let sql = match field.is_nullable() {
                    true => format!("({} IS NOT NULL)", column(*field)),
                    false => "(1 = 1)".to_string(),
                };
                self.push(&sql);
            }
            Predicate::Text { field, op, value } => {
                let field = Field::Text(*field);
                self.guarded(field, |c| c.text_match(column(field), *op, value));
            }
            Predicate::Tag { group, op, value } => self.tag(*group, Some((*op, value))),
            Predicate::Number { field, op, value } => {
                let value = match *value {
                    Number::Int(i) => SqlValue::Int(i),
                    Number::Float(f) => SqlValue::Float(f),
                };
                self.comparison(Field::Number(*field), *op, value);
            }
            Predicate::Time { field, op, value } => {
                self.comparison(Field::Time(*field), *op, SqlValue::Int(value.millis()));
            }
        }
    }

    /// Writes `(col IS NOT NULL AND …)` around a clause on a nullable column.
    fn guarded(&mut self, field: Field, clause: impl FnOnce(&mut Self)) {
        self.push("(");
        if field.is_nullable() {
            self.push(column(field));
            self.push(" IS NOT NULL AND ");
        }
        clause(self);
        self.push(")");
    }

    fn comparison(&mut self, field: Field, op: RangeOp, value: SqlValue) {
        self.guarded(field, |c| {
            c.push(column(field));
            c.push(" ");
            c.push(op.symbol());
            c.push(" ");
            c.bind(value);
        });
    }

    fn text_match(&mut self, column: &str, op: TextOp, value: &str) {
        match op {
            TextOp::Exact => {
                self.push(column);
                self.push(" = ");
                self.bind(SqlValue::Text(value.to_string()));
            }
            TextOp::Contains => {
                let folded = match self.dialect {
                    Dialect::Postgres => {
                        format!("strpos(translate({column}, '{UPPER}', '{LOWER}'), ")
                    }
                    Dialect::Sqlite => format!("instr(lower({column}), "),
                };
                self.push(&folded);
                self.bind(SqlValue::Text(value.to_ascii_lowercase()));
                self.push(") > 0");
            }
        }
    }

    /// A tag clause: `condition` on the tag, or none for `HAS`.
    fn tag(&mut self, group: TagGroup, condition: Option<(TextOp, &str)>) {
        if group != TagGroup::All {
            self.stored_tag(group, condition);
            return;
        }
        if let Some((TextOp::Exact, value)) = condition {
            // Exact: three probes of the (version, group, tag) index.
            self.push("(");
            self.stored_tag(TagGroup::User, condition);
            self.push(" OR (");
            self.stored_tag(TagGroup::Ai, condition);
            self.push(" AND NOT ");
            self.stored_tag(TagGroup::UserDeleteAiTags, Some((TextOp::Exact, value)));
            self.push("))");
            return;
        }
        // Substring or HAS: some user tag, or some AI tag that was not rejected.
        self.push("EXISTS (");
        self.push(TAGS_OF_FILE);
        if let Some((op, value)) = condition {
            self.push(" AND ");
            self.text_match("t.tag", op, value);
        }
        self.push(" AND (t.grp = ");
        self.bind(SqlValue::Text(TagGroup::User.as_str().into()));
        self.push(" OR (t.grp = ");
        self.bind(SqlValue::Text(TagGroup::Ai.as_str().into()));
        self.push(" AND NOT EXISTS (SELECT 1 FROM file_tags d WHERE d.version_id = t.version_id AND d.file_id = t.file_id AND d.grp = ");
        self.bind(SqlValue::Text(TagGroup::UserDeleteAiTags.as_str().into()));
        self.push(" AND d.tag = t.tag))))");
    }

    fn stored_tag(&mut self, group: TagGroup, condition: Option<(TextOp, &str)>) {
        debug_assert!(group != TagGroup::All, "all is not stored");
        self.push("EXISTS (");
        self.push(TAGS_OF_FILE);
        self.push(" AND t.grp = ");
        self.bind(SqlValue::Text(group.as_str().into()));
        if let Some((op, value)) = condition {
            self.push(" AND ");
            self.text_match("t.tag", op, value);
        }
        self.push(")");
    }
}

/// The `file_metas` column of a field (tags have none).
fn column(field: Field) -> &'static str {
    match field {
        Field::Text(TextField::FileName) => "f.name",
        Field::Text(TextField::FileDir) => "f.dir",
        Field::Text(TextField::Uri) => "f.uri",
        Field::Text(TextField::FileType) => "f.file_type",
        Field::Text(TextField::ContentType) => "f.content_type",
        Field::Text(TextField::SemanticIndexJobId) => "f.semantic_index_job_id",
        Field::Number(NumberField::DataSize) => "f.size",
        Field::Number(NumberField::ImageWidth) => "f.width",
        Field::Number(NumberField::ImageHeight) => "f.height",
        Field::Time(TimeField::FileCreateTime) => "f.created_at",
        Field::Time(TimeField::FileUpdateTime) => "f.updated_at",
        Field::Time(TimeField::TagUpdateTime) => "f.tag_update_time",
        Field::Time(TimeField::SemanticIndexUpdateTime) => "f.semantic_index_update_time",
        Field::Tags(_) => unreachable!("tag clauses compile to subqueries"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn compiled(expression: &str, dialect: Dialect, first: usize) -> SqlFilter {
        let filter = parse(expression).unwrap().filter.unwrap();
        compile(&filter, dialect, first)
    }

    /// The placeholders in the text, in order.
    fn placeholders(sql: &str, sigil: char) -> Vec<usize> {
        let mut found = Vec::new();
        for (i, c) in sql.char_indices() {
            if c != sigil {
                continue;
            }
            let digits: String = sql[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse() {
                found.push(n);
            }
        }
        found
    }

    #[test]
    fn placeholders_are_numbered_from_the_first_index_on_both_dialects() {
        let expression =
            r#"FileName:"a" AND (DataSize > 3 OR Tags.all="x") AND NOT HAS ImageWidth"#;
        for (dialect, sigil) in [(Dialect::Postgres, '$'), (Dialect::Sqlite, '?')] {
            let sql = compiled(expression, dialect, 4);
            let expected: Vec<usize> = (4..4 + sql.params.len()).collect();
            assert_eq!(placeholders(&sql.sql, sigil), expected, "{}", sql.sql);
        }
    }

    #[test]
    fn values_are_bound_never_written_into_the_sql() {
        let hostile = r#"' OR 1=1 -- %_\ "; DROP TABLE file_metas; ø"#;
        let escaped = hostile.replace('\\', "\\\\").replace('"', "\\\"");
        for field in [
            "FileName",
            "Uri",
            "Tags.all",
            "Tags.user",
            "SemanticIndexJobId",
        ] {
            for op in ["=", ":"] {
                let expression = format!(r#"{field} {op} "{escaped}""#);
                for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                    let sql = compiled(&expression, dialect, 1);
                    assert!(!sql.sql.contains("1=1"), "{}", sql.sql);
                    assert!(!sql.sql.contains("DROP"), "{}", sql.sql);
                    assert!(!sql.sql.contains('"'), "{}", sql.sql);
                    let bound = SqlValue::Text(if op == "=" {
                        hostile.to_string()
                    } else {
                        hostile.to_ascii_lowercase()
                    });
                    assert!(sql.params.contains(&bound), "{:?}", sql.params);
                }
            }
        }
    }

    #[test]
    fn token_match_binds_the_ascii_lowercased_needle() {
        let sql = compiled(r#"FileDir:"Blue_CAR É""#, Dialect::Postgres, 1);
        assert_eq!(
            sql.sql,
            "(strpos(translate(f.dir, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), $1) > 0)"
        );
        assert_eq!(sql.params, [SqlValue::Text("blue_car É".into())]);
        let sql = compiled(r#"FileDir:"Blue_CAR É""#, Dialect::Sqlite, 2);
        assert_eq!(sql.sql, "(instr(lower(f.dir), ?2) > 0)");
    }

    #[test]
    fn nullable_columns_are_guarded_so_not_is_two_valued() {
        let sql = compiled("NOT ImageWidth > 10", Dialect::Postgres, 1);
        assert_eq!(
            sql.sql,
            "(NOT (f.width IS NOT NULL AND f.width > $1::int8))"
        );
        assert_eq!(sql.params, [SqlValue::Int(10)]);
        let sql = compiled("DataSize <= 1.5", Dialect::Sqlite, 1);
        assert_eq!(sql.sql, "(f.size <= ?1)");
        assert_eq!(sql.params, [SqlValue::Float(1.5)]);
    }

    #[test]
    fn postgres_placeholders_of_numbers_carry_their_type() {
        // The same text for an integer and a float would share a cached statement.
        let int = compiled("DataSize > 2", Dialect::Postgres, 1);
        let float = compiled("DataSize > 2.5", Dialect::Postgres, 1);
        assert_eq!(int.sql, "(f.size > $1::int8)");
        assert_eq!(float.sql, "(f.size > $1::float8)");
    }

    #[test]
    fn times_bind_milliseconds() {
        let sql = compiled(
            r#"FileUpdateTime >= "2025-02-28T00:00:00.123Z""#,
            Dialect::Postgres,
            1,
        );
        assert_eq!(sql.sql, "(f.updated_at >= $1::int8)");
        assert_eq!(sql.params, [SqlValue::Int(1_740_700_800_123)]);
    }

    #[test]
    fn stored_tag_groups_bind_the_group_and_the_tag() {
        let sql = compiled(r#"Tags.user-delete-ai-tags = "cat""#, Dialect::Postgres, 1);
        assert_eq!(
            sql.sql,
            "EXISTS (SELECT 1 FROM file_tags t WHERE t.version_id = f.version_id AND t.file_id = f.file_id AND t.grp = $1 AND t.tag = $2)"
        );
        assert_eq!(
            sql.params,
            [
                SqlValue::Text("user-delete-ai-tags".into()),
                SqlValue::Text("cat".into())
            ]
        );
    }
}
