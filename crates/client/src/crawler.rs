//! Client of s4e-crawler's internal API: the site maps its crawls recorded.

use s4e_types::crawl::{SitePageList, SitePageQuery};
use s4e_types::routes::crawler as routes;
use s4e_types::{OrgId, RunId};

use crate::error::ClientError;
use crate::http::InternalHttp;

#[derive(Clone)]
pub struct CrawlerClient {
    http: InternalHttp,
}

impl CrawlerClient {
    pub fn new(base_url: &str, service_token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: InternalHttp::new(base_url, service_token)?,
        })
    }

    /// One page of the site map of `run_id`'s crawl (empty when the run crawled nothing).
    pub async fn site_pages(
        &self,
        org_id: OrgId,
        run_id: RunId,
        query: &SitePageQuery,
    ) -> Result<SitePageList, ClientError> {
        self.http
            .call_with_query(routes::SITE_PAGES, &[&org_id, &run_id], &query.pairs())
            .await
    }
}
