//! Tag definitions: editors write them, every key reads them.

use crate::auth::{Role, WorkspaceCtx};
use crate::ids::TagDefinitionId;
use crate::page::{Page, PageRequest};
use crate::tag_definition::{validate, NewTagDefinition, TagDefinition, TagDefinitionUpdate};
use crate::time::Timestamp;
use crate::workspace::validate_name;
use crate::Result;

use super::{check_workspace_param, Loupe};

impl Loupe {
    /// Creates a tag definition (editors).
    pub async fn create_tag_definition(
        &self,
        ctx: &WorkspaceCtx,
        new: NewTagDefinition,
    ) -> Result<TagDefinition> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, new.workspace_id.as_deref())?;
        validate_name("TagDefinitionName", &new.tag_definition_name, 128)?;
        validate(&new.guide_prompt, &new.tag_definitions, &new.description)?;
        let now = Timestamp::now();
        let def = TagDefinition {
            tag_definition_id: TagDefinitionId::generate(),
            tag_definition_name: new.tag_definition_name,
            guide_prompt: new.guide_prompt,
            tag_definitions: new.tag_definitions,
            definition_version: 1,
            description: new.description,
            gmt_create_time: now,
            gmt_modified_time: now,
        };
        self.store
            .insert_tag_definition(ctx.workspace_id(), &def)
            .await?;
        Ok(def)
    }

    /// Lists the workspace's tag definitions.
    pub async fn list_tag_definitions(
        &self,
        ctx: &WorkspaceCtx,
        page: &PageRequest,
    ) -> Result<Page<TagDefinition>> {
        self.store
            .list_tag_definitions(ctx.workspace_id(), page)
            .await
    }

    /// Reads one.
    pub async fn get_tag_definition(
        &self,
        ctx: &WorkspaceCtx,
        id: &TagDefinitionId,
    ) -> Result<TagDefinition> {
        self.store.get_tag_definition(ctx.workspace_id(), id).await
    }

    /// Changes one (editors); a new prompt or new tags bump `DefinitionVersion`.
    pub async fn update_tag_definition(
        &self,
        ctx: &WorkspaceCtx,
        id: &TagDefinitionId,
        update: TagDefinitionUpdate,
    ) -> Result<TagDefinition> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, update.workspace_id.as_deref())?;
        let mut def = self
            .store
            .get_tag_definition(ctx.workspace_id(), id)
            .await?;
        let read_version = def.definition_version;
        if let Some(name) = update.tag_definition_name {
            validate_name("TagDefinitionName", &name, 128)?;
            def.tag_definition_name = name;
        }
        let mut changed = false;
        if let Some(prompt) = update.guide_prompt {
            changed |= prompt != def.guide_prompt;
            def.guide_prompt = prompt;
        }
        if let Some(tags) = update.tag_definitions {
            changed |= tags != def.tag_definitions;
            def.tag_definitions = tags;
        }
        if let Some(description) = update.description {
            def.description = description;
        }
        validate(&def.guide_prompt, &def.tag_definitions, &def.description)?;
        if changed {
            def.definition_version += 1;
        }
        def.gmt_modified_time = Timestamp::now();
        self.store
            .update_tag_definition(ctx.workspace_id(), &def, read_version)
            .await?;
        Ok(def)
    }

    /// Deletes one (editors).
    pub async fn delete_tag_definition(
        &self,
        ctx: &WorkspaceCtx,
        id: &TagDefinitionId,
    ) -> Result<()> {
        ctx.require(Role::Editor)?;
        self.store
            .delete_tag_definition(ctx.workspace_id(), id)
            .await
    }
}
