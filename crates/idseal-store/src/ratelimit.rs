//! [`RateLimitStore`] for both backends: every increment is one atomic upsert.

use idseal_ratelimit::{Lockout, RateLimitError, RateLimitStore};
use idseal_types::UnixTime;

use crate::{Store, StoreError, boxed, with_pool};

fn err(e: sqlx::Error) -> RateLimitError {
    RateLimitError::Store(boxed(StoreError::Database(e)))
}

impl RateLimitStore for Store {
    async fn hit(&self, bucket: &str, window_start: UnixTime, expires_at: UnixTime) -> Result<u64, RateLimitError> {
        let (count,): (i64,) = with_pool!(self, |pool| sqlx::query_as(
            "INSERT INTO rate_counters (bucket, window_start, count, expires_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count"
        )
        .bind(bucket)
        .bind(window_start.as_secs())
        .bind(expires_at.as_secs())
        .fetch_one(pool)
        .await
        .map_err(err)?);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn hit_windows(&self, windows: &[(String, UnixTime, UnixTime)]) -> Result<Vec<u64>, RateLimitError> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        // One multi-row upsert: one statement, so one durable write for every window.
        let rows: Vec<(String, i64)> = with_pool!(self, |pool| {
            let mut qb =
                sqlx::QueryBuilder::new("INSERT INTO rate_counters (bucket, window_start, count, expires_at) ");
            qb.push_values(windows, |mut b, (bucket, start, expires)| {
                b.push_bind(bucket.as_str()).push_bind(start.as_secs()).push("1").push_bind(expires.as_secs());
            });
            qb.push(
                " ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
                 RETURNING bucket, count",
            );
            qb.build_query_as().fetch_all(pool).await.map_err(err)?
        });
        windows
            .iter()
            .map(|(bucket, _, _)| {
                rows.iter().find(|(b, _)| b == bucket).map(|(_, c)| u64::try_from(*c).unwrap_or(0)).ok_or_else(|| {
                    RateLimitError::Store(boxed(StoreError::Corrupt("rate counter not returned".into())))
                })
            })
            .collect()
    }

    async fn count(&self, bucket: &str, window_start: UnixTime) -> Result<u64, RateLimitError> {
        let row: Option<(i64,)> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT count FROM rate_counters WHERE bucket = $1 AND window_start = $2"
        )
        .bind(bucket)
        .bind(window_start.as_secs())
        .fetch_optional(pool)
        .await
        .map_err(err)?);
        Ok(row.map_or(0, |r| u64::try_from(r.0).unwrap_or(0)))
    }

    async fn lockout(&self, bucket: &str) -> Result<Option<Lockout>, RateLimitError> {
        let row: Option<(i64, i64)> =
            with_pool!(self, |pool| sqlx::query_as("SELECT level, locked_until FROM rate_lockouts WHERE bucket = $1")
                .bind(bucket)
                .fetch_optional(pool)
                .await
                .map_err(err)?);
        Ok(row.map(|(level, until)| Lockout {
            level: u32::try_from(level).unwrap_or(u32::MAX),
            locked_until: UnixTime::from_secs(until),
        }))
    }

    async fn escalate(
        &self,
        bucket: &str,
        now: UnixTime,
        reset_before: UnixTime,
        until: &(dyn Fn(u32) -> UnixTime + Sync),
    ) -> Result<Lockout, RateLimitError> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(err)?;
            let (level,): (i64,) = sqlx::query_as(
                "INSERT INTO rate_lockouts (bucket, level, locked_until, last_lockout_at) VALUES ($1, 1, $2, $2) \
                 ON CONFLICT (bucket) DO UPDATE SET \
                   level = CASE WHEN rate_lockouts.last_lockout_at < $3 THEN 1 ELSE rate_lockouts.level + 1 END, \
                   last_lockout_at = $2 \
                 RETURNING level",
            )
            .bind(bucket)
            .bind(now.as_secs())
            .bind(reset_before.as_secs())
            .fetch_one(&mut *tx)
            .await
            .map_err(err)?;
            let level = u32::try_from(level).unwrap_or(u32::MAX);
            let locked_until = until(level);
            sqlx::query("UPDATE rate_lockouts SET locked_until = $2 WHERE bucket = $1")
                .bind(bucket)
                .bind(locked_until.as_secs())
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok(Lockout { level, locked_until })
        })
    }

    async fn purge(&self, now: UnixTime, forget_before: UnixTime) -> Result<u64, RateLimitError> {
        let a = with_pool!(self, |pool| sqlx::query("DELETE FROM rate_counters WHERE expires_at <= $1")
            .bind(now.as_secs())
            .execute(pool)
            .await
            .map_err(err)?
            .rows_affected());
        let b = with_pool!(self, |pool| sqlx::query(
            "DELETE FROM rate_lockouts WHERE locked_until < $1 AND last_lockout_at < $1"
        )
        .bind(forget_before.as_secs())
        .execute(pool)
        .await
        .map_err(err)?
        .rows_affected());
        Ok(a + b)
    }
}

impl Store {
    /// Forget a bucket's counters and lockout (after the owner proved control of the account,
    /// e.g. by a password reset, so that someone else's failed attempts cannot keep them out).
    pub async fn clear_rate_limit(&self, bucket: &str) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // The windows of a bucket are counted as `<bucket>:<window tag>`.
            sqlx::query("DELETE FROM rate_counters WHERE bucket = $1 OR bucket LIKE $2")
                .bind(bucket)
                .bind(format!("{bucket}:%"))
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM rate_lockouts WHERE bucket = $1").bind(bucket).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
