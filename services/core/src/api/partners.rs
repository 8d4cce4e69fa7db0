//! Partners (MSSPs): their customer organizations and the portfolio across them. A partner's
//! people act inside a customer by naming it in `X-Organization-Id` (see `auth.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_runtime::{ApiError, PublicJson};
use s4e_types::api::{CreateCustomer, List, Organization, PortfolioEntry};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// The security score of an organization from the penalty of its open findings, 0–100
/// (higher is better): `round(100 · e^(−p/50))`, where each open finding adds to `p` its
/// severity's weight (critical 10, high 5, medium 2, low 0.5, info 0) times its asset's
/// criticality (low 0.5, medium 1, high 1.5, critical 2; base sums it). With assets of the
/// default criticality: no open finding scores 100; one critical 82; five highs 61; ten
/// criticals 14. It never reaches 0, so a worse posture always scores lower.
pub fn security_score(penalty: f64) -> u8 {
    let score = (100.0 * (-penalty / 50.0).exp()).round();
    score.clamp(0.0, 100.0) as u8
}

/// The caller's organization, which must be a partner.
async fn own_partner(state: &AppState, principal: &Principal) -> Result<Organization, ApiError> {
    let organization = state.base.get_organization(principal.org_id).await?;
    if !organization.is_partner {
        return Err(ApiError::forbidden("this organization is not a partner"));
    }
    Ok(organization)
}

/// A partner's customer organizations (customers:read)
///
/// For a caller whose organization is not a partner, 403.
#[utoipa::path(get, path = "/api/v1/customers", operation_id = "listCustomers", tag = "partners",
    responses((status = 200, description = "The customers", body = List<Organization>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<Organization>>, ApiError> {
    principal.require(Resource::Customers, Access::Read)?;
    let partner = own_partner(&state, &principal).await?;
    let items = state.base.list_customers(partner.id).await?;
    Ok(Json(List { items }))
}

/// Create a customer organization managed by this partner (customers:write)
#[utoipa::path(post, path = "/api/v1/customers", operation_id = "createCustomer", tag = "partners",
    request_body = CreateCustomer,
    responses((status = 201, description = "Created", body = Organization)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<CreateCustomer>,
) -> Result<(StatusCode, Json<Organization>), ApiError> {
    principal.require(Resource::Customers, Access::Write)?;
    let partner = own_partner(&state, &principal).await?;
    let customer = state.base.create_customer(partner.id, &body.name).await?;
    tracing::info!(partner = %partner.id, customer = %customer.id, "customer organization created");
    Ok((StatusCode::CREATED, Json(customer)))
}

/// Every customer with its open findings and security score (customers:read)
///
/// `score = round(100 · e^(−p/50))` with `p = 10·critical + 5·high + 2·medium + 0.5·low` over
/// open findings (informational ones weigh nothing): 100 with no open finding, 82 with one
/// critical, 61 with five highs, 14 with ten criticals; a worse posture always scores lower.
//
// Every customer's counts come from one call to base.
#[utoipa::path(get, path = "/api/v1/portfolio", operation_id = "portfolio", tag = "partners",
    responses((status = 200, description = "The portfolio", body = List<PortfolioEntry>)))]
pub async fn portfolio(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<List<PortfolioEntry>>, ApiError> {
    principal.require(Resource::Customers, Access::Read)?;
    let partner = own_partner(&state, &principal).await?;
    let items = state
        .base
        .portfolio(partner.id)
        .await?
        .into_iter()
        .map(|customer| PortfolioEntry {
            score: security_score(customer.penalty),
            organization: customer.organization,
            open_findings: customer.open_findings,
            exposed_services: customer.exposed_services,
        })
        .collect();
    Ok(Json(List { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The penalty of open findings on assets of the default criticality.
    fn penalty(critical: i64, high: i64, medium: i64, low: i64, _info: i64) -> f64 {
        10.0 * critical as f64 + 5.0 * high as f64 + 2.0 * medium as f64 + 0.5 * low as f64
    }

    #[test]
    fn the_score_follows_its_documented_formula() {
        let score = |c, h, m, l, i| security_score(penalty(c, h, m, l, i));
        assert_eq!(score(0, 0, 0, 0, 0), 100);
        assert_eq!(score(0, 0, 0, 0, 1000), 100);
        assert_eq!(score(1, 0, 0, 0, 0), 82);
        assert_eq!(score(0, 5, 0, 0, 0), 61);
        assert_eq!(score(10, 0, 0, 0, 0), 14);
        assert_eq!(score(0, 0, 1, 2, 0), 94);
        // A critical finding on a critical asset weighs twice as much.
        assert_eq!(security_score(2.0 * penalty(1, 0, 0, 0, 0)), 67);
        // Worse is always lower, however bad it already is.
        assert!(score(40, 0, 0, 0, 0) < score(30, 0, 0, 0, 0) || score(30, 0, 0, 0, 0) == 0);
        assert!(score(2, 0, 0, 0, 0) < score(1, 0, 0, 0, 0));
    }
}
