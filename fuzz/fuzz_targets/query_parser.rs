//! Any UTF-8 input ends in a query or an `InvalidQueryExpression`: never a panic, never
//! a stack overflow, in time linear in the input. A parsed filter must also evaluate and
//! compile for both dialects, with one bound value per placeholder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_core::query::{compile, parse, Dialect, SearchableFile};
use loupe_core::ErrorCode;

fuzz_target!(|input: &str| {
    let query = match parse(input) {
        Ok(query) => query,
        Err(err) => {
            assert_eq!(err.code(), ErrorCode::InvalidQueryExpression);
            return;
        }
    };
    let Some(filter) = query.filter else { return };
    filter.matches(&SearchableFile::default());
    for (dialect, sigil) in [(Dialect::Postgres, '$'), (Dialect::Sqlite, '?')] {
        let sql = compile(&filter, dialect, 1);
        assert_eq!(sql.sql.matches(sigil).count(), sql.params.len());
    }
});
