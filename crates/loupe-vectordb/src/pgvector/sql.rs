//! The statement text of the pgvector adapter. Identifiers (schema, table, the
//! extension's schema) are always double-quoted here and values are always bound, so no
//! name or value a user chose can change a statement's meaning.
//!
//! Index names map to table names like this: a name that is already a lowercase
//! PostgreSQL identifier of at most 63 bytes (`a`–`z`, `0`–`9`, `_`) is the table name
//! itself, so a table created by hand for an index works unchanged. Any other name is
//! lowercased, every other character becomes `_`, it is cut to 46 bytes and gets `_`
//! plus 16 hex digits of a hash of the original name, so two names never share a table
//! by accident and the result stays within PostgreSQL's 63-byte limit.

use std::fmt::Write;

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
const MAX_IDENT: usize = 63;

/// PostgreSQL accepts at most 65535 bind parameters in one statement.
const MAX_BIND_PARAMS: usize = 65_535;

/// The columns of the seed schema, in insert order.
pub const COLUMNS: [&str; 7] = [
    "id",
    "index_set_id",
    "file_meta_id",
    "dataset_id",
    "dataset_version",
    "uri",
    "file_vector",
];

/// Rows per INSERT: under the bind-parameter limit, and small enough that a statement
/// of 1024-dimensional vectors stays a few megabytes.
pub const ROWS_PER_INSERT: usize = {
    let by_params = MAX_BIND_PARAMS / COLUMNS.len();
    if by_params < 500 {
        by_params
    } else {
        500
    }
};

/// The largest dimension pgvector's HNSW index takes for `vector` columns; larger
/// indexes are scanned exactly.
pub const HNSW_MAX_DIM: usize = 2000;

/// The largest dimension of a `vector` column.
pub const MAX_DIM: usize = 16_000;

/// `"name"`, with inner quotes doubled.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The table that holds an index (see the module docs for the mapping).
pub fn table_name(index: &str) -> String {
    let plain = !index.is_empty()
        && index.len() <= MAX_IDENT
        && index
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        return index.to_string();
    }
    let mut base: String = index
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .take(46)
        .collect();
    write!(base, "_{:016x}", fnv1a(index.as_bytes())).expect("writing to a string");
    debug_assert!(base.len() <= MAX_IDENT);
    base
}

/// FNV-1a, 64 bits: stable across builds and machines, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// pgvector's text form of a vector, `[1,-0.5,0.25]`. Rust prints the shortest decimal
/// that reads back as the same `f32`, so nothing is lost on the way.
pub fn vector_text(values: &[f32]) -> String {
    let mut text = String::with_capacity(values.len() * 11 + 2);
    text.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        write!(text, "{v}").expect("writing to a string");
    }
    text.push(']');
    text
}

/// Where the tables live and where pgvector's type and operators live: they are
/// qualified with the extension's schema, so the statements do not depend on the
/// connection's `search_path`.
#[derive(Debug, Clone)]
pub struct Names {
    /// The quoted schema of the tables.
    pub schema: String,
    /// The quoted schema of the extension.
    pub ext: String,
}

impl Names {
    /// Names for tables in `schema` with the extension installed in `ext_schema`.
    pub fn new(schema: &str, ext_schema: &str) -> Self {
        Self {
            schema: quote(schema),
            ext: quote(ext_schema),
        }
    }

    /// `"schema"."table"`.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{}", self.schema, quote(table))
    }

    /// The statements that create an index's table: the seed schema, a btree on
    /// `index_set_id`, and an HNSW index on inner product when `hnsw` (for cosine too,
    /// since Loupe stores normalised vectors). Index names are left to PostgreSQL, which
    /// keeps them unique and within the identifier limit.
    pub fn create_table(&self, table: &str, dim: usize, hnsw: bool) -> Vec<String> {
        let t = self.table(table);
        let mut statements = vec![
            format!(
                "CREATE TABLE {t} (id text PRIMARY KEY, index_set_id text NOT NULL, \
                 file_meta_id text NOT NULL, dataset_id text, dataset_version text, uri text, \
                 file_vector {ext}.vector({dim}) NOT NULL)",
                ext = self.ext
            ),
            format!("CREATE INDEX ON {t} (index_set_id)"),
        ];
        if hnsw {
            statements.push(format!(
                "CREATE INDEX ON {t} USING hnsw (file_vector {}.vector_ip_ops)",
                self.ext
            ));
        }
        statements
    }

    /// An upsert of `rows` records; parameters go row by row in [`COLUMNS`] order.
    pub fn upsert(&self, table: &str, rows: usize) -> String {
        debug_assert!(rows > 0 && rows * COLUMNS.len() <= MAX_BIND_PARAMS);
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES ",
            self.table(table),
            COLUMNS.join(", ")
        );
        for row in 0..rows {
            let p = row * COLUMNS.len();
            if row > 0 {
                sql.push_str(", ");
            }
            write!(
                sql,
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}::{}.vector)",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                self.ext
            )
            .expect("writing to a string");
        }
        sql.push_str(" ON CONFLICT (id) DO UPDATE SET ");
        let updates: Vec<String> = COLUMNS[1..]
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        sql.push_str(&updates.join(", "));
        sql
    }

    /// The best `$3` file metas of set `$1` for query `$2`, as (file_meta_id, score).
    ///
    /// `Exact` reads every row of the set (and of the candidates `$4`) into a
    /// materialised CTE and sorts them, which no vector index can serve, so the answer is
    /// the brute-force top-k. `Approximate` lets the planner use HNSW; with relaxed-order
    /// iterative scans results may come slightly out of order, so they are sorted again.
    pub fn search(&self, table: &str, kind: SearchKind) -> String {
        let t = self.table(table);
        let distance = format!(
            "file_vector OPERATOR({}.<#>) $2::{}.vector",
            self.ext, self.ext
        );
        match kind {
            SearchKind::Exact { candidates } => {
                let only = if candidates {
                    " AND file_meta_id = ANY($4)"
                } else {
                    ""
                };
                format!(
                    "WITH scored AS MATERIALIZED (SELECT file_meta_id, {distance} AS distance \
                     FROM {t} WHERE index_set_id = $1{only}) \
                     SELECT file_meta_id, -distance AS score FROM scored ORDER BY distance LIMIT $3"
                )
            }
            SearchKind::Approximate => format!(
                "WITH nearest AS MATERIALIZED (SELECT file_meta_id, {distance} AS distance \
                 FROM {t} WHERE index_set_id = $1 ORDER BY distance LIMIT $3) \
                 SELECT file_meta_id, -distance AS score FROM nearest ORDER BY distance"
            ),
        }
    }
}

/// Deletes an index set (`$1`) from `table` (quoted), or only its file metas in `$2`
/// when `by_files`.
pub fn delete(table: &str, by_files: bool) -> String {
    let mut sql = format!("DELETE FROM {table} WHERE index_set_id = $1");
    if by_files {
        sql.push_str(" AND file_meta_id = ANY($2)");
    }
    sql
}

/// Counts an index set (`$1`) of `table` (quoted).
pub fn count(table: &str) -> String {
    format!("SELECT count(*) FROM {table} WHERE index_set_id = $1")
}

/// How a search may rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    /// Brute force over the set, restricted to the candidates `$4` when `candidates`.
    Exact {
        /// Whether `$4` holds candidate file meta ids.
        candidates: bool,
    },
    /// Whatever the planner picks, HNSW included.
    Approximate,
}

/// The dimension and element type of an index table's `file_vector` column, its
/// `vector` typmod being the dimension (-1 when the column declares none).
pub const TABLE_VECTOR_COLUMN: &str = "SELECT t.typname::text, a.atttypmod \
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
     WHERE a.attrelid = to_regclass($1) AND a.attname = 'file_vector' AND NOT a.attisdropped";

/// Whether a relation exists: `to_regclass` answers NULL instead of failing.
pub const TABLE_EXISTS: &str = "SELECT to_regclass($1) IS NOT NULL";

/// The installed extension's version and schema.
pub const INSTALLED_EXTENSION: &str = "SELECT e.extversion, n.nspname::text \
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
     WHERE e.extname = 'vector'";

/// Whether the server can install the extension.
pub const AVAILABLE_EXTENSION: &str =
    "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'vector'";

/// Whether a schema exists.
pub const SCHEMA_EXISTS: &str = "SELECT count(*) > 0 FROM pg_namespace WHERE nspname = $1";

/// Sets HNSW's candidate list and turns on iterative scans for this transaction only,
/// so a filter on the index set still yields `k` hits (pgvector ≥ 0.8).
pub const HNSW_SETTINGS: &str = "SELECT set_config('hnsw.ef_search', $1, true), \
     set_config('hnsw.iterative_scan', 'relaxed_order', true)";

/// HNSW's candidate list for `k` hits: at least `k` (pgvector caps it at 1000; iterative
/// scans go on past it) and at least 100, which keeps recall high for small `k`.
pub fn ef_search(k: usize) -> usize {
    k.clamp(100, 1000)
}

/// A pgvector version such as `0.8.0` as comparable numbers.
pub fn parse_version(text: &str) -> (u32, u32, u32) {
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_index_names_are_their_own_tables_and_others_are_hashed() {
        assert_eq!(table_name("clip_vit_b32"), "clip_vit_b32");
        let odd = table_name("CLIP ViT-B/32");
        assert!(odd.starts_with("clip_vit_b_32_"), "{odd}");
        assert_eq!(odd.len(), "clip_vit_b_32_".len() + 16);
        assert_ne!(table_name("a-b"), table_name("a.b"), "same sanitised text");
        let long = "x".repeat(64);
        assert!(table_name(&long).len() <= 63);
        assert_ne!(table_name(&long), table_name(&"x".repeat(65)));
        let hostile = table_name("a\"; DROP TABLE t; --");
        assert!(hostile.starts_with("a___drop_table_t____"), "{hostile}");
        assert!(hostile
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        assert!(table_name("").starts_with('_'));
    }

    #[test]
    fn identifiers_are_quoted_and_vectors_are_exact_text() {
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            vector_text(&[1.0, -0.5, 0.1, 1e-7]),
            "[1,-0.5,0.1,0.0000001]"
        );
        let v = [0.123_456_79_f32, -3.402_823_5e38, 1.0e-45];
        let text = vector_text(&v);
        let back: Vec<f32> = text[1..text.len() - 1]
            .split(',')
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(back, v);
        assert_eq!(vector_text(&[]), "[]");
    }

    #[test]
    fn statements_quote_every_identifier_and_bind_every_value() {
        let names = Names::new("loupe", "public");
        assert_eq!(
            names.create_table("idx", 3, true),
            vec![
                "CREATE TABLE \"loupe\".\"idx\" (id text PRIMARY KEY, index_set_id text NOT NULL, \
                 file_meta_id text NOT NULL, dataset_id text, dataset_version text, uri text, \
                 file_vector \"public\".vector(3) NOT NULL)",
                "CREATE INDEX ON \"loupe\".\"idx\" (index_set_id)",
                "CREATE INDEX ON \"loupe\".\"idx\" USING hnsw (file_vector \"public\".vector_ip_ops)",
            ]
        );
        assert_eq!(names.create_table("idx", 3, false).len(), 2);
        assert_eq!(
            names.upsert("idx", 2),
            "INSERT INTO \"loupe\".\"idx\" (id, index_set_id, file_meta_id, dataset_id, dataset_version, uri, file_vector) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::\"public\".vector), ($8, $9, $10, $11, $12, $13, $14::\"public\".vector) \
             ON CONFLICT (id) DO UPDATE SET index_set_id = EXCLUDED.index_set_id, file_meta_id = EXCLUDED.file_meta_id, \
             dataset_id = EXCLUDED.dataset_id, dataset_version = EXCLUDED.dataset_version, uri = EXCLUDED.uri, \
             file_vector = EXCLUDED.file_vector"
        );
        assert_eq!(
            delete(&names.table("idx"), true),
            "DELETE FROM \"loupe\".\"idx\" WHERE index_set_id = $1 AND file_meta_id = ANY($2)"
        );
        assert_eq!(
            names.search("idx", SearchKind::Exact { candidates: true }),
            "WITH scored AS MATERIALIZED (SELECT file_meta_id, file_vector OPERATOR(\"public\".<#>) $2::\"public\".vector AS distance \
             FROM \"loupe\".\"idx\" WHERE index_set_id = $1 AND file_meta_id = ANY($4)) \
             SELECT file_meta_id, -distance AS score FROM scored ORDER BY distance LIMIT $3"
        );
        assert_eq!(
            names.search("idx", SearchKind::Approximate),
            "WITH nearest AS MATERIALIZED (SELECT file_meta_id, file_vector OPERATOR(\"public\".<#>) $2::\"public\".vector AS distance \
             FROM \"loupe\".\"idx\" WHERE index_set_id = $1 ORDER BY distance LIMIT $3) \
             SELECT file_meta_id, -distance AS score FROM nearest ORDER BY distance"
        );
    }

    #[test]
    fn inserts_stay_under_the_bind_limit_and_versions_compare() {
        assert!(ROWS_PER_INSERT * COLUMNS.len() <= MAX_BIND_PARAMS);
        assert!(parse_version("0.8.0") >= (0, 8, 0));
        assert!(parse_version("0.7.4") < (0, 8, 0));
        assert!(parse_version("0.10") > (0, 8, 0));
        assert_eq!(ef_search(10), 100);
        assert_eq!(ef_search(500), 500);
        assert_eq!(ef_search(5000), 1000);
    }
}
