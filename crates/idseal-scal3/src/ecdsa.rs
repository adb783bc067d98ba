//! ECDSA P-256 with SHA-256, raw `r ‖ s` (64 bytes), through aws-lc-rs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey};
use p256::Scalar;
use zeroize::Zeroizing;

use crate::Scal3Error;
use crate::group::{base_mul, decode_point, encode_point_uncompressed, encode_scalar};

/// Length of a raw ECDSA P-256 signature.
pub const SIG_LEN: usize = 64;

/// Verifies `sig` (r ‖ s) over `msg` with the SEC1 public key `pk` (compressed or not).
pub(crate) fn verify(pk: &[u8], msg: &[u8], sig: &[u8; SIG_LEN]) -> bool {
    let Ok(point) = decode_point(pk) else { return false };
    let Ok(uncompressed) = encode_point_uncompressed(&point) else { return false };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, uncompressed).verify(msg, sig).is_ok()
}

/// Signs `msg` with the secret scalar `sk`. The ECDSA nonce comes from AWS-LC (RFC 6979-style
/// determinism is not offered by aws-lc-rs); the key itself is the caller's.
pub(crate) fn sign(sk: &Scalar, msg: &[u8]) -> Result<[u8; SIG_LEN], Scal3Error> {
    let sk_bytes = Zeroizing::new(encode_scalar(sk));
    let pk = encode_point_uncompressed(&base_mul(sk))?;
    let kp = EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, sk_bytes.as_ref(), &pk)
        .map_err(|_| Scal3Error::Crypto)?;
    let sig = kp.sign(&SystemRandom::new(), msg).map_err(|_| Scal3Error::Crypto)?;
    sig.as_ref().try_into().map_err(|_| Scal3Error::Crypto)
}
