//! How to reach an S3-compatible endpoint, and the SDK client built from it.

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

/// Everything needed to reach one bucket + prefix on an S3-compatible service (AWS S3, Alibaba OSS, MinIO,
/// s3s). `Debug` redacts the secret key and the session token.
#[derive(Clone)]
pub struct S3Settings {
    /// E.g. `http://127.0.0.1:9000` or `https://oss-cn-hangzhou.aliyuncs.com`; `None` means the AWS endpoint of
    /// `region`.
    pub endpoint: Option<String>,
    /// The signing region, e.g. `us-east-1` or `oss-cn-hangzhou`.
    pub region: String,
    /// `true` for MinIO and s3s (`host/bucket/key`); `false` for virtual-hosted style (`bucket.host/key`),
    /// which AWS and Alibaba OSS expect.
    pub path_style: bool,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key; never logged.
    pub secret_access_key: String,
    /// A session token for temporary credentials (STS); never logged.
    pub session_token: Option<String>,
    /// `s3` or `oss`; used only to spell URIs in [`ObjectStore::uri_of`](crate::ObjectStore::uri_of) and errors.
    pub scheme: String,
    /// The bucket.
    pub bucket: String,
    /// The folder inside the bucket; may be empty. Keys are relative to it. Leading and trailing `/` are
    /// ignored: `2024/night` and `/2024/night/` both mean the objects under `2024/night/`.
    pub prefix: String,
    /// Timeouts and retries for every call.
    pub timeouts: Timeouts,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = "<redacted>";
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| redacted),
            )
            .field("scheme", &self.scheme)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// Bounds on every S3 call, so that no call can hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect: Duration,
    /// Longest a whole call may take, retries included; reading a response body gets the same bound again.
    pub operation: Duration,
    /// Attempts per call, the first included (so 1 means no retry). Only retryable failures are retried.
    pub max_attempts: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            operation: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// Builds the SDK client directly from `settings`: no environment, profile or instance-metadata lookups, so
/// what a connection does depends on its settings alone.
pub(super) fn build_client(settings: &S3Settings) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        &settings.access_key_id,
        &settings.secret_access_key,
        settings.session_token.clone(),
        None,
        "loupe-connection",
    );
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.timeouts.connect)
        .operation_timeout(settings.timeouts.operation)
        .build();
    let retries = RetryConfig::standard().with_max_attempts(settings.timeouts.max_attempts.max(1));
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(settings.path_style)
        .timeout_config(timeouts)
        .retry_config(retries)
        // S3-compatible services (OSS, older MinIO) do not all know the newer flexible checksums; ask for them
        // only where the API requires them.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = &settings.endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let settings = S3Settings {
            endpoint: None,
            region: "us-east-1".into(),
            path_style: false,
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "very-secret-key".into(),
            session_token: Some("very-secret-token".into()),
            scheme: "s3".into(),
            bucket: "b".into(),
            prefix: String::new(),
            timeouts: Timeouts::default(),
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
    }
}
