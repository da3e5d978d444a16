//! `GET /openapi.json`: the OpenAPI 3 description of the gateway, kept in the repository
//! (`reference-impl/server/openapi.json`) and compiled in, so what is served is that file.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI document, byte for byte as in the repository.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub(super) async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_json_and_openapi_3() {
        let doc: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    }
}
