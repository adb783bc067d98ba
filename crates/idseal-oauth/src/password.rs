//! Password policy and argon2id hashing (RFC 9106; NIST SP 800-63B §5.1.1.2).

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::error::OAuthError;

/// Most memory a hash may ask for, in KiB (4 GiB).
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
/// Most iterations a hash may ask for.
const MAX_ITERATIONS: u32 = 100;
/// Most lanes a hash may ask for.
const MAX_PARALLELISM: u32 = 16;
/// Shortest password, in bytes and in characters.
const MIN_PASSWORD: usize = 10;
/// Longest password, in bytes.
const MAX_PASSWORD_BYTES: usize = 1024;

/// argon2id cost parameters (config `oauth.argon2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// The OWASP minimum: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self { memory_kib: 19456, iterations: 2, parallelism: 1 }
    }
}

impl Argon2Params {
    /// Check the parameters are usable and not absurd: memory from 8 KiB per lane to 4 GiB,
    /// 1 to 100 iterations, 1 to 16 lanes.
    ///
    /// # Errors
    ///
    /// [`OAuthError::ServerError`] naming the parameter out of range.
    pub fn validate(&self) -> Result<(), OAuthError> {
        let fail = |m: &str| OAuthError::ServerError(m.to_owned());
        if !(1..=MAX_PARALLELISM).contains(&self.parallelism) {
            return Err(fail("argon2 parallelism must be 1 to 16"));
        }
        if self.memory_kib < self.parallelism.saturating_mul(8) || self.memory_kib > MAX_MEMORY_KIB {
            return Err(fail("argon2 memory must be at least 8 KiB per lane and at most 4 GiB"));
        }
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(fail("argon2 iterations must be 1 to 100"));
        }
        Ok(())
    }

    fn to_argon2(self) -> Result<Argon2<'static>, OAuthError> {
        self.validate()?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|_| OAuthError::ServerError("argon2 parameters refused".into()))?;
        Ok(Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Check a new password against the policy: 10 to 1024 bytes and at least 10 characters,
/// no composition rules (NIST SP 800-63B §5.1.1.2).
///
/// # Errors
///
/// [`OAuthError::InvalidRequest`] with a message for the user.
pub fn check_policy(password: &str) -> Result<(), OAuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(OAuthError::InvalidRequest("The password is too long (at most 1024 bytes).".into()));
    }
    if password.len() < MIN_PASSWORD || password.chars().count() < MIN_PASSWORD {
        return Err(OAuthError::InvalidRequest("The password must be at least 10 characters long.".into()));
    }
    Ok(())
}

/// Hash `password` with argon2id v=19 under `salt` and `params`, as a PHC string.
///
/// # Errors
///
/// [`OAuthError::ServerError`] when the parameters are invalid or hashing fails.
pub fn hash(password: &str, salt: &[u8; 16], params: &Argon2Params) -> Result<String, OAuthError> {
    let argon2 = params.to_argon2()?;
    let salt = SaltString::encode_b64(salt).map_err(|_| OAuthError::ServerError("argon2 salt refused".into()))?;
    let phc = argon2
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| OAuthError::ServerError("password hashing failed".into()))?;
    Ok(phc.to_string())
}

/// Parse a stored PHC string and check it is argon2id v=19 with sane parameters, so that a
/// tampered row cannot make verification allocate gigabytes or loop for minutes.
fn parse_stored(phc: &str) -> Result<(PasswordHash<'_>, Params), OAuthError> {
    let fail = || OAuthError::ServerError("stored password hash is malformed".into());
    let parsed = PasswordHash::new(phc).map_err(|_| fail())?;
    if parsed.algorithm != argon2::Algorithm::Argon2id.ident() || parsed.version != Some(Version::V0x13.into()) {
        return Err(fail());
    }
    let params = Params::try_from(&parsed).map_err(|_| fail())?;
    let ours = Argon2Params { memory_kib: params.m_cost(), iterations: params.t_cost(), parallelism: params.p_cost() };
    ours.validate().map_err(|_| fail())?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(fail());
    }
    Ok((parsed, params))
}

/// Verify `password` against a stored PHC string (constant-time comparison inside argon2).
///
/// # Errors
///
/// [`OAuthError::ServerError`] when the stored hash is malformed, not argon2id v=19, or asks
/// for absurd parameters. A wrong password is `Ok(false)`.
pub fn verify(password: &str, phc: &str) -> Result<bool, OAuthError> {
    let (parsed, params) = parse_stored(phc)?;
    let argon2 = Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params);
    match argon2.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(_) => Err(OAuthError::ServerError("password verification failed".into())),
    }
}

/// Whether a stored hash should be recomputed with `params` at the next successful login
/// (different algorithm, version or cost; or not parseable).
pub fn needs_rehash(phc: &str, params: &Argon2Params) -> bool {
    match parse_stored(phc) {
        Ok((_, p)) => {
            p.m_cost() != params.memory_kib || p.t_cost() != params.iterations || p.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

/// A hash of a fixed password under a fixed salt, for verifying logins of unknown accounts in
/// the same time as known ones. Compute it once per parameter set and cache it. Returns an
/// empty string (which [`verify`] refuses) only when `params` are invalid; validate them at
/// startup.
pub fn dummy_hash(params: &Argon2Params) -> String {
    hash("idseal-dummy-password-never-valid", &[0x5a; 16], params).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Argon2Params = Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn hash_verify_rehash() {
        let h = hash("correct horse battery", &[1; 16], &SMALL).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h).unwrap());
        assert!(!verify("correct horse batterY", &h).unwrap());
        assert!(!needs_rehash(&h, &SMALL));
        assert!(needs_rehash(&h, &Argon2Params { iterations: 2, ..SMALL }));
        assert!(needs_rehash(&h, &Argon2Params { memory_kib: 128, ..SMALL }));
        assert!(needs_rehash("garbage", &SMALL));
        // Same salt, same hash: hashing is deterministic given its inputs.
        assert_eq!(h, hash("correct horse battery", &[1; 16], &SMALL).unwrap());
        assert_ne!(h, hash("correct horse battery", &[2; 16], &SMALL).unwrap());
    }

    #[test]
    fn malformed_and_absurd_stored_hashes() {
        let h = hash("correct horse battery", &[1; 16], &SMALL).unwrap();
        let huge = h.replace("m=64", "m=4194305");
        let slow = h.replace("t=1", "t=101");
        let wide = h.replace("p=1", "p=17");
        let argon2i = h.replace("$argon2id$", "$argon2i$");
        let old = h.replace("v=19", "v=16");
        for bad in [
            "",
            "garbage",
            "$argon2id$v=19$m=64,t=1,p=1$",
            huge.as_str(),
            slow.as_str(),
            wide.as_str(),
            argon2i.as_str(),
            old.as_str(),
        ] {
            assert!(matches!(verify("correct horse battery", bad), Err(OAuthError::ServerError(_))), "{bad}");
            assert!(needs_rehash(bad, &SMALL));
        }
    }

    #[test]
    fn params_validation() {
        Argon2Params::default().validate().unwrap();
        assert_eq!(Argon2Params::default(), Argon2Params { memory_kib: 19456, iterations: 2, parallelism: 1 });
        SMALL.validate().unwrap();
        for bad in [
            Argon2Params { memory_kib: 7, ..SMALL },
            Argon2Params { memory_kib: 16, parallelism: 4, ..SMALL },
            Argon2Params { memory_kib: MAX_MEMORY_KIB + 1, ..SMALL },
            Argon2Params { iterations: 0, ..SMALL },
            Argon2Params { iterations: 101, ..SMALL },
            Argon2Params { parallelism: 0, ..SMALL },
            Argon2Params { memory_kib: 1024, parallelism: 17, ..SMALL },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
            assert!(hash("correct horse battery", &[0; 16], &bad).is_err());
        }
        assert_eq!(dummy_hash(&Argon2Params { iterations: 0, ..SMALL }), "");
    }

    #[test]
    fn dummy_hash_is_stable_and_refuses_guesses() {
        let d = dummy_hash(&SMALL);
        assert_eq!(d, dummy_hash(&SMALL));
        assert!(!verify("anything at all", &d).unwrap());
        assert!(!needs_rehash(&d, &SMALL));
    }

    #[test]
    fn policy() {
        check_policy("0123456789").unwrap();
        check_policy(&"x".repeat(1024)).unwrap();
        check_policy("éééééééééé").unwrap();
        for bad in [String::new(), "short".into(), "123456789".into(), "x".repeat(1025), "😀😀😀".into()] {
            assert!(matches!(check_policy(&bad), Err(OAuthError::InvalidRequest(_))), "{bad}");
        }
    }
}
