//! The verify-step matrix of `check_response`.

use idseal_types::UnixTime;
use idseal_x1280::{
    AutoPassword, Decision, DeviceKey, DeviceResponse, OtpSecret, PendingSession, ScopeSet, X1280Error,
    approve_message, auto_password, check_response, reject_message,
};

use crate::scopes;

const START: i64 = 1_711_929_600;
const TOKEN: &str = "6f1c8c4e-2b7a-4d1e-9a43-0c2f6b8d9e10";
const SESSION: &str = "sess_0123456789abcdef0123456789abcdef";

struct Fixture {
    device: DeviceKey,
    session: PendingSession,
    otp: AutoPassword,
}

fn fixture() -> Fixture {
    let otp = auto_password(&OtpSecret::from_bytes([0x21; 32]), TOKEN, SESSION).unwrap();
    Fixture {
        device: DeviceKey::generate().unwrap(),
        session: PendingSession {
            session_id: SESSION.into(),
            token_id: TOKEN.into(),
            requested: scopes(&["identity:basic", "identity:age_over_18"]),
            expires_at: UnixTime::from_secs(START + 60),
        },
        otp,
    }
}

fn approve(signer: &DeviceKey, otp: &str, ts: i64, granted: &ScopeSet) -> DeviceResponse {
    let msg = approve_message(SESSION, otp, ts, granted.as_slice());
    DeviceResponse {
        otp: otp.into(),
        timestamp: ts,
        signature_der: signer.sign(msg.as_bytes()).unwrap(),
        decision: Decision::Approve { granted: granted.clone() },
    }
}

fn reject(signer: &DeviceKey, otp: &str, ts: i64) -> DeviceResponse {
    DeviceResponse {
        otp: otp.into(),
        timestamp: ts,
        signature_der: signer.sign(reject_message(SESSION, otp, ts).as_bytes()).unwrap(),
        decision: Decision::Reject,
    }
}

fn check(f: &Fixture, resp: &DeviceResponse, now: i64) -> Result<Decision, X1280Error> {
    check_response(&f.session, &f.otp, f.device.public_key(), resp, UnixTime::from_secs(now))
}

#[test]
fn approve_and_reject_succeed() {
    let f = fixture();
    let granted = scopes(&["identity:name", "identity:age_over_18"]);
    let resp = approve(&f.device, f.otp.as_str(), START + 5, &granted);
    assert_eq!(check(&f, &resp, START + 5), Ok(Decision::Approve { granted }));
    let resp = reject(&f.device, f.otp.as_str(), START + 5);
    assert_eq!(check(&f, &resp, START + 5), Ok(Decision::Reject));
}

#[test]
fn expired() {
    let f = fixture();
    let resp = approve(&f.device, f.otp.as_str(), START + 60, &scopes(&["identity:name"]));
    assert_eq!(check(&f, &resp, START + 59).map(|_| ()), Ok(()));
    assert_eq!(check(&f, &resp, START + 60), Err(X1280Error::Expired));
    assert_eq!(check(&f, &resp, START + 600), Err(X1280Error::Expired));
}

#[test]
fn timestamp_skew() {
    let f = fixture();
    let now = START + 20;
    for (delta, ok) in [(-31, false), (-30, true), (0, true), (30, true), (31, false)] {
        let resp = approve(&f.device, f.otp.as_str(), now + delta, &scopes(&["identity:name"]));
        let got = check(&f, &resp, now);
        if ok {
            assert!(got.is_ok(), "{delta}: {got:?}");
        } else {
            assert_eq!(got, Err(X1280Error::TimestampSkew), "{delta}");
        }
    }
    let mut extreme = approve(&f.device, f.otp.as_str(), now, &scopes(&["identity:name"]));
    for ts in [i64::MIN, i64::MAX] {
        extreme.timestamp = ts;
        assert_eq!(check(&f, &extreme, now), Err(X1280Error::TimestampSkew));
    }
}

#[test]
fn wrong_otp() {
    let f = fixture();
    let wrong = format!("{:06}", (f.otp.as_str().parse::<u32>().unwrap() + 1) % 1_000_000);
    // Signed correctly over the wrong code: still refused.
    let resp = approve(&f.device, &wrong, START, &scopes(&["identity:name"]));
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidOtp));
    for bad in ["", "12345", "1234567", "abcdef", " 12345"] {
        let resp = approve(&f.device, bad, START, &scopes(&["identity:name"]));
        assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidOtp), "{bad:?}");
    }
    let resp = reject(&f.device, &wrong, START);
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidOtp));
}

#[test]
fn wrong_signature() {
    let f = fixture();
    let granted = scopes(&["identity:name"]);
    // Garbage, empty and bit-flipped signatures.
    let mut resp = approve(&f.device, f.otp.as_str(), START, &granted);
    let good_sig = resp.signature_der.clone();
    for sig in [vec![], vec![0x30, 0x00], b"MEUCIQD".to_vec()] {
        resp.signature_der = sig;
        assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
    }
    let mut flipped = good_sig.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    resp.signature_der = flipped;
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
    // Signed over another timestamp than the one sent.
    resp.signature_der = good_sig;
    resp.timestamp = START + 1;
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
}

#[test]
fn other_devices_key() {
    let f = fixture();
    let other = DeviceKey::generate().unwrap();
    let resp = approve(&other, f.otp.as_str(), START, &scopes(&["identity:name"]));
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
    let resp = reject(&other, f.otp.as_str(), START);
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
}

#[test]
fn granted_scopes_are_bound_to_the_signature() {
    let f = fixture();
    // Signed for name only, sent as name + trust_level (a widening in transit).
    let mut resp = approve(&f.device, f.otp.as_str(), START, &scopes(&["identity:name"]));
    resp.decision = Decision::Approve { granted: scopes(&["identity:name", "identity:trust_level"]) };
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
    // Same scopes, other order: the signed message differs.
    let mut resp = approve(&f.device, f.otp.as_str(), START, &scopes(&["identity:name", "identity:trust_level"]));
    resp.decision = Decision::Approve { granted: scopes(&["identity:trust_level", "identity:name"]) };
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
}

#[test]
fn scopes_beyond_requested() {
    let f = fixture();
    let resp = approve(&f.device, f.otp.as_str(), START, &scopes(&["identity:name", "identity:photo"]));
    let err = check(&f, &resp, START).unwrap_err();
    assert_eq!(err, X1280Error::ScopesNotRequested("identity:photo".into()));
    assert_eq!(err.status(), 400);
    let resp = approve(&f.device, f.otp.as_str(), START, &scopes(&["identity:full"]));
    assert!(matches!(check(&f, &resp, START), Err(X1280Error::ScopesNotRequested(_))));
}

#[test]
fn composite_subset_is_accepted() {
    let f = fixture();
    // Requested basic + age_over_18; the composites age_verification (age_over_18 + name) and
    // basic itself, and the narrower given_name, all fit.
    for granted in [
        scopes(&["identity:age_verification"]),
        scopes(&["identity:basic"]),
        scopes(&["identity:trust_level", "identity:given_name"]),
        scopes(&[]),
    ] {
        let resp = approve(&f.device, f.otp.as_str(), START, &granted);
        assert_eq!(check(&f, &resp, START), Ok(Decision::Approve { granted }));
    }
}

#[test]
fn reject_and_approve_signatures_are_not_interchangeable() {
    let f = fixture();
    // An approval signature presented as a reject.
    let mut resp = approve(&f.device, f.otp.as_str(), START, &scopes(&[]));
    resp.decision = Decision::Reject;
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
    // A reject signature presented as an approval (with no scopes, the closest message).
    let mut resp = reject(&f.device, f.otp.as_str(), START);
    resp.decision = Decision::Approve { granted: scopes(&[]) };
    assert_eq!(check(&f, &resp, START), Err(X1280Error::InvalidSignature));
}
