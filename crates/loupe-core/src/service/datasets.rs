//! Datasets: create, read, list, change and delete within the caller's workspace.

use crate::auth::{Role, WorkspaceCtx};
use crate::connection::ConnectionType;
use crate::dataset::{
    validate_dataset_name, validate_details, validate_index_name, Dataset, DatasetType,
    DatasetUpdate, IndexConfigUpdate, NewDataset, StorageUri, StoredIndexConfig,
};
use crate::ids::{ConnectionId, DatasetId};
use crate::page::{Page, PageRequest};
use crate::store::DatasetFilter;
use crate::time::Timestamp;
use crate::{Error, ErrorCode, Result};

use super::{check_workspace_param, Loupe};

/// Longest connection id accepted.
const MAX_CONNECTION_ID: usize = 64;

impl Loupe {
    /// Creates a dataset after checking its name, URI (and local roots) and details.
    pub async fn create_dataset(&self, ctx: &WorkspaceCtx, new: NewDataset) -> Result<Dataset> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, new.workspace_id.as_deref())?;
        validate_dataset_name(&new.name)?;
        validate_details(Some(&new.description), Some(&new.labels))?;
        let uri = self.check_uri(new.dataset_type, new.uri.as_deref())?;
        self.check_dataset_connection(ctx, &uri, new.connection_id.as_deref())
            .await?;
        let now = Timestamp::now();
        let dataset_id = DatasetId::generate();
        let dataset = Dataset {
            index_config: StoredIndexConfig::default().resolve(ctx.workspace_id(), &dataset_id),
            dataset_id,
            name: new.name,
            description: new.description,
            labels: new.labels,
            uri,
            data_type: new.data_type,
            property: new.property,
            dataset_type: new.dataset_type,
            connection_id: new.connection_id,
            gmt_create_time: now,
            gmt_modified_time: now,
        };
        self.store
            .insert_dataset(ctx.workspace_id(), &dataset)
            .await?;
        Ok(dataset)
    }

    /// A premium dataset needs a storage URI; a logical one may have none. A `file://`
    /// URI must lie under the configured local roots.
    fn check_uri(&self, dataset_type: DatasetType, uri: Option<&str>) -> Result<String> {
        let Some(uri) = uri.filter(|u| !u.is_empty()) else {
            if dataset_type == DatasetType::Logical {
                return Ok(String::new());
            }
            return Err(Error::new(
                ErrorCode::InvalidUri,
                "Uri is required for a Premium dataset: give s3://bucket/prefix, oss://bucket/prefix or file:///abs/path",
            ));
        };
        if let StorageUri::File { path } = StorageUri::parse(uri)? {
            self.settings.local_roots.check(&path)?;
        }
        Ok(uri.to_string())
    }

    /// `s3://` and `oss://` datasets name an object-store connection of the workspace;
    /// `file://` ones need none.
    async fn check_dataset_connection(
        &self,
        ctx: &WorkspaceCtx,
        uri: &str,
        connection: Option<&str>,
    ) -> Result<()> {
        let needs = !uri.is_empty() && StorageUri::parse(uri)?.needs_connection();
        match connection {
            None if needs => Err(Error::invalid(
                "ConnectionId is required for s3:// and oss:// datasets: create an ObjectStorage connection first",
            )),
            None => Ok(()),
            Some(id) if id.is_empty() || id.len() > MAX_CONNECTION_ID => Err(Error::invalid(format!(
                "ConnectionId must be 1 to {MAX_CONNECTION_ID} characters"
            ))),
            Some(id) => {
                let record = self.store.get_connection(ctx.workspace_id(), &ConnectionId::from_raw(id)).await?;
                if record.connection.connection_type != ConnectionType::ObjectStorage {
                    return Err(Error::invalid(format!("connection '{id}' is not an ObjectStorage connection")));
                }
                Ok(())
            }
        }
    }

    /// Reads a dataset.
    pub async fn get_dataset(&self, ctx: &WorkspaceCtx, id: &DatasetId) -> Result<Dataset> {
        self.store.get_dataset(ctx.workspace_id(), id).await
    }

    /// Lists datasets, newest first.
    pub async fn list_datasets(
        &self,
        ctx: &WorkspaceCtx,
        filter: &DatasetFilter,
        page: &PageRequest,
    ) -> Result<Page<Dataset>> {
        self.store
            .list_datasets(ctx.workspace_id(), filter, page)
            .await
    }

    /// Changes name, description or labels.
    pub async fn update_dataset(
        &self,
        ctx: &WorkspaceCtx,
        id: &DatasetId,
        update: &DatasetUpdate,
    ) -> Result<Dataset> {
        ctx.require(Role::Editor)?;
        check_workspace_param(ctx, update.workspace_id.as_deref())?;
        if let Some(name) = &update.name {
            validate_dataset_name(name)?;
        }
        validate_details(update.description.as_deref(), update.labels.as_deref())?;
        if let Some(index) = &update.index_config {
            self.check_index_config(ctx, index).await?;
        }
        self.store
            .update_dataset(ctx.workspace_id(), id, update, Timestamp::now())
            .await
    }

    /// The connections an index configuration names must be the workspace's, of the
    /// right kind; `""` (back to the default) is always fine.
    async fn check_index_config(
        &self,
        ctx: &WorkspaceCtx,
        index: &IndexConfigUpdate,
    ) -> Result<()> {
        let wanted = [
            (
                &index.embedding_connection_id,
                ConnectionType::EmbeddingModel,
                "EmbeddingConnectionId",
            ),
            (
                &index.vector_connection_id,
                ConnectionType::VectorDatabase,
                "VectorConnectionId",
            ),
        ];
        for (id, kind, field) in wanted {
            let Some(id) = id.as_deref().filter(|id| !id.is_empty()) else {
                continue;
            };
            if id.len() > MAX_CONNECTION_ID {
                return Err(Error::invalid(format!(
                    "IndexConfig.{field} must be 1 to {MAX_CONNECTION_ID} characters"
                )));
            }
            let record = self
                .store
                .get_connection(ctx.workspace_id(), &ConnectionId::from_raw(id))
                .await?;
            if record.connection.connection_type != kind {
                return Err(Error::invalid(format!(
                    "IndexConfig.{field}: connection '{id}' is a {} connection, not a {} one",
                    record.connection.connection_type.as_str(),
                    kind.as_str()
                )));
            }
        }
        match index.index_name.as_deref() {
            Some(name) if !name.is_empty() => validate_index_name(name),
            _ => Ok(()),
        }
    }

    /// Deletes a dataset and its versions. The files in storage are never touched.
    pub async fn delete_dataset(&self, ctx: &WorkspaceCtx, id: &DatasetId) -> Result<()> {
        ctx.require(Role::Editor)?;
        self.store.delete_dataset(ctx.workspace_id(), id).await
    }
}
