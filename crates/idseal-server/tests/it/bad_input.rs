//! Hostile and malformed input on `POST /admin/keys/rotate`, with a valid admin token: every
//! case is refused with the right status and a JSON error without internal detail, and writes
//! nothing (no key rotated, no `KEY_ROTATE` audit row).

use axum::http::StatusCode;

use crate::support::{Server, TestDb, admin_policy, kids, post};

both_backends!(rotate_rejects_bad_input_and_writes_nothing, rotate_body_limit_is_enforced);

const ROTATE: &str = "/admin/keys/rotate";

/// What is tried, the content type, the body, the expected status and error code.
type Case = (&'static str, Option<&'static str>, Vec<u8>, StatusCode, &'static str);

/// A server whose admin rate limit does not get in the way of many requests.
async fn server(db: &TestDb) -> Server {
    db.server(|c| {
        crate::support::eddsa_only(c);
        c.keys.algorithms.push("ML-DSA-65".into());
        c.rate_limits.insert("admin".into(), admin_policy("1000/1m", &[]));
    })
    .await
}

/// What a rotation would change: the stored keys, the published keys and the audit log.
async fn snapshot(s: &Server) -> (serde_json::Value, Vec<String>, usize) {
    (s.key_list().await, kids(&s.jwks().await), s.audit_count("KEY_ROTATE").await)
}

async fn rotate_rejects_bad_input_and_writes_nothing(db: &TestDb) {
    let s = server(db).await;
    let token = s.token().to_owned();
    let before = snapshot(&s).await;
    assert_eq!(before.2, 0);

    let bad = StatusCode::BAD_REQUEST;
    let cases: Vec<Case> = vec![
        ("malformed JSON", Some("application/json"), br#"{"alg":"#.to_vec(), bad, "invalid_request"),
        ("trailing garbage", Some("application/json"), br#"{"alg":"EdDSA"} x"#.to_vec(), bad, "invalid_request"),
        ("unquoted key", Some("application/json"), br#"{alg:"EdDSA"}"#.to_vec(), bad, "invalid_request"),
        (
            "text/plain",
            Some("text/plain"),
            br#"{"alg":"EdDSA"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            b"alg=EdDSA".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "missing content type",
            None,
            br#"{"alg":"EdDSA"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        ("unknown field", Some("application/json"), br#"{"alg":"EdDSA","extra":1}"#.to_vec(), bad, "invalid_request"),
        (
            "unknown field with null",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":24,"force":null}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        ("invalid UTF-8", Some("application/json"), b"{\"alg\":\"Ed\xff\xfeDSA\"}".to_vec(), bad, "invalid_request"),
        (
            "invalid UTF-8 outside strings",
            Some("application/json"),
            b"\xff{\"alg\":\"EdDSA\"}".to_vec(),
            bad,
            "invalid_request",
        ),
        ("1e400", Some("application/json"), br#"{"alg":"EdDSA","grace_hours":1e400}"#.to_vec(), bad, "invalid_request"),
        (
            "huge integer",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":99999999999999999999}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        (
            "u32 overflow",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":4294967296}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        (
            "negative hours",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":-1}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        (
            "fractional hours",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":1.5}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        (
            "zero hours",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":0}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        (
            "hours over 90 days",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":2161}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        (
            "hours as string",
            Some("application/json"),
            br#"{"alg":"EdDSA","grace_hours":"24"}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        ("alg as number", Some("application/json"), br#"{"alg":5}"#.to_vec(), bad, "invalid_request"),
        ("alg as array", Some("application/json"), br#"{"alg":["EdDSA"]}"#.to_vec(), bad, "invalid_request"),
        ("alg null", Some("application/json"), br#"{"alg":null}"#.to_vec(), bad, "invalid_request"),
        // serde reads a struct from an array of its fields unless told not to.
        ("array body", Some("application/json"), br#"["EdDSA"]"#.to_vec(), bad, "invalid_request"),
        ("array body with hours", Some("application/json"), br#"["EdDSA",1]"#.to_vec(), bad, "invalid_request"),
        ("object in array", Some("application/json"), br#"[{"alg":"EdDSA"}]"#.to_vec(), bad, "invalid_request"),
        (
            "duplicate field",
            Some("application/json"),
            br#"{"alg":"RS256","alg":"EdDSA"}"#.to_vec(),
            bad,
            "invalid_request",
        ),
        ("string body", Some("application/json"), br#""EdDSA""#.to_vec(), bad, "invalid_request"),
        ("null body", Some("application/json"), b"null".to_vec(), bad, "invalid_request"),
        ("missing alg", Some("application/json"), b"{}".to_vec(), bad, "invalid_request"),
        ("empty body", Some("application/json"), Vec::new(), bad, "invalid_request"),
        ("whitespace body", Some("application/json"), b"  \n ".to_vec(), bad, "invalid_request"),
        ("unknown alg", Some("application/json"), br#"{"alg":"HS256"}"#.to_vec(), bad, "invalid_request"),
        ("alg none", Some("application/json"), br#"{"alg":"none"}"#.to_vec(), bad, "invalid_request"),
        ("alg wrong case", Some("application/json"), br#"{"alg":"eddsa"}"#.to_vec(), bad, "invalid_request"),
        ("alg not enabled here", Some("application/json"), br#"{"alg":"RS256"}"#.to_vec(), bad, "invalid_request"),
        ("NUL in alg", Some("application/json"), b"{\"alg\":\"EdDSA\\u0000\"}".to_vec(), bad, "invalid_request"),
        (
            "deep nesting",
            Some("application/json"),
            format!("{}{}", "[".repeat(500), "]".repeat(500)).into_bytes(),
            bad,
            "invalid_request",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let mut req = post(ROTATE).bearer(&token).body(&body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.send(&s.app).await;
        assert_eq!(r.status, status, "{what}: {}", r.text());
        r.assert_error(status, code);
        // The description is about the client's input, bounded, without control characters.
        if let Some(d) = r.json()["error_description"].as_str() {
            assert!(d.chars().count() <= 200, "{what}: long description {d}");
            assert!(!d.chars().any(char::is_control), "{what}: control characters in {d:?}");
        }
    }

    let after = snapshot(&s).await;
    assert_eq!(before, after, "a refused request changed keys, the JWKS or the audit log");
    assert!(s.audit("KEY_ROTATE").await.is_empty());

    // Control: the same harness with a good body does rotate (so "nothing written" above is
    // meaningful), and a charset parameter on the JSON media type is accepted.
    let r = post(ROTATE)
        .bearer(&token)
        .header("content-type", "application/json; charset=utf-8")
        .body(br#"{"alg":"EdDSA","grace_hours":2}"#)
        .send(&s.app)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(s.audit_count("KEY_ROTATE").await, 1);
    assert_ne!(kids(&s.key_list().await), kids(&before.0));
}

async fn rotate_body_limit_is_enforced(db: &TestDb) {
    let s = db
        .server(|c| {
            crate::support::eddsa_only(c);
            c.max_body_bytes = 1024;
        })
        .await;
    let token = s.token().to_owned();
    let before = snapshot(&s).await;

    // A body that would be a valid rotation but for its size (padded with JSON whitespace).
    let valid = br#"{"alg":"EdDSA","grace_hours":24}"#;
    let mut padded = valid.to_vec();
    padded.splice(1..1, std::iter::repeat_n(b' ', 1025 - valid.len()));
    assert_eq!(padded.len(), 1025);
    serde_json::from_slice::<serde_json::Value>(&padded).expect("still valid JSON");
    let r = post(ROTATE).bearer(&token).json(std::str::from_utf8(&padded).unwrap()).send(&s.app).await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Far over the limit.
    let big = format!(r#"{{"alg":"EdDSA","pad":"{}"}}"#, "x".repeat(1 << 20));
    let r = post(ROTATE).bearer(&token).json(&big).send(&s.app).await;
    r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(snapshot(&s).await, before, "an oversized request changed something");

    // Exactly at the limit is accepted.
    let mut exact = valid.to_vec();
    exact.splice(1..1, std::iter::repeat_n(b' ', 1024 - valid.len()));
    let r = post(ROTATE).bearer(&token).json(std::str::from_utf8(&exact).unwrap()).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(s.audit_count("KEY_ROTATE").await, 1);
}
