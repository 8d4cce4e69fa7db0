//! The gateway's steps (authentication, rate limits, audit, …) as tower layers. A [`Step`]
//! sees each request, answers it itself or hands it on with [`Next::run`], and may look at
//! the response on its way back. Unlike `axum::middleware::from_fn`, which boxes the service
//! beneath it on every request, a step's layer knows that service's type, and a step is shared
//! behind an `Arc`: a request through the gateway's stack costs one boxed future per step and
//! a few reference counts (tower clones the services beneath a step for each request, so
//! what a step holds inline would be copied once per step above it).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service, ServiceExt};

/// One job done on every request.
pub(crate) trait Step: Send + Sync + 'static {
    fn run<S: Inner>(
        &self,
        request: Request,
        next: Next<S>,
    ) -> impl Future<Output = Response> + Send;
}

/// What a step hands its requests to: the steps beneath it and the router.
pub(crate) trait Inner:
    Service<Request, Response = Response, Error = Infallible, Future: Send> + Send + 'static
{
}

impl<S> Inner for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send> + Send + 'static
{
}

/// The rest of the stack, for one request.
pub(crate) struct Next<S>(S);

impl<S: Inner> Next<S> {
    pub async fn run(self, request: Request) -> Response {
        match self.0.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The layer of a step, for `ServiceBuilder::layer`.
#[derive(Clone)]
pub(crate) struct StepLayer<T>(pub T);

impl<T: Clone, S> Layer<S> for StepLayer<T> {
    type Service = Stepped<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Stepped {
            step: Arc::new(self.0.clone()),
            inner,
        }
    }
}

pub(crate) struct Stepped<T, S> {
    step: Arc<T>,
    inner: S,
}

impl<T, S: Clone> Clone for Stepped<T, S> {
    fn clone(&self) -> Self {
        Self {
            step: Arc::clone(&self.step),
            inner: self.inner.clone(),
        }
    }
}

impl<T: Step, S: Inner + Clone> Service<Request> for Stepped<T, S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    /// Ready at once: the service beneath is readied for each request by [`Next::run`].
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let next = Next(self.inner.clone());
        let step = Arc::clone(&self.step);
        Box::pin(async move { Ok(step.run(request, next).await) })
    }
}
