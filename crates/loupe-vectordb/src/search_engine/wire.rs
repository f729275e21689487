//! Sending the store's requests through each engine's client crate. The two crates are
//! one codebase forked (same `send`, same transport builder) under different names, so
//! one macro writes both wires instead of two copies of the same code.

use base64::Engine as _;
use loupe_core::vectordb::VectorDbSettings;

/// The `Authorization` header of a connection: `ApiKey <key>` when it has an API key
/// (the key as Elasticsearch prints it, base64 of `id:secret`; an `id:secret` pair is
/// encoded here), else `Basic` for a user and password, else none.
pub(crate) fn authorization(settings: &VectorDbSettings) -> Option<String> {
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    if let Some(key) = &settings.api_key {
        let encoded = if key.contains(':') {
            b64(key)
        } else {
            key.clone()
        };
        return Some(format!("ApiKey {encoded}"));
    }
    let user = settings.username.as_deref()?;
    let password = settings.password.as_deref().unwrap_or_default();
    Some(format!("Basic {}", b64(&format!("{user}:{password}"))))
}

/// Writes `$wire`, a [`super::Wire`] over `$krate::$client`, which announces `$json`
/// as `Accept` and `Content-Type` (and `$ndjson` as the `_bulk` content type).
macro_rules! client_wire {
    ($wire:ident, $krate:ident, $client:ident, json: $json:expr, ndjson: $ndjson:expr) => {
        /// Sends the store's requests through the engine's client crate.
        pub(crate) struct $wire {
            client: $krate::$client,
        }

        impl $wire {
            /// A client for the connection: its endpoint, its credentials and its
            /// per-request timeout (the crate's client applies it to every request).
            pub(crate) fn connect(
                settings: &loupe_core::vectordb::VectorDbSettings,
            ) -> loupe_core::Result<Self> {
                use loupe_core::Error;
                use $krate::http::headers::{HeaderValue, AUTHORIZATION};
                use $krate::http::transport::{SingleNodeConnectionPool, TransportBuilder};

                // A trailing slash keeps a path prefix (`https://host/es/`) when the
                // client joins the request path to it.
                let endpoint = format!("{}/", settings.endpoint.trim_end_matches('/'));
                let url = $krate::http::Url::parse(&endpoint).map_err(|e| {
                    Error::invalid(format!("Configs.Endpoint is not a valid URL: {e}"))
                })?;
                let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
                    .timeout(settings.timeout);
                if let Some(auth) = $crate::search_engine::wire::authorization(settings) {
                    let mut value = HeaderValue::from_str(&auth).map_err(|_| {
                        Error::invalid(
                            "Secrets.Username, Password or ApiKey holds characters an HTTP header cannot carry",
                        )
                    })?;
                    value.set_sensitive(true);
                    builder = builder.header(AUTHORIZATION, value);
                }
                let transport = builder.build().map_err(|e| {
                    Error::invalid(format!(
                        "cannot build the {} client: {e}",
                        stringify!($krate)
                    ))
                })?;
                Ok(Self {
                    client: $krate::$client::new(transport),
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::search_engine::Wire for $wire {
            async fn send(
                &self,
                request: &$crate::search_engine::Request,
            ) -> Result<
                $crate::search_engine::Reply,
                Box<dyn std::error::Error + Send + Sync>,
            > {
                use $crate::search_engine::{Method, Payload, Reply};
                use $krate::http::headers::{
                    HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER,
                };
                use $krate::http::Method as M;

                let method = match request.method {
                    Method::Get => M::Get,
                    Method::Put => M::Put,
                    Method::Post => M::Post,
                    Method::Delete => M::Delete,
                };
                let mut headers = HeaderMap::new();
                headers.insert(ACCEPT, HeaderValue::from_static($json));
                headers.insert(CONTENT_TYPE, HeaderValue::from_static($json));
                let body: Option<Vec<u8>> = match &request.body {
                    None => None,
                    Some(Payload::Json(json)) => Some(serde_json::to_vec(json)?),
                    Some(Payload::NdJson(lines)) => {
                        headers.insert(CONTENT_TYPE, HeaderValue::from_static($ndjson));
                        Some(lines.clone().into_bytes())
                    }
                };
                let query = (!request.query.is_empty()).then_some(&request.query);
                let response = self
                    .client
                    .send(method, &request.path, headers, query, body, None)
                    .await?;
                let status = response.status_code().as_u16();
                let retry_after = $crate::retry::retry_after(
                    response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()),
                );
                let bytes = response.bytes().await?;
                let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                Ok(Reply {
                    status,
                    retry_after,
                    body,
                })
            }
        }
    };
}

pub(crate) use client_wire;
