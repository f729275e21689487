//! Signed, expiring links to files and thumbnails, served by Loupe itself, so an `<img>`
//! tag or a download tool needs no API key. The signature covers the path and the
//! expiry; thumbnail sizes may be chosen freely within bounds.

use crate::ids::{DatasetId, WorkspaceId};
use crate::time::Timestamp;
use crate::version::VersionName;
use crate::{Error, ErrorCode, Result};

use super::Loupe;

/// What a link serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// The file itself.
    Download,
    /// A resized preview.
    Thumbnail,
}

impl LinkKind {
    fn segment(self) -> &'static str {
        match self {
            LinkKind::Download => "files",
            LinkKind::Thumbnail => "thumbnails",
        }
    }
}

fn link_path(
    kind: LinkKind,
    ws: &WorkspaceId,
    dataset: &DatasetId,
    version: VersionName,
    file_id: &str,
) -> String {
    format!(
        "/links/{}/{ws}/{dataset}/{version}/{file_id}",
        kind.segment()
    )
}

impl Loupe {
    /// An absolute signed link, valid for the configured time.
    pub fn signed_link(
        &self,
        kind: LinkKind,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        version: VersionName,
        file_id: &str,
    ) -> String {
        let ttl = i64::try_from(self.settings.link_ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = Timestamp::now().millis() / 1000 + ttl;
        let path = link_path(kind, ws, dataset, version, file_id);
        let signature = self.secrets.sign(&format!("{path}?{expires}"));
        format!(
            "{}{path}?Expires={expires}&Signature={signature}",
            self.settings.public_url
        )
    }

    /// Checks a link's signature and expiry; `InvalidSignature` (403) otherwise.
    pub fn verify_link(
        &self,
        kind: LinkKind,
        ws: &WorkspaceId,
        dataset: &DatasetId,
        version: VersionName,
        file_id: &str,
        expires: i64,
        signature: &str,
    ) -> Result<()> {
        let path = link_path(kind, ws, dataset, version, file_id);
        if !self.secrets.verify(&format!("{path}?{expires}"), signature) {
            return Err(Error::new(
                ErrorCode::InvalidSignature,
                "the link's signature does not match: ask the API for a new link",
            ));
        }
        if expires < Timestamp::now().millis() / 1000 {
            return Err(Error::new(
                ErrorCode::InvalidSignature,
                "the link has expired: ask the API for a new link",
            ));
        }
        Ok(())
    }
}
