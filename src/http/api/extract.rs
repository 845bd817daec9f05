//! The API's extractors: axum's, with every rejection turned into problem details, and the
//! bearer-token check that turns a request into an actor.

use axum::extract::{FromRef, FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::error::Error;
use crate::domain::session::{Authenticated, SessionKind};
use crate::http::problem::{Problem, ProblemField};
use crate::http::request::ClientIp;
use crate::http::AppState;

/// A JSON body. Syntax errors are `400`; a body of the wrong shape is `422` naming the
/// field, as every other validation failure is.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) =
            <axum::Json<serde_json::Value> as FromRequest<S>>::from_request(req, state).await?;
        serde_path_to_error::deserialize(value)
            .map(Json)
            .map_err(|error| {
                let message = error.inner().to_string();
                let path = error.path().to_string();
                let field = match message.strip_prefix("missing field `") {
                    Some(rest) => rest.trim_end_matches('`').to_owned(),
                    None if path == "." => String::from("body"),
                    None => path,
                };
                Problem::validation(vec![ProblemField {
                    field,
                    code: String::from("invalid_value"),
                    message,
                }])
            })
    }
}

/// An optional JSON body: a request without a body or a `Content-Type` has none.
impl<S, T> OptionalFromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !req.headers().contains_key(CONTENT_TYPE) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// A raw body (a logo's bytes); a body over the route's limit is `413`.
pub struct RawBody(pub axum::body::Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = <axum::body::Bytes as FromRequest<S>>::from_request(req, state).await?;
        Ok(Self(bytes))
    }
}

/// Path parameters; a path that does not parse names nothing that exists (`404`).
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// Query parameters; a value of the wrong type is `400 bad_request`.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// A request carrying a live API token: who sent it, and the token itself (for signing out).
pub struct Bearer {
    pub signed_in: Authenticated,
    pub token: String,
}

impl<S> FromRequestParts<S> for Bearer
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned())
            .filter(|token| !token.is_empty())
            .ok_or(Error::Unauthenticated)?;
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let app = AppState::from_ref(state);
        let signed_in = app
            .tether
            .authenticate(&token, SessionKind::Api, ip.map(|ip| ip.to_string()))
            .await?;
        Ok(Self { signed_in, token })
    }
}
