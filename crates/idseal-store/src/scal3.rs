//! SCAL3 storage: a token's credential with its PIN-failure counter, and the challenges that
//! authorise one instruction each (docs/scal3.md, "Integration plan").
//!
//! Plain rows, no protocol logic. Every step that must happen once is one conditional
//! statement, so any number of instances racing on the same row agree: a challenge is consumed
//! by one `UPDATE … WHERE used_at IS NULL`, authorised by one `UPDATE … WHERE authorized_at IS
//! NULL`, spent by one `UPDATE … WHERE spent_at IS NULL`, and a PIN failure is counted (and the
//! credential locked at the limit) by one `UPDATE … WHERE locked_at IS NULL`.

use idseal_types::UnixTime;

use crate::oauth::conflict;
use crate::{Store, StoreError, with_pool};

/// A token's SCAL3 credential. Every value is public (a record is checked against them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scal3CredentialRow {
    /// The enrolled token it belongs to (one credential per token).
    pub token_id: String,
    /// The encoded credential.
    pub credential: Vec<u8>,
    /// The joint verifying key Vk (33-byte compressed point).
    pub vk: Vec<u8>,
    /// The device public key (33-byte compressed point).
    pub device_pk: Vec<u8>,
    /// Consecutive wrong PINs so far.
    pub pin_failures: i64,
    /// When too many wrong PINs locked it.
    pub locked_at: Option<UnixTime>,
    /// When it was enrolled.
    pub created_at: UnixTime,
}

/// A SCAL3 challenge: one instruction to authorise, then the record that authorised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scal3ChallengeRow {
    /// The random challenge id (32 bytes).
    pub challenge_id: Vec<u8>,
    /// The token asked to authorise.
    pub token_id: String,
    /// The instruction, canonical JSON (RFC 8785).
    pub instruction: String,
    /// SHA-256 of the instruction, hex.
    pub instruction_hash: String,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it can no longer be consumed.
    pub expires_at: UnixTime,
    /// When a proof attempt consumed it.
    pub used_at: Option<UnixTime>,
    /// When the proof succeeded.
    pub authorized_at: Option<UnixTime>,
    /// The SCAL3 record of the successful proof.
    pub record: Option<Vec<u8>>,
}

/// What [`Store::scal3_pin_failure`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scal3PinOutcome {
    /// The failure is counted and the credential is still usable.
    Counted {
        /// Consecutive failures now.
        failures: i64,
    },
    /// The credential is locked: by this failure, or already before it (then it is not counted).
    Locked,
}

const CREDENTIAL_COLS: &str = "token_id, credential, vk, device_pk, pin_failures, locked_at, created_at";

const CHALLENGE_COLS: &str = "challenge_id, token_id, instruction, instruction_hash, created_at, expires_at, \
                              used_at, authorized_at, record";

#[derive(sqlx::FromRow)]
struct CredentialDb {
    token_id: String,
    credential: Vec<u8>,
    vk: Vec<u8>,
    device_pk: Vec<u8>,
    pin_failures: i64,
    locked_at: Option<i64>,
    created_at: i64,
}

impl From<CredentialDb> for Scal3CredentialRow {
    fn from(c: CredentialDb) -> Self {
        Self {
            token_id: c.token_id,
            credential: c.credential,
            vk: c.vk,
            device_pk: c.device_pk,
            pin_failures: c.pin_failures,
            locked_at: c.locked_at.map(UnixTime::from_secs),
            created_at: UnixTime::from_secs(c.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ChallengeDb {
    challenge_id: Vec<u8>,
    token_id: String,
    instruction: String,
    instruction_hash: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    authorized_at: Option<i64>,
    record: Option<Vec<u8>>,
}

impl From<ChallengeDb> for Scal3ChallengeRow {
    fn from(c: ChallengeDb) -> Self {
        Self {
            challenge_id: c.challenge_id,
            token_id: c.token_id,
            instruction: c.instruction,
            instruction_hash: c.instruction_hash,
            created_at: UnixTime::from_secs(c.created_at),
            expires_at: UnixTime::from_secs(c.expires_at),
            used_at: c.used_at.map(UnixTime::from_secs),
            authorized_at: c.authorized_at.map(UnixTime::from_secs),
            record: c.record,
        }
    }
}

impl Store {
    // --- credentials ---

    /// Record a token's SCAL3 credential. False when the token has one already (told by the
    /// primary-key conflict, not by a read before the insert); the stored one is kept.
    pub async fn insert_scal3_credential(&self, c: &Scal3CredentialRow) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO scal3_credentials ({CREDENTIAL_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (token_id) DO NOTHING"
        );
        let n = with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&c.token_id)
            .bind(&c.credential)
            .bind(&c.vk)
            .bind(&c.device_pk)
            .bind(c.pin_failures)
            .bind(c.locked_at.map(UnixTime::as_secs))
            .bind(c.created_at.as_secs())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// The token's SCAL3 credential, locked or not.
    pub async fn scal3_credential(&self, token_id: &str) -> Result<Option<Scal3CredentialRow>, StoreError> {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM scal3_credentials WHERE token_id = $1");
        let row: Option<CredentialDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(token_id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Count one wrong PIN: one conditional UPDATE increments the counter of an unlocked
    /// credential and, in the same statement, locks it when the count reaches `max`. Concurrent
    /// failures on any number of instances therefore count at most `max` in all. A credential
    /// locked already is [`Scal3PinOutcome::Locked`] and not counted; a token without a
    /// credential is [`StoreError::Invalid`].
    pub async fn scal3_pin_failure(
        &self,
        token_id: &str,
        max: i64,
        now: UnixTime,
    ) -> Result<Scal3PinOutcome, StoreError> {
        let counted: Option<(i64, Option<i64>)> = with_pool!(self, |pool| sqlx::query_as(
            "UPDATE scal3_credentials SET pin_failures = pin_failures + 1, \
             locked_at = CASE WHEN pin_failures + 1 >= $2 THEN $3 ELSE NULL END \
             WHERE token_id = $1 AND locked_at IS NULL RETURNING pin_failures, locked_at"
        )
        .bind(token_id)
        .bind(max)
        .bind(now.as_secs())
        .fetch_optional(pool)
        .await?);
        match counted {
            Some((failures, None)) => Ok(Scal3PinOutcome::Counted { failures }),
            Some((_, Some(_))) => Ok(Scal3PinOutcome::Locked),
            None => match self.scal3_credential(token_id).await? {
                // Not counted: locked already (the only condition besides the token).
                Some(_) => Ok(Scal3PinOutcome::Locked),
                None => Err(StoreError::Invalid("no SCAL3 credential for this token".into())),
            },
        }
    }

    /// A right PIN: reset the failure counter of an unlocked credential (a locked one stays
    /// locked, its count unchanged). False if there is no such credential or it is locked.
    pub async fn scal3_pin_success(&self, token_id: &str) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE scal3_credentials SET pin_failures = 0 WHERE token_id = $1 AND locked_at IS NULL"
        )
        .bind(token_id)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    // --- challenges ---

    /// Record a new challenge (normally neither used nor authorised). A taken id is
    /// [`StoreError::Conflict`].
    pub async fn insert_scal3_challenge(&self, c: &Scal3ChallengeRow) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO scal3_challenges ({CHALLENGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        with_pool!(self, |pool| sqlx::query(&sql)
            .bind(&c.challenge_id)
            .bind(&c.token_id)
            .bind(&c.instruction)
            .bind(&c.instruction_hash)
            .bind(c.created_at.as_secs())
            .bind(c.expires_at.as_secs())
            .bind(c.used_at.map(UnixTime::as_secs))
            .bind(c.authorized_at.map(UnixTime::as_secs))
            .bind(&c.record)
            .execute(pool)
            .await
            .map_err(|e| conflict(e, "SCAL3 challenge id already taken"))?
            .rows_affected());
        Ok(())
    }

    /// The challenge with this id, whatever its state.
    pub async fn scal3_challenge(&self, challenge_id: &[u8]) -> Result<Option<Scal3ChallengeRow>, StoreError> {
        let sql = format!("SELECT {CHALLENGE_COLS} FROM scal3_challenges WHERE challenge_id = $1");
        let row: Option<ChallengeDb> =
            with_pool!(self, |pool| sqlx::query_as(&sql).bind(challenge_id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Consume an unused, unexpired challenge before its proof is checked: one conditional
    /// UPDATE, so of any number of concurrent callers on any number of instances exactly one
    /// gets the row (with `used_at` set); the others, and every later caller, get `None`.
    pub async fn consume_scal3_challenge(
        &self,
        challenge_id: &[u8],
        now: UnixTime,
    ) -> Result<Option<Scal3ChallengeRow>, StoreError> {
        let sql = format!(
            "UPDATE scal3_challenges SET used_at = $2 \
             WHERE challenge_id = $1 AND used_at IS NULL AND expires_at > $2 RETURNING {CHALLENGE_COLS}"
        );
        let row: Option<ChallengeDb> = with_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(challenge_id)
            .bind(now.as_secs())
            .fetch_optional(pool)
            .await?);
        Ok(row.map(Into::into))
    }

    /// Record that the proof of a consumed challenge succeeded, with its record: one conditional
    /// UPDATE, true for exactly one caller. False if the challenge does not exist, was not
    /// consumed, or is authorised already.
    pub async fn authorize_scal3_challenge(
        &self,
        challenge_id: &[u8],
        record: &[u8],
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE scal3_challenges SET authorized_at = $3, record = $2 \
             WHERE challenge_id = $1 AND used_at IS NOT NULL AND authorized_at IS NULL"
        )
        .bind(challenge_id)
        .bind(record)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Spend an authorised challenge for the step it authorises (for instance `/auth/verify`
    /// accepting an `approve_login` authorisation): one conditional UPDATE that matches only
    /// this token's challenge with exactly this instruction, authorised and not spent yet, so
    /// it is accepted once.
    pub async fn take_scal3_authorization(
        &self,
        token_id: &str,
        instruction: &str,
        challenge_id: &[u8],
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| sqlx::query(
            "UPDATE scal3_challenges SET spent_at = $4 \
             WHERE challenge_id = $1 AND token_id = $2 AND instruction = $3 \
             AND authorized_at IS NOT NULL AND spent_at IS NULL"
        )
        .bind(challenge_id)
        .bind(token_id)
        .bind(instruction)
        .bind(now.as_secs())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Delete the challenges that expired before `before`, authorised or not (an authorised
    /// one's record is in the audit log). Returns how many were deleted.
    pub async fn purge_scal3_challenges(&self, before: UnixTime) -> Result<u64, StoreError> {
        Ok(with_pool!(self, |pool| sqlx::query("DELETE FROM scal3_challenges WHERE expires_at < $1")
            .bind(before.as_secs())
            .execute(pool)
            .await?
            .rows_affected()))
    }
}
