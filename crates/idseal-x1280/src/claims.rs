//! Selective disclosure: the claims a grant releases, computed at login time from the enrolled
//! identity (the VDS payload) and the day of the login.
//!
//! Claim names are OIDC snake_case; the product documentation's camelCase names are given for
//! reference (they are not emitted).
//!
//! | atom | claim | product docs | value |
//! |---|---|---|---|
//! | name | `given_name`, `family_name` | givenName, familyName | strings as in the VDS; an empty given name is omitted |
//! | given_name | `given_name` | givenName | string (omitted when empty) |
//! | family_name | `family_name` | familyName | string |
//! | date_of_birth | `birthdate` | dateOfBirth | `YYYY-MM-DD` |
//! | nationality | `nationality` | nationality | ICAO 9303 code without `<` fillers (`D` for Germany, `FRA`) |
//! | document | `document_number` | documentNumber | string |
//! | photo | `picture` | photoBase64 | `data:image/webp;base64,` + standard base64 (padded); omitted when the VDS has no photo |
//! | trust_level | `trust_level` | trustLevel | number 1, 2 or 3 |
//! | age_over_18/21/25 | `age_over_18`, `age_over_21`, `age_over_25` | ageOver18... | boolean |
//! | age_range | `age_range` | ageRange | `"<18"`, `"18-24"`, `"25-34"`, `"35-44"`, `"45-54"`, `"55-64"`, `"65+"` |
//! | is_eu_citizen | `is_eu_citizen` | isEuCitizen | boolean |
//! | name_initial | `name_initial` | nameInitial | `"J. D."`, or `"D."` without a given name |
//!
//! Age is the difference in years between the date of birth and the login day, less one when
//! the login day's (month, day) comes before the birthday's: a person is 18 on their 18th
//! birthday, and someone born on 29 February becomes a year older on 1 March in common years.
//! A date of birth that does not parse (idseal-vds admits only real calendar dates, so this
//! happens only with hand-built identities) yields no `birthdate` and no age claims.
//!
//! The EU check uses the 27 member states by ICAO 9303 code: AUT BEL BGR HRV CYP CZE D (also
//! `DEU`) DNK EST FIN FRA GRC HUN IRL ITA LVA LTU LUX MLT NLD POL PRT ROU SVK SVN ESP SWE.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_vds::{Identity, TrustLevel};
use serde_json::{Map, Value};
use time::{Date, Month};

use crate::scopes::{IdentityScope, ScopeSet};

/// The eIDAS level-of-assurance URIs.
pub const ACR_LOW: &str = "http://eidas.europa.eu/LoA/low";
/// eIDAS substantial.
pub const ACR_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
/// eIDAS high.
pub const ACR_HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// EU member states, ICAO 9303 nationality codes (fillers removed).
const EU_CODES: [&str; 28] = [
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "D", "DEU", "DNK", "EST", "FIN", "FRA", "GRC", "HUN", "IRL", "ITA",
    "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE",
];

/// The eIDAS `acr` URI of a trust level: 1 low, 2 substantial, 3 high.
pub fn eidas_acr(level: TrustLevel) -> &'static str {
    match level {
        TrustLevel::SelfIssued => ACR_LOW,
        TrustLevel::OperatorVerified => ACR_SUBSTANTIAL,
        TrustLevel::NfcBiometric => ACR_HIGH,
    }
}

/// The rank of an eIDAS `acr` URI (low 1, substantial 2, high 3), to compare with `acr_values`;
/// `None` for any other value.
pub fn acr_rank(acr: &str) -> Option<u8> {
    match acr {
        ACR_LOW => Some(1),
        ACR_SUBSTANTIAL => Some(2),
        ACR_HIGH => Some(3),
        _ => None,
    }
}

/// Parses `YYYY-MM-DD` into a date.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u16> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    Date::from_calendar_date(i32::from(num(0..4)?), month, day).ok()
}

/// Age in whole years on `today` (negative for a birth date in the future).
pub fn age_on(dob: Date, today: Date) -> i32 {
    let before_birthday = (u8::from(today.month()), today.day()) < (u8::from(dob.month()), dob.day());
    today.year() - dob.year() - i32::from(before_birthday)
}

/// The `age_range` bracket of an age.
pub fn age_range(age: i32) -> &'static str {
    match age {
        ..18 => "<18",
        18..25 => "18-24",
        25..35 => "25-34",
        35..45 => "35-44",
        45..55 => "45-54",
        55..65 => "55-64",
        _ => "65+",
    }
}

/// The nationality code without ICAO `<` fillers.
pub fn nationality_code(nat: &str) -> &str {
    nat.trim_end_matches('<')
}

/// True when the ICAO nationality code is an EU member state.
pub fn is_eu(nat: &str) -> bool {
    EU_CODES.contains(&nationality_code(nat))
}

/// The first letter of `s` in upper case, with the combining marks that follow it.
fn initial(s: &str) -> Option<String> {
    let mut chars = s.trim_start().chars();
    let first = chars.next()?;
    let mut out: String = first.to_uppercase().collect();
    out.extend(chars.take_while(|c| ('\u{0300}'..='\u{036f}').contains(c)));
    Some(out)
}

/// `"J. D."` from the first given name and the family name; `"D."` without a given name.
pub fn name_initial(given_name: &str, family_name: &str) -> String {
    let given = given_name.split_whitespace().next().and_then(initial);
    let family = initial(family_name);
    [given, family].into_iter().flatten().map(|i| format!("{i}.")).collect::<Vec<_>>().join(" ")
}

/// The claim names one identity scope atom releases (the keys [`disclose`] writes for it).
pub fn claim_names(atom: IdentityScope) -> &'static [&'static str] {
    match atom {
        IdentityScope::Name => &["given_name", "family_name"],
        IdentityScope::GivenName => &["given_name"],
        IdentityScope::FamilyName => &["family_name"],
        IdentityScope::DateOfBirth => &["birthdate"],
        IdentityScope::Nationality => &["nationality"],
        IdentityScope::Document => &["document_number"],
        IdentityScope::Photo => &["picture"],
        IdentityScope::TrustLevel => &["trust_level"],
        IdentityScope::AgeOver18 => &["age_over_18"],
        IdentityScope::AgeOver21 => &["age_over_21"],
        IdentityScope::AgeOver25 => &["age_over_25"],
        IdentityScope::AgeRange => &["age_range"],
        IdentityScope::IsEuCitizen => &["is_eu_citizen"],
        IdentityScope::NameInitial => &["name_initial"],
    }
}

/// Keeps only the claims of `claims` that `scopes` releases (by their atoms).
pub fn restrict(claims: &Map<String, Value>, scopes: &ScopeSet) -> Map<String, Value> {
    let names: Vec<&str> = scopes.expand().into_iter().flat_map(|a| claim_names(a).iter().copied()).collect();
    claims.iter().filter(|(k, _)| names.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The claims `granted` releases about `identity` on the day `today` (see the module docs).
pub fn disclose(identity: &Identity, granted: &ScopeSet, today: Date) -> Map<String, Value> {
    let atoms = granted.expand();
    let mut out = Map::new();
    let has = |a: IdentityScope| atoms.contains(&a);
    let dob = parse_date(&identity.date_of_birth);
    let age = dob.map(|d| age_on(d, today));

    if (has(IdentityScope::Name) || has(IdentityScope::GivenName)) && !identity.given_name.is_empty() {
        out.insert("given_name".into(), Value::from(identity.given_name.clone()));
    }
    if has(IdentityScope::Name) || has(IdentityScope::FamilyName) {
        out.insert("family_name".into(), Value::from(identity.family_name.clone()));
    }
    if let (true, Some(d)) = (has(IdentityScope::DateOfBirth), dob) {
        out.insert(
            "birthdate".into(),
            Value::from(format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())),
        );
    }
    if has(IdentityScope::Nationality) {
        out.insert("nationality".into(), Value::from(nationality_code(&identity.nationality)));
    }
    if has(IdentityScope::Document) {
        out.insert("document_number".into(), Value::from(identity.document_number.clone()));
    }
    if has(IdentityScope::Photo) && !identity.photo.is_empty() {
        out.insert(
            "picture".into(),
            Value::from(format!("data:image/webp;base64,{}", STANDARD.encode(&identity.photo))),
        );
    }
    if has(IdentityScope::TrustLevel) {
        out.insert("trust_level".into(), Value::from(identity.trust_level.as_u64()));
    }
    if let Some(age) = age {
        for (atom, claim, years) in [
            (IdentityScope::AgeOver18, "age_over_18", 18),
            (IdentityScope::AgeOver21, "age_over_21", 21),
            (IdentityScope::AgeOver25, "age_over_25", 25),
        ] {
            if has(atom) {
                out.insert(claim.into(), Value::from(age >= years));
            }
        }
        if has(IdentityScope::AgeRange) {
            out.insert("age_range".into(), Value::from(age_range(age)));
        }
    }
    if has(IdentityScope::IsEuCitizen) {
        out.insert("is_eu_citizen".into(), Value::from(is_eu(&identity.nationality)));
    }
    if has(IdentityScope::NameInitial) {
        out.insert("name_initial".into(), Value::from(name_initial(&identity.given_name, &identity.family_name)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, day: u8) -> Date {
        Date::from_calendar_date(y, Month::try_from(m).unwrap(), day).unwrap()
    }

    #[test]
    fn restrict_keeps_only_released_claims() {
        let mut claims = Map::new();
        for k in ["given_name", "family_name", "birthdate", "age_over_18"] {
            claims.insert(k.into(), Value::from(1));
        }
        let only = |names: &[&str]| {
            let set = ScopeSet::parse(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
            let mut keys: Vec<String> = restrict(&claims, &set).keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(only(&["identity:given_name"]), ["given_name"]);
        assert_eq!(only(&["identity:name", "identity:age_over_18"]), ["age_over_18", "family_name", "given_name"]);
        assert!(only(&[]).is_empty());
        for atom in IdentityScope::ALL {
            assert!(!claim_names(atom).is_empty());
        }
    }

    #[test]
    fn acr_mapping() {
        assert_eq!(eidas_acr(TrustLevel::SelfIssued), "http://eidas.europa.eu/LoA/low");
        assert_eq!(eidas_acr(TrustLevel::OperatorVerified), "http://eidas.europa.eu/LoA/substantial");
        assert_eq!(eidas_acr(TrustLevel::NfcBiometric), "http://eidas.europa.eu/LoA/high");
        for (level, rank) in
            [(TrustLevel::SelfIssued, 1), (TrustLevel::OperatorVerified, 2), (TrustLevel::NfcBiometric, 3)]
        {
            assert_eq!(acr_rank(eidas_acr(level)), Some(rank));
        }
        assert_eq!(acr_rank("urn:idtoken:loa:3"), None);
        assert_eq!(acr_rank("http://eidas.europa.eu/LoA/High"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1990-02-28"), Some(d(1990, 2, 28)));
        assert_eq!(parse_date("1990-02-29"), None);
        assert_eq!(parse_date("1980-00-00"), None);
        assert_eq!(parse_date("1990-2-28"), None);
        assert_eq!(parse_date("+990-02-28"), None);
        assert_eq!(parse_date("1990/02/28"), None);
        assert_eq!(parse_date("１９９０-02-28"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn ages() {
        let dob = d(2000, 6, 15);
        assert_eq!(age_on(dob, d(2018, 6, 14)), 17);
        assert_eq!(age_on(dob, d(2018, 6, 15)), 18);
        assert_eq!(age_on(dob, d(2018, 12, 31)), 18);
        assert_eq!(age_on(dob, d(1999, 1, 1)), -2);
        let leap = d(2004, 2, 29);
        assert_eq!(age_on(leap, d(2022, 2, 28)), 17);
        assert_eq!(age_on(leap, d(2022, 3, 1)), 18);
        assert_eq!(age_on(leap, d(2024, 2, 29)), 20);
    }

    #[test]
    fn ranges() {
        let cases = [
            (-1, "<18"),
            (17, "<18"),
            (18, "18-24"),
            (24, "18-24"),
            (25, "25-34"),
            (34, "25-34"),
            (35, "35-44"),
            (45, "45-54"),
            (54, "45-54"),
            (55, "55-64"),
            (64, "55-64"),
            (65, "65+"),
            (120, "65+"),
        ];
        for (age, want) in cases {
            assert_eq!(age_range(age), want, "{age}");
        }
    }

    #[test]
    fn eu() {
        assert!(is_eu("D<<"));
        assert!(is_eu("FRA"));
        assert!(is_eu("DEU"));
        assert!(!is_eu("GBR"));
        assert!(!is_eu("CHE"));
        assert!(!is_eu(""));
        assert!(!is_eu("<<<"));
        assert_eq!(nationality_code("D<<"), "D");
        assert_eq!(EU_CODES.len(), 28); // 27 states, Germany under two codes
    }

    #[test]
    fn initials() {
        assert_eq!(name_initial("John Paul", "Doe"), "J. D.");
        assert_eq!(name_initial("", "Doe"), "D.");
        assert_eq!(name_initial("élodie", "Østergård"), "É. Ø.");
        assert_eq!(name_initial("E\u{301}mile", "Zola"), "E\u{301}. Z.");
        assert_eq!(name_initial("Ярослав", "Щербак"), "Я. Щ.");
        assert_eq!(name_initial("  ", "van der Berg"), "V.");
    }
}
