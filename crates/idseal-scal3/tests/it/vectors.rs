//! Known-answer tests: RFC 9380 K.1, RFC 9591 E.5, RFC 9180 A.3.1.

use idseal_scal3::frost::{self, Commitment};
use idseal_scal3::group::{decode_point, decode_scalar, encode_point, encode_scalar, expand_message_xmd};
use idseal_scal3::hpke::{self, KemSecretKey};

use crate::{arr, data, to_hex, unhex};

#[test]
fn rfc9380_expand_message_xmd_sha256() {
    let v = data("rfc9380-k1.json");
    let dst = v["dst"].as_str().unwrap().as_bytes();
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 6);
    for t in vectors {
        let msg = t["msg"].as_str().unwrap().as_bytes();
        let len = t["len_in_bytes"].as_u64().unwrap() as usize;
        let out = expand_message_xmd(&[msg], dst, len).unwrap();
        assert_eq!(to_hex(&out), t["uniform_bytes"].as_str().unwrap(), "msg {:?} len {len}", t["msg"]);
        // Splitting the message into parts changes nothing.
        if msg.len() > 1 {
            let (a, b) = msg.split_at(1);
            assert_eq!(*expand_message_xmd(&[a, b], dst, len).unwrap(), *out);
        }
    }
    assert!(expand_message_xmd(&[b"x"], b"", 32).is_err(), "empty DST");
    assert!(expand_message_xmd(&[b"x"], dst, 8161).is_err(), "ell > 255");
}

fn scalar(s: &serde_json::Value) -> p256::Scalar {
    decode_scalar(&unhex(s.as_str().unwrap())).unwrap()
}

fn point(s: &serde_json::Value) -> p256::ProjectivePoint {
    decode_point(&unhex(s.as_str().unwrap())).unwrap()
}

#[test]
fn rfc9591_frost_p256_sha256() {
    let v = data("rfc9591-frost-p256.json");
    let inputs = &v["inputs"];
    let secret = scalar(&inputs["group_secret_key"]);
    let vk = point(&inputs["group_public_key"]);
    assert_eq!(idseal_scal3::group::base_mul(&secret), vk);
    let msg = unhex(inputs["message"].as_str().unwrap());
    let a1 = scalar(&inputs["share_polynomial_coefficients"][0]);
    // Shares are f(i) = s + a1·i.
    let shares: Vec<(u32, p256::Scalar)> = inputs["participant_shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["identifier"].as_u64().unwrap() as u32, scalar(&s["participant_share"])))
        .collect();
    for (id, share) in &shares {
        assert_eq!(*share, secret + a1 * p256::Scalar::from(u64::from(*id)), "share {id}");
    }
    let share_of = |id: u32| shares.iter().find(|(i, _)| *i == id).unwrap().1;

    let round1 = v["round_one_outputs"]["outputs"].as_array().unwrap();
    let mut nonces = Vec::new();
    let mut list = Vec::new();
    for o in round1 {
        let id = o["identifier"].as_u64().unwrap() as u32;
        let n = frost::commit(
            &arr(o["hiding_nonce_randomness"].as_str().unwrap()),
            &arr(o["binding_nonce_randomness"].as_str().unwrap()),
            &share_of(id),
        )
        .unwrap();
        assert_eq!(to_hex(&encode_scalar(&n.hiding)), o["hiding_nonce"].as_str().unwrap());
        assert_eq!(to_hex(&encode_scalar(&n.binding)), o["binding_nonce"].as_str().unwrap());
        let c = n.commitment(id);
        assert_eq!(to_hex(&encode_point(&c.hiding).unwrap()), o["hiding_nonce_commitment"].as_str().unwrap());
        assert_eq!(to_hex(&encode_point(&c.binding).unwrap()), o["binding_nonce_commitment"].as_str().unwrap());
        list.push(c);
        nonces.push((id, n));
    }
    let prefix = frost::binding_factor_prefix(&vk, &list, &msg).unwrap();
    let factors = frost::binding_factors(&vk, &list, &msg).unwrap();
    for o in round1 {
        let id = o["identifier"].as_u64().unwrap() as u32;
        let input = [prefix.clone(), frost::encode_id(id).to_vec()].concat();
        assert_eq!(to_hex(&input), o["binding_factor_input"].as_str().unwrap());
        let f = factors.iter().find(|(i, _)| *i == id).unwrap().1;
        assert_eq!(to_hex(&encode_scalar(&f)), o["binding_factor"].as_str().unwrap());
    }
    let round2 = v["round_two_outputs"]["outputs"].as_array().unwrap();
    let mut zs = Vec::new();
    for (o, (id, n)) in round2.iter().zip(&nonces) {
        assert_eq!(o["identifier"].as_u64().unwrap() as u32, *id);
        let z = frost::sign_share(*id, n, &share_of(*id), &vk, &list, &msg).unwrap();
        assert_eq!(to_hex(&encode_scalar(&z)), o["sig_share"].as_str().unwrap(), "share of {id}");
        zs.push(*z);
    }
    let (r, z) = frost::aggregate(&vk, &list, &msg, &zs).unwrap();
    let sig = [encode_point(&r).unwrap().to_vec(), encode_scalar(&z).to_vec()].concat();
    assert_eq!(to_hex(&sig), v["final_output"]["sig"].as_str().unwrap());
    frost::verify(&vk, &r, &z, &msg).unwrap();
    let c = frost::challenge(&r, &vk, &msg).unwrap();
    frost::verify_cz(&vk, &c, &z, &msg).unwrap();
    assert!(frost::verify(&vk, &r, &z, b"tesu").is_err());
    assert!(frost::verify_cz(&vk, &c, &(z + p256::Scalar::ONE), &msg).is_err());
    // Commitment lists must be sorted.
    let swapped: Vec<Commitment> = list.iter().rev().copied().collect();
    assert!(frost::binding_factors(&vk, &swapped, &msg).is_err());
}

#[test]
fn lagrange_for_scal3_roles() {
    use p256::Scalar;
    assert_eq!(frost::lagrange(1, &[1, 2]).unwrap(), Scalar::from(2u64));
    assert_eq!(frost::lagrange(2, &[1, 2]).unwrap(), -Scalar::ONE);
    assert!(frost::lagrange(3, &[1, 2]).is_err());
    assert!(frost::lagrange(1, &[1, 1, 2]).is_err());
    let s = Scalar::from(7u64);
    let a1 = Scalar::from(11u64);
    let d = frost::deal_2_of_2(&s, &a1).unwrap();
    assert_eq!(Scalar::from(2u64) * *d.s1 - *d.s2, s);
    assert_eq!(idseal_scal3::group::base_mul(&d.s1), d.vk + d.c1);
    assert!(frost::deal_2_of_2(&s, &Scalar::ZERO).is_err());
}

#[test]
fn rfc9180_a3_base_p256_aes128gcm() {
    let v = data("rfc9180-a3.json");
    let h = |k: &str| unhex(v[k].as_str().unwrap());
    let sk_e = KemSecretKey::derive(&h("ikmE")).unwrap();
    assert_eq!(sk_e.to_bytes().to_vec(), h("skEm"));
    assert_eq!(sk_e.public_key().unwrap().to_vec(), h("pkEm"));
    let sk_r = KemSecretKey::derive(&h("ikmR")).unwrap();
    assert_eq!(sk_r.to_bytes().to_vec(), h("skRm"));
    let pk_r: [u8; 65] = h("pkRm").try_into().unwrap();
    assert_eq!(sk_r.public_key().unwrap(), pk_r);
    let (ss, enc) = hpke::encap(&pk_r, &sk_e).unwrap();
    assert_eq!(enc.to_vec(), h("enc"));
    assert_eq!(ss.to_vec(), h("shared_secret"));
    assert_eq!(hpke::decap(&enc, &sk_r).unwrap().to_vec(), h("shared_secret"));
    let ks = hpke::key_schedule(&ss, &h("info")).unwrap();
    assert_eq!(ks.key.to_vec(), h("key"));
    assert_eq!(ks.base_nonce.to_vec(), h("base_nonce"));
    assert_eq!(ks.exporter_secret.to_vec(), h("exporter_secret"));
    let e = &v["encryptions"][0];
    let eh = |k: &str| unhex(e[k].as_str().unwrap());
    let ikm_e: [u8; 32] = h("ikmE").try_into().unwrap();
    let (enc2, ct) = hpke::seal(&pk_r, &h("info"), &eh("aad"), &eh("pt"), &ikm_e).unwrap();
    assert_eq!(enc2, enc);
    assert_eq!(ct, eh("ct"));
    assert_eq!(hpke::open(&sk_r, &enc, &h("info"), &eh("aad"), &ct).unwrap().to_vec(), eh("pt"));
    // Wrong AAD, flipped ciphertext, other enc, other info: all refused.
    assert_eq!(hpke::open(&sk_r, &enc, &h("info"), b"Count-1", &ct).unwrap_err(), idseal_scal3::Scal3Error::Decryption);
    let mut bad = ct.clone();
    bad[3] ^= 1;
    assert!(hpke::open(&sk_r, &enc, &h("info"), &eh("aad"), &bad).is_err());
    assert!(hpke::open(&sk_r, &pk_r, &h("info"), &eh("aad"), &ct).is_err());
    assert!(hpke::open(&sk_r, &enc, b"", &eh("aad"), &ct).is_err());
    let mut off_curve = enc;
    off_curve[64] ^= 1;
    assert_eq!(
        hpke::open(&sk_r, &off_curve, &h("info"), &eh("aad"), &ct).unwrap_err(),
        idseal_scal3::Scal3Error::InvalidPoint
    );
}
