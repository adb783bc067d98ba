//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 signatures.
//!
//! A signed note is a text ending in a newline, a blank line, and one or more signature lines
//! `— <key name> <base64(key id (4 bytes, big-endian) || signature)>`. The Ed25519 signature
//! covers the text including its final newline. The key id is the first four bytes of
//! `SHA-256(key name || 0x0A || 0x01 || public key)`, and a verifier key is shared as
//! `<name>+<hex key id>+<base64(0x01 || public key)>` (the golang.org/x/mod/sumdb/note form).
//!
//! Parsing is strict: valid UTF-8 without control characters other than newline, a final
//! newline, canonical base64, at most [`MAX_SIGNATURES`] signatures, bounded line and note
//! lengths. Signatures by unknown keys are ignored; a signature by a known key must verify,
//! and at least one must.

use aws_lc_rs::digest::{Context, SHA256};
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idseal_keys::{Algorithm, SigningKey};

use crate::TlogError;

/// The most signatures a note may carry (golang.org/x/mod/sumdb/note uses the same cap).
pub const MAX_SIGNATURES: usize = 100;
/// The longest note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// The longest line accepted, in bytes (room for a post-quantum signature line).
pub const MAX_LINE_BYTES: usize = 8 << 10;

/// The signature type byte of Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;
const ED25519_PUBLIC_LEN: usize = 32;
const SIG_PREFIX: &str = "\u{2014} ";

/// Something that signs note texts under a key name: the log's key, a witness.
pub trait NoteSigner {
    /// The key name in the signature line.
    fn name(&self) -> &str;
    /// The 32-bit key id (see [`key_id`]).
    fn key_id(&self) -> u32;
    /// Sign the note text (including its final newline).
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, TlogError>;
}

/// The key id RECOMMENDED by the signed-note spec for an Ed25519 key:
/// the first four bytes, big-endian, of `SHA-256(name || 0x0A || 0x01 || public key)`.
pub fn key_id(name: &str, public_key: &[u8; ED25519_PUBLIC_LEN]) -> u32 {
    let mut ctx = Context::new(&SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ALG_ED25519]);
    ctx.update(public_key);
    let d = ctx.finish();
    let mut id = [0u8; 4];
    for (o, b) in id.iter_mut().zip(d.as_ref()) {
        *o = *b;
    }
    u32::from_be_bytes(id)
}

/// Key names are non-empty and contain no Unicode space, no plus sign and no control
/// character.
pub fn check_key_name(name: &str) -> Result<(), TlogError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(TlogError::InvalidKeyName);
    }
    Ok(())
}

/// An Ed25519 note signer over an idseal-keys EdDSA key.
#[derive(Debug)]
pub struct Ed25519NoteSigner {
    name: String,
    key: SigningKey,
    public: [u8; ED25519_PUBLIC_LEN],
    id: u32,
}

impl Ed25519NoteSigner {
    /// A signer named `name` (for a log: its origin) over `key`, which must be EdDSA.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<Self, TlogError> {
        let name = name.into();
        check_key_name(&name)?;
        if key.alg() != Algorithm::EdDsa {
            return Err(TlogError::Signing("note signing keys must be Ed25519"));
        }
        let jwk = key.verifying_key().to_jwk();
        let x = jwk.x.ok_or(TlogError::Signing("Ed25519 key without public half"))?;
        let raw = URL_SAFE_NO_PAD.decode(x).map_err(|_| TlogError::Signing("Ed25519 public key encoding"))?;
        let public: [u8; ED25519_PUBLIC_LEN] =
            raw.as_slice().try_into().map_err(|_| TlogError::Signing("Ed25519 public key length"))?;
        let id = key_id(&name, &public);
        Ok(Self { name, key, public, id })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), id: self.id, public: self.public }
    }
}

impl NoteSigner for Ed25519NoteSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, TlogError> {
        self.key.sign(text).map_err(|_| TlogError::Signing("Ed25519 signing failed"))
    }
}

/// A trusted Ed25519 note key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    public: [u8; ED25519_PUBLIC_LEN],
}

impl NoteVerifier {
    /// A verifier for the Ed25519 `public` key under `name`.
    pub fn new(name: impl Into<String>, public: &[u8]) -> Result<Self, TlogError> {
        let name = name.into();
        check_key_name(&name)?;
        let public: [u8; ED25519_PUBLIC_LEN] =
            public.try_into().map_err(|_| TlogError::InvalidVerifierKey("Ed25519 keys are 32 bytes"))?;
        let id = key_id(&name, &public);
        Ok(Self { name, id, public })
    }

    /// Parse a verifier key `<name>+<hex key id>+<base64(0x01 || public key)>`; the key id
    /// must match the key.
    pub fn from_vkey(vkey: &str) -> Result<Self, TlogError> {
        // The base64 key may itself contain '+': split off name and id only.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TlogError::InvalidVerifierKey("expected <name>+<hex id>+<base64 key>"));
        };
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(TlogError::InvalidVerifierKey("key id must be 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(hex, 16).map_err(|_| TlogError::InvalidVerifierKey("key id"))?;
        let raw = STANDARD.decode(b64).map_err(|_| TlogError::InvalidVerifierKey("base64"))?;
        let Some((&ALG_ED25519, public)) = raw.split_first() else {
            return Err(TlogError::InvalidVerifierKey("not an Ed25519 key"));
        };
        let v = Self::new(name, public).map_err(|e| match e {
            TlogError::InvalidKeyName => e,
            _ => TlogError::InvalidVerifierKey("Ed25519 keys are 32 bytes"),
        })?;
        if v.id != id {
            return Err(TlogError::InvalidVerifierKey("key id does not match the key"));
        }
        Ok(v)
    }

    /// The verifier key string `<name>+<hex key id>+<base64(0x01 || public key)>`.
    pub fn vkey(&self) -> String {
        let mut raw = Vec::with_capacity(1 + ED25519_PUBLIC_LEN);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(&self.public);
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; ED25519_PUBLIC_LEN] {
        &self.public
    }

    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public).verify(text, sig).is_ok()
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature bytes (without the key id).
    pub signature: Vec<u8>,
}

/// A note whose signatures were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The note text, final newline included.
    pub text: String,
    /// Signatures by known keys, all verified.
    pub verified: Vec<NoteSignature>,
    /// Signatures by unknown keys, ignored.
    pub unknown: Vec<NoteSignature>,
}

fn check_note_chars(s: &str) -> Result<(), TlogError> {
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(TlogError::MalformedNote("control character"));
    }
    if s.split('\n').any(|line| line.len() > MAX_LINE_BYTES) {
        return Err(TlogError::NoteTooLong);
    }
    Ok(())
}

fn signature_line(name: &str, id: u32, sig: &[u8]) -> String {
    let mut raw = Vec::with_capacity(4 + sig.len());
    raw.extend_from_slice(&id.to_be_bytes());
    raw.extend_from_slice(sig);
    format!("{SIG_PREFIX}{name} {}\n", STANDARD.encode(raw))
}

/// Sign `text` (non-empty, ending in a newline) with every signer, producing the note.
pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<String, TlogError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(TlogError::MalformedNote("text must end with a newline"));
    }
    check_note_chars(text)?;
    if signers.is_empty() {
        return Err(TlogError::Signing("no signer"));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(TlogError::TooManySignatures { max: MAX_SIGNATURES });
    }
    let mut out = String::from(text);
    out.push('\n');
    for s in signers {
        check_key_name(s.name())?;
        let sig = s.sign(text.as_bytes())?;
        let line = signature_line(s.name(), s.key_id(), &sig);
        if line.len() > MAX_LINE_BYTES {
            return Err(TlogError::NoteTooLong);
        }
        out.push_str(&line);
    }
    if out.len() > MAX_NOTE_BYTES {
        return Err(TlogError::NoteTooLong);
    }
    Ok(out)
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, TlogError> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(TlogError::MalformedNote("signature line without em dash"))?;
    let (name, b64) = rest.split_once(' ').ok_or(TlogError::MalformedNote("signature line without signature"))?;
    check_key_name(name).map_err(|_| TlogError::MalformedNote("bad key name in signature line"))?;
    let raw = STANDARD.decode(b64).map_err(|_| TlogError::MalformedNote("signature is not canonical base64"))?;
    if raw.len() < 5 {
        return Err(TlogError::MalformedNote("signature too short"));
    }
    let (id, sig) = raw.split_at(4);
    let id: [u8; 4] = id.try_into().map_err(|_| TlogError::MalformedNote("signature too short"))?;
    Ok(NoteSignature { name: name.to_owned(), key_id: u32::from_be_bytes(id), signature: sig.to_vec() })
}

/// Parse a signed note and check its signatures against `verifiers`.
pub fn open(note: &[u8], verifiers: &[NoteVerifier]) -> Result<VerifiedNote, TlogError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(TlogError::NoteTooLong);
    }
    let s = std::str::from_utf8(note).map_err(|_| TlogError::MalformedNote("not UTF-8"))?;
    if !s.ends_with('\n') {
        return Err(TlogError::MalformedNote("missing final newline"));
    }
    check_note_chars(s)?;
    let split = s.rfind("\n\n").ok_or(TlogError::MalformedNote("no blank line before the signatures"))?;
    let (text, sigs) = (s.get(..=split), s.get(split + 2..));
    let (Some(text), Some(sigs)) = (text, sigs) else {
        return Err(TlogError::MalformedNote("no blank line before the signatures"));
    };
    let lines: Vec<&str> = sigs.strip_suffix('\n').map(|b| b.split('\n').collect()).unwrap_or_default();
    if lines.is_empty() {
        return Err(TlogError::MalformedNote("no signatures"));
    }
    if lines.len() > MAX_SIGNATURES {
        return Err(TlogError::TooManySignatures { max: MAX_SIGNATURES });
    }
    let mut verified = Vec::new();
    let mut unknown = Vec::new();
    for line in lines {
        let sig = parse_signature_line(line)?;
        match verifiers.iter().find(|v| v.name == sig.name && v.id == sig.key_id) {
            Some(v) if v.verify(text.as_bytes(), &sig.signature) => verified.push(sig),
            Some(_) => return Err(TlogError::InvalidSignature),
            None => unknown.push(sig),
        }
    }
    if verified.is_empty() {
        return Err(TlogError::NoKnownSignature);
    }
    Ok(VerifiedNote { text: text.to_owned(), verified, unknown })
}
