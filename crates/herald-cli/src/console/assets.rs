//! The page: plain HTML, CSS and JavaScript, and Microsoft's Adaptive Card
//! renderer (`console-web/vendor/`, made by `scripts/build-console-assets.sh`),
//! all built into the binary. Nothing is loaded from anywhere else.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// A file served as it is.
fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse + Clone {
    ([(header::CONTENT_TYPE, content_type)], body)
}

/// `/`, `/app.js`, `/app.css` and `/vendor/adaptivecards.min.js`.
pub(super) fn routes() -> Router {
    let index = file(
        "text/html; charset=utf-8",
        include_str!("../../console-web/index.html"),
    );
    let js = file(
        "text/javascript; charset=utf-8",
        include_str!("../../console-web/app.js"),
    );
    let css = file(
        "text/css; charset=utf-8",
        include_str!("../../console-web/app.css"),
    );
    let cards = file(
        "text/javascript; charset=utf-8",
        include_str!("../../console-web/vendor/adaptivecards.min.js"),
    );
    Router::new()
        .route("/", get(move || async move { index }))
        .route("/app.js", get(move || async move { js }))
        .route("/app.css", get(move || async move { css }))
        .route(
            "/vendor/adaptivecards.min.js",
            get(move || async move { cards }),
        )
}
