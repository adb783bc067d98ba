//! `idseal bench --suite vds`: the Visible Digital Seal against the raw ECDSA P-256 limits
//! measured in the same run (issue 5, "Benchmark").
//!
//! All figures are single-thread: each loop runs on the calling thread for `seconds`.
//!
//! - raw verify: aws-lc-rs ECDSA P-256/SHA-256 verification of a message of the size a seal
//!   signs (`header ‖ SHA-256(payload)`), with the public key parsed once;
//! - decode + verify: `idseal_vds::decode` of the Base45 text, then verification with the key
//!   parsed once ([`VerifyingKey`], as a relying party holds it per certificate); also with
//!   `idseal_vds::verify`, which parses the key bytes for every seal;
//! - raw sign: aws-lc-rs ECDSA P-256/SHA-256 signing of the same message;
//! - issuance (local key): `encode_signed` with a [`LocalSigner`] and the Base45 text.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, ParsedPublicKey,
};
use idseal_types::UnixTime;
use idseal_vds::seal::VerifyingKey;
use idseal_vds::{CertificateReference, FACE_LEN, Identity, LocalSigner, Transport, TrustLevel, Vds};

/// Size of the benchmark portrait: the seed's WEBP is about 900 bytes.
pub(crate) const PHOTO_LEN: usize = 900;
/// Issue time of the benchmark seal.
const ISSUED: i64 = 1_800_000_000;

/// A RIFF/WEBP container of `len` bytes (the codec checks the container only), filled with
/// deterministic pseudo-random bytes so that the Base45 text looks like a real one.
pub(crate) fn webp(len: usize) -> Vec<u8> {
    let size = u32::try_from(len.saturating_sub(8)).unwrap_or(u32::MAX);
    let chunk = u32::try_from(len.saturating_sub(20)).unwrap_or(u32::MAX);
    let mut photo = Vec::with_capacity(len);
    photo.extend_from_slice(b"RIFF");
    photo.extend_from_slice(&size.to_le_bytes());
    photo.extend_from_slice(b"WEBPVP8L");
    photo.extend_from_slice(&chunk.to_le_bytes());
    let mut x: u32 = 0x9E37_79B9;
    while photo.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        photo.push(x.to_le_bytes()[0]);
    }
    photo
}

/// The benchmark identity (the seed's field sizes, a [`PHOTO_LEN`]-byte portrait), valid until
/// `expires_at`.
pub(crate) fn sample_identity(expires_at: UnixTime) -> Identity {
    let mut face = [0u8; FACE_LEN];
    for (i, b) in face.iter_mut().enumerate() {
        *b = u8::try_from(i * 7 % 256).unwrap_or_default();
    }
    Identity {
        given_name: "Maëlys-Gaëlle".into(),
        family_name: "MARTIN".into(),
        date_of_birth: "1990-02-28".into(),
        nationality: "FRA".into(),
        document_number: "X4RTBPFW4".into(),
        token_id: [0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0x4d, 0x2a, 0xa6, 0xd2, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf],
        expires_at,
        photo: webp(PHOTO_LEN),
        face,
        trust_level: TrustLevel::OperatorVerified,
    }
}

fn sample_vds(reference: CertificateReference) -> Vds {
    let identity = sample_identity(UnixTime::from_secs(ISSUED + 2 * 365 * 86_400));
    Vds::identity(reference, UnixTime::from_secs(ISSUED), identity)
}

/// Runs `op` on this thread for `seconds` (after 100 warm-up calls); operations per second.
fn per_second(seconds: f64, op: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    per_second_after(100, seconds, op)
}

/// Runs `op` `warm_up` times, then on this thread for `seconds`; operations per second.
pub(crate) fn per_second_after(
    warm_up: usize,
    seconds: f64,
    mut op: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    for _ in 0..warm_up {
        op()?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        op()?;
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return Ok(n as f64 / elapsed.as_secs_f64());
        }
    }
}

pub(crate) fn crypto<E>(what: &'static str) -> impl FnOnce(E) -> anyhow::Error {
    move |_| anyhow::anyhow!("aws-lc-rs: {what} failed")
}

/// Measures the VDS suite; `seconds` per measurement.
pub(crate) fn measure(seconds: f64) -> anyhow::Result<serde_json::Value> {
    measure_with(seconds, true)
}

/// [`measure`], with or without the SoftHSM2 figures (they need the `idseal` binary itself).
fn measure_with(seconds: f64, with_hsm: bool) -> anyhow::Result<serde_json::Value> {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(crypto("key generation"))?;
    let key_pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).map_err(crypto("key parsing"))?;
    let public_key = key_pair.public_key().as_ref().to_vec();
    let reference = CertificateReference::new("FR05", "0001")?;
    let signer = LocalSigner::from_pkcs8(pkcs8.as_ref(), reference.clone())?;
    let vds = sample_vds(reference);

    // The seal every measurement works on, and the exact message it signs.
    let sealed = idseal_vds::encode_signed(&vds, &signer)?;
    let text = sealed.to_text(Transport::Base45);
    let message = sealed.signature_message();
    let signature = *sealed.signature();
    idseal_vds::verify(&idseal_vds::decode(&text)?, &public_key)?;

    // 1. raw verify: the same message, the key parsed once
    let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public_key).map_err(crypto("public key parsing"))?;
    let raw_verify = per_second(seconds, || {
        parsed.verify_sig(black_box(&message), black_box(&signature)).map_err(crypto("raw verify"))
    })?;

    // 2. full decode (Base45 text) + verify, the key parsed once like the raw figure's
    let verifying_key = VerifyingKey::from_uncompressed(&public_key)?;
    let decode_verify = per_second(seconds, || {
        let decoded = idseal_vds::decode(black_box(&text))?;
        verifying_key.verify(&decoded)?;
        Ok(())
    })?;

    // 2a. the same with the key given as bytes (parsed for every seal)
    let decode_verify_key_bytes = per_second(seconds, || {
        let decoded = idseal_vds::decode(black_box(&text))?;
        idseal_vds::verify(&decoded, black_box(&public_key))?;
        Ok(())
    })?;

    // 2b. decode only, to show where the difference goes
    let decode_only = per_second(seconds, || {
        black_box(idseal_vds::decode(black_box(&text))?);
        Ok(())
    })?;

    // 3. raw sign: the same message
    let raw_sign = per_second(seconds, || {
        black_box(key_pair.sign(&rng, black_box(&message)).map_err(crypto("raw sign"))?);
        Ok(())
    })?;

    // 4. issuance with a local key: build, sign, Base45 text
    let issue_local = per_second(seconds, || {
        let seal = idseal_vds::encode_signed(black_box(&vds), &signer)?;
        black_box(seal.to_text(Transport::Base45));
        Ok(())
    })?;

    // 5. issuance with a SoftHSM2 key, next to raw PKCS#11 signing on the same token
    let hsm = if with_hsm { measure_hsm(seconds)? } else { serde_json::json!({"skipped": "not requested"}) };
    let hsm_issue = hsm.get("issue_softhsm2_per_s").and_then(serde_json::Value::as_f64);
    let hsm_raw = hsm.get("raw_pkcs11_sign_per_s").and_then(serde_json::Value::as_f64);

    let ratio_verify = decode_verify / raw_verify.max(f64::MIN_POSITIVE);
    Ok(serde_json::json!({
        "benchmark": "vds",
        "version": env!("CARGO_PKG_VERSION"),
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "threads_used": 1,
        },
        "seconds_per_measurement": seconds,
        "seal": {
            "transport": "base45",
            "text_chars": text.len(),
            "binary_bytes": sealed.binary().len(),
            "payload_bytes": sealed.payload_bytes().len(),
            "photo_bytes": PHOTO_LEN,
            "signed_message_bytes": message.len(),
        },
        "verify": {
            "raw_ecdsa_p256_verify_per_s": raw_verify,
            "decode_verify_per_s": decode_verify,
            "decode_only_per_s": decode_only,
            "decode_verify_key_bytes_per_s": decode_verify_key_bytes,
            "decode_verify_over_raw_verify": ratio_verify,
            "goal_ratio": 0.90,
            "meets_goal": ratio_verify >= 0.90,
        },
        "issue": {
            "raw_ecdsa_p256_sign_per_s": raw_sign,
            "issue_local_per_s": issue_local,
            "issue_local_over_raw_sign": issue_local / raw_sign.max(f64::MIN_POSITIVE),
            "raw_pkcs11_sign_per_s": hsm_raw,
            "issue_softhsm2_per_s": hsm_issue,
            "issue_softhsm2_over_raw_pkcs11_sign": hsm_issue.zip(hsm_raw).map(|(i, r)| i / r.max(f64::MIN_POSITIVE)),
            "softhsm2": hsm,
        },
    }))
}

/// The human summary of [`measure`]'s result.
pub(crate) fn summary(v: &serde_json::Value) -> String {
    let f = |section: &str, key: &str| v.get(section).and_then(|s| s.get(key)).and_then(serde_json::Value::as_f64);
    let n = |section: &str, key: &str| f(section, key).unwrap_or(0.0);
    let size = |key: &str| v.get("seal").and_then(|s| s.get(key)).and_then(serde_json::Value::as_u64).unwrap_or(0);
    format!(
        "vds seal   {} Base45 chars, {} bytes binary (photo {} bytes); single thread, {} s per figure\n\
         verify     raw ECDSA P-256 {:.0}/s; decode+verify {:.0}/s (ratio {:.3}, goal >= 0.90); decode only {:.0}/s;\n\
         \x20          decode+verify with the key as bytes (parsed per seal) {:.0}/s\n\
         issue      raw ECDSA P-256 sign {:.0}/s; encode_signed+Base45 (local key) {:.0}/s (ratio {:.3})\n\
         \x20          SoftHSM2: raw PKCS#11 sign {:.0}/s; issuance {:.0}/s (ratio {:.3})",
        size("text_chars"),
        size("binary_bytes"),
        size("photo_bytes"),
        v.get("seconds_per_measurement").and_then(serde_json::Value::as_f64).unwrap_or(0.0),
        n("verify", "raw_ecdsa_p256_verify_per_s"),
        n("verify", "decode_verify_per_s"),
        n("verify", "decode_verify_over_raw_verify"),
        n("verify", "decode_only_per_s"),
        n("verify", "decode_verify_key_bytes_per_s"),
        n("issue", "raw_ecdsa_p256_sign_per_s"),
        n("issue", "issue_local_per_s"),
        n("issue", "issue_local_over_raw_sign"),
        n("issue", "raw_pkcs11_sign_per_s"),
        n("issue", "issue_softhsm2_per_s"),
        n("issue", "issue_softhsm2_over_raw_pkcs11_sign"),
    )
}

/// SoftHSM2's PKCS#11 module as Debian installs it.
const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const HSM_TOKEN: &str = "idseal-bench";
const HSM_PIN: &str = "1234";

/// Sets up a throw-away SoftHSM2 token and runs the PKCS#11 figures in a child process with
/// `SOFTHSM2_CONF` pointing at it. Without SoftHSM2 the result says so and carries no figures.
fn measure_hsm(seconds: f64) -> anyhow::Result<serde_json::Value> {
    if !std::path::Path::new(SOFTHSM2_MODULE).exists() {
        return Ok(serde_json::json!({"skipped": format!("{SOFTHSM2_MODULE} not installed")}));
    }
    let dir = tempfile::tempdir()?;
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens)?;
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
    )?;
    let init = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--init-token", "--free", "--label", HSM_TOKEN, "--so-pin", "5678", "--pin", HSM_PIN])
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(init.success(), "softhsm2-util --init-token failed: {init}");
    let out = dir.path().join("out");
    let status = std::process::Command::new(std::env::current_exe()?)
        .env("SOFTHSM2_CONF", &conf)
        .args(["bench", "--suite", "vds-hsm", "--vds-seconds", &seconds.to_string(), "--out-dir"])
        .arg(&out)
        .status()?;
    anyhow::ensure!(status.success(), "SoftHSM2 benchmark child failed: {status}");
    Ok(serde_json::from_slice(&std::fs::read(out.join("vds-hsm.json"))?)?)
}

/// In the child: raw PKCS#11 signing (C_Sign of a SHA-256 digest) and issuance through the
/// PKCS#11 `SealSigner`, both on one key generated on the token.
pub(crate) fn measure_hsm_child(seconds: f64) -> anyhow::Result<serde_json::Value> {
    let uri = format!("pkcs11:token={HSM_TOKEN};object=bench-key?module-path={SOFTHSM2_MODULE}&pin-value={HSM_PIN}");
    let config = idseal_keys::Pkcs11Config::from_uri(&uri)?;
    let key = idseal_keys::Pkcs11Signer::generate(&config)?;
    let reference = CertificateReference::new("FR05", "0001")?;
    let public_key = key.public_key().to_vec();
    let vds = sample_vds(reference.clone());
    let signer = idseal_vds::Pkcs11SealSigner::new(key, reference);
    let sealed = idseal_vds::encode_signed(&vds, &signer)?;
    idseal_vds::verify(&idseal_vds::decode(&sealed.to_text(Transport::Base45))?, &public_key)?;
    let message = sealed.signature_message();
    let raw = idseal_keys::Pkcs11Signer::open(&config)?;
    let raw_sign = per_second(seconds, || {
        black_box(raw.sign_p256_sha256(black_box(&message))?);
        Ok(())
    })?;
    let issue = per_second(seconds, || {
        let seal = idseal_vds::encode_signed(black_box(&vds), &signer)?;
        black_box(seal.to_text(Transport::Base45));
        Ok(())
    })?;
    Ok(serde_json::json!({
        "module": SOFTHSM2_MODULE,
        "raw_pkcs11_sign_per_s": raw_sign,
        "issue_softhsm2_per_s": issue,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn the_suite_runs_and_reports_every_figure() {
        // Without the SoftHSM2 child: it re-runs the `idseal` binary, which a unit test is not.
        let v = measure_with(0.01, false).unwrap();
        for (section, key) in [
            ("verify", "raw_ecdsa_p256_verify_per_s"),
            ("verify", "decode_verify_per_s"),
            ("verify", "decode_only_per_s"),
            ("verify", "decode_verify_key_bytes_per_s"),
            ("issue", "raw_ecdsa_p256_sign_per_s"),
            ("issue", "issue_local_per_s"),
        ] {
            assert!(v[section][key].as_f64().unwrap() > 0.0, "{section}.{key}");
        }
        assert!(v["issue"]["issue_softhsm2_per_s"].is_null());
        assert_eq!(v["machine"]["threads_used"], 1);
        assert!(summary(&v).contains("decode+verify"));
    }

    #[test]
    fn the_sample_photo_is_a_webp_container() {
        let p = webp(PHOTO_LEN);
        assert_eq!(p.len(), PHOTO_LEN);
        idseal_vds::payload::check_webp(&p).unwrap();
    }
}
