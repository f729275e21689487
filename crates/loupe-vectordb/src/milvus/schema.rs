//! The seed guide's record schema as a Milvus collection, and the check that a
//! collection someone created beforehand has it.

use loupe_core::vector::{dimension_mismatch, refused, VectorRecord};
use loupe_core::{Error, Result};
use milvus::v2::prelude::{CollectionSchema, DataType, FieldData, FieldSchema};

/// The primary key: the record id, chosen by Loupe (no auto id), so upserts replace.
pub const ID: &str = "id";
/// The index set; every read and delete filters on it.
pub const INDEX_SET_ID: &str = "index_set_id";
/// The file meta a vector belongs to; searches return it.
pub const FILE_META_ID: &str = "file_meta_id";
/// The vector field.
pub const FILE_VECTOR: &str = "file_vector";
const DATASET_ID: &str = "dataset_id";
const DATASET_VERSION: &str = "dataset_version";
const URI: &str = "uri";

/// The scalar fields and the longest value each takes, in bytes. Generous, because a
/// value over the limit makes Milvus refuse the whole batch.
const SCALARS: [(&str, u32); 6] = [
    (ID, 1024),
    (INDEX_SET_ID, 256),
    (FILE_META_ID, 256),
    (DATASET_ID, 256),
    (DATASET_VERSION, 128),
    (URI, 4096),
];

/// The schema of a new collection for `dim`-dimensional vectors.
pub fn new_schema(dim: usize) -> Result<CollectionSchema> {
    let dim = u32::try_from(dim)
        .ok()
        .filter(|d| *d > 0)
        .ok_or_else(|| Error::invalid(format!("vector dimension {dim} is not valid for Milvus")))?;
    let mut schema = CollectionSchema::new().enable_dynamic_field(false);
    for (name, max_length) in SCALARS {
        schema = schema.add_field(
            FieldSchema::new()
                .name(name)
                .data_type(DataType::VarChar)
                .max_length(max_length)
                .primary_key(name == ID)
                .auto_id(false),
        );
    }
    Ok(schema.add_field(
        FieldSchema::new()
            .name(FILE_VECTOR)
            .data_type(DataType::FloatVector)
            .dimension(dim),
    ))
}

/// The dimension of an existing collection, after checking it has the seed schema:
/// `VectorDimensionMismatch` when `want` is given and differs, a refusal naming the
/// field when a field is missing or of another type.
pub fn check_existing(
    index: &str,
    collection: &str,
    schema: &CollectionSchema,
    want: Option<usize>,
) -> Result<usize> {
    let field = |name: &str| schema.get_fields().iter().find(|f| f.get_name() == name);
    let wrong = |what: String| {
        refused(
            "milvus",
            format!(
                "collection '{collection}' for index '{index}' does not have the index schema: {what}; \
                 drop it or give the index another name"
            ),
        )
    };
    for (name, _) in SCALARS {
        match field(name) {
            None => return Err(wrong(format!("field '{name}' is missing"))),
            Some(f) if f.get_data_type() != DataType::VarChar => {
                return Err(wrong(format!("field '{name}' is not a VarChar")))
            }
            Some(_) => {}
        }
    }
    let id = field(ID).filter(|f| f.is_primary_key() && !f.is_auto_id());
    if id.is_none() {
        return Err(wrong(format!(
            "'{ID}' must be the primary key, without auto id"
        )));
    }
    let vector = field(FILE_VECTOR)
        .filter(|f| f.get_data_type() == DataType::FloatVector)
        .ok_or_else(|| {
            wrong(format!(
                "field '{FILE_VECTOR}' is missing or not a FloatVector"
            ))
        })?;
    let have = vector.get_dimension() as usize;
    match want {
        Some(want) if want != have => Err(dimension_mismatch(index, have, want)),
        _ => Ok(have),
    }
}

/// The columns of one upsert batch.
pub fn columns(records: &[VectorRecord]) -> Vec<FieldData> {
    let text = |name: &str, get: fn(&VectorRecord) -> &String| FieldData::VarChar {
        name: name.to_string(),
        values: records.iter().map(|r| get(r).clone()).collect(),
    };
    vec![
        text(ID, |r| &r.id),
        text(INDEX_SET_ID, |r| &r.index_set_id),
        text(FILE_META_ID, |r| &r.file_meta_id),
        text(DATASET_ID, |r| &r.dataset_id),
        text(DATASET_VERSION, |r| &r.dataset_version),
        text(URI, |r| &r.uri),
        FieldData::FloatVector {
            name: FILE_VECTOR.to_string(),
            values: records.iter().map(|r| r.file_vector.clone()).collect(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_core::ErrorCode;

    #[test]
    fn a_new_schema_passes_its_own_check_and_dimensions_are_enforced() {
        let schema = new_schema(8).expect("schema");
        assert_eq!(check_existing("i", "i", &schema, Some(8)).expect("same"), 8);
        assert_eq!(check_existing("i", "i", &schema, None).expect("any"), 8);
        let err = check_existing("i", "i", &schema, Some(9)).expect_err("other dim");
        assert_eq!(err.code(), ErrorCode::VectorDimensionMismatch);
        assert!(new_schema(0).is_err());
    }

    #[test]
    fn a_foreign_schema_is_refused_naming_the_field() {
        let schema = CollectionSchema::new()
            .add_field(
                FieldSchema::new()
                    .name("id")
                    .data_type(DataType::Int64)
                    .primary_key(true),
            )
            .add_field(
                FieldSchema::new()
                    .name("file_vector")
                    .data_type(DataType::FloatVector)
                    .dimension(4),
            );
        let err = check_existing("idx", "idx", &schema, Some(4)).expect_err("foreign");
        assert_eq!(err.code(), ErrorCode::VectorStoreError);
        assert!(
            err.message().contains("field 'id' is not a VarChar"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn columns_follow_the_seed_schema_in_row_order() {
        let record = |n: usize| VectorRecord {
            id: format!("r{n}"),
            index_set_id: "s".into(),
            file_meta_id: format!("f{n}"),
            dataset_id: "d".into(),
            dataset_version: "v1".into(),
            uri: format!("oss://b/{n}.jpg"),
            file_vector: vec![n as f32, 0.5],
        };
        let cols = columns(&[record(1), record(2)]);
        assert_eq!(cols.len(), 7);
        match (&cols[2], &cols[6]) {
            (
                FieldData::VarChar { name, values },
                FieldData::FloatVector {
                    name: vname,
                    values: vectors,
                },
            ) => {
                assert_eq!(
                    (name.as_str(), values.as_slice()),
                    ("file_meta_id", &["f1".to_string(), "f2".to_string()][..])
                );
                assert_eq!(vname, "file_vector");
                assert_eq!(vectors, &vec![vec![1.0, 0.5], vec![2.0, 0.5]]);
            }
            other => panic!("unexpected columns {other:?}"),
        }
    }
}
