//! The inventory in and out as files: an import of JSON rows or CSV judged row by row, with a
//! report of what was created, what the organization had, and what was refused and why; an
//! export of every asset as JSON or CSV, in the columns the import reads.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use s4e_runtime::{ApiError, PublicJson, PublicQuery};
use s4e_types::asset::MAX_IMPORT_ROWS;
use s4e_types::{
    Asset, AssetImport, AssetListQuery, Criticality, ImportOutcome, ImportReport, ImportRow,
    NewAsset,
};
use serde::Deserialize;

use super::assets::never_scanned;
use crate::AppState;
use crate::auth::Principal;
use crate::export::push_row;
use crate::permissions::{Access, Resource};

/// The columns of the CSV the import reads and the export writes.
const CSV_COLUMNS: [&str; 6] = ["kind", "value", "name", "criticality", "owner", "tags"];
/// What the export adds, which an import of it passes over.
const EXPORT_ONLY_COLUMNS: [&str; 3] = ["id", "verified_at", "created_at"];

/// The most assets one export holds.
const MAX_EXPORT: usize = 100_000;

/// Import assets (assets:write)
///
/// `assets` (JSON objects, each as `POST /api/v1/assets` takes) or `csv` (a header line naming
/// `kind` and `value`, and any of `name`, `criticality`, `owner`, `tags` with tags separated
/// by `;`), at most 5000 rows. Each row is judged on its own: `created`, `exists` (the
/// organization has it; it is left as it is) or `refused` with the reason naming the field.
/// Importing the same file twice creates nothing the second time.
#[utoipa::path(post, path = "/api/v1/assets/import", operation_id = "importAssets", tag = "assets",
    request_body = AssetImport,
    responses((status = 200, description = "What became of each row", body = ImportReport)))]
pub async fn import(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicJson(body): PublicJson<AssetImport>,
) -> Result<Json<ImportReport>, ApiError> {
    principal.require(Resource::Assets, Access::Write)?;
    principal.require_unlimited("registering assets")?;
    let parsed = match (body.assets, body.csv) {
        (Some(rows), None) => {
            if rows.len() > MAX_IMPORT_ROWS {
                return Err(too_many_rows());
            }
            rows.into_iter()
                .map(|row| {
                    serde_json::from_value::<NewAsset>(row).map_err(|error| error.to_string())
                })
                .collect()
        }
        (None, Some(csv)) => from_csv(&csv)?,
        _ => {
            return Err(ApiError::bad_request(
                "assets, csv: send the rows as one of them",
            ));
        }
    };
    // Rows that cannot be assets are refused here; the rest go to base together and are
    // filled in from its report.
    let mut rows: Vec<Option<ImportRow>> = Vec::with_capacity(parsed.len());
    let mut sent: Vec<(usize, NewAsset)> = Vec::new();
    for (index, row) in parsed.into_iter().enumerate() {
        let refused = |value: Option<String>, reason: String| {
            Some(ImportRow {
                row: index as u32 + 1,
                value,
                outcome: ImportOutcome::Refused,
                reason: Some(reason),
                asset_id: None,
            })
        };
        match row {
            Err(reason) => rows.push(refused(None, reason)),
            Ok(asset) => match never_scanned(&asset, &state.own_services) {
                Some(reason) => rows.push(refused(
                    Some(asset.value.clone()),
                    format!("value: {reason}, never scanned"),
                )),
                None => {
                    rows.push(None);
                    sent.push((index, asset));
                }
            },
        }
    }
    let (indexes, assets): (Vec<usize>, Vec<NewAsset>) = sent.into_iter().unzip();
    let judged = state.base.import_assets(principal.org_id, assets).await?;
    for (index, mut row) in indexes.into_iter().zip(judged) {
        row.row = index as u32 + 1;
        rows[index] = Some(row);
    }
    let rows: Vec<ImportRow> = rows.into_iter().flatten().collect();
    let count = |outcome| rows.iter().filter(|row| row.outcome == outcome).count() as u32;
    let report = ImportReport {
        created: count(ImportOutcome::Created),
        existing: count(ImportOutcome::Exists),
        refused: count(ImportOutcome::Refused),
        rows,
    };
    tracing::info!(
        org_id = %principal.org_id, caller = %principal.log_id(), created = report.created,
        existing = report.existing, refused = report.refused, "assets imported"
    );
    Ok(Json(report))
}

fn too_many_rows() -> ApiError {
    ApiError::bad_request(format!("assets: at most {MAX_IMPORT_ROWS} rows per import"))
}

/// The CSV's rows as assets, or why each is not one; the whole file is refused only when its
/// header names no `kind` and `value` or a column the import does not know.
fn from_csv(text: &str) -> Result<Vec<Result<NewAsset, String>>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|error| ApiError::bad_request(format!("csv: {error}")))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(unknown) = header.iter().find(|column| {
        !CSV_COLUMNS.contains(&column.as_str()) && !EXPORT_ONLY_COLUMNS.contains(&column.as_str())
    }) {
        return Err(ApiError::bad_request(format!(
            "csv: unknown column {unknown:?} (the columns are {})",
            CSV_COLUMNS.join(", ")
        )));
    }
    let column = |name: &str| header.iter().position(|column| column == name);
    let (Some(kind), Some(value)) = (column("kind"), column("value")) else {
        return Err(ApiError::bad_request(
            "csv: the header must name the kind and value columns",
        ));
    };
    let (name, criticality, owner, tags) = (
        column("name"),
        column("criticality"),
        column("owner"),
        column("tags"),
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(too_many_rows());
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                rows.push(Err(format!("csv: {error}")));
                continue;
            }
        };
        let cell = |index: Option<usize>| {
            index
                .and_then(|index| record.get(index))
                .filter(|cell| !cell.is_empty())
                .map(str::to_string)
        };
        rows.push(row_of(
            cell(Some(kind)),
            cell(Some(value)),
            cell(name),
            cell(criticality),
            cell(owner),
            cell(tags),
        ));
    }
    Ok(rows)
}

fn row_of(
    kind: Option<String>,
    value: Option<String>,
    name: Option<String>,
    criticality: Option<String>,
    owner: Option<String>,
    tags: Option<String>,
) -> Result<NewAsset, String> {
    let kind = kind.ok_or("kind: required")?;
    let kind = s4e_types::AssetKind::parse(&kind.to_ascii_lowercase())
        .ok_or_else(|| format!("kind: {kind:?} is not url, domain or ip"))?;
    let value = value.ok_or("value: required")?;
    let criticality = match criticality {
        None => Criticality::default(),
        Some(text) => Criticality::parse(&text.to_ascii_lowercase())
            .ok_or_else(|| format!("criticality: {text:?} is not low, medium, high or critical"))?,
    };
    let tags = tags
        .map(|tags| {
            tags.split(';')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(NewAsset {
        kind,
        value,
        name,
        tags,
        criticality,
        owner,
    })
}

/// `GET /api/v1/assets/export`: the format, and the list's filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssetExportQuery {
    /// `json` (default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[param(max_length = 265)]
    pub tag: Option<String>,
    pub criticality: Option<Criticality>,
}

/// Export the inventory (assets:read, exports:read)
///
/// Every asset the list would show, as JSON (the assets as listed) or as CSV in the columns
/// the import reads (`kind, value, name, criticality, owner, tags`, then `id, verified_at,
/// created_at`); at most 100,000.
#[utoipa::path(get, path = "/api/v1/assets/export", operation_id = "exportAssets", tag = "assets",
    params(AssetExportQuery),
    responses((status = 200, description = "The assets",
        content(
            (Vec<Asset> = "application/json"),
            (String = "text/csv"),
        ))))]
pub async fn export(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    PublicQuery(query): PublicQuery<AssetExportQuery>,
) -> Result<Response, ApiError> {
    principal.require(Resource::Exports, Access::Read)?;
    principal.require(Resource::Assets, Access::Read)?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format: {other:?} is not json or csv"
            )));
        }
    };
    let mut list = AssetListQuery {
        archived: query.archived,
        tag: query.tag,
        criticality: query.criticality,
        limit: Some(1000),
        ..AssetListQuery::default()
    };
    let mut assets: Vec<Asset> = Vec::new();
    loop {
        let page = state.base.list_assets(principal.org_id, &list).await?;
        assets.extend(
            page.items
                .into_iter()
                .filter(|asset| principal.sees_asset(asset.id)),
        );
        if assets.len() > MAX_EXPORT {
            return Err(ApiError::bad_request(format!(
                "more than {MAX_EXPORT} assets: narrow the export with tag or criticality"
            )));
        }
        match page.next_cursor {
            Some(cursor) => list.after = Some(cursor),
            None => break,
        }
    }
    if !csv {
        return Ok(Json(assets).into_response());
    }
    let mut out = String::new();
    let header = CSV_COLUMNS.iter().chain(&EXPORT_ONLY_COLUMNS);
    push_row(&mut out, header.map(|column| column.to_string()));
    for asset in &assets {
        push_row(
            &mut out,
            [
                asset.kind.as_str().to_string(),
                asset.value.clone(),
                asset.name.clone().unwrap_or_default(),
                asset.criticality.as_str().to_string(),
                asset.owner.clone().unwrap_or_default(),
                asset.tags.join(";"),
                asset.id.to_string(),
                asset
                    .verified_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default(),
                asset.created_at.to_rfc3339(),
            ]
            .into_iter(),
        );
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"assets.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
