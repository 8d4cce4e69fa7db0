//! An organization's own words for the crawl's directory fuzzing: one row per organization,
//! absent until first set (an empty list that extends the bundled one stands in for it).

use s4e_types::OrgId;
use s4e_types::api::FuzzWordlist;
use sqlx::PgConnection;

use super::DbError;

#[derive(sqlx::FromRow)]
struct WordlistRow {
    words: Vec<String>,
    replaces_bundled: bool,
}

impl From<WordlistRow> for FuzzWordlist {
    fn from(row: WordlistRow) -> Self {
        FuzzWordlist {
            words: row.words,
            replaces_bundled: row.replaces_bundled,
        }
    }
}

pub async fn get<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    org_id: OrgId,
) -> Result<FuzzWordlist, DbError> {
    let row = sqlx::query_as::<_, WordlistRow>(
        "SELECT words, replaces_bundled FROM fuzz_wordlists WHERE org_id = $1",
    )
    .bind(org_id.0)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(FuzzWordlist::from).unwrap_or_default())
}

/// Replaces the organization's list (validated and without repeats first).
pub async fn put(
    conn: &mut PgConnection,
    org_id: OrgId,
    wordlist: &FuzzWordlist,
) -> Result<FuzzWordlist, DbError> {
    let wordlist = wordlist.normalized().map_err(DbError::Invalid)?;
    let stored = sqlx::query_as::<_, WordlistRow>(
        "INSERT INTO fuzz_wordlists (org_id, words, replaces_bundled)
         SELECT o.id, $2, $3 FROM organizations o WHERE o.id = $1
         ON CONFLICT (org_id) DO UPDATE SET
             words = EXCLUDED.words,
             replaces_bundled = EXCLUDED.replaces_bundled,
             updated_at = now()
         RETURNING words, replaces_bundled",
    )
    .bind(org_id.0)
    .bind(&wordlist.words)
    .bind(wordlist.replaces_bundled)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DbError::NotFound("organization"))?;
    Ok(stored.into())
}
