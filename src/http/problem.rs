//! RFC 9457 problem details: the API's one error shape (api.md "Errors"). Every refusal —
//! the domain's, axum's own rejections, unknown routes, panics — leaves as one of these.

use std::any::Any;

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::error::{sentence, Error, FieldError};
use crate::domain::tenant::LogoRefusal;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response: `type`, `title`, `status`, a stable `code`, a sentence for a person,
/// and for validation failures every invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    #[schema(example = "Validation failed")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    #[schema(example = "2 fields are invalid")]
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// On a dead invite link: whether its recipient may ask for a fresh one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "available")]
    pub renewal: Option<&'static str>,
    #[serde(skip)]
    retry_after_secs: Option<u64>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FieldError)]
pub struct ProblemField {
    #[schema(example = "email")]
    pub field: String,
    #[schema(example = "invalid_email")]
    pub code: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code,
            detail: detail.into(),
            errors: Vec::new(),
            renewal: None,
            retry_after_secs: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing here, or you may not see it.",
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many attempts; wait before trying again.",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side.",
        )
    }

    pub fn validation(fields: Vec<ProblemField>) -> Self {
        let detail = match fields.as_slice() {
            [one] => one.message.clone(),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            title: String::from("Validation failed"),
            errors: fields,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                detail,
            )
        }
    }

    /// Field errors in a query string: `400 bad_request` with the fields listed.
    pub fn bad_query(fields: Vec<FieldError>) -> Self {
        Self {
            errors: fields.into_iter().map(ProblemField::from).collect(),
            ..Self::bad_request("A query parameter has a value that is not allowed.")
        }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<FieldError> for ProblemField {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field.to_owned(),
            code: error.code.to_owned(),
            message: error.message,
        }
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::Validation(fields) => {
                Self::validation(fields.into_iter().map(ProblemField::from).collect())
            }
            Error::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in and send your token as Authorization: Bearer {token}.",
            ),
            Error::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is not correct.",
            ),
            Error::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Your role does not allow this.",
            ),
            Error::NotFound(_) => Self::not_found(),
            Error::Conflict(conflict) => Self::new(
                StatusCode::CONFLICT,
                conflict.code(),
                sentence(&conflict.to_string()),
            ),
            Error::Gone(gone) => {
                Self::new(StatusCode::GONE, gone.code(), sentence(&gone.to_string()))
            }
            Error::ResetGone(gone) => {
                Self::new(StatusCode::GONE, gone.code(), sentence(&gone.to_string()))
            }
            Error::Logo(LogoRefusal::TooLarge) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "A logo can be at most 512 KiB.",
            ),
            Error::Logo(refusal) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                sentence(&refusal.to_string()),
            ),
            error @ Error::TooManyRows { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                sentence(&error.to_string()),
            ),
            Error::RateLimited { retry_after_secs } => Self::rate_limited(retry_after_secs),
            error @ (Error::Database(_) | Error::Internal(_)) => {
                tracing::error!(%error, cause = ?error, "request failed");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, axum::Json(&self)).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<Error> for Response {
    fn from(error: Error) -> Self {
        Problem::from(error).into_response()
    }
}

/// Maps a rejection of axum's extractors by its status.
fn from_rejection(status: StatusCode, text: String) -> Problem {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            status,
            "payload_too_large",
            "The request body is too large.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
            status,
            "unsupported_media_type",
            "Send the body as application/json.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => Problem::validation(vec![ProblemField {
            field: String::from("body"),
            code: String::from("invalid_body"),
            message: text,
        }]),
        _ => Problem::bad_request(text),
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<BytesRejection> for Problem {
    fn from(rejection: BytesRejection) -> Self {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        Problem::bad_request(rejection.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(_: PathRejection) -> Self {
        Problem::not_found()
    }
}

/// The last guard of "problem details, always": an error answer that some layer produced
/// in another shape is replaced by the problem for its status.
pub async fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !status.is_client_error() && !status.is_server_error() || is_problem {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => return Problem::not_found().into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        s if s.is_server_error() => return Problem::internal().into_response(),
        _ => "bad_request",
    };
    let detail = status
        .canonical_reason()
        .unwrap_or("The request was refused.");
    Problem::new(status, code, detail).into_response()
}

/// A panic becomes `500 internal` with nothing of the panic in the body.
pub fn from_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a request handler panicked");
    Problem::internal().into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret internal detail")
    }

    #[tokio::test]
    async fn a_panic_answers_500_internal_without_its_detail() {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(from_panic));
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"code\":\"internal\""), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
