//! Service seals (manifest 0A0002): round trip, golden bytes, issuing and verifying against a
//! certificate, and the bad-input matrix of the service payload.

use std::time::Duration;

use idseal_types::UnixTime;
use idseal_vds::{
    DecodedVds, ManifestId, Payload, Service, Transport, Vds, VdsError, decode, decode_binary, encode_signed, issue,
    issue_payload, verify, verify_with_certificate,
};

use crate::{ISSUED, cert_ref, hex, public_key, signer, to_hex};

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// The fixed service of the golden seal.
fn service() -> Service {
    Service {
        service_id: "bar-le-central.example".into(),
        name: "Bar Le Central".into(),
        url: "https://bar.example".into(),
        scopes: vec!["identity:name".into(), "identity:age_over_18".into()],
        expires_at: UnixTime::from_secs(ISSUED + 365 * 86_400),
    }
}

fn service_vds() -> Vds {
    Vds::service(cert_ref(), UnixTime::from_secs(ISSUED), service())
}

fn sealed() -> DecodedVds {
    encode_signed(&service_vds(), &signer()).unwrap()
}

/// The header, written by hand from docs/vds.md: marker, version, IAC `VDS` in C40, `FR050001`
/// in C40 (tests/data/README.md), manifest 0A0002, issue time 1 800 000 000, length 121.
const GOLDEN_HEADER: &str = "de03dd897b9d38e519c90a00026b49d20079";
/// The payload, written by hand (fixstr/str8 keys and values, uint32 expiry): a map of five.
const GOLDEN_PAYLOAD: &str = "85a3736964b66261722d6c652d63656e7472616c2e6578616d706c65a46e616d65ae426172204c652043656e\
                              7472616ca375726cb368747470733a2f2f6261722e6578616d706c65a3736370d9226964656e746974793a6e\
                              616d65206964656e746974793a6167655f6f7665725f3138a3657870ce6d2b0580";

fn data(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

#[test]
fn golden_service_seal() {
    let (header, payload) = service_vds().to_be_signed().unwrap();
    assert_eq!(to_hex(&header), GOLDEN_HEADER);
    assert_eq!(to_hex(&payload), GOLDEN_PAYLOAD);
    if std::env::var_os("IDSEAL_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(data("golden-service.vds.txt"), sealed().to_text(Transport::Base45) + "\n").unwrap();
    }
    let text = std::fs::read_to_string(data("golden-service.vds.txt")).unwrap();
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let d = decode(text).unwrap();
    assert_eq!(to_hex(d.header_bytes()), GOLDEN_HEADER);
    assert_eq!(to_hex(d.payload_bytes()), GOLDEN_PAYLOAD);
    assert_eq!(d.vds(), &service_vds());
    assert_eq!(d.service().unwrap(), &service());
    assert_eq!(d.manifest().unwrap().id, ManifestId::SERVICE);
    verify(&d, &public_key()).unwrap();
    assert_eq!(d.to_text(Transport::Base45), text);
}

#[test]
fn round_trip_in_every_transport() {
    let s = sealed();
    for t in Transport::ALL {
        let back = decode(&s.to_text(t)).unwrap();
        assert_eq!(back.vds(), &service_vds(), "{t:?}");
        assert_eq!(back.binary(), s.binary());
        verify(&back, &public_key()).unwrap();
    }
    let mut other = service();
    other.url = "http://localhost:3000".into();
    other.scopes = vec!["identity:dob".into()];
    other.name = "Café «Test» 東京".into();
    let v = Vds::service(cert_ref(), UnixTime::from_secs(ISSUED), other.clone());
    let back = decode_binary(&encode_signed(&v, &signer()).unwrap().binary()).unwrap();
    assert_eq!(back.payload(), &Payload::Service(other));
}

#[test]
fn accessors_name_the_manifest() {
    let s = sealed();
    assert!(s.payload().as_identity().is_none());
    assert_eq!(s.identity(), Err(VdsError::WrongManifest { expected: 0x0A_0001, found: 0x0A_0002 }));
    let i = crate::sealed();
    assert_eq!(i.service(), Err(VdsError::WrongManifest { expected: 0x0A_0002, found: 0x0A_0001 }));
    assert_eq!(i.identity().unwrap(), &crate::identity());
}

#[test]
fn a_payload_under_another_manifest_id_is_refused() {
    let mut v = service_vds();
    v.header.manifest_id = ManifestId::IDENTITY;
    assert_eq!(v.to_be_signed(), Err(VdsError::WrongManifest { expected: 0x0A_0001, found: 0x0A_0002 }));
    let mut v = crate::vds();
    v.header.manifest_id = ManifestId::SERVICE;
    assert_eq!(v.to_be_signed(), Err(VdsError::WrongManifest { expected: 0x0A_0002, found: 0x0A_0001 }));
    // a service seal whose header claims the identity manifest: the payload is read as one
    let mut b = sealed().binary();
    b[12] = 0x01;
    assert_eq!(decode_binary(&b).map(|_| ()), Err(VdsError::UnknownKey { key: "sid".into() }));
}

/// A service seal with `key` set to `value` (`None`: left out), written by hand around the
/// codec's checks and signed.
fn forged(key: &str, value: Option<&str>) -> Vec<u8> {
    forged_with(|fields| match value {
        Some(v) => fields.iter_mut().find(|(k, _)| k == key).unwrap().1 = v.to_owned(),
        None => fields.retain(|(k, _)| k != key),
    })
}

/// A service seal whose string fields (`exp` is added last) are changed by `change`, written
/// by hand and signed.
fn forged_with(change: impl FnOnce(&mut Vec<(String, String)>)) -> Vec<u8> {
    let mut fields: Vec<(String, String)> = vec![
        ("sid".into(), "bar".into()),
        ("name".into(), "Bar".into()),
        ("url".into(), "https://bar.example".into()),
        ("scp".into(), "identity:name".into()),
    ];
    change(&mut fields);
    let mut payload = vec![0x80 | u8::try_from(fields.len() + 1).unwrap()];
    let mut str_ = |s: &str| {
        assert!(s.len() < 256);
        if s.len() < 32 {
            payload.push(0xA0 | s.len() as u8);
        } else {
            payload.extend([0xD9, s.len() as u8]);
        }
        payload.extend(s.as_bytes());
    };
    for (k, v) in &fields {
        str_(k);
        str_(v);
    }
    str_("exp");
    payload.push(0xCE);
    payload.extend(u32::try_from(ISSUED + 86_400).unwrap().to_be_bytes());
    // the golden header up to the length, then the length in its minimal DER form
    let mut header = hex(GOLDEN_HEADER)[..17].to_vec();
    let len = u8::try_from(payload.len()).unwrap();
    if len >= 0x80 {
        header.push(0x81);
    }
    header.push(len);
    let signed = [header.clone(), payload.clone()].concat();
    // a valid signature over the forged content, so only the payload rules can refuse it
    let message = idseal_vds::seal::signature_message(&header, &payload);
    let sig = idseal_vds::seal::normalize_low_s(&idseal_vds::SealSigner::sign(&signer(), &message).unwrap());
    [signed, sig.to_vec()].concat()
}

#[test]
fn the_forger_builds_valid_seals() {
    let d = decode_binary(&forged("sid", Some("bar"))).unwrap();
    verify(&d, &public_key()).unwrap();
    assert_eq!(d.service().unwrap().scopes, ["identity:name"]);
}

#[test]
fn bad_service_payloads_are_refused() {
    let bad_value = |key: &str, value: &str| {
        let r = decode_binary(&forged(key, Some(value)));
        assert!(matches!(&r, Err(VdsError::BadFieldValue { key: k, .. }) if k == key), "{key}={value:?}: {r:?}");
    };
    bad_value("sid", "Bar");
    bad_value("sid", "bar le central");
    bad_value("name", "Bar\u{202e}lartneC");
    bad_value("name", "Bar\u{0}");
    bad_value("url", "https://bar.example/login");
    bad_value("url", "https://bar.example/");
    bad_value("url", "http://bar.example");
    bad_value("url", "https://user@bar.example");
    bad_value("scp", "identity:name identity:name");
    bad_value("scp", "openid");
    bad_value("scp", "identity:name,identity:dob");
    for key in ["sid", "name", "url", "scp"] {
        assert_eq!(
            decode_binary(&forged(key, None)).map(|_| ()),
            Err(VdsError::MissingField { key: key.into() }),
            "{key}"
        );
    }
    // a key outside the manifest: refused (the manifest allows no extensions)
    let renamed = forged_with(|f| f[2].0 = "logo".into());
    assert_eq!(decode_binary(&renamed).map(|_| ()), Err(VdsError::UnknownKey { key: "logo".into() }));
    let extra = forged_with(|f| f.push(("logo".into(), "x".into())));
    assert_eq!(decode_binary(&extra).map(|_| ()), Err(VdsError::TooManyFields { count: 6 }));
    // keys out of manifest order
    let swapped = forged_with(|f| f.swap(1, 2));
    assert_eq!(decode_binary(&swapped).map(|_| ()), Err(VdsError::KeyOrder { key: "name".into() }));
    let long = "a".repeat(65);
    assert_eq!(
        decode_binary(&forged("sid", Some(&long))).map(|_| ()),
        Err(VdsError::FieldTooLong { key: "sid".into(), len: 65, max: 64 })
    );
}

#[test]
fn issue_and_verify_against_a_certificate() {
    let now = UnixTime::from_secs(ISSUED);
    let (_d, _pem, cert) = crate::issuer::leaf(&[ManifestId::IDENTITY, ManifestId::SERVICE]);
    let text = issue_payload(&Payload::Service(service()), &crate::issuer::local(), &cert, now).unwrap();
    let vds = verify_with_certificate(&text, &cert, now).unwrap();
    assert_eq!(vds.header.manifest_id, ManifestId::SERVICE);
    assert_eq!(vds.payload.as_service(), Some(&service()));
    // its own expiry (one year) is checked
    let late = now.saturating_add(YEAR);
    assert_eq!(
        verify_with_certificate(&text, &cert, late),
        Err(VdsError::Expired { expired_at: service().expires_at.as_secs() })
    );
    // a certificate for identity seals only cannot issue one
    let (_d, _pem, identity_only) = crate::issuer::leaf(&[ManifestId::IDENTITY]);
    assert_eq!(
        issue_payload(&Payload::Service(service()), &crate::issuer::local(), &identity_only, now),
        Err(VdsError::ManifestNotAllowed { id: 0x0A_0002 })
    );
    assert_eq!(
        verify_with_certificate(&text, &identity_only, now),
        Err(VdsError::ManifestNotAllowed { id: 0x0A_0002 })
    );
    // the identity issuer refuses to put an identity under the service manifest
    assert_eq!(
        issue(&crate::identity(), &crate::issuer::local(), &cert, ManifestId::SERVICE, now),
        Err(VdsError::WrongManifest { expected: 0x0A_0002, found: 0x0A_0001 })
    );
}
