//! The public API's endpoints, each declared once with what the gateway's steps need to know
//! of it: who may call it, and how the audit log names the change it makes. The same
//! declaration adds the handler to the router and the endpoint to the table the steps read.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, on};

use crate::AppState;

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// Anyone, without counting: the OpenAPI document.
    Anyone,
    /// Anyone, counted against their address: sign-up, sign-in and accepting an invitation,
    /// which record their own audit entries.
    Unauthenticated,
    /// The holder of an API key or a session, counted against their address and themselves.
    Authenticated,
}

/// How the audit log names a change: its action, the type of what it acts on, and the status
/// the endpoint answers when the change is made (what base records, in the change's
/// transaction, before the answer exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub resource: &'static str,
    pub answers: StatusCode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub caller: Caller,
    /// For an authenticated change; `None` for a read.
    pub action: Option<Action>,
    /// Whether a retry carrying the same `Idempotency-Key` gets the first answer back.
    pub replayable: bool,
}

/// An authenticated `/api/v1` route that was not declared here (added to the router some
/// other way): it still needs a caller, and its changes are audited under method and path.
const UNDECLARED: Endpoint = Endpoint {
    caller: Caller::Authenticated,
    action: None,
    replayable: false,
};

/// The endpoints by route and method, for the steps.
#[derive(Clone, Default)]
pub struct Endpoints(Arc<HashMap<&'static str, Vec<(Method, Endpoint)>>>);

impl Endpoints {
    /// The endpoint the request was routed to; `None` for an unrouted request (answered
    /// 404) and for what is not under `/api/v1` (the probes, the metrics).
    pub fn of(&self, request: &Request) -> Option<Endpoint> {
        let route = request.extensions().get::<MatchedPath>()?.as_str();
        let declared = self.0.get(route).and_then(|methods| {
            let exact = methods
                .iter()
                .find(|(method, _)| method == request.method());
            // Another method on a declared route (a HEAD, or one answered 405) is called by
            // whoever may call the route, and changes nothing.
            let route_caller = || {
                methods.first().map(|(_, endpoint)| Endpoint {
                    caller: endpoint.caller,
                    action: None,
                    replayable: false,
                })
            };
            exact.map(|(_, endpoint)| *endpoint).or_else(route_caller)
        });
        declared.or_else(|| route.starts_with("/api/v1/").then_some(UNDECLARED))
    }
}

/// Declares endpoints: each call adds a handler to the router and its endpoint to the table.
#[derive(Default)]
pub struct Declare {
    router: Router<AppState>,
    table: HashMap<&'static str, Vec<(Method, Endpoint)>>,
    last: Option<(&'static str, usize)>,
}

impl Declare {
    /// A read an authenticated caller makes.
    pub fn read<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        let endpoint = Endpoint {
            caller: Caller::Authenticated,
            action: None,
            replayable: false,
        };
        self.add(Method::GET, path, endpoint, handler)
    }

    /// A change an authenticated caller makes, recorded in the audit log as `action` on a
    /// `resource`, answered `answers` when made.
    pub fn change<H: Handler<T, AppState>, T: 'static>(
        self,
        method: Method,
        path: &'static str,
        (name, resource, answers): (&'static str, &'static str, StatusCode),
        handler: H,
    ) -> Self {
        let endpoint = Endpoint {
            caller: Caller::Authenticated,
            action: Some(Action {
                name,
                resource,
                answers,
            }),
            replayable: false,
        };
        self.add(method, path, endpoint, handler)
    }

    /// What anyone may call, counted against their address.
    pub fn unauthenticated<H: Handler<T, AppState>, T: 'static>(
        self,
        method: Method,
        path: &'static str,
        handler: H,
    ) -> Self {
        let endpoint = Endpoint {
            caller: Caller::Unauthenticated,
            action: None,
            replayable: false,
        };
        self.add(method, path, endpoint, handler)
    }

    /// What anyone may read, not counted.
    pub fn open<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        let endpoint = Endpoint {
            caller: Caller::Anyone,
            action: None,
            replayable: false,
        };
        self.add(Method::GET, path, endpoint, handler)
    }

    /// Makes the endpoint declared last replayable (see `idempotency`): a creation whose
    /// answer holds no secret.
    pub fn replayable(mut self) -> Self {
        let endpoint = self
            .last
            .and_then(|(path, index)| self.table.get_mut(path)?.get_mut(index))
            .expect("an endpoint is declared before it is made replayable");
        endpoint.1.replayable = true;
        self
    }

    fn add<H: Handler<T, AppState>, T: 'static>(
        mut self,
        method: Method,
        path: &'static str,
        endpoint: Endpoint,
        handler: H,
    ) -> Self {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("{method} {path}: not a method a route can have"));
        self.router = self.router.route(path, on(filter, handler));
        let methods = self.table.entry(path).or_default();
        methods.push((method, endpoint));
        self.last = Some((path, methods.len() - 1));
        self
    }

    pub fn finish(self) -> (Router<AppState>, Endpoints) {
        (self.router, Endpoints(Arc::new(self.table)))
    }

    pub fn table(&self) -> &HashMap<&'static str, Vec<(Method, Endpoint)>> {
        &self.table
    }
}
