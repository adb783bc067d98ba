//! RFC 9591 FROST(P-256, SHA-256), written from the RFC: hash functions H1..H5, nonce
//! generation, commitment lists, binding factors, group commitment, challenge, signature
//! shares, aggregation and verification, general over the signer set so that the RFC's
//! Appendix E vectors (2-of-3, signers 1 and 3) can be checked; plus the 2-of-2 trusted-dealer
//! split that SCAL3 uses (provider = 1, subscriber = 2).

use p256::elliptic_curve::Field;
use p256::elliptic_curve::group::Group;
use p256::{ProjectivePoint, Scalar};
use zeroize::Zeroizing;

use crate::Scal3Error;
use crate::group::{base_mul, encode_point, encode_scalar, hash_to_scalar, sha256};

/// The ciphersuite's context string.
pub const CONTEXT: &[u8] = b"FROST-P256-SHA256-v1";

/// FROST identifier of the provider in SCAL3.
pub const PROVIDER_ID: u32 = 1;
/// FROST identifier of the subscriber in SCAL3.
pub const SUBSCRIBER_ID: u32 = 2;

fn dst(label: &[u8]) -> Vec<u8> {
    [CONTEXT, label].concat()
}

/// H1: binding factor hash (`hash_to_field`, DST `contextString ‖ "rho"`).
///
/// # Errors
/// Never in practice (the XMD parameters are fixed).
pub fn h1(m: &[&[u8]]) -> Result<Scalar, Scal3Error> {
    hash_to_scalar(m, &dst(b"rho"))
}

/// H2: challenge hash (DST `contextString ‖ "chal"`).
///
/// # Errors
/// Never in practice.
pub fn h2(m: &[&[u8]]) -> Result<Scalar, Scal3Error> {
    hash_to_scalar(m, &dst(b"chal"))
}

/// H3: nonce hash (DST `contextString ‖ "nonce"`).
///
/// # Errors
/// Never in practice.
pub fn h3(m: &[&[u8]]) -> Result<Scalar, Scal3Error> {
    hash_to_scalar(m, &dst(b"nonce"))
}

/// H4: message hash, `SHA-256(contextString ‖ "msg" ‖ m)`.
pub fn h4(m: &[u8]) -> [u8; 32] {
    sha256(&[CONTEXT, b"msg", m])
}

/// H5: commitment-list hash, `SHA-256(contextString ‖ "com" ‖ m)`.
pub fn h5(m: &[u8]) -> [u8; 32] {
    sha256(&[CONTEXT, b"com", m])
}

/// A FROST identifier as a 32-byte scalar encoding.
pub fn encode_id(id: u32) -> [u8; 32] {
    encode_scalar(&Scalar::from(u64::from(id)))
}

/// RFC 9591 `nonce_generate`: `H3(random_bytes ‖ SerializeScalar(secret))`.
///
/// # Errors
/// Never in practice.
pub fn nonce_generate(random_bytes: &[u8; 32], secret: &Scalar) -> Result<Zeroizing<Scalar>, Scal3Error> {
    let secret_enc = Zeroizing::new(encode_scalar(secret));
    Ok(Zeroizing::new(h3(&[random_bytes, secret_enc.as_ref()])?))
}

/// One signer's round-one commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commitment {
    /// The signer's identifier.
    pub id: u32,
    /// `[hiding_nonce]G`.
    pub hiding: ProjectivePoint,
    /// `[binding_nonce]G`.
    pub binding: ProjectivePoint,
}

/// RFC 9591 `encode_group_commitment_list` (the list must be sorted by identifier).
///
/// # Errors
/// [`Scal3Error::Malformed`] when the list is not strictly ascending; [`Scal3Error::IdentityPoint`]
/// for an identity commitment.
pub fn encode_commitment_list(list: &[Commitment]) -> Result<Vec<u8>, Scal3Error> {
    if list.windows(2).any(|w| matches!(w, [a, b] if a.id >= b.id)) {
        return Err(Scal3Error::Malformed("commitment list order"));
    }
    let mut out = Vec::with_capacity(list.len() * 98);
    for c in list {
        out.extend_from_slice(&encode_id(c.id));
        out.extend_from_slice(&encode_point(&c.hiding)?);
        out.extend_from_slice(&encode_point(&c.binding)?);
    }
    Ok(out)
}

/// The binding-factor input prefix `SerializeElement(vk) ‖ H4(msg) ‖ H5(commitments)`.
///
/// # Errors
/// As [`encode_commitment_list`].
pub fn binding_factor_prefix(vk: &ProjectivePoint, list: &[Commitment], msg: &[u8]) -> Result<Vec<u8>, Scal3Error> {
    let mut prefix = encode_point(vk)?.to_vec();
    prefix.extend_from_slice(&h4(msg));
    prefix.extend_from_slice(&h5(&encode_commitment_list(list)?));
    Ok(prefix)
}

/// RFC 9591 `compute_binding_factors`: `(id, H1(prefix ‖ SerializeScalar(id)))` per signer.
///
/// # Errors
/// As [`encode_commitment_list`].
pub fn binding_factors(
    vk: &ProjectivePoint,
    list: &[Commitment],
    msg: &[u8],
) -> Result<Vec<(u32, Scalar)>, Scal3Error> {
    let prefix = binding_factor_prefix(vk, list, msg)?;
    list.iter().map(|c| Ok((c.id, h1(&[&prefix, &encode_id(c.id)])?))).collect()
}

fn factor_for(factors: &[(u32, Scalar)], id: u32) -> Result<Scalar, Scal3Error> {
    factors.iter().find(|(i, _)| *i == id).map(|(_, f)| *f).ok_or(Scal3Error::Malformed("unknown signer"))
}

/// RFC 9591 `compute_group_commitment`: `Σ hiding_i + [ρ_i]binding_i`.
///
/// # Errors
/// [`Scal3Error::IdentityPoint`] if the sum is the identity.
pub fn group_commitment(list: &[Commitment], factors: &[(u32, Scalar)]) -> Result<ProjectivePoint, Scal3Error> {
    let mut r = ProjectivePoint::IDENTITY;
    for c in list {
        r += c.hiding + c.binding * factor_for(factors, c.id)?;
    }
    if bool::from(r.is_identity()) {
        return Err(Scal3Error::IdentityPoint);
    }
    Ok(r)
}

/// RFC 9591 `compute_challenge`: `H2(SerializeElement(R) ‖ SerializeElement(vk) ‖ msg)`.
///
/// # Errors
/// [`Scal3Error::IdentityPoint`] if `R` or `vk` is the identity.
pub fn challenge(r: &ProjectivePoint, vk: &ProjectivePoint, msg: &[u8]) -> Result<Scalar, Scal3Error> {
    h2(&[&encode_point(r)?, &encode_point(vk)?, msg])
}

/// RFC 9591 `derive_interpolating_value`: the Lagrange coefficient of `id` at 0 over `ids`.
///
/// # Errors
/// [`Scal3Error::Malformed`] if `id` is not in `ids`, an identifier is zero or repeated.
pub fn lagrange(id: u32, ids: &[u32]) -> Result<Scalar, Scal3Error> {
    if !ids.contains(&id) || ids.contains(&0) {
        return Err(Scal3Error::Malformed("signer set"));
    }
    let xi = Scalar::from(u64::from(id));
    let mut num = Scalar::ONE;
    let mut den = Scalar::ONE;
    let mut seen = 0usize;
    for &j in ids {
        if j == id {
            seen += 1;
            continue;
        }
        let xj = Scalar::from(u64::from(j));
        num *= xj;
        den *= xj - xi;
    }
    if seen != 1 {
        return Err(Scal3Error::Malformed("signer set"));
    }
    let inv: Option<Scalar> = den.invert().into();
    Ok(num * inv.ok_or(Scal3Error::Malformed("signer set"))?)
}

/// A signer's secret round-one nonces.
pub struct Nonces {
    /// Hiding nonce d.
    pub hiding: Zeroizing<Scalar>,
    /// Binding nonce e.
    pub binding: Zeroizing<Scalar>,
}

impl core::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Nonces(<redacted>)")
    }
}

impl Nonces {
    /// The public commitment of these nonces for signer `id`.
    pub fn commitment(&self, id: u32) -> Commitment {
        Commitment { id, hiding: base_mul(&self.hiding), binding: base_mul(&self.binding) }
    }
}

/// RFC 9591 `commit`: nonces from two 32-byte random strings hedged with the signer's share.
///
/// # Errors
/// Never in practice.
pub fn commit(hiding_random: &[u8; 32], binding_random: &[u8; 32], share: &Scalar) -> Result<Nonces, Scal3Error> {
    Ok(Nonces { hiding: nonce_generate(hiding_random, share)?, binding: nonce_generate(binding_random, share)? })
}

/// RFC 9591 `sign`: signer `id`'s share `z_i = d + e·ρ_i + λ_i·s_i·c`.
///
/// # Errors
/// As [`binding_factors`], [`group_commitment`], [`lagrange`].
pub fn sign_share(
    id: u32,
    nonces: &Nonces,
    share: &Scalar,
    vk: &ProjectivePoint,
    list: &[Commitment],
    msg: &[u8],
) -> Result<Zeroizing<Scalar>, Scal3Error> {
    let factors = binding_factors(vk, list, msg)?;
    let rho = factor_for(&factors, id)?;
    let r = group_commitment(list, &factors)?;
    let c = challenge(&r, vk, msg)?;
    let ids: Vec<u32> = list.iter().map(|x| x.id).collect();
    let lambda = lagrange(id, &ids)?;
    Ok(Zeroizing::new(*nonces.hiding + *nonces.binding * rho + lambda * *share * c))
}

/// RFC 9591 `aggregate`: `(R, Σ z_i)`.
///
/// # Errors
/// As [`binding_factors`] and [`group_commitment`].
pub fn aggregate(
    vk: &ProjectivePoint,
    list: &[Commitment],
    msg: &[u8],
    shares: &[Scalar],
) -> Result<(ProjectivePoint, Scalar), Scal3Error> {
    let factors = binding_factors(vk, list, msg)?;
    let r = group_commitment(list, &factors)?;
    Ok((r, shares.iter().sum()))
}

/// RFC 9591 signature verification (cofactor 1): `[z]G == R + [c]vk`.
///
/// # Errors
/// [`Scal3Error::JointSignature`] on mismatch.
pub fn verify(vk: &ProjectivePoint, r: &ProjectivePoint, z: &Scalar, msg: &[u8]) -> Result<(), Scal3Error> {
    let c = challenge(r, vk, msg)?;
    if base_mul(z) == *r + *vk * c { Ok(()) } else { Err(Scal3Error::JointSignature) }
}

/// Verification of the `(c, z)` form SCAL3 stores: `R = [z]G − [c]vk` must not be the identity
/// and `c == H2(R ‖ vk ‖ msg)`.
///
/// # Errors
/// [`Scal3Error::JointSignature`] on mismatch or an identity `R`.
pub fn verify_cz(vk: &ProjectivePoint, c: &Scalar, z: &Scalar, msg: &[u8]) -> Result<(), Scal3Error> {
    let r = base_mul(z) - *vk * c;
    if bool::from(r.is_identity()) {
        return Err(Scal3Error::JointSignature);
    }
    let expected = challenge(&r, vk, msg)?;
    if crate::group::scalar_eq(&expected, c) { Ok(()) } else { Err(Scal3Error::JointSignature) }
}

/// The output of the 2-of-2 dealer.
pub struct Dealt {
    /// Provider share `s1 = f(1)`.
    pub s1: Zeroizing<Scalar>,
    /// Subscriber share `s2 = f(2)`.
    pub s2: Zeroizing<Scalar>,
    /// Group key `Vk = [s]G` (VSS commitment C0).
    pub vk: ProjectivePoint,
    /// VSS commitment `C1 = [a1]G`.
    pub c1: ProjectivePoint,
}

impl core::fmt::Debug for Dealt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Dealt(<redacted>)")
    }
}

/// Trusted-dealer 2-of-2 Shamir split of `s` with `f(x) = s + a1·x`.
///
/// # Errors
/// [`Scal3Error::InvalidScalar`] if `s` or `a1` is zero (a zero `a1` would make both shares equal
/// the group secret).
pub fn deal_2_of_2(s: &Scalar, a1: &Scalar) -> Result<Dealt, Scal3Error> {
    if bool::from(s.is_zero()) || bool::from(a1.is_zero()) {
        return Err(Scal3Error::InvalidScalar);
    }
    Ok(Dealt { s1: Zeroizing::new(*s + a1), s2: Zeroizing::new(*s + a1.double()), vk: base_mul(s), c1: base_mul(a1) })
}
