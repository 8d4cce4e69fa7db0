//! The fetch stage's pages, written to MongoDB together: each fetch hands its page over and
//! waits until the command holding it is answered, so a page is stored before its URL is
//! marked done, as before; what changes is that pages finished while one command is out go
//! in the next one (one upsert command for many pages rather than one each). Nothing waits to
//! fill a batch: a page alone is written at once.

use s4e_store::{CrawlPages, PageDocument, StoreError};
use tokio::sync::{mpsc, oneshot};

/// The most pages in one command.
const BATCH_PAGES: usize = 64;

/// The most bytes of pages in one command (MongoDB takes 16 MiB a message, more than any
/// batch here reaches).
const BATCH_BYTES: usize = 8 * 1024 * 1024;

struct Order {
    page: PageDocument,
    stored: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct PageWriter {
    orders: mpsc::Sender<Order>,
}

impl PageWriter {
    /// The writer of `pages`, and its task (which ends when every writer is dropped).
    pub fn start(pages: CrawlPages) -> PageWriter {
        let (orders, received) = mpsc::channel(BATCH_PAGES * 4);
        tokio::spawn(write_batches(pages, received));
        PageWriter { orders }
    }

    /// Stores `page` (replacing the crawl's page of the same URL); returns once it is stored.
    pub async fn record(&self, page: PageDocument) -> Result<(), StoreError> {
        let (stored, answered) = oneshot::channel();
        let gone = || StoreError::WritesRefused("the page writer has stopped".into());
        self.orders
            .send(Order { page, stored })
            .await
            .map_err(|_| gone())?;
        answered
            .await
            .map_err(|_| gone())?
            .map_err(StoreError::WritesRefused)
    }
}

async fn write_batches(pages: CrawlPages, mut received: mpsc::Receiver<Order>) {
    let mut next = None;
    loop {
        let first = match next.take() {
            Some(order) => order,
            None => match received.recv().await {
                Some(order) => order,
                None => return,
            },
        };
        let mut bytes = first.page.size();
        let mut batch = vec![first];
        while batch.len() < BATCH_PAGES {
            let Ok(order) = received.try_recv() else {
                break;
            };
            if bytes + order.page.size() > BATCH_BYTES {
                next = Some(order);
                break;
            }
            bytes += order.page.size();
            batch.push(order);
        }
        let (documents, waiting): (Vec<PageDocument>, Vec<_>) = batch
            .into_iter()
            .map(|order| (order.page, order.stored))
            .unzip();
        match pages.record_all(&documents).await {
            Ok(outcomes) => {
                for (waiter, outcome) in waiting.into_iter().zip(outcomes) {
                    let _ = waiter.send(outcome);
                }
            }
            Err(error) => {
                for waiter in waiting {
                    let _ = waiter.send(Err(error.to_string()));
                }
            }
        }
    }
}
