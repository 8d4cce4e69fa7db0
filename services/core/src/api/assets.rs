use std::net::{IpAddr, SocketAddr};

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use s4e_egress::OwnServices;
use s4e_runtime::extract::ApiPath;
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::api::PageQuery;
use s4e_types::api::{ErrorBody, Page, Verification, VerificationOutcome, VerifyAsset};
use s4e_types::inventory::{
    AssetService, AssetServiceQuery, AssetTechnology, ServiceQuery, TechnologyQuery,
};
use s4e_types::{
    Asset, AssetId, AssetKind, AssetListQuery, AssetTags, BulkAssetTags, BulkAssetTagsResult,
    NewAsset, UpdateAsset,
};

use crate::AppState;
use crate::auth::Principal;
use crate::permissions::{Access, Resource};

/// Register an asset
///
/// A domain, an IP address or an http(s) URL, normalised as stored. An address no deployment
/// may scan (cloud metadata, link-local, unspecified, and their IPv4-mapped and NAT64 forms)
/// is refused. The asset is scanned passively until its ownership is verified.
#[utoipa::path(post, path = "/api/v1/assets", operation_id = "createAsset", tag = "assets",
    request_body = NewAsset,
    responses(
        (status = 201, description = "Registered", body = Asset),
        (status = 409, description = "The organization already has this asset", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<NewAsset>,
) -> Result<(StatusCode, Json<Asset>), ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    // An asset registered by a limited user would be outside their own limit.
    principal.require_unlimited("registering assets")?;
    if let Some(reason) = never_scanned(&body, &state.own_services) {
        return Err(ApiError::bad_request(format!(
            "value: {reason}, never scanned"
        )));
    }
    let asset = state.base.create_asset(principal.org_id, &body).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), asset_id = %asset.id, "asset registered");
    Ok((StatusCode::CREATED, Json(asset)))
}

/// Why an asset's address can never be scanned, whatever the deployment allows: refused when
/// registered rather than when first scanned. A domain is judged when it is resolved.
pub(super) fn never_scanned(asset: &NewAsset, own_services: &OwnServices) -> Option<&'static str> {
    let value = asset.value.trim();
    let ip = match asset.kind {
        AssetKind::Ip => value.parse::<IpAddr>().ok()?,
        // Parsed as base stores it: `http://2852039166/` and `http://0xa9.254.169.254/` name
        // 169.254.169.254.
        AssetKind::Url | AssetKind::Api => {
            let url = url::Url::parse(value).ok()?;
            let ip = match url.host()? {
                url::Host::Ipv4(ip) => IpAddr::V4(ip),
                url::Host::Ipv6(ip) => IpAddr::V6(ip),
                url::Host::Domain(_) => return None,
            };
            // A URL names one port: one of the platform's own services is never a target.
            if let Some(port) = url.port_or_known_default()
                && own_services.contains(SocketAddr::new(ip, port))
            {
                return Some("one of the platform's own services");
            }
            ip
        }
        AssetKind::Domain => return None,
        // A range whose ends are never allowed (link-local, multicast, …) is refused; each
        // host of any other range still passes the egress policy when it is scanned.
        AssetKind::Cidr => {
            let net: ipnet::IpNet = value.parse().ok()?;
            return s4e_egress::never_allowed(net.network())
                .or_else(|| s4e_egress::never_allowed(net.broadcast()));
        }
    };
    s4e_egress::never_allowed(ip)
}

/// List the organization's assets
///
/// Oldest first, in pages of `limit` (default 100, at most 1000) that continue with
/// `after=<next_cursor>`. Archived assets are left out unless `archived=true`.
#[utoipa::path(get, path = "/api/v1/assets", operation_id = "listAssets", tag = "assets",
    params(AssetListQuery),
    responses((status = 200, description = "A page of assets", body = Page<Asset>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<AssetListQuery>,
) -> Result<Json<Page<Asset>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    s4e_types::api::page_size(query.limit).map_err(ApiError::bad_request)?;
    let mut page = state.base.list_assets(principal.org_id, &query).await?;
    page.items.retain(|asset| principal.sees_asset(asset.id));
    Ok(Json(page))
}

/// One asset
#[utoipa::path(get, path = "/api/v1/assets/{asset_id}", operation_id = "getAsset", tag = "assets",
    params(("asset_id" = AssetId, Path)),
    responses((status = 200, description = "The asset", body = Asset)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_asset(asset_id, "asset")?;
    let asset = state.base.get_asset(principal.org_id, asset_id).await?;
    Ok(Json(asset))
}

/// Rename an asset, or set its criticality or owner (assets:write)
///
/// The fields named are replaced; `null` clears the name or the owner. Its value is what was
/// proven and does not change.
#[utoipa::path(patch, path = "/api/v1/assets/{asset_id}", operation_id = "updateAsset", tag = "assets",
    params(("asset_id" = AssetId, Path)),
    request_body = UpdateAsset,
    responses((status = 200, description = "The asset", body = Asset)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicJson(body): PublicJson<UpdateAsset>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_asset(asset_id, "asset")?;
    Ok(Json(
        state
            .base
            .update_asset(principal.org_id, asset_id, &body)
            .await?,
    ))
}

/// What the port scans saw listening on an asset (assets:read)
///
/// One entry per port: the protocol, product and version recognised, whether it speaks TLS,
/// first and last seen, and when a scan of its port found it closed (`gone_at`; listed with
/// `include_gone=true`). Oldest first, in pages of `limit` continuing with `after`.
#[utoipa::path(get, path = "/api/v1/assets/{asset_id}/services", operation_id = "listAssetServices", tag = "assets",
    params(("asset_id" = AssetId, Path), AssetServiceQuery),
    responses((status = 200, description = "The asset's services", body = Page<AssetService>)))]
pub async fn services(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicQuery(query): PublicQuery<AssetServiceQuery>,
) -> Result<Json<Page<AssetService>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_asset(asset_id, "asset")?;
    // Unknown and other organizations' assets answer 404, not an empty list.
    state.base.get_asset(principal.org_id, asset_id).await?;
    let query = query.for_asset(asset_id);
    Ok(Json(
        state.base.list_services(principal.org_id, &query).await?,
    ))
}

/// What the checks identified on an asset (assets:read)
///
/// Server software, languages, frameworks, CMS and JavaScript libraries its responses gave
/// away, one entry per technology: the version last seen where it showed, the evidence, first
/// and last seen. Oldest first, in pages of `limit` continuing with `after`.
#[utoipa::path(get, path = "/api/v1/assets/{asset_id}/technologies", operation_id = "listAssetTechnologies", tag = "assets",
    params(("asset_id" = AssetId, Path), PageQuery),
    responses((status = 200, description = "The asset's technologies", body = Page<AssetTechnology>)))]
pub async fn technologies(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicQuery(page): PublicQuery<PageQuery>,
) -> Result<Json<Page<AssetTechnology>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    principal.require_asset(asset_id, "asset")?;
    // Unknown and other organizations' assets answer 404, not an empty list.
    state.base.get_asset(principal.org_id, asset_id).await?;
    let query = TechnologyQuery {
        asset_id: Some(asset_id),
        after: page.after,
        limit: page.limit,
        ..TechnologyQuery::default()
    };
    Ok(Json(
        state
            .base
            .list_technologies(principal.org_id, &query)
            .await?,
    ))
}

/// Every technology identified on the organization's assets (assets:read)
///
/// Filtered by `asset_id`, `name` (any case, e.g. `nginx`) and `category`: which assets run
/// what. A user limited to assigned assets names one of them.
#[utoipa::path(get, path = "/api/v1/technologies", operation_id = "listTechnologies", tag = "assets",
    params(TechnologyQuery),
    responses((status = 200, description = "The technologies", body = Page<AssetTechnology>)))]
pub async fn all_technologies(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<TechnologyQuery>,
) -> Result<Json<Page<AssetTechnology>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    match query.asset_id {
        Some(asset_id) => principal.require_asset(asset_id, "asset")?,
        None => principal.require_unlimited("listing every technology")?,
    }
    Ok(Json(
        state
            .base
            .list_technologies(principal.org_id, &query)
            .await?,
    ))
}

/// Every service the port scans saw on the organization's assets (assets:read)
///
/// Filtered by `asset_id`, `port` and `service` (the protocol, e.g. `ssh`); the ones gone
/// only with `include_gone=true`. A user limited to assigned assets names one of them.
#[utoipa::path(get, path = "/api/v1/services", operation_id = "listServices", tag = "assets",
    params(ServiceQuery),
    responses((status = 200, description = "The services", body = Page<AssetService>)))]
pub async fn all_services(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<ServiceQuery>,
) -> Result<Json<Page<AssetService>>, ApiError> {
    principal.require(Resource::Assets, Access::Read)?;
    match query.asset_id {
        Some(asset_id) => principal.require_asset(asset_id, "asset")?,
        None => principal.require_unlimited("listing every service")?,
    }
    Ok(Json(
        state.base.list_services(principal.org_id, &query).await?,
    ))
}

/// Replace an asset's tags (assets:write)
///
/// Each tag is `key` or `key=value`: a key of lowercase letters, digits and `_ . : / -`
/// (1–64, lowercased), a value of 1–200 characters; at most 50 per asset, duplicates dropped.
/// Schedules and rules can name a tag; `GET /api/v1/assets?tag=` filters by one.
#[utoipa::path(put, path = "/api/v1/assets/{asset_id}/tags", operation_id = "setAssetTags", tag = "assets",
    params(("asset_id" = AssetId, Path)),
    request_body = AssetTags,
    responses((status = 200, description = "The asset", body = Asset)))]
pub async fn set_tags(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicJson(body): PublicJson<AssetTags>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_asset(asset_id, "asset")?;
    s4e_types::asset::normalize_tags(&body.tags).map_err(ApiError::bad_request)?;
    Ok(Json(
        state
            .base
            .set_asset_tags(principal.org_id, asset_id, &body)
            .await?,
    ))
}

/// Tag and untag up to 1000 assets at once (assets:write)
///
/// All or none: an id that is not one of the organization's assets (or not one the caller
/// may see) answers 404 and nothing changes. A bare key in `remove` removes the key with any
/// value.
#[utoipa::path(post, path = "/api/v1/assets/bulk-tags", operation_id = "bulkTagAssets", tag = "assets",
    request_body = BulkAssetTags,
    responses((status = 200, description = "How many assets changed", body = BulkAssetTagsResult)))]
pub async fn bulk_tags(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<BulkAssetTags>,
) -> Result<Json<BulkAssetTagsResult>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    body.normalized().map_err(ApiError::bad_request)?;
    for asset_id in &body.asset_ids {
        principal.require_asset(*asset_id, "asset")?;
    }
    Ok(Json(
        state.base.bulk_tag_assets(principal.org_id, &body).await?,
    ))
}

/// Archive an asset (assets:write)
///
/// Nothing is deleted: its scans and findings stay as history. It is no longer listed by
/// default, scanned (409) or proven again. Archiving an archived asset changes nothing.
#[utoipa::path(delete, path = "/api/v1/assets/{asset_id}", operation_id = "archiveAsset", tag = "assets",
    params(("asset_id" = AssetId, Path)),
    responses((status = 200, description = "The archived asset", body = Asset)))]
pub async fn archive(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
) -> Result<Json<Asset>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_unlimited("archiving assets")?;
    let asset = state.base.archive_asset(principal.org_id, asset_id).await?;
    tracing::info!(org_id = %principal.org_id, caller = %principal.log_id(), %asset_id, "asset archived");
    Ok(Json(asset))
}

/// Prove the asset is the organization's (assets:write)
///
/// Its `verification_token` in `/.well-known/s4e-verification.txt`, a
/// `<meta name="s4e-verification" content="…">` tag on the page, or a TXT record
/// `s4e-verification=…` at the domain. The outcome is recorded: a failed attempt removes an
/// earlier proof.
#[utoipa::path(post, path = "/api/v1/assets/{asset_id}/verify", operation_id = "verifyAsset", tag = "assets",
    params(("asset_id" = AssetId, Path)),
    request_body = VerifyAsset,
    responses((status = 200, description = "The outcome", body = VerificationOutcome)))]
pub async fn verify(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(asset_id): ApiPath<AssetId>,
    PublicJson(body): PublicJson<VerifyAsset>,
) -> Result<Json<VerificationOutcome>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_asset(asset_id, "asset")?;
    // An owner asking proves now or loses the proof; only re-verification has a grace period.
    let body = Verification {
        method: body.method,
        keep_if_unreachable_seconds: None,
    };
    let outcome = state
        .scan
        .verify_asset(principal.org_id, asset_id, &body)
        .await?;
    Ok(Json(outcome))
}
