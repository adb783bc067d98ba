//! PKCS#11 signing against SoftHSM2: key generation, signing (verified by aws-lc), reopening
//! by URI, and each error a misconfiguration maps to.
//!
//! A SoftHSM2 token set-up is process-wide state chosen by `SOFTHSM2_CONF`, and this crate
//! forbids `unsafe` (so no `std::env::set_var`): [`hsm_suite`] makes its own token directory
//! and `softhsm2.conf` with `softhsm2-util`, then re-runs this test binary as a child process
//! with `SOFTHSM2_CONF` set, filtered to `pkcs11::hsm_inner`. The tests of [`hsm_inner`] do
//! nothing when `SOFTHSM2_CONF` is unset (in the parent). The child's environment never has
//! `IDSEAL_PKCS11_PIN` except in a second run of `hsm_inner::pin_from_env` alone.
//!
//! Needs SoftHSM2 (`/usr/lib/softhsm/libsofthsm2.so` and `softhsm2-util`); the test fails,
//! never skips, when it is missing.

use std::path::Path;
use std::process::Command;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use idseal_keys::{KeyError, PIN_ENV, Pkcs11Config, Pkcs11Signer};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const INSTALL_HINT: &str = "install SoftHSM2 (Debian/Ubuntu: `apt-get install softhsm2`; .ci/run does it)";
/// The user PIN of every test token: long and distinctive, so a leak is found by substring.
const PIN: &str = "idseal-Pin-4711";
/// A PIN the tokens refuse (also never to appear in an error).
const WRONG_PIN: &str = "wrong-Pin-0815";
const SO_PIN: &str = "idseal-SO-2342";
/// One token per test that logs in, so tests running in parallel in the child do not share
/// a token's login state.
const TOKENS: [&str; 6] = ["keys-sign", "keys-threads", "keys-env", "keys-wrong-pin", "keys-no-key", "keys-relogin"];
/// The number of tests in [`hsm_inner`].
const INNER_TESTS: usize = 7;

fn uri(token: &str, object: &str, pin: Option<&str>) -> String {
    let pin = pin.map(|p| format!("&pin-value={p}")).unwrap_or_default();
    format!("pkcs11:token={token};object={object}?module-path={MODULE}{pin}")
}

fn config(token: &str, object: &str) -> Pkcs11Config {
    Pkcs11Config::from_uri(&uri(token, object, Some(PIN))).unwrap()
}

fn verifies(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key).verify(message, signature).is_ok()
}

/// Neither PIN appears in the error's `Display` or `Debug`.
fn assert_pin_hidden(e: &KeyError) {
    for text in [e.to_string(), format!("{e:?}")] {
        for pin in [PIN, WRONG_PIN] {
            assert!(!text.contains(pin), "PIN in error: {text}");
        }
    }
}

// ---- tests that need no token (run in the parent) ----

#[test]
fn malformed_uris() {
    let module = format!("module-path={MODULE}");
    for bad in [
        // no pkcs11: scheme
        format!("pkcs12:token=t;object=k?{module}&pin-value={PIN}"),
        format!("token=t;object=k?{module}&pin-value={PIN}"),
        format!("PKCS11:token=t;object=k?{module}&pin-value={PIN}"),
        // unknown path / query attribute
        format!("pkcs11:token=t;object=k;serial=42?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=k?{module}&pin-value={PIN}&pin-source=file:/x"),
        // attribute without '='
        format!("pkcs11:token=t;object?{module}&pin-value={PIN}"),
        // missing module-path, with and without pin-value (a malformed URI is reported as
        // such, whether or not a PIN would come from the environment)
        format!("pkcs11:token=t;object=k?pin-value={PIN}"),
        "pkcs11:token=t;object=k".to_owned(),
        // missing token, missing key name
        format!("pkcs11:object=k?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t?{module}&pin-value={PIN}"),
        // bad percent-encoding: not hex, truncated, signed, non-ASCII, not UTF-8
        format!("pkcs11:token=t;object=%zz?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=k%4?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=k%?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=%+1?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=%-1?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=%é?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=%ff?{module}&pin-value={PIN}"),
        format!("pkcs11:token=t;object=k?module-path=%zz&pin-value={PIN}"),
        format!("pkcs11:token=t;object=k?{module}&pin-value=%g0{PIN}"),
    ] {
        match Pkcs11Config::from_uri(&bad) {
            Err(e @ KeyError::Pkcs11Uri(_)) => assert_pin_hidden(&e),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn pin_is_redacted_in_debug() {
    let c = config("t", "k");
    assert_eq!(c.pin.as_str(), PIN);
    let debug = format!("{c:?}");
    assert!(!debug.contains(PIN) && debug.contains("<redacted>"), "{debug}");
    let c =
        Pkcs11Config::from_uri(&format!("pkcs11:token=t;id=%01%a0?module-path={MODULE}&pin-value=a%26b%3Dc")).unwrap();
    assert_eq!(c.pin.as_str(), "a&b=c");
    assert_eq!(c.key_id.as_deref(), Some(&[0x01, 0xA0][..]));
    assert!(!format!("{c:?}").contains("a&b=c"));
    assert!(!format!("{c:#?}").contains("a&b=c"));
}

#[test]
fn module_that_cannot_be_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-module.so");
    let not_a_library = dir.path().join("not-a-library.so");
    std::fs::write(&not_a_library, b"not an ELF file").unwrap();
    for path in [&missing, &not_a_library] {
        let mut c = config("t", "k");
        c.module_path = path.clone();
        match Pkcs11Signer::open(&c) {
            Err(e @ KeyError::Pkcs11Library { .. }) => {
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
                assert_pin_hidden(&e);
            }
            other => panic!("{}: {other:?}", path.display()),
        }
    }
    let u = format!("pkcs11:token=t;object=k?module-path={}&pin-value={PIN}", missing.display());
    assert!(matches!(Pkcs11Signer::from_uri(&u), Err(KeyError::Pkcs11Library { .. })));
}

// ---- the SoftHSM2 child process ----

#[test]
fn hsm_suite() {
    if std::env::var_os("SOFTHSM2_CONF").is_some() {
        return; // we are the child
    }
    assert!(Path::new(MODULE).exists(), "SoftHSM2 module {MODULE} not found: {INSTALL_HINT}");
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
    )
    .unwrap();
    for label in TOKENS {
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", PIN])
            .output()
            .unwrap_or_else(|e| panic!("cannot run softhsm2-util ({e}): {INSTALL_HINT}"));
        assert!(out.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&out.stderr));
    }
    let run = |filter: &str, pin_env: Option<&str>, expected: usize| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env("SOFTHSM2_CONF", &conf).env_remove(PIN_ENV).arg(filter);
        if let Some(pin) = pin_env {
            cmd.env(PIN_ENV, pin);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("{expected} passed")),
            "child `{filter}` (PIN in env: {}):\n{stdout}{}",
            pin_env.is_some(),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("pkcs11::hsm_inner::", None, INNER_TESTS);
    run("pkcs11::hsm_inner::pin_from_env", Some(PIN), 1);
}

/// Runs only in the children of [`hsm_suite`].
mod hsm_inner {
    use super::*;

    fn in_child() -> bool {
        std::env::var_os("SOFTHSM2_CONF").is_some()
    }

    #[test]
    fn generate_sign_verify_and_reopen() {
        if !in_child() {
            return;
        }
        let mut c = config("keys-sign", "seal");
        c.key_id = Some(vec![0x01, 0xA0]);
        let key = Pkcs11Signer::generate(&c).unwrap();
        let public = *key.public_key();
        assert_eq!(public[0], 0x04);
        assert_eq!(key.public_key_ec_point(), [&[0x04, 0x41][..], &public[..]].concat());
        assert!(!format!("{key:?}").contains(PIN));

        let message = b"idseal PKCS#11 message";
        let sig = key.sign_p256_sha256(message).unwrap();
        assert!(verifies(&public, message, &sig));
        assert!(!verifies(&public, b"idseal PKCS#11 messagf", &sig), "a changed message verified");
        let mut flipped = sig;
        flipped[63] ^= 1;
        assert!(!verifies(&public, message, &flipped), "a changed signature verified");
        assert!(verifies(&public, b"", &key.sign_p256_sha256(b"").unwrap()));
        drop(key);
        // A second key under the same label is refused, and the first stays usable.
        assert!(matches!(Pkcs11Signer::generate(&c), Err(KeyError::Pkcs11KeyExists { .. })));

        // reopened by label, by id and by both, from a URI: same key, still signs
        for u in [
            uri("keys-sign", "seal", Some(PIN)),
            format!("pkcs11:token=keys-sign;id=%01%a0?module-path={MODULE}&pin-value={PIN}"),
            format!("pkcs11:token=keys-sign;object=seal;id=%01%A0;type=private?module-path={MODULE}&pin-value={PIN}"),
        ] {
            let again = Pkcs11Signer::from_uri(&u).unwrap();
            assert_eq!(*again.public_key(), public, "{u}");
            let sig = again.sign_p256_sha256(b"second message").unwrap();
            assert!(verifies(&public, b"second message", &sig));
            assert!(!verifies(&public, message, &sig));
        }
    }

    #[test]
    fn concurrent_signing() {
        if !in_child() {
            return;
        }
        let key = Pkcs11Signer::generate(&config("keys-threads", "seal")).unwrap();
        let public = *key.public_key();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let key = &key;
                    s.spawn(move || {
                        for i in 0..25 {
                            let message = format!("thread {t} message {i}");
                            let sig = key.sign_p256_sha256(message.as_bytes()).unwrap();
                            assert!(verifies(&public, message.as_bytes(), &sig), "{message}");
                            assert!(!verifies(&public, format!("{message}!").as_bytes(), &sig));
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        });
    }

    #[test]
    fn wrong_pin() {
        if !in_child() {
            return;
        }
        Pkcs11Signer::generate(&config("keys-wrong-pin", "seal")).unwrap();
        let u = uri("keys-wrong-pin", "seal", Some(WRONG_PIN));
        match Pkcs11Signer::from_uri(&u) {
            Err(e @ KeyError::Pkcs11PinIncorrect) => assert_pin_hidden(&e),
            other => panic!("{other:?}"),
        }
        // the right PIN still works (no lock-out after one failure)
        Pkcs11Signer::from_uri(&uri("keys-wrong-pin", "seal", Some(PIN))).unwrap();
    }

    #[test]
    fn wrong_pin_while_another_signer_is_logged_in() {
        if !in_child() {
            return;
        }
        // PKCS#11 login state is per application and token: while `first` keeps a session
        // logged in, C_Login answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN.
        let first = Pkcs11Signer::generate(&config("keys-relogin", "seal")).unwrap();
        match Pkcs11Signer::from_uri(&uri("keys-relogin", "seal", Some(WRONG_PIN))) {
            Err(e @ KeyError::Pkcs11PinIncorrect) => assert_pin_hidden(&e),
            other => panic!("{other:?}"),
        }
        // The same library through a symlink is the same module and login state: still checked.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("softhsm-link.so");
        std::os::unix::fs::symlink(MODULE, &link).unwrap();
        let via_link =
            format!("pkcs11:token=keys-relogin;object=seal?module-path={}&pin-value={WRONG_PIN}", link.display());
        match Pkcs11Signer::from_uri(&via_link) {
            Err(e @ KeyError::Pkcs11PinIncorrect) => assert_pin_hidden(&e),
            other => panic!("through a symlink: {other:?}"),
        }
        let second = Pkcs11Signer::from_uri(&uri("keys-relogin", "seal", Some(PIN))).unwrap();
        assert_eq!(second.public_key(), first.public_key());
        drop(first);
        let sig = second.sign_p256_sha256(b"m").unwrap();
        assert!(verifies(second.public_key(), b"m", &sig));
    }

    #[test]
    fn unknown_token() {
        if !in_child() {
            return;
        }
        for label in ["no-such-token", "keys-sig", "keys-sign "] {
            match Pkcs11Signer::from_uri(&uri(label, "seal", Some(PIN))) {
                Err(e @ KeyError::Pkcs11TokenNotFound { .. }) => {
                    assert!(e.to_string().contains(label), "{e}");
                    assert_pin_hidden(&e);
                }
                other => panic!("{label:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_key() {
        if !in_child() {
            return;
        }
        Pkcs11Signer::generate(&config("keys-no-key", "present")).unwrap();
        for u in [
            uri("keys-no-key", "absent", Some(PIN)),
            uri("keys-no-key", "presen", Some(PIN)),
            format!("pkcs11:token=keys-no-key;id=%09?module-path={MODULE}&pin-value={PIN}"),
        ] {
            match Pkcs11Signer::from_uri(&u) {
                Err(e @ KeyError::Pkcs11KeyNotFound { .. }) => assert_pin_hidden(&e),
                other => panic!("{u}: {other:?}"),
            }
        }
        Pkcs11Signer::from_uri(&uri("keys-no-key", "present", Some(PIN))).unwrap();
    }

    /// Run twice by [`hsm_suite`]: without `IDSEAL_PKCS11_PIN` in the child's environment,
    /// then (alone) with it set to the token's PIN.
    #[test]
    fn pin_from_env() {
        if !in_child() {
            return;
        }
        let without_pin = uri("keys-env", "seal", None);
        match std::env::var(PIN_ENV) {
            Err(_) => {
                match Pkcs11Config::from_uri(&without_pin) {
                    Err(e @ KeyError::Pkcs11PinMissing) => assert!(e.to_string().contains(PIN_ENV), "{e}"),
                    other => panic!("{other:?}"),
                }
                assert!(matches!(Pkcs11Signer::from_uri(&without_pin), Err(KeyError::Pkcs11PinMissing)));
                // an explicit pin-value needs no environment
                Pkcs11Signer::generate(&config("keys-env", "seal")).unwrap();
            }
            Ok(pin) => {
                assert_eq!(pin, PIN);
                let c = Pkcs11Config::from_uri(&without_pin).unwrap();
                assert_eq!(c.pin.as_str(), PIN);
                assert!(!format!("{c:?}").contains(PIN));
                let key = Pkcs11Signer::open(&c).unwrap();
                let sig = key.sign_p256_sha256(b"pin from the environment").unwrap();
                assert!(verifies(key.public_key(), b"pin from the environment", &sig));
                // pin-value in the URI wins over the environment
                match Pkcs11Signer::from_uri(&uri("keys-env", "seal", Some(WRONG_PIN))) {
                    Err(e @ KeyError::Pkcs11PinIncorrect) => assert_pin_hidden(&e),
                    other => panic!("{other:?}"),
                }
            }
        }
    }
}
