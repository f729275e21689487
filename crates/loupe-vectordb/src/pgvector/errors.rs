//! What a PostgreSQL failure means to Loupe. Driver errors stop here: callers get
//! domain errors whose messages name what to fix and never a credential (the server's
//! text for an authentication failure names the user, which is a secret here).

use loupe_core::vector::{index_not_found, refused, unavailable};
use loupe_core::Error;

/// The store's name in messages.
pub const STORE: &str = "pgvector";

/// SQLSTATE classes and codes the adapter treats specially.
mod sqlstate {
    /// `undefined_table`.
    pub const UNDEFINED_TABLE: &str = "42P01";
    /// `invalid_schema_name`: the schema of `Configs.Database` does not exist (yet).
    pub const INVALID_SCHEMA_NAME: &str = "3F000";
    /// `duplicate_table`: another process created the table first.
    pub const DUPLICATE_TABLE: &str = "42P07";
    /// `unique_violation`: two `CREATE TABLE`s raced on the catalog.
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// `insufficient_privilege`.
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// `invalid_catalog_name`: the database in the endpoint does not exist.
    pub const INVALID_CATALOG_NAME: &str = "3D000";
    /// `data_exception`, which pgvector raises for a vector of the wrong dimension.
    pub const DATA_EXCEPTION: &str = "22000";
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether repeating the request may succeed: transport failures, a full pool, and the
/// server's connection, resource, shutdown, timeout and serialization errors. A TLS
/// failure is not: a certificate or a build without TLS does not change between tries.
pub fn transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(_) => sqlstate(err).is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(
                    code.as_str(),
                    "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

/// The table, or its schema, is missing.
pub fn is_undefined_table(err: &sqlx::Error) -> bool {
    matches!(
        sqlstate(err).as_deref(),
        Some(sqlstate::UNDEFINED_TABLE | sqlstate::INVALID_SCHEMA_NAME)
    )
}

/// A concurrent `CREATE TABLE` of the same table won.
pub fn is_creation_race(err: &sqlx::Error) -> bool {
    matches!(
        sqlstate(err).as_deref(),
        Some(sqlstate::DUPLICATE_TABLE | sqlstate::UNIQUE_VIOLATION)
    )
}

/// pgvector refused a vector whose length differs from the column's.
pub fn is_dimension_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some(sqlstate::DATA_EXCEPTION)
                && db.message().contains("dimensions")
        }
        _ => false,
    }
}

/// Whether the failure is about permissions.
pub fn is_insufficient_privilege(err: &sqlx::Error) -> bool {
    sqlstate(err).as_deref() == Some(sqlstate::INSUFFICIENT_PRIVILEGE)
}

/// The domain error for a failure of `what` (e.g. `searching index 'x'`); `index` names
/// the index when the failure may be its absence.
pub fn to_domain(err: sqlx::Error, what: &str, index: Option<&str>) -> Error {
    if let (Some(index), true) = (index, is_undefined_table(&err)) {
        return index_not_found(index);
    }
    if transient(&err) {
        return unavailable(STORE, err);
    }
    let code = sqlstate(&err).unwrap_or_default();
    if code.starts_with("28") {
        return refused(
            STORE,
            format!("{what}: the server did not accept the credentials: check Secrets.Username and Secrets.Password"),
        );
    }
    if code == sqlstate::INVALID_CATALOG_NAME {
        return refused(
            STORE,
            format!("{what}: the database in Configs.Endpoint does not exist"),
        );
    }
    match &err {
        // The server's own text: it names relations, types and values, never a password.
        sqlx::Error::Database(db) => refused(STORE, format!("{what}: {}", db.message())),
        sqlx::Error::Tls(tls) => refused(STORE, format!("{what}: TLS failed: {tls}")),
        sqlx::Error::Configuration(_) => refused(
            STORE,
            format!("{what}: Configs.Endpoint is not a valid postgres:// URL"),
        ),
        _ => Error::internal(format!("{STORE}: {what}"), err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_core::ErrorCode;

    #[test]
    fn transport_failures_are_retried_and_refusals_are_not() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(transient(&io));
        assert!(transient(&sqlx::Error::PoolTimedOut));
        assert!(!transient(&sqlx::Error::RowNotFound));
        let err = to_domain(sqlx::Error::PoolTimedOut, "searching index 'x'", Some("x"));
        assert_eq!(err.code(), ErrorCode::VectorStoreUnavailable);
        let err = to_domain(sqlx::Error::Configuration("bad".into()), "connecting", None);
        assert_eq!(err.code(), ErrorCode::VectorStoreError);
        assert!(err.message().contains("Configs.Endpoint"), "{err}");
    }
}
