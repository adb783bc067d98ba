//! `idseal bench --suite scal3`: SCAL3 authorisations and record verifications per second next
//! to the raw limits measured in the same run (issue 9, "Benchmark"). In process, no HTTP.
//!
//! Each figure at 1 and 2 threads ([`threaded_rate`]):
//! - raw FROST(P-256, SHA-256) 2-of-2 signing: both signers' round one, both shares and the
//!   aggregation over a fixed message, with the `idseal_scal3::frost` building blocks;
//! - raw ECDSA P-256 verification and signing (aws-lc-rs, fixed `r ‖ s` encoding);
//! - whole authorisations: `challenge` + `authenticate` + the device signature + `pass` +
//!   `prove` (the ledger a shared `HashSet` of challenge ids) + one `Scal3Authorize` audit event
//!   through a real `idseal_store::Store` (`AuditSink::record`, as the server does), on SQLite
//!   (temporary file) and on PostgreSQL when a database URL is given (fresh database, dropped);
//! - verifications: `verify_record`, two ECDSA verifies and one Schnorr check each.

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey,
};
use idseal_scal3::group::{decode_point, encode_point, hash_to_scalar, sha256};
use idseal_scal3::{ChallengeId, Credential, KemSecretKey, ProviderSecrets, SIG_LEN, frost};
use idseal_store::{ConnectOptions, Store};
use idseal_types::{AuditEvent, AuditEventKind, AuditSink as _, UnixTime};

use crate::bench_common::threaded_rate;

/// The thread counts of every figure.
const THREADS: [usize; 2] = [1, 2];
/// The time stamped on the audit events.
const NOW: i64 = 1_800_000_000;
/// The instruction every authorisation approves.
const INSTRUCTION: &[u8] = b"{\"pay\":{\"to\":\"NL00BANK0123456789\",\"eur\":\"12.50\"}}";

fn crypto(what: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> anyhow::Error {
    move |_| anyhow::anyhow!("{what} failed")
}

fn seed(label: &[u8], n: u64) -> [u8; 32] {
    sha256(&[label, &n.to_be_bytes()])
}

/// One enrolled subscriber and its provider, in memory.
struct Setup {
    provider: ProviderSecrets,
    kem_pk: [u8; 65],
    device: EcdsaKeyPair,
    credential: Credential,
    pin_key: [u8; 32],
    instruction_hash: [u8; 32],
}

fn setup() -> anyhow::Result<Setup> {
    let provider = ProviderSecrets::new(KemSecretKey::derive(&seed(b"bench-kem", 0))?, seed(b"bench-nonce-key", 0));
    let kem_pk = provider.kem_public_key()?;
    let device = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(crypto("device key"))?;
    let device_pk = encode_point(&decode_point(device.public_key().as_ref())?)?;
    let pin_key = seed(b"bench-pin", 0);
    let credential = idseal_scal3::enrol(&kem_pk, &device_pk, &pin_key, &seed(b"bench-enrol", 0))?;
    provider.accept(&credential)?;
    Ok(Setup { provider, kem_pk, device, credential, pin_key, instruction_hash: sha256(&[INSTRUCTION]) })
}

impl Setup {
    /// One authorisation, crypto only: returns the record. `ledger` consumes the challenge id.
    fn authorise(&self, n: u64, ledger: &Mutex<HashSet<ChallengeId>>) -> anyhow::Result<Vec<u8>> {
        let id = ChallengeId(seed(b"bench-challenge", n));
        let challenge = self.provider.challenge(&self.credential, id, &self.instruction_hash)?;
        let auth = idseal_scal3::authenticate(
            &self.credential,
            &self.kem_pk,
            &self.pin_key,
            &challenge,
            &self.instruction_hash,
            &seed(b"bench-subscriber", n),
        )?;
        let sig = self.device.sign(&SystemRandom::new(), &auth.device_message()).map_err(crypto("device sign"))?;
        let sig: [u8; SIG_LEN] = sig.as_ref().try_into()?;
        let pass = auth.pass(&sig)?;
        let mut consume =
            |id: &ChallengeId| ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(*id);
        let record = self.provider.prove(&self.credential, &id, &self.instruction_hash, &pass, &mut consume)?;
        Ok(record.to_bytes())
    }

    fn event(&self, record: &[u8]) -> AuditEvent {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        AuditEvent::new(AuditEventKind::Scal3Authorize, UnixTime::from_secs(NOW), "bench-token")
            .subject("bench-token")
            .details(serde_json::json!({
                "record": hex(record),
                "vk": hex(&self.credential.verifying_key()),
                "device_pk": hex(&self.credential.device_public_key()),
                "instruction": String::from_utf8_lossy(INSTRUCTION),
                "instruction_hash": hex(&self.instruction_hash),
            }))
    }
}

/// `{"1": rate, "2": rate}` of `work` at each of [`THREADS`].
fn rates<F>(seconds: f64, work: F) -> anyhow::Result<Vec<f64>>
where
    F: Fn(u64) -> anyhow::Result<()> + Sync,
{
    THREADS.iter().map(|&t| threaded_rate(t, seconds, &work)).collect()
}

fn by_threads(v: &[f64]) -> serde_json::Value {
    THREADS.iter().zip(v).map(|(t, r)| (t.to_string(), serde_json::json!(r))).collect::<serde_json::Map<_, _>>().into()
}

fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(f64::MIN_POSITIVE)
}

/// The raw figures, each at [`THREADS`].
struct Raw {
    /// FROST 2-of-2 signing (both rounds, both shares, aggregation).
    frost: Vec<f64>,
    /// The FROST (Schnorr) signature check, `frost::verify` (pure-Rust `p256` arithmetic).
    schnorr: Vec<f64>,
    /// aws-lc-rs ECDSA P-256 verification.
    verify: Vec<f64>,
    /// aws-lc-rs ECDSA P-256 signing.
    sign: Vec<f64>,
}

/// The raw figures: FROST signing, the Schnorr check, ECDSA verify, ECDSA sign.
fn raw(s: &Setup, seconds: f64) -> anyhow::Result<Raw> {
    let coeffs = [hash_to_scalar(&[b"s"], b"bench-dealer")?, hash_to_scalar(&[b"a1"], b"bench-dealer")?];
    let dealt = frost::deal_2_of_2(&coeffs[0], &coeffs[1])?;
    let msg = [0x5Au8; 65];
    let frost_sign = |n: u64| -> anyhow::Result<()> {
        let n1 = frost::commit(&seed(b"h1", n), &seed(b"b1", n), &dealt.s1)?;
        let n2 = frost::commit(&seed(b"h2", n), &seed(b"b2", n), &dealt.s2)?;
        let list = [n1.commitment(frost::PROVIDER_ID), n2.commitment(frost::SUBSCRIBER_ID)];
        let z1 = frost::sign_share(frost::PROVIDER_ID, &n1, &dealt.s1, &dealt.vk, &list, &msg)?;
        let z2 = frost::sign_share(frost::SUBSCRIBER_ID, &n2, &dealt.s2, &dealt.vk, &list, &msg)?;
        black_box(frost::aggregate(&dealt.vk, &list, &msg, &[*z1, *z2])?);
        Ok(())
    };
    // The building blocks make valid signatures (a wrong figure would measure nothing useful).
    let n1 = frost::commit(&seed(b"h1", 0), &seed(b"b1", 0), &dealt.s1)?;
    let n2 = frost::commit(&seed(b"h2", 0), &seed(b"b2", 0), &dealt.s2)?;
    let list = [n1.commitment(frost::PROVIDER_ID), n2.commitment(frost::SUBSCRIBER_ID)];
    let z1 = frost::sign_share(frost::PROVIDER_ID, &n1, &dealt.s1, &dealt.vk, &list, &msg)?;
    let z2 = frost::sign_share(frost::SUBSCRIBER_ID, &n2, &dealt.s2, &dealt.vk, &list, &msg)?;
    let (r, z) = frost::aggregate(&dealt.vk, &list, &msg, &[*z1, *z2])?;
    frost::verify(&dealt.vk, &r, &z, &msg)?;
    let frost_rates = rates(seconds, frost_sign)?;
    let schnorr = rates(seconds, |_| {
        frost::verify(&dealt.vk, black_box(&r), black_box(&z), black_box(&msg))?;
        Ok(())
    })?;

    let rng = SystemRandom::new();
    let sig = s.device.sign(&rng, &msg).map_err(crypto("sign"))?;
    let pk = s.device.public_key().as_ref().to_vec();
    let verify = rates(seconds, |_| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(&pk))
            .verify(black_box(&msg), black_box(sig.as_ref()))
            .map_err(crypto("raw verify"))
    })?;
    let sign = rates(seconds, |_| {
        black_box(s.device.sign(&rng, black_box(&msg)).map_err(crypto("raw sign"))?);
        Ok(())
    })?;
    Ok(Raw { frost: frost_rates, schnorr, verify, sign })
}

/// Whole authorisations with one audit append each on the database at `url` (migrated here).
async fn authorisations(setup: Arc<Setup>, url: &str, seconds: f64) -> anyhow::Result<serde_json::Value> {
    let opts = ConnectOptions { max_connections: 4, ..ConnectOptions::default() };
    let store = Store::connect(url, &opts).await?.with_audit_pseudonym_key(&[7; 32])?;
    store.migrate().await?;
    let handle = tokio::runtime::Handle::current();
    let st = store.clone();
    let (crypto_only, with_log) = tokio::task::spawn_blocking(move || {
        let crypto_only = rates(seconds, |n| {
            let ledger = Mutex::new(HashSet::new());
            black_box(setup.authorise(n, &ledger)?);
            Ok(())
        })?;
        let mut with_log = Vec::new();
        for &t in &THREADS {
            // A fresh ledger per run: every run reuses the call numbers.
            let ledger = Mutex::new(HashSet::new());
            with_log.push(threaded_rate(t, seconds, |n| {
                let record = setup.authorise(n, &ledger)?;
                handle.block_on(st.record(&setup.event(&record)))?;
                Ok(())
            })?);
        }
        Ok::<_, anyhow::Error>((crypto_only, with_log))
    })
    .await??;
    let entries = store.tlog_size().await?;
    store.close().await;
    Ok(serde_json::json!({
        "crypto_only_per_s": by_threads(&crypto_only),
        "authorisations_per_s": by_threads(&with_log),
        "log_entries": entries,
    }))
}

/// Runs [`authorisations`] on a fresh PostgreSQL database next to `admin_url`, then drops it.
async fn postgres(setup: Arc<Setup>, admin_url: &str, seconds: f64) -> anyhow::Result<serde_json::Value> {
    let (url, name) = idseal_store::testing::create_postgres_database(admin_url).await?;
    let v = authorisations(setup, &url, seconds).await;
    let dropped = idseal_store::testing::drop_postgres_database(admin_url, &name).await;
    let v = v?;
    dropped?;
    Ok(v)
}

/// The value at `path` in `v`.
fn at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |x, k| x.get(*k))
}

/// Adds the ratios of the `authorisations_per_s` and `crypto_only_per_s` rates to `frost`.
fn with_ratios(mut v: serde_json::Value, frost: &[f64]) -> serde_json::Value {
    for key in ["authorisations_per_s", "crypto_only_per_s"] {
        let r: serde_json::Map<_, _> = THREADS
            .iter()
            .zip(frost)
            .map(|(t, f)| {
                let x = at(&v, &[key, &t.to_string()]).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
                (t.to_string(), serde_json::json!(ratio(x, *f)))
            })
            .collect();
        if let Some(o) = v.as_object_mut() {
            o.insert(format!("{}_over_frost_signing", key.trim_end_matches("_per_s")), r.into());
        }
    }
    v
}

/// Measures the scal3 suite: `seconds` per figure and thread count; PostgreSQL too when
/// `database_url` names a server.
pub(crate) async fn measure(seconds: f64, database_url: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let setup = Arc::new(setup()?);
    let s = Arc::clone(&setup);
    let (raw, verifications, record_len) = tokio::task::spawn_blocking(move || {
        let raw = raw(&s, seconds)?;
        let record = s.authorise(u64::MAX, &Mutex::new(HashSet::new()))?;
        let (vk, device_pk) = (s.credential.verifying_key(), s.credential.device_public_key());
        idseal_scal3::verify_record(&vk, &device_pk, &record, &s.instruction_hash)?;
        let verifications = rates(seconds, |_| {
            idseal_scal3::verify_record(&vk, &device_pk, black_box(&record), &s.instruction_hash)?;
            Ok(())
        })?;
        Ok::<_, anyhow::Error>((raw, verifications, record.len()))
    })
    .await??;
    let Raw { frost: frost_rates, schnorr, verify, sign } = raw;

    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite:{}", dir.path().join("scal3.db").display());
    let sqlite = with_ratios(authorisations(Arc::clone(&setup), &sqlite_url, seconds).await?, &frost_rates);
    let pg = match database_url {
        Some(url) => with_ratios(postgres(Arc::clone(&setup), url, seconds).await?, &frost_rates),
        None => serde_json::json!({"skipped": "no --database-url or IDSEAL_TEST_DATABASE_URL"}),
    };
    // A record costs two ECDSA verifies and one Schnorr check.
    let derived: Vec<f64> =
        verify.iter().zip(&schnorr).map(|(v, s)| 1.0 / (2.0 / v.max(1e-9) + 1.0 / s.max(1e-9))).collect();
    let per_t = |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| ratio(*x, *y)).collect() };
    Ok(serde_json::json!({
        "suite": "scal3",
        "seconds_per_measurement": seconds,
        "threads": THREADS,
        "record_bytes": record_len,
        "raw": {
            "frost_p256_2of2_sign_per_s": by_threads(&frost_rates),
            "ecdsa_p256_verify_per_s": by_threads(&verify),
            "ecdsa_p256_sign_per_s": by_threads(&sign),
            "schnorr_p256_verify_per_s": by_threads(&schnorr),
        },
        "authorisations": { "sqlite": sqlite, "postgres": pg },
        "verifications": {
            "verify_record_per_s": by_threads(&verifications),
            "over_raw_ecdsa_verify": by_threads(&per_t(&verifications, &verify)),
            "derived_limit_per_s": by_threads(&derived),
            "derived_limit_note": "1 / (2 / raw ECDSA verify + 1 / raw Schnorr verify): two ECDSA verifies and one Schnorr check per record",
            "over_derived_limit": by_threads(&per_t(&verifications, &derived)),
        },
    }))
}

/// The human summary of [`measure`]'s result.
pub(crate) fn summary(v: &serde_json::Value) -> String {
    let f = |path: &[&str]| at(v, path).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let mut out = format!(
        "scal3      in process; {} s per figure; 1 / 2 threads\n\
         raw        FROST(P-256) 2-of-2 sign {:.0} / {:.0}/s; Schnorr verify {:.0} / {:.0}/s; ECDSA P-256 verify \
         {:.0} / {:.0}/s; sign {:.0} / {:.0}/s\n\
         verify     verify_record {:.0} / {:.0}/s (ratio to raw verify {:.3} / {:.3}; derived limit {:.0} / {:.0}/s, \
         ratio {:.3} / {:.3})",
        f(&["seconds_per_measurement"]),
        f(&["raw", "frost_p256_2of2_sign_per_s", "1"]),
        f(&["raw", "frost_p256_2of2_sign_per_s", "2"]),
        f(&["raw", "schnorr_p256_verify_per_s", "1"]),
        f(&["raw", "schnorr_p256_verify_per_s", "2"]),
        f(&["raw", "ecdsa_p256_verify_per_s", "1"]),
        f(&["raw", "ecdsa_p256_verify_per_s", "2"]),
        f(&["raw", "ecdsa_p256_sign_per_s", "1"]),
        f(&["raw", "ecdsa_p256_sign_per_s", "2"]),
        f(&["verifications", "verify_record_per_s", "1"]),
        f(&["verifications", "verify_record_per_s", "2"]),
        f(&["verifications", "over_raw_ecdsa_verify", "1"]),
        f(&["verifications", "over_raw_ecdsa_verify", "2"]),
        f(&["verifications", "derived_limit_per_s", "1"]),
        f(&["verifications", "derived_limit_per_s", "2"]),
        f(&["verifications", "over_derived_limit", "1"]),
        f(&["verifications", "over_derived_limit", "2"]),
    );
    for db in ["sqlite", "postgres"] {
        if at(v, &["authorisations", db, "authorisations_per_s"]).is_some_and(serde_json::Value::is_object) {
            let a = |k: &str, t: &str| f(&["authorisations", db, k, t]);
            out.push_str(&format!(
                "\nauthorise  {db:<8} whole (with audit append) {:.0} / {:.0}/s (ratio to FROST signing {:.3} / {:.3}); \
                 crypto only {:.0} / {:.0}/s (ratio {:.3} / {:.3})",
                a("authorisations_per_s", "1"),
                a("authorisations_per_s", "2"),
                a("authorisations_over_frost_signing", "1"),
                a("authorisations_over_frost_signing", "2"),
                a("crypto_only_per_s", "1"),
                a("crypto_only_per_s", "2"),
                a("crypto_only_over_frost_signing", "1"),
                a("crypto_only_over_frost_signing", "2"),
            ));
        } else {
            out.push_str(&format!("\nauthorise  {db:<8} skipped"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_runs_and_reports_every_figure() {
        let v = measure(0.01, None).await.unwrap();
        for t in ["1", "2"] {
            for path in [
                &["raw", "frost_p256_2of2_sign_per_s"][..],
                &["raw", "ecdsa_p256_verify_per_s"],
                &["raw", "ecdsa_p256_sign_per_s"],
                &["raw", "schnorr_p256_verify_per_s"],
                &["authorisations", "sqlite", "authorisations_per_s"],
                &["authorisations", "sqlite", "crypto_only_per_s"],
                &["authorisations", "sqlite", "authorisations_over_frost_signing"],
                &["verifications", "verify_record_per_s"],
                &["verifications", "over_raw_ecdsa_verify"],
                &["verifications", "derived_limit_per_s"],
            ] {
                let x = path.iter().fold(&v, |x, k| &x[*k])[t].as_f64();
                assert!(x.is_some_and(|x| x > 0.0), "{path:?}.{t}");
            }
        }
        // Every whole authorisation appended one entry (plus the warm-up calls).
        assert!(v["authorisations"]["sqlite"]["log_entries"].as_u64().unwrap() >= 40);
        assert_eq!(v["record_bytes"].as_u64(), Some(idseal_scal3::RECORD_LEN as u64));
        assert!(v["authorisations"]["postgres"]["skipped"].is_string());
        let s = summary(&v);
        assert!(s.contains("verify_record") && s.contains("postgres skipped"), "{s}");
    }

    #[test]
    fn a_challenge_id_is_proved_once() {
        let s = setup().unwrap();
        let ledger = Mutex::new(HashSet::new());
        s.authorise(1, &ledger).unwrap();
        let err = s.authorise(1, &ledger).unwrap_err();
        assert!(matches!(err.downcast_ref(), Some(idseal_scal3::Scal3Error::ChallengeReused)), "{err}");
    }
}
