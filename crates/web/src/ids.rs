//! Identifiers in paths, parsed into their own types where they arrive.
use crate::error::ApiError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use iamsmart_domain::DomainError;
use iamsmart_proto::ids::MalformedId;

/// The route's one path parameter as an identifier of type `T`. Text that cannot be such an
/// identifier names nothing: the answer is the same 404 as for an unknown one, and the
/// database is not asked.
#[derive(Debug)]
pub struct PathId<T>(pub T);

impl<S, T> FromRequestParts<S> for PathId<T>
where
    S: Send + Sync,
    T: std::str::FromStr<Err = MalformedId> + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(not_found)?;
        text.parse().map(PathId).map_err(not_found)
    }
}

fn not_found<E>(_: E) -> ApiError {
    ApiError::from(DomainError::NotFound)
}

/// An identifier of type `T` that arrived elsewhere than alone in the path (a body, a form, a
/// query, one of several path parameters): text that cannot be one names nothing, the same
/// [`DomainError::NotFound`] as an unknown one.
pub fn named<T>(text: &str) -> Result<T, DomainError>
where
    T: std::str::FromStr<Err = MalformedId>,
{
    text.parse().map_err(|_| DomainError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iamsmart_proto::ids::ApprovalId;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_path_id_is_parsed_and_anything_else_is_not_found() {
        let app = axum::Router::new().route(
            "/requests/{id}",
            axum::routing::get(|PathId(id): PathId<ApprovalId>| async move { id.to_string() }),
        );
        let call = |path: String| {
            let app = app.clone();
            async move {
                let req = axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let res = app.oneshot(req).await.unwrap();
                let status = res.status();
                let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                    .await
                    .unwrap();
                (status.as_u16(), String::from_utf8_lossy(&body).into_owned())
            }
        };
        let id = "ar_0123456789abcdefghijkl";
        assert_eq!(call(format!("/requests/{id}")).await, (200, id.to_string()));
        for bad in ["ar_short", "ar_0123456789abcdefghij%2Fk", "%27%3B--", "x"] {
            let (status, body) = call(format!("/requests/{bad}")).await;
            assert_eq!(status, 404, "{bad}: {body}");
            assert!(body.contains("not-found"), "{bad}: {body}");
        }
    }
}
