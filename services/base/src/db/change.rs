//! A change to the store in one transaction, with its audit entry in the same transaction when
//! the call carries an audit context (see `s4e_runtime::audit`): the change and its entry are
//! stored together or not at all.

use std::ops::{Deref, DerefMut};

use s4e_types::OrgId;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::{DbError, audit};

pub struct Change {
    transaction: Transaction<'static, Postgres>,
}

impl Change {
    pub async fn begin(pool: &PgPool) -> Result<Self, DbError> {
        Ok(Self {
            transaction: pool.begin().await?,
        })
    }

    /// Stores the change, and the entry of the change in progress, if any, in `org_id`'s
    /// audit log; `created` names what the change created.
    pub async fn commit(mut self, org_id: OrgId, created: Option<String>) -> Result<(), DbError> {
        let context = s4e_runtime::audit::pending();
        let recorded = context.is_some();
        if let Some(context) = context {
            let trace_id = s4e_trace::current().map(|trace| trace.trace_id());
            audit::append(
                &mut *self.transaction,
                org_id,
                &context.entry(created, trace_id),
            )
            .await?;
        }
        self.transaction.commit().await?;
        if recorded {
            s4e_runtime::audit::mark_recorded();
        }
        Ok(())
    }
}

impl Deref for Change {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.transaction
    }
}

impl DerefMut for Change {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.transaction
    }
}
