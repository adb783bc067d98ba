//! SCAL3 on the simulated phone (cargo feature `scal3`; patented method, see `docs/scal3.md`):
//! enrol a SCAL3 credential and authorise high-risk instructions with the device key
//! (possession) and a PIN (knowledge).
//!
//! ```text
//! scal3_enrol(pin)       GET /scal3/provider-key → kemPublicKey
//!                        idseal_scal3::enrol(kem, device key, pin_mask(pin), random)
//!                        POST /scal3/enrol {tokenId, credential, timestamp, signatureBase64}
//!                        → Vk; the credential is kept in the state (save it)
//! scal3_authorize(pin, instruction)
//!                        POST /scal3/challenge {tokenId, instruction}
//!                        check: the canonical text is the instruction asked for, its SHA-256
//!                        is instructionHash (else InstructionMismatch, nothing signed)
//!                        authenticate(…) → device signs device_message() (raw r‖s) → pass
//!                        POST /scal3/prove {challengeId, pass} → record, logIndex
//!                        check: the record verifies under the credential (Vk, device key)
//! ```
//!
//! The PIN never leaves the phone: it only selects the mask [`pin_mask`] that unblinds the
//! subscriber's share. A wrong PIN is detected by the server (HTTP 403 `pin_mismatch`,
//! [`DeviceError::PinMismatch`]); too many lock the credential (HTTP 423,
//! [`DeviceError::Locked`]).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idseal_scal3::{Challenge, Credential, Pass, SIG_LEN, authenticate, enrol};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::client::Device;
use crate::error::{DeviceError, Result};

/// The label in front of the PIN in [`pin_mask`].
pub const PIN_LABEL: &[u8] = b"idseal-scal3-pin|";

/// The PIN factor given to SCAL3 (`pin_key` of `idseal_scal3::enrol` and `authenticate`):
/// `HMAC-SHA256(pin_key, "idseal-scal3-pin|" ‖ UTF-8 PIN)`.
///
/// `pin_key` is the device's PIN-derivation key: 32 random bytes kept in the device state (a
/// real phone keeps it in secure hardware, so that the blinded share on the phone plus a
/// guessed PIN can only be tried against the server, which counts the failures). The PIN is
/// used as typed (no normalisation).
pub fn pin_mask(pin_key: &[u8; 32], pin: &str) -> Zeroizing<[u8; 32]> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, pin_key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(PIN_LABEL);
    ctx.update(pin.as_bytes());
    let tag = ctx.sign();
    let mut out = Zeroizing::new([0u8; 32]);
    for (o, b) in out.iter_mut().zip(tag.as_ref()) {
        *o = *b;
    }
    out
}

/// The message the enrolled device key signs (DER ECDSA P-256/SHA-256) in `POST /scal3/enrol`:
/// `scal3-enrol|{tokenId}|{timestamp}|{lowercase hex SHA-256 of the credential bytes}`.
pub fn enrol_message(token_id: &str, timestamp: i64, credential: &[u8]) -> String {
    format!("scal3-enrol|{token_id}|{timestamp}|{}", hex(digest(&SHA256, credential).as_ref()))
}

/// Checks what the server says it will have signed against what the user asked for: the
/// canonical text must parse to the same JSON value as `asked`, be its RFC 8785 canonical form,
/// and hash (SHA-256, lowercase hex) to `hash_hex`. Returns the hash (the SCAL3
/// `client_data_hash`).
///
/// # Errors
/// [`DeviceError::InstructionMismatch`] naming the first difference.
pub fn check_instruction(asked: &Value, canonical: &str, hash_hex: &str) -> Result<[u8; 32]> {
    let mismatch = |m: &str| DeviceError::InstructionMismatch(m.to_owned());
    let parsed: Value = serde_json::from_str(canonical).map_err(|_| mismatch("the instruction text is not JSON"))?;
    if &parsed != asked {
        return Err(mismatch("the instruction text is not the instruction asked for"));
    }
    let again = idseal_types::jcs::canonical_json(&parsed).map_err(|e| mismatch(e.0))?;
    if again != canonical {
        return Err(mismatch("the instruction text is not canonical JSON (RFC 8785)"));
    }
    let hash = sha256(canonical.as_bytes());
    if hex(&hash) != hash_hex {
        return Err(mismatch("instructionHash is not the SHA-256 of the instruction text"));
    }
    Ok(hash)
}

/// A SCAL3 authorisation the server recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scal3Authorization {
    /// The challenge id (b64u).
    pub challenge_id: String,
    /// The instruction as signed: its RFC 8785 canonical JSON text.
    pub instruction: String,
    /// SHA-256 of [`Scal3Authorization::instruction`] (the record's client data hash).
    pub instruction_hash: [u8; 32],
    /// The record (`idseal_scal3::Record::to_bytes`), verified against the credential.
    pub record: Vec<u8>,
    /// The audit-log entry that holds the record.
    pub log_index: u64,
}

/// SHA-256 as an array.
fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(digest(&SHA256, data).as_ref()) {
        *o = *b;
    }
    out
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpadded base64url.
pub(crate) fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn un_b64u(field: &str, s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| DeviceError::BadResponse(format!("{field} is not base64url")))
}

fn fixed<const N: usize>(field: &str, bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| DeviceError::BadResponse(format!("{field} is not {N} bytes")))
}

fn random32() -> Result<Zeroizing<[u8; 32]>> {
    let mut r = Zeroizing::new([0u8; 32]);
    SystemRandom::new().fill(r.as_mut()).map_err(|_| DeviceError::Scal3("no randomness".into()))?;
    Ok(r)
}

fn core_err(e: idseal_scal3::Scal3Error) -> DeviceError {
    DeviceError::Scal3(e.to_string())
}

/// The server's SCAL3 refusals as typed errors: 403 `pin_mismatch` and 423.
fn typed(e: DeviceError) -> DeviceError {
    match e {
        DeviceError::Server { status: 403, error, description } if error == "pin_mismatch" => {
            DeviceError::PinMismatch(description)
        }
        DeviceError::Server { status: 423, description, .. } => DeviceError::Locked(description),
        other => other,
    }
}

/// SEC1 compressed form of an uncompressed P-256 point (`04 ‖ x ‖ y`).
fn compress(point: &[u8]) -> Result<[u8; 33]> {
    let bad = || DeviceError::Scal3("the device key is not an uncompressed P-256 point".into());
    let (Some(&4), Some(x), Some(&y_last)) = (point.first(), point.get(1..33), point.last()) else {
        return Err(bad());
    };
    if point.len() != 65 {
        return Err(bad());
    }
    let mut out = [0u8; 33];
    let (prefix, rest) = out.split_at_mut(1);
    prefix.copy_from_slice(&[0x02 | (y_last & 1)]);
    rest.copy_from_slice(x);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderKey {
    kem_public_key: String,
}

#[derive(Deserialize)]
struct Enrolled {
    enrolled: bool,
    vk: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChallengeOut {
    challenge_id: String,
    challenge: String,
    instruction: String,
    instruction_hash: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Proved {
    status: String,
    instruction: String,
    record: String,
    log_index: u64,
}

impl Device {
    /// The device key as a fixed-form (raw `r ‖ s`) ECDSA P-256/SHA-256 signer, which SCAL3's
    /// device signature needs.
    fn fixed_signer(&self) -> Result<EcdsaKeyPair> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, self.state.key_pkcs8())
            .map_err(|_| DeviceError::Scal3("the device key cannot sign in fixed form".into()))
    }

    /// The device's public key, SEC1 compressed (33 bytes): the SCAL3 credential's device key.
    pub fn scal3_device_key(&self) -> Result<[u8; 33]> {
        compress(self.fixed_signer()?.public_key().as_ref())
    }

    /// `GET /scal3/provider-key`: the provider's HPKE public key (65 bytes).
    pub async fn scal3_provider_key(&self) -> Result<[u8; 65]> {
        let r: ProviderKey = self.get("/scal3/provider-key").await?;
        fixed("kemPublicKey", &un_b64u("kemPublicKey", &r.kem_public_key)?)
    }

    /// A new SCAL3 credential for the provider key `kem_pk` and `pin` (no network).
    pub fn scal3_credential_for(&self, kem_pk: &[u8; 65], pin: &str) -> Result<Credential> {
        let mask = pin_mask(self.state.scal3_pin_key(), pin);
        enrol(kem_pk, &self.scal3_device_key()?, &mask, &*random32()?).map_err(core_err)
    }

    /// The subscriber's pass for `challenge` over `client_data_hash` (no network): unblind with
    /// `pin`, sign the device message with the device key (raw `r ‖ s`), bind.
    pub fn scal3_pass(
        &self,
        credential: &Credential,
        kem_pk: &[u8; 65],
        pin: &str,
        challenge: &Challenge,
        client_data_hash: &[u8; 32],
    ) -> Result<Pass> {
        let mask = pin_mask(self.state.scal3_pin_key(), pin);
        let auth =
            authenticate(credential, kem_pk, &mask, challenge, client_data_hash, &*random32()?).map_err(core_err)?;
        let sig = self
            .fixed_signer()?
            .sign(&SystemRandom::new(), &auth.device_message())
            .map_err(|_| DeviceError::Scal3("device signature failed".into()))?;
        let sig: [u8; SIG_LEN] = fixed("device signature", sig.as_ref())?;
        auth.pass(&sig).map_err(core_err)
    }

    /// Enrols a SCAL3 credential for `pin` (see the module docs) and keeps it in the state
    /// (save the state afterwards). Returns the joint verification key Vk.
    ///
    /// # Errors
    /// [`DeviceError::NotEnrolled`] without a token id; the server's refusals as
    /// [`DeviceError::Server`] (409: a credential already exists).
    pub async fn scal3_enrol(&mut self, pin: &str) -> Result<[u8; 33]> {
        let token_id = self.token_id()?.to_owned();
        let kem_pk = self.scal3_provider_key().await?;
        let credential = self.scal3_credential_for(&kem_pk, pin)?;
        let bytes = credential.to_bytes();
        let timestamp = self.clock.now().as_secs();
        let sig = self.key.sign(enrol_message(&token_id, timestamp, &bytes).as_bytes())?;
        let body = json!({
            "tokenId": token_id,
            "credential": b64u(&bytes),
            "timestamp": timestamp,
            "signatureBase64": STANDARD.encode(sig),
        });
        let r: Enrolled = self.post("/scal3/enrol", &body).await.map_err(typed)?;
        let vk = credential.verifying_key();
        if !r.enrolled || un_b64u("vk", &r.vk)? != vk {
            return Err(DeviceError::BadResponse("the server's vk is not the credential's".into()));
        }
        self.state.set_scal3_credential(bytes);
        Ok(vk)
    }

    /// Authorises `instruction` (a JSON object such as `{"op":"revoke_enrollment"}`) with
    /// `pin`; see the module docs. Succeeds only once the returned record verifies locally.
    ///
    /// # Errors
    /// [`DeviceError::NoScal3Credential`], [`DeviceError::InstructionMismatch`] (nothing signed),
    /// [`DeviceError::PinMismatch`], [`DeviceError::Locked`], [`DeviceError::Scal3`] for a record
    /// that does not verify, and the server's other refusals.
    pub async fn scal3_authorize(&self, pin: &str, instruction: &Value) -> Result<Scal3Authorization> {
        let token_id = self.token_id()?;
        let credential = Credential::from_bytes(self.state.scal3_credential().ok_or(DeviceError::NoScal3Credential)?)
            .map_err(|e| DeviceError::BadState(format!("scal3Credential: {e}")))?;
        if !instruction.is_object() {
            return Err(DeviceError::Scal3("the instruction must be a JSON object".into()));
        }
        let kem_pk = self.scal3_provider_key().await?;
        let body = json!({"tokenId": token_id, "instruction": instruction});
        let ch: ChallengeOut = self.post("/scal3/challenge", &body).await.map_err(typed)?;
        let hash = check_instruction(instruction, &ch.instruction, &ch.instruction_hash)?;
        let challenge = Challenge::from_bytes(&un_b64u("challenge", &ch.challenge)?)
            .map_err(|e| DeviceError::BadResponse(format!("challenge: {e}")))?;
        if un_b64u("challengeId", &ch.challenge_id)? != challenge.id.0 {
            return Err(DeviceError::BadResponse("challengeId is not the challenge's id".into()));
        }
        let pass = self.scal3_pass(&credential, &kem_pk, pin, &challenge, &hash)?;
        let body = json!({"challengeId": ch.challenge_id, "pass": b64u(&pass.to_bytes())});
        let r: Proved = self.post("/scal3/prove", &body).await.map_err(typed)?;
        if r.status != "authorized" {
            return Err(DeviceError::BadResponse(format!("status {:?}", r.status)));
        }
        if r.instruction != ch.instruction {
            return Err(DeviceError::InstructionMismatch("the proved instruction is not the challenged one".into()));
        }
        let record = un_b64u("record", &r.record)?;
        credential
            .verify_record(&record, &hash)
            .map_err(|e| DeviceError::Scal3(format!("the server's record does not verify: {e}")))?;
        Ok(Scal3Authorization {
            challenge_id: ch.challenge_id,
            instruction: ch.instruction,
            instruction_hash: hash,
            record,
            log_index: r.log_index,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use std::sync::Arc;

    use idseal_scal3::{ChallengeId, KemSecretKey, ProviderSecrets, Scal3Error};
    use idseal_types::{FixedClock, UnixTime};

    use super::*;
    use crate::state::DeviceState;

    #[test]
    fn pin_mask_is_hmac_sha256_of_the_labelled_pin() {
        // Computed independently (Python hmac) for key 07…07 and PIN "1234".
        let m = pin_mask(&[7; 32], "1234");
        assert_eq!(hex(&*m), "ba56ad6cf37d8f8efed1aab5b3867b93efaf11f662f4353d5f57bf7351963642");
        assert_ne!(*pin_mask(&[7; 32], "1235"), *m);
        assert_ne!(*pin_mask(&[8; 32], "1234"), *m);
        assert_ne!(*pin_mask(&[7; 32], ""), *m);
    }

    #[test]
    fn the_instruction_check_refuses_any_change() {
        let asked = json!({"op": "approve_login", "sessionId": "sess_1", "grantedScopes": ["identity:full"]});
        let text = r#"{"grantedScopes":["identity:full"],"op":"approve_login","sessionId":"sess_1"}"#;
        let h = hex(&sha256(text.as_bytes()));
        assert_eq!(check_instruction(&asked, text, &h).unwrap(), sha256(text.as_bytes()));
        let bad = |t: &str, h: &str| {
            assert!(matches!(check_instruction(&asked, t, h), Err(DeviceError::InstructionMismatch(_))), "{t} {h}");
        };
        // Another session, more scopes, another op, an extra member: the text is not what was asked.
        for t in [
            r#"{"grantedScopes":["identity:full"],"op":"approve_login","sessionId":"sess_2"}"#,
            r#"{"grantedScopes":["identity:full","identity:photo"],"op":"approve_login","sessionId":"sess_1"}"#,
            r#"{"grantedScopes":["identity:full"],"op":"revoke_enrollment","sessionId":"sess_1"}"#,
            r#"{"extra":1,"grantedScopes":["identity:full"],"op":"approve_login","sessionId":"sess_1"}"#,
            "not json",
        ] {
            bad(t, &hex(&sha256(t.as_bytes())));
        }
        // The same value but not canonical (member order, whitespace).
        for t in [
            r#"{"op":"approve_login","sessionId":"sess_1","grantedScopes":["identity:full"]}"#,
            r#"{"grantedScopes": ["identity:full"],"op":"approve_login","sessionId":"sess_1"}"#,
        ] {
            bad(t, &hex(&sha256(t.as_bytes())));
        }
        // The right text with a wrong or uppercase hash.
        bad(text, &hex(&[0u8; 32]));
        bad(text, &h.to_uppercase());
        bad(text, "");
    }

    #[test]
    fn enrol_message_format() {
        assert_eq!(
            enrol_message("tok", 1_800_000_000, b"abc"),
            "scal3-enrol|tok|1800000000|ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn compress_refuses_what_is_not_an_uncompressed_point() {
        let mut p = [0u8; 65];
        p[0] = 4;
        p[1] = 0xaa;
        p[64] = 3;
        let c = compress(&p).unwrap();
        assert_eq!((c[0], c[1]), (3, 0xaa));
        p[64] = 2;
        assert_eq!(compress(&p).unwrap()[0], 2);
        assert!(compress(&p[..64]).is_err());
        p[0] = 2;
        assert!(compress(&p).is_err());
        assert!(compress(&[]).is_err());
    }

    #[test]
    fn typed_errors_for_pin_mismatch_and_lock() {
        let s = |status, error: &str| DeviceError::Server { status, error: error.into(), description: "d".into() };
        assert!(matches!(typed(s(403, "pin_mismatch")), DeviceError::PinMismatch(d) if d == "d"));
        assert!(matches!(typed(s(423, "locked")), DeviceError::Locked(_)));
        assert!(matches!(typed(s(403, "scal3_required")), DeviceError::Server { status: 403, .. }));
        assert!(matches!(typed(s(401, "pin_mismatch")), DeviceError::Server { status: 401, .. }));
    }

    /// The device's side against the pure provider, no server: the compressed device key and
    /// the fixed-form device signature are what the scheme expects; a wrong PIN is the
    /// provider's `PinMismatch`.
    #[test]
    fn device_pass_proves_with_the_right_pin_only() {
        let device = Device::new(
            DeviceState::new("http://127.0.0.1:1", "V").unwrap(),
            Arc::new(FixedClock::new(UnixTime::from_secs(1_800_000_000))),
        )
        .unwrap();
        let provider = ProviderSecrets::new(KemSecretKey::derive(&[9; 32]).unwrap(), [5; 32]);
        let kem_pk = provider.kem_public_key().unwrap();
        let cred = device.scal3_credential_for(&kem_pk, "2468").unwrap();
        provider.accept(&cred).unwrap();
        assert_eq!(cred.device_public_key(), device.scal3_device_key().unwrap());
        let hash = sha256(br#"{"op":"revoke_enrollment"}"#);
        let mut used = std::collections::HashSet::new();
        let mut ledger = |id: &ChallengeId| used.insert(*id);

        let id = ChallengeId([1; 32]);
        let ch = provider.challenge(&cred, id, &hash).unwrap();
        let pass = device.scal3_pass(&cred, &kem_pk, "2468", &ch, &hash).unwrap();
        let record = provider.prove(&cred, &id, &hash, &pass, &mut ledger).unwrap();
        cred.verify_record(&record.to_bytes(), &hash).unwrap();
        assert!(cred.verify_record(&record.to_bytes(), &sha256(b"other")).is_err());

        let id = ChallengeId([2; 32]);
        let ch = provider.challenge(&cred, id, &hash).unwrap();
        let pass = device.scal3_pass(&cred, &kem_pk, "2469", &ch, &hash).unwrap();
        assert_eq!(provider.prove(&cred, &id, &hash, &pass, &mut ledger).unwrap_err(), Scal3Error::PinMismatch);
    }
}
