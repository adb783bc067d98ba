//! The audit log: every audit event is a log entry, and checkpoints verify with the log's
//! verifier key (derived from the master key, stable across signing-key rotations).

use axum::http::StatusCode;
use idseal_keys::MasterKey;
use idseal_tlog::{Checkpoint, NoteVerifier, hash, proof};

use crate::support::{TestDb, post};

both_backends!(rotation_grows_log_and_checkpoint_verifies);

async fn rotation_grows_log_and_checkpoint_verifies(db: &TestDb) {
    let s = db.server(|_| {}).await;
    let store = &s.state.store;
    // First start: key generation and the bootstrap token are already in the log, in step with
    // the audit table.
    let before = store.tlog_size().await.unwrap();
    assert!(before > 0);
    assert_eq!(before, store.audit_events(None, 10_000).await.unwrap().len() as u64);
    let first = idseal_server::tlog::sign_checkpoint(&s.state).await.unwrap();
    assert_eq!(first.size, before);

    let r = post("/admin/keys/rotate").bearer(s.token()).json(r#"{"alg":"EdDSA"}"#).send(&s.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let after = store.tlog_size().await.unwrap();
    assert_eq!(after, before + 1, "the rotation is one more entry");
    let e = store.tlog_entry(before).await.unwrap().unwrap();
    assert_eq!(e.kind.as_deref(), Some("KEY_ROTATE"));

    let cp = idseal_server::tlog::sign_checkpoint(&s.state).await.unwrap();
    assert_eq!(cp.size, after);
    // Signing again without growth returns the same checkpoint.
    assert_eq!(idseal_server::tlog::sign_checkpoint(&s.state).await.unwrap(), cp);

    // The published verifier key is the one derived from the master key.
    let vkey = s.state.log_verifier_key();
    let master = MasterKey::parse(&std::fs::read_to_string(db.master_key_file()).unwrap()).unwrap();
    let issuer = &s.state.settings.issuer;
    assert_eq!(idseal_server::tlog::checkpoint_verifier(&master, issuer).unwrap().vkey(), vkey);
    let origin = idseal_server::tlog::log_origin(issuer);
    assert!(vkey.starts_with(&format!("{origin}+")));
    let verifier = NoteVerifier::from_vkey(&vkey).unwrap();
    let opened = Checkpoint::open(cp.note.as_bytes(), &origin, std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(opened.size(), after);
    assert_eq!(opened.root(), &store.tlog_root(after).await.unwrap());
    // The older checkpoint is consistent with the newer one.
    let old = Checkpoint::open(first.note.as_bytes(), &origin, &[verifier]).unwrap();
    let p = store.tlog_consistency_proof(old.size(), after).await.unwrap();
    proof::verify_consistency(old.size(), after, &p, old.root(), opened.root()).unwrap();
    // And the rotation entry is in it.
    let p = store.tlog_inclusion_proof(before, after).await.unwrap();
    proof::verify_inclusion(&hash::leaf_hash(&e.data), before, after, &p, opened.root()).unwrap();
    // A wrong key does not verify it.
    let other = idseal_server::tlog::checkpoint_verifier(&MasterKey::parse(&"33".repeat(32)).unwrap(), issuer).unwrap();
    assert!(Checkpoint::open(cp.note.as_bytes(), &origin, &[other]).is_err());
}
