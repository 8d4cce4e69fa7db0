//! Serving the internal routes declared in `s4e_types::routes`: the router takes a route's
//! method and path from its declaration, and a request for a route the service does not serve
//! is answered with code `no_route`, which a caller (and the test that walks every declared
//! route) can tell from a handler's `not_found`.

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, on};
use s4e_types::routes::{Route, Verb};

use crate::ApiError;

/// The error code of a request no route of the service matches.
pub const NO_ROUTE: &str = "no_route";

pub trait InternalRouter<S> {
    /// Serves `route` with `handler`.
    fn at<H, T>(self, route: Route, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static;

    /// Answers what no route matches (path or method) with [`NO_ROUTE`].
    fn with_no_route_answer(self) -> Self;
}

impl<S: Clone + Send + Sync + 'static> InternalRouter<S> for Router<S> {
    fn at<H, T>(self, route: Route, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.route(route.path, on(method_filter(route.verb), handler))
    }

    fn with_no_route_answer(self) -> Self {
        self.fallback(no_route)
            .method_not_allowed_fallback(no_method)
    }
}

async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, NO_ROUTE, "no such route")
}

async fn no_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        NO_ROUTE,
        "the route does not take this method",
    )
}

/// The HTTP method of `verb`, for the router and for the client that calls the route.
pub fn method(verb: Verb) -> Method {
    match verb {
        Verb::Get => Method::GET,
        Verb::Post => Method::POST,
        Verb::Put => Method::PUT,
        Verb::Patch => Method::PATCH,
        Verb::Delete => Method::DELETE,
    }
}

fn method_filter(verb: Verb) -> MethodFilter {
    MethodFilter::try_from(method(verb)).expect("every verb is a standard method")
}
