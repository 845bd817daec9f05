//! The pieces of the OpenAPI document that handlers name in their `#[utoipa::path]`: the
//! problem answers many operations share, and the binary body of a logo. Kept apart from
//! `openapi.rs`, which lists the handlers, so that handlers and document do not import each
//! other.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{PartialSchema, ToResponse, ToSchema};

use crate::http::problem::PROBLEM_JSON;

/// An image's bytes, sent and served with their own `Content-Type`: a logo. Described by hand
/// because the derive would describe a `Vec<u8>` as an array of integers, which generators
/// cannot send as a file.
pub struct Image;

impl PartialSchema for Image {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Image {}

/// Declares the problem answers that many operations share. Each is a response component
/// (`#/components/responses/NotFound`) whose body is a `Problem` and whose description names
/// the `code` it carries; a header, where the answer has one, is described with it.
macro_rules! problem_responses {
    ($($name:ident: $description:literal $(, header $header:literal: $header_doc:literal)?;)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                #[allow(unused_mut)]
                let mut response = ResponseBuilder::new()
                    .description($description)
                    .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))));
                $(
                    response = response.header(
                        $header,
                        HeaderBuilder::new()
                            .schema(Object::with_type(Type::String))
                            .description(Some($header_doc))
                            .build(),
                    );
                )?
                (stringify!($name), response.build().into())
            }
        }
    )*};
}

problem_responses! {
    BadRequest: "`bad_request`: the body is not JSON, or a query parameter has a value it does not take.";
    Unauthenticated: "`unauthenticated`: no API token, or one that has expired or been revoked.",
        header "WWW-Authenticate": "Bearer";
    Forbidden: "`forbidden`: signed in, but the caller's role does not allow this.";
    NotFound: "`not_found`: there is no such thing, or the caller may not see it.";
    InviteLinkGone: "`invite_expired`, `invite_used` or `invite_revoked`: the link can no longer be used.";
    ResetLinkGone: "`reset_link_expired`, `reset_link_used` or `reset_link_superseded`: the link can no longer be used.";
    PayloadTooLarge: "`payload_too_large`: the body is over its limit (64 KiB of JSON, 512 KiB for a logo).";
    UnsupportedMediaType: "`unsupported_media_type`: a JSON body sent as another type, or a logo that is not PNG, JPEG, WebP or GIF.";
    ValidationFailed: "`validation_failed`: the fields in `errors` break the rules, each with its own code.";
    RateLimited: "`rate_limited`: too many attempts; `Retry-After` says when to come back.",
        header "Retry-After": "Seconds to wait";
}
