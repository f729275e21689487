//! The filter as a parameterised SQL `WHERE` fragment over `file_metas f` (and
//! `file_tags` in subqueries), for PostgreSQL and SQLite.
//!
//! Every value from the expression is bound; the SQL text holds only column names,
//! operators and fixed constants. The fragment is two-valued like the evaluator: a
//! comparison on a nullable column is guarded with `IS NOT NULL`, so `NOT` of a
//! comparison on an absent value is true on both engines.
//!
//! An exact tag condition (`Tags.G = "…"`, and every tag list of a search) is
//! `f.file_id IN (SELECT t.file_id FROM file_tags t WHERE t.version_id = <version> AND
//! t.grp … AND t.tag …)`: not correlated with the row, so each engine reads the tag's files
//! once from the `(version_id, grp, tag, file_id)` index and joins them (PostgreSQL pulls
//! the `IN` up into a semi-join; SQLite walks the list), instead of probing the tag index
//! once per file of the version. Exact tags of one group ORed together share one subquery.
//! The subquery names the version by the statement's first placeholder (`$1`, `?1`):
//! every statement that embeds a fragment binds the version row first.
//!
//! `:` is `strpos(lower(col COLLATE "C"), ?) > 0` on PostgreSQL and
//! `instr(lower(col), ?) > 0` on SQLite, with the needle ASCII-lowercased before it is
//! bound: no pattern language, so `%`, `_` and `\` are literal, and both engines fold
//! ASCII letters only (`lower` in PostgreSQL folds by the column's locale, but by ASCII
//! alone under the `C` collation; `translate` would too, at ten times the cost).

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

/// Compiles `expr`, numbering placeholders from `first_param`, after the statement's
/// own parameters. The statement binds the version row as its first parameter (tag
/// subqueries read it there), so `first_param` is at least 2.
pub fn compile(expr: &Expr, dialect: Dialect, first_param: usize) -> SqlFilter {
    debug_assert!(first_param >= 2, "placeholder 1 is the version row");
    let mut compiler = Compiler::new(dialect, first_param);
    compiler.expr(expr);
    compiler.finish()
}

/// Like [`compile`], but an exact tag's files are looked up per row in a set built
/// once, never joined: for a page in sort order over a tag on thousands of files, a
/// walk of the sort index that stops at the page's last row is cheaper than joining
/// every file of the tag and sorting them, and neither planner picks the walk itself
/// (PostgreSQL only ever hashes a subquery it did not turn into a join; SQLite always
/// starts from an `IN` list it can use).
pub fn compile_for_walk(expr: &Expr, dialect: Dialect, first_param: usize) -> SqlFilter {
    debug_assert!(first_param >= 2, "placeholder 1 is the version row");
    let mut compiler = Compiler::new(dialect, first_param);
    compiler.walk = true;
    compiler.expr(expr);
    compiler.finish()
}

/// A statement that counts the version's files passing `expr` from the tag index alone,
/// when `expr` is made only of exact tag conditions (under `AND`, `OR`, and `NOT` at the
/// top or beside a positive condition in an `AND`); `None` otherwise. Every tag row
/// belongs to a file of its version, so the distinct file ids of the tag rows are the
/// filter's files without reading `file_metas`; a negation at the top is the version's
/// count less the others. Placeholders as in [`compile`].
pub fn compile_tag_count(expr: &Expr, dialect: Dialect, first_param: usize) -> Option<SqlFilter> {
    debug_assert!(first_param >= 2, "placeholder 1 is the version row");
    let mut compiler = Compiler::new(dialect, first_param);
    let version = compiler.version();
    match expr {
        Expr::Not(inner) => {
            compiler.push(&format!(
                "SELECT (SELECT COUNT(*) FROM file_metas f WHERE f.version_id = {version}) - (SELECT COUNT(DISTINCT c.file_id) FROM ("
            ));
            compiler.tag_set(inner)?;
            compiler.push(") c)");
        }
        _ => {
            compiler.push("SELECT COUNT(DISTINCT c.file_id) FROM (");
            compiler.tag_set(expr)?;
            compiler.push(") c");
        }
    }
    Some(compiler.finish())
}

/// The correlation of a tag subquery aliased `t` with the file row.
const TAGS_OF_FILE: &str =
    "SELECT 1 FROM file_tags t WHERE t.version_id = f.version_id AND t.file_id = f.file_id";

struct Compiler {
    dialect: Dialect,
    next: usize,
    sql: String,
    params: Vec<SqlValue>,
    /// Subquery aliases used so far (PostgreSQL wants each `FROM (…)` named).
    aliases: usize,
    /// Exact tags as per-row lookups ([`compile_for_walk`]).
    walk: bool,
}

/// An exact tag condition: the group and the tag.
fn exact_tag(expr: &Expr) -> Option<(TagGroup, &str)> {
    match expr {
        Expr::Pred(Predicate::Tag {
            group,
            op: TextOp::Exact,
            value,
        }) => Some((*group, value.as_str())),
        _ => None,
    }
}

impl Compiler {
    fn new(dialect: Dialect, first_param: usize) -> Self {
        Self {
            dialect,
            next: first_param,
            sql: String::new(),
            params: Vec::new(),
            aliases: 0,
            walk: false,
        }
    }

    fn finish(self) -> SqlFilter {
        SqlFilter {
            sql: self.sql,
            params: self.params,
        }
    }

    /// The statement's placeholder of the version row.
    fn version(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "$1",
            Dialect::Sqlite => "?1",
        }
    }

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
            Expr::Or(items) => self.any_of(items),
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

    /// An `OR`: the exact tags of each group in one `IN`, then the other items.
    fn any_of(&mut self, items: &[Expr]) {
        let mut groups: Vec<(TagGroup, Vec<&str>)> = Vec::new();
        let mut others = Vec::new();
        for item in items {
            match exact_tag(item) {
                Some((group, tag)) => match groups.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, tags)) => tags.push(tag),
                    None => groups.push((group, vec![tag])),
                },
                None => others.push(item),
            }
        }
        self.push("(");
        for (i, (group, tags)) in groups.iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            self.tag_in(*group, tags);
        }
        for (i, item) in others.into_iter().enumerate() {
            if i > 0 || !groups.is_empty() {
                self.push(" OR ");
            }
            self.expr(item);
        }
        self.push(")");
    }

    /// `f.file_id IN (…)`: the version's files with one of `tags` in `group`.
    fn tag_in(&mut self, group: TagGroup, tags: &[&str]) {
        // `IS TRUE` keeps PostgreSQL from making the `IN` a join (it hashes the list);
        // unary `+` keeps SQLite from looping over it (it builds a lookup table).
        let (open, close) = match (self.walk, self.dialect) {
            (false, _) => ("f.file_id IN (", ")"),
            (true, Dialect::Postgres) => ("(f.file_id IN (", ")) IS TRUE"),
            (true, Dialect::Sqlite) => ("+f.file_id IN (", ")"),
        };
        self.push(open);
        self.tag_rows(group, tags);
        self.push(close);
    }

    /// A `SELECT t.file_id` of the version's files with one of `tags` in `group` (ids
    /// may repeat). `all` is `user`, or `ai` unless the user rejected that AI tag:
    /// - PostgreSQL: one scan of the tag index for every tag, the rejections as a hashed
    ///   `(file, tag)` list; one statement keeps the planner's row estimate, which picks
    ///   between starting from the tag's files and walking the sort order;
    /// - SQLite: one branch per tag, since it cannot look up a `(file, tag)` list and
    ///   would compare every tag row with every rejection.
    fn tag_rows(&mut self, group: TagGroup, tags: &[&str]) {
        debug_assert!(!tags.is_empty(), "a tag list");
        let version = self.version();
        let select =
            format!("SELECT t.file_id FROM file_tags t WHERE t.version_id = {version} AND t.grp");
        if group != TagGroup::All {
            self.push(&format!("{select} = "));
            self.bind(SqlValue::Text(group.as_str().into()));
            self.push(" AND t.tag IN (");
            self.bind_list(tags);
            self.push(")");
            return;
        }
        let rejected = format!("FROM file_tags d WHERE d.version_id = {version} AND d.grp = ");
        let branches: Vec<&[&str]> = match self.dialect {
            Dialect::Postgres => vec![tags],
            Dialect::Sqlite => tags.chunks(1).collect(),
        };
        for (i, branch) in branches.into_iter().enumerate() {
            if i > 0 {
                self.push(" UNION ALL ");
            }
            self.push(&format!("{select} IN ("));
            self.bind(SqlValue::Text(TagGroup::User.as_str().into()));
            self.push(", ");
            self.bind(SqlValue::Text(TagGroup::Ai.as_str().into()));
            self.push(") AND t.tag IN (");
            self.bind_list(branch);
            self.push(") AND (t.grp = ");
            self.bind(SqlValue::Text(TagGroup::User.as_str().into()));
            match self.dialect {
                Dialect::Postgres => self.push(&format!(
                    " OR (t.file_id, t.tag) NOT IN (SELECT d.file_id, d.tag {rejected}"
                )),
                Dialect::Sqlite => self.push(&format!(
                    " OR t.file_id NOT IN (SELECT d.file_id {rejected}"
                )),
            }
            self.bind(SqlValue::Text(TagGroup::UserDeleteAiTags.as_str().into()));
            self.push(" AND d.tag IN (");
            self.bind_list(branch);
            self.push(")))");
        }
    }

    fn bind_list(&mut self, values: &[&str]) {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(SqlValue::Text(value.to_string()));
        }
    }

    /// The file ids (repeating) of a tag-only filter over `file_tags`: `OR` is
    /// `UNION ALL`, `AND` is `INTERSECT` of its positive parts `EXCEPT` its negated ones;
    /// `None` as soon as a part is anything else.
    fn tag_set(&mut self, expr: &Expr) -> Option<()> {
        if let Some((group, tag)) = exact_tag(expr) {
            self.tag_rows(group, &[tag]);
            return Some(());
        }
        let parts: Vec<(&Expr, &str)> = match expr {
            Expr::Or(items) => items.iter().map(|i| (i, " UNION ALL ")).collect(),
            Expr::And(items) => {
                let (negated, positive): (Vec<&Expr>, Vec<&Expr>) =
                    items.iter().partition(|i| matches!(i, Expr::Not(_)));
                if positive.is_empty() {
                    return None;
                }
                let negated = negated.into_iter().filter_map(|n| match n {
                    Expr::Not(inner) => Some((&**inner, " EXCEPT ")),
                    _ => None,
                });
                positive
                    .into_iter()
                    .map(|p| (p, " INTERSECT "))
                    .chain(negated)
                    .collect()
            }
            _ => return None,
        };
        if parts.is_empty() {
            return None;
        }
        for (i, (part, operator)) in parts.into_iter().enumerate() {
            if i > 0 {
                self.push(operator);
            }
            // A compound member is a plain SELECT on both engines: wrap each part.
            self.aliases += 1;
            let alias = format!("s{}", self.aliases);
            self.push(&format!("SELECT {alias}.file_id FROM ("));
            self.tag_set(part)?;
            self.push(&format!(") {alias}"));
        }
        Some(())
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
            Predicate::Tag {
                group,
                op: TextOp::Exact,
                value,
            } => self.tag_in(*group, &[value.as_str()]),
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
                    Dialect::Postgres => format!("strpos(lower({column} COLLATE \"C\"), "),
                    Dialect::Sqlite => format!("instr(lower({column}), "),
                };
                self.push(&folded);
                self.bind(SqlValue::Text(value.to_ascii_lowercase()));
                self.push(") > 0");
            }
        }
    }

    /// A substring or `HAS` tag clause, per file: such a clause cannot use the tag index,
    /// and a correlated `EXISTS` lets a sorted page stop at its last row.
    fn tag(&mut self, group: TagGroup, condition: Option<(TextOp, &str)>) {
        debug_assert!(
            !matches!(condition, Some((TextOp::Exact, _))),
            "exact tags compile to an IN"
        );
        if group != TagGroup::All {
            self.stored_tag(group, condition);
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

    /// The placeholders in the text, in order, but the version row's (1).
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
            match digits.parse() {
                Ok(1) | Err(_) => {}
                Ok(n) => found.push(n),
            }
        }
        found
    }

    #[test]
    fn placeholders_are_numbered_from_the_first_index_on_both_dialects() {
        let expression = r#"FileName:"a" AND (DataSize > 3 OR Tags.all="x" OR Tags.ai="y" OR Tags.ai="z") AND NOT HAS ImageWidth AND Tags.user:"w""#;
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
                    let sql = compiled(&expression, dialect, 2);
                    assert!(!sql.sql.contains("1=1"), "{}", sql.sql);
                    assert!(!sql.sql.contains("DROP"), "{}", sql.sql);
                    // The only quoted identifier is the collation the compiler writes.
                    let unquoted = sql.sql.replace(r#"COLLATE "C""#, "");
                    assert!(!unquoted.contains('"'), "{}", sql.sql);
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
        let sql = compiled(r#"FileDir:"Blue_CAR É""#, Dialect::Postgres, 2);
        assert_eq!(sql.sql, r#"(strpos(lower(f.dir COLLATE "C"), $2) > 0)"#);
        assert_eq!(sql.params, [SqlValue::Text("blue_car É".into())]);
        let sql = compiled(r#"FileDir:"Blue_CAR É""#, Dialect::Sqlite, 3);
        assert_eq!(sql.sql, "(instr(lower(f.dir), ?3) > 0)");
    }

    #[test]
    fn nullable_columns_are_guarded_so_not_is_two_valued() {
        let sql = compiled("NOT ImageWidth > 10", Dialect::Postgres, 2);
        assert_eq!(
            sql.sql,
            "(NOT (f.width IS NOT NULL AND f.width > $2::int8))"
        );
        assert_eq!(sql.params, [SqlValue::Int(10)]);
        let sql = compiled("DataSize <= 1.5", Dialect::Sqlite, 2);
        assert_eq!(sql.sql, "(f.size <= ?2)");
        assert_eq!(sql.params, [SqlValue::Float(1.5)]);
    }

    #[test]
    fn postgres_placeholders_of_numbers_carry_their_type() {
        // The same text for an integer and a float would share a cached statement.
        let int = compiled("DataSize > 2", Dialect::Postgres, 2);
        let float = compiled("DataSize > 2.5", Dialect::Postgres, 2);
        assert_eq!(int.sql, "(f.size > $2::int8)");
        assert_eq!(float.sql, "(f.size > $2::float8)");
    }

    #[test]
    fn times_bind_milliseconds() {
        let sql = compiled(
            r#"FileUpdateTime >= "2025-02-28T00:00:00.123Z""#,
            Dialect::Postgres,
            2,
        );
        assert_eq!(sql.sql, "(f.updated_at >= $2::int8)");
        assert_eq!(sql.params, [SqlValue::Int(1_740_700_800_123)]);
    }

    #[test]
    fn exact_tags_read_the_tag_index_once_for_the_version() {
        let sql = compiled(r#"Tags.user-delete-ai-tags = "cat""#, Dialect::Postgres, 2);
        assert_eq!(
            sql.sql,
            "f.file_id IN (SELECT t.file_id FROM file_tags t WHERE t.version_id = $1 AND t.grp = $2 AND t.tag IN ($3))"
        );
        assert_eq!(
            sql.params,
            [
                SqlValue::Text("user-delete-ai-tags".into()),
                SqlValue::Text("cat".into())
            ]
        );
        // ORed tags of a group share one subquery; other items stay beside it.
        let sql = compiled(
            r#"Tags.ai = "a" OR FileName = "n" OR Tags.ai = "b""#,
            Dialect::Sqlite,
            2,
        );
        assert_eq!(
            sql.sql,
            "(f.file_id IN (SELECT t.file_id FROM file_tags t WHERE t.version_id = ?1 AND t.grp = ?2 AND t.tag IN (?3, ?4)) OR (f.name = ?5))"
        );
    }

    #[test]
    fn the_all_group_leaves_out_rejected_ai_tags_of_the_same_tag() {
        let expression = r#"Tags.all = "a" OR Tags.all = "b""#;
        let sql = compiled(expression, Dialect::Postgres, 2);
        assert_eq!(
            sql.sql,
            "(f.file_id IN (SELECT t.file_id FROM file_tags t WHERE t.version_id = $1 AND t.grp IN ($2, $3) \
             AND t.tag IN ($4, $5) AND (t.grp = $6 OR (t.file_id, t.tag) NOT IN (SELECT d.file_id, d.tag \
             FROM file_tags d WHERE d.version_id = $1 AND d.grp = $7 AND d.tag IN ($8, $9)))))"
        );
        let sql = compiled(expression, Dialect::Sqlite, 2);
        let branch = |n: usize| {
            format!(
                "SELECT t.file_id FROM file_tags t WHERE t.version_id = ?1 AND t.grp IN (?{}, ?{}) \
                 AND t.tag IN (?{}) AND (t.grp = ?{} OR t.file_id NOT IN (SELECT d.file_id \
                 FROM file_tags d WHERE d.version_id = ?1 AND d.grp = ?{} AND d.tag IN (?{})))",
                n,
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            )
        };
        assert_eq!(
            sql.sql,
            format!("(f.file_id IN ({} UNION ALL {}))", branch(2), branch(8))
        );
    }

    #[test]
    fn tag_counts_cover_exact_tags_under_and_or_not_only() {
        let count = |expression: &str| {
            let filter = parse(expression).unwrap().filter.unwrap();
            compile_tag_count(&filter, Dialect::Sqlite, 2).map(|s| s.sql)
        };
        let ai = |n: usize| {
            format!(
                "SELECT t.file_id FROM file_tags t WHERE t.version_id = ?1 AND t.grp = ?{n} AND t.tag IN (?{})",
                n + 1
            )
        };
        assert_eq!(
            count(r#"Tags.ai = "a" AND (Tags.ai = "b" OR Tags.ai = "c") AND NOT Tags.ai = "d""#),
            Some(format!(
                "SELECT COUNT(DISTINCT c.file_id) FROM (SELECT s1.file_id FROM ({}) s1 \
                 INTERSECT SELECT s2.file_id FROM (SELECT s3.file_id FROM ({}) s3 UNION ALL SELECT s4.file_id FROM ({}) s4) s2 \
                 EXCEPT SELECT s5.file_id FROM ({}) s5) c",
                ai(2),
                ai(4),
                ai(6),
                ai(8)
            ))
        );
        assert_eq!(
            count(r#"NOT (Tags.ai = "a" OR Tags.ai = "b")"#),
            Some(format!(
                "SELECT (SELECT COUNT(*) FROM file_metas f WHERE f.version_id = ?1) - (SELECT COUNT(DISTINCT c.file_id) FROM (\
                 SELECT s1.file_id FROM ({}) s1 UNION ALL SELECT s2.file_id FROM ({}) s2) c)",
                ai(2),
                ai(4)
            ))
        );
        for other in [
            r#"NOT Tags.ai = "a" AND NOT Tags.ai = "b""#,
            r#"Tags.ai = "a" AND FileName = "x""#,
            r#"Tags.ai = "a" OR NOT Tags.ai = "b""#,
            r#"Tags.ai : "a""#,
            r#"HAS Tags.ai"#,
        ] {
            assert_eq!(count(other), None, "{other}");
        }
    }
}
