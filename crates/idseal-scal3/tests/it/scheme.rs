//! The SCAL3 v1 flow end to end, and every bad path the issue lists.

use std::collections::HashSet;

use idseal_scal3::{
    Challenge, ChallengeId, Credential, Pass, RECORD_LEN, Record, Scal3Error, authenticate, verify_record,
};

use crate::{Device, World, sha256, world};

/// A ledger that remembers used ids, as the server's table would.
#[derive(Default)]
struct Ledger(HashSet<ChallengeId>);

impl idseal_scal3::ChallengeLedger for Ledger {
    fn consume(&mut self, id: &ChallengeId) -> bool {
        self.0.insert(*id)
    }
}

fn challenge(w: &World, id: u8, hash: &[u8; 32]) -> Challenge {
    w.provider.challenge(&w.credential, ChallengeId([id; 32]), hash).unwrap()
}

/// Subscriber side: authenticate with `pin`, the device signs, pass.
fn pass(w: &World, ch: &Challenge, hash: &[u8; 32], pin: &[u8; 32], rnd: u8) -> Pass {
    let auth = authenticate(&w.credential, &w.provider_pk, pin, ch, hash, &[rnd; 32]).unwrap();
    let sig = w.device.sign(&auth.device_message());
    auth.pass(&sig).unwrap()
}

fn prove(w: &World, id: u8, hash: &[u8; 32], p: &Pass, ledger: &mut Ledger) -> Result<Record, Scal3Error> {
    w.provider.prove(&w.credential, &ChallengeId([id; 32]), hash, p, ledger)
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

#[test]
fn round_trip_and_encodings() {
    let w = world(1);
    let hash = sha256(b"{\"op\":\"pay\",\"amount\":\"10.00 EUR\"}");
    let ch = challenge(&w, 7, &hash);
    assert_eq!(Challenge::from_bytes(&ch.to_bytes().unwrap()).unwrap(), ch);
    let p = pass(&w, &ch, &hash, &w.pin, 3);
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), idseal_scal3::PASS_LEN);
    assert_eq!(Pass::from_bytes(&bytes).unwrap(), p);
    let mut ledger = Ledger::default();
    let record = prove(&w, 7, &hash, &p, &mut ledger).unwrap();
    let rb = record.to_bytes();
    assert_eq!(rb.len(), RECORD_LEN);
    assert_eq!(rb[0], 1);
    assert_eq!(Record::from_bytes(&rb).unwrap(), record);
    w.credential.verify_record(&rb, &hash).unwrap();
    verify_record(&w.credential.verifying_key(), &w.credential.device_public_key(), &rb, &hash).unwrap();
    let cb = w.credential.to_bytes();
    assert_eq!(cb.len(), idseal_scal3::CREDENTIAL_LEN);
    assert_eq!(Credential::from_bytes(&cb).unwrap(), w.credential);
    // Debug output never shows secrets.
    assert_eq!(format!("{:?}", w.provider), "ProviderSecrets(<redacted>)");
    let auth = authenticate(&w.credential, &w.provider_pk, &w.pin, &ch, &hash, &[9; 32]).unwrap();
    assert_eq!(format!("{auth:?}"), "Authentication(<redacted>)");
}

#[test]
fn wrong_pin_is_the_pin_error_and_gives_no_record() {
    let w = world(2);
    let hash = sha256(b"instruction");
    let ch = challenge(&w, 1, &hash);
    let wrong = sha256(b"pin 0000");
    let p = pass(&w, &ch, &hash, &wrong, 4);
    let mut ledger = Ledger::default();
    let err = prove(&w, 1, &hash, &p, &mut ledger).unwrap_err();
    assert_eq!(err, Scal3Error::PinMismatch);
    assert!(err.counts_as_pin_attempt());
    assert!(ledger.0.contains(&ChallengeId([1; 32])), "a failed attempt still uses up the challenge");
    // The right PIN on a fresh challenge works.
    let ch2 = challenge(&w, 2, &hash);
    let p2 = pass(&w, &ch2, &hash, &w.pin, 5);
    prove(&w, 2, &hash, &p2, &mut ledger).unwrap();
}

#[test]
fn wrong_pin_with_bad_device_signature_is_not_a_pin_attempt() {
    let w = world(3);
    let other = Device::new();
    let hash = sha256(b"instruction");
    let ch = challenge(&w, 1, &hash);
    let auth = authenticate(&w.credential, &w.provider_pk, &sha256(b"wrong"), &ch, &hash, &[1; 32]).unwrap();
    let msg = auth.device_message();
    // The subscriber library refuses a signature from another device...
    assert_eq!(auth.pass(&other.sign(&msg)).unwrap_err(), Scal3Error::DeviceSignature);
    // ...and so does the provider when a pass carries one.
    let good = pass(&w, &ch, &hash, &sha256(b"wrong"), 1);
    let mut b = good.to_bytes();
    b[100..164].copy_from_slice(&other.sign(&msg));
    let forged = Pass::from_bytes(&b).unwrap();
    let mut ledger = Ledger::default();
    let err = prove(&w, 1, &hash, &forged, &mut ledger).unwrap_err();
    assert!(matches!(err, Scal3Error::BindingSignature | Scal3Error::DeviceSignature), "{err:?}");
    assert!(!err.counts_as_pin_attempt());
    assert!(ledger.0.is_empty(), "a pass without the device's signature does not burn the challenge");
}

#[test]
fn reused_challenge_is_refused_before_the_provider_share_is_used() {
    let w = world(4);
    let hash = sha256(b"instruction one");
    let ch = challenge(&w, 9, &hash);
    let mut ledger = Ledger::default();
    let p1 = pass(&w, &ch, &hash, &w.pin, 1);
    prove(&w, 9, &hash, &p1, &mut ledger).unwrap();
    // A second, valid pass on the same challenge: refused, no record, so no second z1.
    let p2 = pass(&w, &ch, &hash, &w.pin, 2);
    assert_eq!(prove(&w, 9, &hash, &p2, &mut ledger).unwrap_err(), Scal3Error::ChallengeReused);
    // A closure ledger that says "used" also refuses.
    let mut used = |_: &ChallengeId| false;
    let ch3 = challenge(&w, 10, &hash);
    let p3 = pass(&w, &ch3, &hash, &w.pin, 3);
    assert_eq!(
        w.provider.prove(&w.credential, &ChallengeId([10; 32]), &hash, &p3, &mut used).unwrap_err(),
        Scal3Error::ChallengeReused
    );
    // The challenge is bound to its instruction: proving the pass for another instruction
    // re-derives other nonces, so c differs and the device signature fails first.
    let other_hash = sha256(b"instruction two");
    let ch4 = challenge(&w, 11, &hash);
    let p4 = pass(&w, &ch4, &hash, &w.pin, 4);
    assert_eq!(prove(&w, 11, &other_hash, &p4, &mut ledger).unwrap_err(), Scal3Error::DeviceSignature);
    // Same for another challenge id.
    assert_eq!(prove(&w, 12, &hash, &p4, &mut ledger).unwrap_err(), Scal3Error::DeviceSignature);
}

#[test]
fn tampered_sealed_share_or_encapsulation() {
    let w = world(5);
    let cb = w.credential.to_bytes();
    // Layout: version 0, blinded 1..33, vk 33..66, device 66..99, enc 99..164, sealed 164..245.
    for at in [170, 200, 244] {
        let bad = Credential::from_bytes(&flip(&cb, at)).unwrap();
        assert_eq!(w.provider.accept(&bad).unwrap_err(), Scal3Error::SealedShare, "byte {at}");
    }
    // The AAD binds blinded share, Vk and the device key.
    for at in [5, 40, 70] {
        match Credential::from_bytes(&flip(&cb, at)) {
            Ok(bad) => assert_eq!(w.provider.accept(&bad).unwrap_err(), Scal3Error::SealedShare, "byte {at}"),
            Err(e) => assert!(matches!(e, Scal3Error::InvalidPoint | Scal3Error::InvalidScalar), "{e:?}"),
        }
    }
    // Another (valid) encapsulation point.
    let mut other_enc = cb.clone();
    other_enc[99..164].copy_from_slice(&w.provider_pk);
    let bad = Credential::from_bytes(&other_enc).unwrap();
    assert_eq!(w.provider.accept(&bad).unwrap_err(), Scal3Error::SealedShare);
    // A point off the curve.
    assert_eq!(Credential::from_bytes(&flip(&cb, 163)).unwrap_err(), Scal3Error::InvalidPoint);
    // Another provider cannot open it.
    let other = world(6);
    assert_eq!(other.provider.accept(&w.credential).unwrap_err(), Scal3Error::SealedShare);
    // Truncated and mis-versioned credentials.
    assert!(matches!(Credential::from_bytes(&cb[..244]), Err(Scal3Error::Malformed(_))));
    assert!(matches!(Credential::from_bytes(&flip(&cb, 0)), Err(Scal3Error::Malformed(_))));
}

#[test]
fn tampered_pass_fields() {
    let w = world(7);
    let hash = sha256(b"instruction");
    let ch = challenge(&w, 1, &hash);
    let good = pass(&w, &ch, &hash, &w.pin, 1).to_bytes();
    let mut ledger = Ledger::default();
    // Layout: v 0, D2 1..34, E2 34..67, D_B 67..100, dev 100..164, bind 164..228,
    // enc_s 228..293, sealed_z2 293..325, tag 325..341.
    let other_point = Device::new().public_key();
    let mut other_enc = good.clone();
    other_enc[228..293].copy_from_slice(&w.provider_pk);
    let cases: Vec<(&str, Vec<u8>, Scal3Error)> = vec![
        ("tampered enc_s", other_enc, Scal3Error::DeviceSignature),
        ("tampered z2", flip(&good, 300), Scal3Error::SealedZ2),
        ("tampered tag", flip(&good, 330), Scal3Error::DeviceSignature),
        ("tampered binding sig", flip(&good, 170), Scal3Error::BindingSignature),
        ("tampered device sig", flip(&good, 110), Scal3Error::BindingSignature),
        ("other D2", [&good[..1], &other_point, &good[34..]].concat(), Scal3Error::DeviceSignature),
        ("other D_B", [&good[..67], &other_point, &good[100..]].concat(), Scal3Error::BindingSignature),
    ];
    for (name, bytes, want) in cases {
        let p = Pass::from_bytes(&bytes).unwrap();
        let err = prove(&w, 1, &hash, &p, &mut ledger).unwrap_err();
        assert_eq!(err, want, "{name}");
        assert!(!err.counts_as_pin_attempt(), "{name}");
    }
    // Only "tampered z2" got past the device check, so only it consumed the challenge.
    assert_eq!(ledger.0.len(), 1);
    assert!(matches!(Pass::from_bytes(&good[..340]), Err(Scal3Error::Malformed(_))));
    assert_eq!(Pass::from_bytes(&flip(&good, 33)).unwrap_err(), Scal3Error::InvalidPoint);
    let mut identity = good.clone();
    identity[1] = 0;
    assert_eq!(Pass::from_bytes(&identity).unwrap_err(), Scal3Error::IdentityPoint);
}

#[test]
fn record_checks() {
    let w = world(8);
    let hash = sha256(b"instruction");
    let ch = challenge(&w, 1, &hash);
    let p = pass(&w, &ch, &hash, &w.pin, 1);
    let rec = prove(&w, 1, &hash, &p, &mut Ledger::default()).unwrap().to_bytes();
    let vk = w.credential.verifying_key();
    let dev = w.credential.device_public_key();
    verify_record(&vk, &dev, &rec, &hash).unwrap();
    // Replayed for another instruction.
    assert_eq!(verify_record(&vk, &dev, &rec, &sha256(b"other")).unwrap_err(), Scal3Error::JointSignature);
    // Under another device or another joint key.
    let other = world(9);
    assert_eq!(
        verify_record(&vk, &other.credential.device_public_key(), &rec, &hash).unwrap_err(),
        Scal3Error::DeviceSignature
    );
    assert_eq!(
        verify_record(&other.credential.verifying_key(), &dev, &rec, &hash).unwrap_err(),
        Scal3Error::JointSignature
    );
    // Layout: v 0, c 1..33, z 33..65, D_B 65..98, tag 98..114, enc_hash 114..146,
    // dev 146..210, bind 210..274.
    assert_eq!(verify_record(&vk, &dev, &flip(&rec, 40), &hash).unwrap_err(), Scal3Error::JointSignature);
    assert_eq!(verify_record(&vk, &dev, &flip(&rec, 5), &hash).unwrap_err(), Scal3Error::DeviceSignature);
    assert_eq!(verify_record(&vk, &dev, &flip(&rec, 100), &hash).unwrap_err(), Scal3Error::DeviceSignature);
    assert_eq!(verify_record(&vk, &dev, &flip(&rec, 120), &hash).unwrap_err(), Scal3Error::DeviceSignature);
    assert_eq!(verify_record(&vk, &dev, &flip(&rec, 150), &hash).unwrap_err(), Scal3Error::BindingSignature);
    assert_eq!(verify_record(&vk, &dev, &flip(&rec, 250), &hash).unwrap_err(), Scal3Error::BindingSignature);
    // Truncated, extended, mis-versioned.
    for len in [0, 1, 100, 273] {
        assert!(matches!(verify_record(&vk, &dev, &rec[..len], &hash), Err(Scal3Error::Malformed(_))), "{len}");
    }
    assert!(matches!(verify_record(&vk, &dev, &[&rec[..], &[0]].concat(), &hash), Err(Scal3Error::Malformed(_))));
    assert!(matches!(verify_record(&vk, &dev, &flip(&rec, 0), &hash), Err(Scal3Error::Malformed(_))));
    // Scalars >= n: n itself for z, all-ones for c.
    let n = crate::unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut z_n = rec.clone();
    z_n[33..65].copy_from_slice(&n);
    assert_eq!(verify_record(&vk, &dev, &z_n, &hash).unwrap_err(), Scal3Error::InvalidScalar);
    let mut c_max = rec.clone();
    c_max[1..33].copy_from_slice(&[0xff; 32]);
    assert_eq!(verify_record(&vk, &dev, &c_max, &hash).unwrap_err(), Scal3Error::InvalidScalar);
    // Identity / invalid points for D_B and for the keys.
    let mut id_db = rec.clone();
    id_db[65] = 0;
    assert_eq!(verify_record(&vk, &dev, &id_db, &hash).unwrap_err(), Scal3Error::IdentityPoint);
    let mut off = rec.clone();
    off[66..98].copy_from_slice(&[0xff; 32]);
    assert_eq!(verify_record(&vk, &dev, &off, &hash).unwrap_err(), Scal3Error::InvalidPoint);
    let mut vk_id = [0u8; 33];
    assert_eq!(verify_record(&vk_id, &dev, &rec, &hash).unwrap_err(), Scal3Error::IdentityPoint);
    vk_id[0] = 5;
    assert_eq!(verify_record(&vk_id, &dev, &rec, &hash).unwrap_err(), Scal3Error::InvalidPoint);
    // z = c = 0 would make R = identity: refused, never "verified".
    let mut zero = rec.clone();
    zero[1..65].copy_from_slice(&[0; 64]);
    assert!(verify_record(&vk, &dev, &zero, &hash).is_err());
}
