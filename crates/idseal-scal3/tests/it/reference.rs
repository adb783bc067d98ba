//! The reference scheme's v0.2+ transcript (authenticator = c ‖ tag, proof = device sig,
//! client = D_B ‖ binding sig ‖ z), produced here with our own FROST code.

use idseal_scal3::frost::{self, PROVIDER_ID, SUBSCRIBER_ID};
use idseal_scal3::group::{encode_scalar, hash_to_scalar};
use idseal_scal3::{Scal3Error, verify_reference_transcript};

use crate::{Device, sha256};

pub struct Transcript {
    pub vk: [u8; 33],
    pub device_pk: [u8; 33],
    pub authenticator: [u8; 48],
    pub proof: [u8; 64],
    pub client: [u8; 129],
    pub hash: [u8; 32],
}

/// Builds a transcript the way the reference's v0.2+ flow does.
pub fn reference_transcript(seed: u8) -> Transcript {
    let s = hash_to_scalar(&[&[seed]], b"test-secret").unwrap();
    let a1 = hash_to_scalar(&[&[seed]], b"test-a1").unwrap();
    let dealt = frost::deal_2_of_2(&s, &a1).unwrap();
    let device = Device::new();
    let binding = Device::new();
    let d_b = binding.public_key();
    let hash = sha256(format!("{{\"operation\":\"log-in\",\"n\":{seed}}}").as_bytes());
    let msg = [&d_b[..], &hash].concat();
    let n1 = frost::commit(&[1; 32], &[2; 32], &dealt.s1).unwrap();
    let n2 = frost::commit(&[3; 32], &[4; 32], &dealt.s2).unwrap();
    let list = [n1.commitment(PROVIDER_ID), n2.commitment(SUBSCRIBER_ID)];
    let z1 = frost::sign_share(PROVIDER_ID, &n1, &dealt.s1, &dealt.vk, &list, &msg).unwrap();
    let z2 = frost::sign_share(SUBSCRIBER_ID, &n2, &dealt.s2, &dealt.vk, &list, &msg).unwrap();
    let (r, z) = frost::aggregate(&dealt.vk, &list, &msg, &[*z1, *z2]).unwrap();
    let c = frost::challenge(&r, &dealt.vk, &msg).unwrap();
    let tag = [0x5a; 16];
    let authenticator: [u8; 48] = [&encode_scalar(&c)[..], &tag].concat().try_into().unwrap();
    let proof = device.sign(&authenticator);
    let binding_sig = binding.sign(&proof);
    let client: [u8; 129] = [&d_b[..], &binding_sig, &encode_scalar(&z)].concat().try_into().unwrap();
    Transcript {
        vk: idseal_scal3::group::encode_point(&dealt.vk).unwrap(),
        device_pk: device.public_key(),
        authenticator,
        proof,
        client,
        hash,
    }
}

#[test]
fn reference_transcript_verifies_and_tampering_fails() {
    let t = reference_transcript(1);
    let v = |t: &Transcript| {
        verify_reference_transcript(&t.vk, &t.device_pk, &t.authenticator, &t.proof, &t.client, &t.hash)
    };
    v(&t).unwrap();
    let mut bad = reference_transcript(2);
    bad.hash = sha256(b"another instruction");
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::JointSignature);
    let mut bad = reference_transcript(3);
    bad.authenticator[40] ^= 1;
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::DeviceSignature);
    let mut bad = reference_transcript(4);
    bad.proof[0] ^= 1;
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::BindingSignature);
    let mut bad = reference_transcript(5);
    bad.client[128] ^= 1;
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::JointSignature);
    let mut bad = reference_transcript(6);
    bad.client[97..129].copy_from_slice(&[0xff; 32]);
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::InvalidScalar);
    let mut bad = reference_transcript(7);
    bad.device_pk = Device::new().public_key();
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::DeviceSignature);
    let mut bad = reference_transcript(8);
    bad.client[0] = 0;
    assert_eq!(v(&bad).unwrap_err(), Scal3Error::IdentityPoint);
}
