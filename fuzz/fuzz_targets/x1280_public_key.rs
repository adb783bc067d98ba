//! Fuzz target of the device public-key reader of passwordless login (docs/passwordless.md,
//! "Enrollment"): `POST /enroll` hands untrusted PEM to [`DevicePublicKey::from_pem`], and the
//! SubjectPublicKeyInfo inside goes through our own strict DER reader.
//!
//! Every input is read as PEM text (lossy UTF-8) and as raw DER. Nothing may panic; a key that
//! is accepted must survive its own round trip (`to_pem` / `spki_der` read back to the same
//! key and thumbprint), and verifying a junk signature with it must return an error, not panic.

#![no_main]

use idseal_x1280::DevicePublicKey;
use libfuzzer_sys::fuzz_target;

fn check(key: &DevicePublicKey) {
    let again = DevicePublicKey::from_pem(&key.to_pem()).expect("an accepted key reads back from its PEM");
    assert_eq!(again.spki_der(), key.spki_der());
    assert_eq!(again.thumbprint(), key.thumbprint());
    let der = DevicePublicKey::from_spki_der(key.spki_der()).expect("an accepted key reads back from its DER");
    assert_eq!(der.thumbprint(), key.thumbprint());
    assert!(key.verify(b"message", &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]).is_err());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = DevicePublicKey::from_pem(&String::from_utf8_lossy(data)) {
        check(&key);
    }
    if let Ok(key) = DevicePublicKey::from_spki_der(data) {
        check(&key);
    }
});
