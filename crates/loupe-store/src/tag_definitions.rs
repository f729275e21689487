//! Tag definition rows: the tags as a JSON object, the version for optimistic updates.

use std::collections::BTreeMap;

use async_trait::async_trait;
use loupe_core::ids::{TagDefinitionId, WorkspaceId};
use loupe_core::page::{Cursor, Page, PageRequest};
use loupe_core::store::TagDefinitionStore;
use loupe_core::tag_definition::TagDefinition;
use loupe_core::time::Timestamp;
use loupe_core::{Error, ErrorCode, Result};

use crate::errors::{db_error, unique_as};
use crate::pool::{fetch_page, on_pool, SqlStore};

const LIST: &str = "tagdefinitions";
const COLUMNS: &str = "id, name, prompt, tags, version, description, created_at, modified_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    prompt: String,
    tags: String,
    version: i64,
    description: String,
    created_at: i64,
    modified_at: i64,
}

impl TryFrom<Row> for TagDefinition {
    type Error = Error;

    fn try_from(row: Row) -> Result<Self> {
        let tags: BTreeMap<String, String> = serde_json::from_str(&row.tags)
            .map_err(|e| Error::internal("reading tag definition", e))?;
        Ok(TagDefinition {
            tag_definition_id: TagDefinitionId::from_raw(row.id),
            tag_definition_name: row.name,
            guide_prompt: row.prompt,
            tag_definitions: tags,
            definition_version: row.version,
            description: row.description,
            gmt_create_time: Timestamp::from_millis(row.created_at),
            gmt_modified_time: Timestamp::from_millis(row.modified_at),
        })
    }
}

fn tags_json(def: &TagDefinition) -> Result<String> {
    serde_json::to_string(&def.tag_definitions).map_err(|e| Error::internal("encoding tags", e))
}

fn name_taken(name: &str) -> impl FnOnce(sqlx::Error) -> Error {
    unique_as(
        ErrorCode::TagDefinitionAlreadyExists,
        format!("a tag definition named '{name}' exists already in this workspace: choose another TagDefinitionName"),
    )
}

fn not_found(id: &TagDefinitionId) -> Error {
    Error::new(
        ErrorCode::TagDefinitionNotFound,
        format!("tag definition '{id}' not found"),
    )
}

#[async_trait]
impl TagDefinitionStore for SqlStore {
    async fn insert_tag_definition(&self, ws: &WorkspaceId, def: &TagDefinition) -> Result<()> {
        const SQL: &str = "INSERT INTO tag_definitions (id, workspace_id, name, prompt, tags, version, description, created_at, modified_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let tags = tags_json(def)?;
        let conflict = name_taken(&def.tag_definition_name);
        on_pool!(self, p => sqlx::query(SQL)
            .bind(def.tag_definition_id.as_str())
            .bind(ws.as_str())
            .bind(&def.tag_definition_name)
            .bind(&def.guide_prompt)
            .bind(&tags)
            .bind(def.definition_version)
            .bind(&def.description)
            .bind(def.gmt_create_time.millis())
            .bind(def.gmt_modified_time.millis())
            .execute(p)
            .await
            .map(drop)
            .map_err(conflict))
    }

    async fn get_tag_definition(
        &self,
        ws: &WorkspaceId,
        id: &TagDefinitionId,
    ) -> Result<TagDefinition> {
        let sql =
            format!("SELECT {COLUMNS} FROM tag_definitions WHERE workspace_id = $1 AND id = $2");
        let row: Option<Row> = on_pool!(self, p => sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(id.as_str())
            .fetch_optional(p)
            .await
            .map_err(db_error)?);
        row.ok_or_else(|| not_found(id))?.try_into()
    }

    async fn list_tag_definitions(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<TagDefinition>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM tag_definitions WHERE workspace_id = $1 \
             AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let after = page.after.as_ref();
        let (rows, total): (Vec<Row>, i64) = fetch_page!(
            self,
            &sql,
            "SELECT COUNT(*) FROM tag_definitions WHERE workspace_id = $1",
            [ws.as_str()],
            [after.map(|c| c.key), after.map(|c| c.id.as_str())],
            page.limit
        );
        let items = rows
            .into_iter()
            .map(TagDefinition::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.limit, total, |d| {
            Cursor::new(
                LIST,
                d.gmt_create_time.millis(),
                d.tag_definition_id.to_string(),
            )
        }))
    }

    async fn update_tag_definition(
        &self,
        ws: &WorkspaceId,
        def: &TagDefinition,
        expected_version: i64,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE tag_definitions SET name = $3, prompt = $4, tags = $5, version = $6, \
                           description = $7, modified_at = $8 \
                           WHERE workspace_id = $1 AND id = $2 AND version = $9";
        let tags = tags_json(def)?;
        let conflict = name_taken(&def.tag_definition_name);
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(def.tag_definition_id.as_str())
            .bind(&def.tag_definition_name)
            .bind(&def.guide_prompt)
            .bind(&tags)
            .bind(def.definition_version)
            .bind(&def.description)
            .bind(def.gmt_modified_time.millis())
            .bind(expected_version)
            .execute(p)
            .await
            .map_err(conflict)?
            .rows_affected());
        if affected == 0 {
            // Gone, or changed by someone else since it was read.
            self.get_tag_definition(ws, &def.tag_definition_id).await?;
            return Err(Error::new(
                ErrorCode::ConcurrentModification,
                format!(
                    "tag definition '{}' was changed by another request: read it again and retry",
                    def.tag_definition_id
                ),
            ));
        }
        Ok(())
    }

    async fn delete_tag_definition(&self, ws: &WorkspaceId, id: &TagDefinitionId) -> Result<()> {
        const SQL: &str = "DELETE FROM tag_definitions WHERE workspace_id = $1 AND id = $2";
        let affected = on_pool!(self, p => sqlx::query(SQL)
            .bind(ws.as_str())
            .bind(id.as_str())
            .execute(p)
            .await
            .map_err(db_error)?
            .rows_affected());
        if affected == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}
