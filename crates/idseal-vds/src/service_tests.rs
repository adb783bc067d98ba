use super::*;
use crate::msgpack;
use crate::payload::Payload;

pub(crate) fn sample() -> Service {
    Service {
        service_id: "bar-le-central.example".into(),
        name: "Bar Le Central".into(),
        url: "https://bar.example".into(),
        scopes: vec!["identity:name".into(), "identity:age_over_18".into()],
        expires_at: UnixTime::from_secs(1_863_072_000),
    }
}

fn encode_with(fields: &[(String, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::write_map(&mut out, fields.len());
    for (k, v) in fields {
        msgpack::write_str(&mut out, k);
        match v {
            Value::Uint(x) => msgpack::write_uint(&mut out, *x),
            Value::Str(s) => msgpack::write_str(&mut out, s),
            Value::Bin(b) => msgpack::write_bin(&mut out, b),
        }
    }
    out
}

fn with(key: &str, value: &str) -> Result<Service, VdsError> {
    let mut f = sample().to_fields();
    for (k, v) in &mut f {
        if k == key {
            *v = Value::Str(value.to_owned());
        }
    }
    Service::decode(&encode_with(&f)).map(|(s, _)| s)
}

fn refused(key: &str, value: &str) -> bool {
    matches!(with(key, value), Err(VdsError::BadFieldValue { key: k, .. }) if k == key)
}

#[test]
fn round_trip_and_layout() {
    let s = sample();
    let b = s.encode().unwrap();
    assert_eq!(b[0], 0x85, "fixmap of 5");
    let (back, used) = Service::decode(&b).unwrap();
    assert_eq!((back, used), (s.clone(), b.len()));
    assert!(s.allows("identity:age_over_18"));
    assert!(!s.allows("identity:dob"));
    assert!(!s.allows("identity:"));
}

#[test]
fn service_ids() {
    for good in ["a", "bar-le-central.example", "svc_1", &"a".repeat(64)] {
        assert!(with("sid", good).is_ok(), "{good}");
    }
    for bad in ["Bar", "bar le", "bar/x", "bär", "bar:1"] {
        assert!(refused("sid", bad), "{bad}");
    }
    assert!(matches!(with("sid", ""), Err(VdsError::BadFieldValue { .. })));
    assert!(matches!(with("sid", &"a".repeat(65)), Err(VdsError::FieldTooLong { max: 64, .. })));
}

#[test]
fn names() {
    for good in ["Bar Le Central", "Café «Ünïcödé» 東京", &"é".repeat(64)] {
        assert!(with("name", good).is_ok(), "{good}");
    }
    for bad in [
        "Bar\u{7}",
        "Bar\nLe",
        "Bank\u{202e}lanigiro",
        "Pay\u{200b}Pal",
        "\u{2066}Bank\u{2069}",
        "\u{feff}Bank",
        " Bar",
        "Bar ",
    ] {
        assert!(refused("name", bad), "{bad:?}");
    }
    assert!(matches!(with("name", &"é".repeat(65)), Err(VdsError::FieldTooLong { max: 64, .. })));
}

#[test]
fn origins() {
    for good in [
        "https://bar.example",
        "https://bar.example:8443",
        "https://x",
        "https://a-b.c-d.example",
        "http://localhost",
        "http://localhost:3000",
        "http://127.0.0.1:8080",
        "https://10.0.0.1",
    ] {
        assert!(with("url", good).is_ok(), "{good}");
    }
    for bad in [
        "https://bar.example/",
        "https://bar.example/login",
        "https://bar.example?x=1",
        "https://bar.example#top",
        "https://user@bar.example",
        "https://user:pw@bar.example",
        "http://bar.example",
        "http://192.168.1.10",
        "http://localhost.evil.example",
        "ftp://bar.example",
        "bar.example",
        "HTTPS://bar.example",
        "https://Bar.example",
        "https://bar.example.",
        "https://-bar.example",
        "https://bar..example",
        "https://",
        "https://bar.example:",
        "https://bar.example:0",
        "https://bar.example:65536",
        "https://bar.example:080",
        "https://bar.example:+80",
        "https://bar.example:443",
        "http://localhost:80",
        "https://[::1]",
        "https://bär.example",
        "https://bar%2eexample",
        "https://bar.example\\x",
        "https://bar.example:1:2",
    ] {
        assert!(refused("url", bad), "{bad}");
    }
    let long = format!("https://{}.example", "a".repeat(190));
    assert!(matches!(with("url", &long), Err(VdsError::FieldTooLong { max: 200, .. })));
    let label64 = format!("https://{}.example", "a".repeat(64));
    assert!(refused("url", &label64), "a DNS label is at most 63 characters");
}

#[test]
fn scopes() {
    for good in ["identity:name", "identity:name identity:age_over_18 identity:dob", "identity:a1_b"] {
        assert!(with("scp", good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "openid",
        "identity:",
        "identity:Name",
        "identity:name-x",
        "email identity:name",
        "identity:name  identity:dob",
        " identity:name",
        "identity:name ",
        "identity:name\tidentity:dob",
        "identity:name identity:name",
        "identity:a identity:b identity:a",
    ] {
        assert!(matches!(with("scp", bad), Err(VdsError::BadFieldValue { .. })), "{bad:?}");
    }
    let many: Vec<String> = (0..60).map(|i| format!("identity:s{i}")).collect();
    assert!(matches!(with("scp", &many.join(" ")), Err(VdsError::FieldTooLong { max: 512, .. })));
}

#[test]
fn encode_refuses_what_decode_would_refuse() {
    let mut s = sample();
    s.scopes = vec!["identity:name identity:dob".into()];
    assert!(matches!(s.encode(), Err(VdsError::BadFieldValue { .. })), "two scopes in one element");
    s.scopes = Vec::new();
    assert!(matches!(s.encode(), Err(VdsError::BadFieldValue { .. })), "no scope");
    let mut s = sample();
    s.url = "https://bar.example/".into();
    assert!(matches!(s.encode(), Err(VdsError::BadFieldValue { .. })));
    let mut s = sample();
    s.expires_at = UnixTime::from_secs(-1);
    assert_eq!(s.encode(), Err(VdsError::TimeOutOfRange { what: "expiry" }));
}

#[test]
fn structure_errors() {
    let fields = sample().to_fields();
    // a missing field
    let missing: Vec<_> = fields.iter().filter(|(k, _)| k != "url").cloned().collect();
    assert_eq!(Service::decode(&encode_with(&missing)), Err(VdsError::MissingField { key: "url".into() }));
    // an unknown key (the manifest rejects extensions)
    let mut extra = fields.clone();
    extra.push(("logo".into(), Value::Str("x".into())));
    assert_eq!(Service::decode(&encode_with(&extra)), Err(VdsError::TooManyFields { count: 6 }));
    let mut renamed = fields.clone();
    renamed[2].0 = "logo".into();
    assert_eq!(Service::decode(&encode_with(&renamed)), Err(VdsError::UnknownKey { key: "logo".into() }));
    // identity keys are unknown here
    let identity = crate::payload::tests::sample().encode().unwrap();
    assert!(matches!(Service::decode(&identity), Err(VdsError::TooManyFields { .. } | VdsError::UnknownKey { .. })));
    // order and duplicates
    let mut swapped = fields.clone();
    swapped.swap(0, 1);
    assert_eq!(Service::decode(&encode_with(&swapped)), Err(VdsError::KeyOrder { key: "sid".into() }));
    let mut twice = fields.clone();
    twice[1] = fields[0].clone();
    assert_eq!(Service::decode(&encode_with(&twice)), Err(VdsError::DuplicateKey { key: "sid".into() }));
    // wrong types
    let mut wrong = fields.clone();
    wrong[4].1 = Value::Str("1863072000".into());
    assert_eq!(Service::decode(&encode_with(&wrong)), Err(VdsError::WrongType { key: "exp".into(), expected: "uint" }));
    let mut wrong = fields;
    wrong[3].1 = Value::Bin(b"identity:name".to_vec());
    assert_eq!(Service::decode(&encode_with(&wrong)), Err(VdsError::WrongType { key: "scp".into(), expected: "str" }));
}

#[test]
fn payload_enum() {
    let s = Payload::from(sample());
    assert_eq!(s.manifest_id(), crate::ManifestId::SERVICE);
    assert_eq!(s.expires_at(), sample().expires_at);
    assert_eq!(s.as_service(), Some(&sample()));
    assert!(s.as_identity().is_none());
    let i = Payload::from(crate::payload::tests::sample());
    assert_eq!(i.manifest_id(), crate::ManifestId::IDENTITY);
    assert!(i.as_service().is_none());
    assert_eq!(i.encode().unwrap(), crate::payload::tests::sample().encode().unwrap());
    let fields = sample().to_fields();
    assert_eq!(Payload::from_fields(crate::ManifestId::SERVICE, fields.clone()), Ok(s));
    let other = crate::ManifestId::new(0x0A_0003).unwrap();
    assert_eq!(Payload::from_fields(other, fields), Err(VdsError::UnknownManifest { id: 0x0A_0003 }));
}
