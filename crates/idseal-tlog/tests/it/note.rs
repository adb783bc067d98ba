//! Signed notes and checkpoints: the golang.org/x/mod note vector, round trips, wrong keys,
//! tampering and strict parsing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idseal_keys::{Algorithm, SigningKey};
use idseal_tlog::note::{self, MAX_SIGNATURES};
use idseal_tlog::{Checkpoint, Ed25519NoteSigner, NoteSigner, NoteVerifier, TlogError};

use crate::{data, unhex};

const ORIGIN: &str = "idseal.example/audit";

fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap().to_owned()
}

/// The Go test's private key as an idseal-keys Ed25519 key (PKCS#8 v1 around the seed).
fn peter_signer() -> Ed25519NoteSigner {
    let v = data("note-vectors.json");
    let skey = s(&v, "peter_skey");
    let b64 = skey.splitn(5, '+').nth(4).unwrap();
    let raw = STANDARD.decode(b64).unwrap();
    assert_eq!(raw[0], 0x01);
    let mut der = unhex("302e020100300506032b657004220420");
    der.extend_from_slice(&raw[1..]);
    let key = SigningKey::from_pkcs8(Algorithm::EdDsa, "peter", &der).unwrap();
    Ed25519NoteSigner::new("PeterNeumann", key).unwrap()
}

fn log_signer(name: &str) -> Ed25519NoteSigner {
    Ed25519NoteSigner::new(name, SigningKey::generate(Algorithm::EdDsa, "log").unwrap()).unwrap()
}

#[test]
fn go_note_vector_signs_and_verifies() {
    let v = data("note-vectors.json");
    let text = s(&v, "text");
    let peter_sig = s(&v, "peter_sig");
    let enoch_sig = s(&v, "enoch_sig");
    let peter = NoteVerifier::from_vkey(&s(&v, "peter_vkey")).unwrap();
    let enoch = NoteVerifier::from_vkey(&s(&v, "enoch_vkey")).unwrap();
    assert_eq!(peter.key_id(), 0xc74f_20a3);
    assert_eq!(peter.vkey(), s(&v, "peter_vkey"));

    // Our signer with the same key produces the Go test's exact note (Ed25519 is deterministic).
    let signer = peter_signer();
    assert_eq!(signer.key_id(), 0xc74f_20a3);
    assert_eq!(signer.verifier(), peter);
    assert_eq!(note::sign(&text, &[&signer]).unwrap(), format!("{text}\n{peter_sig}"));

    // One known signature verified, the other ignored.
    let both = format!("{text}\n{peter_sig}{enoch_sig}");
    let n = note::open(both.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(n.text, text);
    assert_eq!(n.verified.len(), 1);
    assert_eq!(n.unknown.len(), 1);
    let n = note::open(both.as_bytes(), &[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(n.verified.len(), 2);
    assert_eq!(note::open(both.as_bytes(), &[]), Err(TlogError::NoKnownSignature));

    // A corrupted signature by a known key rejects the note.
    let bad = format!("{text}\n{}ABCD{}", &peter_sig[..60], &peter_sig[60..]);
    assert_eq!(note::open(bad.as_bytes(), std::slice::from_ref(&peter)), Err(TlogError::InvalidSignature));

    // The Go test's malformed messages.
    let bad_msgs = [
        text.clone(),
        format!("{text}\n"),
        format!("{text}\n{}", &peter_sig[..peter_sig.len() - 1]),
        format!("\u{1}{text}\n{peter_sig}"),
        format!(
            "{text}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{text}\n{peter_sig}Unexpected line.\n"),
    ];
    for m in bad_msgs {
        assert!(note::open(m.as_bytes(), std::slice::from_ref(&peter)).is_err(), "{m:?}");
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{text}\n{peter_sig}").as_bytes());
    assert_eq!(note::open(&invalid_utf8, std::slice::from_ref(&peter)), Err(TlogError::MalformedNote("not UTF-8")));

    // 101 signatures are too many, 100 are fine.
    let many = format!("{text}\n{}", peter_sig.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        note::open(many.as_bytes(), std::slice::from_ref(&peter)),
        Err(TlogError::TooManySignatures { max: 100 })
    );
    let hundred = format!("{text}\n{}", peter_sig.repeat(MAX_SIGNATURES));
    assert!(note::open(hundred.as_bytes(), std::slice::from_ref(&peter)).is_ok());
}

#[test]
fn verifier_keys_are_parsed_strictly() {
    let v = data("note-vectors.json");
    let good = s(&v, "peter_vkey");
    for bad in v["bad_vkeys"].as_array().unwrap() {
        assert!(NoteVerifier::from_vkey(bad.as_str().unwrap()).is_err());
    }
    // Every strict prefix, suffix and one-character change of the key is refused.
    let b = good.as_bytes();
    for i in 0..b.len() {
        assert!(NoteVerifier::from_vkey(std::str::from_utf8(&b[..i]).unwrap()).is_err());
        assert!(NoteVerifier::from_vkey(std::str::from_utf8(&b[i + 1..]).unwrap()).is_err());
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(m) = std::str::from_utf8(&m) {
            assert!(NoteVerifier::from_vkey(m).is_err(), "{m}");
        }
    }
    assert!(NoteVerifier::from_vkey(&good.to_uppercase()).is_err());
}

#[test]
fn checkpoint_round_trip() {
    let signer = log_signer(ORIGIN);
    let verifier = signer.verifier();
    let root = idseal_tlog::hash::leaf_hash(b"root");
    let cp = Checkpoint::new(ORIGIN, 20_852_163, root).unwrap();
    let signed = cp.sign(&[&signer]).unwrap();
    let text = cp.to_text();
    assert!(signed.starts_with(&format!("{ORIGIN}\n20852163\n{}\n\n\u{2014} {ORIGIN} ", STANDARD.encode(root))));
    assert_eq!(Checkpoint::open(signed.as_bytes(), ORIGIN, std::slice::from_ref(&verifier)).unwrap(), cp);
    assert_eq!(Checkpoint::parse_text(&text).unwrap(), cp);

    // With extension lines and a witness cosignature from an unknown key.
    let cp2 = cp.clone().with_extensions(vec!["ext one".into()]).unwrap();
    let witness = log_signer("witness.example");
    let signed2 = cp2.sign(&[&signer, &witness]).unwrap();
    assert_eq!(Checkpoint::open(signed2.as_bytes(), ORIGIN, std::slice::from_ref(&verifier)).unwrap(), cp2);

    // Wrong key, wrong origin, tampered body.
    let other = log_signer(ORIGIN).verifier();
    assert_eq!(
        Checkpoint::open(signed.as_bytes(), ORIGIN, std::slice::from_ref(&other)),
        Err(TlogError::NoKnownSignature)
    );
    assert!(Checkpoint::open(signed.as_bytes(), "other.example/log", std::slice::from_ref(&verifier)).is_err());
    let tampered = signed.replacen("20852163", "20852164", 1);
    assert_eq!(
        Checkpoint::open(tampered.as_bytes(), ORIGIN, std::slice::from_ref(&verifier)),
        Err(TlogError::InvalidSignature)
    );
    let forked = cp_with_root(&signed, &verifier);
    assert_eq!(forked, Err(TlogError::InvalidSignature));
}

fn cp_with_root(signed: &str, verifier: &NoteVerifier) -> Result<Checkpoint, TlogError> {
    let other_root = STANDARD.encode(idseal_tlog::hash::leaf_hash(b"fork"));
    let lines: Vec<&str> = signed.split('\n').collect();
    let forked = signed.replacen(lines[2], &other_root, 1);
    Checkpoint::open(forked.as_bytes(), ORIGIN, std::slice::from_ref(verifier))
}

#[test]
fn checkpoint_bodies_are_parsed_strictly() {
    let root = STANDARD.encode([7u8; 32]);
    let ok = format!("o.example/log\n5\n{root}\n");
    assert_eq!(Checkpoint::parse_text(&ok).unwrap().size(), 5);
    let bad = [
        format!("o.example/log\n5\n{root}"),                           // no final newline
        format!("o.example/log\n05\n{root}\n"),                        // leading zero
        format!("o.example/log\n+5\n{root}\n"),                        // sign
        format!("o.example/log\n-5\n{root}\n"),                        // sign
        format!("o.example/log\n 5\n{root}\n"),                        // space
        format!("o.example/log\n18446744073709551616\n{root}\n"),      // > u64::MAX
        format!("o.example/log\n\n{root}\n"),                          // empty size
        format!("\n5\n{root}\n"),                                      // empty origin
        "o.example/log\n5\n".to_owned(),                               // two lines
        format!("o.example/log\n5\n{}\n", STANDARD.encode([7u8; 31])), // short root
        format!("o.example/log\n5\n{}\n", &root[..43]),                // bad base64
        format!("o.example/log\n5\n{root}\n\n"),                       // empty extension line
        format!("o.example/log\n5\n{}\n", root.replace('=', "")),      // unpadded
    ];
    for b in &bad {
        assert!(Checkpoint::parse_text(b).is_err(), "{b:?}");
    }
    assert_eq!(Checkpoint::parse_text(&format!("o\n0\n{root}\n")).unwrap().size(), 0);
    assert_eq!(Checkpoint::parse_text(&format!("o\n18446744073709551615\n{root}\n")).unwrap().size(), u64::MAX);
}

#[test]
fn notes_are_parsed_strictly() {
    let signer = log_signer(ORIGIN);
    let v = signer.verifier();
    let signed = note::sign("hello\n", &[&signer]).unwrap();
    assert!(note::open(signed.as_bytes(), std::slice::from_ref(&v)).is_ok());
    // Missing final newline, CR line ends, a long line, bad base64, short signature.
    assert!(note::open(signed.trim_end().as_bytes(), std::slice::from_ref(&v)).is_err());
    assert!(note::open(signed.replace('\n', "\r\n").as_bytes(), std::slice::from_ref(&v)).is_err());
    let long = format!("{}\n", "a".repeat(note::MAX_LINE_BYTES + 1));
    assert_eq!(note::sign(&long, &[&signer]), Err(TlogError::NoteTooLong));
    let long_note = format!("{long}\n{}", signed.split_once("\n\n").unwrap().1);
    assert_eq!(note::open(long_note.as_bytes(), std::slice::from_ref(&v)), Err(TlogError::NoteTooLong));
    let bad_b64 = signed.replacen(' ', " !", 2);
    assert!(note::open(bad_b64.as_bytes(), std::slice::from_ref(&v)).is_err());
    let short = format!("hello\n\n\u{2014} {ORIGIN} AAAAAA==\n");
    assert!(note::open(short.as_bytes(), std::slice::from_ref(&v)).is_err());
    // Signing refuses texts without final newline and bad names.
    assert!(note::sign("hello", &[&signer]).is_err());
    assert!(Ed25519NoteSigner::new("a+b", SigningKey::generate(Algorithm::EdDsa, "k").unwrap()).is_err());
    assert!(Ed25519NoteSigner::new("a b", SigningKey::generate(Algorithm::EdDsa, "k").unwrap()).is_err());
    assert!(Ed25519NoteSigner::new("ok", SigningKey::generate(Algorithm::Es256, "k").unwrap()).is_err());
}

#[test]
fn verifier_keys_whose_base64_holds_a_plus_sign() {
    // Base64 may contain '+': only the first two '+' separate the fields.
    let signer = (0..500)
        .map(|_| log_signer(ORIGIN))
        .find(|s| s.verifier().vkey().splitn(3, '+').nth(2).unwrap().contains('+'))
        .expect("a key with '+' in its base64 within 500 tries");
    let v = NoteVerifier::from_vkey(&signer.verifier().vkey()).unwrap();
    assert_eq!(v, signer.verifier());
}
