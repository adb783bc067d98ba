//! RFC 9180 HPKE, mode Base only, for the one suite SCAL3 uses: DHKEM(P-256, HKDF-SHA256)
//! (0x0010), HKDF-SHA256 (0x0001), AES-128-GCM (0x0001). Single-shot seal/open (sequence 0).
//! HMAC, ECDH and AES-GCM come from aws-lc-rs; the encapsulation key is derived from caller
//! randomness with `DeriveKeyPair`, so the module does no I/O and draws no randomness.

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{ECDH_P256, PrivateKey, UnparsedPublicKey, agree};
use aws_lc_rs::hmac;
use p256::Scalar;
use p256::elliptic_curve::{Field, PrimeField};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Scal3Error;
use crate::group::UNCOMPRESSED_LEN;

/// KEM identifier of DHKEM(P-256, HKDF-SHA256).
pub const KEM_ID: u16 = 0x0010;
/// KDF identifier of HKDF-SHA256.
pub const KDF_ID: u16 = 0x0001;
/// AEAD identifier of AES-128-GCM.
pub const AEAD_ID: u16 = 0x0001;
/// AEAD tag length.
pub const TAG_LEN: usize = 16;
/// Length of `enc` (an uncompressed P-256 point).
pub const ENC_LEN: usize = UNCOMPRESSED_LEN;

const KEM_SUITE: [u8; 5] = [b'K', b'E', b'M', 0x00, 0x10];
const HPKE_SUITE: [u8; 10] = [b'H', b'P', b'K', b'E', 0x00, 0x10, 0x00, 0x01, 0x00, 0x01];

fn hkdf_extract(salt: &[u8], ikm: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    // An empty salt is Nh zero bytes; HMAC pads short keys with zeros, so both are the same key.
    let key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    let mut ctx = hmac::Context::with_key(&key);
    for part in ikm {
        ctx.update(part);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

fn hkdf_expand(prk: &[u8], info: &[&[u8]], len: usize) -> Result<Zeroizing<Vec<u8>>, Scal3Error> {
    if len > 255 * 32 {
        return Err(Scal3Error::Malformed("hkdf length"));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, prk);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut prev = Zeroizing::new(Vec::new());
    let mut counter = 1u8;
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&prev);
        for part in info {
            ctx.update(part);
        }
        ctx.update(&[counter]);
        let t = ctx.sign();
        prev.clear();
        prev.extend_from_slice(t.as_ref());
        out.extend_from_slice(t.as_ref());
        counter = counter.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf_extract(salt, &[b"HPKE-v1", suite, label, ikm])
}

fn labeled_expand(
    suite: &[u8],
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: u16,
) -> Result<Zeroizing<Vec<u8>>, Scal3Error> {
    hkdf_expand(prk, &[&len.to_be_bytes(), b"HPKE-v1", suite, label, info], usize::from(len))
}

/// An HPKE recipient (or ephemeral) private key: a P-256 scalar in `[1, n)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct KemSecretKey([u8; 32]);

impl core::fmt::Debug for KemSecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KemSecretKey(<redacted>)")
    }
}

impl KemSecretKey {
    /// A key from its 32-byte big-endian scalar.
    ///
    /// # Errors
    /// [`Scal3Error::InvalidScalar`] for zero or a value `>= n`.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Scal3Error> {
        crate::group::decode_nonzero_scalar(bytes)?;
        Ok(Self(*bytes))
    }

    /// RFC 9180 §7.1.3 `DeriveKeyPair` for DHKEM(P-256): rejection sampling over
    /// `LabeledExpand(dkp_prk, "candidate", counter, 32)`.
    ///
    /// # Errors
    /// [`Scal3Error::Malformed`] for `ikm` shorter than 32 bytes, [`Scal3Error::Crypto`] if 256
    /// candidates fail (probability about 2^-8000).
    pub fn derive(ikm: &[u8]) -> Result<Self, Scal3Error> {
        if ikm.len() < 32 {
            return Err(Scal3Error::Malformed("ikm shorter than 32 bytes"));
        }
        let dkp_prk = labeled_extract(&KEM_SUITE, b"", b"dkp_prk", ikm);
        for counter in 0..=255u8 {
            let bytes = labeled_expand(&KEM_SUITE, dkp_prk.as_ref(), b"candidate", &[counter], 32)?;
            let arr: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.as_slice().try_into().map_err(|_| Scal3Error::Crypto)?);
            let sk: Option<Scalar> = Scalar::from_repr((*arr).into()).into();
            if sk.is_some_and(|s| !bool::from(s.is_zero())) {
                return Ok(Self(*arr));
            }
        }
        Err(Scal3Error::Crypto)
    }

    /// The 32-byte scalar (secret).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }

    fn private(&self) -> Result<PrivateKey, Scal3Error> {
        PrivateKey::from_private_key(&ECDH_P256, &self.0).map_err(|_| Scal3Error::Crypto)
    }

    /// The public key, SEC1 uncompressed (RFC 9180 `SerializePublicKey`).
    ///
    /// # Errors
    /// [`Scal3Error::Crypto`] on an aws-lc-rs failure.
    pub fn public_key(&self) -> Result<[u8; ENC_LEN], Scal3Error> {
        let pk = self.private()?.compute_public_key().map_err(|_| Scal3Error::Crypto)?;
        pk.as_ref().try_into().map_err(|_| Scal3Error::Crypto)
    }

    /// `DH(sk, pk)`: the x-coordinate of the shared point. Refuses invalid peer points.
    fn dh(&self, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, Scal3Error> {
        crate::group::decode_point(peer)?;
        let mut out = Zeroizing::new([0u8; 32]);
        agree(&self.private()?, UnparsedPublicKey::new(&ECDH_P256, peer), Scal3Error::InvalidPoint, |k| {
            out.copy_from_slice(k.get(..32).ok_or(Scal3Error::Crypto)?);
            Ok(())
        })?;
        Ok(out)
    }
}

fn extract_and_expand(dh: &[u8], kem_context: &[u8]) -> Result<Zeroizing<Vec<u8>>, Scal3Error> {
    let eae_prk = labeled_extract(&KEM_SUITE, b"", b"eae_prk", dh);
    labeled_expand(&KEM_SUITE, eae_prk.as_ref(), b"shared_secret", kem_context, 32)
}

/// `Encap(pkR)` with the ephemeral key `sk_e`: `(shared_secret, enc)`.
///
/// # Errors
/// [`Scal3Error::InvalidPoint`] for a bad recipient key.
pub fn encap(pk_r: &[u8; ENC_LEN], sk_e: &KemSecretKey) -> Result<(Zeroizing<Vec<u8>>, [u8; ENC_LEN]), Scal3Error> {
    let dh = sk_e.dh(pk_r)?;
    let enc = sk_e.public_key()?;
    let ss = extract_and_expand(dh.as_ref(), &[enc.as_slice(), pk_r.as_slice()].concat())?;
    Ok((ss, enc))
}

/// `Decap(enc, skR)`.
///
/// # Errors
/// [`Scal3Error::InvalidPoint`] for a bad `enc`.
pub fn decap(enc: &[u8; ENC_LEN], sk_r: &KemSecretKey) -> Result<Zeroizing<Vec<u8>>, Scal3Error> {
    let dh = sk_r.dh(enc)?;
    let pk_r = sk_r.public_key()?;
    extract_and_expand(dh.as_ref(), &[enc.as_slice(), pk_r.as_slice()].concat())
}

/// The Base-mode key schedule output for AES-128-GCM.
pub struct KeySchedule {
    /// AEAD key.
    pub key: Zeroizing<[u8; 16]>,
    /// Base nonce.
    pub base_nonce: [u8; 12],
    /// Exporter secret.
    pub exporter_secret: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for KeySchedule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeySchedule(<redacted>)")
    }
}

/// RFC 9180 §5.1 `KeySchedule` in mode Base (empty PSK and PSK id).
///
/// # Errors
/// [`Scal3Error::Crypto`] on an internal length mismatch.
pub fn key_schedule(shared_secret: &[u8], info: &[u8]) -> Result<KeySchedule, Scal3Error> {
    let psk_id_hash = labeled_extract(&HPKE_SUITE, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&HPKE_SUITE, b"", b"info_hash", info);
    let ctx = [&[0u8][..], psk_id_hash.as_ref(), info_hash.as_ref()].concat();
    let secret = labeled_extract(&HPKE_SUITE, shared_secret, b"secret", b"");
    let key = labeled_expand(&HPKE_SUITE, secret.as_ref(), b"key", &ctx, 16)?;
    let nonce = labeled_expand(&HPKE_SUITE, secret.as_ref(), b"base_nonce", &ctx, 12)?;
    let exp = labeled_expand(&HPKE_SUITE, secret.as_ref(), b"exp", &ctx, 32)?;
    Ok(KeySchedule {
        key: Zeroizing::new(key.as_slice().try_into().map_err(|_| Scal3Error::Crypto)?),
        base_nonce: nonce.as_slice().try_into().map_err(|_| Scal3Error::Crypto)?,
        exporter_secret: Zeroizing::new(exp.as_slice().try_into().map_err(|_| Scal3Error::Crypto)?),
    })
}

fn aead(ks: &KeySchedule) -> Result<LessSafeKey, Scal3Error> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_128_GCM, ks.key.as_ref()).map_err(|_| Scal3Error::Crypto)?))
}

/// Single-shot Base-mode seal: `(enc, ciphertext ‖ tag)`. The ephemeral key is
/// `DeriveKeyPair(ikm_e)`; `ikm_e` must be fresh randomness for every call.
///
/// # Errors
/// [`Scal3Error::InvalidPoint`] for a bad recipient key, [`Scal3Error::Crypto`] otherwise.
pub fn seal(
    pk_r: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    ikm_e: &[u8; 32],
) -> Result<([u8; ENC_LEN], Vec<u8>), Scal3Error> {
    let sk_e = KemSecretKey::derive(ikm_e)?;
    let (ss, enc) = encap(pk_r, &sk_e)?;
    let ks = key_schedule(&ss, info)?;
    let mut buf = plaintext.to_vec();
    aead(&ks)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(ks.base_nonce), Aad::from(aad), &mut buf)
        .map_err(|_| Scal3Error::Crypto)?;
    Ok((enc, buf))
}

/// Single-shot Base-mode open of `ciphertext ‖ tag`.
///
/// # Errors
/// [`Scal3Error::Decryption`] when the tag does not verify (wrong key, `enc`, AAD or ciphertext);
/// [`Scal3Error::InvalidPoint`] for a bad `enc`.
pub fn open(
    sk_r: &KemSecretKey,
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Scal3Error> {
    let ss = decap(enc, sk_r)?;
    let ks = key_schedule(&ss, info)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = aead(&ks)?
        .open_in_place(Nonce::assume_unique_for_key(ks.base_nonce), Aad::from(aad), &mut buf)
        .map_err(|_| Scal3Error::Decryption)?
        .len();
    buf.truncate(len);
    Ok(buf)
}
