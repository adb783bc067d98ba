//! P-256 group encodings and RFC 9380 `hash_to_field` for the scalar field.
//!
//! Points are SEC1 compressed (33 bytes, prefix `02` or `03`); the identity has no such
//! encoding and is always refused. Scalars are 32 bytes big-endian and must be below the group
//! order n: no silent reduction of encoded scalars.

use aws_lc_rs::digest::{SHA256, digest};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::elliptic_curve::subtle::{Choice, ConstantTimeEq};
use p256::elliptic_curve::{Field, PrimeField};
use p256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar, U256};
use zeroize::Zeroizing;

use crate::Scal3Error;

/// Length of an encoded scalar.
pub const SCALAR_LEN: usize = 32;
/// Length of an encoded (SEC1 compressed) point.
pub const POINT_LEN: usize = 33;
/// Length of an uncompressed SEC1 point (used by HPKE and aws-lc-rs).
pub const UNCOMPRESSED_LEN: usize = 65;
/// Bytes of XMD output per field element (RFC 9380 L for P-256, k = 128).
const L: usize = 48;

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Encodes a scalar as 32 bytes big-endian.
pub fn encode_scalar(s: &Scalar) -> [u8; SCALAR_LEN] {
    s.to_repr().into()
}

/// Decodes a 32-byte big-endian scalar; refuses values `>= n`. Zero is accepted.
///
/// # Errors
/// [`Scal3Error::Malformed`] on a wrong length, [`Scal3Error::InvalidScalar`] when `>= n`.
pub fn decode_scalar(bytes: &[u8]) -> Result<Scalar, Scal3Error> {
    let arr: [u8; SCALAR_LEN] = bytes.try_into().map_err(|_| Scal3Error::Malformed("scalar length"))?;
    Option::from(Scalar::from_repr(FieldBytes::from(arr))).ok_or(Scal3Error::InvalidScalar)
}

/// Decodes a scalar that must also be non-zero.
///
/// # Errors
/// As [`decode_scalar`], and [`Scal3Error::InvalidScalar`] for zero.
pub fn decode_nonzero_scalar(bytes: &[u8]) -> Result<Scalar, Scal3Error> {
    let s = decode_scalar(bytes)?;
    if bool::from(s.is_zero()) {
        return Err(Scal3Error::InvalidScalar);
    }
    Ok(s)
}

/// Encodes a point as SEC1 compressed; the identity cannot be encoded.
///
/// # Errors
/// [`Scal3Error::IdentityPoint`] for the identity.
pub fn encode_point(p: &ProjectivePoint) -> Result<[u8; POINT_LEN], Scal3Error> {
    if bool::from(p.is_identity()) {
        return Err(Scal3Error::IdentityPoint);
    }
    let enc = p.to_affine().to_encoded_point(true);
    enc.as_bytes().try_into().map_err(|_| Scal3Error::IdentityPoint)
}

/// Encodes a point as SEC1 uncompressed (65 bytes); the identity cannot be encoded.
///
/// # Errors
/// [`Scal3Error::IdentityPoint`] for the identity.
pub fn encode_point_uncompressed(p: &ProjectivePoint) -> Result<[u8; UNCOMPRESSED_LEN], Scal3Error> {
    if bool::from(p.is_identity()) {
        return Err(Scal3Error::IdentityPoint);
    }
    let enc = p.to_affine().to_encoded_point(false);
    enc.as_bytes().try_into().map_err(|_| Scal3Error::IdentityPoint)
}

/// Decodes a SEC1 point, compressed (33 bytes) or uncompressed (65 bytes), that must be on the
/// curve and not the identity.
///
/// # Errors
/// [`Scal3Error::IdentityPoint`] for the identity encoding (`00`), [`Scal3Error::InvalidPoint`]
/// for anything else that is not a curve point, [`Scal3Error::Malformed`] for a wrong length.
pub fn decode_point(bytes: &[u8]) -> Result<ProjectivePoint, Scal3Error> {
    match (bytes.len(), bytes.first()) {
        (POINT_LEN, Some(2 | 3)) | (UNCOMPRESSED_LEN, Some(4)) => {}
        (_, Some(0)) => return Err(Scal3Error::IdentityPoint),
        (POINT_LEN | UNCOMPRESSED_LEN, _) => return Err(Scal3Error::InvalidPoint),
        _ => return Err(Scal3Error::Malformed("point length")),
    }
    let enc = EncodedPoint::from_bytes(bytes).map_err(|_| Scal3Error::InvalidPoint)?;
    let affine: AffinePoint = Option::from(AffinePoint::from_encoded_point(&enc)).ok_or(Scal3Error::InvalidPoint)?;
    let p = ProjectivePoint::from(affine);
    if bool::from(p.is_identity()) {
        return Err(Scal3Error::IdentityPoint);
    }
    Ok(p)
}

/// `[k]G`.
pub fn base_mul(k: &Scalar) -> ProjectivePoint {
    ProjectivePoint::GENERATOR * k
}

/// Constant-time scalar equality.
pub fn scalar_eq(a: &Scalar, b: &Scalar) -> bool {
    let c: Choice = a.ct_eq(b);
    bool::from(c)
}

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-256.
///
/// # Errors
/// [`Scal3Error::Malformed`] when `len` is above 8160 or 65535, or the DST is empty or longer
/// than 255 bytes (this crate never needs the long-DST reduction).
pub fn expand_message_xmd(msg: &[&[u8]], dst: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, Scal3Error> {
    const B: usize = 32;
    const S: usize = 64;
    let ell = len.div_ceil(B);
    if ell > 255 || len > 65535 || dst.is_empty() || dst.len() > 255 {
        return Err(Scal3Error::Malformed("expand_message_xmd parameters"));
    }
    let dst_len = [u8::try_from(dst.len()).map_err(|_| Scal3Error::Malformed("dst"))?];
    let len_bytes = u16::try_from(len).map_err(|_| Scal3Error::Malformed("xmd length"))?.to_be_bytes();
    let mut ctx = aws_lc_rs::digest::Context::new(&SHA256);
    ctx.update(&[0u8; S]);
    for m in msg {
        ctx.update(m);
    }
    ctx.update(&len_bytes);
    ctx.update(&[0u8]);
    ctx.update(dst);
    ctx.update(&dst_len);
    let mut b0 = Zeroizing::new([0u8; B]);
    b0.copy_from_slice(ctx.finish().as_ref());
    let mut out = Zeroizing::new(Vec::with_capacity(ell * B));
    let mut prev = Zeroizing::new([0u8; B]);
    for i in 1..=ell {
        let mut x = Zeroizing::new([0u8; B]);
        for (j, byte) in x.iter_mut().enumerate() {
            *byte = b0.get(j).copied().unwrap_or(0) ^ prev.get(j).copied().unwrap_or(0);
        }
        let counter = [u8::try_from(i).map_err(|_| Scal3Error::Malformed("xmd counter"))?];
        let mut h = aws_lc_rs::digest::Context::new(&SHA256);
        // b_1 = H(b_0 ‖ 1 ‖ DST'), b_i = H((b_0 xor b_{i-1}) ‖ i ‖ DST'); prev starts as zeros.
        h.update(x.as_ref());
        h.update(&counter);
        h.update(dst);
        h.update(&dst_len);
        let bi = h.finish();
        prev.copy_from_slice(bi.as_ref());
        out.extend_from_slice(bi.as_ref());
    }
    out.truncate(len);
    Ok(out)
}

/// Reduces 48 big-endian bytes modulo n (RFC 9380 `OS2IP(tv) mod n`).
fn reduce48(bytes: &[u8]) -> Result<Scalar, Scal3Error> {
    let (hi, lo) = bytes.split_at_checked(L - SCALAR_LEN).ok_or(Scal3Error::Malformed("okm length"))?;
    let mut hi_padded = Zeroizing::new([0u8; SCALAR_LEN]);
    hi_padded.get_mut(SCALAR_LEN - hi.len()..).ok_or(Scal3Error::Malformed("okm length"))?.copy_from_slice(hi);
    let lo_arr: [u8; SCALAR_LEN] = lo.try_into().map_err(|_| Scal3Error::Malformed("okm length"))?;
    let hi_s = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*hi_padded));
    let lo_s = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(lo_arr));
    // 2^256 mod n = (2^256 - 1 mod n) + 1.
    let two_256 = <Scalar as Reduce<U256>>::reduce(U256::MAX) + Scalar::ONE;
    Ok(hi_s * two_256 + lo_s)
}

/// RFC 9380 §5.2 `hash_to_field` into the P-256 scalar field: one XMD expansion of `48·count`
/// bytes, split in order, each chunk reduced mod n.
///
/// # Errors
/// As [`expand_message_xmd`].
pub fn hash_to_field(msg: &[&[u8]], dst: &[u8], count: usize) -> Result<Vec<Scalar>, Scal3Error> {
    let okm = expand_message_xmd(msg, dst, L * count)?;
    okm.chunks_exact(L).map(reduce48).collect()
}

/// `hash_to_field` with `count = 1`.
///
/// # Errors
/// As [`expand_message_xmd`].
pub fn hash_to_scalar(msg: &[&[u8]], dst: &[u8]) -> Result<Scalar, Scal3Error> {
    hash_to_field(msg, dst, 1)?.into_iter().next().ok_or(Scal3Error::Malformed("hash_to_field"))
}

/// SHA-256 of one message, as a fixed array.
pub fn sha256_one(msg: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, msg).as_ref());
    out
}
