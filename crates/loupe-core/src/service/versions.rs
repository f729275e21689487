//! Dataset versions. Creating one records intent only: the metadata build fills it.

use crate::auth::{Role, WorkspaceCtx};
use crate::dataset::{validate_details, DatasetType};
use crate::ids::DatasetId;
use crate::job::{JobAction, JobMode};
use crate::page::{Page, PageRequest};
use crate::time::Timestamp;
use crate::version::{DatasetVersion, NewVersion, VersionName, VersionUpdate};
use crate::Result;

use super::{check_workspace_param, Loupe};

impl Loupe {
    /// Creates the next version of a dataset.
    pub async fn create_version(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        new: &NewVersion,
    ) -> Result<DatasetVersion> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, new.workspace_id.as_deref())?;
        validate_details(Some(&new.description), None)?;
        let target = self.store.get_dataset(ctx.workspace_id(), dataset).await?;
        let now = Timestamp::now();
        // A version of a storage-backed dataset is filled by a build that starts now;
        // a logical dataset's versions are filled by exports.
        let build = (target.dataset_type == DatasetType::Premium).then(|| {
            let placeholder = VersionName::from_number(1);
            let description = "metadata build of the new version".to_string();
            let spec = serde_json::json!({});
            self.job_record(
                dataset,
                placeholder,
                JobAction::FileMetaBuild,
                JobMode::Full,
                spec,
                description,
                None,
                now,
            )
        });
        self.store
            .create_version(
                ctx.workspace_id(),
                dataset,
                &new.description,
                now,
                build.as_ref(),
            )
            .await
    }

    /// Reads a version.
    pub async fn get_version(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<DatasetVersion> {
        self.store
            .get_version(ctx.workspace_id(), dataset, name)
            .await
    }

    /// Lists a dataset's versions, oldest first.
    pub async fn list_versions(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        page: &PageRequest,
    ) -> Result<Page<DatasetVersion>> {
        self.store
            .list_versions(ctx.workspace_id(), dataset, page)
            .await
    }

    /// Changes a version's description.
    pub async fn update_version(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        name: VersionName,
        update: &VersionUpdate,
    ) -> Result<DatasetVersion> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, update.workspace_id.as_deref())?;
        let Some(description) = &update.description else {
            return self.get_version(ctx, dataset, name).await;
        };
        validate_details(Some(description), None)?;
        self.store
            .update_version_description(
                ctx.workspace_id(),
                dataset,
                name,
                description,
                Timestamp::now(),
            )
            .await
    }

    /// Deletes a version. Its number is never given to another version.
    pub async fn delete_version(
        &self,
        ctx: &WorkspaceCtx,
        dataset: &DatasetId,
        name: VersionName,
    ) -> Result<()> {
        ctx.require(Role::Editor)?;
        self.store
            .delete_version(ctx.workspace_id(), dataset, name)
            .await
    }
}
