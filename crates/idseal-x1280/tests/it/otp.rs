//! The autoPassword depends on every input and always has 6 digits.

use idseal_x1280::{OtpSecret, auto_password};
use proptest::prelude::*;

const TOKEN: &str = "6f1c8c4e-2b7a-4d1e-9a43-0c2f6b8d9e10";
const SESSION: &str = "sess_0123456789abcdef0123456789abcdef";

fn otp(secret: [u8; 32], token: &str, session: &str) -> String {
    auto_password(&OtpSecret::from_bytes(secret), token, session).unwrap().as_str().to_owned()
}

#[test]
fn depends_on_every_secret_byte() {
    let base_secret = [0x5c; 32];
    let base = otp(base_secret, TOKEN, SESSION);
    for i in 0..32 {
        let mut s = base_secret;
        s[i] ^= 0x01;
        assert_ne!(otp(s, TOKEN, SESSION), base, "flipping secret byte {i}");
    }
}

#[test]
fn depends_on_token_and_session() {
    let base = otp([1; 32], TOKEN, SESSION);
    for i in 0..TOKEN.len() {
        let mut t = TOKEN.as_bytes().to_vec();
        t[i] = if t[i] == b'0' { b'1' } else { b'0' };
        assert_ne!(otp([1; 32], std::str::from_utf8(&t).unwrap(), SESSION), base, "token byte {i}");
    }
    for i in 0..SESSION.len() {
        let mut s = SESSION.as_bytes().to_vec();
        s[i] = if s[i] == b'0' { b'1' } else { b'0' };
        assert_ne!(otp([1; 32], TOKEN, std::str::from_utf8(&s).unwrap()), base, "session byte {i}");
    }
    // The identifiers are length-prefixed: moving the boundary changes the code.
    assert_ne!(otp([1; 32], "ab", "c"), otp([1; 32], "a", "bc"));
    // Swapping them changes it too.
    assert_ne!(otp([1; 32], TOKEN, SESSION), otp([1; 32], SESSION, TOKEN));
}

#[test]
fn deterministic() {
    assert_eq!(otp([9; 32], TOKEN, SESSION), otp([9; 32], TOKEN, SESSION));
}

proptest! {
    #[test]
    fn always_six_ascii_digits(secret in any::<[u8; 32]>(), token in ".{0,80}", session in ".{0,80}") {
        let code = auto_password(&OtpSecret::from_bytes(secret), &token, &session).unwrap();
        prop_assert_eq!(code.as_str().len(), 6);
        prop_assert!(code.as_str().bytes().all(|c| c.is_ascii_digit()));
        prop_assert!(code.ct_eq(code.as_str()));
    }
}
