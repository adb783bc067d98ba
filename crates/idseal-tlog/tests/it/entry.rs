//! The canonical audit-entry encoding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use idseal_tlog::entry::{ENTRY_VERSION, PseudonymKey, encode};
use idseal_types::{AuditEvent, AuditEventKind, UnixTime};
use serde_json::json;

fn event() -> AuditEvent {
    AuditEvent::new(AuditEventKind::AdminAuthFail, UnixTime::from_secs(1_800_000_000), "system")
        .subject("alice@example.org")
        .request(Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))), Some("curl/8".into()))
        .details(json!({"z": 1, "a": {"y": [1, "two"], "b": null}}))
}

#[test]
fn layout_is_fixed_and_personal_data_is_pseudonymised() {
    let key = PseudonymKey::new(&[1u8; 32]).unwrap();
    let e = encode(&event(), &key).unwrap();
    assert_eq!(e[0], ENTRY_VERSION);
    let kind = b"ADMIN_AUTH_FAIL";
    assert_eq!(&e[1..3], &(kind.len() as u16).to_be_bytes());
    assert_eq!(&e[3..3 + kind.len()], kind);
    let mut at = 3 + kind.len();
    assert_eq!(&e[at..at + 8], &1_800_000_000i64.to_be_bytes());
    at += 8;
    assert_eq!(&e[at..at + 2 + 6], b"\x00\x06system");
    at += 8;
    assert_eq!(e[at], 1);
    assert_eq!(&e[at + 1..at + 33], &key.subject_pseudonym("alice@example.org"));
    at += 33;
    assert_eq!(e[at], 1);
    at += 33;
    assert_eq!(&e[at..at + 9], b"\x01\x00\x06curl/8");
    at += 9;
    let details = br#"{"a":{"b":null,"y":[1,"two"]},"z":1}"#;
    assert_eq!(&e[at..at + 4], &(details.len() as u32).to_be_bytes());
    assert_eq!(&e[at + 4..], details);
    // No cleartext subject or IP.
    let text = String::from_utf8_lossy(&e);
    assert!(!text.contains("alice") && !text.contains("192.0.2.7"));
    // Deterministic under one key, different under another.
    assert_eq!(encode(&event(), &key).unwrap(), e);
    assert_ne!(encode(&event(), &PseudonymKey::new(&[2u8; 32]).unwrap()).unwrap(), e);
}

#[test]
fn ip_forms_and_limits() {
    let key = PseudonymKey::new(&[1u8; 32]).unwrap();
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
    assert_eq!(key.ip_pseudonym(v4), key.ip_pseudonym(mapped));
    assert_ne!(key.ip_pseudonym(v4), key.ip_pseudonym(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_ne!(key.ip_pseudonym(v4), key.subject_pseudonym("192.0.2.7"));
    assert!(PseudonymKey::new(&[1u8; 31]).is_err());
    assert!(!format!("{key:?}").contains('1'));
    let bare = AuditEvent::new(AuditEventKind::ServerStart, UnixTime::from_secs(0), "system");
    let e = encode(&bare, &key).unwrap();
    // No subject, no IP, no user agent, details `null`.
    assert_eq!(&e[e.len() - 11..], b"\x00\x00\x00\x00\x00\x00\x04null");
    let long = event().request(None, Some("u".repeat(70_000)));
    assert!(encode(&long, &key).is_err());
    let float = event().details(json!({"x": 1e300}));
    assert!(encode(&float, &key).is_err());
}
