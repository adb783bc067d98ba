//! Selective disclosure and the result-JWT claims.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_types::UnixTime;
use idseal_vds::TrustLevel;
use idseal_x1280::{ResultClaims, acr_rank, all_scope_names, disclose, eidas_acr, result_claims};
use serde_json::{Value, json};
use time::{Date, Month};

use crate::{TINY_WEBP, identity, scopes};

fn day(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
}

#[test]
fn age_boundaries_around_the_birthday() {
    let who = identity("Jane", "Doe", "2007-06-15", "FRA");
    let g = scopes(&["identity:age_over_18", "identity:age_over_21", "identity:age_over_25", "identity:age_range"]);
    let before = disclose(&who, &g, day(2025, 6, 14));
    assert_eq!(before["age_over_18"], false);
    assert_eq!(before["age_range"], "<18");
    let on = disclose(&who, &g, day(2025, 6, 15));
    assert_eq!(on["age_over_18"], true);
    assert_eq!(on["age_over_21"], false);
    assert_eq!(on["age_range"], "18-24");
    let after = disclose(&who, &g, day(2025, 6, 16));
    assert_eq!(after["age_over_18"], true);

    let older = identity("Jane", "Doe", "2000-06-15", "FRA");
    assert_eq!(disclose(&older, &g, day(2025, 6, 14))["age_over_25"], false);
    assert_eq!(disclose(&older, &g, day(2025, 6, 14))["age_over_21"], true);
    assert_eq!(disclose(&older, &g, day(2025, 6, 15))["age_over_25"], true);
    assert_eq!(disclose(&older, &g, day(2025, 6, 15))["age_range"], "25-34");
    // Only age claims: nothing else leaks.
    assert_eq!(on.len(), 4);
}

#[test]
fn date_of_birth_never_leaks_unless_granted() {
    let who = identity("Jane", "Doe", "1987-03-09", "FRA");
    let today = day(2025, 1, 1);
    for name in all_scope_names() {
        let granted = scopes(&[name]);
        let out = disclose(&who, &granted, today);
        let text = serde_json::to_string(&out).unwrap();
        let may_see_dob = matches!(*name, "identity:date_of_birth" | "identity:full" | "identity:full_with_photo");
        assert_eq!(out.contains_key("birthdate"), may_see_dob, "{name}");
        if !may_see_dob {
            assert!(!text.contains("1987"), "{name}: {text}");
            assert!(!text.contains("03-09"), "{name}: {text}");
        }
        let may_see_photo = *name == "identity:photo" || *name == "identity:full_with_photo";
        assert_eq!(out.contains_key("picture"), may_see_photo, "{name}");
    }
    let out = disclose(&who, &scopes(&["identity:date_of_birth"]), today);
    assert_eq!(Value::Object(out), json!({"birthdate": "1987-03-09"}));
}

#[test]
fn unparsable_birth_date_gives_no_age_claims() {
    for dob in ["1980-00-00", "1980-02-30", "not a date", ""] {
        let who = identity("Jane", "Doe", dob, "FRA");
        let out = disclose(
            &who,
            &scopes(&["identity:date_of_birth", "identity:age_over_18", "identity:age_range", "identity:name"]),
            day(2025, 1, 1),
        );
        assert!(!out.contains_key("birthdate"), "{dob}");
        assert!(!out.contains_key("age_over_18"), "{dob}");
        assert!(!out.contains_key("age_range"), "{dob}");
        assert_eq!(out["family_name"], "Doe");
    }
}

#[test]
fn eu_citizenship() {
    let g = scopes(&["identity:is_eu_citizen"]);
    let today = day(2025, 1, 1);
    for (nat, eu) in [
        ("D<<", true),
        ("FRA", true),
        ("ESP", true),
        ("SWE", true),
        ("GBR", false),
        ("CHE", false),
        ("NOR", false),
        ("USA", false),
        ("UTO", false),
        ("XXA", false),
    ] {
        let out = disclose(&identity("A", "B", "1990-01-01", nat), &g, today);
        assert_eq!(out["is_eu_citizen"], eu, "{nat}");
        assert_eq!(out.len(), 1);
    }
    let out = disclose(&identity("A", "B", "1990-01-01", "D<<"), &scopes(&["identity:nationality"]), today);
    assert_eq!(out["nationality"], "D");
}

#[test]
fn initials_with_non_ascii_names() {
    let g = scopes(&["identity:name_initial"]);
    let today = day(2025, 1, 1);
    for (given, family, want) in [
        ("John Paul", "Doe", "J. D."),
        ("Ødegård", "Łukasiewicz", "Ø. Ł."),
        ("ÉLODIE MARIE", "ÇELIK", "É. Ç."),
        ("Ἀλέξανδρος", "Παπαδόπουλος", "Ἀ. Π."),
        ("", "Doe", "D."),
        ("石", "田中", "石. 田."),
    ] {
        let out = disclose(&identity(given, family, "1990-01-01", "FRA"), &g, today);
        assert_eq!(out["name_initial"], want, "{given} {family}");
        assert_eq!(out.len(), 1, "only the initials");
    }
}

#[test]
fn photo_is_a_webp_data_url() {
    let out = disclose(&identity("A", "B", "1990-01-01", "FRA"), &scopes(&["identity:photo"]), day(2025, 1, 1));
    let url = out["picture"].as_str().unwrap();
    let b64 = url.strip_prefix("data:image/webp;base64,").unwrap();
    assert_eq!(STANDARD.decode(b64).unwrap(), TINY_WEBP);
    let mut no_photo = identity("A", "B", "1990-01-01", "FRA");
    no_photo.photo.clear();
    assert!(disclose(&no_photo, &scopes(&["identity:photo"]), day(2025, 1, 1)).is_empty());
}

#[test]
fn composites_release_their_claims() {
    let who = identity("Jane", "Doe", "1990-05-01", "D<<");
    let today = day(2025, 1, 1);
    let basic = disclose(&who, &scopes(&["identity:basic"]), today);
    assert_eq!(Value::Object(basic), json!({"given_name": "Jane", "family_name": "Doe", "trust_level": 3}));
    let av = disclose(&who, &scopes(&["identity:age_verification"]), today);
    assert_eq!(Value::Object(av), json!({"given_name": "Jane", "family_name": "Doe", "age_over_18": true}));
    let full = disclose(&who, &scopes(&["identity:full"]), today);
    assert_eq!(
        Value::Object(full),
        json!({"given_name": "Jane", "family_name": "Doe", "birthdate": "1990-05-01", "nationality": "D",
               "document_number": "C01X00T47", "trust_level": 3})
    );
    assert!(disclose(&who, &scopes(&[]), today).is_empty());
    // An empty given name is omitted, the family name stays.
    let surname_only = identity("", "Doe", "1990-05-01", "FRA");
    assert_eq!(
        Value::Object(disclose(&surname_only, &scopes(&["identity:name"]), today)),
        json!({"family_name": "Doe"})
    );
}

#[test]
fn result_claims_for_the_jwt() {
    let who = identity("Jane", "Doe", "1990-05-01", "FRA");
    let granted = scopes(&["identity:name", "identity:age_over_18"]);
    let disclosed = disclose(&who, &granted, day(2024, 4, 1));
    let acr = eidas_acr(TrustLevel::OperatorVerified);
    assert_eq!(acr_rank(acr), Some(2));
    let input = ResultClaims {
        issuer: "https://auth.idtokenseal.example.com",
        token_id: "VDS-FR-0042-2025-00001",
        service_id: "bar-le-central",
        session_id: "sess_0123456789abcdef0123456789abcdef",
        random: "a1b2c3d4e5f67890",
        granted: &granted,
        acr,
        now: UnixTime::from_secs(1_711_929_600),
        ttl_secs: 3600,
        jti: "jti-1",
    };
    let claims = result_claims(&input, disclosed);
    assert_eq!(
        Value::Object(claims),
        json!({
            "iss": "https://auth.idtokenseal.example.com",
            "sub": "VDS-FR-0042-2025-00001",
            "aud": "bar-le-central",
            "iat": 1_711_929_600,
            "exp": 1_711_933_200,
            "jti": "jti-1",
            "sid": "sess_0123456789abcdef0123456789abcdef",
            "nonce": "a1b2c3d4e5f67890",
            "scope": "identity:name identity:age_over_18",
            "acr": "http://eidas.europa.eu/LoA/substantial",
            "amr": ["hwk", "otp", "mca"],
            "given_name": "Jane",
            "family_name": "Doe",
            "age_over_18": true
        })
    );
}
