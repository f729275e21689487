//! Manual tag edits (PAI's `UpdateDatasetFileMetas`): many files of a version in one
//! transaction. An id the version does not hold is reported in `FailedDetails` and
//! never fails the call, so a client retrying a batch learns exactly what is missing.

use crate::auth::{Role, WorkspaceCtx};
use crate::file_tags::{DatasetFileMetasUpdate, FailedDetail, NOT_FOUND_RESULT};
use crate::ids::DatasetId;
use crate::time::Timestamp;
use crate::version::VersionName;
use crate::Result;

use super::{check_workspace_param, Loupe};

impl Loupe {
    /// Adds and removes `user` and `user-delete-ai-tags` tags (editors); returns the
    /// files that were not changed because the version does not hold them, in the
    /// order they were sent.
    pub async fn update_file_meta_tags(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        update: DatasetFileMetasUpdate,
    ) -> Result<Vec<FailedDetail>> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, update.workspace_id.as_deref())?;
        let version: VersionName = update.dataset_version.parse()?;
        let edits = update.edits()?;
        let (row, _) = self
            .store
            .version_row(ctx.workspace_id(), dataset, version)
            .await?;
        let missing = self.store.edit_tags(row, &edits, Timestamp::now()).await?;
        Ok(missing
            .into_iter()
            .map(|id| FailedDetail {
                dataset_file_meta_id: id,
                result: NOT_FOUND_RESULT.to_string(),
            })
            .collect())
    }
}
