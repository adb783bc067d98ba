//! The trust-list ledger: the highest sequence number accepted per list location.

use idseal_types::UnixTime;

use crate::{Store, StoreError, with_pool};

impl Store {
    /// Record that the list at `location` with `sequence_number` is accepted, unless a higher
    /// number was accepted before (a rollback): one conditional upsert, so concurrent instances
    /// agree. Returns whether it was accepted (an equal number is).
    pub async fn accept_trust_sequence(
        &self,
        location: &str,
        sequence_number: u64,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let seq =
            i64::try_from(sequence_number).map_err(|_| StoreError::Corrupt("sequence number too large".into()))?;
        let row: Option<(i64,)> = with_pool!(self, |pool| sqlx::query_as(
            "INSERT INTO trust_list_state (location, sequence_number, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (location) DO UPDATE SET sequence_number = excluded.sequence_number, \
             updated_at = excluded.updated_at WHERE trust_list_state.sequence_number <= excluded.sequence_number \
             RETURNING sequence_number"
        )
        .bind(location)
        .bind(seq)
        .bind(now.as_secs())
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// The highest sequence number accepted for `location`, if any.
    pub async fn trust_sequence(&self, location: &str) -> Result<Option<u64>, StoreError> {
        let row: Option<(i64,)> =
            with_pool!(self, |pool| sqlx::query_as("SELECT sequence_number FROM trust_list_state WHERE location = $1")
                .bind(location)
                .fetch_optional(pool)
                .await?);
        Ok(row.and_then(|r| u64::try_from(r.0).ok()))
    }
}
