//! The OpenAPI 3.1 document of the management API (`docs/openapi.json`),
//! served as it is kept: `GET /openapi.json` on the default hostnames, with
//! no credential (it holds no secret, and tools and SDK generators fetch it
//! unauthenticated). `tests/openapi_document.rs` holds its routes equal to
//! [`super::ROUTES`].

use crate::app::HttpResponse;

/// The document, as kept in the repository.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The document, readable from any origin (API explorers in a browser).
pub fn response() -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "public, max-age=300".into()),
            ("access-control-allow-origin".into(), "*".into()),
        ],
        body: DOCUMENT.as_bytes().to_vec(),
    }
}
