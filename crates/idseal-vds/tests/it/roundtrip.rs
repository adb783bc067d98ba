//! Whole-seal round trips: decode(encode(x)) == x and encode(decode(b)) == b.

use idseal_types::UnixTime;
use idseal_vds::{
    CertificateReference, FACE_LEN, Identity, Transport, TrustLevel, Vds, decode, decode_binary, encode_signed, verify,
};
use proptest::prelude::*;

use crate::{TINY_WEBP, public_key, signer};

prop_compose! {
    fn any_vds()(
        gn in "[A-Za-zÀ-ÿ]([A-Za-zÀ-ÿ' -]{0,37}[A-Za-zÀ-ÿ])?",
        family in "[A-Z][A-Z -]{0,30}[A-Z]",
        y in 1u32..=9999, m in 1u32..=12, d in 1u32..=28,
        nat in "[A-Z][A-Z<]{2}",
        doc in "[A-Z0-9]([A-Z0-9<]{0,18}[A-Z0-9])?",
        tid in any::<[u8; 16]>(),
        issued in 0u32..=u32::MAX - 1,
        validity in 1i64..=100_000_000_000,
        extra in proptest::collection::vec(any::<u8>(), 0..2016),
        face in proptest::collection::vec(any::<u8>(), FACE_LEN),
        tl in 1u64..=3,
    ) -> Vds {
        let mut photo = TINY_WEBP.to_vec();
        photo.extend_from_slice(&extra);
        let riff = u32::try_from(photo.len() - 8).unwrap().to_le_bytes();
        photo[4..8].copy_from_slice(&riff);
        let identity = Identity {
            given_name: gn,
            family_name: family,
            date_of_birth: format!("{y:04}-{m:02}-{d:02}"),
            nationality: nat,
            document_number: doc,
            token_id: tid,
            expires_at: UnixTime::from_secs(i64::from(issued) + validity),
            photo,
            face: face.try_into().unwrap(),
            trust_level: TrustLevel::from_u64(tl).unwrap(),
        };
        Vds::identity(CertificateReference::new("FR05", "0001").unwrap(), UnixTime::from_secs(i64::from(issued)), identity)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decode_of_encode_is_identity(v in any_vds(), t in prop::sample::select(Transport::ALL.to_vec())) {
        let sealed = encode_signed(&v, &signer()).unwrap();
        let text = sealed.to_text(t);
        let back = decode(&text).unwrap();
        prop_assert_eq!(back.vds(), &v);
        prop_assert_eq!(back.transport(), Some(t));
        prop_assert_eq!(back.binary(), sealed.binary());
        prop_assert!(verify(&back, &public_key()).is_ok());
    }

    #[test]
    fn encode_of_decode_is_identity(v in any_vds(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        // start from a valid seal, change one byte anywhere; whatever still decodes must
        // re-encode to exactly the same signed bytes
        let mut b = encode_signed(&v, &signer()).unwrap().binary();
        let i = pos.index(b.len());
        b[i] = byte;
        if let Ok(d) = decode_binary(&b) {
            let (h, p) = d.vds().to_be_signed().unwrap();
            prop_assert_eq!([h, p, d.signature().to_vec()].concat(), b);
        }
    }

    #[test]
    fn arbitrary_input_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600), s in "\\PC{0,200}") {
        let _ = decode_binary(&b);
        let _ = decode(&s);
        let _ = decode(&format!("VDSEUA{s}"));
        let _ = decode(&format!("VDSEUA03S{s}"));
    }
}
