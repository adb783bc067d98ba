//! Checkpoints of the tamper-evident audit log (docs/audit-log.md, "Checkpoints").
//!
//! The log is signed by a dedicated Ed25519 key derived from the master key (HKDF, purpose
//! [`CHECKPOINT_KEY_PURPOSE`]), so it stays the same across restarts, instances and signing-key
//! rotations. The key name and the checkpoint origin are the issuer's host followed by `/log`.

use idseal_keys::{MasterKey, SigningKey};
use idseal_store::{StoreError, StoredCheckpoint};
use idseal_tlog::{Checkpoint, Ed25519NoteSigner, NoteSigner as _, NoteVerifier, TlogError};

use crate::state::AppState;

/// HKDF purpose of the checkpoint key's Ed25519 seed.
pub const CHECKPOINT_KEY_PURPOSE: &str = "idseal/tlog-checkpoint-key";
/// HKDF purpose of the key that pseudonymises subjects and IPs in entries.
pub const PSEUDONYM_KEY_PURPOSE: &str = "idseal/audit-pseudonym";

/// The log's origin (and key name) for `issuer`: its host (and port) followed by `/log`, for
/// example `http://127.0.0.1:8080` gives `127.0.0.1:8080/log`.
pub fn log_origin(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{host}/log")
}

/// The checkpoint signer for a deployment with `master` and `issuer`.
pub fn checkpoint_signer(master: &MasterKey, issuer: &str) -> Result<Ed25519NoteSigner, TlogError> {
    let seed = master.derive(CHECKPOINT_KEY_PURPOSE);
    let key = SigningKey::ed25519_from_seed("tlog-checkpoint", &seed)
        .map_err(|_| TlogError::Signing("cannot derive the checkpoint key"))?;
    Ed25519NoteSigner::new(log_origin(issuer), key)
}

/// The verifier of [`checkpoint_signer`]: what auditors configure.
pub fn checkpoint_verifier(master: &MasterKey, issuer: &str) -> Result<NoteVerifier, TlogError> {
    checkpoint_signer(master, issuer).map(|s| s.verifier())
}

/// Sign and store a checkpoint of the log as it is now, unless the latest stored checkpoint
/// already covers it. Returns the latest checkpoint. Several instances may do this at once: the
/// checkpoint key is the same and Ed25519 is deterministic, so they store the same note.
pub async fn sign_checkpoint(st: &AppState) -> Result<StoredCheckpoint, StoreError> {
    let size = st.store.tlog_size().await?;
    if let Some(latest) = st.store.tlog_latest_checkpoint().await?
        && latest.size >= size
    {
        return Ok(latest);
    }
    let root = st.store.tlog_root(size).await?;
    let note = Checkpoint::new(st.log_signer.name(), size, root)?.sign(&[st.log_signer.as_ref()])?;
    let at = st.clock.now();
    st.store.tlog_add_checkpoint(size, &root, &note, at).await?;
    Ok(StoredCheckpoint { size, root: root.to_vec(), note, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_host_and_log() {
        assert_eq!(log_origin("http://127.0.0.1:8080"), "127.0.0.1:8080/log");
        assert_eq!(log_origin("https://id.example.com/tenant"), "id.example.com/log");
    }

    #[test]
    fn checkpoint_key_is_stable_and_distinct() {
        let m = MasterKey::parse(&"11".repeat(32)).unwrap();
        let a = checkpoint_verifier(&m, "https://id.example.com").unwrap();
        let b = checkpoint_verifier(&m, "https://id.example.com").unwrap();
        assert_eq!(a.vkey(), b.vkey());
        let other = MasterKey::parse(&"22".repeat(32)).unwrap();
        assert_ne!(checkpoint_verifier(&other, "https://id.example.com").unwrap().vkey(), a.vkey());
        assert!(a.vkey().starts_with("id.example.com/log+"));
    }
}
