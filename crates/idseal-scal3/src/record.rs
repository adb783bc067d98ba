//! Records and their verification: the idseal v1 record and the reference's v0.2+ transcript.

use crate::Scal3Error;
use crate::ecdsa::{self, SIG_LEN};
use crate::frost;
use crate::group::{POINT_LEN, SCALAR_LEN, decode_point, decode_scalar};
use crate::hpke::TAG_LEN;

/// Domain label in front of what the device signs in the idseal v1 format.
pub const DEVICE_LABEL: &[u8] = b"idseal-SCAL3-v1-device";
/// Length of an idseal v1 record.
pub const RECORD_LEN: usize = 1 + 2 * SCALAR_LEN + POINT_LEN + TAG_LEN + 32 + 2 * SIG_LEN;
/// Length of the reference's `authenticator` (`c ‖ tag`).
pub const REFERENCE_AUTHENTICATOR_LEN: usize = SCALAR_LEN + TAG_LEN;
/// Length of the reference's `client` (`D_B ‖ binding_sig ‖ z`).
pub const REFERENCE_CLIENT_LEN: usize = POINT_LEN + SIG_LEN + SCALAR_LEN;

/// The evidence the log stores for one instruction (idseal v1 format, 274 bytes):
/// `0x01 ‖ c(32) ‖ z(32) ‖ D_B(33) ‖ tag(16) ‖ enc_hash(32) ‖ device_sig(64) ‖ binding_sig(64)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub(crate) c: [u8; SCALAR_LEN],
    pub(crate) z: [u8; SCALAR_LEN],
    pub(crate) d_b: [u8; POINT_LEN],
    pub(crate) tag: [u8; TAG_LEN],
    pub(crate) enc_hash: [u8; 32],
    pub(crate) device_sig: [u8; SIG_LEN],
    pub(crate) binding_sig: [u8; SIG_LEN],
}

fn field<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], Scal3Error> {
    bytes.get(at..at + N).and_then(|s| s.try_into().ok()).ok_or(Scal3Error::Malformed("truncated record"))
}

impl Record {
    /// The 274-byte encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        [
            &[crate::VERSION][..],
            &self.c,
            &self.z,
            &self.d_b,
            &self.tag,
            &self.enc_hash,
            &self.device_sig,
            &self.binding_sig,
        ]
        .concat()
    }

    /// Parses the encoding (lengths and version only; [`verify_record`] checks the rest).
    ///
    /// # Errors
    /// [`Scal3Error::Malformed`] for a wrong length or version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Scal3Error> {
        if bytes.len() != RECORD_LEN {
            return Err(Scal3Error::Malformed("record length"));
        }
        if bytes.first() != Some(&crate::VERSION) {
            return Err(Scal3Error::Malformed("record version"));
        }
        Ok(Self {
            c: field(bytes, 1)?,
            z: field(bytes, 33)?,
            d_b: field(bytes, 65)?,
            tag: field(bytes, 98)?,
            enc_hash: field(bytes, 114)?,
            device_sig: field(bytes, 146)?,
            binding_sig: field(bytes, 210)?,
        })
    }

    /// The joint Schnorr signature as stored, `c ‖ z`.
    pub fn joint_signature(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let (c, z) = out.split_at_mut(SCALAR_LEN);
        c.copy_from_slice(&self.c);
        z.copy_from_slice(&self.z);
        out
    }
}

/// The common checks of both formats: binding signature over the raw device signature,
/// device signature over `device_msg`, joint Schnorr signature `(c, z)` over
/// `M = D_B ‖ client_data_hash` under `vk`.
#[allow(clippy::too_many_arguments)]
fn verify_parts(
    vk: &[u8; POINT_LEN],
    device_pk: &[u8; POINT_LEN],
    c: &[u8; SCALAR_LEN],
    z: &[u8; SCALAR_LEN],
    d_b: &[u8; POINT_LEN],
    device_msg: &[u8],
    device_sig: &[u8; SIG_LEN],
    binding_sig: &[u8; SIG_LEN],
    client_data_hash: &[u8; 32],
) -> Result<(), Scal3Error> {
    let vk_point = decode_point(vk)?;
    decode_point(device_pk)?;
    decode_point(d_b)?;
    let c = decode_scalar(c)?;
    let z = decode_scalar(z)?;
    if !ecdsa::verify(d_b, device_sig, binding_sig) {
        return Err(Scal3Error::BindingSignature);
    }
    if !ecdsa::verify(device_pk, device_msg, device_sig) {
        return Err(Scal3Error::DeviceSignature);
    }
    let msg = [&d_b[..], client_data_hash].concat();
    frost::verify_cz(&vk_point, &c, &z, &msg)
}

/// Verifies an idseal v1 record for the instruction whose canonical bytes hash (SHA-256) to
/// `client_data_hash`, under the joint key `vk` and the device key `device_pk` (both SEC1
/// compressed, from the credential).
///
/// # Errors
/// [`Scal3Error::Malformed`] for a truncated or mis-versioned record, point and scalar errors
/// for bad encodings, then [`Scal3Error::BindingSignature`], [`Scal3Error::DeviceSignature`] or
/// [`Scal3Error::JointSignature`] for the first check that fails.
pub fn verify_record(
    vk: &[u8; POINT_LEN],
    device_pk: &[u8; POINT_LEN],
    record: &[u8],
    client_data_hash: &[u8; 32],
) -> Result<(), Scal3Error> {
    let r = Record::from_bytes(record)?;
    let device_msg = [DEVICE_LABEL, &r.c, &r.tag, &r.enc_hash].concat();
    verify_parts(vk, device_pk, &r.c, &r.z, &r.d_b, &device_msg, &r.device_sig, &r.binding_sig, client_data_hash)
}

/// Verifies a transcript of the reference scheme (cleverbase/scal3 v0.2.0 to v0.4.1):
/// `authenticator = c ‖ tag` (signed as such by the device), `proof` = the device signature
/// `r ‖ s`, `client = D_B ‖ binding_sig ‖ z`.
///
/// # Errors
/// As [`verify_record`].
pub fn verify_reference_transcript(
    vk: &[u8; POINT_LEN],
    device_pk: &[u8; POINT_LEN],
    authenticator: &[u8; REFERENCE_AUTHENTICATOR_LEN],
    proof: &[u8; SIG_LEN],
    client: &[u8; REFERENCE_CLIENT_LEN],
    client_data_hash: &[u8; 32],
) -> Result<(), Scal3Error> {
    let c: [u8; SCALAR_LEN] = field(authenticator, 0)?;
    let d_b: [u8; POINT_LEN] = field(client, 0)?;
    let binding_sig: [u8; SIG_LEN] = field(client, POINT_LEN)?;
    let z: [u8; SCALAR_LEN] = field(client, POINT_LEN + SIG_LEN)?;
    verify_parts(vk, device_pk, &c, &z, &d_b, authenticator, proof, &binding_sig, client_data_hash)
}
