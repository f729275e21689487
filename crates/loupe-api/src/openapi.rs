//! The OpenAPI 3.1 document: generated from the handlers' annotations, printed by
//! `loupe openapi`, committed as `openapi/openapi.json`, and served at `/openapi.json`
//! with an interactive page at `/docs` (Swagger UI, vendored into the binary, so the
//! build downloads nothing).

use axum::Router;
use loupe_core::ErrorCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Spec;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ErrorEnvelope;
use crate::AppState;

/// The static part of the document; paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loupe",
        description = "Self-hosted image dataset management for machine learning. Shapes follow Alibaba Cloud PAI's dataset API \
                       (PascalCase fields). Every error answers `{Code, Message, RequestId}`; codes are listed \
                       in the `ErrorCode` schema. Any call may carry PAI's `WorkspaceId` query parameter; \
                       naming another workspace than the key's own answers 404 `WorkspaceNotFound`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    components(schemas(
        ErrorEnvelope,
        ErrorCode,
        loupe_core::job_spec::SemanticIndexSpec,
        loupe_core::job_spec::IntelligentTagSpec,
        loupe_core::job_spec::IntelligentTagRevertSpec
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "health", description = "Probes"),
        (name = "workspace", description = "The caller's workspace"),
        (name = "apikeys", description = "API keys of the workspace"),
        (name = "datasets", description = "Datasets"),
        (name = "versions", description = "Dataset versions"),
        (name = "connections", description = "Connections to external services; secrets are never returned"),
        (name = "tagdefinitions", description = "Tag definitions: a guide prompt and the tags a tagging job may give"),
        (name = "jobs", description = "Dataset jobs: metadata build and, later, tagging, indexing and export"),
        (name = "filemetas", description = "The files of a dataset version"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Spec) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("lp_…")
                    .description(Some(
                        "An API key of the workspace: `Authorization: Bearer lp_…`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document, as `loupe openapi` prints it.
pub fn openapi() -> Spec {
    crate::routes::api_router().split_for_parts().1
}

/// `/openapi.json` and the `/docs` page.
pub fn docs_router(spec: Spec) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", spec))
}
