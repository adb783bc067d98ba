//! Key lifecycle: first-start generation, rotation with a grace period, deactivation, and the
//! in-memory key ring that signs and publishes.
//!
//! A key is `active` (it signs), then after rotation in `grace` until `grace_until` (it still
//! verifies and stays in the JWKS), then `deactivated` (gone from the JWKS; its sealed private
//! half is erased). At most one key per algorithm is active; the store enforces that.

use std::future::Future;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use idseal_types::UnixTime;

use crate::algorithm::{Algorithm, SigningKey, VerifyingKey};
use crate::error::KeyError;
use crate::jwk::{Jwk, JwkSet};
use crate::master::{MasterKey, SealedKey};

/// Where a key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens.
    Active,
    /// Rotated out; verifies and is published until `grace_until`.
    Grace,
    /// No longer published or trusted.
    Deactivated,
}

impl KeyState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Grace => "grace",
            Self::Deactivated => "deactivated",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Grace, Self::Deactivated].into_iter().find(|k| k.as_str() == s)
    }
}

/// A key as stored: public JWK in clear, private key sealed.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRecord {
    /// Key id: the RFC 7638 JWK thumbprint.
    pub kid: String,
    /// Algorithm.
    pub alg: Algorithm,
    /// Life-cycle state.
    pub state: KeyState,
    /// When it was generated.
    pub created_at: UnixTime,
    /// When it stops verifying (set on rotation).
    pub grace_until: Option<UnixTime>,
    /// The public JWK.
    pub public_jwk: Jwk,
    /// The sealed private key (empty once deactivated).
    pub sealed: SealedKey,
}

impl KeyRecord {
    /// Whether the key verifies and is published at `now`.
    pub fn is_published(&self, now: UnixTime) -> bool {
        match self.state {
            KeyState::Active => true,
            KeyState::Grace => self.grace_until.is_some_and(|t| now < t),
            KeyState::Deactivated => false,
        }
    }
}

/// How long rotated keys stay valid.
#[derive(Clone, Copy, Debug)]
pub struct RotationPolicy {
    /// Grace period after rotation (24 h by default).
    pub grace: Duration,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self { grace: Duration::from_secs(24 * 3600) }
    }
}

/// Storage of key records. Implemented for SQLite and PostgreSQL by idseal-store.
pub trait KeyStore: Send + Sync {
    /// Every key record, any state.
    fn load_keys(&self) -> impl Future<Output = Result<Vec<KeyRecord>, KeyError>> + Send;

    /// Record `check` as the master-key check value if none is recorded; return the recorded one.
    fn claim_master_check(&self, check: &str) -> impl Future<Output = Result<String, KeyError>> + Send;

    /// Insert `record` as the active key of its algorithm unless one is already active
    /// (a concurrent first start). Returns whether it was inserted.
    fn insert_first_active(&self, record: &KeyRecord) -> impl Future<Output = Result<bool, KeyError>> + Send;

    /// In one transaction: move the active key of `record.alg` to grace until `grace_until`
    /// and insert `record` as active. Returns the kid that went to grace, if any.
    fn rotate(
        &self,
        record: &KeyRecord,
        grace_until: UnixTime,
    ) -> impl Future<Output = Result<Option<String>, KeyError>> + Send;

    /// Deactivate every grace key whose grace ended at or before `now`, erasing its sealed
    /// private key. Returns the kids deactivated.
    fn deactivate_expired(&self, now: UnixTime) -> impl Future<Output = Result<Vec<String>, KeyError>> + Send;
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) over the required members.
pub(crate) fn thumbprint(jwk: &Jwk) -> String {
    let s = |v: &Option<String>| serde_json::to_string(v.as_deref().unwrap_or_default()).unwrap_or_default();
    // Members in lexicographic order, no whitespace (RFC 7638 §3).
    let canonical = match jwk.kty.as_str() {
        "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, s(&jwk.e), s(&jwk.n)),
        "EC" => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, s(&jwk.crv), s(&jwk.x), s(&jwk.y)),
        "OKP" => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, s(&jwk.crv), s(&jwk.x)),
        _ => format!(
            r#"{{"alg":{},"kty":"AKP","pub":{}}}"#,
            serde_json::to_string(&jwk.alg).unwrap_or_default(),
            s(&jwk.pub_)
        ),
    };
    B64.encode(digest(&SHA256, canonical.as_bytes()))
}

/// Generate a key for `alg` and seal it: the record to store.
pub fn new_record(master: &MasterKey, alg: Algorithm, now: UnixTime) -> Result<KeyRecord, KeyError> {
    let tmp = SigningKey::generate(alg, "")?;
    let kid = thumbprint(&tmp.verifying_key().to_jwk());
    let pkcs8 = tmp.to_pkcs8()?;
    let key = SigningKey::from_pkcs8(alg, kid.clone(), &pkcs8)?;
    Ok(KeyRecord {
        public_jwk: key.verifying_key().to_jwk(),
        sealed: master.seal(&kid, alg, &pkcs8)?,
        kid,
        alg,
        state: KeyState::Active,
        created_at: now,
        grace_until: None,
    })
}

/// The keys in use: one signing key per algorithm and every key valid for verification.
#[derive(Debug)]
pub struct KeyRing {
    signers: Vec<SigningKey>,
    records: Vec<KeyRecord>,
    verifiers: Vec<VerifyingKey>,
}

impl KeyRing {
    /// Check the master key against the store, generate a key for each algorithm in `algs`
    /// that has no active key, and load the ring. Never regenerates a key it cannot open:
    /// a wrong master key or an altered record is an error.
    pub async fn bootstrap<S: KeyStore>(
        store: &S,
        master: &MasterKey,
        algs: &[Algorithm],
        now: UnixTime,
    ) -> Result<(Self, Vec<String>), KeyError> {
        let ours = master.check_value();
        let stored = store.claim_master_check(&ours).await?;
        if stored != ours {
            return Err(KeyError::MasterKeyMismatch { stored, ours });
        }
        let mut generated = Vec::new();
        let existing = store.load_keys().await?;
        for &alg in algs {
            if !existing.iter().any(|r| r.alg == alg && r.state == KeyState::Active) {
                let rec = new_record(master, alg, now)?;
                if store.insert_first_active(&rec).await? {
                    generated.push(rec.kid);
                }
            }
        }
        let ring = Self::load(store.load_keys().await?, master, now)?;
        Ok((ring, generated))
    }

    /// Build the ring from stored records: open every active key, keep every published one
    /// for verification.
    pub fn load(records: Vec<KeyRecord>, master: &MasterKey, now: UnixTime) -> Result<Self, KeyError> {
        let mut signers = Vec::new();
        let mut verifiers = Vec::new();
        let mut kept = Vec::new();
        for r in records {
            if !r.is_published(now) {
                continue;
            }
            let vk =
                VerifyingKey::from_jwk(&r.public_jwk).ok_or_else(|| KeyError::MalformedKey { kid: r.kid.clone() })?;
            if vk.alg() != r.alg {
                return Err(KeyError::MalformedKey { kid: r.kid.clone() });
            }
            if r.state == KeyState::Active {
                let der = master.open(&r.kid, r.alg, &r.sealed)?;
                let sk = SigningKey::from_pkcs8(r.alg, r.kid.clone(), &der)?;
                // The sealed private key must match the published public key.
                if sk.verifying_key() != vk {
                    return Err(KeyError::MalformedKey { kid: r.kid.clone() });
                }
                signers.push(sk);
            }
            verifiers.push(vk);
            kept.push(r);
        }
        Ok(Self { signers, records: kept, verifiers })
    }

    /// The active signing key for `alg`.
    pub fn signer(&self, alg: Algorithm) -> Result<&SigningKey, KeyError> {
        self.signers.iter().find(|k| k.alg() == alg).ok_or(KeyError::NoActiveKey(alg.as_str()))
    }

    /// Every key valid for verification.
    pub fn verifying_keys(&self) -> &[VerifyingKey] {
        &self.verifiers
    }

    /// The records of published keys.
    pub fn records(&self) -> &[KeyRecord] {
        &self.records
    }

    /// The JWK Set to publish: every active and grace key.
    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: self.records.iter().map(|r| r.public_jwk.clone()).collect() }
    }
}

/// Rotate the key of `alg`: a new active key, the old one in grace for `policy.grace`.
/// Returns the new record and the kid that went to grace.
pub async fn rotate<S: KeyStore>(
    store: &S,
    master: &MasterKey,
    alg: Algorithm,
    policy: RotationPolicy,
    now: UnixTime,
) -> Result<(KeyRecord, Option<String>), KeyError> {
    let rec = new_record(master, alg, now)?;
    let old = store.rotate(&rec, now.saturating_add(policy.grace)).await?;
    Ok((rec, old))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// An in-memory store with the same contract as the SQL stores, for the lifecycle rules.
    #[derive(Default)]
    struct MemStore {
        keys: Mutex<Vec<KeyRecord>>,
        check: Mutex<Option<String>>,
    }

    impl KeyStore for MemStore {
        async fn load_keys(&self) -> Result<Vec<KeyRecord>, KeyError> {
            Ok(self.keys.lock().unwrap().clone())
        }
        async fn claim_master_check(&self, check: &str) -> Result<String, KeyError> {
            Ok(self.check.lock().unwrap().get_or_insert_with(|| check.to_owned()).clone())
        }
        async fn insert_first_active(&self, record: &KeyRecord) -> Result<bool, KeyError> {
            let mut k = self.keys.lock().unwrap();
            if k.iter().any(|r| r.alg == record.alg && r.state == KeyState::Active) {
                return Ok(false);
            }
            k.push(record.clone());
            Ok(true)
        }
        async fn rotate(&self, record: &KeyRecord, grace_until: UnixTime) -> Result<Option<String>, KeyError> {
            let mut k = self.keys.lock().unwrap();
            let mut old = None;
            for r in k.iter_mut().filter(|r| r.alg == record.alg && r.state == KeyState::Active) {
                r.state = KeyState::Grace;
                r.grace_until = Some(grace_until);
                old = Some(r.kid.clone());
            }
            k.push(record.clone());
            Ok(old)
        }
        async fn deactivate_expired(&self, now: UnixTime) -> Result<Vec<String>, KeyError> {
            let mut out = vec![];
            for r in self.keys.lock().unwrap().iter_mut() {
                if r.state == KeyState::Grace && r.grace_until.is_some_and(|t| t <= now) {
                    r.state = KeyState::Deactivated;
                    r.sealed = SealedKey(vec![]);
                    out.push(r.kid.clone());
                }
            }
            Ok(out)
        }
    }

    fn block<F: Future>(f: F) -> F::Output {
        // The futures here never pend: poll once with a no-op waker.
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("in-memory store never pends"),
        }
    }

    #[test]
    fn bootstrap_generates_once_and_rotation_keeps_grace_keys_24h() {
        let store = MemStore::default();
        let master = MasterKey::generate().unwrap();
        let t0 = UnixTime::from_secs(1_800_000_000);
        let algs = [Algorithm::Es256, Algorithm::EdDsa];
        let (ring, generated) = block(KeyRing::bootstrap(&store, &master, &algs, t0)).unwrap();
        assert_eq!(generated.len(), 2);
        assert_eq!(ring.jwks().keys.len(), 2);
        let (_, again) = block(KeyRing::bootstrap(&store, &master, &algs, t0)).unwrap();
        assert!(again.is_empty(), "second start must not generate");

        let old_kid = ring.signer(Algorithm::Es256).unwrap().kid().to_owned();
        let (new, went) = block(rotate(&store, &master, Algorithm::Es256, RotationPolicy::default(), t0)).unwrap();
        assert_eq!(went.as_deref(), Some(old_kid.as_str()));
        let just_before = t0.saturating_add(Duration::from_secs(24 * 3600 - 1));
        let ring = KeyRing::load(store.keys.lock().unwrap().clone(), &master, just_before).unwrap();
        assert_eq!(ring.signer(Algorithm::Es256).unwrap().kid(), new.kid);
        assert!(ring.jwks().keys.iter().any(|k| k.kid == old_kid), "old key published during grace");
        let at_end = t0.saturating_add(Duration::from_secs(24 * 3600));
        let ring = KeyRing::load(store.keys.lock().unwrap().clone(), &master, at_end).unwrap();
        assert!(!ring.jwks().keys.iter().any(|k| k.kid == old_kid), "old key gone after grace");
        assert_eq!(block(store.deactivate_expired(at_end)).unwrap(), vec![old_kid]);
    }

    #[test]
    fn wrong_master_key_is_an_error_never_a_regeneration() {
        let store = MemStore::default();
        let master = MasterKey::generate().unwrap();
        let t0 = UnixTime::from_secs(1);
        block(KeyRing::bootstrap(&store, &master, &[Algorithm::EdDsa], t0)).unwrap();
        let other = MasterKey::generate().unwrap();
        let err = block(KeyRing::bootstrap(&store, &other, &[Algorithm::EdDsa], t0)).unwrap_err();
        assert!(matches!(err, KeyError::MasterKeyMismatch { .. }));
        assert_eq!(store.keys.lock().unwrap().len(), 1);
        // A corrupted sealed key fails loading.
        store.keys.lock().unwrap()[0].sealed.0[5] ^= 0xff;
        assert!(KeyRing::load(store.keys.lock().unwrap().clone(), &master, t0).is_err());
    }

    #[test]
    fn swapped_public_key_is_detected() {
        let master = MasterKey::generate().unwrap();
        let t0 = UnixTime::from_secs(1);
        let mut a = new_record(&master, Algorithm::EdDsa, t0).unwrap();
        let b = new_record(&master, Algorithm::EdDsa, t0).unwrap();
        a.public_jwk = Jwk { kid: a.kid.clone(), ..b.public_jwk };
        assert!(KeyRing::load(vec![a], &master, t0).is_err());
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 §3.1 example key and thumbprint.
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: String::new(),
            use_: "sig".into(),
            alg: "RS256".into(),
            crv: None,
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            e: Some("AQAB".into()),
            x: None,
            y: None,
            pub_: None,
        };
        assert_eq!(thumbprint(&jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
