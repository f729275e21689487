//! Reading a GetObject body with a size bound and a deadline. The SDK's operation timeout ends when the
//! response headers arrive, so the body needs a deadline of its own.

use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use bytes::{Bytes, BytesMut};

use crate::StorageError;

/// What to do with a body longer than the bytes wanted.
#[derive(Debug, Clone, Copy)]
pub(super) enum Overflow {
    /// Keep the first bytes and drop the rest (a server that ignored `Range`).
    Truncate,
    /// Refuse the object as too large.
    Refuse,
}

/// Reads at most `limit` bytes of `body` within `deadline`; `what` names the object in errors.
pub(super) async fn read_bounded(
    body: ByteStream,
    limit: u64,
    overflow: Overflow,
    deadline: Duration,
    what: &str,
) -> Result<Bytes, StorageError> {
    let read = read_chunks(body, limit, overflow, what);
    tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| StorageError::Retryable {
            what: what.to_owned(),
            detail: "timed out reading the body".to_owned(),
        })?
}

async fn read_chunks(
    mut body: ByteStream,
    limit: u64,
    overflow: Overflow,
    what: &str,
) -> Result<Bytes, StorageError> {
    let mut buf = BytesMut::new();
    loop {
        let chunk = body
            .try_next()
            .await
            .map_err(|err| StorageError::Retryable {
                what: what.to_owned(),
                detail: format!("reading the body failed: {}", DisplayErrorContext(&err)),
            })?;
        let Some(chunk) = chunk else { break };
        let room = usize::try_from(limit.saturating_sub(buf.len() as u64)).unwrap_or(usize::MAX);
        if chunk.len() <= room {
            buf.extend_from_slice(&chunk);
            continue;
        }
        match overflow {
            Overflow::Truncate => {
                buf.extend_from_slice(&chunk[..room]);
                break; // dropping `body` closes the connection instead of reading the rest
            }
            Overflow::Refuse => {
                return Err(StorageError::TooLarge {
                    what: what.to_owned(),
                    size: (buf.len() + chunk.len()) as u64,
                    limit,
                });
            }
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn truncate_keeps_the_first_bytes() {
        let body = ByteStream::from_static(b"0123456789");
        let read = read_bounded(body, 4, Overflow::Truncate, DEADLINE, "s3://b/k").await;
        assert_eq!(read.unwrap().as_ref(), b"0123");
    }

    #[tokio::test]
    async fn refuse_reports_too_large() {
        let body = ByteStream::from_static(b"0123456789");
        let err = read_bounded(body, 4, Overflow::Refuse, DEADLINE, "s3://b/k")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::TooLarge { limit: 4, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn body_within_the_limit_is_read_whole() {
        let body = ByteStream::from_static(b"0123");
        let read = read_bounded(body, 4, Overflow::Refuse, DEADLINE, "s3://b/k").await;
        assert_eq!(read.unwrap().as_ref(), b"0123");
    }
}
