//! The idseal SCAL3 v1 flow: enrolment (device as dealer), challenge (provider), authenticate
//! and pass (subscriber), prove (provider). Byte layouts are in `docs/scal3.md`.

use aws_lc_rs::hmac;
use p256::elliptic_curve::Field;
use p256::{ProjectivePoint, Scalar};
use zeroize::Zeroizing;

use crate::ecdsa::{self, SIG_LEN};
use crate::frost::{self, Commitment, Nonces, PROVIDER_ID, SUBSCRIBER_ID};
use crate::group::{
    POINT_LEN, SCALAR_LEN, base_mul, decode_nonzero_scalar, decode_point, decode_scalar, encode_point, encode_scalar,
    expand_message_xmd, hash_to_field, hash_to_scalar, sha256,
};
use crate::hpke::{self, ENC_LEN, KemSecretKey, TAG_LEN};
use crate::record::{DEVICE_LABEL, Record};
use crate::{Scal3Error, VERSION};

/// HPKE `info` of every seal in this scheme.
pub const HPKE_INFO: &[u8] = b"idseal-SCAL3-v1";
const DST_DEALER: &[u8] = b"idseal-SCAL3-v1-dealer";
const DST_DEALER_HPKE: &[u8] = b"idseal-SCAL3-v1-dealer-hpke";
const DST_MASK: &[u8] = b"idseal-SCAL3-v1-mask";
const DST_PROVIDER_NONCE: &[u8] = b"idseal-SCAL3-v1-provider-nonce";
const DST_SUBSCRIBER: &[u8] = b"idseal-SCAL3-v1-subscriber";
const DST_BINDING_KEY: &[u8] = b"idseal-SCAL3-v1-binding-key";
const AAD_SHARE: &[u8] = b"idseal-SCAL3-v1-share";
const AAD_Z2: &[u8] = b"idseal-SCAL3-v1-z2";
const CHALLENGE_LABEL: &[u8] = b"idseal-SCAL3-v1-challenge";

/// Sealed provider share plaintext: `s1(32) ‖ C1(33)`.
const SHARE_PT_LEN: usize = SCALAR_LEN + POINT_LEN;
/// Sealed provider share ciphertext with tag.
const SHARE_CT_LEN: usize = SHARE_PT_LEN + TAG_LEN;
/// Length of [`Credential::to_bytes`].
pub const CREDENTIAL_LEN: usize = 1 + SCALAR_LEN + POINT_LEN + POINT_LEN + ENC_LEN + SHARE_CT_LEN;
/// Length of [`Challenge::to_bytes`].
pub const CHALLENGE_LEN: usize = 32 + 2 * POINT_LEN;
/// Length of [`Pass::to_bytes`].
pub const PASS_LEN: usize = 1 + 3 * POINT_LEN + 2 * SIG_LEN + ENC_LEN + SCALAR_LEN + TAG_LEN;

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], Scal3Error> {
    let (head, tail) = rest.split_at_checked(n).ok_or(Scal3Error::Malformed("truncated"))?;
    *rest = tail;
    Ok(head)
}

fn arr<const N: usize>(b: &[u8]) -> Result<[u8; N], Scal3Error> {
    b.try_into().map_err(|_| Scal3Error::Malformed("length"))
}

fn point(b: &[u8; POINT_LEN]) -> Result<ProjectivePoint, Scal3Error> {
    decode_point(b)
}

/// What the provider stores per subscriber and the subscriber keeps on the device: the
/// blinded subscriber share, the group key, the device key and the sealed provider share.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    blinded: [u8; SCALAR_LEN],
    vk: [u8; POINT_LEN],
    device_pk: [u8; POINT_LEN],
    share_enc: [u8; ENC_LEN],
    sealed_share: [u8; SHARE_CT_LEN],
}

impl core::fmt::Debug for Credential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The blinded share is not secret on its own, but keep logs short and boring.
        f.debug_struct("Credential").field("vk", &self.vk).field("device_pk", &self.device_pk).finish_non_exhaustive()
    }
}

impl Credential {
    /// The 245-byte encoding: `0x01 ‖ blinded(32) ‖ Vk(33) ‖ device_pk(33) ‖ enc(65) ‖ sealed_share(81)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        [&[VERSION][..], &self.blinded, &self.vk, &self.device_pk, &self.share_enc, &self.sealed_share].concat()
    }

    /// Parses and validates [`Credential::to_bytes`] (points on the curve, scalar below n).
    ///
    /// # Errors
    /// [`Scal3Error::Malformed`], [`Scal3Error::InvalidPoint`], [`Scal3Error::InvalidScalar`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Scal3Error> {
        if bytes.len() != CREDENTIAL_LEN {
            return Err(Scal3Error::Malformed("credential length"));
        }
        let mut rest = bytes;
        if take(&mut rest, 1)? != [VERSION] {
            return Err(Scal3Error::Malformed("credential version"));
        }
        let c = Self {
            blinded: arr(take(&mut rest, SCALAR_LEN)?)?,
            vk: arr(take(&mut rest, POINT_LEN)?)?,
            device_pk: arr(take(&mut rest, POINT_LEN)?)?,
            share_enc: arr(take(&mut rest, ENC_LEN)?)?,
            sealed_share: arr(take(&mut rest, SHARE_CT_LEN)?)?,
        };
        decode_scalar(&c.blinded)?;
        point(&c.vk)?;
        point(&c.device_pk)?;
        decode_point(&c.share_enc)?;
        Ok(c)
    }

    /// The joint verification key Vk (SEC1 compressed).
    pub fn verifying_key(&self) -> [u8; POINT_LEN] {
        self.vk
    }

    /// The device's ECDSA P-256 public key (SEC1 compressed).
    pub fn device_public_key(&self) -> [u8; POINT_LEN] {
        self.device_pk
    }

    /// Verifies an idseal v1 record against this credential; see [`crate::verify_record`].
    ///
    /// # Errors
    /// As [`crate::verify_record`].
    pub fn verify_record(&self, record: &[u8], client_data_hash: &[u8; 32]) -> Result<(), Scal3Error> {
        crate::record::verify_record(&self.vk, &self.device_pk, record, client_data_hash)
    }

    fn share_aad(&self) -> Vec<u8> {
        [AAD_SHARE, &self.blinded, &self.vk, &self.device_pk].concat()
    }
}

/// Enrolment on the device: deal a 2-of-2 FROST key, blind the subscriber share with the PIN
/// factor, seal the provider share (with its VSS commitment C1) to the provider's HPKE key.
///
/// `pin_key` is the 32-byte PIN-derived input (for example HMAC-SHA256 under a hardware-bound
/// device key over the PIN); `randomness` must be 32 fresh random bytes. The group secret, the
/// polynomial and the verifying shares never leave this function.
///
/// # Errors
/// [`Scal3Error::InvalidPoint`] for a bad provider or device key.
pub fn enrol(
    provider_kem_pk: &[u8; ENC_LEN],
    device_pk: &[u8; POINT_LEN],
    pin_key: &[u8; 32],
    randomness: &[u8; 32],
) -> Result<Credential, Scal3Error> {
    decode_point(provider_kem_pk)?;
    point(device_pk)?;
    let coeffs = Zeroizing::new(hash_to_field(&[randomness], DST_DEALER, 2)?);
    let (s, a1) = match coeffs.as_slice() {
        [s, a1] => (s, a1),
        _ => return Err(Scal3Error::Crypto),
    };
    let dealt = frost::deal_2_of_2(s, a1).map_err(|_| Scal3Error::Crypto)?;
    let mask = Zeroizing::new(hash_to_scalar(&[pin_key], DST_MASK)?);
    let blinded = encode_scalar(&(*dealt.s2 + *mask));
    let vk = encode_point(&dealt.vk)?;
    let mut cred =
        Credential { blinded, vk, device_pk: *device_pk, share_enc: [0; ENC_LEN], sealed_share: [0; SHARE_CT_LEN] };
    let pt = Zeroizing::new([&encode_scalar(&dealt.s1)[..], &encode_point(&dealt.c1)?].concat());
    let ikm = expand_message_xmd(&[randomness], DST_DEALER_HPKE, 32)?;
    let (enc, ct) = hpke::seal(provider_kem_pk, HPKE_INFO, &cred.share_aad(), &pt, &arr(&ikm)?)?;
    cred.share_enc = enc;
    cred.sealed_share = arr(&ct)?;
    Ok(cred)
}

/// A challenge identifier: unique per challenge, chosen by the server (for example 32 random
/// bytes stored with the pending instruction). The provider's nonces are derived from it, so
/// **the server must never let one identifier be proved twice** (see [`ChallengeLedger`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChallengeId(pub [u8; 32]);

/// The server's record of used challenge identifiers, consulted by [`ProviderSecrets::prove`]
/// after the device signature verified and before any use of the provider share.
pub trait ChallengeLedger {
    /// Marks `id` used; returns `false` if it was already used (then `prove` refuses).
    fn consume(&mut self, id: &ChallengeId) -> bool;
}

impl<F: FnMut(&ChallengeId) -> bool> ChallengeLedger for F {
    fn consume(&mut self, id: &ChallengeId) -> bool {
        self(id)
    }
}

/// The provider's first-round commitments for one challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The challenge identifier.
    pub id: ChallengeId,
    d1: ProjectivePoint,
    e1: ProjectivePoint,
}

impl Challenge {
    /// The 98-byte encoding `id(32) ‖ D1(33) ‖ E1(33)`.
    ///
    /// # Errors
    /// Never for a challenge made by this crate.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Scal3Error> {
        Ok([&self.id.0[..], &encode_point(&self.d1)?, &encode_point(&self.e1)?].concat())
    }

    /// Parses [`Challenge::to_bytes`].
    ///
    /// # Errors
    /// [`Scal3Error::Malformed`], [`Scal3Error::InvalidPoint`], [`Scal3Error::IdentityPoint`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Scal3Error> {
        if bytes.len() != CHALLENGE_LEN {
            return Err(Scal3Error::Malformed("challenge length"));
        }
        let mut rest = bytes;
        let id = ChallengeId(arr(take(&mut rest, 32)?)?);
        let d1 = decode_point(take(&mut rest, POINT_LEN)?)?;
        let e1 = decode_point(take(&mut rest, POINT_LEN)?)?;
        Ok(Self { id, d1, e1 })
    }
}

/// The provider's secrets: the HPKE KEM key the shares are sealed to, and the key from which
/// its FROST nonces are derived. Both zeroize on drop.
pub struct ProviderSecrets {
    kem: KemSecretKey,
    nonce_key: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ProviderSecrets(<redacted>)")
    }
}

impl ProviderSecrets {
    /// From a KEM key and a 32-byte secret nonce key.
    pub fn new(kem: KemSecretKey, nonce_key: [u8; 32]) -> Self {
        Self { kem, nonce_key: Zeroizing::new(nonce_key) }
    }

    /// The HPKE public key subscribers seal to (SEC1 uncompressed, 65 bytes).
    ///
    /// # Errors
    /// [`Scal3Error::Crypto`] on a backend failure.
    pub fn kem_public_key(&self) -> Result<[u8; ENC_LEN], Scal3Error> {
        self.kem.public_key()
    }

    /// Registration check: the sealed share opens under this key, is bound to this credential
    /// and matches the VSS commitments.
    ///
    /// # Errors
    /// [`Scal3Error::SealedShare`].
    pub fn accept(&self, credential: &Credential) -> Result<(), Scal3Error> {
        self.open_share(credential).map(|_| ())
    }

    fn open_share(&self, cred: &Credential) -> Result<Zeroizing<Scalar>, Scal3Error> {
        let pt = hpke::open(&self.kem, &cred.share_enc, HPKE_INFO, &cred.share_aad(), &cred.sealed_share)
            .map_err(|_| Scal3Error::SealedShare)?;
        let (s1_bytes, c1_bytes) = pt.split_at_checked(SCALAR_LEN).ok_or(Scal3Error::SealedShare)?;
        let s1 = Zeroizing::new(decode_nonzero_scalar(s1_bytes).map_err(|_| Scal3Error::SealedShare)?);
        let c1 = decode_point(c1_bytes).map_err(|_| Scal3Error::SealedShare)?;
        let vk = point(&cred.vk)?;
        // f(1) = s + a1: [s1]G must equal C0 + C1 (C0 = Vk).
        if base_mul(&s1) != vk + c1 {
            return Err(Scal3Error::SealedShare);
        }
        Ok(s1)
    }

    fn nonces(&self, cred: &Credential, id: &ChallengeId, hash: &[u8; 32]) -> Result<Nonces, Scal3Error> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.nonce_key.as_ref());
        let cred_hash = sha256(&[&cred.to_bytes()]);
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(hmac::sign(&key, &[CHALLENGE_LABEL, &id.0, &cred_hash, hash].concat()).as_ref());
        let ds = Zeroizing::new(hash_to_field(&[seed.as_ref()], DST_PROVIDER_NONCE, 2)?);
        match ds.as_slice() {
            [d, e] if !bool::from(d.is_zero()) && !bool::from(e.is_zero()) => {
                Ok(Nonces { hiding: Zeroizing::new(*d), binding: Zeroizing::new(*e) })
            }
            _ => Err(Scal3Error::Crypto),
        }
    }

    /// Issues the challenge for one instruction. Stateless: the nonces are a PRF (HMAC under
    /// the nonce key) of the challenge id, the credential and the instruction hash, so
    /// [`ProviderSecrets::prove`] re-derives them.
    ///
    /// # Errors
    /// [`Scal3Error::Crypto`] with negligible probability.
    pub fn challenge(
        &self,
        credential: &Credential,
        id: ChallengeId,
        client_data_hash: &[u8; 32],
    ) -> Result<Challenge, Scal3Error> {
        let n = self.nonces(credential, &id, client_data_hash)?;
        let c = n.commitment(PROVIDER_ID);
        Ok(Challenge { id, d1: c.hiding, e1: c.binding })
    }

    /// Completes the joint signature and returns the log record.
    ///
    /// Order of checks: parse; binding signature; device signature (over `c`, the z2 tag and
    /// `SHA-256(enc_s)`); consume the challenge in `ledger`; open and check the provider share;
    /// open z2 (AAD binds `c` and `M`); joint signature. Only a failure of the last step is
    /// [`Scal3Error::PinMismatch`].
    ///
    /// # Errors
    /// [`Scal3Error::Malformed`] and point/scalar errors for a bad pass,
    /// [`Scal3Error::BindingSignature`], [`Scal3Error::DeviceSignature`],
    /// [`Scal3Error::ChallengeReused`], [`Scal3Error::SealedShare`], [`Scal3Error::SealedZ2`],
    /// [`Scal3Error::PinMismatch`].
    pub fn prove(
        &self,
        credential: &Credential,
        id: &ChallengeId,
        client_data_hash: &[u8; 32],
        pass: &Pass,
        ledger: &mut impl ChallengeLedger,
    ) -> Result<Record, Scal3Error> {
        let nonces = self.nonces(credential, id, client_data_hash)?;
        let d2 = point(&pass.d2)?;
        let e2 = point(&pass.e2)?;
        point(&pass.d_b)?;
        let vk = point(&credential.vk)?;
        let msg = [&pass.d_b[..], client_data_hash].concat();
        let list = [nonces.commitment(PROVIDER_ID), Commitment { id: SUBSCRIBER_ID, hiding: d2, binding: e2 }];
        let factors = frost::binding_factors(&vk, &list, &msg)?;
        let r = frost::group_commitment(&list, &factors)?;
        let c = frost::challenge(&r, &vk, &msg)?;
        let c_bytes = encode_scalar(&c);
        let enc_hash = sha256(&[&pass.enc_s]);
        if !ecdsa::verify(&pass.d_b, &pass.device_sig, &pass.binding_sig) {
            return Err(Scal3Error::BindingSignature);
        }
        let device_msg = [DEVICE_LABEL, &c_bytes, &pass.tag, &enc_hash].concat();
        if !ecdsa::verify(&credential.device_pk, &device_msg, &pass.device_sig) {
            return Err(Scal3Error::DeviceSignature);
        }
        if !ledger.consume(id) {
            return Err(Scal3Error::ChallengeReused);
        }
        let s1 = self.open_share(credential)?;
        let ct = [&pass.sealed_z2[..], &pass.tag].concat();
        let z2_bytes = hpke::open(&self.kem, &pass.enc_s, HPKE_INFO, &[AAD_Z2, &c_bytes, &msg].concat(), &ct)
            .map_err(|_| Scal3Error::SealedZ2)?;
        let z2 = Zeroizing::new(decode_scalar(&z2_bytes).map_err(|_| Scal3Error::SealedZ2)?);
        let rho1 = factors.iter().find(|(i, _)| *i == PROVIDER_ID).map(|(_, f)| *f).ok_or(Scal3Error::Crypto)?;
        let lambda1 = frost::lagrange(PROVIDER_ID, &[PROVIDER_ID, SUBSCRIBER_ID])?;
        let z1 = Zeroizing::new(*nonces.hiding + *nonces.binding * rho1 + lambda1 * *s1 * c);
        let z = *z1 + *z2;
        frost::verify_cz(&vk, &c, &z, &msg).map_err(|_| Scal3Error::PinMismatch)?;
        let record = Record {
            c: c_bytes,
            z: encode_scalar(&z),
            d_b: pass.d_b,
            tag: pass.tag,
            enc_hash,
            device_sig: pass.device_sig,
            binding_sig: pass.binding_sig,
        };
        credential.verify_record(&record.to_bytes(), client_data_hash).map_err(|_| Scal3Error::PinMismatch)?;
        Ok(record)
    }
}

/// The subscriber's state between [`authenticate`] and [`Authentication::pass`]: the ephemeral
/// binding key and the sealed z2. Secrets zeroize on drop.
pub struct Authentication {
    sk_b: Zeroizing<Scalar>,
    device_pk: [u8; POINT_LEN],
    d2: [u8; POINT_LEN],
    e2: [u8; POINT_LEN],
    d_b: [u8; POINT_LEN],
    c: [u8; SCALAR_LEN],
    enc_s: [u8; ENC_LEN],
    sealed_z2: [u8; SCALAR_LEN],
    tag: [u8; TAG_LEN],
}

impl core::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Authentication(<redacted>)")
    }
}

impl Authentication {
    /// The bytes the device key must sign (ECDSA P-256 SHA-256):
    /// `"idseal-SCAL3-v1-device" ‖ c(32) ‖ tag(16) ‖ SHA-256(enc_s)(32)`, 102 bytes.
    pub fn device_message(&self) -> Vec<u8> {
        [DEVICE_LABEL, &self.c, &self.tag, &sha256(&[&self.enc_s])].concat()
    }

    /// Finishes with the device's signature: checks it, signs it with the binding key, drops
    /// the binding key.
    ///
    /// # Errors
    /// [`Scal3Error::DeviceSignature`] if `device_sig` does not verify under the credential's
    /// device key.
    pub fn pass(self, device_sig: &[u8; SIG_LEN]) -> Result<Pass, Scal3Error> {
        if !ecdsa::verify(&self.device_pk, &self.device_message(), device_sig) {
            return Err(Scal3Error::DeviceSignature);
        }
        let binding_sig = ecdsa::sign(&self.sk_b, device_sig)?;
        Ok(Pass {
            d2: self.d2,
            e2: self.e2,
            d_b: self.d_b,
            device_sig: *device_sig,
            binding_sig,
            enc_s: self.enc_s,
            sealed_z2: self.sealed_z2,
            tag: self.tag,
        })
    }
}

/// The subscriber's answer to a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pass {
    d2: [u8; POINT_LEN],
    e2: [u8; POINT_LEN],
    d_b: [u8; POINT_LEN],
    device_sig: [u8; SIG_LEN],
    binding_sig: [u8; SIG_LEN],
    enc_s: [u8; ENC_LEN],
    sealed_z2: [u8; SCALAR_LEN],
    tag: [u8; TAG_LEN],
}

impl Pass {
    /// The 341-byte encoding: `0x01 ‖ D2(33) ‖ E2(33) ‖ D_B(33) ‖ device_sig(64) ‖
    /// binding_sig(64) ‖ enc_s(65) ‖ sealed_z2(32) ‖ tag(16)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        [
            &[VERSION][..],
            &self.d2,
            &self.e2,
            &self.d_b,
            &self.device_sig,
            &self.binding_sig,
            &self.enc_s,
            &self.sealed_z2,
            &self.tag,
        ]
        .concat()
    }

    /// Parses [`Pass::to_bytes`]; points are validated.
    ///
    /// # Errors
    /// [`Scal3Error::Malformed`], [`Scal3Error::InvalidPoint`], [`Scal3Error::IdentityPoint`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Scal3Error> {
        if bytes.len() != PASS_LEN {
            return Err(Scal3Error::Malformed("pass length"));
        }
        let mut rest = bytes;
        if take(&mut rest, 1)? != [VERSION] {
            return Err(Scal3Error::Malformed("pass version"));
        }
        let p = Self {
            d2: arr(take(&mut rest, POINT_LEN)?)?,
            e2: arr(take(&mut rest, POINT_LEN)?)?,
            d_b: arr(take(&mut rest, POINT_LEN)?)?,
            device_sig: arr(take(&mut rest, SIG_LEN)?)?,
            binding_sig: arr(take(&mut rest, SIG_LEN)?)?,
            enc_s: arr(take(&mut rest, ENC_LEN)?)?,
            sealed_z2: arr(take(&mut rest, SCALAR_LEN)?)?,
            tag: arr(take(&mut rest, TAG_LEN)?)?,
        };
        point(&p.d2)?;
        point(&p.e2)?;
        point(&p.d_b)?;
        decode_point(&p.enc_s)?;
        Ok(p)
    }
}

/// The subscriber's side of one authentication: unblinds its share with the PIN factor,
/// commits, computes its signature share z2 over `M = D_B ‖ client_data_hash` and seals it to
/// the provider with `AAD = "idseal-SCAL3-v1-z2" ‖ c ‖ M`.
///
/// `randomness` must be 32 fresh random bytes; it seeds the binding key, the FROST nonces
/// (hedged with the share, as RFC 9591 `nonce_generate`) and the HPKE ephemeral key.
///
/// # Errors
/// Point errors for a bad challenge or provider key; [`Scal3Error::Crypto`] with negligible
/// probability.
pub fn authenticate(
    credential: &Credential,
    provider_kem_pk: &[u8; ENC_LEN],
    pin_key: &[u8; 32],
    challenge: &Challenge,
    client_data_hash: &[u8; 32],
    randomness: &[u8; 32],
) -> Result<Authentication, Scal3Error> {
    let seeds = expand_message_xmd(&[randomness], DST_SUBSCRIBER, 128)?;
    let seed = |i: usize| -> Result<Zeroizing<[u8; 32]>, Scal3Error> {
        Ok(Zeroizing::new(arr(seeds.get(i * 32..(i + 1) * 32).ok_or(Scal3Error::Crypto)?)?))
    };
    let sk_b = Zeroizing::new(hash_to_scalar(&[seed(0)?.as_ref()], DST_BINDING_KEY)?);
    if bool::from(sk_b.is_zero()) {
        return Err(Scal3Error::Crypto);
    }
    let d_b = encode_point(&base_mul(&sk_b))?;
    let mask = Zeroizing::new(hash_to_scalar(&[pin_key], DST_MASK)?);
    let s2 = Zeroizing::new(decode_scalar(&credential.blinded)? - *mask);
    let nonces = frost::commit(&*seed(1)?, &*seed(2)?, &s2)?;
    let vk = point(&credential.vk)?;
    let msg = [&d_b[..], client_data_hash].concat();
    let mine = nonces.commitment(SUBSCRIBER_ID);
    let list = [Commitment { id: PROVIDER_ID, hiding: challenge.d1, binding: challenge.e1 }, mine];
    let factors = frost::binding_factors(&vk, &list, &msg)?;
    let r = frost::group_commitment(&list, &factors)?;
    let c = encode_scalar(&frost::challenge(&r, &vk, &msg)?);
    let z2 = Zeroizing::new(encode_scalar(&*frost::sign_share(SUBSCRIBER_ID, &nonces, &s2, &vk, &list, &msg)?));
    let aad = [AAD_Z2, &c, &msg].concat();
    let (enc_s, ct) = hpke::seal(provider_kem_pk, HPKE_INFO, &aad, z2.as_ref(), &*seed(3)?)?;
    let (sealed, tag) = ct.split_at_checked(SCALAR_LEN).ok_or(Scal3Error::Crypto)?;
    let d2 = encode_point(&mine.hiding)?;
    let e2 = encode_point(&mine.binding)?;
    Ok(Authentication {
        sk_b,
        device_pk: credential.device_pk,
        d2,
        e2,
        d_b,
        c,
        enc_s,
        sealed_z2: arr(sealed)?,
        tag: arr(tag)?,
    })
}
