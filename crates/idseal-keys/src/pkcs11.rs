//! ECDSA P-256 signing with a key held by a PKCS#11 token (an HSM, or SoftHSM2 in tests).
//!
//! The private key never leaves the token. [`Pkcs11Signer::sign_p256_sha256`] computes
//! SHA-256 of the message here and asks the token for `CKM_ECDSA` over that digest, so its
//! output verifies exactly like aws-lc's `ECDSA_P256_SHA256_FIXED` over the same message: raw
//! `r || s`, 64 bytes.
//!
//! A key is named by a [`Pkcs11Config`], usually parsed from a PKCS#11 URI (RFC 7512 subset):
//! `pkcs11:token=LABEL;object=KEY?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`.
//! Without `pin-value` the PIN comes from the environment variable [`PIN_ENV`]. The PIN is held
//! in a zeroizing buffer and never appears in `Debug` output, errors or logs.
//!
//! PKCS#11 modules are initialised once per process and path and never finalised: a module is
//! process-wide state, and finalising it under another user of the same module would break it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::error::KeyError;

/// The environment variable read for the user PIN when the URI carries no `pin-value`.
pub const PIN_ENV: &str = "IDSEAL_PKCS11_PIN";

/// DER of the named curve prime256v1 (1.2.840.10045.3.1.7), the value of `CKA_EC_PARAMS`.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Where a key lives: module, token, key label and/or id, and the user PIN.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (`.so`).
    pub module_path: PathBuf,
    /// The token label (`CKA_LABEL` of the token, without padding).
    pub token_label: String,
    /// The key label (`CKA_LABEL`), if the key is named by label.
    pub key_label: Option<String>,
    /// The key id (`CKA_ID`), if the key is named by id.
    pub key_id: Option<Vec<u8>>,
    /// The user PIN.
    pub pin: Zeroizing<String>,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module_path", &self.module_path)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .field("key_id", &self.key_id)
            .field("pin", &"<redacted>")
            .finish()
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>, KeyError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(KeyError::Pkcs11Uri("truncated percent escape"))?;
            // two hex digits exactly: `from_str_radix` alone would take a sign (`%+1`)
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(KeyError::Pkcs11Uri("bad percent escape"));
            }
            let hex = std::str::from_utf8(hex).map_err(|_| KeyError::Pkcs11Uri("bad percent escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| KeyError::Pkcs11Uri("bad percent escape"))?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

fn utf8(v: Vec<u8>) -> Result<String, KeyError> {
    String::from_utf8(v).map_err(|_| KeyError::Pkcs11Uri("attribute is not UTF-8"))
}

impl Pkcs11Config {
    /// Parses a PKCS#11 URI: path attributes `token`, `object`, `id` (and `type`, ignored);
    /// query attributes `module-path` (required) and `pin-value`. Without `pin-value`, the PIN
    /// is read from [`PIN_ENV`].
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        let rest = uri.strip_prefix("pkcs11:").ok_or(KeyError::Pkcs11Uri("does not start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut id, mut module, mut pin) = (None, None, None, None, None);
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').ok_or(KeyError::Pkcs11Uri("path attribute without '='"))?;
            let v = percent_decode(v)?;
            match k {
                "token" => token = Some(utf8(v)?),
                "object" => object = Some(utf8(v)?),
                "id" => id = Some(v),
                "type" => {}
                _ => return Err(KeyError::Pkcs11Uri("unsupported path attribute")),
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').ok_or(KeyError::Pkcs11Uri("query attribute without '='"))?;
            let v = percent_decode(v)?;
            match k {
                "module-path" => module = Some(PathBuf::from(utf8(v)?)),
                "pin-value" => pin = Some(Zeroizing::new(utf8(v)?)),
                _ => return Err(KeyError::Pkcs11Uri("unsupported query attribute")),
            }
        }
        if object.is_none() && id.is_none() {
            return Err(KeyError::Pkcs11Uri("neither object nor id names the key"));
        }
        let module_path = module.ok_or(KeyError::Pkcs11Uri("module-path is required"))?;
        let token_label = token.ok_or(KeyError::Pkcs11Uri("token is required"))?;
        // the PIN last: a malformed URI is reported as such, not as a missing PIN
        let pin = match pin {
            Some(p) => p,
            None => Zeroizing::new(std::env::var(PIN_ENV).map_err(|_| KeyError::Pkcs11PinMissing)?),
        };
        Ok(Self { module_path, token_label, key_label: object, key_id: id, pin })
    }

    fn key_template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![Attribute::Class(class), Attribute::KeyType(KeyType::EC)];
        if let Some(label) = &self.key_label {
            t.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.key_id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }

    fn key_name(&self) -> String {
        match (&self.key_label, &self.key_id) {
            (Some(l), _) => l.clone(),
            (None, Some(id)) => id.iter().map(|b| format!("{b:02x}")).collect(),
            (None, None) => String::new(),
        }
    }
}

fn ck(operation: &'static str) -> impl Fn(CkError) -> KeyError {
    move |e| KeyError::Pkcs11 { operation, reason: e.to_string() }
}

/// The process-wide, initialised module for `path`, and its canonical path (so that one
/// library reached through a symlink or another spelling is one module, with one login state).
fn module(path: &Path) -> Result<(Pkcs11, PathBuf), KeyError> {
    let path = &std::fs::canonicalize(path)
        .map_err(|e| KeyError::Pkcs11Library { path: path.display().to_string(), reason: e.to_string() })?;
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .map_err(|_| KeyError::Pkcs11 { operation: "module cache", reason: "poisoned lock".into() })?;
    if let Some(m) = modules.get(path) {
        return Ok((m.clone(), path.clone()));
    }
    if !path.exists() {
        return Err(KeyError::Pkcs11Library { path: path.display().to_string(), reason: "no such file".into() });
    }
    let m = Pkcs11::new(path)
        .map_err(|e| KeyError::Pkcs11Library { path: path.display().to_string(), reason: e.to_string() })?;
    match m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("C_Initialize")(e)),
    }
    modules.insert(path.clone(), m.clone());
    Ok((m, path.clone()))
}

/// Opens a logged-in read-write session on the token labelled `config.token_label`.
fn open_session(config: &Pkcs11Config) -> Result<Session, KeyError> {
    let (m, module_path) = module(&config.module_path)?;
    let slot = m
        .get_slots_with_token()
        .map_err(ck("C_GetSlotList"))?
        .into_iter()
        .find(|s| m.get_token_info(*s).is_ok_and(|i| i.label().trim_end() == config.token_label))
        .ok_or_else(|| KeyError::Pkcs11TokenNotFound { label: config.token_label.clone() })?;
    let session = m.open_rw_session(slot).map_err(ck("C_OpenSession"))?;
    // Login state is per process and token, not per session: while another session of ours is
    // logged in, C_Login answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN. So the
    // PIN of the last successful login is kept per token and a later PIN compared with it.
    type Logins = HashMap<(PathBuf, Slot), Zeroizing<String>>;
    static LOGINS: OnceLock<Mutex<Logins>> = OnceLock::new();
    let mut logins = LOGINS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .map_err(|_| KeyError::Pkcs11 { operation: "login cache", reason: "poisoned lock".into() })?;
    let token = (module_path, slot);
    let pin = AuthPin::new(config.pin.as_str().into());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) => {
            logins.insert(token, config.pin.clone());
            Ok(session)
        }
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => match logins.get(&token) {
            Some(p) if verify_slices_are_equal(p.as_bytes(), config.pin.as_bytes()).is_ok() => Ok(session),
            // A wrong PIN, or a login made outside this module's code whose PIN we cannot
            // compare: fail closed.
            _ => Err(KeyError::Pkcs11PinIncorrect),
        },
        Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _)) => {
            Err(KeyError::Pkcs11PinIncorrect)
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(KeyError::Pkcs11PinLocked),
        Err(e) => Err(ck("C_Login")(e)),
    }
}

fn find_one(session: &Session, config: &Pkcs11Config, class: ObjectClass) -> Result<ObjectHandle, KeyError> {
    let found = session.find_objects(&config.key_template(class)).map_err(ck("C_FindObjects"))?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(KeyError::Pkcs11KeyNotFound { name: config.key_name() }),
        _ => Err(KeyError::Pkcs11 { operation: "C_FindObjects", reason: "more than one key matches".into() }),
    }
}

/// The 65-byte uncompressed point from `CKA_EC_POINT` (a DER OCTET STRING, or the raw point
/// from modules that omit the wrapper).
fn point_from_ec_point(v: &[u8]) -> Result<[u8; 65], KeyError> {
    let raw = match v {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        _ => v,
    };
    match <[u8; 65]>::try_from(raw) {
        Ok(p) if p.first() == Some(&0x04) => Ok(p),
        _ => Err(KeyError::Pkcs11 { operation: "CKA_EC_POINT", reason: "not an uncompressed P-256 point".into() }),
    }
}

/// A P-256 ECDSA signing key on a PKCS#11 token, with a logged-in session.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    public_key: [u8; 65],
    name: String,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer").field("key", &self.name).finish_non_exhaustive()
    }
}

impl Pkcs11Signer {
    /// Opens the key named by `config`: loads the module, finds the token by label, logs in,
    /// and finds the private and public key objects (the public key gives
    /// [`Self::public_key`]).
    pub fn open(config: &Pkcs11Config) -> Result<Self, KeyError> {
        let session = open_session(config)?;
        let key = find_one(&session, config, ObjectClass::PRIVATE_KEY)?;
        let public = find_one(&session, config, ObjectClass::PUBLIC_KEY)?;
        let attrs = session.get_attributes(public, &[AttributeType::EcPoint]).map_err(ck("C_GetAttributeValue"))?;
        let point = attrs
            .iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p.as_slice()),
                _ => None,
            })
            .ok_or(KeyError::Pkcs11 { operation: "C_GetAttributeValue", reason: "no CKA_EC_POINT".into() })?;
        let public_key = point_from_ec_point(point)?;
        Ok(Self { session: Mutex::new(session), key, public_key, name: config.key_name() })
    }

    /// Opens the key named by a PKCS#11 URI (see [`Pkcs11Config::from_uri`]).
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        Self::open(&Pkcs11Config::from_uri(uri)?)
    }

    /// Generates a P-256 key pair on the token (persistent, private key sensitive and not
    /// extractable) under `config.key_label` / `config.key_id`, then opens it. For development
    /// set-ups and tests; production keys are made by the HSM's own ceremony.
    pub fn generate(config: &Pkcs11Config) -> Result<Self, KeyError> {
        let session = open_session(config)?;
        // A second key under the same label or id would make every later open ambiguous.
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            if !session.find_objects(&config.key_template(class)).map_err(ck("C_FindObjects"))?.is_empty() {
                return Err(KeyError::Pkcs11KeyExists { name: config.key_name() });
            }
        }
        let mut public =
            vec![Attribute::Token(true), Attribute::Verify(true), Attribute::EcParams(P256_PARAMS.to_vec())];
        let mut private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ];
        for t in [&mut public, &mut private] {
            if let Some(label) = &config.key_label {
                t.push(Attribute::Label(label.as_bytes().to_vec()));
            }
            if let Some(id) = &config.key_id {
                t.push(Attribute::Id(id.clone()));
            }
        }
        session.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private).map_err(ck("C_GenerateKeyPair"))?;
        drop(session);
        Self::open(config)
    }

    /// The public key as an uncompressed point (`0x04 || X || Y`, 65 bytes).
    pub fn public_key(&self) -> &[u8; 65] {
        &self.public_key
    }

    /// The public key as the DER of `CKA_EC_POINT`: an OCTET STRING wrapping the point.
    pub fn public_key_ec_point(&self) -> Vec<u8> {
        let mut v = vec![0x04, 0x41];
        v.extend_from_slice(&self.public_key);
        v
    }

    /// ECDSA P-256 over SHA-256(`message`), as raw `r || s` (either S form).
    pub fn sign_p256_sha256(&self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let hash = digest(&SHA256, message);
        let session = self
            .session
            .lock()
            .map_err(|_| KeyError::Pkcs11 { operation: "C_Sign", reason: "poisoned lock".into() })?;
        let sig = session.sign(&Mechanism::Ecdsa, self.key, hash.as_ref()).map_err(ck("C_Sign"))?;
        <[u8; 64]>::try_from(sig.as_slice())
            .map_err(|_| KeyError::Pkcs11 { operation: "C_Sign", reason: "signature is not 64 bytes".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parsing() {
        let c = Pkcs11Config::from_uri(
            "pkcs11:token=My%20Token;object=seal;id=%01%02;type=private?module-path=/x/y.so&pin-value=12%2634",
        )
        .unwrap();
        assert_eq!(c.token_label, "My Token");
        assert_eq!(c.key_label.as_deref(), Some("seal"));
        assert_eq!(c.key_id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(c.module_path, PathBuf::from("/x/y.so"));
        assert_eq!(c.pin.as_str(), "12&34");
        assert!(!format!("{c:?}").contains("12&34"));
        for bad in [
            "pkcs:token=a;object=b?module-path=x&pin-value=1",
            "pkcs11:token=a?module-path=x&pin-value=1",
            "pkcs11:object=b?module-path=x&pin-value=1",
            "pkcs11:token=a;object=b?pin-value=1",
            "pkcs11:token=a;object=b;serial=1?module-path=x&pin-value=1",
            "pkcs11:token=a;object=%zz?module-path=x&pin-value=1",
            "pkcs11:token=a;object=%2?module-path=x&pin-value=1",
        ] {
            assert!(matches!(Pkcs11Config::from_uri(bad), Err(KeyError::Pkcs11Uri(_))), "{bad}");
        }
    }

    #[test]
    fn ec_point_forms() {
        let mut p = [7u8; 65];
        p[0] = 4;
        let mut der = vec![0x04, 0x41];
        der.extend_from_slice(&p);
        assert_eq!(point_from_ec_point(&der).unwrap(), p);
        assert_eq!(point_from_ec_point(&p).unwrap(), p);
        assert!(point_from_ec_point(&p[..64]).is_err());
    }
}
