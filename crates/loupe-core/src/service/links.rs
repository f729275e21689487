//! Signed, expiring links to files and thumbnails, served by Loupe itself, so an `<img>`
//! tag or a download tool needs no API key. The signature covers the path and the
//! expiry; thumbnail sizes may be chosen freely within bounds.

use crate::ids::{DatasetId, WorkspaceId};
use crate::time::Timestamp;
use crate::version::VersionName;
use crate::{Error, ErrorCode, Result};

use super::Loupe;

/// The file a link points at.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// Its workspace.
    pub workspace: &'a WorkspaceId,
    /// Its dataset.
    pub dataset: &'a DatasetId,
    /// Its version.
    pub version: VersionName,
    /// Its file meta id.
    pub file_id: &'a str,
}

/// A link's expiry (Unix seconds) and signature.
#[derive(Debug, Clone, Copy)]
pub struct LinkSignature<'a> {
    /// When the link expires.
    pub expires: i64,
    /// The hex HMAC.
    pub signature: &'a str,
}

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

fn link_path(kind: LinkKind, file: &FileRef<'_>) -> String {
    let FileRef {
        workspace,
        dataset,
        version,
        file_id,
    } = file;
    format!(
        "/links/{}/{workspace}/{dataset}/{version}/{file_id}",
        kind.segment()
    )
}

impl Loupe {
    /// An absolute signed link, valid for the configured time.
    pub fn signed_link(&self, kind: LinkKind, file: &FileRef<'_>) -> String {
        let ttl = i64::try_from(self.settings.link_ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = Timestamp::now().millis() / 1000 + ttl;
        let path = link_path(kind, file);
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
        file: &FileRef<'_>,
        signed: LinkSignature<'_>,
    ) -> Result<()> {
        let path = link_path(kind, file);
        if !self
            .secrets
            .verify(&format!("{path}?{}", signed.expires), signed.signature)
        {
            return Err(Error::new(
                ErrorCode::InvalidSignature,
                "the link's signature does not match: ask the API for a new link",
            ));
        }
        if signed.expires < Timestamp::now().millis() / 1000 {
            return Err(Error::new(
                ErrorCode::InvalidSignature,
                "the link has expired: ask the API for a new link",
            ));
        }
        Ok(())
    }
}
