//! The pages crawls fetched, in MongoDB, collection `crawl_pages`: a run's site map.
//!
//! One document per crawl and URL (`_id` is the job id and the URL), so a page fetched again
//! after a crawler was killed replaces its document. A document holds the public
//! [`SitePage`] fields and whatever else the crawler keeps for its finisher.

use mongodb::bson::{self, Document, RawArrayBuf, RawDocumentBuf, doc, rawdoc};
use mongodb::{Collection, Database, IndexModel};
use s4e_types::crawl::{SitePage, SitePageList, SitePageQuery};
use s4e_types::{JobId, OrgId, RunId};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::raw_outputs::open_database;

const COLLECTION: &str = "crawl_pages";

#[derive(Clone)]
pub struct CrawlPages {
    database: Database,
    pages: Collection<Document>,
}

/// A page of a crawl as it is stored, serialised once ([`CrawlPages::record_all`]).
#[derive(Clone, Debug)]
pub struct PageDocument {
    id: String,
    document: RawDocumentBuf,
}

impl PageDocument {
    /// `page` (which serialises to the [`SitePage`] fields and any of its own) as the
    /// document of `url` in the crawl of `job_id`.
    pub fn of<T: Serialize>(
        org_id: OrgId,
        job_id: JobId,
        url: &str,
        page: &T,
    ) -> Result<PageDocument, StoreError> {
        // Through a `Document`, then to bytes: serialising the crawler's pages straight to raw
        // bytes (`bson::to_raw_document_buf`) loses them (the crawl tests find no page).
        let convert = |error: &dyn std::fmt::Display| StoreError::Convert(error.to_string());
        let mut document = bson::to_document(page).map_err(|error| convert(&error))?;
        let id = format!("{job_id} {url}");
        document.insert("_id", &id);
        document.insert("org_id", org_id.to_string());
        let document = RawDocumentBuf::from_document(&document).map_err(|error| convert(&error))?;
        Ok(PageDocument { id, document })
    }

    /// Its size in bytes, as sent.
    pub fn size(&self) -> usize {
        self.document.as_bytes().len()
    }
}

impl CrawlPages {
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        let database = open_database(url, database).await?;
        let pages = database.collection(COLLECTION);
        Ok(Self { database, pages })
    }

    /// The indexes the site map is read by (idempotent).
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let by_run = IndexModel::builder()
            .keys(doc! { "org_id": 1, "run_id": 1, "url": 1 })
            .build();
        let by_job = IndexModel::builder()
            .keys(doc! { "job_id": 1, "url": 1 })
            .build();
        self.pages.create_indexes([by_run, by_job]).await?;
        Ok(())
    }

    /// Stores (or replaces) one page of a crawl; `page` serialises to the [`SitePage`] fields
    /// and any of its own.
    pub async fn record<T: Serialize>(
        &self,
        org_id: OrgId,
        job_id: JobId,
        url: &str,
        page: &T,
    ) -> Result<(), StoreError> {
        let page = PageDocument::of(org_id, job_id, url, page)?;
        match self.record_all(&[page]).await?.pop() {
            Some(Err(error)) => Err(StoreError::WritesRefused(error)),
            _ => Ok(()),
        }
    }

    /// Stores (or replaces) pages, of one crawl or several, in one command: an upsert each,
    /// unordered (none depends on another), under the database's write concern. Gives each
    /// page's outcome in order (a page MongoDB refused does not fail the others); `Err` when
    /// the command as a whole failed or its write concern was not met (then none counts as
    /// stored; writing them all again is harmless).
    pub async fn record_all(
        &self,
        pages: &[PageDocument],
    ) -> Result<Vec<Result<(), String>>, StoreError> {
        if pages.is_empty() {
            return Ok(Vec::new());
        }
        let mut updates = RawArrayBuf::new();
        for page in pages {
            updates.push(rawdoc! {
                "q": { "_id": page.id.as_str() },
                "u": page.document.clone(),
                "upsert": true,
            });
        }
        let mut command = rawdoc! { "update": COLLECTION, "updates": updates, "ordered": false };
        // A raw command takes no write concern of its own: the database's (the URL's `w=`) is
        // spelled out.
        if let Some(concern) = self.database.write_concern() {
            let concern = bson::to_document(concern)
                .ok()
                .and_then(|concern| RawDocumentBuf::from_document(&concern).ok());
            if let Some(concern) = concern.filter(|concern| !concern.is_empty()) {
                command.append("writeConcern", concern);
            }
        }
        let answer = self.database.run_raw_command(command).await?;
        if let Ok(error) = answer.get_document("writeConcernError") {
            return Err(StoreError::WritesRefused(format!(
                "the write concern was not met: {error}"
            )));
        }
        let mut outcomes = vec![Ok(()); pages.len()];
        for error in answer.get_array("writeErrors").into_iter().flatten() {
            let Some(error) = error.as_document() else {
                continue;
            };
            let index = error
                .get_i32("index")
                .ok()
                .and_then(|i| usize::try_from(i).ok());
            if let Some(outcome) = index.and_then(|index| outcomes.get_mut(index)) {
                *outcome = Err(error.get_str("errmsg").unwrap_or("refused").to_string());
            }
        }
        Ok(outcomes)
    }

    /// Hands every page of one crawl to `visit`, in URL order, one at a time: what the
    /// finisher consolidates without holding the site in memory.
    pub async fn each_of_job<T: DeserializeOwned>(
        &self,
        org_id: OrgId,
        job_id: JobId,
        mut visit: impl FnMut(T),
    ) -> Result<(), StoreError> {
        let mut cursor = self
            .pages
            .find(doc! { "org_id": org_id.to_string(), "job_id": job_id.to_string() })
            .sort(doc! { "url": 1 })
            .await?;
        while cursor.advance().await? {
            let document = cursor.deserialize_current()?;
            visit(from_document(document)?);
        }
        Ok(())
    }

    /// One page of a run's site map, in URL order after `query.after`.
    pub async fn list(
        &self,
        org_id: OrgId,
        run_id: RunId,
        query: &SitePageQuery,
        limit: u32,
    ) -> Result<SitePageList, StoreError> {
        let mut filter = doc! { "org_id": org_id.to_string(), "run_id": run_id.to_string() };
        if let Some(status) = query.status {
            filter.insert("status", i32::from(status));
        }
        if let Some(found_by) = query.found_by {
            filter.insert("found_by", found_by.as_str());
        }
        // Pages recorded before the mark existed have no field: they are not soft-404s.
        match query.soft_404 {
            Some(true) => {
                filter.insert("soft_404", true);
            }
            Some(false) => {
                filter.insert("soft_404", doc! { "$ne": true });
            }
            None => {}
        }
        if let Some(after) = &query.after {
            filter.insert("url", doc! { "$gt": after });
        }
        let mut cursor = self
            .pages
            .find(filter)
            .sort(doc! { "url": 1 })
            .limit(i64::from(limit) + 1)
            .await?;
        let mut items: Vec<SitePage> = Vec::new();
        while cursor.advance().await? {
            items.push(from_document(cursor.deserialize_current()?)?);
        }
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|page| page.url.clone())
        } else {
            None
        };
        Ok(SitePageList { items, next_cursor })
    }
}

fn from_document<T: DeserializeOwned>(mut document: Document) -> Result<T, StoreError> {
    document.remove("_id");
    document.remove("org_id");
    bson::from_document(document).map_err(|error| StoreError::Convert(error.to_string()))
}
