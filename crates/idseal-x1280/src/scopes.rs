//! Identity scopes (product spec §4.5): fourteen atoms and four composites.
//!
//! | scope | expands to |
//! |---|---|
//! | `identity:basic` | name, trust_level |
//! | `identity:age_verification` | age_over_18, name |
//! | `identity:full` | name, date_of_birth, nationality, document, trust_level |
//! | `identity:full_with_photo` | full + photo |
//!
//! A [`ScopeSet`] keeps the strings exactly as given, in the order given (that order is part of
//! the signed approval message); comparisons between sets use the expanded atoms, so a request
//! for `identity:name` fits under a ceiling of `identity:basic`.
//!
//! A ceiling also covers the atoms derived from its atoms, since they reveal less than their
//! source: `name` covers `given_name`, `family_name` and `name_initial`; `date_of_birth` covers
//! `age_over_18/21/25` and `age_range`; `nationality` covers `is_eu_citizen`. So a user asked
//! for `identity:name` may narrow the grant to `identity:given_name`.

use std::collections::BTreeSet;

use crate::error::X1280Error;

/// The most scopes one list may hold.
pub const MAX_SCOPES: usize = 32;
/// The longest scope string accepted.
pub const MAX_SCOPE_LEN: usize = 64;

/// An atomic identity scope: one claim (or one pair, for `Name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityScope {
    /// `identity:name`: given and family name.
    Name,
    /// `identity:given_name`.
    GivenName,
    /// `identity:family_name`.
    FamilyName,
    /// `identity:date_of_birth`.
    DateOfBirth,
    /// `identity:nationality`.
    Nationality,
    /// `identity:document`: the document number.
    Document,
    /// `identity:photo`: the portrait.
    Photo,
    /// `identity:trust_level`.
    TrustLevel,
    /// `identity:age_over_18`.
    AgeOver18,
    /// `identity:age_over_21`.
    AgeOver21,
    /// `identity:age_over_25`.
    AgeOver25,
    /// `identity:age_range`.
    AgeRange,
    /// `identity:is_eu_citizen`.
    IsEuCitizen,
    /// `identity:name_initial`.
    NameInitial,
}

impl IdentityScope {
    /// Every atom, in declaration order.
    pub const ALL: [Self; 14] = [
        Self::Name,
        Self::GivenName,
        Self::FamilyName,
        Self::DateOfBirth,
        Self::Nationality,
        Self::Document,
        Self::Photo,
        Self::TrustLevel,
        Self::AgeOver18,
        Self::AgeOver21,
        Self::AgeOver25,
        Self::AgeRange,
        Self::IsEuCitizen,
        Self::NameInitial,
    ];

    /// The wire name (`identity:...`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "identity:name",
            Self::GivenName => "identity:given_name",
            Self::FamilyName => "identity:family_name",
            Self::DateOfBirth => "identity:date_of_birth",
            Self::Nationality => "identity:nationality",
            Self::Document => "identity:document",
            Self::Photo => "identity:photo",
            Self::TrustLevel => "identity:trust_level",
            Self::AgeOver18 => "identity:age_over_18",
            Self::AgeOver21 => "identity:age_over_21",
            Self::AgeOver25 => "identity:age_over_25",
            Self::AgeRange => "identity:age_range",
            Self::IsEuCitizen => "identity:is_eu_citizen",
            Self::NameInitial => "identity:name_initial",
        }
    }
}

use IdentityScope as S;

const BASIC: &[IdentityScope] = &[S::Name, S::TrustLevel];
const AGE_VERIFICATION: &[IdentityScope] = &[S::AgeOver18, S::Name];
const FULL: &[IdentityScope] = &[S::Name, S::DateOfBirth, S::Nationality, S::Document, S::TrustLevel];
const FULL_WITH_PHOTO: &[IdentityScope] =
    &[S::Name, S::DateOfBirth, S::Nationality, S::Document, S::TrustLevel, S::Photo];

/// The composite names and what they expand to.
const COMPOSITES: [(&str, &[IdentityScope]); 4] = [
    ("identity:basic", BASIC),
    ("identity:age_verification", AGE_VERIFICATION),
    ("identity:full", FULL),
    ("identity:full_with_photo", FULL_WITH_PHOTO),
];

/// Atoms derived from a source atom: a ceiling with the source covers them.
const DERIVED: [(IdentityScope, &[IdentityScope]); 3] = [
    (S::Name, &[S::GivenName, S::FamilyName, S::NameInitial]),
    (S::DateOfBirth, &[S::AgeOver18, S::AgeOver21, S::AgeOver25, S::AgeRange]),
    (S::Nationality, &[S::IsEuCitizen]),
];

const ALL_NAMES: [&str; 18] = [
    "identity:name",
    "identity:given_name",
    "identity:family_name",
    "identity:date_of_birth",
    "identity:nationality",
    "identity:document",
    "identity:photo",
    "identity:trust_level",
    "identity:age_over_18",
    "identity:age_over_21",
    "identity:age_over_25",
    "identity:age_range",
    "identity:is_eu_citizen",
    "identity:name_initial",
    "identity:basic",
    "identity:age_verification",
    "identity:full",
    "identity:full_with_photo",
];

/// Every scope name this crate knows: the fourteen atoms, then the four composites.
pub fn all_scope_names() -> &'static [&'static str] {
    &ALL_NAMES
}

/// The atoms one scope name stands for, or `None` for an unknown name.
fn atoms_of(name: &str) -> Option<Vec<IdentityScope>> {
    if let Some(atom) = IdentityScope::ALL.iter().find(|a| a.as_str() == name) {
        return Some(vec![*atom]);
    }
    COMPOSITES.iter().find(|(n, _)| *n == name).map(|(_, atoms)| atoms.to_vec())
}

/// A checked list of identity scope names, kept as given (order and spelling).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Checks a list: at most 32 entries, each at most 64 characters, each a known identity scope
    /// (OIDC scopes such as `openid` are the caller's to filter out first), no duplicates.
    /// Errors: [`X1280Error::UnknownScope`] for an unknown name, [`X1280Error::BadRequest`] for the
    /// rest (both 400; `/auth/initiate` reports them as 422 `invalid_scopes`).
    pub fn parse(scopes: &[String]) -> Result<Self, X1280Error> {
        if scopes.len() > MAX_SCOPES {
            return Err(X1280Error::BadRequest(format!("more than {MAX_SCOPES} scopes")));
        }
        for (i, s) in scopes.iter().enumerate() {
            if s.len() > MAX_SCOPE_LEN {
                return Err(X1280Error::BadRequest(format!("scope longer than {MAX_SCOPE_LEN} characters")));
            }
            if atoms_of(s).is_none() {
                return Err(X1280Error::UnknownScope(s.clone()));
            }
            if scopes.iter().take(i).any(|earlier| earlier == s) {
                return Err(X1280Error::BadRequest(format!("duplicate scope {s}")));
            }
        }
        Ok(Self(scopes.to_vec()))
    }

    /// Splits a space-separated scope string (the OAuth `scope` form, what
    /// [`to_space_separated`](Self::to_space_separated) and `Display` write) and parses it;
    /// empty parts from repeated spaces are skipped.
    pub fn parse_space_separated(scopes: &str) -> Result<Self, X1280Error> {
        let list: Vec<String> = scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        Self::parse(&list)
    }

    /// The scope names as given.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names joined by single spaces (the OAuth `scope` claim form).
    pub fn to_space_separated(&self) -> String {
        self.0.join(" ")
    }

    /// The atoms the list stands for, composites expanded.
    pub fn expand(&self) -> BTreeSet<IdentityScope> {
        self.0.iter().filter_map(|s| atoms_of(s)).flatten().collect()
    }

    /// The expanded atoms plus the atoms derived from them (see the module docs): everything a
    /// grant of `self` may be narrowed to.
    pub fn covered(&self) -> BTreeSet<IdentityScope> {
        let mut atoms = self.expand();
        for (source, derived) in DERIVED {
            if atoms.contains(&source) {
                atoms.extend(derived.iter().copied());
            }
        }
        atoms
    }

    /// True when every atom of `self` is covered by `ceiling` (its atoms or atoms derived from them).
    pub fn is_subset_of(&self, ceiling: &ScopeSet) -> bool {
        self.expand().is_subset(&ceiling.covered())
    }

    /// The scopes both `self` and `other` cover, as a ceiling: the names of `self` that `other`
    /// covers entirely, then (in atom order) each atom both cover that those names do not. Its
    /// [`covered`](Self::covered) atoms are exactly those both cover.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        let theirs = other.covered();
        let ours = self.covered();
        let mut names: Vec<String> = self
            .0
            .iter()
            .filter(|s| atoms_of(s).is_some_and(|atoms| atoms.iter().all(|a| theirs.contains(a))))
            .cloned()
            .collect();
        let mut have = ScopeSet(names.clone()).covered();
        for atom in IdentityScope::ALL {
            if ours.contains(&atom) && theirs.contains(&atom) && !have.contains(&atom) {
                names.push(atom.as_str().to_owned());
                have = ScopeSet(names.clone()).covered();
            }
        }
        ScopeSet(names)
    }

    /// `Ok` when `self` fits under the service's ceiling, else [`X1280Error::InvalidScopes`]
    /// (422) naming the scopes beyond it: the `/auth/initiate` check.
    pub fn check_within(&self, ceiling: &ScopeSet) -> Result<(), X1280Error> {
        let beyond = self.not_within(ceiling);
        if beyond.is_empty() { Ok(()) } else { Err(X1280Error::InvalidScopes(beyond.join(" "))) }
    }

    /// The scope names of `self` whose atoms are not all covered by `ceiling` (for error messages).
    pub fn not_within(&self, ceiling: &ScopeSet) -> Vec<String> {
        let allowed = ceiling.covered();
        self.0
            .iter()
            .filter(|s| atoms_of(s).is_some_and(|atoms| atoms.iter().any(|a| !allowed.contains(a))))
            .cloned()
            .collect()
    }

    /// True when the grant is high-risk: it covers every atom of `identity:full` (name, date of
    /// birth, nationality, document, trust level), or both photo and document. SCAL3 will demand
    /// sole-control evidence for these.
    pub fn is_high_risk(&self) -> bool {
        let atoms = self.expand();
        FULL.iter().all(|a| atoms.contains(a)) || (atoms.contains(&S::Photo) && atoms.contains(&S::Document))
    }
}

impl std::fmt::Display for ScopeSet {
    /// The names joined by single spaces, as given.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> ScopeSet {
        ScopeSet::parse(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn every_name_parses_and_atoms_round_trip() {
        for name in all_scope_names() {
            assert!(!set(&[name]).expand().is_empty(), "{name}");
        }
        for atom in IdentityScope::ALL {
            assert_eq!(set(&[atom.as_str()]).expand(), BTreeSet::from([atom]));
        }
        assert_eq!(all_scope_names().len(), 18);
    }

    #[test]
    fn composites_expand() {
        assert_eq!(set(&["identity:basic"]).expand(), BTreeSet::from([S::Name, S::TrustLevel]));
        assert_eq!(set(&["identity:age_verification"]).expand(), BTreeSet::from([S::AgeOver18, S::Name]));
        assert_eq!(set(&["identity:full"]).expand().len(), 5);
        let fwp = set(&["identity:full_with_photo"]).expand();
        assert_eq!(fwp.len(), 6);
        assert!(fwp.contains(&S::Photo));
    }

    #[test]
    fn parse_rejections() {
        let err = ScopeSet::parse(&["openid".to_owned()]).unwrap_err();
        assert_eq!(err, X1280Error::UnknownScope("openid".into()));
        assert!(ScopeSet::parse(&["identity:NAME".to_owned()]).is_err());
        assert!(ScopeSet::parse(&["identity:name ".to_owned()]).is_err());
        let dup = ScopeSet::parse(&["identity:name".to_owned(), "identity:name".to_owned()]);
        assert!(matches!(dup, Err(X1280Error::BadRequest(_))));
        let long = ScopeSet::parse(&["x".repeat(65)]);
        assert!(matches!(long, Err(X1280Error::BadRequest(_))));
        let many: Vec<String> = (0..33).map(|_| "identity:name".to_owned()).collect();
        assert!(matches!(ScopeSet::parse(&many), Err(X1280Error::BadRequest(_))));
        // Overlapping but different names are fine.
        set(&["identity:name", "identity:basic"]);
        assert!(ScopeSet::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn order_and_spelling_are_kept() {
        let s = set(&["identity:trust_level", "identity:name"]);
        assert_eq!(s.as_slice(), ["identity:trust_level", "identity:name"]);
        assert_eq!(s.to_space_separated(), "identity:trust_level identity:name");
        assert_eq!(ScopeSet::parse_space_separated(" identity:trust_level  identity:name").unwrap(), s);
    }

    #[test]
    fn subsets_compare_atoms() {
        let basic = set(&["identity:basic"]);
        assert!(set(&["identity:name"]).is_subset_of(&basic));
        assert!(set(&["identity:trust_level", "identity:name"]).is_subset_of(&basic));
        assert!(!set(&["identity:photo"]).is_subset_of(&basic));
        assert!(set(&["identity:basic"]).is_subset_of(&set(&["identity:name", "identity:trust_level"])));
        assert!(!set(&["identity:full"]).is_subset_of(&basic));
        assert!(ScopeSet::default().is_subset_of(&basic));
        // Derived atoms fit under their source, not the other way round.
        assert!(set(&["identity:given_name"]).is_subset_of(&set(&["identity:name"])));
        assert!(set(&["identity:name_initial", "identity:family_name"]).is_subset_of(&basic));
        assert!(!set(&["identity:name"]).is_subset_of(&set(&["identity:given_name", "identity:family_name"])));
        let dob = set(&["identity:date_of_birth"]);
        assert!(set(&["identity:age_over_21", "identity:age_range"]).is_subset_of(&dob));
        assert!(!dob.is_subset_of(&set(&["identity:age_over_18"])));
        assert!(set(&["identity:is_eu_citizen"]).is_subset_of(&set(&["identity:full"])));
        assert!(!set(&["identity:is_eu_citizen"]).is_subset_of(&basic));
        assert!(!set(&["identity:age_over_18"]).is_subset_of(&basic));
        assert_eq!(set(&["identity:name", "identity:photo"]).not_within(&basic), ["identity:photo"]);
        assert_eq!(set(&["identity:name"]).check_within(&basic), Ok(()));
        assert_eq!(
            set(&["identity:name", "identity:photo", "identity:document"]).check_within(&basic),
            Err(X1280Error::InvalidScopes("identity:photo identity:document".into()))
        );
    }

    #[test]
    fn display_round_trips() {
        let s = set(&["identity:basic", "identity:age_over_18"]);
        assert_eq!(s.to_string(), "identity:basic identity:age_over_18");
        assert_eq!(ScopeSet::parse_space_separated(&s.to_string()).unwrap(), s);
        assert_eq!(ScopeSet::parse_space_separated("").unwrap(), ScopeSet::default());
    }

    #[test]
    fn intersections() {
        let basic = set(&["identity:basic"]);
        let full = set(&["identity:full"]);
        // basic is inside full: kept by name.
        assert_eq!(basic.intersection(&full), basic);
        // full against basic: only the atoms in common.
        assert_eq!(full.intersection(&basic).as_slice(), ["identity:name", "identity:trust_level"]);
        // A derived atom listed by one side, its source by the other.
        let dob = set(&["identity:date_of_birth", "identity:photo"]);
        let age = set(&["identity:age_over_18", "identity:name"]);
        assert_eq!(dob.intersection(&age).as_slice(), ["identity:age_over_18"]);
        assert_eq!(age.intersection(&dob).as_slice(), ["identity:age_over_18"]);
        assert!(set(&["identity:photo"]).intersection(&basic).is_empty());
        // The covered atoms are exactly the common ones, for every pair of single names.
        for a in all_scope_names() {
            for b in all_scope_names() {
                let (x, y) = (set(&[a]), set(&[b]));
                let common: BTreeSet<_> = x.covered().intersection(&y.covered()).copied().collect();
                assert_eq!(x.intersection(&y).covered(), common, "{a} ∩ {b}");
            }
        }
    }

    #[test]
    fn high_risk() {
        assert!(set(&["identity:full"]).is_high_risk());
        assert!(set(&["identity:full_with_photo"]).is_high_risk());
        assert!(set(&["identity:photo", "identity:document"]).is_high_risk());
        assert!(
            set(&["identity:basic", "identity:date_of_birth", "identity:nationality", "identity:document"])
                .is_high_risk()
        );
        assert!(!set(&["identity:basic"]).is_high_risk());
        assert!(!set(&["identity:photo", "identity:name"]).is_high_risk());
        assert!(!set(&["identity:document", "identity:name"]).is_high_risk());
    }
}
