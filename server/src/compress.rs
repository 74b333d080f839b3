//! Response compression (brotli or gzip, as the client accepts) for static files and JSON, which
//! leaves alone what is already compressed: images, Server-Sent Events (they must stream),
//! small bodies, and responses marked [`AlreadyCompressed`] (SPZ scenes are gzip inside).

use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Response extension: the body is already compressed; sending it through brotli or gzip
/// again costs CPU and saves nothing.
#[derive(Debug, Clone, Copy)]
pub struct AlreadyCompressed;

/// What the layer compresses: tower-http's default (no images, no SSE, no gRPC, no bodies of
/// 32 bytes or less) minus responses marked [`AlreadyCompressed`].
pub type Compressible = tower_http::compression::predicate::And<
    DefaultPredicate,
    fn(StatusCode, Version, &HeaderMap, &Extensions) -> bool,
>;

fn not_marked(_: StatusCode, _: Version, _: &HeaderMap, ext: &Extensions) -> bool {
    ext.get::<AlreadyCompressed>().is_none()
}

/// The compression layer. Quality 5 rather than the codecs' defaults: responses are compressed
/// as they are sent, and brotli's default (11) takes seconds on the 2.4 MB wasm where 5 takes
/// tens of milliseconds for nearly the same size.
pub fn layer() -> CompressionLayer<Compressible> {
    let marked: fn(StatusCode, Version, &HeaderMap, &Extensions) -> bool = not_marked;
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(5))
        .compress_when(DefaultPredicate::new().and(marked))
}
