//! What the simulated phone keeps: the server it enrolled with, its device id, its token id, the
//! identity seal and its private key, saved as JSON in a file only its owner may read.
//!
//! ```json
//! {"server": "https://id.example", "deviceId": "sim-…", "tokenId": "…", "vds": "VDSEUA…",
//!  "keyPkcs8": "<Base64 PKCS#8 v1 DER of the P-256 key>",
//!  "scal3PinKey": "<Base64 of 32 random bytes>", "scal3Credential": "<Base64, once enrolled>"}
//! ```
//!
//! `scal3PinKey` is the PIN-derivation key of SCAL3 (the real phone's would be hardware-bound;
//! see `idseal_device::scal3::pin_mask`) and `scal3Credential` the SCAL3 credential once
//! `scal3_enrol` ran. Both are optional when loading, so files written before SCAL3 still load
//! (a missing PIN key is made fresh; a credential without its PIN key is refused).
//!
//! The file is written with mode 0600 (through a temporary file in the same folder and a
//! rename, so a crash never leaves half a key); like ssh, [`DeviceState::load`] refuses a file
//! its group or others can access.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idseal_x1280::DeviceKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{DeviceError, Result};

/// The largest state file read (a seal is a few KiB).
const MAX_STATE_BYTES: u64 = 256 * 1024;

/// The simulated phone's persistent state. `Debug` never shows the key.
#[derive(Clone)]
pub struct DeviceState {
    /// The server's base URL (`http://…` or `https://…`, no trailing slash).
    pub server: String,
    /// The device's own identifier (`sim-` + 16 hex digits for a new state).
    pub device_id: String,
    /// The token id the server bound this key to, once enrolled.
    pub token_id: Option<String>,
    /// The identity seal text (`VDSEUA…`), sent at enrollment and with every approval.
    pub vds: String,
    key_pkcs8: Zeroizing<Vec<u8>>,
    scal3_pin_key: Zeroizing<[u8; 32]>,
    scal3_credential: Option<Vec<u8>>,
}

/// 32 fresh random bytes, zeroized on drop.
fn random_key() -> Result<Zeroizing<[u8; 32]>> {
    let mut k = Zeroizing::new([0u8; 32]);
    SystemRandom::new().fill(k.as_mut()).map_err(|_| DeviceError::BadState("no randomness".into()))?;
    Ok(k)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateOut<'a> {
    server: &'a str,
    device_id: &'a str,
    token_id: Option<&'a str>,
    vds: &'a str,
    key_pkcs8: &'a str,
    scal3_pin_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scal3_credential: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateIn {
    server: String,
    device_id: String,
    #[serde(default)]
    token_id: Option<String>,
    vds: String,
    key_pkcs8: String,
    #[serde(default)]
    scal3_pin_key: Option<String>,
    #[serde(default)]
    scal3_credential: Option<String>,
}

impl DeviceState {
    /// A new phone for `server` holding the seal `vds` (kept as given: Base45 has spaces): a fresh
    /// P-256 key and a random device id.
    pub fn new(server: &str, vds: &str) -> Result<Self> {
        let key = DeviceKey::generate()?;
        let mut id = [0u8; 8];
        SystemRandom::new().fill(&mut id).map_err(|_| DeviceError::BadState("no randomness".into()))?;
        let device_id = format!("sim-{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            device_id,
            token_id: None,
            vds: vds.to_owned(),
            key_pkcs8: key.pkcs8()?,
            scal3_pin_key: random_key()?,
            scal3_credential: None,
        })
    }

    /// The state with a given key (for tests that need two devices sharing one key, or a key
    /// made elsewhere).
    pub fn with_key(server: &str, vds: &str, device_id: &str, key: &DeviceKey) -> Result<Self> {
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            device_id: device_id.to_owned(),
            token_id: None,
            vds: vds.to_owned(),
            key_pkcs8: key.pkcs8()?,
            scal3_pin_key: random_key()?,
            scal3_credential: None,
        })
    }

    /// The device key.
    pub fn device_key(&self) -> Result<DeviceKey> {
        Ok(DeviceKey::from_pkcs8(&self.key_pkcs8)?)
    }

    /// The device key as PKCS#8 v1 DER (the SCAL3 module signs with it in fixed form).
    #[cfg_attr(not(feature = "scal3"), allow(dead_code))]
    pub(crate) fn key_pkcs8(&self) -> &[u8] {
        &self.key_pkcs8
    }

    /// The SCAL3 PIN-derivation key (32 random bytes kept with the state).
    #[cfg_attr(not(feature = "scal3"), allow(dead_code))]
    pub(crate) fn scal3_pin_key(&self) -> &[u8; 32] {
        &self.scal3_pin_key
    }

    /// The SCAL3 credential (the bytes of `idseal_scal3::Credential::to_bytes`), once enrolled.
    pub fn scal3_credential(&self) -> Option<&[u8]> {
        self.scal3_credential.as_deref()
    }

    /// Keeps the SCAL3 credential (after a successful enrolment).
    #[cfg_attr(not(feature = "scal3"), allow(dead_code))]
    pub(crate) fn set_scal3_credential(&mut self, credential: Vec<u8>) {
        self.scal3_credential = Some(credential);
    }

    /// The state as JSON (contains the private key and the PIN-derivation key).
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let key = Zeroizing::new(STANDARD.encode(&*self.key_pkcs8));
        let pin_key = Zeroizing::new(STANDARD.encode(*self.scal3_pin_key));
        let out = StateOut {
            server: &self.server,
            device_id: &self.device_id,
            token_id: self.token_id.as_deref(),
            vds: &self.vds,
            key_pkcs8: &key,
            scal3_pin_key: &pin_key,
            scal3_credential: self.scal3_credential.as_ref().map(|c| STANDARD.encode(c)),
        };
        // Serializing plain strings cannot fail; an empty document would be refused on load.
        Zeroizing::new(serde_json::to_vec_pretty(&out).unwrap_or_default())
    }

    /// Parses the JSON form; the key must be a P-256 PKCS#8 key.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let raw: StateIn = serde_json::from_slice(bytes).map_err(|e| DeviceError::BadState(e.to_string()))?;
        let key_b64 = Zeroizing::new(raw.key_pkcs8);
        let key_pkcs8 = Zeroizing::new(
            STANDARD.decode(key_b64.trim()).map_err(|_| DeviceError::BadState("keyPkcs8 is not Base64".into()))?,
        );
        DeviceKey::from_pkcs8(&key_pkcs8).map_err(|_| DeviceError::BadState("keyPkcs8 is not a P-256 key".into()))?;
        if raw.server.is_empty() || raw.device_id.is_empty() || raw.vds.is_empty() {
            return Err(DeviceError::BadState("server, deviceId and vds must not be empty".into()));
        }
        let scal3_credential = match raw.scal3_credential {
            Some(c) => Some(
                STANDARD.decode(c.trim()).map_err(|_| DeviceError::BadState("scal3Credential is not Base64".into()))?,
            ),
            None => None,
        };
        let scal3_pin_key = match raw.scal3_pin_key {
            Some(k) => {
                let k = Zeroizing::new(k);
                let bytes = Zeroizing::new(
                    STANDARD.decode(k.trim()).map_err(|_| DeviceError::BadState("scal3PinKey is not Base64".into()))?,
                );
                let mut key = Zeroizing::new([0u8; 32]);
                if bytes.len() != key.len() {
                    return Err(DeviceError::BadState("scal3PinKey is not 32 bytes".into()));
                }
                key.copy_from_slice(&bytes);
                key
            }
            // A state from before SCAL3 gets its PIN key now (saved with the next save).
            None if scal3_credential.is_none() => random_key()?,
            None => return Err(DeviceError::BadState("scal3Credential without scal3PinKey".into())),
        };
        Ok(Self {
            server: raw.server,
            device_id: raw.device_id,
            token_id: raw.token_id,
            vds: raw.vds,
            key_pkcs8,
            scal3_pin_key,
            scal3_credential,
        })
    }

    /// Writes the state to `path` with mode 0600, replacing any previous file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| DeviceError::Io { path: path.to_owned(), source };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "state".into());
        let mut nonce = [0u8; 6];
        SystemRandom::new().fill(&mut nonce).map_err(|_| DeviceError::BadState("no randomness".into()))?;
        let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = (|| {
            let mut f = options.open(&tmp)?;
            f.write_all(&self.to_json())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(io)
    }

    /// Reads the state from `path`, refusing a file its group or others may access.
    pub fn load(path: &Path) -> Result<Self> {
        let io = |source| DeviceError::Io { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(DeviceError::StatePermissions { path: path.to_owned(), mode });
            }
        }
        if meta.len() > MAX_STATE_BYTES {
            return Err(DeviceError::BadState("the state file is too large".into()));
        }
        let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
        Self::from_json(&bytes)
    }
}

impl fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceState")
            .field("server", &self.server)
            .field("device_id", &self.device_id)
            .field("token_id", &self.token_id)
            .field("vds_len", &self.vds.len())
            .field("key", &"<redacted>")
            .field("scal3_pin_key", &"<redacted>")
            .field("scal3_enrolled", &self.scal3_credential.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn new_state_round_trips_through_a_0600_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.json");
        let mut st = DeviceState::new("http://127.0.0.1:1/", "VDSEUA XYZ").unwrap();
        assert_eq!(st.server, "http://127.0.0.1:1");
        assert_eq!(st.vds, "VDSEUA XYZ");
        assert!(st.device_id.starts_with("sim-") && st.device_id.len() == 20, "{}", st.device_id);
        st.token_id = Some("0b9f7c2e-1111-4222-8333-444455556666".into());
        st.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let back = DeviceState::load(&path).unwrap();
        assert_eq!(back.server, st.server);
        assert_eq!(back.device_id, st.device_id);
        assert_eq!(back.token_id, st.token_id);
        assert_eq!(back.vds, st.vds);
        assert_eq!(back.device_key().unwrap().public_key(), st.device_key().unwrap().public_key());
        // Saving again replaces the file, and no temporary file is left behind.
        back.save(&path).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn two_new_states_differ() {
        let a = DeviceState::new("http://x", "V").unwrap();
        let b = DeviceState::new("http://x", "V").unwrap();
        assert_ne!(a.device_id, b.device_id);
        assert_ne!(a.device_key().unwrap().public_key(), b.device_key().unwrap().public_key());
    }

    #[cfg(unix)]
    #[test]
    fn group_or_world_readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.json");
        DeviceState::new("http://x", "V").unwrap().save(&path).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o610] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            match DeviceState::load(&path) {
                Err(DeviceError::StatePermissions { mode: m, .. }) => assert_eq!(m, mode),
                other => panic!("mode {mode:o}: {other:?}"),
            }
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        DeviceState::load(&path).unwrap();
    }

    #[test]
    fn malformed_state_is_refused() {
        let good = DeviceState::new("http://x", "V").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&good.to_json()).unwrap();
        let with = |k: &str, val: serde_json::Value| {
            let mut v = v.clone();
            v[k] = val;
            serde_json::to_vec(&v).unwrap()
        };
        let cases: Vec<Vec<u8>> = vec![
            b"not json".to_vec(),
            with("keyPkcs8", "!!!".into()),
            with("keyPkcs8", STANDARD.encode(b"not a key").into()),
            with("server", "".into()),
            with("vds", serde_json::Value::Null),
            with("extra", "x".into()),
        ];
        for c in cases {
            assert!(
                matches!(DeviceState::from_json(&c), Err(DeviceError::BadState(_))),
                "{}",
                String::from_utf8_lossy(&c)
            );
        }
        assert!(DeviceState::from_json(&serde_json::to_vec(&v).unwrap()).is_ok());
    }

    #[test]
    fn scal3_fields_round_trip_and_old_states_still_load() {
        let mut st = DeviceState::new("http://x", "V").unwrap();
        st.set_scal3_credential(vec![1, 2, 3]);
        let back = DeviceState::from_json(&st.to_json()).unwrap();
        assert_eq!(back.scal3_credential(), Some(&[1u8, 2, 3][..]));
        assert_eq!(back.scal3_pin_key(), st.scal3_pin_key());
        // A state file from before SCAL3: no PIN key, no credential; it loads with a new key.
        let mut v: serde_json::Value = serde_json::from_slice(&st.to_json()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("scal3PinKey");
        obj.remove("scal3Credential");
        let old = DeviceState::from_json(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert!(old.scal3_credential().is_none());
        assert_ne!(old.scal3_pin_key(), st.scal3_pin_key());
        // Two fresh states have different PIN keys.
        assert_ne!(DeviceState::new("http://x", "V").unwrap().scal3_pin_key(), st.scal3_pin_key());
    }

    #[test]
    fn bad_scal3_fields_are_refused() {
        let mut st = DeviceState::new("http://x", "V").unwrap();
        st.set_scal3_credential(vec![9; 4]);
        let v: serde_json::Value = serde_json::from_slice(&st.to_json()).unwrap();
        let with = |k: &str, val: Option<serde_json::Value>| {
            let mut v = v.clone();
            match val {
                Some(x) => v[k] = x,
                None => {
                    v.as_object_mut().unwrap().remove(k);
                }
            }
            serde_json::to_vec(&v).unwrap()
        };
        for c in [
            with("scal3PinKey", None),
            with("scal3PinKey", Some(STANDARD.encode([0u8; 31]).into())),
            with("scal3PinKey", Some("!!".into())),
            with("scal3Credential", Some("!!".into())),
        ] {
            assert!(
                matches!(DeviceState::from_json(&c), Err(DeviceError::BadState(_))),
                "{}",
                String::from_utf8_lossy(&c)
            );
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let st = DeviceState::new("http://x", "V").unwrap();
        let key_b64 = STANDARD.encode(&*st.key_pkcs8);
        let dbg = format!("{st:?}");
        assert!(dbg.contains("<redacted>"));
        assert!(!dbg.contains(&key_b64));
        assert!(!dbg.contains(&STANDARD.encode(*st.scal3_pin_key())));
        assert!(!dbg.contains(&format!("{:?}", *st.scal3_pin_key())));
    }
}
