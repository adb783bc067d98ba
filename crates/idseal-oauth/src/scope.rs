//! Scope sets (RFC 6749 §3.3).

use std::collections::BTreeSet;
use std::fmt;

use crate::error::OAuthError;

/// The scopes this provider knows and may grant.
pub const KNOWN: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Every scope a client may register and request: the OIDC ones above and the identity scopes
/// of passwordless login (`identity:*`, released only by a phone approval; docs/passwordless.md).
pub fn supported() -> Vec<&'static str> {
    KNOWN.iter().copied().chain(idseal_x1280::all_scope_names().iter().copied()).collect()
}

/// Longest scope token accepted.
const MAX_TOKEN_LEN: usize = 64;
/// Most scope tokens accepted in one value.
const MAX_TOKENS: usize = 32;

/// A set of scope tokens, kept sorted; `Display` gives the space-delimited form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parse a space-delimited scope value (RFC 6749 §3.3). The empty string is the empty set.
    /// Repeated spaces and repeated tokens are tolerated.
    ///
    /// # Errors
    ///
    /// [`OAuthError::InvalidScope`] when a token is longer than 64 characters or holds a
    /// character outside NQCHAR (`%x21 / %x23-5B / %x5D-7E`), or there are more than 32 tokens.
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for (i, token) in s.split(' ').filter(|t| !t.is_empty()).enumerate() {
            if i >= MAX_TOKENS {
                return Err(OAuthError::InvalidScope(format!("at most {MAX_TOKENS} scope values are allowed")));
            }
            if token.len() > MAX_TOKEN_LEN {
                return Err(OAuthError::InvalidScope(format!("scope values are at most {MAX_TOKEN_LEN} characters")));
            }
            if !token.bytes().all(is_nqchar) {
                return Err(OAuthError::InvalidScope("scope contains a character not allowed by RFC 6749 §3.3".into()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// A set from fixed tokens (not validated: for constants and tests).
    pub fn from_static(tokens: &[&str]) -> Self {
        Self(tokens.iter().map(|&t| t.to_owned()).collect())
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Tokens in either set.
    pub fn union(&self, other: &Self) -> Self {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Tokens in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}

impl FromIterator<String> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// RFC 6749 Appendix A.4: `NQCHAR = %x21 / %x23-5B / %x5D-7E`.
fn is_nqchar(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parse_and_display() {
        let s = ScopeSet::parse("openid  email profile openid").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.to_string(), "email openid profile");
        assert!(s.contains("email") && !s.contains("offline_access"));
        assert!(ScopeSet::parse("").unwrap().is_empty());
        assert!(ScopeSet::parse("   ").unwrap().is_empty());
        assert_eq!(ScopeSet::parse("").unwrap().to_string(), "");
    }

    #[test]
    fn parse_errors() {
        let long = "a".repeat(65);
        let many = (0..33).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ");
        for bad in ["a\"b", "a\\b", "tab\there", "é", "new\nline", long.as_str(), many.as_str()] {
            assert!(matches!(ScopeSet::parse(bad), Err(OAuthError::InvalidScope(_))), "{bad:?}");
        }
        assert_eq!(ScopeSet::parse(&"a".repeat(64)).unwrap().len(), 1);
        let ok32 = (0..32).map(|i| format!("s{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(ScopeSet::parse(&ok32).unwrap().len(), 32);
        assert!(ScopeSet::parse("!#[]~").is_ok());
    }

    #[test]
    fn set_operations() {
        let a = ScopeSet::from_static(&["openid", "email"]);
        let b = ScopeSet::from_static(KNOWN);
        assert!(a.is_subset(&b) && !b.is_subset(&a));
        assert_eq!(a.union(&b), b);
        assert_eq!(a.intersection(&b), a);
        assert_eq!(a.iter().collect::<Vec<_>>(), ["email", "openid"]);
        let c: ScopeSet = vec!["x".to_owned(), "y".to_owned()].into_iter().collect();
        assert!(c.intersection(&a).is_empty());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(tokens in proptest::collection::btree_set("[!#-\\[\\]-~]{1,64}", 0..=32)) {
            let set: ScopeSet = tokens.into_iter().collect();
            let text = set.to_string();
            let back = ScopeSet::parse(&text).unwrap();
            prop_assert_eq!(&back, &set);
            prop_assert_eq!(back.to_string(), text);
        }
    }
}
