//! The HTTP edge of Loupe: routes, the auth extractor, the error envelope and the
//! OpenAPI document. Handlers extract, call a [`loupe_core::service::Loupe`] method and
//! map the result; no SQL and no business rule lives here.

mod auth;
mod envelope;
mod error;
mod extract;
mod openapi;
mod routes;
mod thumbnail_cache;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use loupe_core::service::Loupe;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;
pub use openapi::openapi;
pub use thumbnail_cache::ThumbnailCache;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Where rendered thumbnails are cached; `None` renders every time.
    pub thumbnail_cache: Option<std::sync::Arc<ThumbnailCache>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            thumbnail_cache: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The domain services.
    pub loupe: Loupe,
    /// Where rendered thumbnails are cached.
    pub thumbnail_cache: Option<std::sync::Arc<ThumbnailCache>>,
}

/// The complete router: API, health, spec and docs, with the layers every response
/// passes through (request id, error envelope, panic guard, body limit).
pub fn router(loupe: Loupe, options: &HttpOptions) -> Router {
    let (api, spec) = routes::api_router().split_for_parts();
    let state = AppState {
        loupe,
        thumbnail_cache: options.thumbnail_cache.clone(),
    };
    with_edge_layers(api.merge(openapi::docs_router(spec)), options).with_state(state)
}

/// The fallbacks and layers every response passes through, outermost last.
fn with_edge_layers(routes: Router<AppState>, options: &HttpOptions) -> Router<AppState> {
    routes
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(CatchPanicLayer::custom(envelope::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            options.request_timeout,
            envelope::request_envelope,
        ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use loupe_store::testing::TestStore;
    use tower::ServiceExt;

    use super::*;

    async fn call(path: &str) -> (StatusCode, serde_json::Value) {
        let store = TestStore::sqlite().await;
        let loupe = Loupe::new(
            Arc::clone(&store.store) as _,
            Arc::new(NoStorage),
            Arc::new(NoStorage),
            Arc::new(NoStorage),
            loupe_core::crypto::SecretBox::new(&[1; 32]),
            loupe_core::service::Settings::default(),
        );
        let options = HttpOptions {
            request_timeout: Duration::from_millis(200),
            ..HttpOptions::default()
        };
        let routes = Router::new()
            .route("/boom", get(|| async { panic!("secret internals") as () }))
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(30)).await }),
            );
        let app = with_edge_layers(routes, &options).with_state(AppState {
            loupe,
            thumbnail_cache: None,
        });
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// These tests never reach storage.
    struct NoStorage;

    impl loupe_core::storage::StorageOpener for NoStorage {
        fn open(
            &self,
            _: &loupe_core::dataset::StorageUri,
            _: Option<&loupe_core::connection::OpenedConnection>,
        ) -> loupe_core::Result<Arc<dyn loupe_core::storage::ObjectStore>> {
            Err(loupe_core::Error::invalid("no storage in this test"))
        }
    }

    #[async_trait::async_trait]
    impl loupe_core::vector::VectorStoreOpener for NoStorage {
        async fn open(
            &self,
            _: &loupe_core::vectordb::VectorDbSettings,
        ) -> loupe_core::Result<Arc<dyn loupe_core::vector::VectorStore>> {
            Err(loupe_core::Error::invalid(
                "no vector database in this test",
            ))
        }
    }

    #[async_trait::async_trait]
    impl loupe_core::model::ModelOpener for NoStorage {
        async fn open_embedder(
            &self,
            _: &loupe_core::modelconn::ModelSettings,
        ) -> loupe_core::Result<Arc<dyn loupe_core::model::Embedder>> {
            Err(loupe_core::Error::invalid("no model in this test"))
        }

        async fn open_tagger(
            &self,
            _: &loupe_core::modelconn::ModelSettings,
        ) -> loupe_core::Result<Arc<dyn loupe_core::model::Tagger>> {
            Err(loupe_core::Error::invalid("no model in this test"))
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_without_internals() {
        let (status, body) = call("/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["Code"], "InternalError");
        assert!(!body.to_string().contains("secret internals"));
        assert!(body["RequestId"].is_string());
    }

    #[tokio::test]
    async fn a_request_over_the_time_limit_answers_503() {
        let (status, body) = call("/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["Code"], "RequestTimeout");
    }
}
