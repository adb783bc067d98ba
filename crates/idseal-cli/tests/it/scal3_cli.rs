//! `idseal scal3 verify` offline, no server: a bundle made with the pure SCAL3 crate (provider
//! secrets made here) and a log made with idseal-tlog verify; any altered byte of the record,
//! the credential or the instruction, and any altered entry, proof or checkpoint, fails.

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idseal_scal3::{ChallengeId, KemSecretKey, ProviderSecrets, authenticate, enrol};
use idseal_tlog::entry::{PseudonymKey, encode};
use idseal_tlog::proof::inclusion_proof;
use idseal_tlog::{Checkpoint, MemoryTree, NoteSigner};
use idseal_types::{AuditEvent, AuditEventKind, UnixTime};
use serde_json::{Value, json};

use crate::harness::{Idseal, Output};

const INSTRUCTION: &str = r#"{"op":"revoke_enrollment"}"#;
const ISSUER: &str = "http://127.0.0.1:9";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref().try_into().unwrap()
}

/// A credential and a record for `instruction`, made as the phone and the server would.
fn evidence(instruction: &str) -> (Vec<u8>, Vec<u8>, [u8; 33], [u8; 33]) {
    let device = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = device.public_key().as_ref();
    let mut dpk = [0u8; 33];
    dpk[0] = 2 | (point[64] & 1);
    dpk[1..].copy_from_slice(&point[1..33]);
    let provider = ProviderSecrets::new(KemSecretKey::derive(&[3; 32]).unwrap(), [4; 32]);
    let kem = provider.kem_public_key().unwrap();
    let cred = enrol(&kem, &dpk, &[1; 32], &[2; 32]).unwrap();
    provider.accept(&cred).unwrap();
    let hash = sha256(instruction.as_bytes());
    let id = ChallengeId([5; 32]);
    let ch = provider.challenge(&cred, id, &hash).unwrap();
    let auth = authenticate(&cred, &kem, &[1; 32], &ch, &hash, &[6; 32]).unwrap();
    let sig = device.sign(&SystemRandom::new(), &auth.device_message()).unwrap();
    let pass = auth.pass(sig.as_ref().try_into().unwrap()).unwrap();
    let record = provider.prove(&cred, &id, &hash, &pass, &mut |_: &ChallengeId| true).unwrap();
    (cred.to_bytes(), record.to_bytes(), cred.verifying_key(), cred.device_public_key())
}

fn bundle(credential: &[u8], instruction: &str, hash_hex: &str, record: &[u8], log_index: u64) -> Value {
    json!({
        "credential": URL_SAFE_NO_PAD.encode(credential),
        "instruction": instruction,
        "instructionHash": hash_hex,
        "record": URL_SAFE_NO_PAD.encode(record),
        "logIndex": log_index,
    })
}

struct Case {
    dir: tempfile::TempDir,
    credential: Vec<u8>,
    record: Vec<u8>,
    entry: Vec<u8>,
    proof: Value,
    checkpoint: String,
    vkey: String,
}

const INDEX: u64 = 2;

/// A log of 5 entries whose entry 2 is the record's `SCAL3_AUTHORIZE` entry, as the server
/// writes it, with its inclusion proof and a signed checkpoint.
fn case() -> Case {
    let (credential, record, vk, dpk) = evidence(INSTRUCTION);
    let key = PseudonymKey::new(&[8; 32]).unwrap();
    let at = UnixTime::from_secs(1_800_000_000);
    let other = |i: i64| {
        encode(&AuditEvent::new(AuditEventKind::KeyGenerate, at, "system").details(json!({"n": i})), &key).unwrap()
    };
    let entry = encode(
        &AuditEvent::new(AuditEventKind::Scal3Authorize, at, "tok")
            .subject("tok")
            .request(Some("10.0.0.1".parse().unwrap()), Some("ua".into()))
            .details(json!({
                "record": hex(&record),
                "vk": hex(&vk),
                "device_pk": hex(&dpk),
                "instruction": INSTRUCTION,
                "instruction_hash": hex(&sha256(INSTRUCTION.as_bytes())),
            })),
        &key,
    )
    .unwrap();
    let mut tree = MemoryTree::new();
    for e in [other(0), other(1), entry.clone(), other(3), other(4)] {
        tree.append(&e);
    }
    let size = tree.size();
    let root = tree.root_at(size).unwrap();
    let hashes: Vec<String> = inclusion_proof(&tree, INDEX, size).unwrap().iter().map(|h| STANDARD.encode(h)).collect();
    let master = idseal_keys::MasterKey::parse(&"11".repeat(32)).unwrap();
    let signer = idseal_server::tlog::checkpoint_signer(&master, ISSUER).unwrap();
    let checkpoint =
        Checkpoint::new(signer.verifier().name(), size, root).unwrap().sign(&[&signer as &dyn NoteSigner]).unwrap();
    Case {
        dir: tempfile::tempdir().unwrap(),
        credential,
        record,
        entry,
        proof: json!({"index": INDEX, "size": size, "root": STANDARD.encode(root), "hashes": hashes}),
        checkpoint,
        vkey: signer.verifier().vkey(),
    }
}

impl Case {
    fn good_bundle(&self) -> Value {
        bundle(&self.credential, INSTRUCTION, &hex(&sha256(INSTRUCTION.as_bytes())), &self.record, INDEX)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// `idseal scal3 verify` of `bundle` alone.
    async fn verify(&self, bundle: &Value) -> Output {
        let b = self.write("bundle.json", bundle.to_string().as_bytes());
        Idseal::new(self.dir.path(), ["scal3", "verify", "--bundle"]).arg(b).run().await
    }

    /// `idseal scal3 verify` with the log files.
    async fn verify_log(&self, bundle: &Value, entry: &[u8], proof: &Value, checkpoint: &str, vkey: &str) -> Output {
        let d: &Path = self.dir.path();
        let b = self.write("bundle.json", bundle.to_string().as_bytes());
        let e = self.write("entry.bin", entry);
        let p = self.write("proof.json", proof.to_string().as_bytes());
        let c = self.write("checkpoint.txt", checkpoint.as_bytes());
        Idseal::new(d, ["scal3", "verify", "--bundle"])
            .arg(b)
            .arg("--entry")
            .arg(e)
            .arg("--proof")
            .arg(p)
            .arg("--checkpoint")
            .arg(c)
            .arg("--verifier-key")
            .arg(vkey)
            .run()
            .await
    }
}

#[tokio::test]
async fn a_good_bundle_verifies_and_any_altered_byte_fails() {
    let c = case();
    let out = c.verify(&c.good_bundle()).await;
    out.assert_code(0);
    assert!(out.stdout.starts_with("ok: record verifies"), "{out}");

    let hash_hex = hex(&sha256(INSTRUCTION.as_bytes()));
    // Every 11th byte of the record and of the credential, and their last bytes.
    let positions = |len: usize| (0..len).step_by(11).chain([len - 1]).collect::<Vec<_>>();
    for i in positions(c.record.len()) {
        let mut r = c.record.clone();
        r[i] ^= 0x01;
        let out = c.verify(&bundle(&c.credential, INSTRUCTION, &hash_hex, &r, INDEX)).await;
        out.assert_code(1);
        assert!(out.stdout.starts_with("FAILED"), "record byte {i}: {out}");
    }
    // The credential's version byte, and every byte of its Vk and device key (bytes 33..99): the
    // public parts the record is checked against. (The blinded share and the sealed provider
    // share are no part of the evidence: nothing offline can vouch for them.)
    for i in std::iter::once(0).chain(33..99) {
        let mut cr = c.credential.clone();
        cr[i] ^= 0x01;
        let out = c.verify(&bundle(&cr, INSTRUCTION, &hash_hex, &c.record, INDEX)).await;
        out.assert_code(1);
        assert!(out.stdout.starts_with("FAILED"), "credential byte {i}: {out}");
    }
    // Another instruction (with its own correct hash), a non-canonical form of the same one,
    // a wrong hash, truncated record and credential.
    let other = r#"{"op":"revoke_enrollmenu"}"#;
    let spaced = r#"{"op": "revoke_enrollment"}"#;
    for b in [
        bundle(&c.credential, other, &hex(&sha256(other.as_bytes())), &c.record, INDEX),
        bundle(&c.credential, spaced, &hex(&sha256(spaced.as_bytes())), &c.record, INDEX),
        bundle(&c.credential, INSTRUCTION, &hex(&[0; 32]), &c.record, INDEX),
        bundle(&c.credential, INSTRUCTION, &hash_hex.to_uppercase(), &c.record, INDEX),
        bundle(&c.credential, INSTRUCTION, &hash_hex, &c.record[..c.record.len() - 1], INDEX),
        bundle(&c.credential[..c.credential.len() - 1], INSTRUCTION, &hash_hex, &c.record, INDEX),
    ] {
        c.verify(&b).await.assert_code(1);
    }
    // A record of another credential (another device and group key).
    let (cred2, record2, _, _) = evidence(INSTRUCTION);
    c.verify(&bundle(&cred2, INSTRUCTION, &hash_hex, &c.record, INDEX)).await.assert_code(1);
    c.verify(&bundle(&c.credential, INSTRUCTION, &hash_hex, &record2, INDEX)).await.assert_code(1);
    c.verify(&bundle(&cred2, INSTRUCTION, &hash_hex, &record2, INDEX)).await.assert_code(0);
    // Not a bundle at all.
    c.verify(&json!({"credential": "x"})).await.assert_code(1);
}

#[tokio::test]
async fn the_log_entry_proof_and_checkpoint_must_all_hold() {
    let c = case();
    let good = c.good_bundle();
    let out = c.verify_log(&good, &c.entry, &c.proof, &c.checkpoint, &c.vkey).await;
    out.assert_code(0);
    assert!(out.stdout.contains("ok: entry 2 is the record's SCAL3_AUTHORIZE entry"), "{out}");
    // The verifier key from a file works too.
    let vfile = c.write("vkey.txt", format!("{}\n", c.vkey).as_bytes());
    c.verify_log(&good, &c.entry, &c.proof, &c.checkpoint, vfile.to_str().unwrap()).await.assert_code(0);

    // Any altered byte of the entry (kind, time, details...).
    for i in (0..c.entry.len()).step_by(23).chain([c.entry.len() - 1]) {
        let mut e = c.entry.clone();
        e[i] ^= 0x01;
        let out = c.verify_log(&good, &e, &c.proof, &c.checkpoint, &c.vkey).await;
        out.assert_code(1);
        assert!(out.stdout.starts_with("FAILED"), "entry byte {i}: {out}");
    }
    // The bundle names another log index.
    let mut b = good.clone();
    b["logIndex"] = json!(3);
    c.verify_log(&b, &c.entry, &c.proof, &c.checkpoint, &c.vkey).await.assert_code(1);
    // A proof hash changed, a proof for another index, another size, another root.
    let mut p = c.proof.clone();
    let h0 = STANDARD.decode(p["hashes"][0].as_str().unwrap()).unwrap();
    p["hashes"][0] = json!(STANDARD.encode(h0.iter().map(|x| x ^ 1).collect::<Vec<_>>()));
    c.verify_log(&good, &c.entry, &p, &c.checkpoint, &c.vkey).await.assert_code(1);
    for (k, v) in [("index", json!(1)), ("size", json!(4)), ("root", json!(STANDARD.encode([0u8; 32])))] {
        let mut p = c.proof.clone();
        p[k] = v;
        c.verify_log(&good, &c.entry, &p, &c.checkpoint, &c.vkey).await.assert_code(1);
    }
    // A checkpoint changed, or checked with another log's key.
    let forged = c.checkpoint.replacen("\n5\n", "\n6\n", 1);
    assert_ne!(forged, c.checkpoint);
    c.verify_log(&good, &c.entry, &c.proof, &forged, &c.vkey).await.assert_code(1);
    let other =
        idseal_server::tlog::checkpoint_verifier(&idseal_keys::MasterKey::parse(&"22".repeat(32)).unwrap(), ISSUER)
            .unwrap()
            .vkey();
    c.verify_log(&good, &c.entry, &c.proof, &c.checkpoint, &other).await.assert_code(1);
    // The log files go together: --entry alone is a usage error.
    let b = c.write("bundle.json", good.to_string().as_bytes());
    let e = c.write("entry.bin", &c.entry);
    Idseal::new(c.dir.path(), ["scal3", "verify", "--bundle"]).arg(b).arg("--entry").arg(e).run().await.assert_code(2);
    // A bad verifier key is a usage error.
    c.verify_log(&good, &c.entry, &c.proof, &c.checkpoint, "not-a-key").await.assert_code(2);
}
