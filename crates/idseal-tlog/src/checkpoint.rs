//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the note text of a signed tree
//! head.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, base64>
//! [extension lines, non-empty]
//! ```
//!
//! Every line ends in a newline. The checkpoint travels as a [signed note](crate::note),
//! signed by the log's Ed25519 key whose key name is the origin.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::TlogError;
use crate::hash::{HASH_LEN, Hash};
use crate::note::{self, NoteSigner, NoteVerifier};

/// A tree head: the log's identity, its size and its root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn check_line(line: &str, what: &'static str) -> Result<(), TlogError> {
    if line.is_empty() || line.chars().any(char::is_control) {
        return Err(TlogError::MalformedCheckpoint(what));
    }
    Ok(())
}

/// Parse a tree size: ASCII digits, no sign, no leading zero except for `0` itself, at most
/// `u64::MAX`.
fn parse_size(s: &str) -> Result<u64, TlogError> {
    let bad = TlogError::MalformedCheckpoint("tree size must be a decimal number without leading zeros");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return Err(bad);
    }
    s.parse::<u64>().map_err(|_| TlogError::MalformedCheckpoint("tree size does not fit in 64 bits"))
}

impl Checkpoint {
    /// A checkpoint of the log `origin` at `size` with `root`. The origin must be a valid key
    /// name (non-empty, no spaces, no plus sign), since it also names the log's key.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, TlogError> {
        let origin = origin.into();
        note::check_key_name(&origin).map_err(|_| TlogError::MalformedCheckpoint("origin"))?;
        Ok(Self { origin, size, root, extensions: Vec::new() })
    }

    /// The same checkpoint with extension lines (opaque, non-empty, no newline). The spec
    /// does not recommend them: monitors cannot audit them.
    pub fn with_extensions(mut self, extensions: Vec<String>) -> Result<Self, TlogError> {
        for e in &extensions {
            check_line(e, "extension line")?;
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// The origin line: the log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text of the checkpoint.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Parse a checkpoint note text strictly.
    pub fn parse_text(text: &str) -> Result<Self, TlogError> {
        let body = text.strip_suffix('\n').ok_or(TlogError::MalformedCheckpoint("missing final newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(TlogError::MalformedCheckpoint("fewer than three lines"));
        };
        check_line(origin, "empty origin")?;
        let size = parse_size(size)?;
        let raw = STANDARD.decode(root).map_err(|_| TlogError::MalformedCheckpoint("root hash is not base64"))?;
        let root: Hash =
            raw.as_slice().try_into().map_err(|_| TlogError::MalformedCheckpoint("root hash is not 32 bytes"))?;
        debug_assert_eq!(root.len(), HASH_LEN);
        let mut extensions = Vec::new();
        for line in lines {
            check_line(line, "empty extension line")?;
            extensions.push(line.to_owned());
        }
        Ok(Self { origin: origin.to_owned(), size, root, extensions })
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<String, TlogError> {
        note::sign(&self.to_text(), signers)
    }

    /// Open a signed checkpoint of the log `origin`: the note must carry a valid signature by
    /// one of `verifiers` (and none by a known key that fails), its text must be a
    /// well-formed checkpoint, and its origin line must be `origin`.
    pub fn open(signed: &[u8], origin: &str, verifiers: &[NoteVerifier]) -> Result<Self, TlogError> {
        let verified = note::open(signed, verifiers)?;
        let checkpoint = Self::parse_text(&verified.text)?;
        if checkpoint.origin != origin {
            return Err(TlogError::MalformedCheckpoint("unexpected origin"));
        }
        Ok(checkpoint)
    }
}
