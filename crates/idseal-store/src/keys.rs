//! [`KeyStore`] for both backends.

use idseal_keys::{Algorithm, Jwk, KeyError, KeyRecord, KeyState, KeyStore, SealedKey};
use idseal_types::UnixTime;

use crate::{Store, StoreError, boxed, with_pool};

type Row = (String, String, String, i64, Option<i64>, String, Vec<u8>);

fn to_record(r: Row) -> Result<KeyRecord, StoreError> {
    let (kid, alg, state, created_at, grace_until, jwk, sealed) = r;
    let corrupt = |what: &str| StoreError::Corrupt(format!("signing key {kid}: {what}"));
    Ok(KeyRecord {
        alg: alg.parse::<Algorithm>().map_err(|_| corrupt("unknown algorithm"))?,
        state: KeyState::parse(&state).ok_or_else(|| corrupt("unknown state"))?,
        created_at: UnixTime::from_secs(created_at),
        grace_until: grace_until.map(UnixTime::from_secs),
        public_jwk: serde_json::from_str::<Jwk>(&jwk).map_err(|_| corrupt("malformed public JWK"))?,
        sealed: SealedKey(sealed),
        kid,
    })
}

fn key_err(e: StoreError) -> KeyError {
    KeyError::Store(boxed(e))
}

fn sql_err(e: sqlx::Error) -> KeyError {
    key_err(StoreError::Database(e))
}

const INSERT: &str = "INSERT INTO signing_keys (kid, alg, state, created_at, grace_until, public_jwk, sealed_private) \
                      VALUES ($1, $2, 'active', $3, NULL, $4, $5)";

impl KeyStore for Store {
    async fn load_keys(&self) -> Result<Vec<KeyRecord>, KeyError> {
        let rows: Vec<Row> = with_pool!(self, |pool| sqlx::query_as(
            "SELECT kid, alg, state, created_at, grace_until, public_jwk, sealed_private \
             FROM signing_keys ORDER BY created_at, kid"
        )
        .fetch_all(pool)
        .await
        .map_err(sql_err)?);
        rows.into_iter().map(|r| to_record(r).map_err(key_err)).collect()
    }

    async fn claim_master_check(&self, check: &str) -> Result<String, KeyError> {
        self.claim_meta("master_key_check", check).await.map(|(v, _)| v).map_err(key_err)
    }

    async fn insert_first_active(&self, r: &KeyRecord) -> Result<bool, KeyError> {
        let jwk = serde_json::to_string(&r.public_jwk).map_err(|e| key_err(StoreError::Corrupt(e.to_string())))?;
        let sql = format!("{INSERT} ON CONFLICT (alg) WHERE state = 'active' DO NOTHING");
        let n = with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&r.kid)
            .bind(r.alg.as_str())
            .bind(r.created_at.as_secs())
            .bind(&jwk)
            .bind(&r.sealed.0)
            .execute(pool)
            .await
            .map_err(sql_err)?
            .rows_affected());
        Ok(n == 1)
    }

    async fn rotate(&self, r: &KeyRecord, grace_until: UnixTime) -> Result<Option<String>, KeyError> {
        let jwk = serde_json::to_string(&r.public_jwk).map_err(|e| key_err(StoreError::Corrupt(e.to_string())))?;
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(sql_err)?;
            let old: Option<(String,)> = sqlx::query_as(
                "UPDATE signing_keys SET state = 'grace', grace_until = $2 \
                 WHERE alg = $1 AND state = 'active' RETURNING kid",
            )
            .bind(r.alg.as_str())
            .bind(grace_until.as_secs())
            .fetch_optional(&mut *tx)
            .await
            .map_err(sql_err)?;
            sqlx::query(INSERT)
                .bind(&r.kid)
                .bind(r.alg.as_str())
                .bind(r.created_at.as_secs())
                .bind(&jwk)
                .bind(&r.sealed.0)
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
            tx.commit().await.map_err(sql_err)?;
            Ok(old.map(|o| o.0))
        })
    }

    async fn deactivate_expired(&self, now: UnixTime) -> Result<Vec<String>, KeyError> {
        let rows: Vec<(String,)> = with_pool!(self, |pool| sqlx::query_as(
            "UPDATE signing_keys SET state = 'deactivated', sealed_private = $2 \
             WHERE state = 'grace' AND grace_until <= $1 RETURNING kid"
        )
        .bind(now.as_secs())
        .bind(Vec::<u8>::new())
        .fetch_all(pool)
        .await
        .map_err(sql_err)?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
