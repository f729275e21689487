//! Tag definitions (PAI's "Intelligent Tag Definition"): a guide prompt and the tags a
//! tagging job may give, versioned so incremental jobs see changes.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use loupe_core::ids::TagDefinitionId;
use loupe_core::page::PageRequest;
use loupe_core::tag_definition::{NewTagDefinition, TagDefinition, TagDefinitionUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Acknowledged, PageQuery, ReadErrors, WriteErrors};
use crate::auth::Auth;
use crate::envelope::RequestId;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

/// The `{TagDefinitionId}` path segment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TagDefinitionPath {
    /// The tag definition id (`tagdef-…`).
    #[serde(rename = "TagDefinitionId")]
    #[param(rename = "TagDefinitionId")]
    pub tag_definition_id: String,
}

impl TagDefinitionPath {
    fn id(&self) -> TagDefinitionId {
        TagDefinitionId::from_raw(self.tag_definition_id.clone())
    }
}

/// A page of tag definitions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TagDefinitionList {
    /// The definitions, newest first.
    pub tag_definitions: Vec<TagDefinition>,
    /// How many the workspace has.
    pub total_count: i64,
    /// Pass as `NextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// Creates a tag definition (editor keys).
#[utoipa::path(post, path = "/api/v1/tagdefinitions", tag = "tagdefinitions", operation_id = "CreateTagDefinition",
    request_body = NewTagDefinition, responses((status = 200, body = TagDefinition), WriteErrors))]
pub async fn create_tag_definition(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(new): ApiJson<NewTagDefinition>,
) -> Result<Json<TagDefinition>, ApiError> {
    Ok(Json(state.loupe.create_tag_definition(&ctx, new).await?))
}

/// Lists the workspace's tag definitions.
#[utoipa::path(get, path = "/api/v1/tagdefinitions", tag = "tagdefinitions", operation_id = "ListTagDefinitions",
    params(PageQuery), responses((status = 200, body = TagDefinitionList), ReadErrors))]
pub async fn list_tag_definitions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<TagDefinitionList>, ApiError> {
    let page = PageRequest::parse(
        "tagdefinitions",
        query.max_results,
        query.next_token.as_deref(),
    )?;
    let page = state.loupe.list_tag_definitions(&ctx, &page).await?;
    Ok(Json(TagDefinitionList {
        tag_definitions: page.items,
        total_count: page.total_count,
        next_token: page.next_token,
    }))
}

/// Reads a tag definition.
#[utoipa::path(get, path = "/api/v1/tagdefinitions/{TagDefinitionId}", tag = "tagdefinitions",
    operation_id = "GetTagDefinition", params(TagDefinitionPath), responses((status = 200, body = TagDefinition), ReadErrors))]
pub async fn get_tag_definition(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<TagDefinitionPath>,
) -> Result<Json<TagDefinition>, ApiError> {
    Ok(Json(
        state.loupe.get_tag_definition(&ctx, &path.id()).await?,
    ))
}

/// Changes a tag definition (editor keys); a new prompt or new tags bump `DefinitionVersion`.
#[utoipa::path(put, path = "/api/v1/tagdefinitions/{TagDefinitionId}", tag = "tagdefinitions",
    operation_id = "UpdateTagDefinition", params(TagDefinitionPath), request_body = TagDefinitionUpdate,
    responses((status = 200, body = TagDefinition), WriteErrors))]
pub async fn update_tag_definition(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<TagDefinitionPath>,
    ApiJson(update): ApiJson<TagDefinitionUpdate>,
) -> Result<Json<TagDefinition>, ApiError> {
    Ok(Json(
        state
            .loupe
            .update_tag_definition(&ctx, &path.id(), update)
            .await?,
    ))
}

/// Deletes a tag definition (editor keys).
#[utoipa::path(delete, path = "/api/v1/tagdefinitions/{TagDefinitionId}", tag = "tagdefinitions",
    operation_id = "DeleteTagDefinition", params(TagDefinitionPath), responses((status = 200, body = Acknowledged), WriteErrors))]
pub async fn delete_tag_definition(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    Path(path): Path<TagDefinitionPath>,
    request_id: Extension<RequestId>,
) -> Result<Json<Acknowledged>, ApiError> {
    state.loupe.delete_tag_definition(&ctx, &path.id()).await?;
    Ok(Json(Acknowledged::new(request_id)))
}
